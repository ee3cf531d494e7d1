"""The summary's 总排名 sheet states each 考核类别's 优秀 名额 and who lost 优秀 and why (issue 16),
in the notice's words."""

from __future__ import annotations

import pandas as pd
from openpyxl import load_workbook
from typer.testing import CliRunner

from kaohe_excel.cli import app
from kaohe_excel.scheme.workbook import load_scheme
from conftest import make_inbox, scheme_with

runner = CliRunner()


def _quota_block(tmp_path, share: str) -> tuple[dict, dict]:
    path = scheme_with(tmp_path, 类别=pd.DataFrame({"考核类别": ["乡镇"], "优秀比例上限": [share], "名额取整": ["四舍五入"],
                                                  "至少一名": [""]}))
    inbox = make_inbox(tmp_path / "inbox", load_scheme(path))
    out = tmp_path / "outputs"
    result = runner.invoke(app, ["run", str(inbox), "--scheme", str(path), "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = list(load_workbook(out / "2024" / "汇总表.xlsx")["总排名"].iter_rows(values_only=True))
    at = [row[0] for row in rows].index("优秀名额")
    block = {row[0]: row[1] for row in rows[at + 1:] if row[0]}
    grades = {row[2]: row[8] for row in rows[2:at] if row[2]}
    return block, grades


def test_ranking_sheet_states_each_groups_quota(tmp_path):
    block, grades = _quota_block(tmp_path, "25%")
    # 乡镇: its own rule, 2 units × 25% = 0.5 → 1 by 四舍五入 (向下取整 would give 0); 东城镇 (94) is 优秀
    assert block["乡镇"] == "优秀名额：乡镇2个单位，优秀比例上限25%（四舍五入），优秀名额1个。"
    # 部门: the 方案's 50%, 向下取整: 2 × 50% = 1 (nobody reaches 90 there, nobody lost it)
    assert block["部门"] == "优秀名额：部门2个单位，优秀比例上限50%（向下取整），优秀名额1个。"
    assert grades["T01"] == "优秀"


def test_ranking_sheet_names_who_lost_excellent_to_the_quota(tmp_path):
    block, grades = _quota_block(tmp_path, "20%")
    # 2 × 20% = 0.4 → 0 even by 四舍五入: 东城镇's 94 reaches the 90 line but there is no 名额
    assert block["乡镇"] == ("优秀名额：乡镇2个单位，优秀比例上限20%（四舍五入），优秀名额0个。"
                           "未评为优秀的：东城镇（达到优秀分数线，超出名额）。")
    assert grades["T01"] == "良好"
