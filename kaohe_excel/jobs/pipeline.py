"""The jobs behind the CLI commands, as plain functions: load, call the stages, return
an outcome the CLI maps to an exit code. Nothing here prints.

The one module above the stages: check, run (score, then store with archive.write_period and the
outputs this module chooses), verify, load a period, and reading the archived periods a
scheme's 平时 indicators average. The stages never import it.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable

import pandas as pd

from kaohe_excel.scoring import progress as progress_mod
from kaohe_excel.inputs import appeal
from kaohe_excel.storage import archive
from kaohe_excel.scoring import interim
from kaohe_excel.storage import interim_sources
from kaohe_excel.base import origin
from kaohe_excel.base import publication
from kaohe_excel.inputs import read, sniff
from kaohe_excel.outputs import report
from kaohe_excel.inputs import validate
from kaohe_excel.jobs import verify
from kaohe_excel.storage.archive import INPUTS_DIR, MANIFEST, NOTICE_TEMPLATE_COPY, SCHEME_COPY
from kaohe_excel.base.errors import (
    DataErrorsPresent,
    InboxEmpty,
    InboxNotFound,
    KaoheError,
    NoticeTemplateError,
    OutputInsideInbox,
    PeriodNotFound,
)
from kaohe_excel.outputs.issue_books import write_unit_issue_books
from kaohe_excel.base.issues import issues_frame
from kaohe_excel.base.memory import release_unused
from kaohe_excel.scoring.period_scoring import Results, score_period
from kaohe_excel.scheme.workbook import Scheme, load_scheme

DEFAULT_SCHEME_NAMES = ("考核方案.xlsx", "templates/scheme.xlsx")
Progress = Callable[[str, int, int], None]


def default_scheme_path() -> Path:
    """The scheme used when --scheme is not given: 考核方案.xlsx here, else the sample."""
    for name in DEFAULT_SCHEME_NAMES:
        if Path(name).is_file():
            return Path(name)
    return Path(DEFAULT_SCHEME_NAMES[0])


def scheme_in_use(scheme: Path | None) -> tuple[Path, str]:
    """The scheme a command uses (--scheme, else default_scheme_path) and a note for the screen;
    KaoheError saying how to get one when there is none."""
    if scheme is not None:
        return scheme, ""
    found = default_scheme_path()
    if not found.is_file():
        raise KaoheError("当前文件夹没有 考核方案.xlsx。新单位请先运行 kaohe init 文件夹名（生成示例方案和示例收件箱），"
                         "再进入该文件夹；或用 --scheme 指定方案文件")
    return found, "（示例方案）" if found.name == "scheme.xlsx" else ""


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


def refuse_empty_inbox(inbox: Path, stream: read.InboxStream | None = None) -> None:
    """No spreadsheet at all: one line, not one 未报送 error per unit. With the stream that will
    read the inbox, its listing (the inbox is then listed once)."""
    listing = getattr(stream, "listing", None)
    files = listing()[0] if listing is not None else read.list_inbox(inbox)[0]
    if not any(path.suffix.lower() in sniff.SPREADSHEET_SUFFIXES for path in files):
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


def inbox_stream(inbox: Path, progress: Progress | None = None, workers: int | None = None) -> read.InboxStream:
    """The inbox's files as they are read (nothing is read before the first is asked for)."""
    def step(done: int, total: int) -> None:
        if progress:
            progress("读取", done, total)

    return read.iter_inbox(inbox, workers=workers, progress=step)


def read_and_validate(scheme: Scheme, inbox: Path, progress: Progress | None = None,
                      workers: int | None = None, stream: read.InboxStream | None = None) -> validate.Validated:
    # Streamed: each file is validated as it arrives (in the reader pool), so its cells need not all be held at once.
    if stream is None:
        stream = inbox_stream(inbox, progress, workers)
    validated = validate.validate_stream(scheme, stream)
    # The judge holds the validator and its unit x indicator tables (a city's: ~270 MB); the caller
    # keeps the stream (to close it) through scoring and the outputs, and the output workers fork from it.
    stream.judge = None
    release_unused()
    return validated


def with_interim(scheme: Scheme, validated: validate.Validated, out_root: Path,
                 recorded: dict[str, list[str]] | None = None) -> validate.Validated:
    """The 平时 values read from the archived source periods, added to the Validated (no-op without 平时)."""
    return interim.attach(validated, interim_sources.load(scheme, Path(out_root), recorded))


