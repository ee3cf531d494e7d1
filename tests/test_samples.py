import dataclasses
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kaohe_excel.inputs.read import read_inbox
from kaohe_excel.samples.county import build_sample_inputs, build_sample_scheme
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.inputs.validate import validate

ROOT = Path(__file__).resolve().parents[1]
ALL_METHODS = {"完成率", "基本满分", "功效系数", "阶梯", "差额扣分", "排名", "相对最优", "定性", "扣分"}


@pytest.fixture(scope="module")
def scheme_path(tmp_path_factory):
    return build_sample_scheme(tmp_path_factory.mktemp("scheme") / "scheme.xlsx")


@pytest.fixture(scope="module")
def scheme(scheme_path):
    return load_scheme(scheme_path)


def _small(scheme):
    """One unit per group keeps the double generation fast."""
    return dataclasses.replace(scheme, units=scheme.units[scheme.units["unit_code"].isin(["XZ03", "XZ07", "JJ01", "DQ02"])])


def _cell_values(folder: Path) -> dict:
    values = {}
    for path in sorted(folder.glob("*.xlsx")):
        workbook = load_workbook(path)
        for sheet in workbook.worksheets:
            values[(path.name, sheet.title)] = [[c.value for c in row] for row in sheet.iter_rows()]
    return values


def test_sample_scheme_loads_with_meta(scheme):
    meta = scheme.meta
    assert meta.period == "2024" and meta.period_type == "年度"
    assert (meta.total_mode, meta.bonus_cap, meta.excellent_quota, meta.veto_effect) == ("percent", 5.0, 0.2, "no_excellent")
    assert meta.rectify_below == 85.0
    assert list(scheme.grades["grade"]) == ["优秀", "良好", "合格", "不合格"]


def test_sample_scheme_has_three_groups_with_different_points(scheme):
    assert scheme.groups == ["乡镇", "县直经济部门", "县直党群部门"]
    assert scheme.units.groupby("group").size().to_dict() == {"乡镇": 10, "县直经济部门": 6, "县直党群部门": 5}
    assert scheme.units["email"].iloc[0] == "xz01@qingyuan.example.gov.cn"
    per_unit = scheme.assignments().groupby("unit_code")["points"].sum()
    # common 4+4+5+3+3+4+5+2+3 = 33; towns + 10+8+6+8+6+4+4+4+4+6+4+4+6+4+3+4+4+4 = 93 → 126;
    # 经济 + 20+15+10+8+5 = 58 → 91; 党群 + 25+12+10+8 = 55 → 88.
    assert per_unit["XZ01"] == 126 and per_unit["JJ01"] == 91 and per_unit["DQ01"] == 88


def test_sample_scheme_uses_every_method_and_variant(scheme):
    ind = scheme.indicators.set_index("indicator_code")
    assert set(ind["method"]) == ALL_METHODS
    assert 30 <= len(ind) <= 50
    assert set(ind["category"]) == {"经济发展", "社会发展", "人民生活", "环境资源", "社会安全", "班子和队伍建设"}
    assert (ind["direction"] == "lower").sum() >= 2
    assert ind.loc["D01", "measure_unit"] == "吨标准煤/万元" and ind.loc["D01", "direction"] == "lower"
    assert ((ind["method"] == "完成率") & (ind["cap"] == 1.2)).sum() == 1
    efficacy = ind[ind["method"] == "功效系数"]
    assert efficacy["full"].notna().any() and efficacy["full"].isna().any()
    gap = ind[ind["method"] == "差额扣分"]
    assert gap["target"].notna().any() and gap["target"].isna().any()
    ranking = ind[ind["method"] == "排名"]
    assert ranking["step"].notna().any() and ranking["step"].isna().any()
    assert set(ind.loc[ind["method"] == "定性", "tier_table"]) == {"定性四档", "是否"}
    assessed = ind[ind["source"] == "assessed"]
    assert len(assessed) >= 5 and (assessed["lead_unit"] != "").all()
    assert (ind["missing_rule"] == "mean").sum() == 1
    assert (ind["groups"].map(lambda g: g == "全部")).sum() >= 5
    assert (ind["subcategory"] != "").all()


def test_sample_scheme_targets_tiers_and_adjustments(scheme):
    targets = scheme.unit_targets.set_index(["unit_code", "indicator_code"])
    assert targets.loc[("XZ04", "A01"), "target"] == 6.3
    assert set(targets.index[targets["exempt"]]) == {("XZ10", "A06"), ("XZ01", "D04")}
    tiers = scheme.tier_tables
    ladder = tiers[tiers["tier_table"] == "完成率阶梯"]
    assert list(zip(ladder["lower"], ladder["share"]))[:3] == [(1.0, 1.0), (0.9, 0.8), (0.8, 0.6)]
    adjustments = scheme.adjustments.set_index("item_code")
    assert adjustments.loc["JF01", ["kind", "step", "item_cap", "needs_evidence"]].tolist() == ["bonus", 3.0, 3.0, True]
    assert adjustments.loc["KF03", "step"] == 10
    assert adjustments.loc["FJ01", "kind"] == "veto"


def test_committed_scheme_is_current(scheme_path):
    assert (ROOT / "templates" / "scheme.xlsx").read_bytes() == scheme_path.read_bytes(), \
        "run python3 scripts/make_samples.py and commit the result"


