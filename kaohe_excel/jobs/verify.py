"""Verifying an archived period (`kaohe verify`): every file against the manifest, the results
re-scored from the archived scheme and inputs, and the outputs rendered again and compared.

The re-scoring itself is the job's (pipeline.verify_period); this module checks the folder and
compares what was archived with what was recomputed.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from kaohe_excel.storage.archive import (
    FEEDBACK_DIR,
    MANIFEST,
    NOTICE_TEMPLATE_COPY,
    SEAL_FILE,
    check_files,
    find_period,
    is_sealed,
    read_seal,
    period_folder,
    read_manifest,
    read_results,
    sha256_file,
)
from kaohe_excel.base.errors import ArchiveDamaged
from kaohe_excel.outputs.rederive import compare_outputs
from kaohe_excel.scoring.score import round_half_up

DIFF_COLUMNS = ["unit_code", "indicator_code", "field", "archived", "recomputed"]
_TOTAL_FIELDS = {"indicator_total": "指标得分", "bonus": "加分", "deduction": "扣分", "total": "总分",
                 "rank": "排名", "grade": "等次", "vetoed": "否决"}
_SCORE_FIELDS = {"score": "得分", "status": "计分状态"}


@dataclass
class VerifyReport:
    """What `verify_period` found; `ok` only when every file and every result is identical."""

    period: str
    folder: Path
    sealed: bool = False
    files_checked: int = 0
    missing: list[str] = field(default_factory=list)   # in the manifest, not on disk
    changed: list[str] = field(default_factory=list)   # size or SHA-256 differs
    extra: list[str] = field(default_factory=list)     # on disk, not in the manifest
    problems: list[str] = field(default_factory=list)  # Chinese: what stopped or spoiled the check
    rescored: bool = False
    result_diffs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=DIFF_COLUMNS))
    outputs_checked: bool = False  # 汇总表, 通报, 反馈 and csv rendered again and compared
    output_diffs: list[str] = field(default_factory=list)  # Chinese: file, sheet and cell of each difference

    @property
    def ok(self) -> bool:
        return (self.rescored and self.outputs_checked and not self.missing and not self.changed and not self.extra
                and not self.problems and not len(self.result_diffs) and not self.output_diffs)

    def lines(self) -> list[str]:
        """Chinese lines describing every difference, for the CLI to show."""
        out = [f"文件缺失：{p}" for p in self.missing]
        out += [f"文件被改动：{p}" for p in self.changed]
        out += [f"清单外的文件：{p}" for p in self.extra]
        out += list(self.problems)
        for row in self.result_diffs.itertuples(index=False):
            where = row.unit_code + (f" / {row.indicator_code}" if row.indicator_code else "")
            out.append(f"结果不一致：{where} 的{row.field}，归档为「{row.archived}」，重算为「{row.recomputed}」")
        out += [f"输出文件不一致：{line}" for line in self.output_diffs]
        if self.ok:
            out.append(f"{self.period} 期核验通过：{self.files_checked} 个文件与清单一致，按归档的方案和报送文件重算结果完全相同，"
                       "汇总表、通报、反馈表和 csv 与重新生成的一致")
        return out


def check_archive(out_root: Path, period: str) -> tuple[VerifyReport, dict | None]:
    """The folder's files against its manifest (and the manifest against its seal); the manifest is
    None when it cannot be read, and then nothing can be re-scored.

    Raises PeriodNotFound only when the folder does not exist; everything else is reported.
    """
    folder = period_folder(Path(out_root), period)
    result = VerifyReport(period, folder, sealed=is_sealed(folder))
    manifest_path = folder / MANIFEST
    try:
        manifest = read_manifest(folder, "核对文件")
    except ArchiveDamaged as exc:
        if not manifest_path.is_file():
            result.missing.append(MANIFEST)
        result.problems.append(str(exc))
        return result, None
    result.files_checked = len(manifest.get("files", []))
    result.missing, result.changed, result.extra = check_files(folder, manifest)
    if manifest.get("period") != period:
        result.problems.append(f"清单中的考核周期为 {manifest.get('period')}，与文件夹 {period} 不一致")
    if result.sealed:
        seal = read_seal(folder)
        if seal.get("manifest_sha256") != sha256_file(manifest_path):
            result.problems.append(f"清单 {MANIFEST} 在封存后被改动（与封存记录 {SEAL_FILE} 中的校验值不符）")
    return result, manifest


def compare_results(result: VerifyReport, rescored) -> None:
    """Archived totals and scores against the re-scored ones, as printed in the outputs."""
    diffs = []
    for key, fields, keys, frame in (("totals", _TOTAL_FIELDS, ["unit_code"], rescored.ranked),
                                     ("scores", _SCORE_FIELDS, ["unit_code", "indicator_code"], rescored.scored)):
        try:
            archived = read_results(result.folder, key, f"比较{'总分' if key == 'totals' else '指标得分'}")
        except ArchiveDamaged as exc:
            result.problems.append(str(exc))
            continue
        diffs.append(_compare(archived, frame, keys, fields))
    result.result_diffs = pd.concat(diffs, ignore_index=True) if diffs else result.result_diffs
    result.rescored = len(diffs) == 2


def _printed(values: pd.Series, kind: str) -> pd.Series:
    """The value as printed in the outputs, as text, so the comparison is exact and NaN-safe."""
    if kind == "score":
        numbers = round_half_up(pd.to_numeric(values, errors="coerce"), 2)
        return pd.Series([f"{v:.2f}" if v == v else "" for v in numbers], index=values.index, dtype=object)
    if kind == "int":
        numbers = pd.to_numeric(values, errors="coerce")
        return pd.Series([str(int(v)) if v == v else "" for v in numbers], index=values.index, dtype=object)
    if kind == "bool":
        return pd.Series(["否" if pd.isna(v) or not bool(v) else "是" for v in values], index=values.index, dtype=object)
    return pd.Series(["" if pd.isna(v) else str(v) for v in values],
                     index=values.index, dtype=object)


def _normalised(frame: pd.DataFrame, keys: list[str], fields: dict[str, str]) -> pd.DataFrame:
    kinds = {"rank": "int", "vetoed": "bool", "grade": "text", "status": "text"}
    out = pd.DataFrame({k: frame[k].astype(object).map(lambda v: "" if pd.isna(v) else str(v)) for k in keys})
    for column in fields:
        source = frame[column] if column in frame.columns else pd.Series([None] * len(frame), index=frame.index)
        out[column] = _printed(source, kinds.get(column, "score")).to_numpy()
    return out


def _compare(archived: pd.DataFrame, recomputed: pd.DataFrame, keys: list[str], fields: dict[str, str]) -> pd.DataFrame:
    """Long table of every (key, field) whose printed value differs; a row on one side only counts too."""
    left = _normalised(archived, keys, fields)
    right = _normalised(recomputed, keys, fields)
    merged = left.merge(right, on=keys, how="outer", suffixes=("_a", "_r"), indicator=True)
    parts = []
    for column, label in fields.items():
        a = merged[f"{column}_a"].astype(object).where(merged["_merge"] != "right_only", "（无此行）")
        r = merged[f"{column}_r"].astype(object).where(merged["_merge"] != "left_only", "（无此行）")
        differs = a.ne(r)
        parts.append(pd.DataFrame({**{k: merged.loc[differs, k] for k in keys}, "field": label,
                                   "archived": a[differs], "recomputed": r[differs]}))
    diffs = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    if "indicator_code" not in keys:
        diffs["indicator_code"] = ""
    return diffs.reindex(columns=DIFF_COLUMNS).sort_values(["unit_code", "indicator_code"], kind="stable").reset_index(drop=True)


def check_outputs(result: VerifyReport, out_root: Path, manifest: dict, rescored, workers: int | None) -> None:
    """Render 汇总表, 通报, 反馈 and the csv files again from the re-scored results and compare them with
    the archived ones: a figure edited in what people read fails even with the manifest rewritten."""
    folder = result.folder
    try:
        issued_on = date.fromisoformat(str(manifest.get("issued_on", "")))
    except ValueError:
        result.problems.append(f"清单 {MANIFEST} 中没有成文日期（issued_on），无法重新生成通报和汇总表加以核对")
        return
    baseline = None
    if manifest.get("compared_to"):
        baseline = find_period(out_root, str(manifest["compared_to"]))
        if baseline is None or not (baseline / "totals.csv").is_file():
            result.problems.append(f"本期与 {manifest['compared_to']} 期作了纵向比较，但该期归档已不在「{out_root}」中，"
                                   "无法重新生成汇总表和反馈表加以核对")
            return
        recorded = manifest.get("compared_to_sha256")
        if isinstance(recorded, dict) and any(not (baseline / name).is_file() or sha256_file(baseline / name) != digest
                                              for name, digest in recorded.items()):
            result.problems.append(f"本期与 {manifest['compared_to']} 期作了纵向比较，但该期结果在本期运行后已改变（被重新计算或改动），"
                                   "无法按原样重新生成汇总表和反馈表加以核对；如该期确已重算，请重新运行本期")
            return
    template = folder / NOTICE_TEMPLATE_COPY
    with tempfile.TemporaryDirectory(prefix=".kaohe-verify-") as tmp:
        rendered = Path(tmp)
        from kaohe_excel.outputs.period_outputs import render_outputs

        render_outputs(rescored, rendered, baseline, issued_on, template if template.is_file() else None, workers)
        result.output_diffs = compare_outputs(folder, rendered)
        expected = {p.name for p in (rendered / FEEDBACK_DIR).glob("*") if p.is_file()}
        extra = sorted(p.name for p in (folder / FEEDBACK_DIR).glob("*") if p.is_file() and p.name not in expected)
        result.output_diffs += [f"{FEEDBACK_DIR}/{name}：重算结果中没有此单位的反馈表" for name in extra]
    result.outputs_checked = True
