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

    from .issues import ISSUE_HEADERS_ZH, Severity

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

    from .issues import Severity

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


def _number(value, digits: int = 2) -> str:
    import pandas as pd

    if value is None or (not isinstance(value, (list, tuple)) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
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