def check(inbox: Path, scheme_path: Path, report_path: Path | None, out_root: Path = Path("outputs"),
          progress: Progress | None = None, workers: int | None = None) -> CheckOutcome:
    """Read and validate the inbox; write the issue list as a workbook the office can forward."""
    inbox = check_inbox_folder(inbox)
    stream = inbox_stream(inbox, progress, workers)
    try:
        scheme = load_scheme(scheme_path)
        if report_path is None:
            report_path = Path(out_root) / f"校验问题_{scheme.meta.period}.xlsx"
        refuse_inside_inbox(report_path, inbox, "校验报告")
        refuse_key_inside(scheme, inbox, Path(out_root))
        if interim.has_interim(scheme):
            interim_sources.source_folders(scheme, Path(out_root))  # a missing source period fails before reading
        refuse_empty_inbox(inbox, stream)
        validated = with_interim(scheme, read_and_validate(scheme, inbox, stream=stream), Path(out_root))
    finally:
        stream.close()
    report_path.parent.mkdir(parents=True, exist_ok=True)
    report.write_issue_report(report_path, scheme.meta, validated.issues_table)
    unit_reports = write_unit_issue_books(report_path, scheme.meta, validated.issues_table, scheme.unit_names())
    return CheckOutcome(scheme, validated, report_path, unit_reports)


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
    stream = inbox_stream(inbox, progress, workers)
    try:
        validated, scheme = _read_for_run(stream, inbox, scheme_path, out_root, period, compare_to)
    finally:
        stream.close()
    period = scheme.meta.period
    if validated.error_count and not allow_errors:
        out_root.mkdir(parents=True, exist_ok=True)
        report_path = Path(out_root) / f"校验问题_{period}.xlsx"
        report.write_issue_report(report_path, scheme.meta, validated.issues_table)
        write_unit_issue_books(report_path, scheme.meta, validated.issues_table, scheme.unit_names())
        exc = DataErrorsPresent(f"发现 {validated.error_count} 个错误，未计分。问题清单见 {report_path}；"
                                "请各单位更正后重新运行，或加 --allow-errors 将出错的单元格留空不计分")
        exc.validated = validated  # the CLI shows the table
        raise exc
    last_year = archive.last_year_values(Path(out_root), period) if progress_mod.is_progress_mode(scheme.meta.period_type) else None
    results = score_period(scheme, validated, last_year)
    release_unused()  # scoring's temporaries, before the output workers are forked
    folder, files = archive_period(results, Path(out_root), issued_on=issued_on or date.today(),
                                   template_dir=template_dir, workers=workers, compare_to=compare_to)
    return RunOutcome(results, folder, files)


def _read_for_run(stream: read.InboxStream, inbox: Path, scheme_path: Path, out_root: Path, period: str | None,
                  compare_to: str | None) -> tuple[validate.Validated, Scheme]:
    """run's checks that need the scheme (each fails before any reading), then the inbox read and validated."""
    scheme = load_scheme(scheme_path)
    if period is not None and period != scheme.meta.period:
        raise KaoheError(f"--period {period} 与考核方案中的考核周期 {scheme.meta.period} 不一致，请核对方案或去掉 --period")
    period = scheme.meta.period
    refuse_inside_inbox(Path(out_root), inbox, "输出目录")
    refuse_key_inside(scheme, inbox, Path(out_root))
    archive.check_writable(Path(out_root), period)  # a sealed period fails before any reading
    if progress_mod.is_progress_mode(scheme.meta.period_type):
        progress_mod.elapsed_share(period, scheme.meta.period_type)  # a bad period id fails before reading too
    if compare_to is not None:
        if compare_to == period:
            raise KaoheError(f"--compare-to 不能是本期 {period}，请指定往期的考核周期")
        archive.period_folder(Path(out_root), compare_to)  # raises PeriodNotFound with a Chinese message
    if interim.has_interim(scheme):
        interim_sources.source_folders(scheme, Path(out_root))  # a missing source period fails before reading
    refuse_empty_inbox(inbox, stream)
    return with_interim(scheme, read_and_validate(scheme, inbox, stream=stream), Path(out_root)), scheme


def archive_period(results: Results, out_root: Path, issued_on: date, template_dir: Path = Path("templates"),
                   workers: int | None = None, compare_to: str | None = None) -> tuple[Path, list[Path]]:
    """Store a scored period under <out_root>/<period>/ with every output (archive.write_period).

    Raises PeriodSealed, OutputsLocked, PeriodNotFound (bad compare_to), InboxChanged.
    """
    issued_on = publication.issued_date(getattr(results.scheme.meta, "publication", None), issued_on)  # 方案 成文日期 wins
    writer = _period_writer(results, Path(out_root), issued_on, Path(template_dir), workers)
    return archive.write_period(results, Path(out_root), writer, compare_to=compare_to)


