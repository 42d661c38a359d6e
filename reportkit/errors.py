"""Errors that reach users as a Chinese message and an exit code, never as a traceback."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


class ReportkitError(Exception):
    """A failure a user can act on; the CLI prints the message and exits with `exit_code`."""

    exit_code = 1


class UsageError(ReportkitError):
    """Wrong command-line use or parameters."""

    exit_code = 2


class OutputError(ReportkitError):
    """The output folder could not be written."""


#: What each severity is called at the start of a terminal line.
SEVERITY_LABELS = {"error": "错误", "warning": "警告", "note": "提示"}


@dataclass(frozen=True)
class Issue:
    """One bad cell (or file, or sheet): where it is, what it holds and what is wrong.

    `row` is the row number Excel shows (1-based, header rows included); None for a whole file
    or sheet. `column` is the header as written in the workbook, or None. `cell` is the cell's
    address (B4) when the issue is about one cell, so an annotated copy can mark it.
    """

    file: str
    sheet: str | None
    row: int | None
    column: str | None
    value: str | None
    message: str
    severity: str = "error"  # "warning", or "note" (something skipped, or how a unit was named)
    cell: str | None = field(default=None, compare=False)  # derived from row and column

    def to_json(self) -> dict:
        data = asdict(self)
        data["level"] = data.pop("severity")
        data.pop("cell")  # the JSON contract names the place by row and column header
        return data

    @classmethod
    def from_json(cls, data: dict) -> Issue:
        """An Issue back from `to_json` (e.g. stored with a dataset); no level means warning."""
        fields = {k: v for k, v in data.items() if k not in ("level", "severity")}
        return cls(**fields, severity=data.get("level") or data.get("severity") or "warning")

    def line(self, rows: str | None = None, detail: str = "") -> str:
        """The terminal line; `rows` ("6–9、12") and `detail` ("共 5 处") describe a group."""
        where = [self.file]
        if self.sheet:
            where.append(f"工作表「{self.sheet}」")
        if rows is not None or self.row is not None:
            where.append(f"第 {rows or self.row} 行")
        if self.column:
            where.append(f"「{self.column}」列")
        if not detail and self.value not in (None, ""):
            detail = f"值：{self.value}"
        label = SEVERITY_LABELS.get(self.severity, self.severity)
        return f"{label}：{'，'.join(where)}：{self.message}{f'（{detail}）' if detail else ''}"

    def __str__(self) -> str:
        return self.line()


class ValidationFailed(ReportkitError):
    """The workbooks have errors; no report is written."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        errors = [i for i in issues if i.severity == "error"]
        super().__init__(f"台账校验发现 {len(errors)} 处错误，未生成报告。请按提示修改后重试。")

    def to_json(self) -> str:
        return json.dumps([i.to_json() for i in self.issues], ensure_ascii=False, indent=2)
