"""The schema of every parameter: its type, allowed values and a one-line Chinese description.

`check_params` validates merged parameters with jsonschema before any unit runs and turns each
problem into a Chinese line that names the key path and where the value came from (a params
file or `-p`). Open mappings have their own rules: `norms.*` by the rule schema, `narrative.*`
by the wording templates' paragraph keys, `vocabulary.display_names.*` by the activity types,
`fonts.*` by the font roles, and `units.*` by the unit names in the data (`check_unit_names`,
once the data is read).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cache
from typing import Any

import jsonschema

from reportkit.errors import UsageError

Path_ = tuple[str, ...]
#: How the origin of a key is found: a function from its path to "文件 X" or "-p KEY".
Origin = Callable[[Path_], str]


def _object(properties: Mapping[str, Any], description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": dict(properties),
        "additionalProperties": False,
    }


def _date(description: str, nullable: bool = False) -> dict[str, Any]:
    return {"type": ["string", "null"] if nullable else "string", "format": "date",
            "description": description}  # fmt: skip


def _ratio(description: str) -> dict[str, Any]:
    return {"type": "number", "minimum": 0, "maximum": 1, "description": description}


#: PDF standards typst can write (`pdf.standard`); null is a plain PDF 1.7.
PDF_STANDARDS = ("1.7", "2.0", "a-1b", "a-2b", "a-2u", "a-3b", "a-3u", "a-4", "ua-1")

NORM_RULE = _object(
    {
        "per": {
            "enum": ["month", "quarter", "year"],
            "description": "核对周期：每月、每季度或每年",
        },
        "min": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "每个周期至少开展的次数；null 表示不核对此项",
        },
        "scope": {
            "enum": ["branch", "unit"],
            "description": "按每个党支部（branch）或按单位（unit）核对",
        },
        "since": _date("制度施行日期，此前的周期不核对", nullable=True),
        "until": _date("制度停止施行的日期（含当日），可不填", nullable=True),
        "type": {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
            ],
            "description": "计入此项的活动类型（一个或一组），默认与制度名称相同",
        },
        "min_full_members": {
            "type": ["integer", "null"],
            "minimum": 0,
            "description": "名册中正式党员不少于此数的支部才核对",
        },
        "only_with_groups": {"type": "boolean", "description": "只核对设有党小组的支部"},
    },
    "一项组织生活制度的核对规则",
)


def _shared_properties() -> dict[str, Any]:
    """Keys that every unit may also override under `units.<单位>`."""
    from reportkit.render.fonts import ROLES

    return {
        "report_date": _date("落款日期；不填则为报告期结束日期", nullable=True),
        "leadership": {"type": "string", "description": "开头段落提到的上级党组织"},
        "vocabulary": _object(
            {
                "display_names": {
                    "type": "object",
                    "additionalProperties": {"type": "string", "minLength": 1},
                    "description": "活动类型在报告正文中的名称：规范类型 → 名称",
                },
                "extra_types": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    "description": "新增的活动类型：名称 → 别名列表",
                },
            },
            "活动类型的名称和新增类型",
        ),
        "norms": {
            "type": "object",
            "additionalProperties": NORM_RULE,
            "description": "组织生活制度核对规则：制度名称 → 规则（可新增）",
        },
        "staffing": _object(
            {
                "min_ratio": _ratio("专职党务工作人员占机关工作人员总数的最低比例"),
                "max_ratio": _ratio("专职党务工作人员占机关工作人员总数的最高比例"),
                "min_people": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "专职党务工作人员最少人数",
                },
            },
            "专职党务工作人员配备标准",
        ),
        "evidence": _object(
            {
                "research_per_year_min": {
                    "type": "number",
                    "minimum": 0,
                    "description": "每年调研次数低于此数时，在存在问题中列为依据",
                },
            },
            "存在问题部分引用数据依据的门槛",
        ),
        "imbalance": _object(
            {
                "bottom_ratio": {
                    "type": "number",
                    "exclusiveMinimum": 0,
                    "maximum": 1,
                    "description": "活动次数低于各支部平均数的此比例的支部视为活动偏少",
                },
            },
            "各支部活动不平衡的判断",
        ),
        "fonts": _object(
            {
                role: {
                    "type": ["string", "null"],
                    "description": f"PDF 和 DOCX 中「{role}」字体：字体名称或字体文件路径",
                }
                for role in ROLES
            },
            "字体：角色 → 字体名称或文件路径，不填则使用默认字体",
        ),
        "narrative": {
            "type": "object",
            "propertyNames": {"enum": sorted(narrative_keys())},
            "additionalProperties": {"type": ["string", "null"]},
            "description": "替换正文段落：段落键 → 文字（见 reportkit/templates/outline）",
        },
        "pdf": _object(
            {
                "standard": {
                    "enum": [None, *PDF_STANDARDS],
                    "description": "PDF 标准，如 a-2b（PDF/A-2b 归档）；不填为普通 PDF",
                },
            },
            "PDF 输出选项",
        ),
    }


@cache
def schema() -> dict[str, Any]:
    """The whole parameters schema (JSON Schema 2020-12)."""
    shared = _shared_properties()
    unit = _object(shared, "单个单位的覆盖参数（键与顶层相同，报告期除外）")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **_object(
            {
                "period": _object(
                    {
                        "start": _date("报告期开始日期（含），YYYY-MM-DD"),
                        "end": _date("报告期结束日期（含），YYYY-MM-DD"),
                        "label": {
                            "type": "string",
                            "minLength": 1,
                            "description": "报告期名称，用于标题",
                        },
                    },
                    "报告期",
                ),
                **shared,
                "coverage": _object(
                    {
                        "max_gap_months": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "台账记录中断超过此月数时提示覆盖不全",
                        },
                    },
                    "台账覆盖期间的检查",
                ),
                "files": {
                    "type": "object",
                    "additionalProperties": _object(
                        {
                            "unit": {
                                "type": "string",
                                "minLength": 1,
                                "description": "该文件所属单位",
                            }
                        },
                        "一个台账文件的设置",
                    ),
                    "description": "按文件名指定设置，如没有单位列的台账属于哪个单位",
                },
                "units": {
                    "type": "object",
                    "additionalProperties": unit,
                    "description": "按单位覆盖的参数：单位名称 → 参数",
                },
            },
            "reportkit 参数",
        ),
    }


@cache
def narrative_keys() -> frozenset[str]:
    """Paragraph keys of every wording template (what `narrative.<key>` may replace)."""
    from reportkit.render.outline import paragraph_keys

    return frozenset(paragraph_keys("unit_report.j2") | paragraph_keys("summary.j2"))


def leaf_paths(node: Mapping[str, Any] | None = None, prefix: Path_ = ()) -> set[Path_]:
    """Every documented key path of the schema; open mappings appear as `*`."""
    node = schema() if node is None else node
    found: set[Path_] = set()
    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if properties:
        for key, sub in properties.items():
            found |= (
                leaf_paths(sub, (*prefix, key)) if sub.get("type") == "object" else {(*prefix, key)}
            )
    if isinstance(extra, Mapping) and extra.get("type") == "object":
        found |= leaf_paths(extra, (*prefix, "*"))
    elif not properties:
        found.add(prefix)
    return found


def _date_format(instance: Any) -> bool:
    if not isinstance(instance, str):
        return True
    try:
        dt.date.fromisoformat(instance)
    except ValueError:
        return False
    return True


_FORMATS = jsonschema.FormatChecker(formats=())
_FORMATS.checks("date")(_date_format)

_TYPE_NAMES = {
    "string": "文字",
    "integer": "整数",
    "number": "数字",
    "boolean": "true 或 false",
    "object": "键值映射",
    "array": "列表",
    "null": "空",
}


def _dotted(path: Iterable[Any]) -> str:
    return ".".join(str(p) for p in path) or "（顶层）"


def _describe(error: jsonschema.ValidationError) -> list[tuple[Path_, str]]:
    """(key path, Chinese reason) for one jsonschema error."""
    path = tuple(str(p) for p in error.absolute_path)
    value = error.instance
    kind = error.validator
    if kind == "additionalProperties":
        known = sorted(error.schema.get("properties") or {})
        hint = f"（可用的键：{'、'.join(known)}）" if known else ""
        return [((*path, str(k)), f"未知参数{hint}") for k in value if k not in known]
    if "propertyNames" in error.schema_path:  # a key of an open mapping with fixed keys
        allowed = "、".join(map(str, error.validator_value))
        return [((*path, str(value)), f"未知的键（可用的键：{allowed}）")]
    if kind == "type":
        wanted = error.validator_value
        wanted = [wanted] if isinstance(wanted, str) else wanted
        names = "或".join(_TYPE_NAMES.get(w, w) for w in wanted)
        return [(path, f"应为{names}，实际为 {value!r}")]
    if kind == "enum":
        allowed = "、".join("空" if v is None else str(v) for v in error.validator_value)
        return [(path, f"取值 {value!r} 不在可选值之内（可选：{allowed}）")]
    if kind in ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"):
        sign = {"minimum": "不小于", "exclusiveMinimum": "大于", "maximum": "不大于",
                "exclusiveMaximum": "小于"}[kind]  # fmt: skip
        return [(path, f"应{sign} {error.validator_value}，实际为 {value!r}")]
    if kind == "format":
        return [(path, f"不是有效日期（应为 YYYY-MM-DD）：{value!r}")]
    if kind in ("minLength", "minItems"):
        return [(path, "不能为空")]
    if kind == "anyOf":
        return [(path, f"应为文字或文字列表，实际为 {value!r}")]
    return [(path, f"取值无效：{value!r}")]


def _date_order(params: Mapping[str, Any]) -> list[tuple[Path_, str]]:
    """Impossible values the schema cannot express: an end before its start."""
    problems: list[tuple[Path_, str]] = []

    def check(start_path: Path_, end_path: Path_, start: Any, end: Any) -> None:
        dates = isinstance(start, str) and isinstance(end, str)
        if dates and _date_format(start) and _date_format(end) and end < start:
            problems.append((end_path, f"{end} 早于 {_dotted(start_path)}（{start}）"))

    period = params.get("period") or {}
    check(("period", "start"), ("period", "end"), period.get("start"), period.get("end"))
    scopes = [((), params)] + [
        (("units", name), sub) for name, sub in (params.get("units") or {}).items()
    ]
    for prefix, scope in scopes:
        if not isinstance(scope, Mapping) or not isinstance(scope.get("norms"), Mapping):
            continue
        for name, rule in scope["norms"].items():
            if isinstance(rule, Mapping):
                base = (*prefix, "norms", str(name))
                check((*base, "since"), (*base, "until"), rule.get("since"), rule.get("until"))
    return problems


def _display_names(params: Mapping[str, Any]) -> list[tuple[Path_, str]]:
    """`vocabulary.display_names` keys must be activity types (canonical or extra)."""
    from reportkit.data.vocabulary import ACTIVITY_TYPES

    problems: list[tuple[Path_, str]] = []
    scopes = [((), params)] + [
        (("units", name), sub) for name, sub in (params.get("units") or {}).items()
    ]
    for prefix, scope in scopes:
        vocabulary = scope.get("vocabulary") if isinstance(scope, Mapping) else None
        if not isinstance(vocabulary, Mapping):
            continue
        known = set(ACTIVITY_TYPES) | set(vocabulary.get("extra_types") or {})
        known |= set(((params.get("vocabulary") or {}).get("extra_types")) or {})
        for key in vocabulary.get("display_names") or {}:
            if key not in known:
                path = (*prefix, "vocabulary", "display_names", str(key))
                problems.append((path, "不是已知的活动类型（可在 vocabulary.extra_types 中新增）"))
    return problems


def check_params(params: Mapping[str, Any], origin: Origin) -> None:
    """Raise a UsageError (exit 2) listing every problem, each naming its key and origin."""
    validator = jsonschema.Draft202012Validator(schema(), format_checker=_FORMATS)
    problems: list[tuple[Path_, str]] = []
    for error in sorted(validator.iter_errors(params), key=lambda e: list(map(str, e.path))):
        problems.extend(_describe(error))
    if not problems:
        problems = _date_order(params) + _display_names(params)
    _raise(problems, origin)


def check_unit_names(params: Mapping[str, Any], units: Sequence[str], origin: Origin) -> None:
    """`units.<单位>` must name a unit in the data (a typo would silently override nothing)."""
    known = set(units)
    problems = [
        (("units", str(name)), f"数据中没有这个单位（数据中的单位：{'、'.join(units)}）")
        for name in (params.get("units") or {})
        if name not in known
    ]
    _raise(problems, origin)


def _raise(problems: list[tuple[Path_, str]], origin: Origin) -> None:
    if not problems:
        return
    lines = [f"参数 {_dotted(path)}（{origin(path)}）：{reason}" for path, reason in problems]
    raise UsageError("参数有误，未运行任何单位：\n" + "\n".join(lines))
