"""Workbooks in, validated dataset out: the contract (schema, vocabulary), reading and checking
workbooks, the dataset and its cache, the blank template, the demo workbook and issue messages."""