def _period_writer(results: Results, out_root: Path, issued_on: date, template_dir: Path,
                   workers: int | None) -> archive.OutputWriter:
    """The outputs of a run and what the manifest records about them, for archive.write_period."""
    scheme = results.scheme

    def write(staging: Path, baseline: Path | None) -> dict:
        from kaohe_excel.outputs import period_outputs  # the notice's docx libraries: `check` never loads them

        template = template_dir / "通报.docx"
        if template.is_file():  # kept so that `verify` can render the notice again, word for word
            shutil.copyfile(template, staging / NOTICE_TEMPLATE_COPY)
        try:
            period_outputs.render_outputs(results, staging, baseline, issued_on,
                                          staging / NOTICE_TEMPLATE_COPY if template.is_file() else None, workers)
        except NoticeTemplateError as exc:  # name the office's own template, not its copy in the hidden staging folder
            raise NoticeTemplateError(str(exc).replace(str(staging / NOTICE_TEMPLATE_COPY), str(template))) from None
        from kaohe_excel.web.dashboard import DASHBOARD_NAME, write_dashboard  # w-web: the offline 结果看板

        write_dashboard(staging / DASHBOARD_NAME, results, out_root)
        recorded: dict = {"issued_on": issued_on.isoformat()}
        win = publication.window(getattr(scheme.meta, "publication", None), issued_on)
        recorded["publication"] = {"start": win.start.isoformat(), "end": win.end.isoformat(), "days": win.days}
        if results.appeals is not None:  # w-appeal
            recorded["appeals"] = appeal.manifest_records(results.appeals)
        if baseline is not None:
            recorded["compared_to"] = baseline.name
            # what 纵向 columns were built from: verify tells a re-run baseline from an edited output
            recorded["compared_to_sha256"] = {name: archive.sha256_file(baseline / name)
                                              for name in ("totals.csv", "scores.csv") if (baseline / name).is_file()}
        if getattr(results.validated, "interim", None) is not None:  # w-interim: the source periods used
            recorded["interim_sources"] = interim.manifest_entry(results.validated.interim)
        return recorded

    return write


def verify_period(out_root: Path, period: str, workers: int | None = 1) -> verify.VerifyReport:
    """Re-hash every file against the manifest, re-score from the archived scheme and inputs, and
    render the outputs again to compare (`kaohe verify`).

    Raises PeriodNotFound only when the folder does not exist; everything else is reported.
    """
    out_root = Path(out_root)
    result, manifest = verify.check_archive(out_root, period)
    if manifest is None:
        return result
    scheme_path = result.folder / SCHEME_COPY
    if not scheme_path.is_file():
        result.problems.append(f"归档中没有方案文件 {SCHEME_COPY}，无法重算")
        return result
    try:
        scheme = load_scheme(scheme_path)
        if scheme.fingerprint != manifest.get("scheme_fingerprint"):
            result.problems.append("归档的方案内容与清单记录的方案指纹不一致")
        validated = read_and_validate(scheme, result.folder / INPUTS_DIR, workers=workers)
        if isinstance(manifest.get("interim_sources"), dict) or interim.has_interim(scheme):
            # w-interim: re-derived from the archived periods the run used, which must be unchanged
            result.problems += interim_sources.verify_sources(out_root, manifest.get("interim_sources"))
            recorded = (manifest.get("interim_sources") or {}).get("indicators")
            validated = with_interim(scheme, validated, out_root, recorded if isinstance(recorded, dict) else None)
        last_year = (archive.last_year_values(out_root, period)
                     if progress_mod.is_progress_mode(scheme.meta.period_type) else None)
        rescored = score_period(scheme, validated, last_year)
    except KaoheError as exc:
        result.problems.append(f"无法按归档的方案和报送文件重算：{str(exc).splitlines()[0]}")
        return result
    verify.compare_results(result, rescored)
    verify.check_outputs(result, out_root, manifest, rescored, workers)
    return result


