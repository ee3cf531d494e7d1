"""What a number format shows: the rules Excel and WPS follow when a cell's format shows a number
or a text otherwise than it is stored (58.2% for 0.582, 1.2 for 1234567 under "0.0,,", nothing under
";;;", 优秀 for any text under ';;;"优秀"').

It knows nothing of XML: xlsx_meta reads the format codes from styles.xml and asks here what they
show. The kinds below are what `xlsx_meta.Formatted.kind` and a style's kind say.
"""

from __future__ import annotations

import math
import re
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

# Built-in number formats (ECMA-376 18.8.30) that calamine does not already turn into dates:
# the percentages, and those that round, scale or drop the sign of what they show.
_BUILTIN_PERCENT = {9: "0%", 10: "0.00%"}
BUILTIN_NUMBERS = {1: "0", 2: "0.00", 3: "#,##0", 4: "#,##0.00", 11: "0.00E+00", 12: "# ?/?", 13: "# ??/??",
                   37: "#,##0 ;(#,##0)", 38: "#,##0 ;[Red](#,##0)", 39: "#,##0.00;(#,##0.00)",
                   40: "#,##0.00;[Red](#,##0.00)", 48: "##0.0E+0", **_BUILTIN_PERCENT}

# Parts of a format code that never show a digit: quoted text, escaped characters,
# [colours]/[conditions], and the padding of _x and *x.
_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.')
# A thousands separator after the last digit placeholder divides the shown number by
# 1,000 per comma ("0.0,," shows 1234567 as 1.2).
_SCALING = re.compile(r'[0#?.],+(?=[^0#?]*$)')

PERCENT = "percent"
SCALED = "scaled"
INVISIBLE = "invisible"
OTHER = "other"  # shows other digits or words than the stored number (a literal, a condition, no minus sign)
ROUNDED = "rounded"  # shows the number with fewer decimals (or as a fraction, in E notation)
FONT_HIDDEN = "font"  # the cell's font has the fill's colour (or is white on no fill, or 1-2 points): nothing shows
FORMULA = "formula"  # an input cell holding a formula whose cached result the tool cannot recompute
CONDITIONAL = "conditional"  # a conditional format shows no number (a data bar or icon set alone)


def format_kind(code: str) -> str:
    """How a number format changes what a person sees: PERCENT (×100 and a %), SCALED
    (divided by 1,000 per trailing comma), INVISIBLE (";;;": the number is not shown), or ""."""
    if not code or code.lower() == "general":
        return ""
    sections = _LITERALS.sub("", code).split(";")
    if len(sections) >= 3 and not any(s.strip() for s in sections[:3]):
        return INVISIBLE
    positive = sections[0]
    if "%" in positive:
        return PERCENT
    if _SCALING.search(positive):
        return SCALED
    return ""


_QUOTED = re.compile(r'"[^"]*"|\\.')


def hides_text(code: str) -> bool:
    """Whether a format shows a typed text otherwise: its 4th (text) section has no @, so the text
    is not shown (";;;") or replaced by the section's own characters (';;;"优秀"' shows 优秀 for any text)."""
    if not code or ";" not in code:
        return False
    sections = _QUOTED.sub("x", code).split(";")
    return len(sections) >= 4 and "@" not in sections[3]


def shows_numbers(code: str) -> bool:
    """Whether a format is more than General or @ (then what it shows depends on the value: `shown_as`)."""
    return bool(code) and code.strip().lower() not in ("general", "@")


# ---------------------------------------------------------------- what a number format shows

_CONDITION = re.compile(r'\[\s*(<=|>=|<>|=|<|>)\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*\]')
_WHITE = re.compile(r'\[\s*(?:white|白色|color\s*0*2)\s*\]', re.I)
_RED = re.compile(r'\[\s*(?:red|红色|color\s*0*3)\s*\]', re.I)
_QUOTED_TEXT = re.compile(r'"([^"]*)"|\\(.)')
_PLACEHOLDER = re.compile(r'[0#?]')


def _split_sections(code: str) -> list[str]:
    """A format code's sections (split at ; outside quotes, escapes and brackets)."""
    sections, current, i = [], [], 0
    while i < len(code):
        ch = code[i]
        if ch == '"':
            end = code.find('"', i + 1)
            end = len(code) if end < 0 else end + 1
        elif ch == "[":
            end = code.find("]", i + 1)
            end = len(code) if end < 0 else end + 1
        elif ch in "\\_*":
            end = i + 2
        elif ch == ";":
            sections.append("".join(current))
            current, i = [], i + 1
            continue
        else:
            end = i + 1
        current.append(code[i:end])
        i = end
    sections.append("".join(current))
    return sections


