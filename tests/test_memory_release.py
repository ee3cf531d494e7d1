"""Issue 17 (a run at 10,000 units under 1.5 GB): what a run lets go once a stage is done, and the
compact forms that hold the same values while the feedback batches are sent."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pandas as pd

from conftest import make_inbox
from kaohe_excel.analysis import gap
from kaohe_excel.base.memory import cycles_collected
from kaohe_excel.inputs import validate as validate_module
from kaohe_excel.jobs import pipeline
from kaohe_excel.outputs.report_feedback import _compact_texts, _restore_texts
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.scoring import score


def test_a_stream_kept_by_the_run_does_not_keep_the_validator(tmp_path, small_scheme_path, monkeypatch):
    """run and check keep their inbox stream (to close it) through scoring and the outputs; the
    validator its judge carries (a city's unit x indicator tables) must not stay with it."""
    scheme = load_scheme(small_scheme_path)
    inbox = make_inbox(tmp_path / "inbox", scheme)
    made = []
    real_init = validate_module._FileJudge.__init__

    def recording_init(self, validator):
        made.append(weakref.ref(validator))
        real_init(self, validator)

    monkeypatch.setattr(validate_module._FileJudge, "__init__", recording_init)
    stream = pipeline.inbox_stream(inbox, workers=2)
    validated = pipeline.read_and_validate(scheme, inbox, stream=stream)
    gc.collect()
    assert len(validated.values) and made
    assert all(ref() is None for ref in made)
    assert stream.judge is None


def test_cycles_left_by_a_block_are_freed_when_it_ends_and_older_ones_are_left_alone():
    class Part:
        pass

    def cycle():
        part = Part()
        part.package = part  # a document's parts refer to each other (python-docx)
        return weakref.ref(part)

    gc.disable()
    try:
        before = cycle()
        with cycles_collected():
            made = cycle()
            assert made() is not None
        assert made() is None
        assert before() is not None  # from before the block: examined by the next full collection only
        gc.collect()
        assert before() is None
    finally:
        gc.enable()


def test_text_columns_held_compact_come_back_as_they_were():
    frame = pd.DataFrame({
        "code": pd.Series(["U1", "U2", "U1", None, "U3"], dtype="str"),
        "sentence": pd.Series(["距满分差 2 分", "已得满分", "距满分差 2 分", "已得满分", "无"], dtype=object),
        "grade": pd.Series(["优", None, np.nan, "良", "优"], dtype=object),  # missing values: left as they are
        "score": [1.0, np.nan, 2.5, 3.0, 0.0],
    }).set_axis([10, 11, 12, 13, 14])
    compact, restore = _compact_texts(frame)
    assert set(restore) == {"code", "sentence"}
    assert isinstance(compact["sentence"].dtype, pd.CategoricalDtype)
    for rows in ([0, 2], [3, 4], [], [1, 2, 3], [4, 0]):
        part, expected = _restore_texts(compact.iloc[rows], restore), frame.iloc[rows]
        pd.testing.assert_frame_equal(part, expected)
        assert list(part.dtypes) == list(expected.dtypes)
        assert [type(v) for v in part["sentence"]] == [str] * len(rows)
        assert part["grade"].tolist() == expected["grade"].tolist()


def test_gap_rows_that_say_the_same_share_one_sentence():
    tiers = pd.DataFrame(columns=["tier_table", "lower", "level", "share"])
    n = 6
    frame = pd.DataFrame({
        "unit_code": [f"U{i}" for i in range(n)], "unit_name": [f"单位{i}" for i in range(n)], "group": "乡镇",
        "indicator_code": "X1", "name": "测试指标", "category": "经济发展", "measure_unit": "亿元",
        "method": "完成率", "direction": "higher", "points": 10.0,
        "value": [50.0, 50.0, 50.0, 120.0, 120.0, 80.0], "text_value": pd.Series([None] * n, dtype=object),
        "exempt": False, "unscored": False, "missing_rule": "normalize", "tier_table": np.nan,
        "base": np.nan, "target": 100.0, "full": np.nan, "floor": np.nan, "base_share": np.nan, "cap": np.nan,
        "step": np.nan,
    })
    table = gap.gap_table(score.score_indicators(frame, tiers), tiers)
    sentences = table.set_index("unit_code")["sentence"]
    assert sentences["U0"] == sentences["U1"] == sentences["U2"] != sentences["U5"]
    assert sentences["U0"] is sentences["U1"] is sentences["U2"]
    assert len({id(s) for s in sentences}) == sentences.nunique()
