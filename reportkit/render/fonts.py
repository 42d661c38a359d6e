"""CJK fonts for the official document format: which installed font plays which role.

GB/T 9704 names commercial fonts (仿宋_GB2312, 黑体, 楷体, 方正小标宋). A report server rarely has
them, so every role also has free fallbacks (Noto CJK, AR PL UKai). We always name the chosen font
explicitly: left to itself, fontconfig answers "仿宋" with DejaVu Sans and then takes whatever CJK
font comes first for the glyphs, often a brush script.

Roles: title (小标宋), heiti (黑体, 一、 headings), kaiti (楷体, （一） headings), fangsong
(仿宋, body text) and songti (宋体, page numbers). Users may name a family or a font file per role
(params `fonts.<role>`).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

from reportkit.errors import ReportkitError

ROLES: tuple[str, ...] = ("title", "heiti", "kaiti", "fangsong", "songti")
#: How messages name each role.
ROLE_NAMES: dict[str, str] = {
    "title": "标题小标宋",
    "heiti": "黑体",
    "kaiti": "楷体",
    "fangsong": "仿宋",
    "songti": "宋体",
}

#: Faces of the prescribed style, best first (Windows, 方正, macOS names).
OFFICIAL: dict[str, tuple[str, ...]] = {
    "title": (
        "方正小标宋简体",
        "FZXiaoBiaoSong-B05S",
        "方正小标宋_GBK",
        "FZXiaoBiaoSong-B05",
        "小标宋",
        "华文中宋",
        "STZhongsong",
    ),
    "heiti": (
        "黑体",
        "SimHei",
        "方正黑体_GBK",
        "方正黑体简体",
        "FZHei-B01S",
        "华文黑体",
        "STHeiti",
    ),
    "kaiti": (
        "楷体_GB2312",
        "KaiTi_GB2312",
        "楷体",
        "KaiTi",
        "方正楷体_GBK",
        "方正楷体简体",
        "FZKai-Z03S",
        "华文楷体",
        "STKaiti",
    ),
    "fangsong": (
        "仿宋_GB2312",
        "FangSong_GB2312",
        "仿宋",
        "FangSong",
        "方正仿宋_GBK",
        "方正仿宋简体",
        "FZFangSong-Z02S",
        "华文仿宋",
        "STFangsong",
    ),
    "songti": (
        "宋体",
        "SimSun",
        "方正书宋_GBK",
        "FZShuSong-Z01S",
        "华文宋体",
        "STSong",
        "Songti SC",
    ),
}

_SERIF = (
    "Noto Serif CJK SC",
    "Source Han Serif SC",
    "Source Han Serif CN",
    "思源宋体",
    "AR PL UMing CN",
)
_SANS = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "思源黑体",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
)

#: Free stand-ins, best first. The title's stand-in is a bold serif (小标宋 is a heavy Song face).
FREE: dict[str, tuple[str, ...]] = {
    "title": _SERIF,
    "heiti": _SANS,
    "kaiti": ("AR PL UKai CN", "AR PL KaitiM GB", *_SERIF),
    "fangsong": _SERIF,
    "songti": _SERIF,
}

#: The CSS generic family that ends each role's stack.
GENERIC: dict[str, str] = {
    "title": "serif",
    "heiti": "sans-serif",
    "kaiti": "serif",
    "fangsong": "serif",
    "songti": "serif",
}

FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")

INSTALL_HINT = (
    "未找到可用的中文字体，无法生成 PDF/DOCX。请安装中文字体，例如："
    "sudo apt-get install fonts-noto-cjk fonts-arphic-ukai；"
    "或在参数中为各角色指定字体文件，例如 fonts.fangsong: /path/to/仿宋_GB2312.ttf"
    f"（角色：{'、'.join(f'{role} {name}' for role, name in ROLE_NAMES.items())}）。"
)


@dataclass(frozen=True)
class ResolvedFont:
    """The font one role uses.

    `path` is set only when the user named a font file: the PDF engine then loads that file
    (otherwise `font_files(family)`), matplotlib registers it, and DOCX names `family` (read
    from the file), since Word can only name a family. `weight` is 700 where a bold face
    stands in for a heavy official face.
    `official` is true for a face of the prescribed style or one the user chose, false for a
    free stand-in picked by us.
    """

    family: str
    path: str | None = None
    weight: int = 400
    official: bool = False

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ResolvedFont:
        return cls(
            family=str(data["family"]),
            path=data.get("path") or None,
            weight=int(data.get("weight") or 400),
            official=bool(data.get("official", False)),
        )


def _key(name: str) -> str:
    """fontconfig compares family names ignoring case and spaces; so do we."""
    return "".join(name.split()).casefold()


def _split_families(field: str) -> list[str]:
    """fc-list joins a font's (localised) family names with commas and escapes literal ones."""
    names, current, escaped = [], [], False
    for ch in field:
        if escaped:
            current.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            names.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    names.append("".join(current).strip())
    return [n for n in names if n]