def condition_holds(condition: tuple[str, float], value: float) -> bool:
    """Whether `value` meets a format's condition ("<", 10): [<10] in a section, or a conditional format's rule."""
    op, limit = condition
    return {"<": value < limit, "<=": value <= limit, ">": value > limit, ">=": value >= limit,
            "=": value == limit, "<>": value != limit}[op]


def _section_for(sections: list[str], value: float) -> tuple[str, bool]:
    """The section that shows `value`, and whether Excel puts the minus sign itself (one plain section)."""
    numeric = sections[:3]
    conditions = []
    for section in numeric:
        found = _CONDITION.search(section)
        conditions.append((found.group(1), float(found.group(2))) if found else None)
    if any(conditions[:2]):
        for index in (0, 1):
            if index < len(numeric) and conditions[index] and condition_holds(conditions[index], value):
                return numeric[index], False
        if len(numeric) >= 3:
            return numeric[2], False
        rest = [section for section, condition in zip(numeric, conditions) if condition is None]
        return (rest[0] if rest else numeric[-1]), False
    if len(numeric) == 1:
        return numeric[0], True
    if value > 0 or (value == 0 and len(numeric) < 3):
        return numeric[0], False
    return (numeric[1], False) if value < 0 else (numeric[2], False)


def _half_up(value: float, decimals: int) -> Decimal:
    return Decimal(repr(value)).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)


def shown_as(code: str, value: float) -> tuple[str, str] | None:
    """How a number format shows `value` when that is not the stored number, as Excel and WPS show
    it: (PERCENT | SCALED | INVISIBLE | OTHER | ROUNDED, the text shown where it matters), or None
    when the number shows as stored (General, thousands separators, a unit written beside it)."""
    if not shows_numbers(code) or not math.isfinite(value):
        return None
    section, auto_minus = _section_for(_split_sections(code), value)
    if _WHITE.search(section):
        return INVISIBLE, ""
    literal = "".join(a or b for a, b in _QUOTED_TEXT.findall(section))
    bare = _LITERALS.sub("", section)
    lowered = bare.lower()
    general = "general" in lowered
    if general:
        bare = re.sub("(?i)general", "", bare)
    if not general and _PLACEHOLDER.search(bare) is None:
        if "@" in bare:
            return None  # a text section applied to a number shows it as General
        shown = (literal + bare).strip()
        if not shown:
            return INVISIBLE, ""
        if value == 0 and set(shown) <= set("-－—– "):
            return None  # the accountants' dash for zero
        return OTHER, shown
    if any(ch.isdigit() for ch in literal):
        return OTHER, ""
    if "%" in bare:
        return PERCENT, ""
    if _SCALING.search(bare):
        return SCALED, ""
    if value < 0 and not (auto_minus or "-" in bare or "-" in literal or "(" in bare or "(" in literal
                          or _RED.search(section)):
        return OTHER, plain_number(-value)
    if general:
        return None
    size = abs(value)
    sign = "-" if value < 0 else ""
    exponent = re.search(r"[eE][+-]", bare)
    if exponent:
        mantissa = bare[:exponent.start()]
        decimals = len(_PLACEHOLDER.findall(mantissa.split(".", 1)[1])) if "." in mantissa else 0
        shown = f"{size:.{decimals}E}"
        return None if float(shown) == size else (ROUNDED, sign + shown)
    if "/" in bare:
        return _fraction(bare, size, sign)
    decimals = len(_PLACEHOLDER.findall(bare.split(".", 1)[1])) if "." in bare else 0
    rounded = _half_up(size, decimals)
    if rounded == 0 and "0" not in bare:
        return INVISIBLE, ""  # only # and ? placeholders show nothing for zero
    if rounded == Decimal(repr(size)):
        return None
    return ROUNDED, sign + f"{rounded:f}"


def _fraction(bare: str, size: float, sign: str) -> tuple[str, str] | None:
    denominator = bare.split("/", 1)[1]
    fixed = re.match(r"\s*(\d+)", denominator)
    if fixed and int(fixed.group(1)) > 0:
        scale = int(fixed.group(1))
        shown = Fraction(round(size * scale), scale)
    else:
        shown = Fraction(size).limit_denominator(10 ** max(1, len(_PLACEHOLDER.findall(denominator))) - 1)
    if float(shown) == size:
        return None
    whole, rest = divmod(shown, 1)
    text = f"{whole} {rest.numerator}/{rest.denominator}" if rest else f"{whole}"
    return ROUNDED, sign + text


def plain_number(number: float) -> str:
    return f"{number:.10g}"
