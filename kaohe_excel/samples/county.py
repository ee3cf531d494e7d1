"""The sample scheme (a fictional county, 清源县) and filled sample inputs.

Both are deterministic: the scheme is fixed data, the inputs come from a seeded
numpy generator, and workbooks are saved with fixed timestamps, so regenerating
them gives byte-identical files that can be committed.
"""

from __future__ import annotations

import math
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from kaohe_excel.samples import rating as samples_rating
from kaohe_excel.samples import year as samples_year
from kaohe_excel.outputs.template import (
    display_width,
    lead_file_name,
    save_workbook_deterministic,
    write_assessment_workbook,
    write_lead_workbooks,
    write_templates,
)

DOMAIN = "qingyuan.example.gov.cn"

META_ROWS = [
    ("考核名称", "清源县2024年度乡镇和县直部门目标责任考核"),
    ("考核周期", "2024"),
    ("周期类型", "年度"),
    ("发文机关", "中共清源县委办公室 清源县人民政府办公室"),
    ("文号", "清办发〔2024〕12号"),
    ("总分折算", "百分制"),
    ("加分上限", 5),
    ("优秀比例上限", "20%"),
    ("否决效果", "取消评优"),
    ("领导邮箱", f"kaoheban@{DOMAIN}; zhangwei@{DOMAIN}"),
    ("整改分数线", 85),
    # The samples are signed with the public demo key (origin.py, docs/office-key.md), so a fresh
    # clone runs them without the office key a real scheme uses.
    ("校验密钥", "演示密钥"),
]

GRADE_ROWS = [("优秀", 90), ("良好", 80), ("合格", 60), ("不合格", 0)]

TOWN, ECON, PARTY = "乡镇", "县直经济部门", "县直党群部门"

# (code, name, group, contact)
UNIT_ROWS = [
    ("XZ01", "城关镇", TOWN, "王建国"),
    ("XZ02", "青石镇", TOWN, "李秀英"),
    ("XZ03", "柳河镇", TOWN, "张志强"),
    ("XZ04", "白马乡", TOWN, "刘海燕"),
    ("XZ05", "桃源镇", TOWN, "陈国栋"),
    ("XZ06", "石门乡", TOWN, "杨丽华"),
    ("XZ07", "龙潭镇", TOWN, "赵文斌"),
    ("XZ08", "枫林乡", TOWN, "黄春梅"),
    ("XZ09", "双溪镇", TOWN, "周明亮"),
    ("XZ10", "云岭乡", TOWN, "吴晓峰"),
    ("JJ01", "县发展和改革局", ECON, "徐立新"),
    ("JJ02", "县工业和信息化局", ECON, "孙红梅"),
    ("JJ03", "县财政局", ECON, "马建军"),
    ("JJ04", "县商务局", ECON, "朱晓燕"),
    ("JJ05", "县农业农村局", ECON, "胡永刚"),
    ("JJ06", "县自然资源局", ECON, "郭玉兰"),
    ("DQ01", "县委组织部", PARTY, "何志刚"),
    ("DQ02", "县委宣传部", PARTY, "高雅琴"),
    ("DQ03", "县委统战部", PARTY, "林振华"),
    ("DQ04", "县总工会", PARTY, "罗美玲"),
    ("DQ05", "团县委", PARTY, "郑浩然"),
]

INDICATOR_HEADERS = [
    "指标代码", "一级指标", "二级指标", "指标名称", "计量单位", "适用类别", "分值", "计分方法", "方向",
    "基本值", "目标值", "满分值", "不允许值", "基本分比例", "上限系数", "每项分值", "档次表",
    "数据来源", "牵头单位", "缺项处理", "评分说明",
]

_ = None  # an empty scheme cell, to keep the indicator rows aligned

