"""The product's scores against an independent reference (tests/reference_scoring.py, written
from domain.md alone) on random but valid schemes and inboxes.

Each seed builds a scheme with several groups of unequal size, every 计分方法 (反向 too),
exempt units (归一化 and 均值), per-unit targets, ties, bonus and deduction items with caps,
vetoes with per-item effects and per-group 优秀 quotas; writes it and the units' and office's
workbooks with the public API; reads, validates and scores them; and compares every unit's
indicator scores, 指标得分, 总分, 名次 and 等次 with the reference.

KAOHE_AUDIT_SEEDS=200 runs more seeds than the committed 20.
"""

from __future__ import annotations

import os
import random
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from conftest import write_workbook
from inbox_helpers import fill_assessment, fill_unit
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs import template
from kaohe_excel.scheme.workbook import load_scheme
from reference_scoring import (FAIL, HIGHER, LOWER, MEAN, NO_EXCELLENT, NORMALIZE, ZERO, GroupRule, Indicator, Item,
                               Spec, dec, reference_scores)

SEEDS = int(os.environ.get("KAOHE_AUDIT_SEEDS", "20"))
GRADES = [("优秀", Decimal(90)), ("良好", Decimal(80)), ("合格", Decimal(60)), ("不合格", Decimal(0))]
QUALITATIVE = {"定性": [(None, "优", Decimal(1)), (None, "良", Decimal("0.85")), (None, "中", Decimal("0.7")),
                        (None, "差", Decimal("0.4"))],
               "是否": [(None, "是", Decimal(1)), (None, "否", Decimal(0))]}
STEPS = {"阶梯A": [(Decimal("0.6"), None, Decimal("0.5")), (Decimal("0.8"), None, Decimal("0.75")),
                   (Decimal("1"), None, Decimal("1"))],
         "阶梯B": [(Decimal("0"), None, Decimal("0.3")), (Decimal("0.9"), None, Decimal("0.9")),
                   (Decimal("1.1"), None, Decimal("1"))]}
CATEGORIES = ["经济发展", "社会发展", "党的建设"]
METHODS = ["完成率", "基本满分", "功效系数", "阶梯", "差额扣分", "排名", "相对最优", "定性", "扣分"]


def _d(text) -> Decimal | None:
    return None if text is None else Decimal(str(text))


def _num(rng: random.Random, low: float, high: float, places: int = 2) -> Decimal:
    scale = 10 ** places
    return Decimal(rng.randint(int(low * scale), int(high * scale))) / scale


# ------------------------------------------------------------------ a random scheme
def make_spec(seed: int) -> Spec:
    rng = random.Random(seed)
    n_groups = rng.randint(2, 4)
    sizes = [rng.randint(1, 5) for _ in range(n_groups)]
    sizes[0] = max(sizes[0], rng.randint(4, 6))  # one group large enough for a quota and ties
    groups = [f"类{chr(65 + i)}" for i in range(n_groups)]
    units = [(f"U{g}{k:02d}", groups[g]) for g in range(n_groups) for k in range(1, sizes[g] + 1)]
    rng.shuffle(units)
    weighted = rng.random() < 0.25
    grades = rng.choice([GRADES, [("优秀", Decimal(85)), ("良好", Decimal("72.5")), ("合格", Decimal(60)),
                                  ("不合格", Decimal(0))]])
    spec = Spec(units=units, indicators=[], grades=grades,
                total_mode=rng.choice(["百分制", "原始分"]),
                bonus_cap=rng.choice([None, Decimal(3), Decimal("4.5")]),
                excellent_share=rng.choice([Decimal("0.2"), Decimal("0.3"), Decimal("0.5"), Decimal("0.35"),
                                            Decimal("0.25")]),
                veto_effect=rng.choice([NO_EXCELLENT, FAIL, ZERO]),
                tiers={**QUALITATIVE, **STEPS})
    methods = METHODS + [rng.choice(METHODS) for _ in range(rng.randint(1, 5))]
    for index, method in enumerate(methods):
        spec.indicators.append(_indicator(rng, f"Z{index + 1:02d}", method, groups, weighted))
    if weighted:  # every category in every group, so each has points available
        for category in CATEGORIES:
            spec.indicators.append(Indicator(f"W{len(spec.indicators)}", category, Decimal(5), "完成率",
                                             target=Decimal(100), source="评定"))
        own = rng.sample(groups, rng.randint(0, len(groups)))
        for group in [None] + own:
            shares = rng.choice([[30, 30, 40], [60, 25, 15], [20, 50, 30]])
            for category, share in zip(CATEGORIES, shares):
                spec.weights[(group, category)] = Decimal(share)
    for ind in spec.indicators:
        _unit_targets(rng, spec, ind)
        _values(rng, spec, ind)
    _items(rng, spec)
    _ties(rng, spec)
    if rng.random() < 0.6:
        _thresholds_at_totals(rng, spec)
    for group in groups:
        if rng.random() < 0.4:
            spec.group_rules[group] = GroupRule(rng.choice([Decimal("0.2"), Decimal("0.3"), Decimal("0.5"),
                                                            Decimal("0.25"), Decimal("0.1")]),
                                                rng.choice(["向下取整", "四舍五入"]), rng.random() < 0.5)
    return spec


