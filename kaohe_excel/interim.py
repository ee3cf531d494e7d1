"""平时考核 into the year: a 数据来源=平时 indicator's value is the mean of the unit's printed
总分 in archived earlier periods of the same year (its 来源周期, or every archived 季度 period,
else every 月度 one).

`interim_values` is pure (archived totals in, value rows, audit detail and issues out);
`attach` finds the source periods in the outputs root through archive's readers and adds the
values to a Validated before scoring, so `check`, `run` and `verify` see the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import ArchiveMismatch, InterimSourceMissing, KaoheError
from .issues import Issue, IssueCode, error, warning

INTERIM = "interim"
DETAIL_COLUMN = "interim_detail"  # in scored rows: [[period, printed total or None], ...]
PERIOD_SEPARATORS = ("、", ",", "，")
ARCHIVE_LABEL = "平时考核（归档）"
_KIND_ZH = {"quarter": "季度", "month": "月度"}


def split_periods(text: str) -> list[str]:
    for sep in PERIOD_SEPARATORS[1:]:
        text = text.replace(sep, PERIOD_SEPARATORS[0])
    return [part.strip() for part in text.split(PERIOD_SEPARATORS[0]) if part.strip()]


def check_source_periods(frame: pd.DataFrame, meta, problems) -> None:
    """Scheme check (called by scheme._parse_indicators): 来源周期 spelled as period ids of the
    scheme's year, never the period itself; 平时 only on a 年度 scheme. Leaves them 、-joined."""
    from .progress import parse_period
    from .tables import clean_text

    raw = frame["source_periods"].map(clean_text) if "source_periods" in frame.columns else pd.Series("", index=frame.index)
    lists = []
    own = None
    if meta is not None:
        try:
            own = parse_period(meta.period)
        except KaoheError:
            own = None
    for row, text in zip(frame.itertuples(), raw):
        where = f"指标「{row.indicator_code or row.name}」"
        periods = split_periods(text)
        lists.append(periods)
        if row.source != "平时":
            if periods:
                problems.add("指标", row.xlsx_row, f"{where}的数据来源不是平时，不使用「来源周期」：请删去该格内容，或把数据来源改为平时")
            continue
        if meta is not None and meta.period_type != "年度":
            problems.add("指标", row.xlsx_row, (
                f"{where}的数据来源为平时（取往期总分的平均），只能用于年度考核方案，本方案周期类型为{meta.period_type}："
                "请在年度方案中使用，或改为自报、评定"))
            continue
        seen = set()
        for period in periods:
            try:
                year, kind, _ = parse_period(period)
            except KaoheError:
                problems.add("指标", row.xlsx_row, (
                    f"{where}的「来源周期」中「{period}」不是考核周期：季度写作 2024Q1，月度写作 2024-01，"
                    "多个周期用顿号分隔（如 2024Q1、2024Q2、2024Q3、2024Q4）"))
                continue
            if period in seen:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」重复")
            seen.add(period)
            if kind == "year":
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」是年度周期：平时考核取本年的季度或月度考核结果")
            elif own is not None and year != own[0]:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」中「{period}」不在本考核年度 {own[0]} 年内")
            if meta is not None and period == meta.period:
                problems.add("指标", row.xlsx_row, f"{where}的「来源周期」不能包含本期 {period}")
    # kept as text (、-joined): a list column would ride along into every unit × indicator frame
    frame["source_periods"] = pd.Series(["、".join(ps) for ps in lists], index=frame.index, dtype=object)


# --------------------------------------------------------------------------- pure computation