# Town indicators 93 points, departments 58 (经济) / 55 (党群), common 33:
# the groups' totals (126 / 91 / 88) differ, which is what 百分制 rescales.
INDICATOR_ROWS = [
    # code, 一级, 二级, name, 计量单位, 适用类别, 分值, 方法, 方向, 基本值, 目标值, 满分值, 不允许值, 基本分比例, 上限系数, 每项分值, 档次表, 来源, 牵头单位, 缺项处理, 评分说明
    ("A01", "经济发展", "综合经济", "地区生产总值", "亿元", TOWN, 10, "完成率", "正向", _, 12, _, _, _, 1.2, _, _, "自报", "县统计局", _,
     "以县下达的目标任务为准。完成目标任务的得满分；未完成的按完成比例得分；超额完成的按超额比例加分，最高不超过分值的120%。"),
    ("A02", "经济发展", "综合经济", "一般公共预算收入", "亿元", TOWN, 8, "基本满分", "正向", 0.6, _, 0.8, _, 0.6, _, _, _, "自报", "县财政局", _,
     "完成基本任务的得基本分（分值的60%），完成满分任务的得满分，介于两者之间的按比例计分；未完成基本任务的按完成基本任务的比例计算基本分。"),
    ("A03", "经济发展", "产业发展", "规模以上工业增加值增速", "%", TOWN, 6, "功效系数", "正向", _, 8, 10, 4, 0.6, _, _, _, "评定", "县统计局", _,
     "采用功效系数法计分：增速达到10%的得满分，4%为不允许值，介于两者之间的按功效系数计分（基础分60%）；低于不允许值的继续按比例递减，扣完为止。数据以县统计局反馈为准。"),
    ("A04", "经济发展", "招商引资", "招商引资实际到位资金", "亿元", TOWN, 8, "阶梯", "正向", _, 3, _, _, _, _, _, "完成率阶梯", "自报", "县投资促进中心", _,
     "按目标完成率分档计分：完成100%及以上的得满分；90%（含）以上的得80%；80%（含）以上的得60%；60%（含）以上的得30%；低于60%的不得分。"),
    ("A05", "经济发展", "产业发展", "固定资产投资增速", "%", TOWN, 6, "功效系数", "正向", _, _, _, _, 0.6, _, _, _, "自报", "县发展和改革局", _,
     "采用改进功效系数法：以乡镇中增速最高者为满意值、最低者为不允许值，最高者得满分，最低者得基础分（分值的60%），其余按比例计分。"),
    ("A06", "经济发展", "产业发展", "新增规模以上工业企业", "个", TOWN, 4, "排名", "正向", _, _, _, _, _, _, 0.5, _, "自报", "县工业和信息化局", _,
     "按新增数量在乡镇中排名赋分：第1名得4分，每后退一个名次减0.5分，扣完为止；数量相同的并列，按较前名次计分。"),
    ("A11", "经济发展", "牵头指标", "牵头负责经济指标完成率", "%", ECON, 20, "完成率", "正向", _, 100, _, _, _, _, _, _, "自报", "县统计局", _,
     "按本部门牵头负责的全县经济指标平均完成率计分，完成率100%的得满分，未完成的按完成比例得分。"),
    ("A12", "经济发展", "项目建设", "重点项目年度投资完成额", "亿元", ECON, 15, "基本满分", "正向", 3, _, 5, _, 0.6, _, _, _, "自报", "县发展和改革局", _,
     "完成3亿元的得基本分（分值的60%），完成5亿元的得满分，介于两者之间的按比例计分；未完成基本任务的按比例计算基本分。"),
    ("A13", "经济发展", "争资争项", "争取上级资金", "亿元", ECON, 10, "相对最优", "正向", _, _, _, _, _, _, _, _, "自报", "县财政局", _,
     "以县直经济部门中争取资金最多者为满分基准，其余单位按与最多者的比值计分。"),
    ("A14", "经济发展", "营商环境", "营商环境评价", "等级", ECON, 8, "定性", "正向", _, _, _, _, _, _, _, "定性四档", "评定", "县营商环境建设服务中心", _,
     "由牵头单位结合企业评议和暗访情况评定等次：优得满分，良得80%，中得60%，差得30%。"),
    ("B01", "社会发展", "教育卫生", "义务教育巩固率", "%", TOWN, 4, "差额扣分", "正向", _, 98, _, _, _, _, 0.5, _, "自报", "县教育局", _,
     "巩固率不低于98%的得4分，每低1个百分点扣0.5分，扣完为止。"),
    ("B02", "社会发展", "教育卫生", "城乡居民基本医疗保险参保率", "%", TOWN, 4, "差额扣分", "正向", _, _, _, _, _, _, 0.4, _, "自报", "县医疗保障局", _,
     "参保率不低于全县乡镇平均值的得4分，每低于平均值1个百分点扣0.4分，扣完为止。"),
    ("B03", "社会发展", "就业创业", "新增城镇就业人数", "人", TOWN, 4, "相对最优", "正向", _, _, _, _, _, _, _, _, "自报", "县人力资源和社会保障局", _,
     "以乡镇中新增就业人数最多者为满分基准，其余乡镇按与最多者的比值计分。"),
    ("B11", "社会发展", "政务服务", "行政许可事项平均办理时限", "工作日", ECON, 5, "差额扣分", "反向", _, 5, _, _, _, _, 1, _, "自报", "县政务服务中心", _,
     "平均办理时限不超过5个工作日的得5分，每超过1个工作日扣1分，扣完为止。"),
    ("B21", "社会发展", "重点工作", "年度重点工作任务完成率", "%", PARTY, 25, "完成率", "正向", _, 100, _, _, _, _, _, _, "自报", "县委督查室", _,
     "按县委、县政府部署的年度重点工作任务完成比例计分，全部完成的得满分。"),
    ("B22", "社会发展", "服务对象评价", "服务对象满意度", "%", PARTY, 12, "功效系数", "正向", _, 95, 98, 85, 0.6, _, _, _, "评定", "县委考核办", _,
     "满意度达到98%的得满分，85%为不允许值，介于两者之间的按功效系数计分（基础分60%），低于85%的继续按比例递减。"),
    ("C01", "人民生活", "居民收入", "农村居民人均可支配收入增速", "%", TOWN, 6, "排名", "正向", _, _, _, _, 0.6, _, _, _, "评定", "县统计局", _,
     "按增速在乡镇中排名，第1名得6分，最后一名得3.6分（分值的60%），其余按名次线性赋分。"),
    ("C02", "人民生活", "民生实事", "民生实事项目完成率", "%", TOWN, 4, "完成率", "正向", _, 100, _, _, _, _, _, _, "自报", "县政府办公室", _,
     "按年度民生实事项目完成比例计分，完成率100%的得满分，未完成的按比例得分。"),
    ("C03", "人民生活", "乡村振兴", "农村人居环境整治", "等级", TOWN, 4, "定性", "正向", _, _, _, _, _, _, _, "定性四档", "评定", "县农业农村局", _,
     "由牵头单位按季度暗访和年终验收情况评定等次：优得满分，良得80%，中得60%，差得30%。"),
    ("D01", "环境资源", "节能减排", "单位地区生产总值能耗", "吨标准煤/万元", TOWN, 6, "基本满分", "反向", 0.56, _, 0.48, _, 0.6, _, _, _, "自报", "县发展和改革局", _,
     "能耗不高于满分值的得满分；高于满分值但不高于基本值的得基本分（分值的60%），并按下降幅度比例加分；高于基本值的按基本值与实际值之比计算基本分。"),
    ("D02", "环境资源", "生态环境", "空气质量优良天数比例", "%", TOWN, 4, "完成率", "正向", _, 90, _, _, _, _, _, _, "自报", "市生态环境局清源分局", _,
     "优良天数比例达到90%的得满分，未达到的按完成比例得分。"),
    ("D03", "环境资源", "生态环境", "河湖“清四乱”问题按期整改", "是否", TOWN, 3, "定性", "正向", _, _, _, _, _, _, _, "是否", "评定", "县水利局", _,
     "按期完成河湖“清四乱”问题整改销号的得满分，未按期完成的不得分。"),
    ("D04", "环境资源", "耕地保护", "违法占用耕地案件", "件", TOWN, 4, "扣分", _, _, _, _, _, _, _, 1, _, "评定", "县自然资源局", "均值",
     "每发生1件违法占用耕地案件扣1分，扣完为止。不承担耕地保护任务的乡镇按乡镇平均分得分。"),
    ("E01", "社会安全", "信访维稳", "信访件数", "件", TOWN, 4, "相对最优", "反向", _, _, _, _, _, _, _, _, "评定", "县信访局", _,
     "以乡镇中信访件数最少者为满分基准，其余乡镇按最少件数与本乡镇件数的比值计分。"),
    ("E02", "社会安全", "安全生产", "生产安全事故起数", "起", "全部", 4, "扣分", _, _, _, _, _, _, _, 2, _, "评定", "县应急管理局", _,
     "辖区或行业领域每发生1起一般生产安全事故扣2分，扣完为止；发生较大及以上生产安全责任事故的实行一票否决。"),
    ("E03", "社会安全", "道路交通", "万车死亡率", "人/万车", TOWN, 4, "差额扣分", "反向", _, 1.5, _, _, _, _, 2, _, "评定", "县公安局交通管理大队", _,
     "万车死亡率不超过1.5的得4分，每超过0.1扣0.2分，扣完为止。"),
    ("E04", "社会安全", "平安建设", "平安建设群众满意度", "%", "全部", 4, "功效系数", "正向", _, 92, 95, 80, 0.6, _, _, _, "评定", "县委政法委", _,
     "满意度达到95%的得满分，80%为不允许值，介于两者之间的按功效系数计分（基础分60%）。以第三方测评结果为准。"),
    ("F01", "班子和队伍建设", "党的建设", "党风廉政建设", "等级", "全部", 5, "定性", "正向", _, _, _, _, _, _, _, "定性四档", "评定", "县纪委监委", _,
     "由县纪委监委综合日常监督、专项检查和问题线索情况评定等次：优得满分，良得80%，中得60%，差得30%。"),
    ("F02", "班子和队伍建设", "党的建设", "意识形态工作责任制落实", "等级", "全部", 3, "定性", "正向", _, _, _, _, _, _, _, "定性四档", "评定", "县委宣传部", _,
     "由县委宣传部结合专项检查情况评定等次：优得满分，良得80%，中得60%，差得30%。"),
    ("F03", "班子和队伍建设", "队伍建设", "干部教育培训完成率", "%", "全部", 3, "完成率", "正向", _, 100, _, _, _, _, _, _, "自报", "县委组织部", _,
     "按干部年度学时达标人数占干部总数的比例计分，全部达标的得满分。"),
    ("F04", "班子和队伍建设", "党的建设", "基层党组织标准化规范化建设达标率", "%", "全部", 4, "基本满分", "正向", 80, _, 95, _, 0.6, _, _, _, "自报", "县委组织部", _,
     "达标率80%的得基本分（分值的60%），95%及以上的得满分，介于两者之间的按比例计分；低于80%的按比例计算基本分。"),
    ("F05", "班子和队伍建设", "综合评价", "领导班子民主测评得分", "分", "全部", 5, "相对最优", "正向", _, _, _, _, _, _, _, _, "评定", "县委组织部", _,
     "以同类别单位中测评得分最高者为满分基准，其余单位按与最高者的比值计分。"),
    ("F06", "班子和队伍建设", "作风建设", "是否建立重点工作任务台账并按月更新", "是否", "全部", 2, "定性", "正向", _, _, _, _, _, _, _, "是否", "自报", "县委督查室", _,
     "建立重点工作任务台账并按月更新的得满分，未建立或未按月更新的不得分。"),
    ("F07", "班子和队伍建设", "作风建设", "政务信息被采用篇数", "篇", "全部", 3, "完成率", "正向", _, 12, _, _, _, _, _, _, "自报", "县委办公室", _,
     "全年被县级以上采用政务信息12篇的得满分，不足的按完成比例得分。"),
    ("F21", "班子和队伍建设", "宣传工作", "工作经验被上级刊物采用", "篇", PARTY, 10, "相对最优", "正向", _, _, _, _, _, _, _, _, "自报", "县委办公室", _,
     "以县直党群部门中被采用篇数最多者为满分基准，其余单位按与最多者的比值计分。"),
    ("F22", "班子和队伍建设", "联系基层", "联系服务基层活动次数", "次", PARTY, 8, "阶梯", "正向", _, 12, _, _, _, _, _, "完成率阶梯", "自报", "县委组织部", _,
     "全年开展联系服务基层活动12次，按完成率分档计分：100%及以上得满分，90%以上得80%，80%以上得60%，60%以上得30%，低于60%不得分。"),
]

