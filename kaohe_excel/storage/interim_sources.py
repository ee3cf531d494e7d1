"""Reading the source periods of 平时考核 from the outputs root, for the jobs (check, run, verify):
which archived folders an indicator averages, their totals only when the manifest (and seal)
vouch for them, and whether they changed since the year was run. The 平时 values themselves are
computed from what is read here by interim.compute.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from kaohe_excel.storage.archive import (
    MANIFEST,
    RESULTS_PARQUET,
    SEAL_FILE,
    find_period,
    is_sealed,
    period_folders,
    read_seal,
    read_manifest,
    read_results,
    sha256_file,
)
from kaohe_excel.base.errors import ArchiveMismatch, InterimSourceMissing, KaoheError
from kaohe_excel.scoring.interim import InterimValues, _interim_rows, compute, has_interim
from kaohe_excel.scoring.progress import parse_period
from kaohe_excel.scheme.source_periods import split_periods


def source_folders(scheme, out_root: Path, recorded: dict[str, list[str]] | None = None) -> dict[str, list[Path]]:
    """indicator code -> the archived folders it averages; InterimSourceMissing when one is missing."""
    out_root = Path(out_root)
    own_year = parse_period(scheme.meta.period)[0]
    folders = [f for f in period_folders(out_root) if f.name != scheme.meta.period]
    by_key = {}
    for folder in folders:
        try:
            by_key.setdefault(parse_period(folder.name), folder)
        except KaoheError:
            continue
    known = "、".join(f.name for f in folders) or "无"
    out: dict[str, list[Path]] = {}
    for row in _interim_rows(scheme).itertuples():
        listed = split_periods(str(row.source_periods or ""))
        if recorded is not None and row.indicator_code in recorded:
            listed = list(recorded[row.indicator_code])
        if listed:
            missing = [p for p in listed if parse_period(p) not in by_key]
            if missing:
                raise InterimSourceMissing(
                    f"平时考核指标「{row.indicator_code}」的来源周期 {'、'.join(missing)} 在输出目录「{out_root}」中没有归档"
                    f"（已有：{known}）。请先运行这些期的考核，或修改方案「指标」表的「来源周期」，或用 --out 指定归档所在的输出目录")
            out[row.indicator_code] = [by_key[parse_period(p)] for p in listed]
            continue
        found = []
        for kind in ("quarter", "month"):
            found = [by_key[k] for k in sorted(by_key) if k[0] == own_year and k[1] == kind]
            if found:
                break
        if not found:
            raise InterimSourceMissing(
                f"平时考核指标「{row.indicator_code}」的来源周期为空（取本年各季度或各月的考核结果），但输出目录「{out_root}」中"
                f"没有 {own_year} 年的季度（如 {own_year}Q1）或月度（如 {own_year}-01）归档（已有：{known}）。"
                "请先运行并归档各期考核，或在「来源周期」中写明所用期别，或用 --out 指定归档所在的输出目录")
        out[row.indicator_code] = found
    return out


def _totals_digest(folder: Path) -> dict:
    names = {"manifest_sha256": MANIFEST, "totals_sha256": RESULTS_PARQUET["totals"], "totals_csv_sha256": "totals.csv"}
    return {key: sha256_file(folder / name) for key, name in names.items() if (folder / name).is_file()}


def _vouched_totals(folder: Path, doing: str) -> pd.DataFrame:
    """The period's archived totals, only when the file read is the one its manifest (and, once
    sealed, its seal record) vouches for: an edit after archiving would otherwise flow silently
    into the year's 平时 score, noticed by no one until a later verify of the year."""
    name = RESULTS_PARQUET["totals"]
    todo = f"请用 kaohe verify {folder.name} 核验该期归档，或从备份恢复"
    where = f"平时考核的来源周期 {folder.name}"
    manifest = read_manifest(folder, doing)  # damaged or malformed: ArchiveDamaged names it
    if is_sealed(folder):
        seal = read_seal(folder)
        recorded = seal.get("manifest_sha256")
        if not isinstance(recorded, str):
            raise ArchiveMismatch(f"{where} 的封存记录「{folder / SEAL_FILE}」已损坏或缺少清单校验值，无法确认该期归档未被改动，"
                                  f"不能用其总分计算本期。{todo}")
        if recorded != sha256_file(folder / MANIFEST):
            raise ArchiveMismatch(f"{where} 的清单「{folder / MANIFEST}」在封存后被改动（与封存记录 {SEAL_FILE} 中的校验值不符），"
                                  f"不能用其总分计算本期。{todo}")
    listed = [entry["sha256"] for entry in manifest["files"] if entry["path"] == name]
    path = folder / name
    if not listed:
        raise ArchiveMismatch(f"{where} 的归档文件「{path}」不在该期清单 {MANIFEST} 中，无法确认其总分未被改动，"
                              f"不能用其总分计算本期。{todo}")
    if not path.is_file():
        return read_results(folder, "totals", doing)  # ArchiveDamaged: the file is missing
    changed = ArchiveMismatch(f"{where} 的归档文件「{path}」与该期清单 {MANIFEST} 中记录的校验值不符（归档后被改动），"
                              f"不能用其总分计算本期。{todo}")
    if sha256_file(path) != listed[0]:
        raise changed
    totals = read_results(folder, "totals", doing)
    # hashed again after reading: a file swapped while it was being read is not the one vouched for
    if sha256_file(path) != listed[0]:
        raise changed
    return totals


def load(scheme, out_root: Path, recorded: dict[str, list[str]] | None = None) -> InterimValues | None:
    """Read the source periods' archived totals and compute every 平时 value (None without 平时)."""
    if not has_interim(scheme):
        return None
    folders = source_folders(scheme, out_root, recorded)
    distinct = {f.name: f for fs in folders.values() for f in fs}
    sources = {name: _totals_digest(folder) for name, folder in distinct.items()}  # before reading: what was used
    parts = []
    for name, folder in distinct.items():
        totals = _vouched_totals(folder, "取平时考核的往期总分")
        parts.append(pd.DataFrame({"period": name, "unit_code": totals["unit_code"].astype(object),
                                   "total": pd.to_numeric(totals["total"], errors="coerce")}))
    sealed = {name: is_sealed(folder) for name, folder in distinct.items()}
    used = {code: [f.name for f in fs] for code, fs in folders.items()}
    return compute(scheme, pd.concat(parts, ignore_index=True), sealed, used, sources)


def verify_sources(out_root: Path, entry: object) -> list[str]:
    """Chinese problems: a source period whose archived totals changed since the year was run."""
    if not isinstance(entry, dict) or not isinstance(entry.get("periods"), dict):
        return []
    problems = []
    for name, recorded in entry["periods"].items():
        folder = find_period(Path(out_root), name)
        if folder is None:
            problems.append(f"平时考核的来源周期 {name} 的归档已不在「{out_root}」中，无法核对年度结果所用的往期总分")
            continue
        now = _totals_digest(folder)
        changed = [key for key in ("totals_sha256", "totals_csv_sha256") if key in recorded and now.get(key) != recorded[key]]
        if changed:
            problems.append(f"平时考核的来源周期 {name} 的归档总分在本期运行后已改变（被重新计算或改动）："
                            f"本期的平时考核得分按改变前的总分计算。请核查 {name} 期（kaohe verify {name}），确认后重新运行本期")
    return problems
