"""Isolation and injection, end to end: one hostile workbook, one real `reportkit run`.

The workbook has three canary units, each with its own strings in every text column (topics,
notes, branches, presenters, organisation name, a per-unit narrative), markup in cells, hostile
unit names (../evil, a/b, a\\b, c:d, an escaped NUL, markup, 300 characters) and a roster whose
names must never be shown. It is run once, with every format and with parameters that carry
quotes, backslashes, newlines, Chinese and code-looking text. Every test below reads that run.
"""

from __future__ import annotations

import ast
import functools
import html as htmllib
import json
import re
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from openpyxl import Workbook

from reportkit.data.dataset import PART_SUFFIX, read_part
from reportkit.data.schema import ACTIVITIES
from reportkit.layout import MAX_DIR_BYTES, assign_dirs, safe_dirname
from tests.e2e.conftest import REPO, reportkit, run_dataset

HEADER = [column.header for column in ACTIVITIES.columns]
UNIT_HEADER = ["单位", "党组织名称", "机关工作人员总数", "专职党务工作人员数"]
MEMBER_HEADER = ["姓名", "单位", "党支部", "党员类别", "党内职务", "是否专职党务"]
DISCIPLINE_HEADER = ["日期", "单位", "党支部", "类别", "对象", "事由"]

#: Canary units: every string of unit L carries the token KNR<L>, which no other unit has.
CANARY = {"A": "青鸾局", "B": "白鹭局", "C": "丹鹤局"}
SCRIPT = "<script>window.__x=1</script>"
IMG = '<img src=x onerror="window.__y=1">'
HOVER = '<i onmouseover="window.__z=1">KNRAP9</i>'
JINJA = "{{ 7*7 }}{% raw %}"
#: Hostile unit names, as typed. The NUL is stored the way Excel stores one (_x0000_).
NUL_PLACEHOLDER = "NULUNITPLACEHOLDER"
LONG_NAME = "超长单位" + "长" * 296
HOSTILE = ["../evil", "a/b", "a\\b", "c:d", NUL_PLACEHOLDER, "<img src=x onerror=window.__u=1>局"]
HOSTILE += ["index.html", LONG_NAME]  # index.html: the name of OUT's own index page
NUL_READ_AS = "空字符单位"  # 空字符_x0000_单位 with the control character removed

#: Names from 党员名册 and 奖惩记录.对象: they must appear in no output at all.
ROSTER = ("甄士隐", "贾雨村", "林如海", "薛宝钗", "王熙凤")

LEADERSHIP = "市委\"机关\"工委\n'测试'\\\\ 党组"
CODE_NEXT = "__import__('os').system('touch PWNED')"
CODE_CAUSE = '"); import os; os.system("touch PWNED2"); ("'
LABEL = "2019年度'); open('PWNED3', 'w'); ('"


def _rows_for(letter: str, unit: str) -> list[list[Any]]:
    """About forty rows of a canary unit in 2019, every text column carrying its token."""
    t = f"KNR{letter}"
    b1, b2 = f"第一支部{t}B1", f"第二支部{t}B2"
    rows: list[list[Any]] = []
    for month in range(1, 13):
        for branch in (b1, b2):
            rows.append(
                [f"2019-{month:02d}-10", unit, branch, "主题党日", f"党日{t}T4", 20, 18, 2,
                 None, f"备注{t}N1"]
            )  # fmt: skip
    for quarter in range(4):
        day = f"2019-{3 * quarter + 2:02d}-15"
        rows.append([day, unit, None, "中心组学习", f"中心组专题{t}T1", 12, 12, 3,
                     f"主讲{t}P1", f"备注{t}N2"])  # fmt: skip
        rows.append([day, unit, b1, "党课", f"党课{t}T3", 20, 19, 2, f"主讲{t}P3", None])
    rows.append(["2019-06-20", unit, None, "专题研讨", f"研讨{t}T2", 12, 11, 2, None, None])
    presenter = {"A": "甄士隐", "B": "贾雨村", "C": "书记林如海"}[letter]
    rows.append(["2019-07-01", unit, b2, "党课", f"名册主讲{t}T5", 20, 20, 2, presenter, None])
    if letter == "A":
        rows += [
            ["2019-08-01", unit, b1, "党课", SCRIPT, 20, 20, 2, HOVER, None],
            ["2019-08-02", unit, None, "中心组学习", IMG, 12, 12, 2, None, None],
            ["2019-08-03", unit, None, "专题研讨", JINJA, 12, 12, 2, None, None],
        ]
    return rows