# Per-town targets: GDP, budget revenue (base/full), investment attraction, energy intensity (base/full).
_TOWN_TARGETS = {
    # code: (A01 target, A02 base, A02 full, A04 target, D01 base, D01 full)
    "XZ01": (32.0, 1.9, 2.3, 8.0, 0.52, 0.45),
    "XZ02": (18.5, 1.0, 1.25, 5.0, 0.61, 0.53),
    "XZ03": (15.2, 0.85, 1.05, 4.0, 0.58, 0.50),
    "XZ04": (6.3, 0.3, 0.4, 1.5, 0.50, 0.43),
    "XZ05": (12.8, 0.7, 0.88, 3.5, 0.56, 0.48),
    "XZ06": (5.6, 0.26, 0.34, 1.2, 0.49, 0.42),
    "XZ07": (14.1, 0.8, 0.98, 4.0, 0.63, 0.55),
    "XZ08": (7.4, 0.36, 0.46, 2.0, 0.51, 0.44),
    "XZ09": (10.2, 0.55, 0.7, 3.0, 0.57, 0.49),
    "XZ10": (4.2, 0.2, 0.26, 1.0, 0.40, 0.34),
}

TARGET_HEADERS = ["单位代码", "单位名称", "指标代码", "指标名称", "基本值", "目标值", "满分值", "不允许值", "不考核", "备注"]


