"""Where the landmarks of a demo report's pages 1–2 sit, read with pdfplumber.

tests/fixtures/pdf_positions.json holds these positions as the WeasyPrint engine printed them
(the demo workbook of tests/e2e/conftest.py, unit 国家税务总局某市城东区税务局, before the PDF
engine became Typst); test_pdf_positions checks the Typst output against them.
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

#: Which line of which page is a landmark, and how to find it: the start of a line's text, and
#: how many lines further down the landmark is (engines may break lines at other characters).
LANDMARKS: tuple[tuple[int, str, str, int], ...] = (
    (1, "title", "中共", 0),
    (1, "title-line-2", "中共", 1),
    (1, "first-heading", "一、党建工作主要情况", 0),
    (1, "body-first-line", "党的十九大以来", 0),
    (1, "body-second-line", "党的十九大以来", 1),
    (1, "page-number", "—", 0),
    (2, "heading", "（二）", 0),
    (2, "body-first-line", "督促各党支部", 0),
    (2, "body-second-line", "督促各党支部", 1),
    (2, "page-number", "—", 0),
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
    """Each landmark's first line: left and right edge and baseline, in points from the page's
    top left. The baseline, not pdfplumber's `top`: `top` also depends on the ascent each
    engine writes into the PDF's font descriptors."""
    import pdfplumber

    found = []
    with pdfplumber.open(str(pdf_path)) as pdf:
        for number, what, start, below in LANDMARKS:
            page = pdf.pages[number - 1]
            page_height = float(page.height)
            lines = _lines(page)
            found_at = next(i for i, (text, _) in enumerate(lines) if text.startswith(start))
            text, chars = lines[found_at + below]
            found.append(
                {
                    "page": number,
                    "what": what,
                    "text": text[:12],
                    "x0": round(chars[0]["x0"], 2),
                    "x1": round(chars[-1]["x1"], 2),
                    "baseline": round(page_height - chars[0]["matrix"][5], 2),
                }
            )
    return found
