"""Terminal rendering (rich): the only module that draws tables and progress for a person.

Everything shown comes partly from files other people made (cell texts, unit and file
names), so no text reaches the terminal with its control characters: an ESC could clear the
screen, forge a "未发现错误" line or plant a clickable link (OSC 8), a bidi override could
reverse what a name seems to say. `terminal_text` shows each such character as a visible
escape (\\x1b, \\u202e); the helpers below apply it before layout, and `_SafeConsole`
applies it again to every segment rendered, so nothing printed through this module can
bypass it (rich's own styling is made from styles, not from text, and is untouched).
"""

from __future__ import annotations

import re
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.segment import Segment

# pandas (through .issues too), rich.table and rich.progress are imported where a table or bar is
# drawn: `kaohe --version` and every --help load this module and must start without them.
if TYPE_CHECKING:
    import pandas as pd

# C0 but tab and newline, DEL, C1; bidi embeddings, overrides, isolates and marks; zero-width
# characters, the line/paragraph separators, BOM and interlinear annotation marks.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2064"
                      "\u2066-\u2069\ufeff\ufff9-\ufffb]")
_CONTROL_OR_NEWLINE = re.compile(_CONTROL.pattern[:-1] + "\n]")


def _visible(match: re.Match) -> str:
    code = ord(match.group(0))
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def terminal_text(text: object, keep_newlines: bool = True) -> str:
    """`text` with every control character shown as a visible escape instead of acting."""
    text = str(text)
    pattern = _CONTROL if keep_newlines else _CONTROL_OR_NEWLINE
    return pattern.sub(_visible, text) if pattern.search(text) else text


class _SafeConsole(Console):
    """A Console that never writes a control character it was given as text."""

    def render(self, renderable, options=None):
        for segment in super().render(renderable, options):
            if segment.control is None and _CONTROL.search(segment.text):
                yield Segment(terminal_text(segment.text), segment.style)
            else:
                yield segment


# Redirected output (a log file, a pipe) has no width; 80 columns would truncate Chinese names.
_PIPED_WIDTH = None if sys.stdout.isatty() else 160
console = _SafeConsole(highlight=False, width=_PIPED_WIDTH)
err_console = _SafeConsole(stderr=True, highlight=False, width=_PIPED_WIDTH)

MAX_ISSUE_ROWS = 40


def print_line(text: str) -> None:
    """One line: a newline inside it (from a file name) would start a line that looks like ours."""
    console.print(terminal_text(text, keep_newlines=False), markup=False)


def print_error(text: str) -> None:
    err_console.print(f"[bold red]错误：[/]{_escape(text)}")


def print_traceback(exc: BaseException) -> None:
    """The technical details (--verbose), through the same filter as everything else."""
    import traceback

    err_console.print(terminal_text("".join(traceback.format_exception(exc))), markup=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(terminal_text(text))


@contextmanager
def progress_bar(enabled: bool = True, min_total: int = 20):
    """Yields a callback(stage, done, total); a bar appears only for long stages."""
    if not enabled or not console.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err_console, transient=True) as bar:
        tasks: dict[str, int] = {}

        def update(stage: str, done: int, total: int) -> None:
            if total < min_total:
                return
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done)

        yield update


def issue_summary(issues: pd.DataFrame, file_count: int, report_path: Path | None) -> None:
    """Counts by severity and code, then the first issues with file, sheet and cell."""
    from rich.table import Table

    from kaohe_excel.base.issues import ISSUE_HEADERS_ZH, Severity

    errors = int((issues["severity"] == Severity.ERROR.value).sum()) if len(issues) else 0
    warnings = len(issues) - errors
    if len(issues):
        table = Table(title="校验问题", show_lines=False, header_style="bold")
        for key in ["severity", "file", "sheet", "cell", "unit", "indicator", "message"]:
            table.add_column(ISSUE_HEADERS_ZH[key], overflow="fold")
        for row in issues.head(MAX_ISSUE_ROWS).itertuples():
            style = "red" if row.severity == Severity.ERROR.value else "yellow"
            table.add_row(*[_escape(v) for v in (row.severity, row.file, row.sheet, row.cell, row.unit, row.indicator, row.message)],
                          style=style)
        console.print(table)
        if len(issues) > MAX_ISSUE_ROWS:
            print_line(f"……另有 {len(issues) - MAX_ISSUE_ROWS} 条，完整清单见校验报告。")
    verdict = "[green]未发现错误[/]" if not errors else f"[red]{errors} 个错误[/]"
    console.print(f"共读取 {file_count} 个文件：{verdict}，{warnings} 个警告。")
    if report_path is not None:
        console.print(f"校验报告：{_escape(report_path)}")


