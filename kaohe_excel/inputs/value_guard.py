"""Values that are not what the unit meant, or cannot be meant at all.

The rules validation applies to a number before it may be scored (each documented in
docs/methods.md, 数值核查):
- not finite (1e400, inf): an error;
- |x| ≥ 1e15: an error whatever the indicator (no county figure is that large, even in 元);
- target-relative: with the unit's 目标值/基本值/满分值/不允许值 known, |x| more than 1,000
  times the largest of them (and above 1,000) is an error: three orders of magnitude is a
  wrong unit (万元 for 亿元) or a slip, never a result;
- group-relative (robust): among at least 5 values of the same 考核类别 and indicator, |x|
  more than 10,000 times the median |value| (and above 1,000,000) is an error; the median
  moves with one outlier by at most one rank, so a single wild figure cannot hide itself;
- a 扣分 indicator's value is a count of incidents: a fraction is an error;
- a cell shown in % format: on a % indicator the shown percentage is read (×100, a
  warning) when that is unambiguous; shown above 100% against a target of at most 100%,
  or on an indicator that is not in %, the tool cannot know what was meant: an error.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from kaohe_excel.base.issues import IssueCode
from kaohe_excel.inputs.number_text import ascii_digits, non_finite, plain  # noqa: F401  (validate reads value_guard.non_finite)
from kaohe_excel.base.tables import header_key
from kaohe_excel.base.number_format import CONDITIONAL, FORMULA, INVISIBLE, OTHER, PERCENT, ROUNDED, SCALED
from kaohe_excel.base.xlsx_meta import Formatted

ABSOLUTE_LIMIT = 1e15
TARGET_FACTOR = 1_000.0
TARGET_FLOOR = 1_000.0
GROUP_FACTOR = 10_000.0
GROUP_FLOOR = 1_000_000.0
GROUP_MIN_VALUES = 5
COUNT_LIMIT = 1_000.0  # 加扣分 数量: items or incidents of one unit in one period
_REFERENCES = ("target", "base", "full", "floor")
def formatted(raw: Formatted, measure_unit: str, target: float) -> tuple[float | None, str]:
    """(the number the unit meant, a 警告 text) or (None, an 错误 text) for a number whose
    cell format shows it otherwise."""
    stored = float(raw)
    if raw.kind == PERCENT:
        shown = stored * 100
        looks = f"单元格设置为百分比格式（{raw.code}），显示为 {plain(shown)}%"
        if measure_unit != "%":
            return None, (f"{looks}，但指标的计量单位是「{measure_unit or '无'}」，无法确定填报的数值；"
                          f"请将单元格格式改为“常规”后填写以「{measure_unit or '指标计量单位'}」计的数值")
        if abs(shown) > 100 and not (target > 100):
            return None, (f"{looks}，超过100%，可能是先填了百分数再设为百分比格式，无法确定填报的是 {plain(stored)} 还是 {plain(shown)}；"
                          f"请将单元格格式改为“常规”后填写百分数数值（如 85.3 表示 85.3%）")
        return shown, (f"{looks}，已按 {plain(shown)} 读取（百分比指标请在“常规”格式中填写百分数数值，如 85.3 表示 85.3%），请核实")
    if raw.kind == SCALED:
        return None, (f"单元格的数字格式（{raw.code}）把数值缩小显示，显示的数与实际数值 {plain(stored)} 不同，无法确定填报的数值；"
                      f"请将单元格格式改为“常规”后重新填写")
    if raw.kind == INVISIBLE:
        return None, (f"单元格的数字格式（{raw.code}）使数值不显示，考核办看不到所填的 {plain(stored)}；"
                      f"请将单元格格式改为“常规”后重新填写")
    if raw.kind == OTHER:
        shown = f"显示为「{raw.shown}」" if raw.shown else "显示为其他数字"
        return None, (f"单元格的数字格式（{raw.code}）使所填的 {plain(stored)} {shown}，考核办看到的与所填的不一致，"
                      f"无法确定填报的数值；请将单元格格式改为“常规”后重新填写")
    if raw.kind == ROUNDED:
        return stored, (f"单元格的数字格式（{raw.code}）使所填的 {plain(stored)} 显示为 {raw.shown}，"
                        f"已按所存数值 {plain(stored)} 读取，请核实（要报 {raw.shown} 请直接填写 {raw.shown}）")
    if raw.kind == CONDITIONAL:
        return None, (f"单元格的条件格式（{raw.code}）使所填的 {plain(stored)} 不显示，考核办看不到所填的数值；"
                      f"请删除条件格式后重新填写")
    if raw.kind == FORMULA:
        return stored, (f"是公式 {raw.code}，已按文件中保存的计算结果 {plain(stored)} 读取；考核办在 Excel 或 WPS 中打开时"
                        f"公式会重新计算，请核对显示的是否为 {plain(stored)}（建议直接填写数值）")
    return stored, ""


def formatted_code(raw: Formatted) -> IssueCode:
    """The issue code of what `formatted` says about a marked number."""
    return IssueCode.formula_unchecked if raw.kind == FORMULA else IssueCode.number_format


def implausible(value: float, spec: dict) -> str | None:
    """Why a finite value cannot be what was meant (target-relative and absolute rules), or None."""
    size = abs(value)
    if size >= ABSOLUTE_LIMIT:
        return f"填写 {plain(value)}，数值大得不合常理（超过 10 的 15 次方），请核实后填写正确数值"
    if size <= TARGET_FLOOR:
        return None
    references = [abs(v) for v in (spec.get(k) for k in _REFERENCES)
                  if v is not None and v == v and math.isfinite(v) and v != 0]
    if references and size > TARGET_FACTOR * max(references):
        reference = max(references)
        return (f"填写 {plain(value)}，是目标/基准数值（{plain(reference)}）的 {size / reference:.0f} 倍，"
                f"相差三个数量级以上，可能单位填错（如以万元填了亿元）或多输了位数，请按计量单位「{spec.get('measure_unit') or '无'}」核实后重填")
    return None


def fractional_count(value: float, spec: dict) -> str | None:
    if spec.get("method") == "扣分" and round(value, 9) != round(value):
        return f"是扣分事项的次数，应为整数，填写的是 {plain(value)}，请核实"
    return None


def group_outliers(values: pd.DataFrame, group_of: dict[str, str]) -> np.ndarray:
    """Positions of the scored numbers far outside their group (the group-relative rule)."""
    if values.empty:
        return np.zeros(0, dtype=int)
    number = pd.to_numeric(values["value"], errors="coerce")
    usable = number.notna().to_numpy() & ~values["unscored"].astype(bool).to_numpy()
    if usable.sum() < GROUP_MIN_VALUES:
        return np.zeros(0, dtype=int)
    size = number.abs()[usable]
    keys = [values["unit_code"][usable].map(group_of), values["indicator_code"][usable]]
    grouped = size.groupby(keys, sort=False)
    median = grouped.transform("median")
    count = grouped.transform("size")
    far = (count >= GROUP_MIN_VALUES) & (median > 0) & (size > GROUP_FACTOR * median) & (size > GROUP_FLOOR)
    return np.flatnonzero(usable)[far.to_numpy()]


def group_message(value: float, median: float) -> str:
    return (f"填写 {plain(value)}，是同类单位中位数（{plain(median)}）的 {abs(value) / median:.0f} 倍，"
            f"相差四个数量级以上，可能单位填错或多输了位数，请核实后重填")


def contradiction(label: str, typed: object, expected: str) -> str | None:
    """The row says another name or unit than its code's: the code may have been swapped."""
    if typed == expected or typed is None or typed.__class__ is float and typed != typed:
        return None  # the template's own text (the usual case) needs no folding
    shown = header_key(typed)  # folded as headers are: NFKC, no controls, no white space
    if not shown or shown == header_key(expected or ""):
        return None
    return f"此行的{label}「{str(typed).strip()}」与指标代码对应的「{expected or '（空）'}」不一致（指标代码可能被改动或调换）"
