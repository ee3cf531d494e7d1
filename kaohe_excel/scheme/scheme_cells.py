"""One cell of the scheme workbook read as the office meant it: numbers, shares (percent or
ratio, see `read_share`), 适用类别 lists and the spelled values; and `_Problems`, the list every
scheme check adds to (sheet, xlsx row, what to fix). Used by scheme_rows and scheme."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from kaohe_excel.base.tables import clean_text

DIRECTIONS = {"正向": "higher", "反向": "lower", "": "higher"}
SOURCES = {"自报": "self", "评定": "assessed", "平时": "interim", "测评": "rating", "": "self"}
MISSING_RULES = {"归一化": "normalize", "均值": "mean", "": "normalize"}
TOTAL_MODES = {"百分制": "percent", "原始分": "raw", "": "raw"}
VETO_EFFECTS = {"取消评优": "no_excellent", "定为不合格": "fail", "总分清零": "zero", "": "no_excellent"}
ADJUSTMENT_KINDS = {"加分": "bonus", "扣分": "deduction", "否决": "veto"}
YES = {"是", "Y", "y", "yes", "YES", "1", "√", "TRUE", "True", "true"}
NO = {"否", "N", "n", "no", "NO", "0", "", "FALSE", "False", "false"}
UNIT_CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
GROUP_SEPARATORS = re.compile(r"[、,，;；\s]+")
ALL_GROUPS = "全部"
QUOTA_ROUNDINGS = {"向下取整": "floor", "四舍五入": "half_up", "": "floor"}


# ---------------------------------------------------------------- parsing helpers

def parse_number(value: object) -> float:
    """A number from a scheme cell; "20%" → 20.0 (percent points); empty, junk, inf → NaN.

    The loader itself reads numbers through `_read_number`, which also reports junk.
    """
    number, _bad = _read_number(value)
    return number


def _read_number(value: object) -> tuple[float, bool]:
    """(number, unreadable): "20%" → 20.0 (percent points); empty → (NaN, False).

    Text that is not a number, TRUE/FALSE, and non-finite values ("1e400", "inf", "nan"
    typed as text) are unreadable: a scheme cell that means nothing must not pass as empty.
    """
    if value is None or value == "":
        return math.nan, False
    if isinstance(value, bool):
        return math.nan, True
    if isinstance(value, (int, float)):
        number = float(value)
        if number != number:  # a NaN the reader made of an empty cell
            return math.nan, False
        return (number, False) if math.isfinite(number) else (math.nan, True)
    text = clean_text(value).replace(",", "")
    if not text:
        return math.nan, False
    if text.endswith("%"):
        text = text[:-1].strip()
    try:
        number = float(text)
    except ValueError:
        return math.nan, True
    return (number, False) if math.isfinite(number) else (math.nan, True)


# ---------------------------------------------------------------- shares (percent or ratio)

PERCENT_MIN = 5.0


@dataclass(frozen=True)
class ShareRule:
    """How a share parameter may be written; see `read_share` for the rule itself."""

    label: str  # the column or item name, as the office reads it
    ratio_max: float  # a bare number up to this is a ratio
    low: float = 0.0  # the meaningful range of the share, as a ratio
    high: float = math.inf
    high_open: bool = False  # the share must stay below `high`
    example: str = "0.6 或 60%"


BASE_SHARE_RULE = ShareRule("基本分比例", 1, 0, 1, example="0.6 或 60%")
CAP_RULE = ShareRule("上限系数", 3, 1, example="1.2 或 120%")
QUOTA_RULE = ShareRule("优秀比例上限", 1, 0, 1, example="0.2 或 20%")
LOWER_RULE = ShareRule("下限", 3, 0, example="0.9 或 90%")
TIER_SHARE_RULE = ShareRule("得分比例", 1.5, 0, example="0.8 或 80%")
WEIGHT_RULE = ShareRule("权重", 1, 0, 1, example="30 或 30% 或 0.3")
RATING_SHARE_RULE = ShareRule("参评率下限", 1, 0, 1, example="0.8 或 80%")  # w-rating: also 每票优秀上限 as a share
TOLERANCE_RULE = ShareRule("核对容差", 1, 0, 1, high_open=True, example="0.005 或 0.5%")


@dataclass(frozen=True)
class ShareReading:
    value: float  # the share as a ratio; NaN when empty or unreadable
    scale: str  # "percent" (written with %), "ratio" / "percent_bare" (a bare number), "" (empty or 0)
    error: str = ""  # why the cell cannot be read and what to write, to follow the parameter's name


def _pct(ratio: float) -> str:
    return f"{_num_text(ratio * 100)}%"


def _num_text(number: float) -> str:
    return f"{number:.6g}" if not float(number).is_integer() else str(int(number))


def read_share(value: object, rule: ShareRule) -> ShareReading:
    """The one rule for every share parameter (基本分比例, 上限系数, 优秀比例上限, 档次表 下限
    and 得分比例, 权重, 核对容差):

    - text ending in % is percent: "80%" → 0.8 (full-width ％ too);
    - a bare number from 0 to `rule.ratio_max` is a ratio: 0.8 → 0.8. An Excel cell in percent
      format that shows 80% holds 0.8, so it reads the same as "80%";
    - a bare number from 5 to 100 × `rule.ratio_max` can only mean percent: 60 → 0.6;
    - any other bare number (between `ratio_max` and 5, or above 100 × `ratio_max`) is an error:
      neither reading is credible, so the office must write the % sign or a ratio;
    - the share must then lie in the rule's range (基本分比例 0–100%, 上限系数 at least 100% …).

    Cells that must share one scale (one 档次表's 下限, one group's 权重) are checked together
    by `_check_one_scale`: bare ratios and bare percents mixed (1, 90, 80) are an error.
    """
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ShareReading(math.nan, "")
    shown = clean_text(value)
    number, bad = _read_number(value)
    if bad or math.isnan(number):
        return ShareReading(math.nan, "", f"应为数字（如 {rule.example}），现为「{shown}」")
    written_percent = isinstance(value, str) and shown.endswith("%")
    if written_percent:
        share, scale = number / 100, "percent"
    elif number == 0:
        share, scale = 0.0, ""
    elif number < 0 or number <= rule.ratio_max:
        share, scale = number, "ratio"
    elif PERCENT_MIN <= number <= 100 * rule.ratio_max:
        share, scale = number / 100, "percent_bare"
    else:
        return ShareReading(math.nan, "", (
            f"写 {shown} 无法确定含义：不带 % 的数，0–{_num_text(rule.ratio_max)} 按比例读，"
            f"{_num_text(PERCENT_MIN)}–{_num_text(100 * rule.ratio_max)} 按百分数读；请写成比例或带 % 的百分数（如 {rule.example}）"))
    too_high = share >= rule.high if rule.high_open else share > rule.high
    if share < rule.low or too_high:
        if not math.isfinite(rule.high):
            span = f"不小于 {_pct(rule.low)}"
        elif rule.high_open:
            span = f"不小于 {_pct(rule.low)} 且小于 {_pct(rule.high)}"
        else:
            span = f"在 {_pct(rule.low)}–{_pct(rule.high)} 之间"
        read = "" if scale == "percent" else f"（读作 {_pct(share)}）"
        return ShareReading(math.nan, "", f"应{span}（如 {rule.example}），现为「{shown}」{read}")
    return ShareReading(share, scale)


# the share columns of the 指标 sheet, each read by its rule
SHARE_COLUMNS = {"base_share": BASE_SHARE_RULE, "cap": CAP_RULE, "tolerance": TOLERANCE_RULE}


def parse_share(value: object) -> float:
    """A share written 20% or 0.2 (or 20 meaning percent) → 0.2; unreadable → NaN (see `read_share`)."""
    return read_share(value, QUOTA_RULE).value


def _check_one_scale(cells: list[tuple[int, ShareReading, str]], others: str, rule: ShareRule, column: str,
                     sheet: str, problems: "_Problems") -> None:
    """Bare numbers meant as ratios and bare numbers meant as percents in one table: an error on each odd one.

    `cells` are (xlsx_row, reading, cell text) of the cells that must share one scale; `others`
    names the other rows (档次表「阶梯」的其他行), `column` the column as shown to the office.
    """
    ratios = [c for c in cells if c[1].scale == "ratio"]
    percents = [c for c in cells if c[1].scale == "percent_bare"]
    if not ratios or not percents:
        return
    odd, usual = (ratios, percents) if len(ratios) < len(percents) else (percents, ratios)
    if len(ratios) == len(percents):  # no majority: the later kind is the odd one
        odd, usual = (percents, ratios) if percents[0][0] > ratios[0][0] else (ratios, percents)
    usual_text = "、".join(c[2] for c in usual[:3])
    odd_kind, usual_kind = ("比例", "百分数") if odd is ratios else ("百分数", "比例")
    for row, reading, text in odd:
        problems.add(sheet, row, (
            f"{column}写 {text}（按{odd_kind}即 {_pct(reading.value)}），而{others}写 {usual_text}（按{usual_kind}）："
            f"无法确定含义，请统一写成比例或都带 %（如 {rule.example}）"))


def split_groups(value: object) -> list[str]:
    text = clean_text(value)
    return [part for part in GROUP_SEPARATORS.split(text) if part]


class _Problems:
    def __init__(self):
        self.items: list[tuple[str, int | None, str]] = []
        self.letters: dict[str, dict[str, str]] = {}  # sheet -> code name -> column letter

    def add(self, sheet: str, row: int | None, text: str) -> None:
        self.items.append((sheet, row, text))

    def column(self, sheet: str, code: str, label: str) -> str:
        """「下限」（B列）: the column as the office finds it in the sheet."""
        letter = self.letters.get(sheet, {}).get(code)
        return f"「{label}」（{letter}列）" if letter else f"「{label}」"

    def numbers(self, frame: pd.DataFrame, sheet: str, columns: dict[str, str], where) -> None:
        """Read the numeric columns of a parsed sheet in place; report every cell that is not a number.

        `columns` maps code name -> Chinese label; `where(row)` names the row's subject.
        """
        for code, label in columns.items():
            values = []
            for row, raw in zip(frame.itertuples(), frame[code]):
                number, bad = _read_number(raw)
                if bad:
                    self.add(sheet, row.xlsx_row, f"{where(row)}的{self.column(sheet, code, label)}应为数字，现为「{clean_text(raw)}」")
                values.append(number)
            frame[code] = pd.Series(values, index=frame.index, dtype=float)

    def shares(self, frame: pd.DataFrame, sheet: str, code: str, rule: ShareRule, where) -> list[ShareReading]:
        """Read one share column in place by `read_share`; report every unreadable cell."""
        readings = []
        for row, raw in zip(frame.itertuples(), frame[code]):
            reading = read_share(raw, rule)
            if reading.error:
                self.add(sheet, row.xlsx_row, f"{where(row)}的{self.column(sheet, code, rule.label)}{reading.error}")
            readings.append(reading)
        frame[code] = pd.Series([r.value for r in readings], index=frame.index, dtype=float)
        return readings
