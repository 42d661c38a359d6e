"""A workbook as analysts really type it validates clean and yields hand-computed counts."""

from __future__ import annotations

import datetime as dt

from click.testing import CliRunner

from reportkit.analysis.stats import compute_stats
from reportkit.cli import main
from reportkit.data.dataset import ingest_to_dataset, load_unit
from reportkit.params import Period, load_params

UNIT = "某区税务局"
OTHER = "另一局"
HEADER = ["活动日期", " 单位名称 ", "所在支部", "类型", "活动主题", "应到", "实到", "学时"]
ROWS = [
    ["党建工作台账（2019年度）"],  # title row, Excel row 1
    None,  # blank row 2
    HEADER,  # header at Excel row 3, all aliases, one with stray spaces
    [dt.datetime(2018, 12, 31), UNIT, "第一党支部", "主题党日活动", "年末", 10, 9, 2],  # out
    [dt.datetime(2019, 1, 1), UNIT, "第一党支部", "主题党日 活动", "元旦", 10, 10, 2],  # in
    [43529, UNIT, "第一党支部", " 专题党课 ", "序列号日期", 10, 8, 1.5],  # 2019-03-05, in
    ["2019-3-6", UNIT, "第二党支部", "讲党课", "短横线", 8, 8, 1],  # in
    None,  # blank row inside the data
    ["2019/03/07", UNIT, "", "理论学习中心组学习", "斜线", 12, 11, 3],  # in, unit level
    ["2019.3.8", UNIT, "", "中心组　学习", "点号与全角空格", 12, 12, 3],  # in
    ["２０１９年３月９日", UNIT, "第二党支部", "主题党日", "全角数字", 8, 7, 2],  # in
    ["2019年12月31日 14:30", UNIT, "第二党支部", "支部委员会", "带时间", 5, 5, 1],  # in
    [dt.datetime(2020, 1, 1), UNIT, "第二党支部", "主题党日", "次年", 8, 8, 2],  # out
    [dt.datetime(2019, 6, 1), OTHER, "甲支部", "主题党日", "别的单位", 6, 6, 1],  # other unit
]


def test_messy_workbook_validates_clean_and_counts_match_the_hand_count(write_xlsx, tmp_path):
    path = write_xlsx(
        "台账.xlsx",
        {
            "活动记录": ROWS,
            "单位": [["单位", "机关工作人员总数", "专职党务工作人员数"], [UNIT, 150, 2]],
        },
    )
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert "错误" not in result.output

    ingest_to_dataset([path], tmp_path / "dataset")
    data = load_unit(tmp_path / "dataset", UNIT)
    assert set(data.activities["unit"]) == {UNIT}
    assert list(data.activities["_row"]) == [4, 5, 6, 7, 9, 10, 11, 12, 13]

    period = Period(dt.date(2019, 1, 1), dt.date(2019, 12, 31), "2019年度")
    stats = compute_stats(data, period, load_params())
    # By hand: rows 5..12 lie in 2019 (row 4 is 2018-12-31, row 13 is 2020-01-01).
    nonzero = {k: v for k, v in stats["counts"].items() if v}
    assert nonzero == {"主题党日": 2, "党课": 2, "中心组学习": 2, "支委会": 1}
    assert stats["counts_by_year"]["2019"]["主题党日"] == 2
    assert stats["attendance"]["expected"] == 10 + 10 + 8 + 12 + 12 + 8 + 5
    assert stats["attendance"]["present"] == 10 + 8 + 8 + 11 + 12 + 7 + 5
    assert stats["staffing"]["ratio"] == round(2 / 150, 6)
    assert stats["staffing"]["within_norm"] is True
    assert {b["name"] for b in stats["branches"]} == {"第一党支部", "第二党支部"}