def _indicator(rng: random.Random, code: str, method: str, groups: list[str], weighted: bool) -> Indicator:
    chosen = None if rng.random() < 0.5 else tuple(sorted(rng.sample(groups, rng.randint(1, len(groups)))))
    ind = Indicator(code, rng.choice(CATEGORIES), Decimal(rng.choice([5, 8, 10, 12.5, 15, 20, 3])), method,
                    groups=chosen, source=rng.choice(["自报", "评定"]),
                    missing_rule=rng.choice([NORMALIZE, NORMALIZE, MEAN]))
    lower = rng.random() < 0.4 and method not in ("定性", "扣分")
    ind.direction = LOWER if lower else HIGHER
    if method == "完成率":
        ind.target = rng.choice([Decimal(100), Decimal(80), Decimal("12.5"), Decimal("0.5"), Decimal(35)])
        ind.cap = rng.choice([None, Decimal("1.2"), Decimal("1.5"), Decimal(1)])
    elif method == "基本满分":
        base = rng.choice([Decimal(60), Decimal(8), Decimal("0.4")])
        full = base * rng.choice([Decimal("1.25"), Decimal("1.5")]) if not lower else base * Decimal("0.75")
        ind.base, ind.full = base, full
        ind.base_share = rng.choice([None, Decimal("0.5"), Decimal("0.7")])
    elif method == "功效系数":
        if rng.random() < 0.6:
            ind.full, ind.floor = (Decimal(12), Decimal(6)) if not lower else (Decimal(6), Decimal(12))
        ind.base_share = rng.choice([None, Decimal("0.6"), Decimal("0.5")])
    elif method == "阶梯":
        ind.tier_table = rng.choice(list(STEPS))
        ind.target = rng.choice([Decimal(100), Decimal("10.5"), Decimal(70)])
    elif method == "差额扣分":
        ind.points = Decimal(rng.choice([2, 5, 10]))
        ind.target = None if rng.random() < 0.4 else rng.choice([Decimal(20), Decimal("87.325"), Decimal(35)])
        ind.step = rng.choice([Decimal("0.1"), Decimal("0.5"), Decimal("0.25"), Decimal("0.2")])
    elif method == "排名":
        ind.step = rng.choice([None, None, Decimal(3), Decimal("1.5")])
        ind.base_share = rng.choice([None, Decimal("0.5"), Decimal("0.8")])
    elif method == "相对最优":
        pass
    elif method == "定性":
        ind.tier_table = rng.choice(list(QUALITATIVE))
    elif method == "扣分":
        ind.step = rng.choice([Decimal(1), Decimal("0.5"), Decimal(2)])
    return ind


