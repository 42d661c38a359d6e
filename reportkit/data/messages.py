"""Issues as the terminal shows them: grouped over row ranges and capped, never a flood.

A workbook with the same mistake in 500 rows is one line per column (`第 6–9、12 行…（共 5 处）`),
not 500. `validate --json` and the annotated copy still carry every cell; only the terminal
groups.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from reportkit.errors import Issue

#: Lines printed before the rest is summarised with a pointer to the full list.
MAX_LINES = 50
#: Row spans named in a grouped line ("6–9、12").
_MAX_SPANS = 10
#: Distinct values quoted in a grouped line.
_SAMPLE_VALUES = 3
#: Errors first, so a long list of warnings never hides one; notes (files skipped) lead.
_ORDER = {"note": 0, "error": 1, "warning": 2}
FULL_LIST_HINT = (
    "完整列表：运行 reportkit validate --json 逐格列出，"
    "或 reportkit validate --annotate 文件夹 生成标出问题单元格的工作簿副本。"
)


def row_ranges(rows: Iterable[int], limit: int = _MAX_SPANS) -> str:
    """Excel rows as a Chinese range list: [6, 7, 8, 9, 12] -> "6–9、12"; past `limit` spans
    the rest is "等" (the line's count says how many)."""
    spans: list[list[int]] = []
    for row in sorted(set(rows)):
        if spans and row == spans[-1][1] + 1:
            spans[-1][1] = row
        else:
            spans.append([row, row])
    text = "、".join(str(a) if a == b else f"{a}–{b}" for a, b in spans[:limit])
    return f"{text} 等" if len(spans) > limit else text


def group_issues(issues: Iterable[Issue]) -> list[list[Issue]]:
    """Issues with the same severity, file, sheet, column and message, in first-seen order.

    Issues about a whole file or sheet (no row) stay on their own.
    """
    groups: dict[object, list[Issue]] = {}
    for n, issue in enumerate(issues):
        key: object = (
            (issue.severity, issue.file, issue.sheet, issue.column, issue.message)
            if issue.row is not None
            else n
        )
        groups.setdefault(key, []).append(issue)
    return sorted(groups.values(), key=lambda g: _ORDER.get(g[0].severity, len(_ORDER)))


def group_line(group: Sequence[Issue]) -> str:
    """One terminal line for a group; a group of one reads exactly as the issue itself."""
    first = group[0]
    if len(group) == 1:
        return first.line()
    values = list(dict.fromkeys(i.value for i in group if i.value not in (None, "")))
    detail = f"共 {len(group)} 处"
    if len(values) == 1:
        detail += f"，值：{values[0]}"
    elif values:
        more = " 等" if len(values) > _SAMPLE_VALUES else ""
        detail += f"，值如 {'、'.join(values[:_SAMPLE_VALUES])}{more}"
    rows = row_ranges(i.row for i in group if i.row is not None)
    return first.line(rows=rows, detail=detail)


def terminal_lines(issues: Sequence[Issue], limit: int = MAX_LINES) -> list[str]:
    """At most `limit` grouped lines, then how many were left out and where to see them all."""
    groups = group_issues(issues)
    lines = [group_line(g) for g in groups[:limit]]
    rest = groups[limit:]
    if rest:
        cells = sum(len(g) for g in rest)
        lines.append(f"……另有 {len(rest)} 条（{cells} 处）未显示。{FULL_LIST_HINT}")
    return lines