def test_same_seed_gives_identical_inputs(scheme, tmp_path):
    small = _small(scheme)
    first = build_sample_inputs(small, tmp_path / "a", seed=7)
    second = build_sample_inputs(small, tmp_path / "b", seed=7)
    assert [p.name for p in first] == [p.name for p in second]
    assert _cell_values(tmp_path / "a") == _cell_values(tmp_path / "b")
    assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]
    build_sample_inputs(small, tmp_path / "c", seed=8)
    assert _cell_values(tmp_path / "c") != _cell_values(tmp_path / "a")


def test_inputs_fill_every_required_cell(scheme, tmp_path):
    paths = build_sample_inputs(_small(scheme), tmp_path, seed=2024)
    for path in paths:
        workbook = load_workbook(path)
        if not {"评定", "填报"} & set(workbook.sheetnames):
            continue  # the lead department's workbook leaves one figure unverified on purpose; 复核 rows are sparse and
            # 测评 ballots have abstentions and a blank ballot by design (test_sample_ballots_show_void_and_blank)
        sheet = workbook["评定"] if "评定" in workbook.sheetnames else workbook["填报"]
        column = "评定值" if sheet.title == "评定" else "实际完成值"
        header = next(row for row in sheet.iter_rows(max_row=20) if any(c.value == column for c in row))
        col = next(c.column for c in header if c.value == column)
        key = next(c.column for c in header if c.value == "指标代码")
        filled = [sheet.cell(row=r, column=col).value for r in range(header[0].row + 1, sheet.max_row + 1)
                  if sheet.cell(row=r, column=key).value]
        assert filled and all(v not in (None, "") for v in filled), path.name


def test_committed_sample_inputs_pass_check_with_warnings_only(scheme):
    validated = validate(scheme, read_inbox(ROOT / "sample_inputs"))
    assert validated.error_count == 0, validated.issues_table.to_string()
    codes = {i.code.value for i in validated.issues}
    # the samples are signed with the public demo key, and every check says so; 测评: void and blank ballots
    assert codes == {"normalized_value", "demo_office_key", "rating_void_ballot"}
    # 21 unit files, the office's 评定表, the statistics bureau's 核定表 and the 复核登记表 (w-appeal),
    # and the 民主测评's 7 县领导 电子票, the 干部职工 纸质票 entry table and the 服务对象 tally
    assert len(validated.submissions) == 33
    assert validated.submissions["kind"].value_counts()[["测评票", "测评录入表", "测评汇总表"]].tolist() == [7, 1, 1]
    assert list(validated.appeals[["unit_code", "indicator_code", "conclusion"]].itertuples(index=False, name=None)) == [
        ("XZ03", "B03", "调整")]
    assert list(validated.submissions.loc[validated.submissions["kind"] == "牵头单位核定表", "file"]) == ["核定表_县统计局.xlsx"]
    claims = validated.claims.set_index(["unit_code", "item_code"])
    assert claims.loc[("XZ07", "FJ01"), "recorded_by"] == "office"
    assert claims.loc[("XZ02", "JF02"), "evidence"] != ""


def test_committed_sample_inputs_are_current(scheme, tmp_path):
    build_sample_inputs(scheme, tmp_path, seed=2024)
    fresh = {p.name: p.read_bytes() for p in tmp_path.glob("*.xlsx")}
    committed = {p.name: p.read_bytes() for p in (ROOT / "sample_inputs").glob("*.xlsx")}
    assert fresh.keys() == committed.keys()
    stale = sorted(name for name in fresh if fresh[name] != committed[name])
    assert not stale, f"run python3 scripts/make_samples.py and commit: {stale}"


def test_sample_lead_workbook_shows_one_disagreement_and_one_gap(scheme):
    from kaohe_excel.inputs import crosscheck

    validated = validate(scheme, read_inbox(ROOT / "sample_inputs"))
    _, checks = crosscheck.reconcile(validated.values, validated.verified, scheme)
    status = checks.set_index(["unit_code", "indicator_code"])["status"]
    assert status[("XZ05", "A01")] == "不一致"  # the bureau's figure is 3% above the town's own
    assert status[("XZ09", "A01")] == "缺少核定值"
    assert (status == "一致").sum() == len(status) - 2


def test_sample_scheme_rates_f05_by_three_rater_groups(scheme):
    ind = scheme.indicators.set_index("indicator_code")
    assert ind.loc["F05", "source"] == "rating" and ind.loc["F05", "method"] == "相对最优"
    rating = scheme.ratings.set_index("rating_code").loc["MZ"]
    assert rating["indicator_code"] == "F05" and rating["trim_above"] == 5 and rating["all_same_void"]
    assert [g for g, _ in rating["grades"]] == ["优秀", "称职", "基本称职", "不称职"]
    raters = scheme.raters.set_index("rater_group")
    assert raters["collect"].to_dict() == {"县领导": "电子票", "干部职工": "纸质票", "服务对象": "汇总"}
    assert raters["weight"].to_dict() == {"县领导": 0.2, "干部职工": 0.4, "服务对象": 0.4}
    assert raters.loc["县领导", "expected"] == 7 and raters.loc["干部职工", "expected"] == 30
    assert list(raters.loc["服务对象", "targets"]) == ["县直经济部门", "县直党群部门"]


def test_sample_ballots_show_void_and_blank(scheme):
    validated = validate(scheme, read_inbox(ROOT / "sample_inputs"))
    void = validated.issues_table[validated.issues_table["code"] == "rating_void_ballot"]
    assert (void["severity"] == "警告").all()
    messages = " ".join(void["message"])
    assert "县领导票号 4" in messages and "超过每票优秀上限 6 个" in messages
    assert "干部职工票号 17" in messages and "全同无效" in messages
    assert "干部职工票号 26：空白票" in messages
    assert len(void) == 3