def _unit_targets(rng: random.Random, spec: Spec, ind: Indicator) -> None:
    assessed = [u for u, g in spec.units if ind.groups is None or g in ind.groups]
    for unit in assessed:
        if rng.random() < 0.12:
            spec.unit_targets[(unit, ind.code)] = {"exempt": True}
        elif rng.random() < 0.15 and ind.method in ("完成率", "阶梯", "差额扣分") and ind.target is not None:
            spec.unit_targets[(unit, ind.code)] = {"target": ind.target * rng.choice([Decimal("0.8"), Decimal("1.2")])}
        elif rng.random() < 0.15 and ind.method == "功效系数" and ind.full is not None:
            spec.unit_targets[(unit, ind.code)] = {"full": ind.full - 1, "floor": ind.floor - 1}
        elif rng.random() < 0.15 and ind.method == "基本满分":
            spec.unit_targets[(unit, ind.code)] = {"base": ind.base * Decimal("0.8"), "full": ind.full * Decimal("0.9")}
    # keep at least one unit of each group assessed on the indicator (均值 needs peers)
    group_of = dict(spec.units)
    for group in dict.fromkeys(group_of.values()):
        members = [u for u in assessed if group_of[u] == group]
        if members and all(spec.unit_targets.get((u, ind.code), {}).get("exempt") for u in members):
            del spec.unit_targets[(members[0], ind.code)]


def _values(rng: random.Random, spec: Spec, ind: Indicator) -> None:
    lower = ind.direction == LOWER
    for unit, _ in spec.units:
        if not (ind.groups is None or dict(spec.units)[unit] in ind.groups):
            continue
        if spec.unit_targets.get((unit, ind.code), {}).get("exempt"):
            continue
        t = spec.unit_targets.get((unit, ind.code), {})
        method = ind.method
        if method in ("完成率", "阶梯"):
            target = t.get("target", ind.target)
            x = target * _num(rng, 0.5, 1.4, 3)
            if method == "阶梯" and rng.random() < 0.3:  # on a tier's 下限 exactly
                x = target * rng.choice([Decimal("0.6"), Decimal("0.8"), Decimal("0.9"), Decimal("1.1"),
                                         Decimal(1)])
                if lower:
                    x = target / rng.choice([Decimal("0.8"), Decimal("1"), Decimal("1.25"), Decimal("0.625")])
            if method == "完成率" and not lower and rng.random() < 0.08:
                x = rng.choice([Decimal(0), Decimal(-3)])
            x = x.quantize(Decimal("0.001"))
            if x == 0 and lower:
                x = Decimal("0.5")
        elif method == "基本满分":
            base, full = t.get("base", ind.base), t.get("full", ind.full)
            x = (base * _num(rng, 0.5, 1.7, 2)).quantize(Decimal("0.01"))
            if rng.random() < 0.25:
                x = rng.choice([base, full])
        elif method == "功效系数":
            x = _num(rng, 4, 14, 2)
        elif method == "差额扣分":
            target = t.get("target", ind.target)
            x = _num(rng, 10, 45, rng.choice([1, 2, 3])) if target is None else target - _num(rng, -5, 12, 3)
        elif method == "排名":
            x = Decimal(rng.randint(50, 60))  # few distinct values: ties
        elif method == "相对最优":
            x = _num(rng, 1, 200, 1)
        elif method == "定性":
            x = rng.choice([level for _, level, _ in spec.tiers[ind.tier_table]] + ["优"] * 2
                           if ind.tier_table == "定性" else ["是", "是", "否"])
        elif method == "扣分":
            x = Decimal(rng.choice([0, 0, 1, 2, 3, 7, 15]))
        spec.values[(unit, ind.code)] = x


def _ties(rng: random.Random, spec: Spec) -> None:
    """Make one unit of a group a copy of another now and then (targets, values, claims), so totals tie."""
    by_group: dict[str, list[str]] = {}
    for unit, group in spec.units:
        by_group.setdefault(group, []).append(unit)
    for members in by_group.values():
        while len(members) >= 2 and rng.random() < 0.6:
            source, copy = rng.sample(members, 2)
            for ind in spec.indicators:
                if (copy, ind.code) in spec.unit_targets:
                    del spec.unit_targets[(copy, ind.code)]
                spec.values.pop((copy, ind.code), None)
                if (source, ind.code) in spec.unit_targets:
                    spec.unit_targets[(copy, ind.code)] = dict(spec.unit_targets[(source, ind.code)])
                if (source, ind.code) in spec.values:
                    spec.values[(copy, ind.code)] = spec.values[(source, ind.code)]
            spec.claims = [c for c in spec.claims if c[0] != copy] + [(copy, i, n) for u, i, n in spec.claims
                                                                      if u == source]
            members = [m for m in members if m != copy]


