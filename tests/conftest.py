"""Shared fixtures: small scheme workbooks built from DataFrames in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook


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
