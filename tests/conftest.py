"""Shared fixtures: small scheme workbooks built from DataFrames in tmp_path, and the inboxes, frames
and servers several test modules build on (tests import them from here, never from each other)."""

from __future__ import annotations

import socket
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from openpyxl import Workbook, load_workbook

from inbox_helpers import fill_assessment, fill_unit
from kaohe_excel.base.issues import IssueCode, error, issues_frame, warning
from kaohe_excel.scheme.workbook import SchemeMeta
from kaohe_excel.outputs.template import write_assessment_workbook, write_templates


def write_workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    """Write each DataFrame as a sheet with its columns as the header row (row 1)."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for name, frame in sheets.items():
        sheet = workbook.create_sheet(name)
        sheet.append(list(frame.columns))
        for row in frame.itertuples(index=False):
            sheet.append([None if (isinstance(v, float) and v != v) else v for v in row])
    workbook.save(path)
    return path


def small_scheme_sheets() -> dict[str, pd.DataFrame]:
    """Two groups, four units, five indicators: small enough to compute every score by hand."""
    return {
        "方案": pd.DataFrame({
            "项目": ["考核名称", "考核周期", "周期类型", "发文机关", "文号", "总分折算", "加分上限", "优秀比例上限", "否决效果", "领导邮箱"],
            "值": ["测试县2024年度考核", "2024", "年度", "测试县考核办", "测考〔2025〕1号", "原始分", 3, "50%", "取消评优", "leader@example.gov.cn"],
        }),
        "等次": pd.DataFrame({"等次": ["优秀", "良好", "合格", "不合格"], "最低分": [90, 80, 60, 0]}),
        "单位": pd.DataFrame({
            "单位代码": ["T01", "T02", "D01", "D02"],
            "单位名称": ["东城镇", "西山乡", "发改局", "财政局"],
            "考核类别": ["乡镇", "乡镇", "部门", "部门"],
            "联系人": ["张三", "李四", "王五", "赵六"],
            "邮箱": ["t01@example.gov.cn", "t02@example.gov.cn", "d01@example.gov.cn", "d02@example.gov.cn"],
        }),
        "指标": pd.DataFrame({
            "指标代码": ["A1", "A2", "B1", "C1", "C2"],
            "一级指标": ["经济发展", "经济发展", "社会发展", "班子和队伍建设", "环境资源"],
            "指标名称": ["地区生产总值", "固定资产投资", "群众满意度", "党建工作", "单位GDP能耗"],
            "计量单位": ["亿元", "亿元", "%", "", "吨标准煤/万元"],
            "适用类别": ["乡镇", "乡镇", "全部", "全部", "乡镇、部门"],
            "分值": [40, 20, 20, 10, 10],
            "计分方法": ["完成率", "基本满分", "完成率", "定性", "完成率"],
            "方向": ["正向", "正向", "正向", "正向", "反向"],
            "基本值": [None, 8, None, None, None],
            "目标值": [100, None, 90, None, 0.5],
            "满分值": [None, 10, None, None, None],
            "不允许值": [None, None, None, None, None],
            "基本分比例": [None, 0.6, None, None, None],
            "上限系数": [None, None, None, None, None],
            "每项分值": [None, None, None, None, None],
            "档次表": [None, None, None, "定性", None],
            "数据来源": ["自报", "自报", "评定", "评定", "自报"],
            "牵头单位": ["统计局", "发改局", "考核办", "组织部", "发改局"],
            "评分说明": ["完成目标得满分，按完成比例计分", "基本满分法", "按满意度计分", "按优良中差评定", "能耗越低越好"],
        }),
        "目标分解": pd.DataFrame({
            "单位代码": ["T02", "D02"], "指标代码": ["A1", "C2"], "基本值": [None, None],
            "目标值": [80, None], "满分值": [None, None], "不允许值": [None, None], "不考核": [None, "是"],
        }),
        "档次表": pd.DataFrame({"档次表": ["定性"] * 4, "下限": [None] * 4, "等级": ["优", "良", "中", "差"], "得分比例": [1, 0.8, 0.6, 0.3]}),
        "加扣分": pd.DataFrame({
            "项目代码": ["J1", "K1", "F1"], "类型": ["加分", "扣分", "否决"],
            "项目名称": ["省级表彰", "负面舆情", "重大安全事故"], "每项分值": [2, 1, None],
            "单项上限": [4, None, None], "需佐证": ["是", "否", "否"],
        }),
    }



# --------------------------------------------------------------------------- an inbox of the small scheme, its templates filled (test_validate and most pipeline tests)


UNIT_VALUES = {
    "T01": {"A1": 95, "A2": 9, "C2": 0.45},
    "T02": {"A1": 85, "A2": 7, "C2": 0.6},
    "D01": {"C2": 0.5},
}


ASSESSED = {
    ("T01", "B1"): 92, ("T02", "B1"): 88, ("D01", "B1"): 90, ("D02", "B1"): 85,
    ("T01", "C1"): "优", ("T02", "C1"): "良", ("D01", "C1"): "中", ("D02", "C1"): "优",
}


FILES = {"T01": "T01_东城镇.xlsx", "T02": "T02_西山乡.xlsx", "D01": "D01_发改局.xlsx", "D02": "D02_财政局.xlsx"}


def make_inbox(folder: Path, scheme, values=UNIT_VALUES, assessed=ASSESSED) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    write_templates(scheme, folder)
    write_assessment_workbook(scheme, folder)
    for unit, unit_values in values.items():
        fill_unit(folder / FILES[unit], unit_values)
    fill_assessment(folder / "评定表.xlsx", assessed)
    return folder


# --------------------------------------------------------------------------- the small scheme with rows added to 方案 or sheets replaced


def scheme_with(tmp_path, meta_rows=(), **sheets):
    base = small_scheme_sheets()
    if meta_rows:
        keys, values = zip(*meta_rows)
        base["方案"] = pd.concat([base["方案"], pd.DataFrame({"项目": keys, "值": values})], ignore_index=True)
    base.update(sheets)
    return write_workbook(tmp_path / "scheme.xlsx", base)


# --------------------------------------------------------------------------- 测评: the 测评 and 测评人 sheets, and the three ways marks come back


RATING_GRADES = "优秀=100、称职=80、基本称职=60、不称职=0"


def rating_sheets(ratings: dict | None = None, raters: dict | None = None) -> dict[str, pd.DataFrame]:
    sheets = small_scheme_sheets()
    indicators = sheets["指标"]
    row = {c: None for c in indicators.columns}
    row.update({"指标代码": "R1", "一级指标": "班子和队伍建设", "指标名称": "民主测评", "适用类别": "全部", "分值": 10,
                "计分方法": "完成率", "方向": "正向", "目标值": 100, "数据来源": "测评", "牵头单位": "考核办"})
    sheets["指标"] = pd.concat([indicators, pd.DataFrame([row])], ignore_index=True)
    sheets["测评"] = pd.DataFrame(ratings or {
        "测评代码": ["M1"], "测评名称": ["民主测评"], "指标代码": ["R1"], "评价方式": ["等级"], "等级分值": [RATING_GRADES],
        "满分": [None], "去极值人数": [3], "每票优秀上限": ["50%"], "全同无效": ["是"], "参评率下限": ["80%"]})
    sheets["测评人"] = pd.DataFrame(raters or {
        "测评代码": ["M1", "M1", "M1"], "测评人类别": ["县领导", "干部职工", "服务对象"], "权重": [20, 40, 40],
        "应参评人数": [5, 4, None], "评价对象": ["全部", "全部", "部门"], "收集方式": ["电子票", "纸质票", "汇总"]})
    return sheets


def fill_ballot(path: Path, marks: list[object]) -> None:
    workbook = load_workbook(path)
    sheet = workbook["测评票"]
    for offset, mark in enumerate(marks):
        sheet.cell(row=4 + offset, column=4).value = mark  # cell(value=None) would not clear it
    workbook.save(path)


def fill_paper(path: Path, rows: list[list[object]]) -> None:
    """测评录入 rows from row 4: 票号 in A, then one mark per unit."""
    _fill_grid(path, "测评录入", rows, first_column=1)


def fill_tally(path: Path, rows: list[list[int]]) -> None:
    """测评汇总 vote counts from row 4, column C (after 单位代码 and 单位名称)."""
    _fill_grid(path, "测评汇总", rows, first_column=3)


def _fill_grid(path: Path, sheet_name: str, rows: list[list[object]], first_column: int) -> None:
    workbook = load_workbook(path)
    sheet = workbook[sheet_name]
    for r, row in enumerate(rows, start=4):
        for c, value in enumerate(row, start=first_column):
            sheet.cell(row=r, column=c).value = value
    workbook.save(path)


# --------------------------------------------------------------------------- a local SMTP server's port, login and the kaohe.toml that points at it


SMTP_PASSWORD = "s3cret-Auth9"


SMTP_READY = 30  # seconds for a test SMTP server to come up on a busy machine


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so the OS cannot hand out one twice)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def free_port() -> int:
    return free_ports(1)[0]


def smtp_authenticator(server, session, envelope, mechanism, auth_data):
    from aiosmtpd.smtp import AuthResult

    ok = auth_data.login == b"kaohe@example.gov.cn" and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)  # handled=False: the server answers 535 itself


def write_mail_config(path: Path, port: int, extra: str = "") -> Path:
    path.write_text(f"""
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
user = "kaohe@example.gov.cn"
from = "kaohe@example.gov.cn"
from_name = "测试县考核办"
timeout = 5

