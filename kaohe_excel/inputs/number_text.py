"""The one owner of the number-text rules, both ways.

Text to number: what a person typed into a number cell, read as the number they meant, for every
input kind: full-width digits and digits of other scripts, thousands separators, a trailing unit,
"85.3%", formula cells without a value, Excel error values. Each repair is a 警告 text, each
impossible reading an 错误 (IssueCode, text); nothing here raises.

Number to text: the reference formatters every output and message uses (`plain`, `positional`,
`fixed`, `trimmed`, `rounded_text`, `two_to_four`). Where a column of numbers is formatted fast
(explain.number_texts, rating_score._nums, report._texts …) the fast path must give the reference's
text byte for byte (tests/test_number_text.py).
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from kaohe_excel.base.issues import IssueCode
from kaohe_excel.base.read_rows import FormulaWithoutValue

COUNT_UNITS = {"件", "个", "次", "起", "人", "人次", "家", "项", "篇", "条", "宗", "户", "处", "座", "所"}
ERROR_VALUES = {"#DIV/0!", "#N/A", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#NULL!", "#SPILL!", "#CALC!", "#GETTING_DATA"}
_NUMBER_WITH_TAIL = re.compile(r"^([+-]?(?:\d+(?:\.\d*)?|\.\d+))(?:[eE]([+-]?\d+))?(.*)$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?")
_DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d{1,2}(?!\d)")
_SPACE = re.compile(r"\s+")
KNOWN_UNIT_TAILS = {"%", "亿元", "万元", "元", "亿", "万", "吨", "万吨", "吨标准煤/万元", "公顷", "亩", "平方米", "千米", "公里",
                    "小时", "天", "岁", "分"} | COUNT_UNITS



# --------------------------------------------------------------------------- number to text


def plain(number: float) -> str:
    """A value quoted in a message, up to 10 significant digits: 85.3, 1234.5, 1e+20."""
    return f"{number:.10g}"


def positional(value: float) -> str:
    """A number as a person writes it, without exponent or float noise (rounded at 9 places,
    trailing zeros dropped): 85.3, 12, 0.05, -0 for a negative zero."""
    return np.format_float_positional(round(float(value), 9), trim="-")


def fixed(value: float, digits: int = 2) -> str:
    """Exactly `digits` decimals, as Python formats the float itself (0.125 → 0.12, 2.675 → 2.67:
    round first with score.round_half_up where 四舍五入 is meant)."""
    return format(value, f".{digits}f")


def trimmed(value: float, digits: int = 2) -> str:
    """`fixed`, then trailing zeros and a bare dot dropped: 86.50 → 86.5, 80.00 → 80 (-0.00 → -0)."""
    text = fixed(value, digits)
    if digits > 0:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def rounded_text(v: float, decimals: int) -> str:
    """An already rounded float in a score explanation: `fixed` at 2 decimals, `trimmed` at 4;
    NaN → —, ±inf → ±∞, and "-0" (a trimmed negative zero) → 0."""
    if v != v:
        return "—"
    if v in (math.inf, -math.inf):
        return "∞" if v > 0 else "-∞"
    text = trimmed(v, 4) if decimals == 4 else fixed(v, decimals)
    return "0" if text in ("-0", "") else text


def two_to_four(v: float) -> str:
    """At least 2 and at most 4 decimals: 8 → 8.00, 0.4545 → 0.4545, 0.7 → 0.70; NaN → —, ±inf → ±∞."""
    if v != v:
        return "—"
    if math.isinf(v):
        return "∞" if v > 0 else "-∞"
    text = f"{v:.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"

@dataclass
class Parsed:
    """A normalized cell: the number (or grade text), and what was repaired or wrong."""

    value: float = math.nan
    text: str | None = None
    repaired: str | None = None  # a warning: what was normalized
    repaired_code: IssueCode | None = None  # the warning's code, normalized_value when None
    problem: tuple[IssueCode, str] | None = None  # an error


def parse_value(raw: object, measure_unit: str = "") -> Parsed:
    """Normalize a typed number.

    >>> parse_value("８.２亿元", "亿元").value
    8.2
    >>> parse_value("85.3%", "%").value
    85.3
    >>> parse_value("1,234.5", "万元").value
    1234.5
    """
    if raw.__class__ is float and -math.inf < raw < math.inf:  # what calamine gives for a typed number
        return Parsed(value=raw)
    if isinstance(raw, FormulaWithoutValue):
        return Parsed(problem=_formula_problem(raw))
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return Parsed(problem=(IssueCode.missing_value, "未填写"))
    if isinstance(raw, bool):
        return Parsed(problem=(IssueCode.not_a_number, f"填写的是逻辑值 {raw}，应填数字"))
    if isinstance(raw, (int, float)):
        number = float(raw)
        if math.isnan(number) or math.isinf(number):
            return Parsed(problem=(IssueCode.non_finite_value, non_finite(str(raw))))
        return Parsed(value=number)
    if isinstance(raw, (datetime, date, time, timedelta)):
        return Parsed(problem=(IssueCode.not_a_number, f"单元格是日期/时间格式（{raw}），应填数字，请将单元格格式改为“常规”后重填"))
    original = str(raw)
    text = _SPACE.sub("", unicodedata.normalize("NFKC", original))
    if text.upper() in ERROR_VALUES:
        return Parsed(problem=(IssueCode.error_value, f"单元格是错误值 {text}，请填写数字"))
    notes = []
    text, exotic = ascii_digits(text)
    if exotic:
        notes.append("其他文字的数字转为阿拉伯数字")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
        notes.append("去掉千位分隔符")
    elif _DECIMAL_COMMA.match(text):
        text = text.replace(",", ".", 1)
        notes.append("小数逗号按小数点读取")
    match = _NUMBER_WITH_TAIL.match(text)
    if not match:
        return Parsed(problem=(IssueCode.not_a_number, f"「{original}」不是数字，请只填写数值"))
    number = float(match.group(1) + (f"e{match.group(2)}" if match.group(2) else ""))
    if not math.isfinite(number):  # "1e400" parses as inf
        return Parsed(problem=(IssueCode.non_finite_value, non_finite(original)))
    if match.group(2):  # "9.5e1" shows as typed text in the cell, not as 95
        notes.append("按科学计数法读取")
    tail = match.group(3)
    if tail:
        if tail == "%" and measure_unit != "%":
            number /= 100
            notes.append("百分数按小数读取")
        elif tail == "‰" and measure_unit == "%":
            number /= 10
            notes.append("千分数换算为百分数")
        elif tail == measure_unit or (tail in KNOWN_UNIT_TAILS and _same_unit(tail, measure_unit)):
            notes.append(f"去掉单位「{tail}」")
        elif tail in KNOWN_UNIT_TAILS:
            return Parsed(problem=(IssueCode.not_a_number,
                                   f"「{original}」的单位「{tail}」与指标计量单位「{measure_unit or '无'}」不符，请换算后只填写数值"))
        else:
            return Parsed(problem=(IssueCode.not_a_number, f"「{original}」不是数字，请只填写数值（不要附加文字）"))
    if original != text or notes:
        if unicodedata.normalize("NFKC", original) != original:
            notes.insert(0, "全角字符转为半角")
        if original.strip() != original or _SPACE.search(original.strip()):
            notes.append("去掉多余空格")
        return Parsed(value=number, repaired=f"「{original}」已按 {_plain(number)} 读取（{'，'.join(notes) or '规范格式'}），请核实")
    return Parsed(value=number)


def _formula_problem(raw: FormulaWithoutValue) -> tuple[IssueCode, str]:
    shown = f"（公式 {raw.formula}）" if raw.formula else ""
    return (IssueCode.formula_without_value,
            f"是公式但没有计算结果{shown}，请在 Excel 或 WPS 中打开此文件、确认数值后保存再报送（或直接填写数值）")


def _same_unit(tail: str, measure_unit: str) -> bool:
    return tail == measure_unit or (tail in ("亿", "亿元") and measure_unit in ("亿", "亿元")) or (
        tail in ("万", "万元") and measure_unit in ("万", "万元"))


_plain = plain  # the name validate imports


# Separators of Arabic-script numbers, which NFKC leaves alone.
_SEPARATORS = {"\u066b": ".", "\u066c": ",", "\u060c": ","}


def non_finite(text: str) -> str:
    return f"「{text}」超出可计算的数值范围（不是有限数），请核实后填写正确数值"


def ascii_digits(text: str) -> tuple[str, bool]:
    """Digits of any script (Arabic-Indic ٥٨٫٢, Devanagari …) as 0-9; NFKC has already
    folded the full-width ones. True when something was changed."""
    if text.isascii():
        return text, False
    out, changed = [], False
    for ch in text:
        if ch in _SEPARATORS:
            out.append(_SEPARATORS[ch])
            changed = True
        elif not ch.isascii() and unicodedata.category(ch) == "Nd":
            out.append(str(unicodedata.digit(ch)))
            changed = True
        else:
            out.append(ch)
    return "".join(out), changed
