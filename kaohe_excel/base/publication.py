"""公示 (publication) dates: working days, the 公示 window, and the notice's 成文日期.

Pure date logic plus the reading of the scheme's 公示 rows and 节假日 sheet (scheme.py calls
`parse_settings` with a problem collector, so this module imports nothing of the project).

Documented rules:
- working days are Monday–Friday, minus the 节假日 rows typed 休息, plus those typed 上班 (调休);
- 成文日期 is the 方案 row, else the run date; this module is its one owner: the notice, the
  公示名单 and the manifest all take it from `issued_date`;
- the 公示 starts on 公示开始日期 (default 成文日期), moved forward to the next working day when
  it is not one, and lasts 公示天数 working days (default 5), both ends included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Callable

DEFAULT_DAYS = 5
HOLIDAY_KINDS = {"休息": "off", "上班": "work"}
# a scheme's holiday list covers a year or two; a window longer than this is a typing error
MAX_DAYS = 60
_SEARCH_LIMIT = 3660  # days looked ahead for working days before giving up (10 years)


@dataclass(frozen=True)
class Settings:
    """What the scheme says about 公示 (None: not written, the default applies)."""

    days: int = DEFAULT_DAYS
    written_on: date | None = None  # 成文日期
    start_on: date | None = None  # 公示开始日期
    objections: str = ""  # 异议受理: where objections go
    off_days: frozenset[date] = field(default_factory=frozenset)  # 休息
    work_days: frozenset[date] = field(default_factory=frozenset)  # 上班


@dataclass(frozen=True)
class Window:
    issued_on: date  # 成文日期
    start: date
    end: date
    days: int


def is_working_day(day: date, off_days=frozenset(), work_days=frozenset()) -> bool:
    if day in work_days:
        return True
    if day in off_days:
        return False
    return day.weekday() < 5


def next_working_day(day: date, off_days=frozenset(), work_days=frozenset()) -> date:
    """`day` itself when it is a working day, else the first working day after it."""
    for _ in range(_SEARCH_LIMIT):
        if is_working_day(day, off_days, work_days):
            return day
        day += timedelta(days=1)
    raise ValueError("no working day found")  # only with a holiday list marking years as 休息


def window_end(start: date, days: int, off_days=frozenset(), work_days=frozenset()) -> date:
    """The last day of `days` working days counted from the working day `start` (included)."""
    day, counted = start, 1
    for _ in range(_SEARCH_LIMIT):
        if counted >= days:
            break
        day += timedelta(days=1)
        if is_working_day(day, off_days, work_days):
            counted += 1
    else:
        raise ValueError("not enough working days")
    return day


def issued_date(settings: Settings | None, run_date: date) -> date:
    """成文日期: the scheme's, else the run date."""
    return settings.written_on if settings is not None and settings.written_on else run_date


def window(settings: Settings | None, run_date: date) -> Window:
    """The 公示 window of a run on `run_date` (or of the archived 成文日期)."""
    settings = settings or Settings()
    issued = issued_date(settings, run_date)
    start = next_working_day(settings.start_on or issued, settings.off_days, settings.work_days)
    end = window_end(start, settings.days, settings.off_days, settings.work_days)
    return Window(issued, start, end, settings.days)


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def period_sentence(win: Window) -> str:
    return f"公示期：{chinese_date(win.start)}至{chinese_date(win.end)}"


# ---------------------------------------------------------------- reading the scheme

_DATE_TEXT = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*(?:0{1,2}:00(?::00)?)?\s*$")


def read_date(value: object) -> tuple[date | None, bool]:
    """(date, unreadable) of a cell: an Excel date, 2025-01-10, 2025/1/10 or 2025年1月10日; empty → (None, False)."""
    if value is None or value == "" or (isinstance(value, float) and value != value):
        return None, False
    if isinstance(value, datetime):
        return value.date(), False
    if isinstance(value, date):
        return value, False
    match = _DATE_TEXT.match(str(value))
    if not match:
        return None, True
    try:
        return date(int(match[1]), int(match[2]), int(match[3])), False
    except ValueError:
        return None, True


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_settings(values: dict[str, object], rownum: dict[str, int], holiday_rows: list[dict] | None,
                   add: Callable[[str, int | None, str], None]) -> Settings:
    """The 方案 rows 公示天数 / 成文日期 / 公示开始日期 / 异议受理 and the 节假日 rows.

    `holiday_rows` are dicts with `day`, `kind`, `xlsx_row` and the column letters `day_col`,
    `kind_col` (None: no 节假日 sheet). Every unreadable cell is reported through `add(sheet,
    row, text)` with what to write.
    """
    days = DEFAULT_DAYS
    written = _text(values.get("公示天数", ""))
    if written:
        if re.fullmatch(r"\d+(\.0+)?", written) and 1 <= int(float(written)) <= MAX_DAYS:
            days = int(float(written))
        else:
            add("方案", rownum.get("公示天数"), f"「公示天数」应为 1–{MAX_DAYS} 的整数（工作日数，如 5），现为「{written}」")
    dates: dict[str, date | None] = {}
    for key in ("成文日期", "公示开始日期"):
        day, bad = read_date(values.get(key, ""))
        if bad:
            add("方案", rownum.get(key), f"「{key}」应为日期（如 2025-01-10 或 2025年1月10日），现为「{_text(values.get(key))}」")
        dates[key] = day
    off: set[date] = set()
    work: set[date] = set()
    seen: dict[date, int] = {}
    for row in holiday_rows or []:
        day, bad = read_date(row["day"])
        kind = _text(row["kind"])
        where = f"「日期」（{row['day_col']}列）" if row.get("day_col") else "「日期」"
        if bad or day is None:
            add("节假日", row["xlsx_row"], f"{where}应为日期（如 2025-01-28），现为「{_text(row['day'])}」")
        if kind not in HOLIDAY_KINDS:
            add("节假日", row["xlsx_row"], f"「类型」只能是 休息（工作日放假）或 上班（周末调休上班），现为「{kind}」")
        if day is None or bad or kind not in HOLIDAY_KINDS:
            continue
        if day in seen:
            add("节假日", row["xlsx_row"], f"日期 {day.isoformat()} 重复（第{seen[day]}行已有），请只保留一行")
            continue
        seen[day] = row["xlsx_row"]
        (off if HOLIDAY_KINDS[kind] == "off" else work).add(day)
    settings = Settings(days, dates["成文日期"], dates["公示开始日期"], _text(values.get("异议受理", "")),
                        frozenset(off), frozenset(work))
    try:
        window(settings, settings.written_on or date.today())
    except ValueError:
        add("节假日", None, "节假日表把此后十年都标为休息，找不到工作日：请检查「类型」列")
    return settings