def _expected_rows() -> dict[str, int]:
    counts = {unit: len(_rows_for(letter, unit)) for letter, unit in CANARY.items()}
    counts.update({_read_name(name): 3 for name in HOSTILE})
    return counts


def _read_name(name: str) -> str:
    return NUL_READ_AS if name == NUL_PLACEHOLDER else name


def write_hostile_workbook(path: Path) -> None:
    book = Workbook()
    log = book.active
    log.title = "活动台账"
    log.append(HEADER)
    for letter, unit in CANARY.items():
        for row in _rows_for(letter, unit):
            log.append(row)
    for name in HOSTILE:
        log.append(["2019-05-05", name, "一支部", "主题党日", "学习", 10, 9, 1, None, None])
        log.append(["2019-05-06", name, "一支部", "党课", "党课", 10, 9, 1, None, None])
        log.append(["2019-05-07", name, None, "中心组学习", "中心组", 8, 8, 1, None, None])
    units = book.create_sheet("单位信息")
    units.append(UNIT_HEADER)
    for letter, unit in CANARY.items():
        units.append([unit, f"中共{unit}KNR{letter}O委员会", 150, 2])
    for name in HOSTILE:
        units.append([name, None, 100, 1])
    members = book.create_sheet("党员名册")
    members.append(MEMBER_HEADER)
    members.append(["甄士隐", CANARY["A"], "第一支部KNRAB1", "正式党员", "党委书记", "否"])
    members.append(["贾雨村", CANARY["A"], "第一支部KNRAB1", "正式党员", "支部书记", "是"])
    members.append(["林如海", CANARY["B"], "第一支部KNRBB1", "正式党员", None, "否"])
    discipline = book.create_sheet("奖惩记录")
    discipline.append(DISCIPLINE_HEADER)
    discipline.append(["2019-09-01", CANARY["A"], None, "表彰", "薛宝钗", "优秀共产党员"])
    discipline.append(["2019-09-02", CANARY["B"], None, "第一种形态", "王熙凤", "谈话提醒"])
    book.save(path)
    # Excel writes a NUL in a cell as _x0000_, and calamine decodes it: put one in a unit name.
    with zipfile.ZipFile(path) as archive:
        parts = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    nul = "空字符_x0000_单位".encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in parts.items():
            archive.writestr(name, data.replace(NUL_PLACEHOLDER.encode(), nul))


# --------------------------------------------------------------------------------------------
# The run


@dataclass
class HostileRun:
    work: Path
    out: Path
    proc: subprocess.CompletedProcess
    manifest: dict[str, Any]

    def unit_dir(self, unit: str) -> Path:
        entry = next(u for u in self.manifest["units"] if u["unit"] == unit)
        return self.out / entry["dir"]

    def rendered(self) -> list[str]:
        """Units whose reports were written."""
        return [u["unit"] for u in self.manifest["units"] if u["status"] == "ok"]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    work = tmp_path_factory.mktemp("hostile")
    write_hostile_workbook(work / "book.xlsx")
    per_unit = {
        unit: {"narrative": {"cause_mindset": f"批评与自我批评KNR{letter}R1"}}
        for letter, unit in CANARY.items()
    }
    (work / "params.yaml").write_text(
        yaml.safe_dump({"units": per_unit}, allow_unicode=True), encoding="utf-8"
    )
    proc = reportkit(
        "run", "book.xlsx", "--out", "out", "--formats", "html,pdf,docx", "--jobs", "2",
        "--params", "params.yaml",
        "-p", "leadership", yaml.safe_dump(LEADERSHIP, allow_unicode=True),  # VALUE is YAML
        "-p", "narrative.next_steps", CODE_NEXT,
        "-p", "narrative.cause_planning", CODE_CAUSE,
        "--period-label", LABEL,
        cwd=work, check=False, timeout=900,
    )  # fmt: skip
    out = work / "out"
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    return HostileRun(work, out, proc, manifest)


