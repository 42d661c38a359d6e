"""Row fingerprints stored at ingest equal those computed from a unit's rows as loaded."""

from __future__ import annotations

import datetime as dt

from reportkit.data.dataset import ingest_to_dataset, read_meta, unit_fingerprint, unit_fingerprints

HEADER = ["日期", "单位", "党支部", "活动类型", "主题", "应到人数", "实到人数"]


def rows(topic: str) -> list:
    return [
        HEADER,
        [dt.datetime(2020, 1, 3), "甲局", "一支部", "主题党日", topic, 8, 8],
        [dt.datetime(2020, 2, 3), "乙局", "二支部", "党课", "乙的党课", 6, None],
        [dt.datetime(2020, 3, 3), "甲局", "", "中心组学习", "甲的学习", 9, 9],
    ]


def test_stored_fingerprints_match_and_change_only_for_the_edited_unit(write_xlsx, tmp_path):
    first = write_xlsx("a.xlsx", {"活动台账": rows("甲的主题党日")})
    ingest_to_dataset([first], tmp_path / "ds")
    stored = unit_fingerprints(tmp_path / "ds")
    assert set(stored) == {"甲局", "乙局"} and "fingerprints" in read_meta(tmp_path / "ds")
    for unit, value in stored.items():
        assert unit_fingerprint(tmp_path / "ds", unit) == value

    second = write_xlsx("b.xlsx", {"活动台账": rows("改过的主题")})
    ingest_to_dataset([second], tmp_path / "ds")
    changed = unit_fingerprints(tmp_path / "ds")
    assert changed["甲局"] != stored["甲局"]
    assert changed["乙局"] == stored["乙局"]