def run_summary(ranked: pd.DataFrame, issues: pd.DataFrame, folder: Path, top_grade: str,
                notes: list[str] | None = None) -> None:
    from rich.table import Table

    from kaohe_excel.base.issues import Severity

    table = Table(title="考核结果汇总", header_style="bold")
    for name in ["考核类别", "单位数", f"{top_grade}", "一票否决", "最高分", "最低分"]:
        table.add_column(name)
    for group, frame in ranked.groupby("group", sort=False):
        table.add_row(_escape(group), str(len(frame)), str(int((frame["grade"] == top_grade).sum())),
                      str(int(frame["vetoed"].sum())), f"{frame['total'].max():.2f}", f"{frame['total'].min():.2f}")
    console.print(table)
    errors = int((issues["severity"] == Severity.ERROR.value).sum()) if len(issues) else 0
    console.print(f"校验：{errors} 个错误，{len(issues) - errors} 个警告（见汇总表「校验问题」）。")
    for note in notes or []:
        console.print(_escape(note))
    console.print(f"结果已写入：{_escape(folder)}")
    for name in ["汇总表.xlsx", "通报.docx", "反馈/", "scores.csv", "totals.csv"]:
        console.print(f"  {_escape(folder / name)}")


def run_notes(results) -> list[str]:
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


def run_outcome(outcome) -> None:
    """`kaohe run`: the summary table of pipeline.RunOutcome, its notes and where it was written."""
    results = outcome.results
    top = results.scheme.grades["grade"].iloc[0]
    run_summary(results.ranked, results.validated.issues_table, outcome.folder, top, run_notes(results))


def check_outcome(outcome) -> None:
    """`kaohe check`: the issues of pipeline.CheckOutcome and where the unit issue books are."""
    issue_summary(outcome.issues, len(outcome.validated.files), outcome.report_path)
    if outcome.unit_reports:
        print_line(f"各单位的问题清单（{len(outcome.unit_reports)}个，可分别转发）：{outcome.unit_reports[0].parent}")


def init_done(result) -> None:
    """`kaohe init`: what init.init_folder made and what to run next."""
    print_line(f"已新建工作文件夹 {result.folder}（{len(result.files)} 个文件）：")
    print_line(f"  考核方案：{result.scheme}")
    print_line(f"  示例收件箱：{result.inbox}")
    print_line(f"下一步：cd {result.folder}，然后运行 kaohe run {result.inbox.name}")


def office_key_note(key, created: bool, source: str) -> None:
    """Where a new office key was made (back it up), or that the scheme uses the public demo key."""
    if created:
        print_line(f"已新建考核办密钥：{key.path}（{source}）。模板的校验码用它生成，check 和 run 用它核验。"
                   "请立即备份此文件（丢失后已下发的模板无法核验，须重新生成下发），不要放进收件箱，不要发给任何单位；"
                   "详见 docs/office-key.md")
    elif key.demo:
        print_line("注意：本方案使用公开的演示密钥（方案「校验密钥」=演示密钥），只能用于示例数据；"
                   "正式考核请删除此行后重新生成模板（见 docs/office-key.md）")


def templates_done(paths: list[Path], out: Path, lead: bool) -> None:
    what = "个牵头单位核定表" if lead else "个文件"
    print_line(f"已生成 {len(paths)} {what}，位于 {out}")


def print_lines(texts) -> None:
    for text in texts:
        print_line(text)


STATUS_HEADERS = {"period": "考核周期", "state": "状态", "publication_start": "公示开始", "publication_end": "公示结束"}


def period_status(table: pd.DataFrame, out: Path) -> None:
    """`kaohe status`: period_status.status_table, or that there is no period yet."""
    if table.empty:
        print_line(f"「{out}」中还没有任何一期结果，请先运行 kaohe run")
        return
    frame_table(table, STATUS_HEADERS, title="各期状态")


def _number(value, digits: int = 2) -> str:
    import pandas as pd

    from kaohe_excel.inputs.number_text import fixed

    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return fixed(value, digits)
    return str(value)


