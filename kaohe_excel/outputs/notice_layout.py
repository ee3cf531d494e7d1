"""GB/T 9704-2012 details of the notice that are computed rather than templated: the title broken
between words, the 成文日期 from the scheme, the 版头/版记 lines from 方案 rows, and the document
properties of the written file.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

from kaohe_excel.base.errors import KaoheError
from kaohe_excel.base.text_width import display_width

# The title line holds 20 characters of 二号 (22 pt) in the 156 mm type area.
TITLE_LINE_WIDTH = 20.0
DATE_KEY = "成文日期"

# Where a title may break. After these words a new line reads naturally …
_BREAK_AFTER = ("关于", "年度", "季度", "月份", "上半年", "下半年", "年")
# … and before these (the head words of an assessment's name).
_BREAK_BEFORE = ("目标", "综合", "绩效", "考核", "工作", "进度", "结果", "情况")
# Weaker places (inside a list of things): used only when they balance the lines much better.
_WEAK_AFTER = ("和", "及", "与", "的", "、")
_WEAK_PENALTY = 4.0


def _width(text: str) -> float:
    """Title width in characters: a half-width digit or letter is half a character."""
    return display_width(text, ambiguous_wide=True) / 2


def _break_costs(title: str) -> dict[int, float]:
    """Positions (a break before title[i]) and their penalty; digits and Latin words are never cut."""
    costs: dict[int, float] = {}
    for i in range(1, len(title)):
        before, after = title[:i], title[i:]
        if title[i - 1].isascii() and title[i].isascii() and title[i - 1].isalnum() and title[i].isalnum():
            continue
        if before.endswith(_BREAK_AFTER) or after.startswith(_BREAK_BEFORE):
            costs[i] = 0.0
        elif before.endswith(_WEAK_AFTER):
            costs[i] = _WEAK_PENALTY
    return costs


def title_lines(title: str, width: float = TITLE_LINE_WIDTH) -> list[str]:
    """The title in lines of at most `width` characters, broken between words (never "目标责/任"),
    the lines as even as the word boundaries allow (梯形 or 菱形, as GB/T 9704 asks)."""
    if _width(title) <= width:
        return [title]
    costs = _break_costs(title)
    n = 2
    while n * width < _width(title):
        n += 1
    best: tuple[float, list[int]] | None = None

    def search(start: int, left: int, cuts: list[int], penalty: float) -> None:
        nonlocal best
        if left == 1:
            lines = [title[a:b] for a, b in zip([0] + cuts, cuts + [len(title)])]
            widths = [_width(line) for line in lines]
            if max(widths) <= width:
                score = penalty + max(widths) - min(widths)
                if best is None or score < best[0]:
                    best = (score, list(cuts))
            return
        for i in sorted(costs):
            if i > start and _width(title[start:i]) <= width:
                search(i, left - 1, cuts + [i], penalty + costs[i])

    while best is None and n <= len(title):
        search(0, n, [], 0.0)
        if best is None:
            n += 1
            if n > 4:
                break
    if best is None:  # no word boundary fits: cut by width, still never inside a number
        lines, line = [], ""
        for ch in title:
            if line and _width(line + ch) > width and not (line[-1].isascii() and ch.isascii()):
                lines.append(line)
                line = ""
            line += ch
        return lines + [line]
    cuts = best[1]
    return [title[a:b] for a, b in zip([0] + cuts, cuts + [len(title)])]


_DATE = re.compile(r"^\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:\s+00:00(?::00)?)?\s*$")


def document_date(meta: Any, default: date) -> date:
    """The notice's 成文日期: the 方案 row 成文日期 when given (2025年1月15日, 2025-01-15, an Excel date),
    else `default` (the run date). A date that cannot be read stops the run: never a guessed date."""
    extra = getattr(meta, "extra", None) or {}
    raw = extra.get(DATE_KEY, "")
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    text = unicodedata.normalize("NFKC", str(raw or "")).strip()
    if not text:
        return default
    match = _DATE.match(text)
    if match:
        try:
            return date(int(match[1]), int(match[2]), int(match[3]))
        except ValueError:
            pass
    raise KaoheError(f"考核方案「方案」表的「成文日期」为「{text}」，无法识别为日期；请写成 2025年1月15日 或 2025-01-15，"
                     "或留空（以运行当天为成文日期）")


def chinese_date(day: date) -> str:
    """The notice's one date style (signature, 印发 line); GB/T 9704 dates use Arabic numerals: 2025年1月15日."""
    return f"{day.year}年{day.month}月{day.day}日"


def imprint_context(meta: Any, issued_on: date) -> dict:
    """版头 and 版记 variables from 方案 rows 发文机关标志, 抄送, 印发机关 (each optional)."""
    extra = getattr(meta, "extra", None) or {}
    mark = str(extra.get("发文机关标志", "") or "").strip()
    copy_to = str(extra.get("抄送", "") or "").strip().rstrip("。")
    printer = str(extra.get("印发机关", "") or "").strip()
    if copy_to and not printer:
        printer = str(getattr(meta, "issuer", "") or "").strip() or "考核办公室"
    return {
        "masthead": mark,
        "copy_to": copy_to,
        "printer": printer,
        "printed_on": f"{chinese_date(issued_on)}印发",
        "imprint": bool(copy_to or printer),
    }


def set_document_properties(path: str | Path, title: str, author: str, when: datetime | None = None) -> None:
    """Title, author (发文机关) and this run's dates in the .docx, not the template's."""
    from docx import Document

    when = when or datetime.now().replace(microsecond=0)
    doc = Document(str(path))
    props = doc.core_properties
    props.title = title
    props.author = author
    props.last_modified_by = author
    props.created = when
    props.modified = when
    printed = props._element.find("{http://schemas.openxmlformats.org/package/2006/metadata/core-properties}lastPrinted")
    if printed is not None:  # the template's, if it was ever printed
        props._element.remove(printed)
    props.revision = 1
    props.comments = ""
    props.keywords = ""
    props.subject = ""
    props.category = ""
    doc.save(str(path))
