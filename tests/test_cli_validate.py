"""`reportkit validate` and `reportkit ingest`: exit codes, messages, JSON, and no tracebacks."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from reportkit.cli import main

BIN = Path(sys.executable).parent
HEADER = ["日期", "单位", "活动类型", "应到人数", "实到人数"]
JSON_KEYS = {"file", "sheet", "row", "column", "value", "message", "level"}
#: The one month the small test logs cover, so log coverage has nothing to warn about.
MARCH_2019 = ("-p", "period.start", "2019-03-01", "-p", "period.end", "2019-03-31")


@pytest.fixture
def clean(write_xlsx) -> Path:
    return write_xlsx(
        "clean.xlsx", {"活动台账": [HEADER, [dt.date(2019, 3, 5), "甲局", "党课", 10, 9]]}
    )


@pytest.fixture
def bad(write_xlsx) -> Path:
    return write_xlsx(
        "bad.xlsx",
        {
            "活动台账": [
                ["2019 年台账"],
                HEADER,
                [dt.date(2019, 3, 5), "甲局", "党课", 10, 9],
                ["2019-02-30", "甲局", "主题党曰", 10, 12],
            ]
        },
    )


@pytest.fixture
def broken(tmp_path) -> list[Path]:
    corrupt = tmp_path / "corrupt.xlsx"
    corrupt.write_bytes(b"PK\x03\x04" + os.urandom(200))
    encrypted = tmp_path / "encrypted.xlsx"
    encrypted.write_bytes(
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(504)
        + "EncryptionInfo".encode("utf-16-le")
        + bytes(1000)
    )
    return [corrupt, encrypted, tmp_path / "missing.xlsx"]


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def test_clean_workbook_exits_0_with_a_summary(clean):
    result = invoke("validate", str(clean), *MARCH_2019)
    assert result.exit_code == 0, result.output
    assert "活动台账 1 行" in result.stdout and "共 1 个单位" in result.stdout
    assert result.stderr == ""


def test_errors_exit_1_and_name_each_cell(bad):
    result = invoke("validate", str(bad))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert any(
        "第 4 行" in line and "「日期」列" in line and "日期不存在" in line for line in lines
    )
    assert any("第 4 行" in line and "是否应为「主题党日」" in line for line in lines)
    assert any("第 4 行" in line and "「实到人数」列" in line for line in lines)
    assert "3 处错误" in lines[-1]


def test_no_arguments_is_a_usage_error():
    assert invoke("validate").exit_code == 2


def test_json_lists_every_issue(bad, clean):
    result = invoke("validate", "--json", str(bad), str(clean))
    assert result.exit_code == 1
    issues = json.loads(result.stdout)
    assert all(set(i) == JSON_KEYS for i in issues)
    by_column = {i["column"]: i for i in issues}
    assert by_column["日期"] == {
        "file": str(bad),
        "sheet": "活动台账",
        "row": 4,
        "column": "日期",
        "value": "2019-02-30",
        "message": "日期不存在（请检查月份和日）",
        "level": "error",
    }
    assert by_column["活动类型"]["value"] == "主题党曰"
    clean_result = invoke("validate", "--json", str(clean), *MARCH_2019)
    assert clean_result.exit_code == 0 and json.loads(clean_result.stdout) == []


def test_json_levels_tell_errors_warnings_and_notes(bad, clean):
    """A one-row log over the default period starts late: a warning, not an error (exit 0)."""
    issues = json.loads(invoke("validate", "--json", str(bad)).stdout)
    assert {i["level"] for i in issues} == {"error"}
    result = invoke("validate", "--json", str(clean))
    assert result.exit_code == 0
    (warning,) = json.loads(result.stdout)
    assert warning["level"] == "warning" and "只覆盖报告期的一部分" in warning["message"]


def test_broken_files_give_messages_not_tracebacks(broken):
    result = invoke("validate", *map(str, broken))
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "已损坏" in result.stderr and "已加密" in result.stderr and "不存在" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_ingest_writes_a_dataset_and_nothing_on_errors(clean, bad, tmp_path):
    out = tmp_path / "ds"
    result = invoke("ingest", str(bad), "--out", str(out))
    assert result.exit_code == 1 and not out.exists()
    assert "第 4 行" in result.stderr and "Traceback" not in result.output
    result = invoke("ingest", str(clean), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert (out / "activities").is_dir() and (out / "meta.json").is_file()


# --------------------------------------------------------------------------------------------
# The real console script, as users run it


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    script = BIN / "reportkit"
    if not script.exists():
        pytest.skip("console script not installed (pip install -e .)")
    return subprocess.run(
        [str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_console_script_exit_codes(clean, bad, broken, tmp_path):
    assert run("validate", str(clean), cwd=tmp_path).returncode == 0
    failed = run("validate", str(bad), cwd=tmp_path)
    assert failed.returncode == 1 and "第 4 行" in failed.stderr
    assert run("validate", cwd=tmp_path).returncode == 2
    crashed = run("validate", *map(str, broken), cwd=tmp_path)
    assert crashed.returncode == 1
    assert "Traceback" not in crashed.stderr and "已加密" in crashed.stderr
    as_json = run("validate", "--json", str(bad), cwd=tmp_path)
    assert as_json.returncode == 1 and all(set(i) == JSON_KEYS for i in json.loads(as_json.stdout))


INTERNAL_ERROR = (
    "import sys, reportkit.data.ingest as ingest\n"
    "def boom(*a, **k):\n"
    "    raise RuntimeError('boom')\n"
    "ingest.read_workbooks = boom\n"
    "from reportkit.cli import main\n"
    "sys.argv = ['reportkit', *sys.argv[1:]]\n"
    "main()\n"
)


def test_internal_error_traceback_only_with_debug(clean, tmp_path):
    def call(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-c", INTERNAL_ERROR, *args],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )

    quiet = call("validate", str(clean))
    assert quiet.returncode == 1
    assert "内部错误" in quiet.stderr and "--debug" in quiet.stderr
    assert "Traceback" not in quiet.stderr
    loud = call("--debug", "validate", str(clean))
    assert loud.returncode != 0
    assert "Traceback" in loud.stderr and "RuntimeError: boom" in loud.stderr