class InstalledFamily(NamedTuple):
    name: str  # as fontconfig spells it
    files: tuple[str, ...]


@cache
def discover_fonts() -> dict[str, InstalledFamily]:
    """Installed families that cover Chinese, by normalised name (one fc-list call, cached).

    Empty when fontconfig is missing; resolve_fonts then explains how to install fonts.
    """
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return {}
    try:
        out = subprocess.run(
            [fc_list, ":lang=zh", "--format", "%{family}\t%{file}\n"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    names: dict[str, str] = {}
    files: dict[str, set[str]] = {}
    for line in out.splitlines():
        family_field, _, file = line.partition("\t")
        for name in _split_families(family_field):
            names.setdefault(_key(name), name)
            if file:
                files.setdefault(_key(name), set()).add(file)
    return {
        key: InstalledFamily(name, tuple(sorted(files.get(key, ())))) for key, name in names.items()
    }


def _installed(family: str) -> bool:
    return _key(family) in discover_fonts()


def font_files(family: str) -> tuple[str, ...]:
    """The files fontconfig holds for an installed family (empty if not installed)."""
    found = discover_fonts().get(_key(family))
    return found.files if found else ()


def family_of_file(path: str | Path) -> str:
    """The family name stored in a font file (first face of a collection), English if present."""
    from fontTools.ttLib import TTFont

    path = Path(path)
    try:
        font = TTFont(str(path), fontNumber=0, lazy=True)
    except Exception as exc:  # noqa: BLE001 - any parse failure means "not a font we can use"
        raise ReportkitError(f"无法读取字体文件：{path}（{exc}）") from None
    try:
        names = font["name"].names
        best: tuple[int, str] | None = None
        for record in names:
            if record.nameID not in (16, 1):
                continue
            try:
                text = record.toUnicode().strip()
            except UnicodeDecodeError:
                continue
            if not text:
                continue
            # Typographic family (16) over legacy (1); Windows English over other languages.
            rank = (0 if record.nameID == 16 else 2) + (
                0 if (record.platformID, record.langID) == (3, 0x409) else 1
            )
            if best is None or rank < best[0]:
                best = (rank, text)
    finally:
        font.close()
    if best is None:
        raise ReportkitError(f"字体文件中没有字体名称：{path}")
    return best[1]


def _is_path(value: str) -> bool:
    return value.lower().endswith(FONT_SUFFIXES) or "/" in value or "\\" in value


def _from_override(role: str, value: str) -> ResolvedFont:
    value = value.strip()
    if _is_path(value):
        path = Path(value).expanduser()
        if not path.is_file():
            raise ReportkitError(f"参数 fonts.{role} 指定的字体文件不存在：{value}")
        return ResolvedFont(family_of_file(path), str(path.resolve()), 400, True)
    found = discover_fonts().get(_key(value))
    if found is None:
        raise ReportkitError(
            f"参数 fonts.{role} 指定的字体「{value}」未安装或不支持中文。"
            f"请安装该字体，或改为指定字体文件路径（.ttf/.otf/.ttc）。"
        )
    return ResolvedFont(found.name, None, 400, True)


def _resolve_role(role: str) -> ResolvedFont | None:
    for family in OFFICIAL[role]:
        if _installed(family):
            return ResolvedFont(family, None, 400, True)
    bold = 700 if role == "title" else 400
    for family in FREE[role]:
        if _installed(family):
            return ResolvedFont(family, None, bold, False)
    return None


def _coerce(value: Any) -> ResolvedFont | str | None:
    if isinstance(value, ResolvedFont):
        return value
    if isinstance(value, Mapping) and value.get("family"):
        return ResolvedFont.from_json(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def resolve_fonts(overrides: Mapping[str, Any] | None = None) -> dict[str, ResolvedFont]:
    """The font for every role: the user's choice, else an official face, else a free one.

    `overrides` maps a role to a family name or a font file path (params `fonts`); values that
    are already resolved (ResolvedFont or its to_json() dict, as the runner passes them to
    worker processes) are taken as they are. Raises ReportkitError (in Chinese) when a named
    font is missing or when no CJK font is installed at all.
    """
    overrides = overrides or {}
    unknown = sorted(set(overrides) - set(ROLES))
    if unknown:
        raise ReportkitError(f"未知的字体角色：{'、'.join(unknown)}（可选：{'、'.join(ROLES)}）")
    resolved: dict[str, ResolvedFont] = {}
    missing: list[str] = []
    for role in ROLES:
        value = _coerce(overrides.get(role))
        if isinstance(value, ResolvedFont):
            resolved[role] = value
        elif isinstance(value, str):
            resolved[role] = _from_override(role, value)
        else:
            found = _resolve_role(role)
            if found is None:
                missing.append(role)
            else:
                resolved[role] = found
    if missing:
        # A role with none of its own candidates borrows the closest role's font, then any
        # installed CJK family; never fontconfig's unnamed pick.
        spare = (
            resolved.get("fangsong")
            or resolved.get("songti")
            or next(iter(resolved.values()), None)
        )
        if spare is None:
            installed = sorted(discover_fonts().values())
            if not installed:
                raise ReportkitError(INSTALL_HINT)
            spare = ResolvedFont(installed[0].name, None, 400, False)
        for role in missing:
            weight = 700 if role == "title" and not spare.official else spare.weight
            resolved[role] = ResolvedFont(spare.family, spare.path, weight, False)
    return {role: resolved[role] for role in ROLES}


def _quote(family: str) -> str:
    return '"' + family.replace("\\", "\\\\").replace('"', '\\"') + '"'


def css_font_stack(role: str, fonts: Mapping[str, Any] | None = None) -> str:
    """A CSS font-family list: the user's font, the official faces, then free fonts by name.

    For pages read on other machines (HTML), so it names every candidate explicitly and ends
    with the generic family only as a last resort. Works on a machine without CJK fonts.
    """
    names: list[str] = []
    try:
        chosen: ResolvedFont | None = resolve_fonts(fonts)[role]
    except ReportkitError:
        chosen = None
    if chosen is not None and chosen.official:
        names.append(chosen.family)
    names.extend(OFFICIAL[role])
    if chosen is not None:
        names.append(chosen.family)
    names.extend(FREE[role])
    unique = list(dict.fromkeys(names))
    return ", ".join([*map(_quote, unique), GENERIC[role]])


def matplotlib_font(role: str = "heiti", fonts: Mapping[str, Any] | None = None) -> Any:
    """A matplotlib FontProperties for a role, registering the font with matplotlib first."""
    from matplotlib.font_manager import FontProperties

    return FontProperties(family=_matplotlib_family(role, fonts))


def _matplotlib_family(role: str, fonts: Mapping[str, Any] | None) -> str:
    from matplotlib import font_manager

    font = resolve_fonts(fonts)[role]
    manager = font_manager.fontManager
    known = {entry.name for entry in manager.ttflist}
    if font.path:
        files: tuple[str, ...] = (font.path,)
    elif font.family in known:
        return font.family
    else:
        files = font_files(font.family)
    for file in files:
        if file not in _registered:
            manager.addfont(file)
            _registered.add(file)
    known = {entry.name for entry in manager.ttflist}
    if font.family in known:
        return font.family
    # matplotlib reads the name itself (e.g. the first face of a collection): use that.
    for file in files:
        return font_manager.FontProperties(fname=file).get_name()
    return font.family


_registered: set[str] = set()


def configure_matplotlib(fonts: Mapping[str, Any] | None = None, role: str = "heiti") -> str:
    """Make matplotlib draw CJK with the role's font; returns the family name to use.

    Also turns off the Unicode minus (not in every CJK font) and writes SVG text as text that
    names the family: the PDF engine then draws it with the embedded font subset, twice as fast as
    glyph outlines and selectable in the PDF; a browser without the family uses its own CJK font.
    """
    import matplotlib

    family = _matplotlib_family(role, fonts)
    rc = matplotlib.rcParams
    rc["font.family"] = [family]
    rc["font.sans-serif"] = [family, *[f for f in rc["font.sans-serif"] if f != family]]
    rc["axes.unicode_minus"] = False
    rc["svg.fonttype"] = "none"
    rc["pdf.fonttype"] = 42
    return family
