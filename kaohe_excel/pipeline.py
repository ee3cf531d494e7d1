"""The jobs behind the CLI commands, as plain functions: load, call the stages, return
an outcome the CLI maps to an exit code. Nothing here prints.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd

from . import progress as progress_mod
from . import appeal, appeal_report, crosscheck, interim, origin, rank, read, report, score, validate
from .errors import DataErrorsPresent, InboxEmpty, InboxNotFound, KaoheError, OutputInsideInbox
from .adjust_detail import with_claim_texts
from .issue_books import write_unit_issue_books
from .issues import issues_frame
from .memory import release_unused
from .scheme import Scheme, load_scheme

DEFAULT_SCHEME_NAMES = ("考核方案.xlsx", "templates/scheme.xlsx")
Progress = Callable[[str, int, int], None]


def default_scheme_path() -> Path:
    """The scheme used when --scheme is not given: 考核方案.xlsx here, else the sample."""
    for name in DEFAULT_SCHEME_NAMES:
        if Path(name).is_file():
            return Path(name)
    return Path(DEFAULT_SCHEME_NAMES[0])


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def check_inbox_folder(inbox: Path) -> Path:
    inbox = Path(inbox)
    if not inbox.is_dir():
        raise InboxNotFound(f"收件箱文件夹不存在：{inbox}")
    return inbox


def refuse_empty_inbox(inbox: Path) -> None:
    """No spreadsheet at all: one line, not one 未报送 error per unit."""
    files, _ = read.list_inbox(inbox)
    if not any(path.suffix.lower() in read.SPREADSHEET_SUFFIXES for path in files):
        others = f"（只有 {len(files)} 个其他文件，如 {files[0].name}）" if files else ""
        raise InboxEmpty(f"收件箱里没有 Excel 文件：{inbox}{others}。请把各单位报送的表格放进这个文件夹，或检查文件夹是否选对")


def refuse_inside_inbox(path: Path, inbox: Path, what: str) -> None:
    if _inside(path, inbox):
        raise OutputInsideInbox(f"{what}不能放在收件箱「{inbox}」里面（下次会被当作报送文件读取），请换一个位置")


def refuse_key_inside(scheme: Scheme, inbox: Path, out_root: Path) -> None:
    """The office key must never be read as a submission nor copied out with the results."""
    location = origin.key_location(scheme)
    if not location.demo:
        origin.refuse_inside(location.path, inbox, "收件箱")
        origin.refuse_inside(location.path, out_root, "输出目录")


@dataclass
class CheckOutcome:
    scheme: Scheme
    validated: validate.Validated
    report_path: Path | None
    # 校验问题/<单位代码>_<单位名称>.xlsx beside the report: each unit's own rows, to forward
    unit_reports: list[Path] = field(default_factory=list)

    @property
    def issues(self) -> pd.DataFrame:
        return self.validated.issues_table


def read_and_validate(scheme: Scheme, inbox: Path, progress: Progress | None = None,
                      workers: int | None = None) -> validate.Validated:
    def step(done: int, total: int) -> None:
        if progress:
            progress("读取", done, total)

    # Streamed: each file is validated as it arrives, so its cells need not all be held at once.
    validated = validate.validate_stream(scheme, read.iter_inbox(inbox, workers=workers, progress=step))
    release_unused()
    return validated


def check(inbox: Path, scheme_path: Path, report_path: Path | None, out_root: Path = Path("outputs"),
          progress: Progress | None = None, workers: int | None = None) -> CheckOutcome:
    """Read and validate the inbox; write the issue list as a workbook the office can forward."""
    inbox = check_inbox_folder(inbox)
    scheme = load_scheme(scheme_path)
    if report_path is None:
        report_path = Path(out_root) / f"校验问题_{scheme.meta.period}.xlsx"
    refuse_inside_inbox(report_path, inbox, "校验报告")
    refuse_key_inside(scheme, inbox, Path(out_root))
    if interim.has_interim(scheme):
        interim.source_folders(scheme, Path(out_root))  # a missing source period fails before reading
    refuse_empty_inbox(inbox)
    validated = interim.attach(scheme, read_and_validate(scheme, inbox, progress, workers), Path(out_root))
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report.write_issue_report(report_path, scheme.meta, validated.issues_table)
    unit_reports = write_unit_issue_books(report_path, scheme.meta, validated.issues_table, scheme.unit_names())
    return CheckOutcome(scheme, validated, report_path, unit_reports)


@dataclass
class Results:
    """Everything scoring produced for one period, ready for the output writers."""

    scheme: Scheme
    validated: validate.Validated
    scored: pd.DataFrame
    adjustments: pd.DataFrame
    ranked: pd.DataFrame
    # Progress mode (周期类型 月度/季度) only: progress.progress_table's frame and the elapsed share.
    progress: pd.DataFrame | None = None
    elapsed: float | None = None
    # 口径核对: unit figures against lead-department figures, and the units' sum against county totals.
    crosscheck: pd.DataFrame | None = None
    county_totals: pd.DataFrame | None = None
    # 复核: the office's decisions, and every figure they changed (appeal_report.compare), or None.
    appeals: pd.DataFrame | None = None
    appeal_changes: pd.DataFrame | None = None


DEFAULT_PROGRESS_TOLERANCE = 0.05
PROGRESS_TOLERANCE_KEY = "进度预警容差"


def progress_tolerance(scheme: Scheme) -> float:
    """方案 item 进度预警容差 (5 or 5% or 0.05 → 0.05); the default 5 percentage points otherwise."""
    raw = str((scheme.meta.extra or {}).get(PROGRESS_TOLERANCE_KEY, "") or "").strip()
    number = pd.to_numeric(pd.Series([raw.rstrip("%％")]), errors="coerce").iloc[0]
    if pd.isna(number) or number < 0:
        return DEFAULT_PROGRESS_TOLERANCE
    return float(number) / 100 if raw.endswith(("%", "％")) or number >= 1 else float(number)


def score_period(scheme: Scheme, validated: validate.Validated, last_year: pd.DataFrame | None = None,
                 with_appeals: bool = True) -> Results:
    """Score, total, rank and grade from validated values (no I/O).

    A 月度/季度 scheme scores the year so far: cumulative thresholds are prorated by the
    elapsed share first, and Results.progress holds the progress table (`last_year`, with
    progress.LAST_YEAR_COLUMNS, adds the forecast from last year's pattern).
    """
    # Where a lead department verified a figure, that figure is scored (统一口径).
    values, checks = crosscheck.reconcile(validated.values, validated.verified, scheme)
    values = values.drop_duplicates(["unit_code", "indicator_code"])
    appeals = validated.appeals if with_appeals and len(validated.appeals) else None
    claims = validated.claims
    if appeals is not None:  # 复核 decisions replace the figures they name, whatever their source
        values, claims = appeal.apply(values, claims, appeals)
    frame = scheme.assignments().merge(
        values[["unit_code", "indicator_code", "value", "text_value", "unscored"]],
        on=["unit_code", "indicator_code"], how="left")
    # No value row at all means the submission is missing or was rejected: an error was
    # reported for it, so the cell is left unscored rather than silently scored 0.
    frame["unscored"] = frame["unscored"].astype(object).where(frame["unscored"].notna(), True).astype(bool) & ~frame["exempt"]
    in_progress = progress_mod.is_progress_mode(scheme.meta.period_type)
    elapsed = progress_mod.elapsed_share(scheme.meta.period, scheme.meta.period_type) if in_progress else None
    if in_progress:
        frame = progress_mod.prorate_thresholds(frame, elapsed)
    scored = interim.annotate(score.score_indicators(frame, scheme.tier_tables), validated.interim)
    if validated.ratings is not None:  # w-rating: say how each 测评 value came about, before how it scored
        from .rating_validate import explain_scored

        scored = explain_scored(scored, validated.ratings)
    table = None
    if in_progress:
        note = progress_mod.prorate_note(scored, elapsed).where(scored["status"].astype(object).eq("scored"), "")
        scored["explanation"] = scored["explanation"] + note  # kept as the str column score.py built
        table = progress_mod.progress_table(scored, elapsed, progress_tolerance(scheme), last_year)
    adjustments = score.score_adjustments(claims, scheme.adjustments)
    adjustments = with_claim_texts(adjustments, claims)  # 事项说明 and 佐证材料 for the outputs
    totals = score.compute_totals(scored, adjustments, scheme)
    ranked = rank.rank_and_grade(totals, scheme)
    ranked["unscored_count"] = report.unscored_counts(ranked, scored)  # 含未计分指标 in 总排名 and the notice
    county = None
    if "county_total" in scheme.indicators and scheme.indicators["county_total"].notna().any():
        given = scheme.indicators[scheme.indicators["county_total"].notna()]
        county = crosscheck.county_total_check(values, dict(zip(given["indicator_code"], given["county_total"])),
                                               crosscheck.indicator_tolerances(scheme).to_dict(), scheme=scheme)
    release_unused()
    results = Results(scheme, validated, scored, adjustments, ranked, table, elapsed, checks, county)
    if appeals is not None:
        # The same scoring without the decisions: what moved, including peers scored against the appellant.
        before = score_period(scheme, validated, last_year, with_appeals=False)
        results.appeals = appeals
        results.appeal_changes = appeal_report.compare(before.scored, before.ranked, scored, ranked)
    return results


@dataclass
class RunOutcome:
    results: Results
    folder: Path
    files: list[Path] = field(default_factory=list)


def run(inbox: Path, scheme_path: Path, out_root: Path = Path("outputs"), period: str | None = None,
        allow_errors: bool = False, progress: Progress | None = None, workers: int | None = None,
        issued_on: date | None = None, template_dir: Path = Path("templates"),
        compare_to: str | None = None) -> RunOutcome:
    """Check, score, rank, and write every output under <out_root>/<period>/."""
    inbox = check_inbox_folder(inbox)
    scheme = load_scheme(scheme_path)
    if period is not None and period != scheme.meta.period:
        raise KaoheError(f"--period {period} 与考核方案中的考核周期 {scheme.meta.period} 不一致，请核对方案或去掉 --period")
    period = scheme.meta.period
    refuse_inside_inbox(Path(out_root), inbox, "输出目录")
    refuse_key_inside(scheme, inbox, Path(out_root))
    from .archive import check_writable, last_year_values, period_folder, write_period  # archive owns the period folder

    check_writable(Path(out_root), period)  # a sealed period fails before any reading
    if progress_mod.is_progress_mode(scheme.meta.period_type):
        progress_mod.elapsed_share(period, scheme.meta.period_type)  # a bad period id fails before reading too
    if compare_to is not None:
        if compare_to == period:
            raise KaoheError(f"--compare-to 不能是本期 {period}，请指定往期的考核周期")
        period_folder(Path(out_root), compare_to)  # raises PeriodNotFound with a Chinese message
    if interim.has_interim(scheme):
        interim.source_folders(scheme, Path(out_root))  # a missing source period fails before reading
    refuse_empty_inbox(inbox)
    validated = interim.attach(scheme, read_and_validate(scheme, inbox, progress, workers), Path(out_root))
    if validated.error_count and not allow_errors:
        out_root.mkdir(parents=True, exist_ok=True)
        report_path = Path(out_root) / f"校验问题_{period}.xlsx"
        report.write_issue_report(report_path, scheme.meta, validated.issues_table)
        write_unit_issue_books(report_path, scheme.meta, validated.issues_table, scheme.unit_names())
        exc = DataErrorsPresent(f"发现 {validated.error_count} 个错误，未计分。问题清单见 {report_path}；"
                                "请各单位更正后重新运行，或加 --allow-errors 将出错的单元格留空不计分")
        exc.validated = validated  # the CLI shows the table
        raise exc
    last_year = last_year_values(Path(out_root), period) if progress_mod.is_progress_mode(scheme.meta.period_type) else None
    results = score_period(scheme, validated, last_year)
    folder, files = write_period(results, inbox, Path(out_root), issued_on=issued_on or date.today(),
                                 template_dir=template_dir, progress=progress, workers=workers, compare_to=compare_to)
    return RunOutcome(results, folder, files)


def cpu_workers() -> int:
    return max(1, os.cpu_count() or 1)


__all__ = ["check", "run", "score_period", "default_scheme_path", "CheckOutcome", "RunOutcome", "Results", "issues_frame"]
