"""Controlled vocabularies: activity types, discipline categories and member categories.

The validator, the template's dropdowns and the statistics all read these tables, so a word that
one of them accepts the others accept too.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from reportkit.data.text import normalize_name

#: canonical activity type -> aliases (DESIGN "Activity vocabulary"); order is display order.
ACTIVITY_TYPES: dict[str, tuple[str, ...]] = {
    "中心组学习": ("理论学习中心组学习", "中心组集体学习", "党委中心组学习"),
    "专题研讨": ("专题学习研讨", "研讨交流"),
    "大课堂": ("真学实做知行合一大课堂",),
    "主题党日": ("主题党日活动",),
    "党课": ("专题党课", "讲党课"),
    "支部党员大会": ("党员大会",),
    "支委会": ("支部委员会", "支部委员会会议"),
    "党小组会": ("党小组会议",),
    "组织生活会": (),
    "民主评议党员": ("民主评议",),
    "谈心谈话": (),
    "调研": ("基层调研", "调查研究"),
    "监督检查": (),
    "走访慰问": (),
    "突击队": ("党员突击队", "党员先锋队"),
    "示范岗": ("党员示范岗",),
    "品牌创建": ("一支部一品牌",),
    "其他": (),
}

#: 奖惩记录.类别: rewards first, then the four forms of discipline supervision (四种形态).
REWARD_CATEGORIES: tuple[str, ...] = ("表彰", "奖励")
DISCIPLINE_FORMS: tuple[str, ...] = ("第一种形态", "第二种形态", "第三种形态", "第四种形态")
DISCIPLINE_CATEGORIES: dict[str, tuple[str, ...]] = {
    "表彰": (),
    "奖励": (),
    "第一种形态": ("一种形态", "第1种形态"),
    "第二种形态": ("二种形态", "第2种形态"),
    "第三种形态": ("三种形态", "第3种形态"),
    "第四种形态": ("四种形态", "第4种形态"),
}

#: 党员名册.党员类别
MEMBER_CATEGORIES: dict[str, tuple[str, ...]] = {"正式党员": ("正式",), "预备党员": ("预备",)}

#: 是/否 columns
YES_NO: dict[str, tuple[str, ...]] = {
    "是": ("Y", "y", "yes", "1", "√"),
    "否": ("N", "n", "no", "0", "×"),
}


@dataclass(frozen=True)
class Vocabulary:
    """A canonical list with aliases, matched after name normalisation."""

    canonical: tuple[str, ...]
    lookup: Mapping[str, str] = field(repr=False)

    @classmethod
    def build(cls, table: Mapping[str, Iterable[str]]) -> Vocabulary:
        lookup: dict[str, str] = {}
        for name, aliases in table.items():
            for word in (name, *aliases):
                lookup[normalize_name(word)] = name
        return cls(tuple(table), lookup)

    def resolve(self, value: str) -> str | None:
        """The canonical name for a value, or None when it is not in the vocabulary."""
        return self.lookup.get(normalize_name(value))

    def suggest(self, value: str) -> str | None:
        """The closest canonical name, for an error message; None when nothing is close."""
        key = normalize_name(value)
        best = difflib.get_close_matches(key, list(self.lookup), n=1, cutoff=0.4)
        if best:
            return self.lookup[best[0]]
        # Substring containment catches e.g. "开展主题党日" where edit distance does not.
        for alias, name in sorted(self.lookup.items(), key=lambda kv: -len(kv[0])):
            if alias and (alias in key or key in alias):
                return name
        return None


def activity_vocabulary(extra_types: Mapping[str, Iterable[str]] | None = None) -> Vocabulary:
    """The activity vocabulary, extended by params' `vocabulary.extra_types`."""
    table = dict(ACTIVITY_TYPES)
    for name, aliases in (extra_types or {}).items():
        table[name] = tuple(aliases or ())
    return Vocabulary.build(table)


DISCIPLINE = Vocabulary.build(DISCIPLINE_CATEGORIES)
MEMBER_CATEGORY = Vocabulary.build(MEMBER_CATEGORIES)
YES_NO_VOCAB = Vocabulary.build(YES_NO)