@functools.cache
def pdf_text(path: Path) -> str:
    """pdftotext's text, then every table cell's text from pdfplumber: pdftotext reads a table
    row by row, so a cell that wraps is interleaved with its neighbours' lines."""
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    done = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, check=True)
    texts = [done.stdout.decode("utf-8")]
    import pdfplumber

    with pdfplumber.open(path) as pdf:
        for page in pdf.pages:
            for table in page.extract_tables():
                texts.extend(cell or "" for row in table for cell in row)
    return "\n".join(texts)


def docx_text(path: Path) -> str:
    """Paragraph and table text (python-docx) plus the text of every XML part (headers too)."""
    import docx

    document = docx.Document(str(path))
    texts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            texts.extend(cell.text for cell in row.cells)
    with zipfile.ZipFile(path) as archive:
        for name in archive.namelist():
            if name.endswith(".xml"):
                xml = archive.read(name).decode("utf-8")
                texts.append(htmllib.unescape(re.sub(r"<[^>]+>", "", xml)))
    return "\n".join(texts)


def visible_text(page: str) -> str:
    page = re.sub(r"<style.*?</style>", "", page, flags=re.S)
    return htmllib.unescape(re.sub(r"<[^>]+>", "\n", page))


def squeeze(text: str) -> str:
    """Whitespace removed: PDF text breaks lines inside table cells and long words."""
    return re.sub(r"\s+", "", text)


def output_texts(path: Path) -> Iterator[tuple[str, str]]:
    """(label, text) for one output file, as a reader or a tool would see its content."""
    if path.suffix == ".pdf":
        yield "pdf", pdf_text(path)
    elif path.suffix == ".docx":
        yield "docx", docx_text(path)
    elif path.suffix == ".ipynb":
        raw = path.read_text(encoding="utf-8")
        yield "ipynb raw", raw
        yield "ipynb", json.dumps(json.loads(raw), ensure_ascii=False)
    elif path.suffix in (".html", ".json", ".log"):
        raw = path.read_text(encoding="utf-8")
        yield path.suffix, raw
        if path.suffix == ".html":
            yield "html text", visible_text(raw)
    else:
        yield path.suffix or path.name, path.read_bytes().decode("utf-8", "replace")


def unit_outputs(run: HostileRun, unit: str) -> dict[str, str]:
    """Every output of one unit: report.ipynb, .html, .pdf, .docx and stats.json."""
    folder = run.unit_dir(unit)
    names = ["report.ipynb", "report.html", "report.pdf", "report.docx", "stats.json"]
    found: dict[str, str] = {}
    for name in names:
        assert (folder / name).is_file(), f"{unit}: {name} missing"
        for label, text in output_texts(folder / name):
            found[f"{name} ({label})"] = text
    return found


# --------------------------------------------------------------------------------------------
# The run itself


def test_run_succeeds_for_every_other_unit(hostile: HostileRun) -> None:
    assert "Traceback" not in hostile.proc.stderr
    units = {u["unit"]: u for u in hostile.manifest["units"]}
    assert set(units) == set(_expected_rows())
    for entry in units.values():
        assert entry["status"] == "ok", entry
        assert set(entry["outputs"]) == {"ipynb", "html", "pdf", "docx"}


def test_a_300_character_unit_name_renders_every_format(hostile: HostileRun) -> None:
    entry = next(u for u in hostile.manifest["units"] if u["unit"] == LONG_NAME)
    assert entry["status"] == "ok", entry["error"]
    assert hostile.proc.returncode == 0, hostile.proc.stderr
    text = visible_text((hostile.unit_dir(LONG_NAME) / "report.html").read_text("utf-8"))
    assert LONG_NAME in squeeze(text)


def test_each_kernel_counted_only_its_own_rows(hostile: HostileRun) -> None:
    for unit, rows in _expected_rows().items():
        if unit not in hostile.rendered():
            continue
        stats = json.loads((hostile.unit_dir(unit) / "stats.json").read_text(encoding="utf-8"))
        assert stats["unit"] == unit
        assert sum(stats["counts"].values()) == rows, unit