def load_period(out_root: Path, period: str, workers: int | None = None) -> Results:
    """Rebuild the Results of an archived period from outputs/<period>/ (read only).

    The archive keeps the scheme and the inputs byte for byte but not the claims, so the
    inputs are read and validated again: exactly what the run saw.
    """
    folder = archive.find_period(Path(out_root), period)  # crash recovery first, as every lookup
    if folder is None or not (folder / MANIFEST).is_file() or not (folder / SCHEME_COPY).is_file():
        known = [p.name for p in archive.period_folders(Path(out_root))]
        raise PeriodNotFound(f"输出目录「{out_root}」下没有 {period} 期的完整归档（已有：{'、'.join(known) or '无'}）。"
                             "请检查期别或用 --out 指定输出目录")
    archive.read_manifest(folder, "读取该期归档")  # a damaged manifest is named, not read past
    scheme = load_scheme(folder / SCHEME_COPY)
    validated = read_and_validate(scheme, folder / INPUTS_DIR, workers=workers)
    return score_period(scheme, validated)


@dataclass
class TemplatePlan:
    """`kaohe template` once every target was checked: the scheme, where, which, and the signing key."""

    scheme: Scheme
    out: Path
    units: list[str] | None
    lead: bool
    key: origin.OfficeKey
    key_created: bool
    key_source: str


def prepare_templates(scheme_path: Path, out: Path, units: list[str] | None = None, lead: bool = False,
                      overwrite: bool = False) -> TemplatePlan:
    """Load the scheme, check the units and every target before the first is written (a refusal
    leaves the folder as it was), and find or create the office key that signs the templates."""
    from kaohe_excel.base.fsguard import check_output_dir
    from kaohe_excel.outputs.template_guard import refuse_overwrite
    from kaohe_excel.outputs.template_paths import planned_paths

    loaded = load_scheme(scheme_path)
    known = set(loaded.units["unit_code"])
    unknown = [u for u in (units or []) if u not in known]
    if unknown:
        raise KaoheError(f"单位代码不在方案中：{'、'.join(unknown)}")
    check_output_dir(out, "模板输出")
    refuse_overwrite(planned_paths(loaded, out, units=units or None, lead=lead), overwrite)
    location = origin.key_location(loaded)
    if not location.demo:
        origin.refuse_inside(location.path, out, "模板输出目录")
    key, created = origin.ensure_key(loaded)
    return TemplatePlan(loaded, Path(out), units or None, lead, key, created, location.source)


def write_command_templates(plan: TemplatePlan) -> list[Path]:
    """The files of `kaohe template`: each input kind's templates (inputs/kinds), in registration
    order. With lead, the 牵头单位 workbooks; else the units' templates and, for all units, the
    评定表, the 复核 workbook and the 测评 workbooks."""
    from kaohe_excel.inputs import kinds
    from kaohe_excel.outputs.template_paths import template_kinds

    paths: list[Path] = []
    for kind in template_kinds(plan.units, plan.lead):
        write = kinds.resolve(kind.template.write)
        extra = {"units": plan.units} if kind.template.scope == "units" else {}
        written = write(plan.scheme, plan.out, key=plan.key, **extra)
        paths.extend(written if isinstance(written, list) else [written])
    return paths


def unit_history(out_root: Path, unit: str | None = None) -> tuple[pd.DataFrame, list]:
    """archive.history, and KaoheError when `unit` is in none of the (readable) periods."""
    table, damaged = archive.history(out_root, unit=unit)
    if unit and table.empty and not damaged and not archive.history(out_root)[0].empty:
        raise KaoheError(f"各期归档中没有单位「{unit}」（按单位代码或单位名称查找），请核对；"
                         "不加 --unit 可列出全部单位")
    return table, damaged


def gap_rows(out_root: Path, period: str, unit: str | None = None) -> pd.DataFrame:
    """The 差距分析 rows of an archived period (gap.gap_sheet_rows): one unit's, or every unit's
    indicators that can still gain points."""
    from kaohe_excel.analysis import gap

    results = load_period(out_root, period, workers=cpu_workers())
    if unit is not None and unit not in set(results.scheme.units["unit_code"]):
        raise KaoheError(f"没有单位代码 {unit}")
    table = gap.gap_table(results.scored, results.scheme.tier_tables, results.scheme)
    rows = gap.gap_sheet_rows(table, unit)
    return rows[rows["可增加总分"] > 0] if unit is None else rows


def simulate_period(out_root: Path, period: str, sets: list[str]):
    """simulate.simulate on an archived period with the `--set` changes (malformed ones fail before any reading)."""
    from kaohe_excel.analysis import simulate

    changes = simulate.parse_changes(sets)
    results = load_period(out_root, period, workers=cpu_workers())
    return simulate.simulate(results, changes)


def cpu_workers() -> int:
    return max(1, os.cpu_count() or 1)


__all__ = ["check", "run", "archive_period", "verify_period", "load_period", "score_period", "default_scheme_path", "CheckOutcome", "RunOutcome", "Results", "issues_frame"]