def interim_values(rows: pd.DataFrame, totals: pd.DataFrame, sealed: dict[str, bool]) -> tuple[pd.DataFrame, pd.DataFrame, list[Issue]]:
    """rows: unit_code, indicator_code, periods (list of source period names) of the 平时 cells
    that are assessed (not 不考核); totals: period, unit_code, total (the printed 总分).

    Returns (values with validate.VALUE_COLUMNS, detail with unit_code, indicator_code, detail,
    note, and the issues): value = mean of the totals found, half-up to 2 decimals.
    """
    from .score import round_half_up
    from .validate import VALUE_COLUMNS

    issues: list[Issue] = []
    for period in sorted({p for ps in rows["periods"] for p in ps}):
        if not sealed.get(period, False):
            issues.append(warning(IssueCode.interim_unsealed, (
                f"平时考核的来源周期 {period} 尚未封存：本期按其当前归档的总分计算。该期结果确定后请封存"
                f"（kaohe seal {period}），封存后如有改动，年度结果核验时会指出"), sheet=period))
    long = rows[["unit_code", "indicator_code", "periods"]].explode("periods").rename(columns={"periods": "period"})
    long = long.dropna(subset=["period"]).reset_index(drop=True)
    long["_seq"] = np.arange(len(long))
    printed = totals.assign(total=round_half_up(pd.to_numeric(totals["total"], errors="coerce"), 2)).dropna(subset=["total"])
    long = long.merge(printed.drop_duplicates(["period", "unit_code"])[["period", "unit_code", "total"]],
                      on=["period", "unit_code"], how="left").sort_values("_seq", kind="stable")
    found = long["total"].notna()
    long["shown"] = long["period"].astype(str) + " " + long["total"].map(lambda v: f"{v:.2f}" if v == v else "未参加考核")
    keys = ["unit_code", "indicator_code"]
    cents = (long["total"] * 100).round().where(found)
    grouped = long.assign(_c=cents, _n=found.astype(int)).groupby(keys, sort=False)
    summary = grouped.agg(cents=("_c", "sum"), n=("_n", "sum"), shown=("shown", "、".join)).reset_index()
    summary["value"] = round_half_up(summary["cents"] / summary["n"].where(summary["n"] > 0) / 100, 2)
    summary["note"] = ("平时考核：" + summary["shown"] + "，平均 "
                       + summary["value"].map(lambda v: f"{v:.2f}" if v == v else "—") + "；")
    pairs = long[keys + ["period", "total"]].groupby(keys, sort=False)
    detail_lists = pairs.apply(lambda g: [[p, None if t != t else float(t)] for p, t in zip(g["period"], g["total"])],
                               include_groups=False).rename("detail").reset_index()
    summary = summary.merge(detail_lists, on=keys, how="left")
    absent = long[~found].groupby(keys, sort=False)["period"].agg("、".join).rename("absent").reset_index()
    summary = summary.merge(absent, on=keys, how="left")
    for row in summary[summary["absent"].notna()].itertuples():
        if row.n == 0:
            issues.append(error(IssueCode.interim_missing, (
                f"单位「{row.unit_code}」在来源周期 {row.absent} 的归档中都没有总分，平时考核指标「{row.indicator_code}」无法取值。"
                "请核对该单位各期的单位代码是否一致，或在「目标分解」中将其标为不考核"),
                sheet=ARCHIVE_LABEL, unit=row.unit_code, indicator=row.indicator_code))
        else:
            issues.append(warning(IssueCode.interim_partial, (
                f"单位「{row.unit_code}」未参加 {row.absent} 的考核，平时考核指标「{row.indicator_code}」"
                f"按其余 {row.n} 期的总分平均（{row.shown}）"),
                sheet=ARCHIVE_LABEL, unit=row.unit_code, indicator=row.indicator_code))
    scored_rows = summary[summary["n"] > 0]
    values = pd.DataFrame({
        "unit_code": scored_rows["unit_code"].to_numpy(dtype=object),
        "indicator_code": scored_rows["indicator_code"].to_numpy(dtype=object),
        "value": scored_rows["value"].to_numpy(dtype=float),
        "text_value": None, "evidence": "", "note": "",
        "file": ARCHIVE_LABEL, "sheet": "", "cell": "", "unscored": False,
    }, columns=VALUE_COLUMNS)
    return values, summary[keys + ["detail", "note"]].reset_index(drop=True), issues


# --------------------------------------------------------------------------- archive side


@dataclass
class InterimValues:
    values: pd.DataFrame
    detail: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)
    # what the manifest records: source period -> its manifest's and totals' sha256, code -> periods used
    sources: dict[str, dict] = field(default_factory=dict)
    used: dict[str, list[str]] = field(default_factory=dict)


def _interim_rows(scheme) -> pd.DataFrame:
    indicators = scheme.indicators[scheme.indicators["source"] == INTERIM]
    return indicators


def has_interim(scheme) -> bool:
    return bool((scheme.indicators["source"] == INTERIM).any())