# --------------------------------------------------------------------------------------------
# Canaries


def test_no_unit_output_holds_another_units_strings(hostile: HostileRun) -> None:
    assert len(hostile.rendered()) == len(_expected_rows())
    for unit in hostile.rendered():
        mine = next((k for k, v in CANARY.items() if v == unit), None)
        foreign_tokens = [f"KNR{k}" for k in CANARY if k != mine]
        foreign_names = [v for v in CANARY.values() if v != unit]
        if unit != LONG_NAME:
            foreign_names.append(LONG_NAME)
        for label, text in unit_outputs(hostile, unit).items():
            flat = squeeze(text)
            for needle in foreign_tokens + foreign_names:
                assert needle not in text and needle not in flat, (unit, label, needle)


def test_own_canaries_do_appear_so_the_check_can_fail(hostile: HostileRun) -> None:
    """The appendix lists 中心组学习/专题研讨/党课 topics and presenters, the compliance table
    the branches, the title the organisation, and the per-unit narrative its own text."""
    for letter, unit in CANARY.items():
        t = f"KNR{letter}"
        shown = [f"中心组专题{t}T1", f"研讨{t}T2", f"党课{t}T3", f"主讲{t}P1", f"主讲{t}P3",
                 f"第一支部{t}B1", f"第二支部{t}B2", f"中共{unit}{t}O委员会",
                 f"批评与自我批评{t}R1"]  # fmt: skip
        outputs = unit_outputs(hostile, unit)
        for kind in ("report.html (html text)", "report.pdf (pdf)", "report.docx (docx)"):
            flat = squeeze(outputs[kind])
            missing = [s for s in shown if s not in flat]
            assert not missing, (unit, kind, missing)
        assert unit in outputs["report.ipynb (ipynb)"] and unit in outputs["stats.json (.json)"]


def test_injected_parameters_name_only_the_unit_itself(hostile: HostileRun) -> None:
    for letter, unit in CANARY.items():
        cell = injected_parameters(hostile.unit_dir(unit) / "report.ipynb")
        assert cell["unit"] == unit
        narrative = cell["params"]["narrative"]
        assert narrative["cause_mindset"] == f"批评与自我批评KNR{letter}R1"
        assert "units" not in cell["params"]  # other units' overrides are not passed on
        text = json.dumps(cell, ensure_ascii=False)
        assert not [v for v in CANARY.values() if v != unit and v in text]