[mail]
pause = 0
max_tries = 2
retry_wait = 0.01
{extra}
""", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- scored and ranked frames as the stages give them to report.py (a hostile unit name among them)


EVIL = '=HYPERLINK("http://evil.example","点我")'


REPORT_META = SchemeMeta(name="测试县综合考核", period="2024", issuer="测试县考核办", doc_number="测考〔2025〕1号")


REPORT_GRADES = pd.DataFrame({"grade": ["优秀", "良好", "合格", "不合格"], "min_score": [90.0, 80.0, 60.0, 0.0]})


# (unit, name, group, indicator, category, ind name, points, method, value, text, score, status)
REPORT_ROWS = [
    ("T01", "东城镇", "乡镇", "A1", "经济发展", "地区生产总值", 40, "完成率", 100.0, None, 40.0, "scored"),
    ("T01", "东城镇", "乡镇", "A2", "经济发展", "固定资产投资", 20, "基本满分", 9.0, None, 16.0, "scored"),
    ("T01", "东城镇", "乡镇", "B1", "社会发展", "群众满意度", 20, "定性", np.nan, "优", 20.0, "scored"),
    ("T02", EVIL, "乡镇", "A1", "经济发展", "地区生产总值", 40, "完成率", 90.0, None, 36.0, "scored"),
    ("T02", EVIL, "乡镇", "A2", "经济发展", "固定资产投资", 20, "基本满分", 10.0, None, 20.0, "scored"),
    ("T02", EVIL, "乡镇", "B1", "社会发展", "群众满意度", 20, "定性", np.nan, "良", 16.0, "scored"),
    ("T03", "西山乡", "乡镇", "A1", "经济发展", "地区生产总值", 40, "完成率", 50.0, None, 20.0, "scored"),
    ("T03", "西山乡", "乡镇", "A2", "经济发展", "固定资产投资", 20, "基本满分", np.nan, None, 0.0, "missing"),
    ("T03", "西山乡", "乡镇", "B1", "社会发展", "群众满意度", 20, "定性", np.nan, "中", 12.0, "scored"),
    ("D01", "发改局", "部门", "B1", "社会发展", "群众满意度", 20, "定性", np.nan, "优", 20.0, "scored"),
    ("D01", "发改局", "部门", "C1", "班子和队伍建设", "信访扣分", 10, "扣分", 3.0, None, 7.0, "scored"),
    ("D02", "财政局", "部门", "B1", "社会发展", "群众满意度", 20, "定性", np.nan, "差", 6.0, "scored"),
    ("D02", "财政局", "部门", "C1", "班子和队伍建设", "信访扣分", 10, "扣分", np.nan, None, np.nan, "exempt"),
]


REPORT_ORDER = {"A1": 1, "A2": 2, "B1": 3, "C1": 4}


def make_scored() -> pd.DataFrame:
    cols = ["unit_code", "unit_name", "group", "indicator_code", "category", "name", "points", "method",
            "value", "text_value", "score", "status"]
    frame = pd.DataFrame(REPORT_ROWS, columns=cols)
    frame["points"] = frame["points"].astype(float)
    frame["subcategory"] = ""
    frame["measure_unit"] = ""
    frame["direction"] = "higher"
    frame["target"] = np.where(frame["method"] == "完成率", 100.0, np.nan)
    frame["order"] = frame["indicator_code"].map(REPORT_ORDER)
    frame["points_available"] = np.where(frame["status"] == "exempt", 0.0, frame["points"])
    frame["explanation"] = "按" + frame["method"] + "计分，" + frame["unit_name"] + "得" + frame["score"].astype(str) + "分"
    return frame


def make_report_ranked() -> pd.DataFrame:
    # 乡镇: T01 40+16+20=76 +2 bonus = 78; T02 36+20+16=72 −1 = 71; T03 20+0+12 = 32.
    # 部门: D01 20+7 = 27; D02 6 (vetoed).
    return pd.DataFrame({
        "unit_code": ["D01", "D02", "T03", "T02", "T01"],
        "unit_name": ["发改局", "财政局", "西山乡", EVIL, "东城镇"],
        "group": ["部门", "部门", "乡镇", "乡镇", "乡镇"],
        "indicator_total": [27.0, 6.0, 32.0, 72.0, 76.0],
        "points_available": [30.0, 20.0, 80.0, 80.0, 80.0],
        "bonus": [0.0, 0.0, 0.0, 0.0, 2.0],
        "deduction": [0.0, 0.0, 0.0, 1.0, 0.0],
        "vetoed": [False, True, False, False, False],
        "veto_items": ["", "重大安全事故", "", "", ""],
        "total": [27.0, 6.0, 32.0, 71.0, 78.0],
        "rank": [1, 2, 3, 2, 1],
        "order": [1, 2, 3, 2, 1],
        "grade": ["不合格", "不合格", "不合格", "合格", "合格"],
        "grade_note": ["", "一票否决", "", "", ""],
        "flags": [[], ["一票否决（重大安全事故）"], ["末位且低于85分，需作整改承诺"], [], []],
        "group_size": [2, 2, 3, 3, 3],
    })


def make_adjustments() -> pd.DataFrame:
    return pd.DataFrame({
        "unit_code": ["T01", "T02", "D02"], "item_code": ["J1", "K1", "F1"], "name": ["省级表彰", "负面舆情", "重大安全事故"],
        "kind": ["bonus", "deduction", "veto"], "count": [1.0, 1.0, 1.0], "step": [2.0, 1.0, np.nan],
        "item_cap": [4.0, np.nan, np.nan], "amount": [2.0, 1.0, 0.0], "explanation": ["省级表彰1项×2分", "负面舆情1次×1分", "否决"],
    })


def make_values() -> pd.DataFrame:
    scored = make_scored()
    values = scored[scored["status"] != "exempt"][["unit_code", "indicator_code", "value", "text_value"]].copy()
    values["evidence"] = "统计年报"
    values.loc[values["unit_code"] == "T02", "evidence"] = "+cmd|' /C calc'!A0"
    values["note"] = ""
    values["file"] = values["unit_code"] + ".xlsx"
    values["sheet"] = "填报"
    values["cell"] = "E5"
    return values


def make_issues() -> pd.DataFrame:
    return issues_frame([
        warning(IssueCode.percent_scale, "数值可能未乘100", file="T01.xlsx", sheet="填报", cell="E6", unit="T01", indicator="B1"),
        error(IssueCode.not_a_number, "不是数字", file="T03.xlsx", sheet="填报", cell="E5", unit="T03", indicator="A2"),
    ])


def make_missing() -> pd.DataFrame:
    return pd.DataFrame({"unit_code": ["T09"], "unit_name": ["南湖镇"], "group": ["乡镇"], "contact": ["钱七"], "email": ["t09@example.gov.cn"]})


# --------------------------------------------------------------------------- ranked frames for the notice (通报)


NOTICE_META = SchemeMeta(name="测试县2024年度综合考核", period="2024", issuer="测试县考核办", doc_number="测考〔2025〕1号",
                  veto_effect="no_excellent")


NOTICE_GRADES = pd.DataFrame({"grade": ["优秀", "良好", "合格", "不合格"], "min_score": [90.0, 80.0, 60.0, 0.0]})


def make_notice_ranked(names=("东城镇", "西山乡", "南湖镇", "发改局", "财政局")) -> pd.DataFrame:
    return pd.DataFrame({
        "unit_code": ["T01", "T02", "T03", "D01", "D02"],
        "unit_name": list(names),
        "group": ["乡镇", "乡镇", "乡镇", "部门", "部门"],
        "indicator_total": [95.5, 85.0, 60.0, 92.0, 70.0],
        "bonus": [0.0] * 5,
        "deduction": [0.0] * 5,
        "vetoed": [False, False, False, True, False],
        "veto_items": ["", "", "", "重大安全事故", ""],
        "total": [95.5, 85.0, 60.0, 92.0, 70.0],
        "rank": [1, 2, 3, 1, 2],
        "order": [1, 2, 3, 1, 2],
        "grade": ["优秀", "良好", "合格", "良好", "合格"],
        "grade_note": ["", "", "", "一票否决，取消评优", ""],
        "flags": [[], [], ["末位且低于85分，需作整改承诺"], ["一票否决（重大安全事故）"], []],
        "group_size": [3, 3, 3, 2, 2],
    })


@pytest.fixture
def small_scheme_path(tmp_path: Path) -> Path:
    return write_workbook(tmp_path / "scheme.xlsx", small_scheme_sheets())


@pytest.fixture(scope="session", autouse=True)
def office_key_in_tmp(tmp_path_factory):
    """Templates are signed with a key made for the test session, never the developer's own."""
    path = tmp_path_factory.mktemp("office_key") / "office.key"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAOHE_OFFICE_KEY", str(path))
        yield path