def _target_rows() -> list[tuple]:
    names = {code: name for code, name, _g, _c in UNIT_ROWS}
    rows = []
    for code, (gdp, rev_base, rev_full, invest, energy_base, energy_full) in _TOWN_TARGETS.items():
        rows.append((code, names[code], "A01", "地区生产总值", _, gdp, _, _, _, _))
        rows.append((code, names[code], "A02", "一般公共预算收入", rev_base, _, rev_full, _, _, _))
        rows.append((code, names[code], "A04", "招商引资实际到位资金", _, invest, _, _, _, _))
        rows.append((code, names[code], "D01", "单位地区生产总值能耗", energy_base, _, energy_full, _, _, _))
    # One exemption under each missing rule: 归一化 (A06) and 均值 (D04).
    rows.append(("XZ10", "云岭乡", "A06", "新增规模以上工业企业", _, _, _, _, "是", "地处生态保护红线区，不承担工业发展任务"))
    rows.append(("XZ01", "城关镇", "D04", "违法占用耕地案件", _, _, _, _, "是", "城区无基本农田保护任务"))
    return rows


TIER_ROWS = [
    ("完成率阶梯", 1.0, _, 1), ("完成率阶梯", 0.9, _, 0.8), ("完成率阶梯", 0.8, _, 0.6), ("完成率阶梯", 0.6, _, 0.3),
    ("定性四档", _, "优", 1), ("定性四档", _, "良", 0.8), ("定性四档", _, "中", 0.6), ("定性四档", _, "差", 0.3),
    ("是否", _, "是", 1), ("是否", _, "否", 0),
]