def _thresholds_at_totals(rng: random.Random, spec: Spec) -> None:
    """等次 thresholds at printed totals of the scheme's own units: many reach 优秀 (the quota then
    decides, ties at its edge included), and some total equals a threshold exactly."""
    totals = sorted({r.total for r in reference_scores(spec).units.values()}, reverse=True)
    if len(totals) < 4:
        return
    top = totals[rng.randint(len(totals) // 3, len(totals) // 2)]
    lower = [t for t in totals if t < top]
    good, passing = lower[len(lower) // 3], lower[-1]
    if not (top > good > passing > 0):
        return
    spec.grades = [("优秀", top), ("良好", good), ("合格", passing), ("不合格", Decimal(0))]


def _items(rng: random.Random, spec: Spec) -> None:
    spec.items = [
        Item("J1", "加分", Decimal(1), Decimal(3)),
        Item("J2", "加分", Decimal("0.5"), None),
        Item("J3", "加分", Decimal("1.5"), Decimal(2)),
        Item("K1", "扣分", Decimal(1), Decimal(5)),
        Item("K2", "扣分", Decimal("0.2"), None),
        Item("K3", "扣分", rng.choice([Decimal(10), Decimal(30)]), None),
        Item("F1", "否决"),
        Item("F2", "否决", veto_effect=rng.choice([None, ZERO, FAIL, NO_EXCELLENT])),
        Item("F3", "否决", veto_effect=rng.choice([FAIL, NO_EXCELLENT])),
    ]
    for unit, _ in spec.units:
        for item in spec.items:
            chance = 0.06 if item.kind == "否决" else 0.25 if item.code != "K3" else 0.05
            if rng.random() < chance:
                spec.claims.append((unit, item.code, Decimal(1 if item.kind == "否决" else rng.randint(1, 5))))
                if item.kind == "加分" and rng.random() < 0.2:  # the same item on two rows
                    spec.claims.append((unit, item.code, Decimal(rng.randint(1, 3))))


# ------------------------------------------------------------------ the workbooks
def _cell(value):
    if value is None:
        return None
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def spec_share_text(spec: Spec) -> object:
    """优秀比例上限 as the office writes it: 20% or 0.2."""
    share = spec.excellent_share
    return f"{share * 100:g}%" if int(share * 1000) % 2 else float(share)


def write_scheme(spec: Spec, path: Path) -> Path:
    groups = list(dict.fromkeys(g for _, g in spec.units))
    sheets = {
        "方案": pd.DataFrame({"项目": ["考核名称", "考核周期", "周期类型", "发文机关", "文号", "总分折算", "加分上限",
                                     "优秀比例上限", "否决效果", "领导邮箱"],
                              "值": ["审计县2024年度考核", "2024", "年度", "审计县考核办", "审考〔2025〕1号",
                                    spec.total_mode, _cell(spec.bonus_cap), spec_share_text(spec),
                                    spec.veto_effect, "leader@example.gov.cn"]}, dtype=object),
        "等次": pd.DataFrame({"等次": [g for g, _ in spec.grades], "最低分": [_cell(m) for _, m in spec.grades]}),
        "单位": pd.DataFrame({"单位代码": [u for u, _ in spec.units], "单位名称": [f"单位{u}" for u, _ in spec.units],
                            "考核类别": [g for _, g in spec.units], "联系人": ["张三"] * len(spec.units),
                            "邮箱": [f"{u.lower()}@example.gov.cn" for u, _ in spec.units]}),
    }
    rows = []
    for ind in spec.indicators:
        rows.append({"指标代码": ind.code, "一级指标": ind.category, "指标名称": f"指标{ind.code}", "计量单位": "次" if ind.method == "扣分" else "万元",
                     "适用类别": "全部" if ind.groups is None else "、".join(ind.groups), "分值": _cell(ind.points),
                     "计分方法": ind.method, "方向": ind.direction, "基本值": _cell(ind.base), "目标值": _cell(ind.target),
                     "满分值": _cell(ind.full), "不允许值": _cell(ind.floor), "基本分比例": _cell(ind.base_share),
                     "上限系数": _cell(ind.cap), "每项分值": _cell(ind.step), "档次表": ind.tier_table,
                     "数据来源": ind.source, "牵头单位": "考核办", "缺项处理": ind.missing_rule, "评分说明": "按细则计分"})
    sheets["指标"] = pd.DataFrame(rows, dtype=object)
    if spec.unit_targets:
        sheets["目标分解"] = pd.DataFrame([
            {"单位代码": u, "指标代码": i, "基本值": _cell(t.get("base")), "目标值": _cell(t.get("target")),
             "满分值": _cell(t.get("full")), "不允许值": _cell(t.get("floor")), "不考核": "是" if t.get("exempt") else None}
            for (u, i), t in spec.unit_targets.items()], dtype=object)
    sheets["档次表"] = pd.DataFrame([
        {"档次表": name, "下限": _cell(lower), "等级": level, "得分比例": _cell(ratio)}
        for name, tiers in spec.tiers.items() for lower, level, ratio in tiers], dtype=object)
    if spec.weights:
        style = len(spec.units) % 3  # 权重 written 30, 30% or 0.3
        sheets["权重"] = pd.DataFrame([{"一级指标": c, "权重": [_cell(w), f"{w}%", float(w / 100)][style], "考核类别": g}
                                     for (g, c), w in spec.weights.items()], dtype=object)
    sheets["加扣分"] = pd.DataFrame([
        {"项目代码": it.code, "类型": it.kind, "项目名称": f"事项{it.code}", "每项分值": _cell(it.step),
         "单项上限": _cell(it.item_cap), "需佐证": "否", "否决效果": it.veto_effect} for it in spec.items], dtype=object)
    if spec.group_rules:
        sheets["类别"] = pd.DataFrame([
            {"考核类别": g, "优秀比例上限": _cell(r.share), "名额取整": r.rounding, "至少一名": "是" if r.at_least_one else "否"}
            for g, r in spec.group_rules.items() if g in groups], dtype=object)
    return write_workbook(path, sheets)


def write_inbox(spec: Spec, scheme, inbox: Path) -> None:
    paths = template.write_templates(scheme, inbox)
    by_code = {path.name.split("_")[0]: path for path in paths}
    sources = {ind.code: ind.source for ind in spec.indicators}
    for unit, _ in spec.units:
        values = {i: _cell(v) for (u, i), v in spec.values.items() if u == unit and sources[i] == "自报"}
        claims = [{"项目代码": code, "数量": int(count)} for u, code, count in spec.claims
                  if u == unit and code.startswith("J")]
        fill_unit(by_code[unit], values, claims=claims or None)
    assessed = {(u, i): _cell(v) for (u, i), v in spec.values.items() if sources[i] == "评定"}
    office = [{"单位代码": u, "项目代码": code, "数量": int(count)} for u, code, count in spec.claims
              if not code.startswith("J")]
    fill_assessment(template.write_assessment_workbook(scheme, inbox), assessed, office or None)


def product_scores(spec: Spec, folder: Path):
    scheme = load_scheme(write_scheme(spec, folder / "scheme.xlsx"))
    inbox = folder / "inbox"
    write_inbox(spec, scheme, inbox)
    validated = pipeline.read_and_validate(scheme, inbox, workers=1)
    issues = validated.issues_table
    errors = issues[issues["severity"] == "错误"]
    assert errors.empty, errors.to_string()
    return pipeline.score_period(scheme, validated)


def compare(spec: Spec, results) -> list[str]:
    """Every figure where the product and the reference differ.

    A figure domain.md does not settle is skipped, and so is everything built on it: the unit's
    totals when one of its indicators is open, its group's ranks and grades when a total is.
    """
    expected = reference_scores(spec)
    open_units = {unit for unit, what in expected.ambiguous if what not in ("grade", "quota")}
    open_groups = {expected.units[unit].group for unit, what in expected.ambiguous if what not in ("grade", "quota")}
    problems = []
    for row in results.scored.itertuples():
        if (row.unit_code, row.indicator_code) in expected.ambiguous:
            continue
        want = expected.units[row.unit_code].scores.get(row.indicator_code)
        got = None if pd.isna(row.score) else dec(row.score)
        if want != got:
            shown = row.text_value if isinstance(row.text_value, str) else row.value
            problems.append(f"{row.unit_code} {row.indicator_code} {row.method}/{row.direction}: "
                            f"product {got}, reference {want} (value {shown})")
    for row in results.ranked.itertuples():
        ref = expected.units[row.unit_code]
        checks = [] if row.unit_code in open_units else [
            ("indicator_total", dec(row.indicator_total), ref.indicator_total), ("total", dec(row.total), ref.total)]
        if ref.group not in open_groups:
            checks.append(("rank", int(row.rank), ref.rank))
            if (row.unit_code, "quota") not in expected.ambiguous:
                checks.append(("quota", int(row.quota), ref.quota))
            if (row.unit_code, "grade") not in expected.ambiguous:
                checks.append(("grade", row.grade, ref.grade))
        problems += [f"{row.unit_code} {name}: product {got}, reference {want}" for name, got, want in checks if got != want]
    return problems


@pytest.mark.parametrize("seed", range(SEEDS))
def test_product_matches_reference(seed: int, tmp_path: Path) -> None:
    spec = make_spec(seed)
    results = product_scores(spec, tmp_path)
    assert compare(spec, results) == []


def test_the_seeds_reach_every_rule() -> None:
    """The committed seeds between them exercise what the comparison is for (the reference alone, no I/O)."""
    seen: set[str] = set()
    half_cents = 0
    for seed in range(SEEDS):
        spec = make_spec(seed)
        result = reference_scores(spec)
        half_cents += result.half_cents
        seen |= {f"{ind.method}/{ind.direction}" for ind in spec.indicators}
        seen |= {"exempt 均值" for (u, i), t in spec.unit_targets.items() if t.get("exempt")
                 and next(ind for ind in spec.indicators if ind.code == i).missing_rule == MEAN}
        seen |= {f"veto {r.veto_effect}" for r in result.units.values() if r.veto_effect}
        seen |= {"bonus capped" for u in result.units.values() if spec.bonus_cap is not None and u.bonus == spec.bonus_cap}
        seen |= {"权重"} if spec.weights else set()
        seen |= {f"total_mode {spec.total_mode}"} | {f"quota {r.rounding}" for r in spec.group_rules.values()}
        seen |= {"至少一名" for r in spec.group_rules.values() if r.at_least_one}
        seen |= {"tie at the quota's edge" for why in result.assumed.values() if "quota's edge" in why}
        totals = [r.total for r in result.units.values()]
        seen |= {"total on a threshold" for _, low in spec.grades if low and low in totals}
        seen |= {"tied totals" for t in totals if totals.count(t) > 1}
        seen |= {"优秀 over quota" for r in result.units.values() if r.grade == spec.grades[1][0]
                 and r.total >= spec.grades[0][1] and not r.veto_effect}
    wanted = {f"{m}/{d}" for m in METHODS for d in (HIGHER, LOWER) if m not in ("定性", "扣分") or d == HIGHER}
    wanted |= {"exempt 均值", f"veto {NO_EXCELLENT}", f"veto {FAIL}", f"veto {ZERO}", "bonus capped", "权重",
               "total_mode 百分制", "total_mode 原始分", "quota 向下取整", "quota 四舍五入", "至少一名",
               "tie at the quota's edge", "total on a threshold", "tied totals", "优秀 over quota"}
    assert wanted - seen == set()
    assert half_cents >= 20  # exact …5 at the third decimal, where half-up (not the binary float) decides
