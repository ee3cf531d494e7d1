"""平时考核: a 数据来源=平时 indicator averages the unit's printed 总分 in archived quarters.

The quarters are archived folders written here (manifest + totals.parquet, as archive writes
them), so every total is chosen by hand; the year is a real run of the small scheme.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook

from conftest import make_inbox, small_scheme_sheets, write_workbook
from kaohe_excel.storage import archive
from kaohe_excel.jobs import pipeline
from kaohe_excel.base.errors import ArchiveMismatch, DataErrorsPresent, InterimSourceMissing, SchemeInvalid
from kaohe_excel.scheme.workbook import load_scheme

ISSUED = date(2025, 1, 15)
NAMES = {"T01": ("东城镇", "乡镇"), "T02": ("西山乡", "乡镇"), "D01": ("发改局", "部门"), "D02": ("财政局", "部门")}
# printed 总分 per quarter; D02 joined in Q3
QUARTERS = {
    "2024Q1": {"T01": 88.50, "T02": 90.00, "D01": 70.25},
    "2024Q2": {"T01": 90.00, "T02": 84.00, "D01": 71.00},
    "2024Q3": {"T01": 89.25, "T02": 86.00, "D01": 72.40, "D02": 80.00},
    "2024Q4": {"T01": 91.00, "T02": 88.10, "D01": 73.00, "D02": 81.25},
}


def archive_quarter(out: Path, period: str, totals: dict[str, float], sealed: bool = True) -> Path:
    folder = out / period
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"unit_code": list(totals), "unit_name": [NAMES[u][0] for u in totals],
                          "group": [NAMES[u][1] for u in totals], "total": list(totals.values()),
                          "rank": [1.0] * len(totals), "grade": ["良好"] * len(totals)})
    frame.to_parquet(folder / "totals.parquet", index=False)
    files = [{"path": "totals.parquet", "size": (folder / "totals.parquet").stat().st_size,
              "sha256": archive.sha256_file(folder / "totals.parquet")}]
    (folder / "manifest.json").write_text(json.dumps({"period": period, "files": files}), encoding="utf-8")
    if sealed:  # a seal records the manifest's hash, as archive.seal_period writes it
        seal = {"manifest_sha256": archive.sha256_file(folder / "manifest.json")}
        (folder / "SEALED.json").write_text(json.dumps(seal), encoding="utf-8")
    return folder


def annual_sheets(source_periods: str = "", period_type: str = "年度", period: str = "2024") -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    meta = sheets["方案"].copy()
    meta.loc[meta["项目"] == "周期类型", "值"] = period_type
    meta.loc[meta["项目"] == "考核周期", "值"] = period
    sheets["方案"] = meta
    indicators = sheets["指标"]
    row = {column: None for column in indicators.columns}
    row.update({"指标代码": "PS", "一级指标": "平时考核", "指标名称": "平时考核", "适用类别": "全部", "分值": 20,
                "计分方法": "完成率", "方向": "正向", "目标值": 100, "数据来源": "平时", "牵头单位": "考核办"})
    indicators = pd.concat([indicators, pd.DataFrame([row])], ignore_index=True)
    indicators["来源周期"] = [None] * (len(indicators) - 1) + [source_periods or None]
    sheets["指标"] = indicators
    return sheets


@pytest.fixture(scope="module")
def annual_inbox(tmp_path_factory):
    base = tmp_path_factory.mktemp("annual")
    scheme = load_scheme(write_workbook(base / "scheme.xlsx", annual_sheets()))
    return make_inbox(base / "inbox", scheme)


def run_year(tmp_path: Path, inbox: Path, source_periods: str = "", quarters=QUARTERS, unsealed=()):
    out = tmp_path / "out"
    for period, totals in quarters.items():
        archive_quarter(out, period, totals, sealed=period not in unsealed)
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets(source_periods))
    return out, pipeline.run(inbox, scheme_path, out_root=out, issued_on=ISSUED, workers=1, allow_errors=True)


def cell(outcome, unit: str) -> pd.Series:
    scored = outcome.results.scored
    return scored[(scored["unit_code"] == unit) & (scored["indicator_code"] == "PS")].iloc[0]


def issues(outcome, code: str) -> pd.DataFrame:
    table = outcome.results.validated.issues_table
    return table[table["code"] == code]


def test_four_quarters_averaged_and_a_late_joiner_over_its_two(tmp_path, annual_inbox):
    _, outcome = run_year(tmp_path, annual_inbox)
    # T01: (88.50 + 90.00 + 89.25 + 91.00) / 4 = 89.6875 → 89.69; 20 × 89.69 / 100 = 17.938 → 17.94
    assert cell(outcome, "T01")["value"] == pytest.approx(89.69)
    assert cell(outcome, "T01")["score"] == pytest.approx(17.94)
    # T02: 348.10 / 4 = 87.025 exactly → 87.03 (half-up of the decimal, not of the binary float)
    assert cell(outcome, "T02")["value"] == pytest.approx(87.03)
    assert cell(outcome, "T02")["score"] == pytest.approx(17.41)
    # D02 joined in Q3: (80.00 + 81.25) / 2 = 80.625 → 80.63; 20 × 0.8063 = 16.126 → 16.13
    assert cell(outcome, "D02")["value"] == pytest.approx(80.63)
    assert cell(outcome, "D02")["score"] == pytest.approx(16.13)
    partial = issues(outcome, "interim_partial")
    assert list(partial["unit"]) == ["D02"]
    assert partial.iloc[0]["severity"] == "警告" and "2024Q1、2024Q2" in partial.iloc[0]["message"]
    assert issues(outcome, "interim_unsealed").empty
    assert "2024Q1 88.50、2024Q2 90.00、2024Q3 89.25、2024Q4 91.00，平均 89.69" in cell(outcome, "T01")["explanation"]


def test_three_listed_periods_any_separator(tmp_path, annual_inbox):
    _, outcome = run_year(tmp_path, annual_inbox, "2024Q1、2024Q2，2024Q3")
    # T01: 267.75 / 3 = 89.25; D01: 213.65 / 3 = 71.2166… → 71.22; D02 only in Q3: 80.00
    assert cell(outcome, "T01")["value"] == pytest.approx(89.25)
    assert cell(outcome, "D01")["value"] == pytest.approx(71.22)
    assert cell(outcome, "D02")["value"] == pytest.approx(80.00)
    assert "2024Q4" not in cell(outcome, "T01")["explanation"]


def test_a_listed_period_not_archived_cannot_run(tmp_path, annual_inbox):
    quarters = {k: v for k, v in QUARTERS.items() if k != "2024Q4"}
    with pytest.raises(InterimSourceMissing) as caught:
        run_year(tmp_path, annual_inbox, "2024Q1、2024Q2、2024Q3、2024Q4", quarters=quarters)
    assert "2024Q4" in str(caught.value) and "没有归档" in str(caught.value)


def test_no_archived_period_of_the_year_exits_2(tmp_path, annual_inbox):
    from typer.testing import CliRunner

    from kaohe_excel.cli import app

    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    out = tmp_path / "out"
    archive_quarter(out, "2023Q4", QUARTERS["2024Q4"])  # another year does not count
    result = CliRunner().invoke(app, ["run", str(annual_inbox), "--scheme", str(scheme_path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    shown = result.output.replace("\n", "")  # the console wraps long lines
    assert "2024Q1" in shown and "没有 2024 年的季度" in shown


def test_an_unsealed_source_period_is_warned(tmp_path, annual_inbox):
    _, outcome = run_year(tmp_path, annual_inbox, unsealed=("2024Q3",))
    warned = issues(outcome, "interim_unsealed")
    assert len(warned) == 1 and warned.iloc[0]["severity"] == "警告"
    assert "2024Q3" in warned.iloc[0]["message"] and "kaohe seal 2024Q3" in warned.iloc[0]["message"]


def test_absent_from_every_source_period_is_an_error(tmp_path, annual_inbox):
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets("2024Q1、2024Q2"))
    out = tmp_path / "out"
    for period in ("2024Q1", "2024Q2"):
        archive_quarter(out, period, QUARTERS[period])
    with pytest.raises(DataErrorsPresent) as caught:
        pipeline.run(annual_inbox, scheme_path, out_root=out, issued_on=ISSUED, workers=1)
    table = caught.value.validated.issues_table
    missing = table[table["code"] == "interim_missing"]
    assert list(missing["unit"]) == ["D02"] and (missing["severity"] == "错误").all()
    assert "2024Q1、2024Q2" in missing.iloc[0]["message"]


def test_feedback_shows_each_period_total_beside_the_value(tmp_path, annual_inbox):
    _, outcome = run_year(tmp_path, annual_inbox)
    book = load_workbook(outcome.folder / "反馈" / "D02_财政局.xlsx")
    rows = [[c for c in row if c is not None] for row in book["平时考核"].iter_rows(values_only=True)]
    assert ["平时考核", "2024Q1", "未参加考核"] in rows
    assert ["平时考核", "2024Q3", "80.00"] in rows
    assert ["平时考核", "2024Q4", "81.25"] in rows
    assert ["平时考核", "平均", "80.63"] in rows
    # a unit's own block only
    assert not any("88.50" in str(c) for row in rows for c in row)


def test_verify_fails_when_a_source_period_changed(tmp_path, annual_inbox):
    out, outcome = run_year(tmp_path, annual_inbox)
    manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    assert sorted(manifest["interim_sources"]["periods"]) == ["2024Q1", "2024Q2", "2024Q3", "2024Q4"]
    report = pipeline.verify_period(out, "2024")
    assert report.ok, report.lines()
    frame = pd.read_parquet(out / "2024Q2" / "totals.parquet")
    frame.loc[frame["unit_code"] == "T01", "total"] = 99.0
    frame.to_parquet(out / "2024Q2" / "totals.parquet", index=False)
    report = pipeline.verify_period(out, "2024")
    assert not report.ok
    text = "\n".join(report.lines())
    assert "来源周期 2024Q2 的归档总分在本期运行后已改变" in text


@pytest.mark.parametrize(("sources", "period_type", "period", "expected"), [
    ("2024Q1、2024Q5", "年度", "2024", "「2024Q5」不是考核周期"),
    ("2023Q4", "年度", "2024", "不在本考核年度 2024 年内"),
    ("2023", "年度", "2024", "是年度周期"),
    ("", "季度", "2024Q4", "只能用于年度考核方案"),
])
def test_scheme_checks_source_periods(tmp_path, sources, period_type, period, expected):
    path = write_workbook(tmp_path / "s.xlsx", annual_sheets(sources, period_type, period))
    with pytest.raises(SchemeInvalid) as caught:
        load_scheme(path)
    assert any(expected in text for _, _, text in caught.value.problems), caught.value.problems


def test_sample_year_sequence_runs_and_the_year_averages_the_quarters(tmp_path):
    """The documented sequence: run the four quarters, seal them, run the year."""
    from decimal import ROUND_HALF_UP, Decimal

    from typer.testing import CliRunner

    from kaohe_excel.cli import app
    from kaohe_excel.samples.interim import QUARTERS, build_sample_year, scheme_name

    folder = tmp_path / "sample_year"
    build_sample_year(folder)
    out = tmp_path / "outputs"
    runner = CliRunner()
    for period in QUARTERS:
        result = runner.invoke(app, ["run", str(folder / period), "--scheme", str(folder / scheme_name(period)), "--out", str(out)])
        assert result.exit_code == 0, result.output
        assert runner.invoke(app, ["seal", period, "--out", str(out)]).exit_code == 0
    result = runner.invoke(app, ["run", str(folder / "2024"), "--scheme", str(folder / scheme_name("2024")), "--out", str(out)])
    assert result.exit_code == 0, result.output
    # by hand from the quarters' totals.csv: mean of the printed 总分, half-up to 2 places, × 20 / 100
    totals = [pd.read_csv(out / q / "totals.csv", dtype=str).set_index("单位代码").loc["XZ01", "总分"] for q in QUARTERS]
    mean = (sum(Decimal(t) for t in totals) / 4).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    scores = pd.read_csv(out / "2024" / "scores.csv", dtype=str)
    row = scores[(scores["单位代码"] == "XZ01") & (scores["指标代码"] == "PS")].iloc[0]
    assert Decimal(row["实际值"]) == mean
    assert Decimal(row["得分"]) == (mean * 20 / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    assert runner.invoke(app, ["verify", "2024", "--out", str(out)]).exit_code == 0


def test_check_reports_unsealed_and_partial_periods(tmp_path, annual_inbox):
    out = tmp_path / "out"
    for period, totals in QUARTERS.items():
        archive_quarter(out, period, totals, sealed=period != "2024Q1")
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    outcome = pipeline.check(annual_inbox, scheme_path, None, out_root=out, workers=1)
    table = outcome.issues
    assert list(table.loc[table["code"] == "interim_unsealed", "sheet"]) == ["2024Q1"]
    assert list(table.loc[table["code"] == "interim_partial", "unit"]) == ["D02"]
    assert (table.loc[table["code"].str.startswith("interim"), "severity"] == "警告").all()


def _edit_t01_total(folder: Path, total: float) -> None:
    frame = pd.read_parquet(folder / "totals.parquet")
    frame.loc[frame["unit_code"] == "T01", "total"] = total
    frame.to_parquet(folder / "totals.parquet", index=False)


@pytest.mark.parametrize("sealed", [True, False])
def test_a_source_total_edited_after_archiving_is_refused(tmp_path, annual_inbox, sealed):
    # Q2's T01 total raised from 90.00 to 99.00 after the quarter was archived: were it used,
    # T01's 平时 value would silently become (88.50 + 99.00 + 89.25 + 91.00) / 4 = 91.94.
    out = tmp_path / "out"
    for period, totals in QUARTERS.items():
        archive_quarter(out, period, totals, sealed=sealed)
    _edit_t01_total(out / "2024Q2", 99.0)
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    with pytest.raises(ArchiveMismatch) as caught:
        pipeline.run(annual_inbox, scheme_path, out_root=out, issued_on=ISSUED, workers=1, allow_errors=True)
    message = str(caught.value)
    assert "2024Q2" in message and "totals.parquet" in message and "kaohe verify" in message
    assert not (out / "2024").exists()


def test_a_sealed_source_manifest_rewritten_to_match_is_refused(tmp_path, annual_inbox):
    # the forger edits the total and rewrites the manifest's hash to match: the seal's record of the
    # manifest no longer does
    out = tmp_path / "out"
    for period, totals in QUARTERS.items():
        archive_quarter(out, period, totals)
    folder = out / "2024Q3"
    _edit_t01_total(folder, 99.0)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    manifest["files"][0]["sha256"] = archive.sha256_file(folder / "totals.parquet")
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    with pytest.raises(ArchiveMismatch) as caught:
        pipeline.run(annual_inbox, scheme_path, out_root=out, issued_on=ISSUED, workers=1, allow_errors=True)
    assert "2024Q3" in str(caught.value) and "封存" in str(caught.value)


def test_a_source_total_not_listed_in_its_manifest_is_refused(tmp_path, annual_inbox):
    out = tmp_path / "out"
    for period, totals in QUARTERS.items():
        archive_quarter(out, period, totals, sealed=False)
    folder = out / "2024Q1"
    (folder / "manifest.json").write_text(json.dumps({"period": "2024Q1", "files": []}), encoding="utf-8")
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    with pytest.raises(ArchiveMismatch) as caught:
        pipeline.run(annual_inbox, scheme_path, out_root=out, issued_on=ISSUED, workers=1, allow_errors=True)
    assert "2024Q1" in str(caught.value) and "不在该期清单" in str(caught.value)


def test_an_edited_source_period_exits_2_with_one_line(tmp_path, annual_inbox):
    from typer.testing import CliRunner
    from kaohe_excel.cli import app

    out = tmp_path / "out"
    for period, totals in QUARTERS.items():
        archive_quarter(out, period, totals)
    _edit_t01_total(out / "2024Q4", 50.0)
    scheme_path = write_workbook(tmp_path / "year.xlsx", annual_sheets())
    result = CliRunner().invoke(app, ["run", str(annual_inbox), "--scheme", str(scheme_path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "2024Q4" in result.output and "Traceback" not in result.output