def source_folders(scheme, out_root: Path, recorded: dict[str, list[str]] | None = None) -> dict[str, list[Path]]:
    """indicator code -> the archived folders it averages; InterimSourceMissing when one is missing."""
    from .archive import period_folders
    from .progress import parse_period

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
    from .archive import MANIFEST, RESULTS_PARQUET, sha256_file

    names = {"manifest_sha256": MANIFEST, "totals_sha256": RESULTS_PARQUET["totals"], "totals_csv_sha256": "totals.csv"}
    return {key: sha256_file(folder / name) for key, name in names.items() if (folder / name).is_file()}


def _vouched_totals(folder: Path, doing: str) -> pd.DataFrame:
    """The period's archived totals, only when the file read is the one its manifest (and, once
    sealed, its seal record) vouches for: an edit after archiving would otherwise flow silently
    into the year's 平时 score, noticed by no one until a later verify of the year."""
    from .archive import MANIFEST, RESULTS_PARQUET, SEAL_FILE, _read_json, is_sealed, read_manifest, read_results, sha256_file

    name = RESULTS_PARQUET["totals"]
    todo = f"请用 kaohe verify {folder.name} 核验该期归档，或从备份恢复"
    where = f"平时考核的来源周期 {folder.name}"
    manifest = read_manifest(folder, doing)  # damaged or malformed: ArchiveDamaged names it
    if is_sealed(folder):
        seal = _read_json(folder / SEAL_FILE)
        recorded = seal.get("manifest_sha256") if isinstance(seal, dict) else None
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
    from .archive import is_sealed

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
    totals = pd.concat(parts, ignore_index=True)
    cells = scheme.assignments()
    cells = cells.loc[(cells["source"] == INTERIM) & ~cells["exempt"], ["unit_code", "indicator_code"]].copy()
    used = {code: [f.name for f in fs] for code, fs in folders.items()}
    cells["periods"] = cells["indicator_code"].map(used)
    sealed = {name: is_sealed(folder) for name, folder in distinct.items()}
    values, detail, issues = interim_values(cells, totals, sealed)
    return InterimValues(values, detail, issues, sources, used)


def attach(scheme, validated, out_root: Path, recorded: dict[str, list[str]] | None = None):
    """The Validated with the 平时 values and issues added (unchanged for a scheme without 平时)."""
    result = load(scheme, out_root, recorded)
    if result is None:
        return validated
    values = pd.concat([validated.values, result.values], ignore_index=True) if len(validated.values) else result.values
    validated.values = values
    validated.issues = list(validated.issues) + result.issues
    validated.interim = result
    return validated


def annotate(scored: pd.DataFrame, interim: InterimValues | None) -> pd.DataFrame:
    """Put each 平时 cell's periods and totals before its score explanation, and the per-period
    list in DETAIL_COLUMN for the feedback block."""
    if interim is None or not len(interim.detail):
        return scored
    keys = ["unit_code", "indicator_code"]
    merged = scored[keys].merge(interim.detail, on=keys, how="left")
    note = merged["note"].fillna("").to_numpy(dtype=object)
    out = scored.copy()
    out["explanation"] = note + out["explanation"].astype(object).fillna("").to_numpy(dtype=object)
    out[DETAIL_COLUMN] = merged["detail"].to_numpy(dtype=object)
    return out


def manifest_entry(interim: InterimValues) -> dict:
    return {"periods": interim.sources, "indicators": interim.used}


def verify_sources(out_root: Path, entry: object) -> list[str]:
    """Chinese problems: a source period whose archived totals changed since the year was run."""
    if not isinstance(entry, dict) or not isinstance(entry.get("periods"), dict):
        return []
    problems = []
    for name, recorded in entry["periods"].items():
        folder = Path(out_root) / name
        if not folder.is_dir():
            problems.append(f"平时考核的来源周期 {name} 的归档已不在「{out_root}」中，无法核对年度结果所用的往期总分")
            continue
        now = _totals_digest(folder)
        changed = [key for key in ("totals_sha256", "totals_csv_sha256") if key in recorded and now.get(key) != recorded[key]]
        if changed:
            problems.append(f"平时考核的来源周期 {name} 的归档总分在本期运行后已改变（被重新计算或改动）："
                            f"本期的平时考核得分按改变前的总分计算。请核查 {name} 期（kaohe verify {name}），确认后重新运行本期")
    return problems
