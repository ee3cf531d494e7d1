"""number_text owns how a number is written: each reference formatter on values worked out by hand,
and every fast path that formats a whole column (explain, rating_score, report) equal to its
reference, byte for byte, on ties, negative zero, tiny and huge numbers, NaN and infinities."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from kaohe_excel.scoring import explain
from kaohe_excel.inputs import number_text
from kaohe_excel.scoring import rating_score
from kaohe_excel.outputs import report_csv
from kaohe_excel.outputs import report_values
from kaohe_excel.inputs.number_text import fixed, plain, positional, rounded_text, trimmed, two_to_four
from kaohe_excel.scoring.score import round_half_up

TIES = [0.125, 2.675, 1.005, 0.005, -0.005, 0.015, -0.015, 1.115, 2.5, -2.5, 0.45, 0.12345, 99.995, -99.995,
        0.00005, -0.00005, 1234.56785]
AWKWARD = [0.0, -0.0, 0.1 + 0.2, 1 / 3, 2 / 3, -1 / 3, 85.3, 100.0, 1e-7, -1e-7, 1e-10, 123456.789,
           999999999.994, 999999999.995, 1e9 - 0.005, 1e9, 1e9 + 0.5, -1e9, 12345678901.25, 1e15, -1e15, 1e17,
           float(2**53), 1e300, math.inf, -math.inf, math.nan]


def _values() -> np.ndarray:
    rng = np.random.default_rng(14)
    return np.concatenate([
        TIES, AWKWARD,
        rng.uniform(-1000, 1000, 3000),
        rng.integers(-10**6, 10**6, 3000) / 1000,  # exact thousandths: every x.xx5 tie
        rng.integers(-10**8, 10**8, 2000) / 10**5,  # five decimals
        rng.integers(-80, 80, 500) / 8,  # binary-exact halves, quarters, eighths
        10.0 ** rng.uniform(-8, 16, 1000) * rng.choice([-1, 1], 1000),  # every magnitude
    ])


VALUES = _values()


# --------------------------------------------------------------------------- the references, by hand


def test_plain_quotes_ten_significant_digits():
    assert [plain(v) for v in (1234.5, 0.1 + 0.2, 1e20, 85.0, -0.5)] == ["1234.5", "0.3", "1e+20", "85", "-0.5"]


def test_positional_writes_no_exponent_and_no_float_noise():
    assert [positional(v) for v in (85.3, 12.0, 0.05, 0.1 + 0.2, 1e15, 1e-10, -0.0)] == [
        "85.3", "12", "0.05", "0.3", "1000000000000000", "0", "-0"]


def test_fixed_formats_the_float_itself_and_round_half_up_gives_the_decimal_tie():
    # 0.125 is exact in binary (Python rounds the tie to even); 2.675 is stored just below 2.675
    assert [fixed(0.125), fixed(2.675), fixed(85.0), fixed(5, 1), fixed(-0.0)] == ["0.12", "2.67", "85.00", "5.0", "-0.00"]
    assert [fixed(round_half_up(v, 2)) for v in (0.125, 2.675, 1.005, -0.005, -0.004)] == [
        "0.13", "2.68", "1.01", "-0.01", "0.00"]


def test_trimmed_drops_trailing_zeros_and_a_bare_dot():
    assert [trimmed(v) for v in (86.5, 80.0, 86.67, 0.004, -0.0, 1234.0)] == ["86.5", "80", "86.67", "0", "-0", "1234"]


def test_rounded_text_as_a_score_explanation_writes_it():
    # a negative zero stays "-0.00" at 2 decimals (round_half_up never returns one) and is "0" at 4
    assert [rounded_text(v, 2) for v in (0.13, 80.0, -0.0, math.nan, math.inf, -math.inf)] == [
        "0.13", "80.00", "-0.00", "—", "∞", "-∞"]
    assert [rounded_text(v, 4) for v in (0.1235, 2.5, 80.0, -0.0)] == ["0.1235", "2.5", "80", "0"]


def test_two_to_four_keeps_two_decimals_at_least_and_four_at_most():
    assert [two_to_four(v) for v in (8.0, 0.4545, 0.7, 12.3456, -3.1, math.nan, -math.inf)] == [
        "8.00", "0.4545", "0.70", "12.3456", "-3.10", "—", "-∞"]


def test_the_number_to_text_helpers_elsewhere_are_the_owners():
    from kaohe_excel.inputs import crosscheck
    from kaohe_excel.scoring import rank
    from kaohe_excel.outputs import total_note
    from kaohe_excel.inputs import value_guard

    assert value_guard.plain is plain and crosscheck._plain is plain and number_text._plain is plain
    assert total_note._num is positional
    assert explain.plain is rounded_text and explain.show_one is two_to_four
    assert [rank._fmt(v) for v in (0.2, 90.0, 12.345)] == ["0.2", "90", "12.35"]  # 12.345 is stored above the tie


# --------------------------------------------------------------------------- the fast paths against them


@pytest.mark.parametrize("decimals", [2, 4])
def test_explain_number_texts_equal_rounded_text_of_each_rounded_value(decimals):
    fast = explain.number_texts(VALUES, decimals).to_pylist()
    reference = [rounded_text(round_half_up(float(v), decimals), decimals) for v in VALUES]
    assert fast == reference


@pytest.mark.parametrize("decimals", [2, 4])
def test_explain_format_numbers_equal_the_reference_with_and_without_repeats(decimals):
    repeated = np.tile(VALUES[:300], 40)  # few distinct values: each written once, then taken
    distinct = np.concatenate([VALUES, np.arange(9000) / 7.0])  # over 8192 mostly distinct: written row by row
    for values in (repeated, distinct):
        fast = explain.format_numbers(values, pd.RangeIndex(len(values)), decimals).tolist()
        assert fast == [rounded_text(round_half_up(float(v), decimals), decimals) for v in values]


def test_explain_show_numbers_equal_two_to_four_of_each_value():
    index = pd.RangeIndex(len(VALUES))
    assert explain.show_numbers(VALUES, index).tolist() == [two_to_four(round_half_up(float(v), 4)) for v in VALUES]
    cents = [explain.CENTS.sub(r"\1", two_to_four(round_half_up(float(v), 4))) for v in VALUES]
    assert explain.show_numbers(VALUES, index, cents=True).tolist() == cents


def test_rating_score_nums_equal_num_of_each_value():
    fast = rating_score._nums(pd.Series(VALUES)).tolist()
    assert fast == ["" if v != v else rating_score._num(float(v)) for v in VALUES]


def test_report_texts_of_a_float_column_equal_positional():
    fast = report_values._texts(pd.Series(VALUES, dtype=float))
    assert fast == ["" if v != v else positional(v) for v in VALUES]


def test_report_two_decimal_column_equals_fixed_after_round_half_up():
    fast = report_csv._fmt2(pd.Series(VALUES)).tolist()
    assert fast == ["" if v != v else fixed(round_half_up(float(v), 2)) for v in VALUES]
