"""Font roles: official faces first, named free stand-ins, user font files, a clear error."""

from __future__ import annotations

import pytest

from reportkit.errors import ReportkitError
from reportkit.render import fonts
from reportkit.render.fonts import (
    FREE,
    OFFICIAL,
    ROLES,
    ResolvedFont,
    css_font_stack,
    discover_fonts,
    family_of_file,
    resolve_fonts,
)

needs_cjk = pytest.mark.skipif(not discover_fonts(), reason="no CJK font installed")


@needs_cjk
def test_every_role_gets_a_named_font() -> None:
    resolved = resolve_fonts()
    assert list(resolved) == list(ROLES)
    for role, font in resolved.items():
        assert fonts.font_files(font.family), (role, font)  # installed, named explicitly
        assert font.path is None
        if font.family not in FREE[role]:
            assert font.family in OFFICIAL[role] or not font.official
    if not resolved["title"].official:
        assert resolved["title"].weight == 700  # a bold serif stands in for 小标宋


@needs_cjk
def test_override_with_a_font_file() -> None:
    path = next(files[0] for _, files in sorted(discover_fonts().values()) if files)
    resolved = resolve_fonts({"fangsong": path})
    font = resolved["fangsong"]
    assert font.path and font.path.endswith(path.rsplit("/", 1)[-1])
    assert font.family == family_of_file(path)
    assert font.official  # the user's choice is used as it is
    assert resolved["heiti"].path is None


@needs_cjk
def test_override_with_a_family_name_any_case() -> None:
    name = next(iter(discover_fonts().values())).name
    font = resolve_fonts({"heiti": name.lower()})["heiti"]
    assert font.family == name and font.path is None


@needs_cjk
def test_resolved_fonts_round_trip_through_json() -> None:
    resolved = resolve_fonts()
    as_json = {role: font.to_json() for role, font in resolved.items()}
    assert resolve_fonts(as_json) == resolved
    assert ResolvedFont.from_json(as_json["title"]) == resolved["title"]


def test_bad_overrides_are_explained(tmp_path) -> None:
    with pytest.raises(ReportkitError, match="字体文件不存在"):
        resolve_fonts({"fangsong": str(tmp_path / "missing.ttf")})
    with pytest.raises(ReportkitError, match="未安装"):
        resolve_fonts({"heiti": "没有这个字体 Nonexistent"})
    with pytest.raises(ReportkitError, match="未知的字体角色"):
        resolve_fonts({"bold": "x"})
    not_a_font = tmp_path / "fake.ttf"
    not_a_font.write_bytes(b"not a font")
    with pytest.raises(ReportkitError, match="无法读取字体文件"):
        resolve_fonts({"kaiti": str(not_a_font)})


def test_no_cjk_font_gives_the_chinese_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "discover_fonts", lambda: {})
    with pytest.raises(ReportkitError) as caught:
        resolve_fonts()
    message = str(caught.value)
    assert "未找到可用的中文字体" in message
    assert "apt-get install fonts-noto-cjk fonts-arphic-ukai" in message
    assert "fonts.fangsong" in message


def test_css_stacks_name_official_then_free_fonts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fonts, "discover_fonts", lambda: {})  # works on a font-less server
    stack = css_font_stack("fangsong")
    names = [part.strip() for part in stack.split(",")]
    assert names[0] == '"仿宋_GB2312"'
    assert '"FangSong"' in names and '"Noto Serif CJK SC"' in names
    assert names.index('"FangSong"') < names.index('"Noto Serif CJK SC"')
    assert names[-1] == "serif"
    assert '"AR PL UKai CN"' in css_font_stack("kaiti")
    assert css_font_stack("heiti").endswith("sans-serif")
    assert '"方正小标宋简体"' in css_font_stack("title")


@needs_cjk
def test_user_font_leads_the_stack() -> None:
    name = resolve_fonts()["fangsong"].family
    assert css_font_stack("fangsong", {"fangsong": name}).startswith(f'"{name}"')


def test_fc_list_family_field_is_split_with_escapes() -> None:
    assert fonts._split_families("仿宋_GB2312,FangSong_GB2312") == [
        "仿宋_GB2312",
        "FangSong_GB2312",
    ]
    assert fonts._split_families(r"A\,B,C") == ["A,B", "C"]


@needs_cjk
def test_matplotlib_gets_a_cjk_family() -> None:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager

    family = fonts.configure_matplotlib()
    assert family in {entry.name for entry in font_manager.fontManager.ttflist}
    assert matplotlib.rcParams["font.family"][0] == family
    assert matplotlib.rcParams["axes.unicode_minus"] is False
    path = font_manager.findfont(fonts.matplotlib_font("heiti"), fallback_to_default=False)
    assert path


@needs_cjk
def test_matplotlib_with_a_font_file() -> None:
    path = resolve_fonts()["kaiti"].family
    files = fonts.font_files(path)
    if not files:
        pytest.skip("no file for the 楷体 stand-in")
    family = fonts.configure_matplotlib({"kaiti": files[0]}, role="kaiti")
    from matplotlib import font_manager

    assert family in {entry.name for entry in font_manager.fontManager.ttflist}
