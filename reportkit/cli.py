"""The `reportkit` command line.

Every command turns a ReportkitError into a Chinese message on stderr and an exit code (1 for
bad data or a failed run, 2 for wrong usage). Tracebacks appear only with --debug.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from reportkit import __version__
from reportkit.errors import Issue, ReportkitError, UsageError, ValidationFailed
from reportkit.startup import skip_unused_imports

if TYPE_CHECKING:
    from reportkit.data.sources import Inputs

_PATHS = click.Path(path_type=Path)


def _friendly(command: Callable[..., Any]) -> Callable[..., Any]:
    """Run a command, reporting ReportkitError (and, without --debug, anything else) briefly."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = click.get_current_context().find_root().params.get("debug", False)
        try:
            return command(*args, **kwargs)
        except ReportkitError as exc:
            if debug:
                raise
            if isinstance(exc, ValidationFailed):
                _echo_issues(exc.issues)
            click.echo(f"reportkit：{exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("reportkit：已中断。", err=True)
            sys.exit(130)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for users
            if debug:
                raise
            click.echo(
                f"reportkit：内部错误：{type(exc).__name__}: {exc}（加 --debug 查看详细信息）",
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="reportkit")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def main(debug: bool) -> None:
    """Party-building (党建) work reports from Excel activity logs.

    \b
    Typical workflow:
      reportkit template 台账模板.xlsx      blank workbook to fill in
      reportkit validate data/*.xlsx        name every bad cell
      reportkit run --data data/*.xlsx      one report per unit, plus index and summary
    """


def _echo_issues(issues: Sequence[Issue]) -> None:
    """Issues on stderr, grouped over row ranges and capped (reportkit.data.messages)."""
    from reportkit.data.messages import terminal_lines

    for line in terminal_lines(issues):
        click.echo(line, err=True)


_RECURSIVE = click.option(
    "--recursive", "-r", is_flag=True, help="Read workbooks in subfolders of a folder too."
)


def _workbooks(paths: Sequence[Path], recursive: bool, echo_notes: bool = True) -> Inputs:
    """Folders expanded and lock files skipped; the notes on stderr unless the caller shows them."""
    from reportkit.data.sources import find_workbooks

    inputs = find_workbooks(paths, recursive)
    if paths and not inputs.files:
        _echo_issues(inputs.notes)
        raise UsageError("没有可读取的工作簿：给出的文件都已跳过（见上方提示）。")
    if echo_notes:
        _echo_issues(inputs.notes)
    return inputs


_PARAMS = click.option(
    "--params",
    "params_path",
    type=_PATHS,
    default=None,
    help="Params YAML merged over the defaults (reportkit/defaults/params.yaml).",
)
_OVERRIDES = click.option(
    "-p",
    "--param",
    "overrides",
    type=(str, str),
    multiple=True,
    metavar="KEY VALUE",
    help="Override a parameter; KEY may be dotted (norms.党课.min), VALUE is YAML.",
)


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@click.option("--json", "as_json", is_flag=True, help="Print problems as a JSON list.")
@_RECURSIVE
@click.option(
    "--annotate",
    "annotate_dir",
    type=_PATHS,
    default=None,
    metavar="OUT_FOLDER",
    help="Write <name>.校验.xlsx per workbook with problems: cells marked, a 校验结果 sheet.",
)
@_PARAMS
@_OVERRIDES
@_friendly
def validate(
    paths: tuple[Path, ...],
    as_json: bool,
    recursive: bool,
    annotate_dir: Path | None,
    params_path: Path | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Check workbooks (files or folders); exit 0 when clean, 1 on errors.

    Each problem names the file, sheet, Excel row, column and value; the same problem in many
    rows is one line. `--json` lists every cell, each with a level: error, warning or note.
    Params give extra activity types, file units and the period that log coverage is checked
    against.
    """
    from reportkit.analysis.coverage import coverage_issues
    from reportkit.data.dataset_meta import ingest_params
    from reportkit.data.ingest import read_workbooks
    from reportkit.params import load_params, period_of

    params = load_params(params_path, overrides)
    inputs = _workbooks(paths, recursive, echo_notes=False)
    result = read_workbooks(inputs.files, **ingest_params(params))
    if not result.errors:
        result.issues.extend(
            coverage_issues(result.tables["activities"], period_of(params), params)
        )
    issues = [*inputs.notes, *result.issues]
    if as_json:
        click.echo(ValidationFailed(issues).to_json())
    else:
        _echo_issues(issues)
    if annotate_dir is not None:
        from reportkit.data.annotate import annotate_workbooks

        for done in annotate_workbooks(inputs.files, result.issues, annotate_dir):
            click.echo(done.message, err=as_json)
    if result.errors:
        if not as_json:
            click.echo(f"reportkit：{ValidationFailed(result.issues)}", err=True)
        sys.exit(1)
    if not as_json:
        click.echo(result.summary())


@main.command()
@click.argument("paths", nargs=-1, required=True, type=_PATHS)
@click.option(
    "--out",
    "out_dir",
    type=_PATHS,
    default=Path("build/dataset"),
    show_default=True,
    help="Dataset folder to write (per-unit Arrow parts).",
)
@_RECURSIVE
@_PARAMS
@_OVERRIDES
@_friendly
def ingest(
    paths: tuple[Path, ...],
    out_dir: Path,
    recursive: bool,
    params_path: Path | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Validate workbooks (files or folders) and write the dataset (per-unit Arrow parts)."""
    from reportkit.data.dataset import ingest_to_dataset
    from reportkit.data.dataset_meta import ingest_params
    from reportkit.params import load_params

    params = load_params(params_path, overrides)
    result = ingest_to_dataset(_workbooks(paths, recursive).files, out_dir, **ingest_params(params))
    _echo_issues(result.issues)
    click.echo(f"已写入数据集：{out_dir}（{result.summary()}）")


_FORCE = click.option("--force", is_flag=True, help="Overwrite existing files.")


@main.command()
@click.argument("path", type=_PATHS)
@_FORCE
@_friendly
def template(path: Path, force: bool) -> None:
    """Write a blank workbook with every sheet, headers, dropdowns and a 说明 sheet."""
    from reportkit.data.workbook_template import write_template

    write_template(path, force=force)
    click.echo(f"已生成台账模板：{path}")


@main.command()
@click.option(
    "--out", "out_dir", type=_PATHS, required=True, help="Folder for the workbook and params."
)
@click.option("--units", type=click.IntRange(1, 1000), default=6, show_default=True)
@click.option(
    "--rows",
    type=click.IntRange(1, 5_000_000),
    default=10_000,
    show_default=True,
    help="Activity rows in total.",
)
@click.option("--seed", type=int, default=20171018, show_default=True)
@_FORCE
@_friendly
def demo(out_dir: Path, units: int, rows: int, seed: int, force: bool) -> None:
    """Write a realistic, deterministic synthetic workbook plus matching params.

    It has varied unit and branch names, every activity type, seasonal dips, a few branches
    short of the norms and staffing around 1%–2%. Same options, same file.
    """
    from reportkit.data.demo import write_demo

    written = write_demo(out_dir, units=units, rows=rows, seed=seed, force=force)
    for path in written:
        click.echo(str(path))


def _split_csv(_ctx: click.Context, _param: click.Parameter, value: str | None) -> list[str] | None:
    if value is None:
        return None
    return [item.strip() for item in value.replace("，", ",").split(",") if item.strip()]


_PERIOD_START = click.option(
    "--period-start", default=None, help="Report period start, YYYY-MM-DD."
)
_PERIOD_END = click.option(
    "--period-end", default=None, help="Report period end, YYYY-MM-DD (inclusive)."
)
_PERIOD_LABEL = click.option("--period-label", default=None, help="Period label used in the title.")


def _seconds(flag: str, minimum: float, default: float, help: str) -> Callable[..., Any]:
    """An option for a number of seconds, at least `minimum`, its default shown in --help."""
    return click.option(
        flag, type=click.FloatRange(minimum), default=default, show_default=True, help=help
    )


def _all_overrides(
    overrides: tuple[tuple[str, str], ...],
    period_start: str | None,
    period_end: str | None,
    period_label: str | None,
) -> list[tuple[str, str]]:
    """`-p` overrides, then the --period-* options as the period.* keys they stand for."""
    period = [
        ("period.start", period_start),
        ("period.end", period_end),
        ("period.label", period_label),
    ]
    return [*overrides, *((k, v) for k, v in period if v is not None)]


@main.command()
@_PARAMS
@_PERIOD_START
@_PERIOD_END
@_PERIOD_LABEL
@_OVERRIDES
@_friendly
def params(
    params_path: Path | None,
    period_start: str | None,
    period_end: str | None,
    period_label: str | None,
    overrides: tuple[tuple[str, str], ...],
) -> None:
    """Print the merged, checked parameters a run with the same options would use (YAML)."""
    import yaml

    from reportkit.params import load_params

    merged = load_params(
        params_path, _all_overrides(overrides, period_start, period_end, period_label)
    )
    click.echo(yaml.safe_dump(dict(merged), allow_unicode=True, sort_keys=False), nl=False)


@main.command()
@click.argument("paths", nargs=-1, type=_PATHS)
@click.option(
    "--data",
    "data",
    multiple=True,
    type=_PATHS,
    help="Workbook to read; repeatable, or list workbooks as arguments. "
    "Default: the bundled demo workbook.",
)
@_PARAMS
@click.option(
    "--out",
    "out_dir",
    type=_PATHS,
    default=Path("reports"),
    show_default=True,
    help="Output folder: index.html, summary.*, manifest.json, one folder per unit.",
)
@click.option(
    "--units",
    callback=_split_csv,
    default=None,
    help="Only these units, comma-separated (default: all).",
)
@click.option(
    "--formats",
    callback=_split_csv,
    default="html",
    show_default=True,
    help="Comma-separated: html, pdf, docx. The notebook (.ipynb) is always kept.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(0, 256),
    default=0,
    help="Units run at once, one worker process each (default: the CPU count).",
)
@_PERIOD_START
@_PERIOD_END
@_PERIOD_LABEL
@_OVERRIDES
@click.option("--force", is_flag=True, help="Rebuild every unit, even unchanged ones.")
@_RECURSIVE
@click.option(
    "--cache-dir",
    type=_PATHS,
    default=None,
    help="Where validated datasets are kept between runs "
    "(default: $XDG_CACHE_HOME/reportkit, i.e. ~/.cache/reportkit).",
)
@_seconds("--timeout", 1, 600, "Seconds a single notebook cell may run before the unit fails.")
@click.option(
    "--notebook",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Unit report notebook to run (default: reportkit/notebooks/unit_report.ipynb).",
)
@click.option(
    "--executor",
    default="local",
    show_default=True,
    help="Where units run: an executor registered as a reportkit.executors entry point (local: "
    "worker processes on this machine; dask: a dask.distributed cluster, needs reportkit[dask]).",
)
@click.option(
    "--scheduler",
    default=None,
    metavar="tcp://HOST:PORT",
    help="The dask scheduler to run on (--executor dask); default: a local cluster of --jobs "
    "worker processes.",
)
@_seconds(
    "--scheduler-timeout", 0.1, 10, "Seconds to wait for the dask scheduler before giving up."
)
@click.option(
    "--prune",
    is_flag=True,
    help="Delete the folders of units that are no longer in the data (default: keep them, "
    "listed as removed).",
)
@_friendly
def run(
    paths: tuple[Path, ...],
    data: tuple[Path, ...],
    params_path: Path | None,
    out_dir: Path,
    units: list[str] | None,
    formats: list[str],
    jobs: int,
    period_start: str | None,
    period_end: str | None,
    period_label: str | None,
    overrides: tuple[tuple[str, str], ...],
    force: bool,
    recursive: bool,
    cache_dir: Path | None,
    timeout: float,
    notebook: Path | None,
    executor: str,
    scheduler: str | None,
    scheduler_timeout: float,
    prune: bool,
) -> None:
    """Validate the logs in PATHS (files or folders), then render one report per unit, an
    index and a summary.

    Units whose notebook, parameters, rows and formats are unchanged since the last run are
    reused ("cached"). A unit that fails does not stop the others; the exit code is then 1.
    """
    from reportkit.run.runner import RunOptions
    from reportkit.run.runner import run as run_reports

    options = RunOptions(
        data=_workbooks([*paths, *data], recursive).files,
        params_path=params_path,
        out=out_dir,
        units=units,
        formats=formats or ["html"],
        jobs=jobs,
        force=force,
        timeout=timeout,
        progress=sys.stderr.isatty(),
        executor=executor,
        scheduler=scheduler,
        scheduler_timeout=scheduler_timeout,
        prune=prune,
        overrides=_all_overrides(overrides, period_start, period_end, period_label),
    )
    if notebook is not None:
        options.notebook = notebook
    if cache_dir is not None:
        options.cache_dir = cache_dir
    result = run_reports(options)
    counts = {s: sum(1 for u in result.units if u.status == s) for s in ("ok", "cached", "failed")}
    click.echo(
        f"完成：生成 {counts['ok']} 个，未变化 {counts['cached']} 个，失败 {counts['failed']} 个。"
        f"打开 {result.out / 'index.html'} 查看。"
    )
    for unit in result.failed:
        click.echo(f"失败：{unit.unit}：{unit.error}", err=True)
    for entry in result.removed:
        click.echo(f"已不在数据中：{entry['unit']}（保留文件夹 {entry['dir']}，加 --prune 删除）")
    if result.failed or (result.summary and result.summary.status == "failed"):
        sys.exit(1)


def entry() -> None:
    """The console script: click's own usage errors get a Chinese lead line and exit code 2."""
    skip_unused_imports()
    try:
        main.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("reportkit：已中断。", err=True)
        sys.exit(130)
    except click.UsageError as exc:
        hint = f"（运行 {exc.ctx.command_path} --help 查看用法）" if exc.ctx else ""
        click.echo(f"reportkit：用法错误：{exc.format_message()}{hint}", err=True)
        sys.exit(2)
    except click.ClickException as exc:
        click.echo(f"reportkit：{exc.format_message()}", err=True)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    entry()