def frame_table(frame: pd.DataFrame, headers: dict[str, str], title: str | None = None, max_rows: int = 200) -> None:
    """Render selected columns of a frame with Chinese headers."""
    from rich.table import Table

    table = Table(title=title, header_style="bold")
    columns = [c for c in headers if c in frame.columns]
    for column in columns:
        table.add_column(headers[column])
    for row in frame[columns].head(max_rows).itertuples(index=False):
        table.add_row(*[_escape(_number(v)) for v in row])
    console.print(table)
    if len(frame) > max_rows:
        print_line(f"……共 {len(frame)} 行，只显示前 {max_rows} 行。")


HISTORY_HEADERS = {"period": "考核周期", "unit_code": "单位代码", "unit_name": "单位名称", "group": "考核类别",
                   "total": "总分", "rank": "排名", "grade": "等次", "total_change": "分数变化", "rank_change": "名次变化",
                   "sealed": "已封存"}


def history(table: pd.DataFrame) -> None:
    if table.empty:
        print_line("没有找到已归档的考核周期。")
        return
    shown = table.assign(sealed=table["sealed"].map(lambda v: "是" if v else "否")) if "sealed" in table else table
    frame_table(shown, HISTORY_HEADERS, title="历年考核结果")


def history_with_damaged(table: pd.DataFrame, damaged: list) -> None:
    """`kaohe history`: the table (unless every period is damaged), then each damaged period named,
    not passed over as if it did not exist."""
    if len(table) or not damaged:
        history(table)
    for problem in damaged:
        print_error(str(problem))


# The full 差距分析 (with 说明) goes into each unit's feedback workbook; the terminal gets the essentials.
GAP_CONSOLE_DROP = ["计分方法", "计量单位", "基本分", "距满分差（分）", "说明", "单位名称"]


def gap_rows(rows: pd.DataFrame, period: str, unit: str | None) -> None:
    """`kaohe gap`: pipeline.gap_rows without the columns the terminal has no room for."""
    from kaohe_excel.analysis.gap import sheet_rows_as_text

    rows = rows.drop(columns=[c for c in GAP_CONSOLE_DROP if c in rows.columns])
    rows = sheet_rows_as_text(rows)  # a needed 0.7142 must not print as 0.71
    plain_table(rows, title=f"{period} 差距分析" + (f"（{unit}）" if unit else "（只列可增加分数的指标）"))


def simulation(result) -> None:
    """`kaohe simulate`: totals, ranks and grades that moved, then the indicator scores that changed."""
    from kaohe_excel.analysis.simulate import SCORE_HEADERS, simulation_rows

    plain_table(simulation_rows(result), title="总分、排名、等次的变化")
    plain_table(result.scores.rename(columns=SCORE_HEADERS), title="指标得分的变化")


def plain_table(frame: pd.DataFrame, title: str | None = None, max_rows: int = 200) -> None:
    """A frame whose column names are already the Chinese headers."""
    if frame.empty:
        print_line(f"{title}：无。" if title else "无。")
        return
    shown = frame.copy()
    for column in shown.columns:
        if shown[column].dtype == bool:
            shown[column] = shown[column].map({True: "是", False: "否"})
    frame_table(shown, {c: c for c in shown.columns}, title=title, max_rows=max_rows)


def mail_report(report) -> None:
    """One row per message: recipient, attachments and what happened."""
    from rich.table import Table

    for text in report.warnings:
        console.print(f"[yellow]提示：[/]{_escape(text)}")
    table = Table(title="邮件" + ("预览" if report.dry_run else "发送情况"), header_style="bold")
    for name in ["收件单位", "收件人", "附件", "状态", "说明"]:
        table.add_column(name, overflow="fold")
    for outcome in report.outcomes:
        who = f"{outcome.unit_code} {outcome.unit_name}".strip() or "领导"
        style = "red" if outcome.status in ("skipped", "failed", "uncertain", "unconfirmed", "not_attempted") else None
        table.add_row(_escape(who), _escape("、".join(outcome.to)), _escape("、".join(outcome.attachments)),
                      _escape(outcome.label), _escape(outcome.reason or outcome.response), style=style)
    console.print(table)
    if report.dry_run and report.outbox is not None:
        console.print(f"预览邮件已写入：{_escape(report.outbox)}")
    if report.log_path is not None:
        console.print(f"发送记录：{_escape(report.log_path)}")
