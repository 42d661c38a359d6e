"""The workbook contract: which sheets and columns reportkit reads, and as what.

Each column has a Chinese header (what analysts see), aliases, whether it is required, a kind
that tells the reader how to parse it, and an English field name used in the dataset and code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reportkit.data.text import normalize_name


class Kind(StrEnum):
    TEXT = "text"
    DATE = "date"
    COUNT = "count"  # integer >= 0
    NUMBER = "number"  # real >= 0
    ACTIVITY_TYPE = "activity_type"
    DISCIPLINE_CATEGORY = "discipline_category"
    MEMBER_CATEGORY = "member_category"
    YES_NO = "yes_no"


@dataclass(frozen=True)
class Column:
    header: str
    field: str
    kind: Kind = Kind.TEXT
    required: bool = False
    aliases: tuple[str, ...] = ()

    def matches(self, header: str) -> bool:
        key = normalize_name(header)
        return key in {normalize_name(word) for word in (self.header, *self.aliases)}


@dataclass(frozen=True)
class Sheet:
    name: str
    table: str  # dataset table name (a folder of parts)
    columns: tuple[Column, ...]
    aliases: tuple[str, ...] = ()

    @property
    def required(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.required)

    @property
    def unit_inferable(self) -> bool:
        """Whether the 单位 column may be left out: the workbook is then one unit's own, and the
        reader names the unit (from 单位信息, the title rows or the file name)."""
        return self.table != "units"

    def matches(self, sheet_name: str) -> bool:
        key = normalize_name(sheet_name)
        return key in {normalize_name(word) for word in (self.name, *self.aliases)}


ACTIVITIES = Sheet(
    "活动台账",
    "activities",
    (
        Column(
            "日期",
            "date",
            Kind.DATE,
            True,
            ("活动日期", "时间", "日期时间", "活动时间", "开展时间"),
        ),
        Column("单位", "unit", Kind.TEXT, True, ("单位名称", "所属单位")),
        Column(
            "党支部",
            "branch",
            Kind.TEXT,
            False,
            ("支部", "所在支部", "支部名称", "党支部名称", "所在党组织"),
        ),
        Column("活动类型", "type", Kind.ACTIVITY_TYPE, True, ("类型", "活动类别")),
        Column("主题", "topic", Kind.TEXT, False, ("活动主题", "内容", "学习内容", "主要内容")),
        Column("应到人数", "expected", Kind.COUNT, False, ("应到", "应参加人数")),
        Column("实到人数", "present", Kind.COUNT, False, ("实到", "参会人数", "出席人数")),
        Column("时长", "hours", Kind.NUMBER, False, ("时长（小时）", "学时")),
        Column("主持人", "presenter", Kind.TEXT, False, ("主讲人", "授课人")),
        Column("备注", "note", Kind.TEXT, False, ()),
    ),
    ("活动记录", "台账"),
)

UNITS = Sheet(
    "单位信息",
    "units",
    (
        Column("单位", "unit", Kind.TEXT, True, ("单位名称",)),
        Column("党组织名称", "org_name", Kind.TEXT, False, ()),
        Column("机关工作人员总数", "staff_total", Kind.COUNT, False, ("工作人员总数",)),
        Column("专职党务工作人员数", "party_workers", Kind.COUNT, False, ("专职党务人员数",)),
    ),
    ("单位",),
)

MEMBERS = Sheet(
    "党员名册",
    "members",
    (
        Column("姓名", "name", Kind.TEXT, True, ()),
        Column("单位", "unit", Kind.TEXT, True, ("单位名称", "所属单位")),
        Column("党支部", "branch", Kind.TEXT, False, ("支部", "所在支部", "支部名称")),
        Column("党员类别", "category", Kind.MEMBER_CATEGORY, False, ()),
        Column("党内职务", "party_post", Kind.TEXT, False, ()),
        Column("是否专职党务", "full_time_party_worker", Kind.YES_NO, False, ()),
    ),
    ("名册",),
)

DISCIPLINE = Sheet(
    "奖惩记录",
    "discipline",
    (
        Column("日期", "date", Kind.DATE, True, ("时间",)),
        Column("单位", "unit", Kind.TEXT, True, ("单位名称", "所属单位")),
        Column("党支部", "branch", Kind.TEXT, False, ("支部", "所在支部")),
        Column("类别", "category", Kind.DISCIPLINE_CATEGORY, True, ("奖惩类别",)),
        Column("对象", "subject", Kind.TEXT, False, ()),
        Column("事由", "reason", Kind.TEXT, False, ()),
    ),
    ("奖惩",),
)

BRANCHES = Sheet(
    "支部信息",
    "branches",
    (
        Column("单位", "unit", Kind.TEXT, True, ("单位名称", "所属单位")),
        Column("党支部", "branch", Kind.TEXT, True, ("支部", "支部名称", "党支部名称")),
        Column("成立日期", "founded", Kind.DATE, False, ("成立时间",)),
        Column("撤销日期", "dissolved", Kind.DATE, False, ("撤销时间",)),
    ),
    ("支部",),
)

SHEETS: tuple[Sheet, ...] = (ACTIVITIES, UNITS, MEMBERS, DISCIPLINE, BRANCHES)


def sheet_for(sheet_name: str) -> Sheet | None:
    """The contract sheet a workbook sheet name stands for, if any."""
    return next((s for s in SHEETS if s.matches(sheet_name)), None)
