"""The wording layer: template parts render to blocks, overrides replace paragraphs."""

from __future__ import annotations

import datetime as dt

from reportkit.render.outline import cn_date, join_cn, org_short, render_part


def test_cn_date_has_no_leading_zeros():
    assert cn_date("2024-01-05") == "2024年1月5日"
    assert cn_date(dt.date(2019, 10, 28)) == "2019年10月28日"


def test_org_short_and_join():
    assert org_short("中共国家税务总局某市税务局机关委员会") == "国家税务总局某市税务局机关党委"
    assert org_short("某某党组") == "某某党组"
    assert join_cn(["甲支部", "乙支部"], "党支部") == "甲支部、乙支部"
    names = [f"第{i}党支部" for i in range(10)]
    assert join_cn(names, "党支部").endswith("第7党支部等10个党支部")


def test_narrative_override_replaces_one_paragraph_and_text_is_not_markup():
    context = {
        "s": {
            "org_name": "中共<b>测试</b>委员会",
            "period": {"start": "2020-01-01", "end": "2020-12-31", "label": "2020年度"},
        },
        "f": {"branch_count": 2, "total": 5, "present": 40},
        "leadership": "# 不是标题",
    }
    blocks = render_part("unit_report.j2", "title", context)
    assert blocks[0] == {
        "kind": "title",
        "text": "中共<b>测试</b>委员会关于2020年度党建工作情况的报告",
    }
    assert blocks[1]["kind"] == "paragraph"
    assert "# 不是标题" in blocks[1]["text"] and "2020年1月1日至2020年12月31日" in blocks[1]["text"]
    overridden = render_part(
        "unit_report.j2", "title", context, narrative={"opening": "甲。\n\n乙。"}
    )
    assert [b["text"] for b in overridden[1:]] == ["甲。", "乙。"]
