"""What activities are about: topics by type and date (the study campaigns of the time),
presenters and hours."""

from __future__ import annotations

import bisect
import datetime as dt
import functools
import random
import re
from collections.abc import Callable, Sequence
from itertools import accumulate

#: (from, to, focus): what the party was studying at the time.
_FOCUS: tuple[tuple[dt.date, dt.date, str], ...] = tuple(
    (dt.date.fromisoformat(a), dt.date.fromisoformat(b), text)
    for a, b, text in (
        ("2017-10-18", "2018-06-30", "学习贯彻党的十九大精神"),
        ("2018-01-19", "2018-05-31", "学习贯彻党的十九届二中、三中全会精神"),
        ("2018-03-11", "2018-06-30", "学习宪法修正案"),
        ("2018-06-15", "2018-12-31", "推进国税地税征管体制改革"),
        ("2018-11-01", "2019-06-30", "学习贯彻《中国共产党支部工作条例（试行）》"),
        ("2019-01-01", "2019-12-31", "落实更大规模减税降费"),
        ("2019-06-01", "2019-12-31", "“不忘初心、牢记使命”主题教育"),
        ("2019-11-01", "2020-08-31", "学习贯彻党的十九届四中全会精神"),
        ("2020-02-01", "2020-06-30", "统筹推进疫情防控和税收工作"),
        ("2020-06-01", "2020-12-31", "决战决胜脱贫攻坚"),
        ("2020-11-01", "2021-06-30", "学习贯彻党的十九届五中全会精神"),
        ("2021-02-20", "2021-12-31", "党史学习教育"),
        ("2021-03-24", "2021-12-31", "落实《关于进一步深化税收征管改革的意见》"),
        ("2021-07-01", "2021-10-31", "学习贯彻习近平总书记“七一”重要讲话精神"),
        ("2021-11-11", "2022-06-30", "学习贯彻党的十九届六中全会精神"),
        ("2022-04-01", "2022-10-15", "喜迎党的二十大"),
        ("2022-10-23", "2023-09-30", "学习贯彻党的二十大精神"),
        ("2023-04-01", "2024-01-31", "学习贯彻习近平新时代中国特色社会主义思想主题教育"),
        ("2024-04-01", "2024-07-31", "党纪学习教育"),
        ("2024-07-18", "2024-12-31", "学习贯彻党的二十届三中全会精神"),
    )
)
_GENERAL = (
    "学习习近平新时代中国特色社会主义思想",
    "学习习近平总书记关于税收工作的重要论述",
    "学习《中国共产党章程》",
    "学习《中国共产党纪律处分条例》",
    "优化税收营商环境",
    "党风廉政建设警示教育",
    "全面从严治党",
)
STUDY_CAMPAIGNS = {  # 专题组织生活会 held at the close of each study campaign
    dt.date(2019, 12, 20): "“不忘初心、牢记使命”主题教育专题组织生活会",
    dt.date(2022, 1, 20): "党史学习教育专题组织生活会",
    dt.date(2024, 1, 18): "主题教育专题组织生活会",
}
_BRANDS = ("税徽闪耀", "红色税苑", "党建+纳税服务", "税心向党", "先锋税务")


@functools.cache
def _focus_on(day: dt.date) -> tuple[str, ...]:
    return tuple(text for a, b, text in _FOCUS if a <= day <= b)


def _focus(day: dt.date, rng: random.Random) -> str:
    current = _focus_on(day)
    if current and rng.random() < 0.75:
        return rng.choice(current)
    return rng.choice(_GENERAL)


def topic_for(kind: str, day: dt.date, rng: random.Random, ctx: str = "") -> str:
    """A plausible topic for an activity of `kind` held on `day`."""
    focus = _focus(day, rng)
    return _TOPICS.get(kind, _other)(focus, day.year, day.month, rng, ctx)


