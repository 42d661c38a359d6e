"""Personal names never reach the dataset: roster names in presenters become posts, and every
name column is dropped once the checks that need it have run."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from reportkit.data.ingest.tables import PRIVATE_FIELDS
from reportkit.data.text import normalize_name

_NAME_LIST_SEPARATORS = re.compile(r"([、，,；;/／]+)")


def protect_privacy(tables: dict[str, pd.DataFrame]) -> None:
    """Replace roster names in presenters by the member's post, then drop every name column.

    Names from 党员名册 never reach a report: a presenter cell naming a member (alone, in a list
    such as 甄士隐、贾雨村, or within text such as 书记甄士隐) shows that member's post in the
    same unit, or 党员 when the name is on another unit's roster.
    """
    members = tables["members"]
    activities = tables["activities"]
    if not members.empty and not activities.empty:
        has = activities["presenter"].notna().to_numpy()
        redactor = _Redactor.of(members[members["name"].notna()])
        if redactor.names and has.any():
            # Once per distinct (unit, presenter) pair: a log repeats the same few thousand.
            pairs = activities.loc[has, ["unit", "presenter"]]
            codes = pairs.groupby(["unit", "presenter"], dropna=False, sort=False).ngroup()
            distinct = pairs.drop_duplicates()  # in the order ngroup numbers them
            texts = zip(distinct["unit"], distinct["presenter"], strict=True)
            redacted = np.array([redactor.redact(u, p) for u, p in texts], dtype=object)
            activities.loc[has, "presenter"] = pd.Series(
                redacted[codes.to_numpy()], index=pairs.index, dtype="str"
            )
    for table, fields in PRIVATE_FIELDS.items():
        tables[table] = tables[table].drop(columns=list(fields))


@dataclass
class _Redactor:
    """The roster's names (normalised) and each member's post in their unit."""

    names: set[str]
    posts: dict[tuple[str, str], str]  # (unit, name), both normalised -> post

    @classmethod
    def of(cls, roster: pd.DataFrame) -> _Redactor:
        names: set[str] = set()
        posts: dict[tuple[str, str], str] = {}
        columns = (roster["unit"], roster["name"], roster["party_post"])
        for unit, name, post in zip(*columns, strict=True):
            key = normalize_name(name)
            if not key:
                continue
            names.add(key)
            if not isinstance(unit, str):
                continue
            where = (normalize_name(unit), key)
            if not isinstance(post, str) or not post:
                posts.setdefault(where, "党员")
            elif posts.get(where) in (None, "党员"):
                posts[where] = post
        return cls(names, posts)

    @cached_property
    def lengths(self) -> list[int]:
        return sorted({len(n) for n in self.names if len(n) >= 2}, reverse=True)

    def name_within(self, key: str) -> str | None:
        """The leftmost roster name in key, the longest one where several start there."""
        for start in range(len(key) - 1):
            for length in self.lengths:
                if key[start : start + length] in self.names:
                    return key[start : start + length]
        return None

    def redact(self, unit: Any, text: str) -> str:
        """`text` with every roster name replaced by the member's post in `unit` (or 党员)."""
        unit_key = normalize_name(unit) if isinstance(unit, str) else ""
        parts = _NAME_LIST_SEPARATORS.split(text)
        for i in range(0, len(parts), 2):  # odd indexes hold the separators
            key = normalize_name(parts[i])
            found = key if key in self.names else self.name_within(key)
            if found is not None:
                parts[i] = self.posts.get((unit_key, found), "党员")
        return "".join(parts)
