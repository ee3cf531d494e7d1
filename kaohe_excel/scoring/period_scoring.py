"""Scoring one period (no I/O): the validated values, the lead departments' figures and the
复核 decisions in, scores, totals, ranks and grades out, as one Results for the output writers.
The jobs (pipeline.py) and the what-if simulation (simulate.py) both call score_period."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from kaohe_excel.scoring import progress as progress_mod
from kaohe_excel.inputs import appeal
from kaohe_excel.scoring import appeal_changes
from kaohe_excel.inputs import crosscheck
from kaohe_excel.scoring import interim
from kaohe_excel.scoring import rank
from kaohe_excel.scoring import score
from kaohe_excel.inputs import validate
from kaohe_excel.outputs.adjust_detail import with_claim_texts
from kaohe_excel.scheme.workbook import Scheme


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
    # 复核: the office's decisions, and every figure they changed (appeal_changes.compare), or None.
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
        from kaohe_excel.inputs.rating_validate import explain_scored

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
    ranked["unscored_count"] = rank.unscored_counts(ranked, scored)  # 含未计分指标 in 总排名 and the notice
    county = None
    if "county_total" in scheme.indicators and scheme.indicators["county_total"].notna().any():
        given = scheme.indicators[scheme.indicators["county_total"].notna()]
        county = crosscheck.county_total_check(values, dict(zip(given["indicator_code"], given["county_total"])),
                                               crosscheck.indicator_tolerances(scheme).to_dict(), scheme=scheme)
    results = Results(scheme, validated, scored, adjustments, ranked, table, elapsed, checks, county)
    if appeals is not None:
        # The same scoring without the decisions: what moved, including peers scored against the appellant.
        before = score_period(scheme, validated, last_year, with_appeals=False)
        results.appeals = appeals
        results.appeal_changes = appeal_changes.compare(before.scored, before.ranked, scored, ranked)
    return results


__all__ = ["Results", "score_period", "progress_tolerance"]