def _central_group(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice((focus, f"{focus}（集体学习）", f"专题学习：{focus}"))


def _seminar(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return f"围绕“{_strip_verb(focus)}”开展专题研讨"


def _lecture_hall(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return f"“真学实做知行合一大课堂”：{_strip_verb(focus)}"


def _party_day(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    if m == 4 and rng.random() < 0.5:
        return rng.choice(("清明祭英烈", "税收宣传月志愿服务"))
    if m in (6, 7) and rng.random() < 0.6:
        return f"庆祝中国共产党成立{y - 1921}周年"
    return rng.choice(
        (
            f"集中{focus}" if focus.startswith("学习") else focus,
            "重温入党誓词",
            "参观红色教育基地",
            "走进社区开展税收政策宣讲",
            "观看警示教育片",
            f"{focus}",
        )
    )


def _party_lecture(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return f"专题党课：{_strip_verb(focus)}"


def _branch_assembly(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(
        (
            f"传达{focus}" if focus.startswith("学习") else f"部署{focus}",
            "讨论接收预备党员",
            "讨论预备党员转为正式党员",
            "通报支部工作",
            "评议推选优秀共产党员" if m in (5, 6) else "传达上级党委会议精神",
        )
    )


def _committee(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(
        (
            f"研究{m}月支部工作安排",
            "研究发展党员工作",
            "研究党费收缴工作",
            f"研究{focus}具体安排",
            f"研究{m}月主题党日安排",
        )
    )


def _group_meeting(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(
        (
            f"集中{focus}" if focus.startswith("学习") else focus,
            "交流学习心得体会",
            "讨论业务工作中的难点问题",
        )
    )


def _life_meeting(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return ctx or f"{y - 1}年度组织生活会"


def _appraisal(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return f"{y - 1}年度民主评议党员"


def _heart_talk(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return ctx or rng.choice(("开展谈心谈话", "组织生活会前谈心谈话", "节前谈心谈话"))


def _research(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    subject = rng.choice(
        (
            "减税降费政策落实情况",
            "基层党建工作",
            "办税服务厅运行情况",
            "征管改革推进情况",
            "税收营商环境",
            "重点税源企业",
        )
        + (("个人所得税汇算工作", "“非接触式”办税推广") if y >= 2020 else ())
    )
    return f"赴基层单位调研{subject}"


def _inspection(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(
        (
            "“三会一课”制度落实情况检查",
            "党风廉政建设责任制落实情况监督检查",
            "中央八项规定精神落实情况检查",
            "党费收缴使用情况检查",
        )
    )


def _visit(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    if m in (1, 2):
        return "春节前走访慰问困难党员和老党员"
    if m in (6, 7):
        return "“七一”前走访慰问生活困难党员"
    return rng.choice(("走访慰问生病住院党员", "走访慰问困难职工"))


def _task_force(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    options = ["组建减税降费党员突击队"]
    if y >= 2019:
        options.append("组建社会保险费征收职责划转党员突击队")
    if y == 2020 and m <= 6:
        options.append("组建疫情防控党员先锋队")
    if y >= 2020:
        options.append("组建个人所得税汇算党员突击队")
    return rng.choice(options)


def _model_post(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(("办税服务厅设立党员示范岗", "评选季度党员示范岗", "党员示范岗挂牌"))


def _branding(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(("“一支部一品牌”创建推进会", f"支部党建品牌“{rng.choice(_BRANDS)}”创建"))


def _other(focus: str, y: int, m: int, rng: random.Random, ctx: str) -> str:
    return rng.choice(
        (
            "参加党建知识竞赛",
            "党建工作信息平台操作培训",
            "组织党员参加无偿献血",
            "“青年文明号”创建活动",
        )
    )


#: The topic writer of each activity type (its focus, year, month, random source and context).
_TOPICS: dict[str, Callable[[str, int, int, random.Random, str], str]] = {
    "中心组学习": _central_group,
    "专题研讨": _seminar,
    "大课堂": _lecture_hall,
    "主题党日": _party_day,
    "党课": _party_lecture,
    "支部党员大会": _branch_assembly,
    "支委会": _committee,
    "党小组会": _group_meeting,
    "组织生活会": _life_meeting,
    "民主评议党员": _appraisal,
    "谈心谈话": _heart_talk,
    "调研": _research,
    "监督检查": _inspection,
    "走访慰问": _visit,
    "突击队": _task_force,
    "示范岗": _model_post,
    "品牌创建": _branding,
}


@functools.cache
def _cumulative(weights: tuple[float, ...]) -> tuple[float, ...]:
    return tuple(accumulate(weights))


def weighted_pick(rng: random.Random, names: Sequence[str], weights: tuple[float, ...]) -> str:
    """rng.choices(names, weights)[0], without re-summing the weights on every call."""
    cum = _cumulative(weights)
    return names[bisect.bisect(cum, rng.random() * cum[-1], 0, len(cum) - 1)]


def _strip_verb(text: str) -> str:
    return re.sub(r"^(学习贯彻|学习|推进|落实)", "", text) or text


PRESENTERS: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "中心组学习": (("党委书记", "党委副书记"), (0.85, 0.15)),
    "专题研讨": (("党委书记", "党委副书记", "纪检组长", "支部书记"), (0.5, 0.2, 0.1, 0.2)),
    "大课堂": (("特邀专家", "党校教师", "党委书记", "机关党委书记", "业务骨干"), (3, 2, 2, 2, 1)),
    "主题党日": (("支部书记", "组织委员", "宣传委员"), (0.8, 0.12, 0.08)),
    "党课": (("支部书记", "党委书记", "党委委员", "特邀专家", "纪检组长"), (6, 1.5, 1.5, 0.5, 0.5)),
    "支部党员大会": (("支部书记",), (1,)),
    "支委会": (("支部书记", "支部副书记"), (0.9, 0.1)),
    "党小组会": (("党小组长",), (1,)),
    "组织生活会": (("支部书记",), (1,)),
    "民主评议党员": (("支部书记",), (1,)),
    "谈心谈话": (("支部书记",), (1,)),
    "调研": (("党委书记", "党委副书记", "党委委员"), (0.4, 0.3, 0.3)),
    "监督检查": (("纪检组长", "机关党委书记", "机关纪委书记"), (0.4, 0.3, 0.3)),
    "走访慰问": (("党委书记", "机关党委书记", "支部书记"), (0.4, 0.3, 0.3)),
}
HOURS: dict[str, tuple[float, ...]] = {
    "中心组学习": (2, 2.5, 3, 3),
    "专题研讨": (2, 2.5, 3),
    "大课堂": (1.5, 2, 2),
    "主题党日": (2, 2, 2.5, 3, 4),
    "党课": (1.5, 1.5, 2),
    "支部党员大会": (1, 1.5, 2),
    "支委会": (1, 1, 1.5),
    "党小组会": (1, 1, 1.5),
    "组织生活会": (3, 3.5, 4),
    "民主评议党员": (1.5, 2),
    "专题研讨@branch": (1.5, 2),
}
MEETINGS = {"主题党日", "党课", "支部党员大会", "组织生活会", "民主评议党员", "专题研讨"}
