"""The unit of a sheet without a 单位 column, named once every workbook has been read.

Rules, first that applies: params `files: {<file>: {unit: …}}`; the workbook's 单位信息 sheet
when it lists exactly one unit; a unit named in the title rows (the text before 党建/台账/活动,
or a known unit the title contains); the file name. When 单位信息 and the title disagree, that
is an error: either could be the mistake.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from reportkit.data.ingest.cells import clip
from reportkit.data.text import normalize_name, normalize_value
from reportkit.errors import Issue

_TITLE_UNIT = re.compile(r"^(.*?)(?:党建|台账|活动)")
_TITLE_YEARS = re.compile(
    r"(?:19|20)\d{2}\s*(?:年度?)?(?:\s*[-—–~～至到]\s*(?:19|20)\d{2}\s*(?:年度?)?)?"
)
_TITLE_TRIM = " \t:：·-—–_（）()【】[]《》"


@dataclass
class Unnamed:
    """A sheet with no 单位 column, whose unit `name_units` fills in."""

    frame: pd.DataFrame
    file: str
    sheet: str
    titles: list[tuple[int, str]]  # (Excel row, text) of the title rows above the header


def name_units(
    unnamed: Collection[Unnamed],
    known: Collection[str],
    listed: Mapping[str, list[str]],
    file_units: Mapping[str, str],
) -> list[Issue]:
    """Fill in each unnamed sheet's unit and say which rule named it (a note per file and unit).

    `known`: the units the workbooks name; `listed`: file -> the units its 单位信息 sheets list;
    `file_units`: params `files`, by file name or path.
    """
    found: list[Issue] = []
    said: set[tuple[str, str, str]] = set()
    for item in unnamed:
        path = Path(item.file)
        explicit = file_units.get(path.name) or file_units.get(item.file)
        in_list = list(dict.fromkeys(listed.get(item.file, [])))
        from_list = in_list[0] if len(in_list) == 1 else None
        from_title = next(
            ((row, text, u) for row, text in item.titles if (u := unit_in_text(text, known))),
            None,
        )
        if explicit:
            unit, rule = str(explicit), "参数 files 中为该文件指定的单位"
        elif from_list:
            unit, rule = from_list, "本工作簿「单位信息」表中的唯一单位"
            if from_title and normalize_name(from_title[2]) != normalize_name(from_list):
                row, text, other = from_title
                found.append(
                    Issue(
                        item.file,
                        item.sheet,
                        row,
                        None,
                        clip(text),
                        f"标题行中的单位「{other}」与本工作簿「单位信息」表中的单位"
                        f"「{from_list}」不一致：请改正其一，或在参数 files 中指定该文件的单位",
                    )
                )
        elif from_title:
            unit, rule = from_title[2], f"第 {from_title[0]} 行标题「{clip(from_title[1])}」"
        else:
            unit = unit_in_text(path.stem, known) or normalize_value(path.stem)
            rule = "文件名"
        item.frame["unit"] = pd.Series([unit] * len(item.frame), dtype="str")
        if (item.file, unit, rule) not in said:
            said.add((item.file, unit, rule))
            message = f"没有「单位」列，按{rule}确定单位为「{unit}」"
            found.append(Issue(item.file, item.sheet, None, None, None, message, "note"))
    return found


def unit_in_text(text: str, known: Collection[str]) -> str | None:
    """The unit a title or file name names: the longest known unit it contains, else the text
    before 党建/台账/活动 without years (XX税务局2019年党建活动台账 → XX税务局)."""
    key = normalize_name(text)
    hits = [u for u in known if normalize_name(u) and normalize_name(u) in key]
    if hits:
        return max(hits, key=len)
    match = _TITLE_UNIT.match(normalize_value(text))
    if match is None:
        return None
    return _TITLE_YEARS.sub("", match.group(1)).strip(_TITLE_TRIM) or None


def units_in_order(tables: Mapping[str, pd.DataFrame]) -> list[str]:
    """Units in order of first appearance: 单位信息 first, then 活动台账."""
    seen: dict[str, None] = {}
    for table in ("units", "activities"):
        for unit in pd.unique(tables[table]["unit"].dropna()):
            seen.setdefault(str(unit), None)
    return list(seen)
