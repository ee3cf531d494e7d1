"""The `kaohe` command. Each command: check options, call the core, map the outcome to an
exit code (0 clean, 1 data errors, 2 cannot run). Only this module imports typer.

What a command shows is drawn by console; what it does is the core's (pipeline, archive, mail, …);
cli_zh holds the Chinese put into typer's own texts.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Optional

import typer

from kaohe_excel import __version__
from kaohe_excel import cli_zh
from kaohe_excel import console
from kaohe_excel.base.errors import DataErrorsPresent, KaoheError


def _localize_typer() -> None:
    """Put cli_zh's Chinese into typer's help renderer and usage errors (typer vendors click).

    Each patch is skipped when the internal it wraps is absent, so a typer release that moved
    one leaves its English there (tests/test_cli_zh.py then names it) rather than breaking the CLI.
    """
    from typer import core as typer_core

    try:
        from typer._click import core as click_core
        from typer._click import formatting as click_formatting
    except ImportError:  # an older typer on the real click
        import click.core as click_core  # noqa: PLC0415
        import click.formatting as click_formatting  # noqa: PLC0415

    cli_zh.when_rich_utils_loads(cli_zh.localize_rich_utils)

    original_usage = click_formatting.HelpFormatter.write_usage

    def write_usage(self, prog, args="", prefix=None):
        for english, chinese in cli_zh.USAGE_PIECES.items():
            args = args.replace(english, chinese)
        return original_usage(self, prog, args, cli_zh.USAGE_PREFIX if prefix is None else prefix)

    click_formatting.HelpFormatter.write_usage = write_usage

    original_help_option = click_core.Command.get_help_option

    def get_help_option(self, ctx):
        option = original_help_option(self, ctx)
        if option is not None:
            option.help = cli_zh.HELP_OPTION_HELP
        return option

    click_core.Command.get_help_option = get_help_option

    parameter = getattr(typer_core, "_TyperParameter", None)
    if parameter is not None and hasattr(parameter, "display_type"):
        original_type = parameter.display_type

        def display_type(self, ctx):
            label = original_type(self, ctx)
            return cli_zh.type_label(label) if isinstance(label, str) else label

        parameter.display_type = display_type
    argument = getattr(typer_core, "TyperArgument", None)
    if argument is not None and hasattr(argument, "_usage_display_name"):
        def usage_display_name(self) -> str:
            name = self.display_name_raw if self.required else f"[{self.display_name_raw}]"
            return name + ("..." if self.nargs != 1 else "")

        argument._usage_display_name = usage_display_name

_localize_typer()

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)  # the help text is main_options' docstring (with examples): `kaohe` alone shows it

EXIT_OK, EXIT_DATA_ERRORS, EXIT_CANNOT_RUN = 0, 1, 2

SchemeOption = typer.Option(None, "--scheme", "-s", help="考核方案工作簿（默认：当前目录的 考核方案.xlsx，没有则用 templates/scheme.xlsx）")
OutOption = typer.Option(Path("outputs"), "--out", "-o", help="输出根目录（默认 outputs/）")
VerboseOption = typer.Option(False, "--verbose", "-v", help="出错时显示详细的技术信息（traceback）")


class _State:
    verbose = False


def _scheme_path(scheme: Optional[Path]) -> Path:
    """The scheme a command uses, said on screen; without one, how to get one (KaoheError)."""
    from kaohe_excel.jobs.pipeline import scheme_in_use

    path, note = scheme_in_use(scheme)
    console.print_line(f"使用考核方案：{path}{note}")
    return path


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
    except Exception as exc:
        from kaohe_excel.base.fsguard import problem_from

        problem = problem_from(exc)  # a full disk, a read-only folder, a file open in Excel: the user can fix it
        if problem is not None:
            _fail(exc, str(problem))
            raise typer.Exit(EXIT_CANNOT_RUN)
        # a bug: still one line unless --verbose
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
    """考核表格批处理：生成填报模板，汇总校验各单位报送的表格，计分、排名、评定等次，生成汇总表、通报和反馈表。

    每条命令的说明：kaohe 命令 --help（如 kaohe run --help）。退出码：0 无错误；1 数据有错误（已列出）；2 无法运行。

    示例：

      新建工作文件夹（示例方案、示例收件箱）：kaohe init 考核

      在工作文件夹中试运行示例：kaohe run 示例收件箱

      按 考核方案.xlsx 生成各单位填报模板和评定表：kaohe template

      校验收回的表格：kaohe check 收件箱

      计分、排名、评定等次，生成汇总表、通报、反馈表：kaohe run 收件箱

      定稿封存：kaohe seal 2024
    """


@app.command("init")
def init_command(
    folder: Path = typer.Argument(..., metavar="文件夹", help="要新建的工作文件夹（可以已存在，但不能已有 考核方案.xlsx）"),
    verbose: bool = VerboseOption,
) -> None:
    """新建工作文件夹：示例考核方案 考核方案.xlsx、可修改的通报和邮件模板、kaohe.toml.example、已填好的 示例收件箱 和 使用说明.txt。

    生成后进入该文件夹即可试运行；正式使用时按本单位实际修改 考核方案.xlsx。

    示例：

      kaohe init 考核

      cd 考核

      kaohe run 示例收件箱
    """
    _State.verbose = verbose

    def body():
        from kaohe_excel.jobs.init import init_folder

        console.init_done(init_folder(folder))
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("template")
def template_command(
    scheme: Optional[Path] = SchemeOption,
    out: Path = typer.Option(Path("outputs/模板"), "--out", "-o", help="模板输出目录（默认 outputs/模板/）"),
    unit: Optional[list[str]] = typer.Option(None, "--unit", "-u", help="只生成指定单位代码的模板，可重复使用"),
    lead: bool = typer.Option(False, "--lead", help="生成各牵头单位的数据核定表（核定表_<牵头单位>.xlsx）"),
    overwrite: bool = typer.Option(False, "--overwrite", help="替换目录中已有的同名空白模板（已填有数据的表格始终不会被覆盖）"),
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

    目录中已有同名文件时不生成任何模板；加 --overwrite 可替换空白模板，但填有数据的表格（如收件箱中已报送的表格）始终不会被覆盖。
    """
    _State.verbose = verbose
    if lead and unit:
        console.print_error("--lead 与 --unit 不能同时使用")
        raise typer.Exit(EXIT_CANNOT_RUN)

    def body():
        from kaohe_excel.jobs.pipeline import prepare_templates, write_command_templates

        plan = prepare_templates(_scheme_path(scheme), out, units=unit or None, lead=lead, overwrite=overwrite)
        console.office_key_note(plan.key, plan.key_created, plan.key_source)
        paths = write_command_templates(plan)
        console.templates_done(paths, out, lead)

    _guard(body)