ADJUSTMENT_HEADERS = ["项目代码", "类型", "项目名称", "每项分值", "单项上限", "需佐证", "说明"]
ADJUSTMENT_ROWS = [
    ("JF01", "加分", "获国家级表彰", 3, 3, "是", "以党中央、国务院或国家部委名义表彰的集体荣誉"),
    ("JF02", "加分", "获省级表彰", 2, 4, "是", "以省委、省政府或省直部门名义表彰的集体荣誉"),
    ("JF03", "加分", "获市级表彰", 1, 2, "是", "以市委、市政府名义表彰的集体荣誉"),
    ("JF04", "加分", "改革创新经验被推广", 1, 2, "是", "工作经验被市级以上发文推广"),
    ("KF01", "扣分", "负面舆情被媒体曝光", 1, 5, "否", "被市级以上主流媒体曝光并查实的，每次扣1分"),
    ("KF02", "扣分", "越级信访", 0.5, 3, "否", "发生到省进京越级信访的，每批次扣0.5分"),
    ("KF03", "扣分", "全县被上级考核扣分", 10, _, "否", "全县在上级考核中被扣分的，按责任单位被扣分值的10倍扣减（数量填被扣分值）"),
    ("FJ01", "否决", "发生重大生产安全责任事故", _, _, "否", "发生较大及以上生产安全责任事故的，实行一票否决"),
]

_HEADER_FILL = PatternFill("solid", start_color="DDEBF7")
_HEADER_FONT = Font(name="宋体", bold=True, size=11)
_BODY_FONT = Font(name="宋体", size=11)
_THIN = Side(style="thin", color="A6A6A6")
_BORDER = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_WRAP_COLUMNS = {"评分说明", "说明", "备注", "发文机关"}


