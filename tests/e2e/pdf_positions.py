"""Where the landmarks of a demo report's pages 1–2 sit, read with pdfplumber.

tests/fixtures/pdf_positions.json holds these positions as the WeasyPrint engine printed them
(the demo workbook of tests/e2e/conftest.py, unit 国家税务总局某市城东区税务局, before the PDF
engine became Typst); test_pdf_positions checks the Typst output against them.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

#: Which line of which page is a landmark, and how to find it: the start of its text.
LANDMARKS: tuple[tuple[int, str, str], ...] = (
    (1, "title", "中共"),
    (1, "title-line-2", "于党的十九大"),
    (1, "first-heading", "一、党建工作主要情况"),
    (1, "body-first-line", "党的十九大以来"),
    (1, "body-second-line", "局党委和市委"),
    (1, "page-number", "—"),
    (2, "heading", "（二）"),
    (2, "body-first-line", "督促各党支部"),
    (2, "body-second-line", "民主评议党员"),
    (2, "page-number", "—"),
)


def _lines(page: Any) -> list[tuple[str, list[dict[str, Any]]]]:
    lines: dict[int, list[dict[str, Any]]] = collections.defaultdict(list)
    for c in page.chars:
        if c["text"].strip():
            lines[round(c["top"])].append(c)
    return [
        ("".join(c["text"] for c in chars), chars)
        for chars in (sorted(lines[top], key=lambda c: c["x0"]) for top in sorted(lines))
    ]


def landmarks(pdf_path: Path) -> list[dict[str, Any]]:
    """Each landmark's first line: left and right edge and top of its glyphs, in points."""
    import pdfplumber

    found = []
    with pdfplumber.open(str(pdf_path)) as pdf:
        for number, what, start in LANDMARKS:
            lines = _lines(pdf.pages[number - 1])
            text, chars = next((t, c) for t, c in lines if t.startswith(start))
            found.append(
                {
                    "page": number,
                    "what": what,
                    "text": text[:12],
                    "x0": round(chars[0]["x0"], 2),
                    "x1": round(chars[-1]["x1"], 2),
                    "top": round(min(c["top"] for c in chars), 2),
                }
            )
    return found