def injected_parameters(notebook: Path) -> dict[str, Any]:
    """The values papermill injected, read as Python literals: ast.literal_eval accepts no
    call, name or operator, so a value that turned into code would fail here."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    (cell,) = [c for c in nb["cells"] if "injected-parameters" in c["metadata"].get("tags", [])]
    tree = ast.parse("".join(cell["source"]))
    values: dict[str, Any] = {}
    for node in tree.body:
        assert isinstance(node, ast.Assign), ast.dump(node)
        (target,) = node.targets
        assert isinstance(target, ast.Name)
        values[target.id] = ast.literal_eval(node.value)
    return values


# --------------------------------------------------------------------------------------------
# Markup in cells


def test_markup_is_escaped_in_html(hostile: HostileRun) -> None:
    page = (hostile.unit_dir(CANARY["A"]) / "report.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;window.__x=1&lt;/script&gt;" in page
    assert "<script" not in page.lower()
    assert "&lt;img src=x onerror=" in page and "<img src=x" not in page
    assert "&lt;i onmouseover=" in page and "<i onmouseover" not in page
    assert "onerror=" not in re.sub(r"&lt;.*?&gt;", "", page)  # only inside escaped text
    text = visible_text(page)
    for literal in (SCRIPT, IMG, HOVER, JINJA):
        assert literal in text, literal
    assert "49" + "{% raw %}" not in text  # cell text is never rendered as a template


def test_markup_is_literal_text_in_pdf_and_docx(hostile: HostileRun) -> None:
    folder = hostile.unit_dir(CANARY["A"])
    for text in (pdf_text(folder / "report.pdf"), docx_text(folder / "report.docx")):
        flat = squeeze(text)
        for literal in (SCRIPT, IMG, HOVER, JINJA):
            assert squeeze(literal) in flat, literal


def test_no_script_runs_in_chromium(hostile: HostileRun) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from reportkit.render.index import index_script
    from tests.e2e.test_browser import CHROMIUM, FLAGS

    pages = [hostile.unit_dir(CANARY["A"]) / "report.html", hostile.out / "index.html",
             hostile.out / "summary.html",
             hostile.unit_dir("<img src=x onerror=window.__u=1>局") / "report.html"]  # fmt: skip
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            for path in pages:
                context = browser.new_context(offline=True)
                page = context.new_page()
                problems: list[str] = []
                page.on("console", lambda m, bad=problems: bad.append(m.text)
                        if m.type in ("error", "warning") else None)  # fmt: skip
                page.on("pageerror", lambda e, bad=problems: bad.append(str(e)))
                page.on("dialog", lambda d, bad=problems: bad.append(f"dialog {d.message}"))
                page.goto(path.as_uri(), wait_until="load")
                for cell in page.query_selector_all("td")[:200]:  # where an onmouseover would be
                    cell.dispatch_event("mouseover")
                flags = page.evaluate(
                    "() => [window.__x, window.__y, window.__z, window.__u].map(v => typeof v)"
                )
                # Reports and the summary have no script; the index has its one sorting script,
                # the only one its Content-Security-Policy allows.
                scripts = page.evaluate("() => [...document.scripts].map(s => s.textContent)")
                csp = page.evaluate(
                    "() => document.querySelector('meta[http-equiv=Content-Security-Policy]')"
                    "?.content || ''"
                )
                images = page.evaluate(
                    "() => [...document.images].filter(i => i.getAttribute('src') === 'x').length"
                )
                context.close()
                assert flags == ["undefined"] * 4, (path, flags)
                assert images == 0, path
                if path.name == "index.html":
                    assert scripts == [index_script()[0]] and index_script()[1] in csp, path
                else:
                    assert scripts == [], path
                assert problems == [], (path, problems)
        finally:
            browser.close()


# --------------------------------------------------------------------------------------------
# Hostile unit names


def test_hostile_unit_names_get_safe_folders_inside_out(hostile: HostileRun) -> None:
    out = hostile.out.resolve()
    dirs = {u["unit"]: u["dir"] for u in hostile.manifest["units"]}
    assert NUL_READ_AS in dirs and all("\x00" not in u for u in dirs)
    assert len(set(dirs.values())) == len(dirs)  # a/b and a\b do not collide
    for unit, folder in dirs.items():
        assert folder and not folder.startswith(".")
        assert not set(folder) & set('/\\:*?"<>|\x00'), folder
        assert len(folder.encode("utf-8")) <= MAX_DIR_BYTES
        assert (out / folder).resolve().parent == out, (unit, folder)
        if unit in hostile.rendered():
            assert (out / folder / "report.html").is_file()
            stats = json.loads((out / folder / "stats.json").read_text(encoding="utf-8"))
            assert stats["unit"] == unit  # the name itself is kept intact in the data
    assert dirs == assign_dirs(dirs)  # the manifest's folders are the layout's folders
    assert dirs["index.html"] != "index.html" and (out / "index.html").is_file()
    assert "<a" in (out / "index.html").read_text(encoding="utf-8")  # still the index page
    for path in hostile.out.rglob("*"):
        assert path.resolve().is_relative_to(out), path
    # Nothing was written beside OUT: "../evil" stayed inside it.
    assert {p.name for p in hostile.work.iterdir()} == {"book.xlsx", "params.yaml", "out"}
    assert not (hostile.work.parent / "evil").exists()


@pytest.mark.parametrize(
    "name",
    ["../evil", "..", ".", "a/b", "a\\b", "c:d", "nul\x00name", "\x00", "bell\x07", " ",
     "/etc/passwd", "..\\..\\windows", "长" * 300, "x" * 300, "CON", "-rf", "~user"],
)  # fmt: skip
def test_safe_dirname_never_leaves_the_folder(name: str, tmp_path: Path) -> None:
    """A NUL cannot come from openpyxl, and ingest strips control characters, so safe_dirname
    is also tested directly for the names reading could never produce."""
    folder = safe_dirname(name, set())
    assert folder and folder not in (".", "..") and not folder.startswith(".")
    assert not set(folder) & set('/\\:*?"<>|') and not re.search(r"[\x00-\x1f\x7f]", folder)
    assert len(folder.encode("utf-8")) <= MAX_DIR_BYTES
    target = tmp_path / folder
    target.mkdir()
    assert target.resolve().parent == tmp_path.resolve()


@pytest.mark.parametrize(
    ("name", "folder"),
    [("index.html", "index.html-2"), ("Manifest.JSON", "Manifest.JSON-2"), ("run.log", "run.log-2"),
     ("summary.pdf", "summary.pdf-2"), (".reportkit.lock", "reportkit.lock-2"), ("CON", "CON_"),
     ("nul.txt", "nul_.txt"), ("com1", "com1_"), ("单位. ", "单位"), ("...", "unit")],
)  # fmt: skip
def test_folder_names_avoid_outs_own_files_and_windows_devices(name: str, folder: str) -> None:
    assert safe_dirname(name, set()) == folder


def test_folder_names_stay_unique_after_cleaning() -> None:
    names = ["a/b", "a\\b", "a:b", "a*b", "A_B", "a_b", "长" * 300, "长" * 301]
    dirs = assign_dirs(names)
    assert len({d.casefold() for d in dirs.values()}) == len(names)


# --------------------------------------------------------------------------------------------
# Parameters


def test_parameters_reach_the_notebook_intact_and_run_no_code(hostile: HostileRun) -> None:
    unit = CANARY["B"]
    values = injected_parameters(hostile.unit_dir(unit) / "report.ipynb")
    assert values["params"]["leadership"] == LEADERSHIP
    assert values["params"]["narrative"]["next_steps"] == CODE_NEXT
    assert values["params"]["narrative"]["cause_planning"] == CODE_CAUSE
    assert values["period_label"] == LABEL
    text = squeeze(visible_text((hostile.unit_dir(unit) / "report.html").read_text("utf-8")))
    for value in (LEADERSHIP, CODE_NEXT, CODE_CAUSE, LABEL):
        assert squeeze(value) in text, value
    stats = json.loads((hostile.unit_dir(unit) / "stats.json").read_text(encoding="utf-8"))
    assert stats["period"]["label"] == LABEL
    for root in (hostile.work, REPO):
        assert not list(root.rglob("PWNED*")), root


# --------------------------------------------------------------------------------------------
# Roster names


def test_roster_names_appear_in_no_output(hostile: HostileRun) -> None:
    checked = 0
    for path in sorted(hostile.out.rglob("*")):
        if not path.is_file() or path.name == ".reportkit.lock":
            continue
        for label, text in output_texts(path):
            flat = squeeze(text)
            for name in ROSTER:
                assert name not in text and name not in flat, (path, label, name)
            checked += 1
    assert checked > 40
    # The presenters who are members show as their post (A) or as 党员 (B, C: another unit's).
    page = squeeze(visible_text((hostile.unit_dir(CANARY["A"]) / "report.html").read_text("utf-8")))
    assert "名册主讲KNRAT5" in page and "党委书记" in page


def test_roster_names_are_not_in_the_dataset(hostile: HostileRun) -> None:
    dataset = run_dataset(hostile.out)
    files = sorted(p for p in dataset.rglob("*") if p.is_file())
    assert {p.parent.name for p in files} >= {"activities", "members"}
    assert (dataset / "meta.json").is_file()
    blob = b"".join(p.read_bytes() for p in files)
    decoded = [p.read_text(encoding="utf-8") for p in files if p.suffix == ".json"]
    for path in files:
        if path.suffix == PART_SUFFIX:
            table = read_part(path)
            decoded.append(table.to_pandas().astype(str).to_csv())
            decoded.append(str(table.schema.metadata))
    text = "\n".join(decoded)
    for name in ROSTER:
        assert name.encode() not in blob and name not in text, name
    assert "党委书记" in text and CANARY["A"] in text  # the check reads the values
