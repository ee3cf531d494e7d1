"""An independent reference scorer, written from /work/shared/domain.md alone.

It does not import kaohe_excel: it takes a plain description of a scheme and its inputs (the
same data the test writes into the workbooks) and computes every unit's indicator scores,
指标得分, 总分, 名次 and 等次 with plain loops and Decimal arithmetic, rounding half-up
(四舍五入) of the exact decimal value. Where domain.md leaves a case open, the reference does
not guess: it records the case in `Result.ambiguous` and the comparison skips that figure.

Open points in domain.md, and what the product does (found by this comparison):
- 反向 基本满分 beyond 基本值 (no formula given): the product mirrors like 完成率, P·b·基本值/x;
  the reference assumes the same (`Result.assumed`) and compares.
- 改进功效系数法 when the group's best = worst (one unit, or all equal): the product gives P.
- 权重 with a 一级指标 the unit has no points available in (all exempt): the product drops that
  category and rescales the remaining weights to the full weight sum; skipped here.
- 权重 together with 百分制: the weighted total (weights sum to 100) is not rescaled by 100/ΣP.
- ties at the 优秀 quota's edge: "a documented rule"; the scheme guide's rule is that all the
  tied units drop a grade ("不超过"); the reference follows it.
- 至少一名 when only vetoed units reach the 优秀 threshold: the product states 名额 0 (it counts
  eligible units), a literal reading gives 1; the grades are the same; skipped here.
- 均值 when every unit of the group is exempt: the product falls back to 归一化; skipped here.
- not generated here: 反向 完成率/阶梯 with x ≤ 0 (the product gives the capped full ratio),
  相对最优 with a best value ≤ 0 (the product clips the share to 0..1), 基本满分 with x < 0
  (the product gives 0, the formula P·b·x/基本值 a negative score).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal, localcontext

HIGHER, LOWER = "正向", "反向"
NORMALIZE, MEAN = "归一化", "均值"
NO_EXCELLENT, FAIL, ZERO = "取消评优", "定为不合格", "总分清零"
VETO_STRENGTH = {NO_EXCELLENT: 1, FAIL: 2, ZERO: 3}  # 总分清零 > 定为不合格 > 取消评优
CENT = Decimal("0.01")


def dec(value) -> Decimal | None:
    """A cell's number as the exact decimal it prints as (15 significant digits, like Excel)."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(format(value, ".15g"))
    return Decimal(str(value))