@app.command("check")
def check_command(
    inbox: Path = typer.Argument(..., metavar="收件箱", help="收件箱文件夹：各单位报送的表格和评定表"),
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
        from kaohe_excel.base.fsguard import check_output_dir, check_output_file
        from kaohe_excel.jobs.pipeline import check

        # before the reading, not after: a folder in the way or a report still open in Excel
        if report is not None:
            check_output_file(report, "校验报告")
        else:
            check_output_dir(out, "校验报告")
        with console.progress_bar() as progress:
            outcome = check(inbox, _scheme_path(scheme), report, out_root=out, progress=progress)
        console.check_outcome(outcome)
        return EXIT_DATA_ERRORS if outcome.validated.error_count else EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("run")
def run_command(
    inbox: Path = typer.Argument(..., metavar="收件箱", help="收件箱文件夹：各单位报送的表格和评定表"),
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
        from kaohe_excel.base.fsguard import check_output_dir
        from kaohe_excel.jobs.pipeline import run

        check_output_dir(out, "考核结果")  # a read-only or blocked folder fails before the reading and scoring
        with console.progress_bar() as progress:
            outcome = run(inbox, _scheme_path(scheme), out_root=out, period=period, allow_errors=allow_errors,
                          progress=progress, compare_to=compare_to)
        console.run_outcome(outcome)
        return EXIT_DATA_ERRORS if outcome.results.validated.error_count else EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("seal")
def seal_command(
    period: str = typer.Argument(..., metavar="周期", help="要封存的考核周期，如 2024"),
    out: Path = OutOption,
    by: Optional[str] = typer.Option(None, "--by", help="封存人（记录在封存文件中）"),
    force: bool = typer.Option(False, "--force", help="公示期未满也封存（封存后不再受理复核）"),
    verbose: bool = VerboseOption,
) -> None:
    """将某一期结果封存（定稿）。封存前核对全部文件与清单一致；封存后 run 不再覆盖该期，如需试算请用 --out 指定其他目录。
    公示期未满时不封存，确需提前封存请加 --force。

    示例：

      kaohe seal 2024 --by 张三

      kaohe seal 2024 --force

      kaohe seal 2024Q3 --out D:\\考核\\outputs
    """
    _State.verbose = verbose

    def body():
        from kaohe_excel.storage.archive import period_folder, seal_period
        from kaohe_excel.outputs.period_status import publication_pending, refuse_during_publication

        folder = period_folder(out, period)
        if not force:
            refuse_during_publication(folder)
        elif (pending := publication_pending(folder)) is not None:
            console.print_line(f"注意：{period} 期的公示期至{pending}才结束，已按 --force 提前封存")
        path = seal_period(out, period, by=by)
        console.print_line(f"{period} 期已封存：{path}")
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("status")
def status_command(
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """列出各期归档的状态：已计分 / 公示中（至某日）/ 公示期满 / 已封存。

    示例：

      kaohe status

      kaohe status --out D:\\考核\\outputs
    """
    _State.verbose = verbose

    def body():
        from kaohe_excel.outputs.period_status import status_table

        console.period_status(status_table(out), out)
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("verify")
def verify_command(
    period: str = typer.Argument(..., metavar="周期", help="要核验的考核周期，如 2024"),
    out: Path = OutOption,
    verbose: bool = VerboseOption,
) -> None:
    """核验某一期归档：逐个文件重算 SHA-256 与清单比对，并用归档的方案和报送文件重新计分，与归档结果逐项比较；再用重算的结果重新生成汇总表、通报、反馈表和 csv，与归档的逐个比较（指出文件、工作表和单元格），清单被改写也能发现改动过的数字。

    完全一致时退出码为 0，有差异为 1。

    示例：

      kaohe verify 2024

      kaohe verify 2023 --out D:\\考核\\outputs
    """
    _State.verbose = verbose

    def body():
        from kaohe_excel.jobs.pipeline import verify_period

        report = verify_period(out, period)
        console.print_lines(report.lines())
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
        from kaohe_excel.base.fsguard import check_output_file
        from kaohe_excel.outputs.period_outputs import write_history_xlsx
        from kaohe_excel.jobs.pipeline import unit_history

        if xlsx is not None:
            check_output_file(xlsx, "工作簿")
        table, damaged = unit_history(out, unit)
        console.history_with_damaged(table, damaged)
        if xlsx is not None:
            write_history_xlsx(xlsx, table)
            console.print_line(f"已写出：{xlsx}")
        if damaged:
            return EXIT_DATA_ERRORS if len(table) else EXIT_CANNOT_RUN
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("gap")
def gap_command(
    period: str = typer.Argument(..., metavar="周期", help="已归档的考核周期，如 2024"),
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
        from kaohe_excel.jobs.pipeline import gap_rows

        console.gap_rows(gap_rows(out, period, unit), period, unit)
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("simulate")
def simulate_command(
    period: str = typer.Argument(..., metavar="周期", help="已归档的考核周期，如 2024"),
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
        from kaohe_excel.jobs.pipeline import simulate_period

        console.simulation(simulate_period(out, period, sets))
        return EXIT_OK

    raise typer.Exit(_guard(body))


@app.command("mail")
def mail_command(
    period: str = typer.Argument(..., metavar="周期", help="要发送的考核周期，如 2024"),
    out: Path = OutOption,
    dry_run: bool = typer.Option(False, "--dry-run", help="只生成邮件预览（outputs/<周期>/outbox/*.eml），不发送"),
    only: Optional[str] = typer.Option(None, "--only", help="只发这些单位（单位代码，逗号分隔；“领导”指领导邮件）"),
    resend: bool = typer.Option(False, "--resend", help="已发送过的、状态不明或“未确认”的也重新发送（请先核实对方是否已收到）"),
    config: Path = typer.Option(Path("kaohe.toml"), "--config", help="邮件配置文件（默认 kaohe.toml，参照 kaohe.toml.example）"),
    verbose: bool = VerboseOption,
) -> None:
    """把本期结果发邮件：各单位收到自己的反馈表，领导收到汇总表和通报。只补发尚未成功的邮件，不会重复发送。

    邮件内容已发出、但服务器确认收到前连接中断的，记为“未确认”（可能已送达），不自动重发，并停止本次发送；核实对方未收到后用 --resend --only 单位代码 补发。

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
        from kaohe_excel.outputs import mail
        from kaohe_excel.base.errors import MailSendError

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


@app.command("serve")
def serve_command(
    folder: Optional[Path] = typer.Argument(None, help="考核工作文件夹（含 考核方案.xlsx、收件箱、outputs；默认当前文件夹）"),
    port: int = typer.Option(8765, "--port", help="端口（默认 8765）"),
    lan: bool = typer.Option(False, "--lan", help="允许局域网内其他电脑访问（须先在 kaohe.toml 的 [web] 中设置 password）"),
    no_browser: bool = typer.Option(False, "--no-browser", help="不自动打开浏览器"),
    verbose: bool = VerboseOption,
) -> None:
    """打开本机的考核工作页面：在浏览器中收表、校验、计分、查看和下载结果、封存，不用命令行。

    只在本机（127.0.0.1）提供页面；加 --lan 才允许局域网访问，且须输入 kaohe.toml 中设置的密码。

    示例：

      kaohe serve

      kaohe serve D:\\考核\\2024年度

      kaohe serve --port 9000

      kaohe serve --lan
    """
    _State.verbose = verbose

    def body():
        from kaohe_excel.web.app import serve
        from kaohe_excel.web.folder import discover

        serve(discover(folder), port=port, lan=lan, open_browser=not no_browser, announce=console.print_line)
        return EXIT_OK

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
