"""The period folder (outputs/<period>/): written whole or not at all.

A run writes everything into a staging folder beside the target and renames it into
place at the end, so an interrupted run never leaves half a period. The folder keeps
the inputs byte for byte, the scheme used, the results in a lossless form, and a
manifest with the SHA-256 of every file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from datetime import date, datetime
from pathlib import Path
from typing import Callable

import pandas as pd

from . import __version__, notice, report
from .errors import PeriodSealed
from .safety import safe_filename

MANIFEST = "manifest.json"
SEAL_FILE = "SEALED.json"
INPUTS_DIR = "inputs"
FEEDBACK_DIR = "反馈"
SUMMARY_NAME = "汇总表.xlsx"
NOTICE_NAME = "通报.docx"
SCHEME_COPY = "scheme.xlsx"
RESULTS_PARQUET = {"scores": "scores.parquet", "totals": "totals.parquet", "adjustments": "adjustments.parquet",
                   "values": "values.parquet", "issues": "issues.parquet"}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def is_sealed(folder: Path) -> bool:
    return (folder / SEAL_FILE).is_file()


def period_folders(out_root: Path) -> list[Path]:
    """Archived periods (folders holding a manifest), oldest period id first; re-run backups excluded."""
    if not out_root.is_dir():
        return []
    found = [p for p in out_root.iterdir() if p.is_dir() and (p / MANIFEST).is_file() and not p.name.startswith(".")
             and "." not in p.name]
    return sorted(found, key=lambda p: p.name)


def previous_period(out_root: Path, period: str, compare_to: str | None = None) -> Path | None:
    """The baseline for 纵向 comparison: --compare-to, else the latest sealed period before this one
    (falling back to the latest unsealed one when none is sealed)."""
    if compare_to:
        folder = out_root / compare_to
        return folder if (folder / MANIFEST).is_file() else None
    earlier = [p for p in period_folders(out_root) if p.name < period]
    sealed = [p for p in earlier if is_sealed(p)]
    if sealed:
        return sealed[-1]
    return earlier[-1] if earlier else None


def _copy_inputs(validated, inbox: Path, target: Path) -> list[dict]:
    """Copy every received file byte for byte; the hash must match the one taken when read."""
    records = []
    for result in validated.files:
        source = Path(result.path)
        destination = target / result.name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        records.append({"name": result.name, "sha256_at_read": result.sha256})
    return records


def _lossless_results(results, folder: Path) -> None:
    """Parquet keeps dtypes and full precision: the tool re-reads these, people read the csv."""
    frames = {
        "scores": results.scored.drop(columns=[c for c in ("groups",) if c in results.scored.columns]),
        "totals": results.ranked.assign(flags=results.ranked["flags"].map(lambda f: "；".join(f) if isinstance(f, list) else str(f or ""))),
        "adjustments": results.adjustments,
        "values": results.validated.values,
        "issues": results.validated.issues_table,
    }
    for key, frame in frames.items():
        clean = frame.copy()
        for column in clean.columns:
            if clean[column].dtype == object:
                clean[column] = clean[column].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else v)
                if clean[column].map(lambda v: isinstance(v, (list, dict))).any():
                    clean[column] = clean[column].map(lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v)
        clean.to_parquet(folder / RESULTS_PARQUET[key], index=False)


def build_manifest(folder: Path, period: str, fingerprint: str, inputs: list[dict]) -> dict:
    files = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.name not in (MANIFEST, SEAL_FILE)):
        files.append({"path": path.relative_to(folder).as_posix(), "size": path.stat().st_size, "sha256": sha256_file(path)})
    return {
        "period": period,
        "scheme_fingerprint": fingerprint,
        "tool_version": __version__,
        "created_at": datetime.now().astimezone().isoformat(timespec="seconds"),
        "inputs": inputs,
        "files": files,
    }


def write_period(results, inbox: Path, out_root: Path, issued_on: date, template_dir: Path = Path("templates"),
                 progress: Callable[[str, int, int], None] | None = None, workers: int | None = None,
                 compare_to: str | None = None) -> tuple[Path, list[Path]]:
    """Write all outputs of a period atomically; returns the period folder and the files written."""
    scheme = results.scheme
    period = scheme.meta.period
    out_root.mkdir(parents=True, exist_ok=True)
    target = out_root / period
    if is_sealed(target):
        raise PeriodSealed(f"{period} 期已封存，不能覆盖。如确需重算，请先由考核办负责人确认后手工解除封存（删除 {target / SEAL_FILE}），"
                           f"或用 --out 指定另一个输出目录")
    staging = out_root / f".{period}.staging-{os.getpid()}-{int(time.time() * 1000)}"
    staging.mkdir()
    try:
        baseline = previous_period(out_root, period, compare_to)
        previous = report.load_previous(baseline) if baseline is not None else None
        meta = scheme.meta
        issues = results.validated.issues_table
        report.write_summary(staging / SUMMARY_NAME, meta, scheme.grades, results.scored, results.ranked,
                             results.adjustments, results.validated.values, issues, results.validated.missing_units,
                             previous=previous)
        template = template_dir / "通报.docx"
        notice.write_notice(staging / NOTICE_NAME, template if template.is_file() else None, meta, results.ranked,
                            scheme.grades, issued_on)
        report.write_all_feedback(staging / FEEDBACK_DIR, meta, results.scored, results.ranked, previous=previous,
                                  workers=workers)
        report.write_csvs(staging, period, results.scored, results.ranked)
        _lossless_results(results, staging)
        inputs = _copy_inputs(results.validated, inbox, staging / INPUTS_DIR)
        if scheme.path is not None:
            shutil.copyfile(scheme.path, staging / SCHEME_COPY)
        manifest = build_manifest(staging, period, scheme.fingerprint, inputs)
        if baseline is not None:
            manifest["compared_to"] = baseline.name
        (staging / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
        if target.exists():
            stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
            target.rename(out_root / f"{period}.{stamp}")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = sorted(p for p in target.rglob("*") if p.is_file())
    return target, files