def half_up(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass
class Indicator:
    code: str
    category: str
    points: Decimal
    method: str
    direction: str = HIGHER
    groups: tuple[str, ...] | None = None  # None: 全部
    base: Decimal | None = None
    target: Decimal | None = None
    full: Decimal | None = None
    floor: Decimal | None = None
    base_share: Decimal | None = None
    cap: Decimal | None = None
    step: Decimal | None = None
    tier_table: str | None = None
    source: str = "自报"
    missing_rule: str = NORMALIZE


@dataclass
class Item:
    code: str
    kind: str  # 加分 / 扣分 / 否决
    step: Decimal | None = None
    item_cap: Decimal | None = None
    veto_effect: str | None = None  # the item's own 否决效果 (else the 方案 value)


@dataclass
class GroupRule:
    share: Decimal
    rounding: str = "向下取整"  # or 四舍五入
    at_least_one: bool = False


@dataclass
class Spec:
    units: list[tuple[str, str]]  # (unit_code, group), in 单位 order
    indicators: list[Indicator]
    grades: list[tuple[str, Decimal]]  # (等次, 最低分)
    total_mode: str = "原始分"  # or 百分制
    bonus_cap: Decimal | None = None
    excellent_share: Decimal = Decimal("0.2")
    veto_effect: str = NO_EXCELLENT
    # (unit_code, indicator_code) -> {"base"/"target"/"full"/"floor": Decimal, "exempt": bool}
    unit_targets: dict[tuple[str, str], dict] = field(default_factory=dict)
    # name -> [(下限 or None, 等级 or None, 得分比例)]
    tiers: dict[str, list[tuple[Decimal | None, str | None, Decimal]]] = field(default_factory=dict)
    # (group or None, 一级指标) -> 权重; empty: no 权重 sheet
    weights: dict[tuple[str | None, str], Decimal] = field(default_factory=dict)
    items: list[Item] = field(default_factory=list)
    group_rules: dict[str, GroupRule] = field(default_factory=dict)
    values: dict[tuple[str, str], object] = field(default_factory=dict)  # Decimal, or a grade text for 定性
    claims: list[tuple[str, str, Decimal]] = field(default_factory=list)  # (unit_code, item_code, 数量)


@dataclass
class UnitResult:
    unit_code: str
    group: str
    scores: dict[str, Decimal]  # indicator_code -> printed score (exempt 归一化 indicators absent)
    points_available: Decimal
    indicator_total: Decimal
    bonus: Decimal
    deduction: Decimal
    veto_effect: str | None
    total: Decimal
    rank: int
    grade: str
    quota: int = 0  # the group's 优秀 名额


@dataclass
class Result:
    units: dict[str, UnitResult]
    # (unit_code, what) -> why: figures domain.md does not settle; the comparison skips them
    ambiguous: dict[tuple[str, str], str] = field(default_factory=dict)
    half_cents: int = 0  # indicator scores whose exact value ends in 5 at the third decimal
    # figures domain.md does not spell out where the reference follows its mirroring principle;
    # they are compared (the product agrees) and listed in the audit's report
    assumed: dict[tuple[str, str], str] = field(default_factory=dict)


class Reference:
    def __init__(self, spec: Spec):
        self.spec = spec
        self.group_of = dict(spec.units)
        self.ambiguous: dict[tuple[str, str], str] = {}
        self.half_cents = 0
        self.assumed: dict[tuple[str, str], str] = {}

    # ------------------------------------------------------------ who is assessed on what
    def applies(self, ind: Indicator, unit: str) -> bool:
        return ind.groups is None or self.group_of[unit] in ind.groups

    def exempt(self, ind: Indicator, unit: str) -> bool:
        return bool(self.spec.unit_targets.get((unit, ind.code), {}).get("exempt"))

    def param(self, ind: Indicator, unit: str, name: str) -> Decimal | None:
        override = self.spec.unit_targets.get((unit, ind.code), {}).get(name)
        return override if override is not None else getattr(ind, name)

    def peers(self, ind: Indicator, unit: str) -> list[str]:
        """The units of the same 考核类别 assessed on this indicator (not exempt)."""
        group = self.group_of[unit]
        return [u for u, g in self.spec.units if g == group and self.applies(ind, u) and not self.exempt(ind, u)]

    # ------------------------------------------------------------ one indicator score
    def raw_score(self, ind: Indicator, unit: str) -> Decimal:
        x = self.spec.values[(unit, ind.code)]
        P = ind.points
        higher = ind.direction == HIGHER
        method = ind.method
        if method == "定性":
            for _, level, ratio in self.spec.tiers[ind.tier_table]:
                if level == x:
                    return P * ratio
            raise AssertionError(f"grade {x} not in {ind.tier_table}")
        x = dec(x)
        if method == "完成率":
            target = self.param(ind, unit, "target")
            cap = ind.cap if ind.cap is not None else Decimal(1)
            if higher:
                return Decimal(0) if x <= 0 else P * min(x / target, cap)
            assert x > 0, "反向 完成率 with x ≤ 0 is not generated (domain.md does not say)"
            return P * min(target / x, cap)
        if method == "基本满分":
            base, full = self.param(ind, unit, "base"), self.param(ind, unit, "full")
            b = ind.base_share if ind.base_share is not None else Decimal("0.6")
            if higher:
                if x >= full:
                    return P
                if x >= base:
                    return P * (b + (1 - b) * (x - base) / (full - base))
                return P * b * x / base
            if x <= full:
                return P
            if x <= base:
                return P * (b + (1 - b) * (base - x) / (base - full))
            # domain.md gives no formula here; mirrored like 完成率 (目标值/x): the share b·基本值/x
            self.assumed[(unit, ind.code)] = "反向 基本满分 beyond 基本值: P·b·基本值/x"
            return P * b * base / x
        if method == "功效系数":
            c = ind.base_share if ind.base_share is not None else Decimal("0.6")
            full, floor = self.param(ind, unit, "full"), self.param(ind, unit, "floor")
            if full is None and floor is None:
                values = [dec(self.spec.values[(u, ind.code)]) for u in self.peers(ind, unit)]
                full, floor = (max(values), min(values)) if higher else (min(values), max(values))
                if full == floor:  # every unit of the group at the best value: assumed the full mark
                    self.assumed[(unit, ind.code)] = "改进功效系数法 with the group's best = worst: P"
                    return P
            share = c + (1 - c) * (x - floor) / (full - floor)
            return P * min(Decimal(1), max(Decimal(0), share))
        if method == "阶梯":
            target = self.param(ind, unit, "target")
            ratio = x / target if higher else target / x
            best = None
            for lower, _, share in self.spec.tiers[ind.tier_table]:
                if lower is not None and lower <= ratio and (best is None or lower > best[0]):
                    best = (lower, share)
            return P * best[1] if best else Decimal(0)
        if method == "差额扣分":
            target = self.param(ind, unit, "target")
            if target is None:
                values = [dec(self.spec.values[(u, ind.code)]) for u in self.peers(ind, unit)]
                target = sum(values) / len(values)
            gap = max(Decimal(0), target - x) if higher else max(Decimal(0), x - target)
            return max(Decimal(0), P - gap * ind.step)
        if method == "排名":
            others = [dec(self.spec.values[(u, ind.code)]) for u in self.peers(ind, unit)]
            k = 1 + sum(1 for v in others if (v > x if higher else v < x))
            n = len(others)
            if ind.step is not None:
                return max(Decimal(0), P - (k - 1) * ind.step)
            b = ind.base_share if ind.base_share is not None else Decimal("0.6")
            if n == 1:
                return P
            return P - (P - P * b) * (k - 1) / (n - 1)
        if method == "相对最优":
            others = [dec(self.spec.values[(u, ind.code)]) for u in self.peers(ind, unit)]
            return P * x / max(others) if higher else P * min(others) / x
        if method == "扣分":
            return max(Decimal(0), P - x * ind.step)
        raise AssertionError(method)

    def score(self, ind: Indicator, unit: str) -> Decimal:
        with localcontext() as ctx:
            ctx.prec = 60
            raw = self.raw_score(ind, unit)
            if (raw * 1000) == (raw * 1000).to_integral_value() and int(raw * 1000) % 10 == 5:
                self.half_cents += 1  # an exact …5 in the third decimal: half-up decides
            return half_up(raw)

    # ------------------------------------------------------------ the whole period
    def run(self) -> Result:
        spec = self.spec
        printed: dict[tuple[str, str], Decimal] = {}
        for ind in spec.indicators:
            for unit, _ in spec.units:
                if self.applies(ind, unit) and not self.exempt(ind, unit):
                    printed[(unit, ind.code)] = self.score(ind, unit)
        results: dict[str, UnitResult] = {}
        for unit, group in spec.units:
            scores: dict[str, Decimal] = {}
            available: dict[str, Decimal] = {}  # category -> points available
            by_category: dict[str, Decimal] = {}
            for ind in spec.indicators:
                if not self.applies(ind, unit):
                    continue
                if self.exempt(ind, unit):
                    if ind.missing_rule != MEAN:
                        continue  # 缺项按已有项归一化: left out of the points available
                    mates = [printed[(u, ind.code)] for u in self.peers(ind, unit)]
                    if not mates:
                        self.ambiguous[(unit, ind.code)] = "均值 with every unit of the group exempt"
                        continue
                    s = half_up(sum(mates) / len(mates))
                else:
                    s = printed[(unit, ind.code)]
                scores[ind.code] = s
                available[ind.category] = available.get(ind.category, Decimal(0)) + ind.points
                by_category[ind.category] = by_category.get(ind.category, Decimal(0)) + s
            points_available = sum(available.values(), Decimal(0))
            raw_total = sum(scores.values(), Decimal(0))
            if spec.weights:
                weighted = Decimal(0)
                own = {c for g, c in spec.weights if g == group}
                for (g, category), weight in spec.weights.items():
                    if g != (group if own else None):
                        continue
                    if category not in available:
                        self.ambiguous[(unit, "indicator_total")] = f"权重: no points available in {category}"
                        continue
                    weighted += weight * by_category[category] / available[category]
                indicator_total = half_up(weighted)
                if spec.total_mode == "百分制":  # the weights sum to 100: already on the 100 scale
                    self.assumed[(unit, "indicator_total")] = "权重 with 百分制: not rescaled by 100/ΣP again"
            elif spec.total_mode == "百分制":
                indicator_total = half_up(raw_total * 100 / points_available)
            else:
                indicator_total = raw_total
            bonus, deduction, effects = Decimal(0), Decimal(0), []
            for item in spec.items:
                count = sum((c for u, code, c in spec.claims if u == unit and code == item.code), Decimal(0))
                if count == 0:
                    continue
                if item.kind == "否决":
                    effects.append(item.veto_effect or spec.veto_effect)
                    continue
                amount = count * item.step
                if item.item_cap is not None:
                    amount = min(amount, item.item_cap)
                if item.kind == "加分":
                    bonus += amount
                else:
                    deduction += amount
            if spec.bonus_cap is not None:
                bonus = min(bonus, spec.bonus_cap)
            effect = max(effects, key=VETO_STRENGTH.get) if effects else None
            total = half_up(indicator_total + bonus - deduction)
            if effect == ZERO:
                total = Decimal("0.00")
            results[unit] = UnitResult(unit, group, scores, points_available, indicator_total, half_up(bonus),
                                       half_up(deduction), effect, total, 0, "")
        self.rank_and_grade(results)
        return Result(results, self.ambiguous, self.half_cents, self.assumed)

    def rank_and_grade(self, results: dict[str, UnitResult]) -> None:
        spec = self.spec
        grades = sorted(spec.grades, key=lambda g: g[1], reverse=True)
        top_name, top_min = grades[0]
        next_name = grades[1][0]
        lowest = grades[-1][0]
        for group in dict.fromkeys(g for _, g in spec.units):
            members = [results[u] for u, g in spec.units if g == group]
            for r in members:
                r.rank = 1 + sum(1 for o in members if o.total > r.total)  # competition ranking (1, 2, 2, 4)
                r.grade = next((name for name, low in grades if r.total >= low), lowest)
            rule = spec.group_rules.get(group)
            share = rule.share if rule else spec.excellent_share
            exact = len(members) * share
            quota = int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP if rule and rule.rounding == "四舍五入"
                                       else ROUND_FLOOR))
            reached = [r for r in members if r.total >= top_min]
            if rule and rule.at_least_one and reached:
                if quota == 0 and all(r.veto_effect for r in reached):
                    # "at least 1 when the group has any unit reaching the 优秀 threshold": only vetoed
                    # units reach it; the grades are the same whether the stated 名额 is 1 or 0
                    for r in members:
                        self.ambiguous[(r.unit_code, "quota")] = "至少一名 where only vetoed units reach 优秀"
                quota = max(quota, 1)
            eligible = sorted((r for r in reached if r.veto_effect is None), key=lambda r: r.rank)
            for r in members:
                r.quota = quota
            for position, r in enumerate(eligible):
                if position >= quota:
                    r.grade = next_name
            if 0 < quota < len(eligible) and eligible[quota - 1].total == eligible[quota].total:
                # domain.md: "ties at the quota's edge: a documented rule"; the scheme guide's rule is
                # 名额边缘并列时，并列的单位都降一档（“不超过”）
                edge = eligible[quota].total
                for r in eligible:
                    if r.total == edge:
                        r.grade = next_name
                        self.assumed[(r.unit_code, "grade")] = "tie at the 优秀 quota's edge: all tied units demoted"
            for r in members:
                if r.veto_effect == NO_EXCELLENT and r.grade == top_name:
                    r.grade = next_name
                elif r.veto_effect == FAIL:
                    r.grade = lowest


def reference_scores(spec: Spec) -> Result:
    return Reference(spec).run()