def _write_sheet(workbook: Workbook, title: str, headers: list[str], rows: list[tuple]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(headers)
    for row in rows:
        sheet.append(["" if v is None else v for v in row])
    for cell in sheet[1]:
        cell.font, cell.fill, cell.border = _HEADER_FONT, _HEADER_FILL, _BORDER
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in sheet.iter_rows(min_row=2):
        for cell, header in zip(row, headers):
            cell.font, cell.border = _BODY_FONT, _BORDER
            cell.alignment = Alignment(vertical="center", wrap_text=header in _WRAP_COLUMNS)
    widths = []
    for index, header in enumerate(headers, start=1):
        longest = max([display_width(header)] + [display_width(r[index - 1]) for r in rows if index - 1 < len(r)])
        limit = 60 if header in _WRAP_COLUMNS else 40
        widths.append(min(limit, max(8, longest + 2)))
        sheet.column_dimensions[get_column_letter(index)].width = widths[-1]
    # Wrapped texts need explicit heights: spreadsheet programs do not grow rows on open.
    wrapped = [i for i, h in enumerate(headers) if h in _WRAP_COLUMNS]
    for offset, row in enumerate(rows, start=2):
        lines = max([1] + [math.ceil(display_width(row[i]) / (widths[i] - 1)) for i in wrapped if i < len(row)])
        if lines > 1:
            sheet.row_dimensions[offset].height = lines * 14.5 + 3
    sheet.freeze_panes = "A2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth, sheet.page_setup.fitToHeight = 1, 0
    sheet.sheet_properties.pageSetUpPr.fitToPage = True
    sheet.print_title_rows = "1:1"
    sheet.auto_filter.ref = sheet.dimensions if len(rows) else None


def build_sample_scheme(path: str | Path) -> Path:
    """Write the sample scheme workbook (清源县2024年度目标责任考核) to `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook = Workbook()
    workbook.remove(workbook.active)
    _write_sheet(workbook, "方案", ["项目", "值"], META_ROWS)
    _write_sheet(workbook, "等次", ["等次", "最低分"], GRADE_ROWS)
    units = [(code, name, group, contact, f"{code.lower()}@{DOMAIN}") for code, name, group, contact in UNIT_ROWS]
    _write_sheet(workbook, "单位", ["单位代码", "单位名称", "考核类别", "联系人", "邮箱"], units)
    # INDICATOR_ROWS keep F05 as 评定 for the quarterly sample (samples_interim), which has no ballots
    _write_sheet(workbook, "指标", INDICATOR_HEADERS, samples_rating.indicator_rows(INDICATOR_ROWS))
    _write_sheet(workbook, "目标分解", TARGET_HEADERS, _target_rows())
    _write_sheet(workbook, "档次表", ["档次表", "下限", "等级", "得分比例"], TIER_ROWS)
    _write_sheet(workbook, "加扣分", ADJUSTMENT_HEADERS, ADJUSTMENT_ROWS)
    samples_year.extend_sample_scheme(workbook, _write_sheet)  # w-year: 否决效果, 类别, 节假日, 公示
    samples_rating.extend_sample_scheme(workbook, _write_sheet)  # issue 15: 测评, 测评人 (F05 from ballots)
    workbook.properties.title = META_ROWS[0][1]
    workbook.properties.creator = "清源县委考核办"
    save_workbook_deterministic(workbook, path)
    return path


# ---------------------------------------------------------------- filled sample inputs
#
# What the sample inbox shows (every case yields at most a 警告, so `kaohe check` passes):
# - units differ in performance (a seeded factor per unit): over- and under-achievers;
#   XZ07 龙潭镇 is a strong performer that is vetoed (FJ01 重大生产安全责任事故, and one
#   事故 in E02), so 取消评优 is visible; XZ06 石门乡 lags behind;
# - XZ03 types a % value as text "96.5%", XZ08 types full-width digits with the unit
#   ("７.６５亿元"): both are normalized with a 警告;
# - some 佐证材料/备注 cells are left empty (they are optional);
# - bonus claims with evidence (XZ02, XZ05, JJ01, DQ02); the office records two
#   deductions (XZ06 media exposure, XZ04 越级信访 ×2) and the veto on XZ07.

_DECIMALS = {"%": 1, "亿元": 2, "吨标准煤/万元": 3, "人/万车": 2, "分": 1, "工作日": 1}
_COUNT_UNITS = {"个", "件", "人", "篇", "次", "起", "项", "家", "户"}

# Plausible figures for indicators without a target (the group's own values set the scale).
_PROFILES = {
    "A05": ("normal", 8.0, 4.0),
    "A06": ("poisson", 2.5, 0),
    "A13": ("uniform", 1.5, 6.0),
    "B02": ("normal", 96.5, 1.2),
    "B03": ("normal", 600.0, 250.0),
    "C01": ("normal", 7.2, 0.8),
    "D04": ("poisson", 0.6, 0),
    "E01": ("poisson", 12.0, 3),
    "E02": ("poisson", 0.2, 0),
    "F05": ("normal", 92.0, 3.0),
    "F21": ("poisson", 6.0, 1),
}

_TEXT_PERCENT = ("XZ03", "C02")
_TEXT_FULL_WIDTH = ("XZ08", "A01")
_NO_EVIDENCE = {("XZ09", "B03"), ("JJ04", "B11")}
_STRONG, _WEAK, _VETOED = "XZ07", "XZ06", "XZ07"

_UNIT_CLAIMS = {
    "XZ02": [("JF02", 1, "获评省级卫生乡镇", "省爱卫会《关于命名2024年度省级卫生乡镇的决定》（省爱卫〔2024〕9号）")],
    "XZ05": [("JF04", 1, "“积分制”乡村治理经验被市委办公室发文推广", "市委办《工作交流》2024年第17期")],
    "JJ01": [("JF03", 2, "获市级重点项目建设先进集体、市级节能降耗先进单位", "市政府通报（市政〔2024〕31号）；市发改委表彰文件")],
    "DQ02": [("JF01", 1, "获全国基层理论宣讲先进集体", "中宣部《关于表彰全国基层理论宣讲先进集体和先进个人的决定》")],
}
_OFFICE_CLAIMS = [
    ("XZ06", "KF01", 1, "2024年6月辖区违规收费问题被市电视台曝光，经查属实", "市委网信办舆情通报第23期"),
    ("XZ04", "KF02", 2, "2024年发生到省越级信访2批次", "县信访局通报"),
    ("XZ07", "FJ01", 1, "2024年8月12日辖区内建材企业发生较大生产安全责任事故，造成3人死亡", "市应急管理局事故调查报告"),
]

# Short texts, as units write them: the template's row heights are sized for the scheme's texts.
_EVIDENCE_PATTERNS = ["统计台账", "年报快报数据", "年度工作总结", "验收材料及照片", "上级通报文件"]
_NOTES = ["截至12月31日", "已核对", "含续建项目", "快报数"]
_FULL_WIDTH = str.maketrans("0123456789.", "０１２３４５６７８９．")


def _format_number(value: float, measure_unit: str) -> float | int:
    if measure_unit in _COUNT_UNITS:
        return int(max(0, round(value)))
    return round(float(value), _DECIMALS.get(measure_unit, 2))


def _sample_number(spec: dict, perf: float, rng: np.random.Generator) -> float | int:
    """A value a unit with performance factor `perf` plausibly reports for one indicator."""
    measure_unit = str(spec.get("measure_unit") or "")
    profile = _PROFILES.get(spec["indicator_code"])
    reference = next((spec[k] for k in ("target", "full", "base") if not _missing(spec.get(k))), math.nan)
    lower = spec.get("direction") == "lower"
    if profile is not None:
        kind, a, b = profile
        if kind == "poisson":
            # Incidents and complaints fall as performance rises.
            rate = a / perf if spec["indicator_code"] in ("D04", "E01", "E02") else a * perf
            value = float(rng.poisson(max(rate, 0.01)) + b)
        elif kind == "uniform":
            value = rng.uniform(a, b) * perf
        else:
            value = rng.normal(a, b) * (perf if a < 50 else 1.0) + (0 if a < 50 else (perf - 1) * 20)
    elif math.isnan(reference):
        value = rng.uniform(1, 10) * perf
    else:
        factor = perf * rng.normal(1.0, 0.06)
        value = reference / factor if lower else reference * factor
    if measure_unit == "%" and (reference >= 50 or (profile is not None and profile[1] >= 50)):
        value = min(value, 100.0)
    if measure_unit == "分":
        value = min(value, 100.0)
    return _format_number(max(value, 0.0) if measure_unit != "%" or reference >= 50 else value, measure_unit)


def _missing(value: object) -> bool:
    return value is None or value == "" or (isinstance(value, float) and math.isnan(value))


def _sample_grade(levels: list[str], perf: float, rng: np.random.Generator) -> str:
    score = perf + rng.normal(0, 0.05)
    if list(levels) == ["是", "否"]:
        return "是" if score >= 0.92 else "否"
    index = 0 if score > 1.04 else 1 if score > 0.97 else 2 if score > 0.9 else 3
    return levels[min(index, len(levels) - 1)]


def _levels_of(scheme, tier_table: str) -> list[str]:
    tiers = scheme.tier_tables
    return [str(v) for v in tiers.loc[(tiers["tier_table"] == tier_table) & (tiers["level"] != ""), "level"]]


def _header_columns(sheet, first: str) -> tuple[int, dict[str, int]]:
    """Row number and {header: column} of the table whose header row holds `first`."""
    for row in sheet.iter_rows(min_row=1, max_row=40):
        texts = {str(c.value).strip(): c.column for c in row if c.value is not None}
        if first in texts:
            return row[0].row, texts
    raise ValueError(f"header {first} not found in {sheet.title}")


def _performance(scheme, rng: np.random.Generator) -> dict[str, float]:
    codes = list(scheme.units["unit_code"])
    perf = dict(zip(codes, np.round(rng.normal(1.0, 0.06, len(codes)), 3)))
    if _STRONG in perf:
        perf[_STRONG] = max(perf[_STRONG], 1.25)
    if _WEAK in perf:
        perf[_WEAK] = min(perf[_WEAK], 0.86)
    return {k: float(v) for k, v in perf.items()}


def _value_for(scheme, spec: dict, perf: float, rng: np.random.Generator, unit_code: str):
    if spec["method"] == "定性":
        return _sample_grade(_levels_of(scheme, spec["tier_table"]), perf, rng)
    value = _sample_number(spec, perf, rng)
    if unit_code == _VETOED and spec["indicator_code"] == "E02":
        value = max(1, int(value))
    return value


def _fill_unit(path: Path, scheme, specs: dict[str, dict], unit_code: str, perf: float, rng) -> dict[str, object]:
    """Fill one unit's template; returns the values it reported (before any typing quirks)."""
    reported: dict[str, object] = {}
    workbook = load_workbook(path)
    sheet = workbook["填报"]
    header_row, cols = _header_columns(sheet, "指标代码")
    r = header_row + 1
    while sheet.cell(row=r, column=cols["指标代码"]).value:
        code = str(sheet.cell(row=r, column=cols["指标代码"]).value)
        spec = specs[code]
        value = _value_for(scheme, spec, perf, rng, unit_code)
        spec_value = value
        if (unit_code, code) == _TEXT_PERCENT:
            value = f"{value:g}%"
        elif (unit_code, code) == _TEXT_FULL_WIDTH:
            value = f"{value}".translate(_FULL_WIDTH) + str(spec["measure_unit"])
        sheet.cell(row=r, column=cols["实际完成值"], value=value)
        reported[code] = spec_value
        pick = int(rng.integers(0, len(_EVIDENCE_PATTERNS)))
        if (unit_code, code) not in _NO_EVIDENCE:
            sheet.cell(row=r, column=cols["佐证材料"], value=_EVIDENCE_PATTERNS[pick])
        if rng.random() < 0.15:
            sheet.cell(row=r, column=cols["备注"], value=_NOTES[int(rng.integers(0, len(_NOTES)))])
        r += 1
    claims = workbook["加扣分"]
    claim_row, claim_cols = _header_columns(claims, "项目代码")
    names = dict(zip(scheme.adjustments["item_code"], scheme.adjustments["name"]))
    for offset, (item, count, text, evidence) in enumerate(_UNIT_CLAIMS.get(unit_code, []), start=1):
        if item not in names:
            continue
        values = {"项目代码": item, "项目名称": names[item], "数量": count, "事项说明": text, "佐证材料": evidence}
        for header, value in values.items():
            claims.cell(row=claim_row + offset, column=claim_cols[header], value=value)
    save_workbook_deterministic(workbook, path)
    return reported


# The statistics bureau returns its verification workbook (统一口径): it agrees with the towns
# but for one figure beyond tolerance and one it could not verify, so 口径核对 has something to show.
SAMPLE_LEAD = "县统计局"
_LEAD_DIFFERENCE = ("XZ05", "A01", 1.03)  # the bureau's figure is 3% above the town's own
_LEAD_BLANK = ("XZ09", "A01")


def _fill_lead(path: Path, reported: dict[tuple[str, str], object]) -> None:
    workbook = load_workbook(path)
    sheet = workbook["核定"]
    header_row, cols = _header_columns(sheet, "单位代码")
    r = header_row + 1
    while sheet.cell(row=r, column=cols["单位代码"]).value:
        key = (str(sheet.cell(row=r, column=cols["单位代码"]).value), str(sheet.cell(row=r, column=cols["指标代码"]).value))
        value = reported.get(key)
        if key == _LEAD_BLANK or value is None:
            sheet.cell(row=r, column=cols["说明"], value="年报数据尚未反馈，暂无法核定")
        elif key[:2] == _LEAD_DIFFERENCE[:2] and isinstance(value, (int, float)):
            sheet.cell(row=r, column=cols["核定值"], value=round(float(value) * _LEAD_DIFFERENCE[2], 2))
            sheet.cell(row=r, column=cols["说明"], value="按统计年报口径核定（含新入库企业）")
        else:
            sheet.cell(row=r, column=cols["核定值"], value=value)
            sheet.cell(row=r, column=cols["说明"], value="与统计年报一致")
        r += 1
    save_workbook_deterministic(workbook, path)


def _fill_assessment(path: Path, scheme, specs: dict[tuple[str, str], dict], perf: dict[str, float], rng) -> None:
    workbook = load_workbook(path)
    sheet = workbook["评定"]
    header_row, cols = _header_columns(sheet, "单位代码")
    r = header_row + 1
    while sheet.cell(row=r, column=cols["单位代码"]).value:
        unit_code = str(sheet.cell(row=r, column=cols["单位代码"]).value)
        code = str(sheet.cell(row=r, column=cols["指标代码"]).value)
        spec = specs[(unit_code, code)]
        sheet.cell(row=r, column=cols["评定值"], value=_value_for(scheme, spec, perf[unit_code], rng, unit_code))
        lead = sheet.cell(row=r, column=cols["牵头单位"]).value if "牵头单位" in cols else ""
        sheet.cell(row=r, column=cols["说明"], value=f"{lead or '考核办'}提供")
        r += 1
    claims = workbook["加扣分"]
    claim_row, claim_cols = _header_columns(claims, "项目代码")
    known_items = set(scheme.adjustments["item_code"])
    known_units = set(scheme.units["unit_code"])
    rows = [c for c in _OFFICE_CLAIMS + samples_year.OFFICE_CLAIMS if c[0] in known_units and c[1] in known_items]
    for offset, (unit_code, item, count, text, evidence) in enumerate(rows, start=1):
        values = {"单位代码": unit_code, "项目代码": item, "数量": count, "事项说明": text, "佐证材料": evidence}
        for header, value in values.items():
            claims.cell(row=claim_row + offset, column=claim_cols[header], value=value)
    save_workbook_deterministic(workbook, path)


@dataclass
class SampleContext:
    """What the sample fillers share: one random stream (so the inbox is the same on every
    machine) and what the units reported (the lead department verifies those figures)."""

    scheme: object
    folder: Path
    seed: int
    rng: np.random.Generator
    perf: dict[str, float]
    by_pair: dict[tuple[str, str], dict]
    reported: dict[tuple[str, str], object] = field(default_factory=dict)


def build_sample_inputs(scheme, folder: str | Path, seed: int = 2024) -> list[Path]:
    """Every input kind's files (inputs/kinds, each kind's `sample`), filled as the units and the
    office would: the units' templates, 评定表.xlsx, one lead department's 核定表, the 复核登记表
    and the 测评 ballots."""
    from kaohe_excel.inputs import kinds

    rng = np.random.default_rng(seed)
    perf = _performance(scheme, rng)
    records = scheme.assignments().to_dict("records")
    context = SampleContext(scheme, Path(folder), seed, rng, perf, {(r["unit_code"], r["indicator_code"]): r for r in records})
    paths: list[Path] = []
    for sample in dict.fromkeys(kind.sample for kind in kinds.distinct() if kind.sample):
        paths.extend(kinds.resolve(sample)(context))
    return paths


def fill_unit_templates(context: SampleContext) -> list[Path]:
    scheme = context.scheme
    paths = write_templates(scheme, context.folder)
    for path, unit_code in zip(paths, scheme.units["unit_code"]):
        specs = {code: spec for (unit, code), spec in context.by_pair.items() if unit == unit_code}
        for code, value in _fill_unit(path, scheme, specs, unit_code, context.perf[unit_code], context.rng).items():
            context.reported[(unit_code, code)] = value
    return paths


def fill_assessment_workbook(context: SampleContext) -> list[Path]:
    assessment = write_assessment_workbook(context.scheme, context.folder)
    _fill_assessment(assessment, context.scheme, context.by_pair, context.perf, context.rng)
    return [assessment]


def fill_lead_workbooks(context: SampleContext) -> list[Path]:
    leads = []
    with tempfile.TemporaryDirectory() as scratch:  # only one department sends its workbook back in the sample
        for made in write_lead_workbooks(context.scheme, scratch):
            if made.name == lead_file_name(SAMPLE_LEAD):
                leads.append(Path(shutil.copyfile(made, context.folder / made.name)))
    for path in leads:
        _fill_lead(path, context.reported)
    return leads
