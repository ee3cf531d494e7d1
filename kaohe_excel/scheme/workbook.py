"""The scheme workbook (考核方案): load it, check it against the contract in domain.md,
and expand it into one row per unit × applicable indicator.

Every problem found is collected; a scheme with any problem raises `SchemeInvalid`
listing each sheet, row and what to fix, so the office fixes them all in one pass.

What the scheme cannot mean is never guessed:
- numbers: a cell of a numeric column that is not a number (text, TRUE, "1e400", "inf",
  "nan") is an error at its cell, never read as empty;
- shares (基本分比例, 上限系数, 优秀比例上限, 档次表 下限 and 得分比例, 权重, 核对容差) all
  follow `read_share`: with % they are percent, bare numbers up to the parameter's ratio
  limit are ratios, bare numbers from 5 to 100 × that limit are percent, anything else is
  an error; one 档次表 (or one group's 权重) mixing bare ratios and bare percents is an error;
- 等次 from the top grade down with strictly falling 最低分, the lowest at 0 (or below);
- 档次表: no repeated 下限 or 等级, a higher 下限 never gives a lower 得分比例;
- 权重: every group with units gets weights (its own rows, else the rows without 考核类别)
  that sum to 100% and cover every 一级指标 it has indicators in, and no weight sits on a
  一级指标 without indicators for that group; weights are kept in percent points (sum 100);
- a parameter the indicator's method never reads (档次表, 上限系数, 不允许值, 每项分值) is an
  error rather than silently ignored.

The code: scheme_sheets reads the workbook (column tables, cells, fingerprint), scheme_cells reads
one cell (numbers, shares, the problem list), scheme_rows checks each sheet's rows; this module
holds the Scheme, its unit × indicator assignments and the checks on them, and `load_scheme`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kaohe_excel.base.errors import SchemeInvalid, SchemeNotFound
from kaohe_excel.base.memory import release_unused
from kaohe_excel.scheme.scheme_cells import (
    ADJUSTMENT_KINDS,
    ALL_GROUPS,
    BASE_SHARE_RULE,
    CAP_RULE,
    DIRECTIONS,
    LOWER_RULE,
    MISSING_RULES,
    NO,
    QUOTA_RULE,
    RATING_SHARE_RULE,
    SOURCES,
    TIER_SHARE_RULE,
    TOLERANCE_RULE,
    TOTAL_MODES,
    VETO_EFFECTS,
    WEIGHT_RULE,
    YES,
    ShareReading,
    ShareRule,
    _check_one_scale,
    _Problems,
    parse_number,
    parse_share,
    read_share,
    split_groups,
)
from kaohe_excel.scheme.scheme_rows import (
    SchemeMeta,
    _parse_adjustments,
    _parse_grades,
    _parse_group_quotas,
    _parse_indicators,
    _parse_meta,
    _parse_targets,
    _parse_tiers,
    _parse_units,
    _parse_weights,
)
from kaohe_excel.scheme.scheme_sheets import (
    ADJUSTMENT_COLUMNS,
    CONTRACT_SHEETS,
    GRADE_COLUMNS,
    INDICATOR_COLUMNS,
    META_KEYS,
    PARAMETER_COLUMNS,
    STRUCTURAL_PROBLEMS,
    TARGET_COLUMNS,
    TIER_COLUMNS,
    UNIT_COLUMNS,
    WEIGHT_COLUMNS,
    _read_sheets,
    _table_rows,
    fingerprint_sheets,
)
from kaohe_excel.scoring import methods as _methods
from kaohe_excel.scheme import rating_scheme as _rating_scheme

# what callers and tests import from here (the contract's tables, the share rules, the readers)
__all__ = [
    "ADJUSTMENT_COLUMNS", "ADJUSTMENT_KINDS", "ALL_GROUPS", "BASE_SHARE_RULE", "CAP_RULE", "CONTRACT_SHEETS", "DIRECTIONS",
    "GRADE_COLUMNS", "INDICATOR_COLUMNS", "LOWER_RULE", "META_KEYS", "MISSING_RULES", "QUOTA_RULE", "RATING_SHARE_RULE",
    "SOURCES", "TARGET_COLUMNS", "TIER_COLUMNS", "TIER_SHARE_RULE", "TOLERANCE_RULE", "TOTAL_MODES", "UNIT_COLUMNS",
    "VETO_EFFECTS", "WEIGHT_COLUMNS", "WEIGHT_RULE", "Scheme", "SchemeMeta", "ShareReading", "ShareRule",
    "fingerprint_sheets", "load_scheme", "parse_number", "parse_share", "read_share", "split_groups",
]


@dataclass
class Scheme:
    meta: SchemeMeta
    grades: pd.DataFrame
    units: pd.DataFrame
    indicators: pd.DataFrame
    unit_targets: pd.DataFrame
    tier_tables: pd.DataFrame
    weights: pd.DataFrame
    adjustments: pd.DataFrame
    fingerprint: str
    path: Path | None = None
    # [group, share, rounding, at_least_one] of the groups listed in 类别 (the others use 方案's quota)
    group_quotas: pd.DataFrame | None = None
    # w-rating: the 测评 and 测评人 sheets (rating_scheme); empty frames when the scheme has none
    ratings: pd.DataFrame = field(default_factory=lambda: _rating_scheme.empty_ratings())
    raters: pd.DataFrame = field(default_factory=lambda: _rating_scheme.empty_raters())

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.units["group"]))

    def assignments(self) -> pd.DataFrame:
        """One row per unit × applicable indicator with effective parameters (目标分解 applied)."""
        return _assignments(self)

    def unit_names(self) -> dict[str, str]:
        return dict(zip(self.units["unit_code"], self.units["unit_name"]))


# ---------------------------------------------------------------- assignments


def _assignments(scheme: Scheme) -> pd.DataFrame:
    indicators = scheme.indicators.drop(columns=["xlsx_row"], errors="ignore")
    units = scheme.units[["unit_code", "unit_name", "group"]]
    all_groups = indicators["groups"].map(lambda g: g == ALL_GROUPS)
    per_group = indicators.loc[~all_groups, ["indicator_code", "groups"]].explode("groups").rename(columns={"groups": "group"})
    everywhere = indicators.loc[all_groups, ["indicator_code"]].merge(pd.DataFrame({"group": scheme.groups}), how="cross")
    pairs = pd.concat([everywhere, per_group], ignore_index=True).dropna()
    frame = units.merge(pairs, on="group").merge(indicators.drop(columns=["groups"]), on="indicator_code")
    targets = scheme.unit_targets.drop(columns=["xlsx_row"], errors="ignore")
    frame = frame.merge(targets, on=["unit_code", "indicator_code"], how="left", suffixes=("", "_unit"))
    for column in PARAMETER_COLUMNS:
        override = frame[f"{column}_unit"]
        frame[column] = override.where(override.notna(), frame[column]).astype(float)
    frame["exempt"] = frame["exempt"].fillna(False).astype(bool)
    frame = frame.drop(columns=[f"{c}_unit" for c in PARAMETER_COLUMNS])
    unit_order = {code: i for i, code in enumerate(units["unit_code"])}
    frame["_unit_order"] = frame["unit_code"].map(unit_order)
    frame = frame.sort_values(["_unit_order", "order"], kind="stable").drop(columns="_unit_order")
    return frame.reset_index(drop=True)


def _check_parameters(scheme: Scheme, problems: _Problems) -> None:
    """Parameters a method needs, checked per unit after 目标分解 (a target may come from either sheet)."""
    frame = scheme.assignments()
    frame = frame[~frame["exempt"]]
    higher = frame["direction"] == "higher"
    checks = []
    by_method = frame.groupby("method", sort=False).indices  # one pass, not a mask per method
    for name, method in _methods.METHODS.items():
        if name not in by_method:
            continue
        rows = frame.iloc[by_method[name]]
        covered = {code for check in method.checks for code in check.columns}
        for code in PARAMETER_COLUMNS:  # a required threshold no check of the method tests: present at least
            if method.status(code) == _methods.REQUIRED and code not in covered:
                checks.append((rows.index[rows[code].isna()], f"须有「{_methods.LABELS[code]}」"))
        for check in method.checks:
            failed = check.test(rows, higher.loc[rows.index]).fillna(False).astype(bool)
            checks.append((rows.index[failed], check.message))
    targets = scheme.unit_targets
    target_rows = dict(zip(zip(targets["unit_code"], targets["indicator_code"]), targets["xlsx_row"]))
    indicator_rows = dict(zip(scheme.indicators["indicator_code"], scheme.indicators["xlsx_row"]))
    seen: set[tuple[str, str]] = set()
    for failed, text in checks:
        if not len(failed):  # the usual case: taking an empty selection of a city's frame still costs
            continue
        for row in frame.loc[failed].itertuples():
            key = (row.indicator_code, text)
            if key in seen:
                continue
            seen.add(key)
            if (row.unit_code, row.indicator_code) in target_rows:
                problems.add("目标分解", target_rows[(row.unit_code, row.indicator_code)],
                             f"单位「{row.unit_code}」的指标「{row.indicator_code}」（{row.method}法）{text}")
            else:
                problems.add("指标", indicator_rows.get(row.indicator_code),
                             f"指标「{row.indicator_code}」（{row.method}法，单位「{row.unit_code}」等）{text}")


# ---------------------------------------------------------------- entry point

def load_scheme(path: str | Path) -> Scheme:
    """Load and check the scheme workbook; raise SchemeInvalid listing every problem.

    >>> scheme = load_scheme("templates/scheme.xlsx")  # doctest: +SKIP
    >>> scheme.meta.period
    '2024'
    """
    path = Path(path)
    if not path.is_file():
        raise SchemeNotFound(f"找不到考核方案文件：{path}")
    sheets = _read_sheets(path)
    problems = _Problems()
    meta = _parse_meta(sheets, problems)
    grades = _parse_grades(sheets, problems)
    units = _parse_units(sheets, problems)
    groups = list(dict.fromkeys(units["group"]))
    tiers = _parse_tiers(sheets, problems)
    indicators = _parse_indicators(sheets, problems, groups, tiers, meta)
    unit_targets = _parse_targets(sheets, problems, units, indicators)
    weights = _parse_weights(sheets, problems, indicators, groups)
    adjustments = _parse_adjustments(sheets, problems)
    group_quotas = _parse_group_quotas(sheets, problems, groups)
    for group in groups:
        applies = indicators["groups"].map(lambda g, group=group: g == ALL_GROUPS or group in g)
        if not applies.any():
            problems.add("指标", None, f"考核类别「{group}」没有任何适用指标")
    scheme = Scheme(meta, grades, units, indicators, unit_targets, tiers, weights, adjustments,
                    fingerprint_sheets(sheets), path, group_quotas)
    scheme.ratings, scheme.raters = _rating_scheme.parse_ratings(
        sheets, problems, indicators, groups, _table_rows, read_share, RATING_SHARE_RULE, WEIGHT_RULE,
        _check_one_scale, split_groups, YES, NO, ALL_GROUPS)
    structural = [item for item in problems.items if item[1] is None and item[2].startswith(STRUCTURAL_PROBLEMS)]
    if structural:
        # a missing sheet or header row makes every row that refers to it look wrong too: say only the cause
        problems.items = structural
    if not problems.items:
        _check_parameters(scheme, problems)
    if problems.items:
        raise SchemeInvalid(f"考核方案「{path.name}」有 {len(problems.items)} 处问题，请修改后重试：", problems.items)
    scheme.unit_targets = unit_targets.drop(columns="xlsx_row")
    release_unused()  # the parameter check's unit × indicator table
    return scheme
