"""The `kaohe` command. Each command: check options, call the core, map the outcome to an
exit code (0 clean, 1 data errors, 2 cannot run). Only this module imports typer.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

import typer

from . import __version__, console
from .errors import DataErrorsPresent, KaoheError

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    help="考核表格批处理：生成填报模板，汇总校验各单位报送的表格，计分、排名、评定等次，生成汇总表、通报和反馈表。",
)

EXIT_OK, EXIT_DATA_ERRORS, EXIT_CANNOT_RUN = 0, 1, 2

SchemeOption = typer.Option(None, "--scheme", "-s", help="考核方案工作簿（默认：当前目录的 考核方案.xlsx，没有则用 templates/scheme.xlsx）")
OutOption = typer.Option(Path("outputs"), "--out", "-o", help="输出根目录（默认 outputs/）")
VerboseOption = typer.Option(False, "--verbose", "-v", help="出错时显示详细的技术信息（traceback）")


class _State:
    verbose = False


def _scheme_path(scheme: Optional[Path]) -> Path:
    from .pipeline import default_scheme_path

    return scheme if scheme is not None else default_scheme_path()


def _fail(exc: BaseException, message: str | None = None) -> None:
    """One Chinese line for the user; the traceback only with --verbose."""
    console.print_error(message or str(exc))
    if _State.verbose:
        console.print_traceback(exc)


def _guard(fn):
    """Run a command body, turning fatal conditions into exit status 2."""
    try:
        return fn()
    except DataErrorsPresent as exc:
        validated = getattr(exc, "validated", None)
        if validated is not None:
            console.issue_summary(validated.issues_table, len(validated.files), None)
        _fail(exc)
        raise typer.Exit(EXIT_DATA_ERRORS)
    except KaoheError as exc:
        _fail(exc)
        raise typer.Exit(EXIT_CANNOT_RUN)
    except KeyboardInterrupt:
        console.print_error("已中断。")
        raise typer.Exit(130)
    except typer.Exit:
        raise
    except Exception as exc:  # a bug: still one line unless --verbose
        _fail(exc, f"程序内部错误（{type(exc).__name__}: {exc}）。请加 --verbose 重试并将输出反馈给维护人员")
        raise typer.Exit(EXIT_CANNOT_RUN)


def _show_version(value: bool) -> None:
    if value:
        console.print_line(f"kaohe {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", help="显示版本号", callback=_show_version, is_eager=True),
) -> None:
    """考核表格批处理：生成填报模板，汇总校验各单位报送的表格，计分、排名、评定等次，生成汇总表、通报和反馈表。"""


@app.command("template")
def template_command(
    scheme: Optional[Path] = SchemeOption,
    out: Path = typer.Option(Path("outputs/模板"), "--out", "-o", help="模板输出目录（默认 outputs/模板/）"),
    unit: Optional[list[str]] = typer.Option(None, "--unit", "-u", help="只生成指定单位代码的模板，可重复使用"),
    lead: bool = typer.Option(False, "--lead", help="生成各牵头单位的数据核定表（核定表_<牵头单位>.xlsx）"),
    verbose: bool = VerboseOption,
) -> None:
    """生成各单位填报模板（每单位一个 .xlsx）和考核办的 评定表.xlsx。

    加 --lead 时生成各牵头单位的数据核定表：列出其牵头的自报指标及各适用单位的目标值，由牵头单位填写核定值；
    报送时与各单位填报表一起放入收件箱，核定值与单位自报值不一致的按核定值计分，并在汇总表「口径核对」中列出。

    示例：

      kaohe template

      kaohe template --scheme 考核方案.xlsx --out 下发模板

      kaohe template --unit XZ01 --unit XZ02

      kaohe template --lead
    """
    _State.verbose = verbose
    if lead and unit:
        console.print_error("--lead 与 --unit 不能同时使用")
        raise typer.Exit(EXIT_CANNOT_RUN)

    def body():
        from .scheme import load_scheme
        from .template import write_assessment_workbook, write_lead_workbooks, write_templates

        loaded = load_scheme(_scheme_path(scheme))
        if lead:
            paths = write_lead_workbooks(loaded, out)
            console.print_line(f"已生成 {len(paths)} 个牵头单位核定表，位于 {out}")
            return EXIT_OK
        known = set(loaded.units["unit_code"])
        unknown = [u for u in (unit or []) if u not in known]
        if unknown:
            raise KaoheError(f"单位代码不在方案中：{'、'.join(unknown)}")
        paths = write_templates(loaded, out, units=unit or None)
        if not unit:
            paths.append(write_assessment_workbook(loaded, out))
        console.print_line(f"已生成 {len(paths)} 个文件，位于 {out}")

    _guard(body)


@app.command("check")
def check_command(
    inbox: Path = typer.Argument(..., help="收件箱文件夹：各单位报送的表格和评定表"),
    scheme: Optional[Path] = SchemeOption,
    report: Optional[Path] = typer.Option(None, "--report", "-r", help="校验报告 .xlsx 的位置（默认 outputs/校验问题_<周期>.xlsx，不能在收件箱内）"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """校验收件箱中的所有表格：逐个文件、工作表、单元格列出问题，并写出可转发给各单位的校验报告。

    退出码：0 无错误；1 有错误；2 无法运行（方案有误、目录不存在等）。

    示例：

      kaohe check 收件箱

      kaohe check sample_inputs --report 校验问题.xlsx
    """
    _State.verbose = verbose

    def body():
        from .pipeline import check

        with console.progress_bar() as progress:
            outcome = check(inbox, _scheme_path(scheme), report, out_root=out, progress=progress)
        console.issue_summary(outcome.issues, len(outcome.validated.files), outcome.report_path)
        return EXIT_DATA_ERRORS if outcome.validated.error_count else EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("run")
def run_command(
    inbox: Path = typer.Argument(..., help="收件箱文件夹：各单位报送的表格和评定表"),
    scheme: Optional[Path] = SchemeOption,
    period: Optional[str] = typer.Option(None, "--period", "-p", help="考核周期（须与方案一致；默认取方案中的考核周期）"),
    out: Path = OutOption,
    allow_errors: bool = typer.Option(False, "--allow-errors", help="有错误也继续：出错的单元格留空不计分，并在所有输出中注明"),
    compare_to: Optional[str] = typer.Option(None, "--compare-to", help="纵向比较的基期（往期的考核周期）；不指定时取本期之前最近一个已封存的期别"),
    verbose: bool = VerboseOption,
) -> None:
    """校验、计分、排名、评定等次，写出汇总表、通报、各单位反馈表和结果数据（outputs/<周期>/）。

    有错误时不计分（退出码 1），除非加 --allow-errors。

    示例：

      kaohe run sample_inputs

      kaohe run 收件箱 --scheme 考核方案.xlsx --out 考核结果

      kaohe run 收件箱 --allow-errors

      kaohe run 收件箱 --compare-to 2023
    """
    _State.verbose = verbose

    def body():
        from .pipeline import run

        with console.progress_bar() as progress:
            outcome = run(inbox, _scheme_path(scheme), out_root=out, period=period, allow_errors=allow_errors,
                          progress=progress, compare_to=compare_to)
        results = outcome.results
        top = results.scheme.grades["grade"].iloc[0]
        console.run_summary(results.ranked, results.validated.issues_table, outcome.folder, top, _run_notes(results))
        return EXIT_DATA_ERRORS if results.validated.error_count else EXIT_OK

    raise typer.Exit(_guard(body))


def _run_notes(results) -> list[str]:
    """Lines about the optional parts of a run: progress warnings, cross-checks, unscored cells."""
    notes = []
    if results.progress is not None:
        lagging = int(results.progress["lag"].astype(bool).sum())
        notes.append(f"进度预警：时间进度 {results.elapsed:.0%}，{lagging} 项指标进度落后（见汇总表「进度预警」）。")
    if results.crosscheck is not None and len(results.crosscheck):
        differing = int((results.crosscheck["status"] != "一致").sum())
        notes.append(f"口径核对：核对 {len(results.crosscheck)} 项，{differing} 项不一致或缺数（见汇总表「口径核对」）。")
    unscored = int((results.scored["status"] == "unscored").sum())
    if unscored:
        notes.append(f"注意：{unscored} 个单元格因数据有误未计分（--allow-errors），已在汇总表和反馈表中注明。")
    return notes


@app.command("seal")
def seal_command(
    period: str = typer.Argument(..., help="要封存的考核周期，如 2024"),
    out: Path = OutOption,
    by: Optional[str] = typer.Option(None, "--by", help="封存人（记录在封存文件中）"),
    verbose: bool = VerboseOption,
) -> None:
    """将某一期结果封存（定稿）。封存前核对全部文件与清单一致；封存后 run 不再覆盖该期，如需试算请用 --out 指定其他目录。

    示例：

      kaohe seal 2024 --by 张三

      kaohe seal 2024Q3 --out D:\\考核\\outputs
    """
    _State.verbose = verbose

    def body():
        from .archive import seal_period

        path = seal_period(out, period, by=by)
        console.print_line(f"{period} 期已封存：{path}")
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("verify")
def verify_command(
    period: str = typer.Argument(..., help="要核验的考核周期，如 2024"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """核验某一期归档：逐个文件重算 SHA-256 与清单比对，并用归档的方案和报送文件重新计分，与归档结果逐项比较。

    完全一致时退出码为 0，有差异为 1。

    示例：

      kaohe verify 2024

      kaohe verify 2023 --out D:\\考核\\outputs
    """
    _State.verbose = verbose

    def body():
        from .archive import verify_period

        report = verify_period(out, period)
        for line in report.lines():
            console.print_line(line)
        return EXIT_OK if report.ok else EXIT_DATA_ERRORS

    raise typer.Exit(_guard(body))


@app.command("history")
def history_command(
    unit: Optional[str] = typer.Option(None, "--unit", "-u", help="只看某个单位（单位代码或名称）"),
    xlsx: Optional[Path] = typer.Option(None, "--xlsx", help="另存为工作簿（每个考核类别一张折线图）"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """列出各期归档的总分、排名、等次及与上期相比的变化。

    示例：

      kaohe history

      kaohe history --unit XZ01

      kaohe history --xlsx 历年考核.xlsx
    """
    _State.verbose = verbose

    def body():
        from .archive import history_table, write_history_xlsx

        table = history_table(out, unit=unit)
        console.history(table)
        if xlsx is not None:
            write_history_xlsx(xlsx, table)
            console.print_line(f"已写出：{xlsx}")
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("gap")
def gap_command(
    period: str = typer.Argument(..., help="已归档的考核周期，如 2024"),
    unit: Optional[str] = typer.Option(None, "--unit", "-u", help="只看某个单位（单位代码）"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """差距分析：读取已归档的某一期结果，逐个单位、逐项指标算出达到基本分和满分还需完成的数值（排名类指标另给出升一位所需数值）以及可增加的分数，按可增加分数从大到小排列。只读取归档，不改动任何文件。

    示例：

      kaohe gap 2024

      kaohe gap 2024 --unit XZ01

      kaohe gap 2024Q3 --out D:/考核/outputs
    """
    _State.verbose = verbose

    def body():
        from . import gap
        from .pipeline import cpu_workers

        results = gap.load_period(out, period, workers=cpu_workers())
        if unit is not None and unit not in set(results.scheme.units["unit_code"]):
            raise KaoheError(f"没有单位代码 {unit}")
        table = gap.gap_table(results.scored, results.scheme.tier_tables, results.scheme)
        rows = gap.gap_sheet_rows(table, unit)
        if unit is None:
            rows = rows[rows["可增加总分"] > 0]
        # The full table (with 说明) goes into each unit's feedback workbook; the terminal gets the essentials.
        rows = rows.drop(columns=[c for c in GAP_CONSOLE_DROP if c in rows.columns])
        console.plain_table(rows, title=f"{period} 差距分析" + (f"（{unit}）" if unit else "（只列可增加分数的指标）"))
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("simulate")
def simulate_command(
    period: str = typer.Argument(..., help="已归档的考核周期，如 2024"),
    sets: list[str] = typer.Option(..., "--set", help="改动：单位代码:指标代码=值，可重复"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """模拟测算：在已归档的某一期数据上改动若干单位的指标值，重新计分、排名、评定等次，列出总分、排名、等次的变化。只在内存中计算，不改动归档。值可带计量单位（8.5亿元、85%），定性指标填等级（优/良/中/差）。

    示例：

      kaohe simulate 2024 --set XZ01:A01=8.5

      kaohe simulate 2024 --set XZ01:A01=8.5 --set XZ01:C1=优

      kaohe simulate 2024 --set XZ02:B1=92% --out D:/考核/outputs
    """
    _State.verbose = verbose

    def body():
        from . import gap
        from .pipeline import cpu_workers

        changes = gap.parse_changes(sets)  # malformed items fail before any reading
        results = gap.load_period(out, period, workers=cpu_workers())
        simulation = gap.simulate(results, changes)
        console.plain_table(gap.simulation_rows(simulation), title="总分、排名、等次的变化")
        scores = simulation.scores.rename(columns=SIMULATED_SCORE_HEADERS)
        console.plain_table(scores, title="指标得分的变化")
        return EXIT_OK

    raise typer.Exit(_guard(body))


GAP_CONSOLE_DROP = ["计分方法", "计量单位", "基本分", "距满分差（分）", "说明", "单位名称"]

SIMULATED_SCORE_HEADERS = {
    "unit_code": "单位代码", "unit_name": "单位名称", "indicator_code": "指标代码", "name": "指标名称",
    "changed": "是否设定", "value_before": "原值", "value_after": "模拟值", "score_before": "原得分",
    "score_after": "模拟得分", "score_delta": "变化",
}


@app.command("mail")
def mail_command(
    period: str = typer.Argument(..., help="要发送的考核周期，如 2024"),
    out: Path = OutOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="只生成邮件预览（outputs/<周期>/outbox/*.eml），不发送"),
    only: Optional[str] = typer.Option(None, "--only", help="只发这些单位（单位代码，逗号分隔；“领导”指领导邮件）"),
    resend: bool = typer.Option(False, "--resend", help="已发送过的也重新发送"),
    config: Path = typer.Option(Path("kaohe.toml"), "--config", help="邮件配置文件（默认 kaohe.toml，参照 kaohe.toml.example）"),
    verbose: bool = VerboseOption,
) -> None:
    """把本期结果发邮件：各单位收到自己的反馈表，领导收到汇总表和通报。只补发尚未成功的邮件，不会重复发送。

    服务器设置见 kaohe.toml（参照 kaohe.toml.example）；密码只从环境变量 KAOHE_SMTP_PASSWORD 读取。

    示例：

      kaohe mail 2024 --dry-run

      kaohe mail 2024

      kaohe mail 2024 --only XZ01,领导

      kaohe mail 2024 --only XZ03 --resend
    """
    _State.verbose = verbose
    selected = [part.strip() for part in re.split(r"[,，]", only) if part.strip()] if only else None

    def body():
        from . import mail
        from .errors import MailSendError

        try:
            with console.progress_bar() as progress:
                report = mail.send_period(out, period, config_path=config, dry_run=dry_run, only=selected,
                                          resend=resend, progress=progress)
        except MailSendError as exc:
            partial = getattr(exc, "report", None)
            if partial is not None:
                console.mail_report(partial)
            raise
        console.mail_report(report)
        return report.exit_code

    raise typer.Exit(_guard(body))


def main() -> None:
    # Windows consoles default to a legacy code page; Chinese must not turn into mojibake.
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(encoding="utf-8")
        except (AttributeError, ValueError):
            pass
    app()


if __name__ == "__main__":
    main()
