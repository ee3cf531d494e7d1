"""Seeded benchmark inputs at any scale: a scheme with 60 indicators and filled inboxes.

    python3 bench/generate.py --units 2000        # -> bench/data/u2000/{scheme.xlsx,inbox/}

The scheme is written with openpyxl (it is small). Unit files are not built one by one
with openpyxl (10,000 of those take many minutes): one template per group is written by
kaohe_excel.outputs.template.write_templates, and each unit's file is that template's zip with
the unit's code and name, and its values, put into the sheet XML. So every file has
exactly the layout, protection and validations the tool generates. The office's
评定表.xlsx is written with xlsxwriter in the layout of docs/architecture.md.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import shutil
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kaohe_excel.base import layout as tpl_layout, origin  # noqa: E402
from kaohe_excel.outputs import template as tpl  # noqa: E402
from kaohe_excel.samples.county import ADJUSTMENT_HEADERS, ADJUSTMENT_ROWS, GRADE_ROWS, TIER_ROWS  # noqa: E402
from kaohe_excel.scheme.workbook import load_scheme  # noqa: E402
from kaohe_excel.base.tables import column_letter  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
GENERATOR_VERSION = 2  # 2: signed with the demo key (校验码)
N_INDICATORS = 60

GROUP_NAMES = ["乡镇街道", "县直经济部门", "县直党群部门", "政法部门", "社会事业部门", "垂直管理部门", "执法部门", "国有企业"]
# Share of the units in each group (many units in few groups, unequal sizes).
GROUP_SHARES = {3: [0.4, 0.35, 0.25], 4: [0.35, 0.3, 0.2, 0.15], 6: [0.3, 0.25, 0.18, 0.12, 0.09, 0.06]}
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉力永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘"

INDICATOR_HEADERS = ["指标代码", "一级指标", "二级指标", "指标名称", "计量单位", "适用类别", "分值", "计分方法", "方向",
                     "基本值", "目标值", "满分值", "不允许值", "基本分比例", "上限系数", "每项分值", "档次表",
                     "数据来源", "牵头单位", "缺项处理", "评分说明"]
CATEGORIES = ["经济发展", "社会发展", "人民生活", "环境资源", "社会安全", "班子和队伍建设"]

# One spec per method variant: (method, direction, unit, base, target, full, floor, base_share, cap, step, tier)
_ = None
VARIANTS = [
    ("完成率", "正向", "亿元", _, 12, _, _, _, 1.2, _, _),
    ("基本满分", "正向", "%", 80, _, 95, _, 0.6, _, _, _),
    ("功效系数", "正向", "%", _, 92, 95, 80, 0.6, _, _, _),
    ("功效系数", "正向", "%", _, _, _, _, 0.6, _, _, _),  # 改进功效系数: group best / worst
    ("阶梯", "正向", "个", _, 12, _, _, _, _, _, "完成率阶梯"),
    ("差额扣分", "正向", "%", _, 98, _, _, _, _, 0.5, _),
    ("差额扣分", "反向", "工作日", _, _, _, _, _, _, 1, _),  # group mean as target
    ("排名", "正向", "个", _, _, _, _, _, _, 0.5, _),
    ("排名", "正向", "%", _, _, _, _, 0.6, _, _, _),
    ("相对最优", "正向", "人", _, _, _, _, _, _, _, _),
    ("定性", "正向", "等级", _, _, _, _, _, _, _, "定性四档"),
    ("扣分", "正向", "件", _, _, _, _, _, _, 1, _),
    ("完成率", "反向", "吨标准煤/万元", _, 0.5, _, _, _, _, _, _),
    ("基本满分", "反向", "吨标准煤/万元", 0.56, _, 0.48, _, 0.6, _, _, _),
    ("定性", "正向", "是否", _, _, _, _, _, _, _, "是否"),
]


def _groups(n_units: int) -> list[str]:
    n = 3 if n_units <= 500 else 4 if n_units <= 3000 else 6
    return GROUP_NAMES[:n]


def _unit_rows(n_units: int, rng: np.random.Generator) -> list[tuple]:
    groups = _groups(n_units)
    sizes = np.floor(np.array(GROUP_SHARES[len(groups)]) * n_units).astype(int)
    sizes[0] += n_units - sizes.sum()
    rows, i = [], 0
    for group, size in zip(groups, sizes):
        for _k in range(size):
            i += 1
            name = SURNAMES[rng.integers(len(SURNAMES))] + "".join(GIVEN[j] for j in rng.integers(len(GIVEN), size=2))
            code = f"U{i:05d}"
            rows.append((code, f"{name}{i:05d}", group, name, f"{code.lower()}@bench.example.gov.cn"))
    return rows


def _indicator_rows(groups: list[str], n_indicators: int = N_INDICATORS) -> list[tuple]:
    """60 indicators: mostly common, 8 for some groups only, 2 supplied by the office (评定).

    The county shape (COUNTY_INDICATORS, about what a real county scheme has): one indicator per
    method variant, one 评定 for every unit and one for the first group only, small files."""
    if n_indicators != N_INDICATORS:
        return _county_rows(groups, n_indicators)
    rows = []
    for k in range(N_INDICATORS):
        method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[k % len(VARIANTS)]
        applies = "全部"
        if 50 <= k < 58:  # group-specific indicators (分类考核)
            picked = [g for j, g in enumerate(groups) if (j + k) % 2 == 0] or groups[:1]
            applies = "、".join(picked)
        source = "自报"
        if k == 58:  # 评定 for every unit: the office's grade
            method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[10]
            source = "评定"
        if k == 59:  # 评定 for the first group only (keeps 评定表 under the reader's row limit at 10,000 units)
            method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[2]
            source, applies = "评定", groups[0]
        code = f"Z{k + 1:02d}"
        category = CATEGORIES[k * len(CATEGORIES) // N_INDICATORS]
        rows.append((code, category, f"{category}{k % 4 + 1}", f"{category}指标{k + 1}（{method}）", unit, applies,
                     4 if k % 3 else 2, method, direction, base, target, full, floor, share, cap, step, tier,
                     source, "考核办", _, f"按{method}法计分，详见考核方案。"))
    return rows


def _county_rows(groups: list[str], n_indicators: int) -> list[tuple]:
    rows = []
    for k in range(n_indicators):
        method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[k % len(VARIANTS)]
        source, applies = "自报", "全部"
        if k == n_indicators - 2:
            method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[10]
            source = "评定"
        if k == n_indicators - 1:
            method, direction, unit, base, target, full, floor, share, cap, step, tier = VARIANTS[2]
            source, applies = "评定", groups[0]
        category = CATEGORIES[k * len(CATEGORIES) // n_indicators]
        rows.append((f"Z{k + 1:02d}", category, f"{category}{k % 4 + 1}", f"{category}指标{k + 1}（{method}）", unit, applies,
                     6 if k % 3 else 4, method, direction, base, target, full, floor, share, cap, step, tier,
                     source, "考核办", _, f"按{method}法计分，详见考核方案。"))
    return rows


COUNTY_INDICATORS = 17


def write_scheme(path: Path, n_units: int, seed: int, n_indicators: int = N_INDICATORS) -> Path:
    from openpyxl import Workbook

    rng = np.random.default_rng(seed)
    units = _unit_rows(n_units, rng)
    groups = _groups(n_units)
    meta = [("考核名称", f"基准测试{n_units}单位年度考核"), ("考核周期", "2024"), ("周期类型", "年度"),
            ("发文机关", "基准测试考核办"), ("文号", "基考发〔2024〕1号"), ("总分折算", "百分制"), ("加分上限", 5),
            ("优秀比例上限", "20%"), ("否决效果", "取消评优"), ("领导邮箱", "leader@bench.example.gov.cn"), ("整改分数线", 85),
            ("校验密钥", "演示密钥")]  # synthetic data: signed with the public demo key, never an office's own
    sheets = {
        "方案": (["项目", "值"], meta),
        "等次": (["等次", "最低分"], GRADE_ROWS),
        "单位": (["单位代码", "单位名称", "考核类别", "联系人", "邮箱"], units),
        "指标": (INDICATOR_HEADERS, _indicator_rows(groups, n_indicators)),
        "档次表": (["档次表", "下限", "等级", "得分比例"], TIER_ROWS),
        "加扣分": (ADJUSTMENT_HEADERS, ADJUSTMENT_ROWS),
    }
    workbook = Workbook(write_only=True)
    for title, (headers, rows) in sheets.items():
        sheet = workbook.create_sheet(title)
        sheet.append(headers)
        for row in rows:
            sheet.append(["" if v is None else v for v in row])
    path.parent.mkdir(parents=True, exist_ok=True)
    workbook.save(path)
    return path


# ---------------------------------------------------------------- values

def _values(spec: dict, perf: np.ndarray, rng: np.random.Generator) -> list:
    """Plausible values of one indicator for units with performance factors `perf`."""
    n = len(perf)
    method, unit, lower = spec["method"], spec["measure_unit"], spec["direction"] == "lower"
    noise = rng.normal(1.0, 0.06, n)
    if method == "定性":
        score = perf + rng.normal(0, 0.05, n)
        if spec["tier_table"] == "是否":
            return np.where(score >= 0.92, "是", "否").tolist()
        levels = np.array(["优", "良", "中", "差"])
        return levels[np.select([score > 1.04, score > 0.97, score > 0.9], [0, 1, 2], 3)].tolist()
    if method == "扣分":
        return rng.poisson(0.6 / perf).astype(int).tolist()
    if unit in ("个", "人"):
        return np.maximum(0, np.round(rng.poisson(20, n) * perf * noise)).astype(int).tolist()
    reference = next((spec[k] for k in ("full", "target", "base") if not math.isnan(spec[k])), math.nan)
    if math.isnan(reference):
        reference = 5.0 if unit == "工作日" else 90.0 if unit == "%" else 10.0
    value = reference / (perf * noise) if lower else reference * perf * noise
    if unit == "%":
        value = np.minimum(value, 100.0)
        return np.round(value, 1).tolist()
    return np.round(value, 3 if unit == "吨标准煤/万元" else 2).tolist()


# ---------------------------------------------------------------- unit files (zip + XML edit)

_CELL = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*)>(.*?)</c>', re.S)
_STYLE = re.compile(r'\ss="[0-9]+"')


def _cell_xml(address: str, attrs: str, value) -> str:
    style = _STYLE.search(attrs)
    s = style.group(0) if style else ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f'<c r="{address}"{s}><v>{value!r}</v></c>' if isinstance(value, float) else f'<c r="{address}"{s}><v>{value}</v></c>'
    return f'<c r="{address}"{s} t="inlineStr"><is><t>{escape(str(value))}</t></is></c>'


def _set_cells(xml: str, values: dict[str, object]) -> str:
    def replace(match: re.Match) -> str:
        address = match.group(1)
        if address in values:
            return _cell_xml(address, match.group(2), values[address])
        return match.group(0)

    out = _CELL.sub(replace, xml)
    return out


class _DemoScheme:
    """Just enough of a scheme for origin's key lookup: the bench schemes use the demo key."""

    class meta:
        extra = {origin.SCHEME_KEY_ROW: origin.DEMO_KEY_VALUE}


def _template_layout(path: Path) -> dict:
    """Where things are in a generated template (found by header text, like the reader)."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    fill = book.get_sheet_by_name(tpl_layout.UNIT_TABLE.sheet).to_python(skip_empty_area=False)
    header_row = next(r for r, row in enumerate(fill) if "指标代码" in row and "实际完成值" in row)
    header = fill[header_row]
    cols = {name: header.index(name) for name in ("指标代码", "实际完成值", "佐证材料", "备注")}
    rows = [(r, str(fill[r][cols["指标代码"]])) for r in range(header_row + 1, len(fill)) if fill[r][cols["指标代码"]]]
    block = {str(row[0]): r for r, row in enumerate(fill[:header_row]) if row and row[0]}
    meta = book.get_sheet_by_name(tpl_layout.META_SHEET).to_python()
    claims = book.get_sheet_by_name(tpl_layout.UNIT_CLAIM_TABLE.sheet).to_python(skip_empty_area=False)
    claim_header = next(r for r, row in enumerate(claims) if "项目代码" in row and "数量" in row)
    claim_cols = {name: claims[claim_header].index(name) for name in ("项目代码", "项目名称", "数量", "事项说明", "佐证材料")}
    book.close()
    with zipfile.ZipFile(path) as archive:
        sheets = _sheet_parts(archive)
        entries = {info.filename: archive.read(info.filename) for info in archive.infolist()}
    return {
        "entries": entries, "sheets": sheets, "cols": cols, "rows": rows,
        "code_cell": f"B{block['单位代码'] + 1}", "name_cell": f"B{block['单位名称'] + 1}",
        "meta_code_cell": f"B{next(r for r, row in enumerate(meta) if row[0] == '单位代码') + 1}",
        "meta_sign_cell": f"B{next(r for r, row in enumerate(meta) if row[0] == origin.CODE_ROW) + 1}",
        "identity": {str(row[0]): str(row[1]) for row in meta[1:] if row and row[0] != origin.CODE_ROW},
        "key": origin.find_key(_DemoScheme()),
        "claim_row": claim_header + 1, "claim_cols": claim_cols,
    }


def _sheet_parts(archive: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name -> part name (xl/worksheets/sheetN.xml), from workbook.xml and its rels."""
    workbook = archive.read("xl/workbook.xml").decode()
    rels = archive.read("xl/_rels/workbook.xml.rels").decode()
    targets = dict(re.findall(r'Id="(rId[0-9]+)"[^>]*Target="([^"]+)"', rels)) or {
        rid: target for target, rid in re.findall(r'Target="([^"]+)"[^>]*Id="(rId[0-9]+)"', rels)}
    out = {}
    for name, rid in re.findall(r'<sheet [^>]*name="([^"]+)"[^>]*r:id="(rId[0-9]+)"', workbook):
        target = targets[rid].lstrip("/")
        out[name] = target if target.startswith("xl/") else "xl/" + target
    return out


def _unit_file(job: tuple) -> None:
    layout, path, unit_code, unit_name, values, evidence, notes, claims = job
    entries = dict(layout["entries"])
    sheets = layout["sheets"]
    cols = layout["cols"]
    fill_cells: dict[str, object] = {layout["code_cell"]: unit_code, layout["name_cell"]: unit_name}
    for (r, code), value, ev, note in zip(layout["rows"], values, evidence, notes):
        fill_cells[f"{column_letter(cols['实际完成值'])}{r + 1}"] = value
        fill_cells[f"{column_letter(cols['佐证材料'])}{r + 1}"] = ev
        if note:
            fill_cells[f"{column_letter(cols['备注'])}{r + 1}"] = note
    part = sheets[tpl_layout.UNIT_TABLE.sheet]
    entries[part] = _set_cells(entries[part].decode(), fill_cells).encode()
    part = sheets[tpl_layout.META_SHEET]
    code = origin.sign(layout["key"], {**layout["identity"], "单位代码": unit_code})
    entries[part] = _set_cells(entries[part].decode(), {layout["meta_code_cell"]: unit_code,
                                                        layout["meta_sign_cell"]: code}).encode()
    if claims:
        claim_cells = {}
        for offset, claim in enumerate(claims, start=1):
            for header, value in claim.items():
                claim_cells[f"{column_letter(layout['claim_cols'][header])}{layout['claim_row'] + offset}"] = value
        part = sheets[tpl_layout.UNIT_CLAIM_TABLE.sheet]
        entries[part] = _set_cells(entries[part].decode(), claim_cells).encode()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            out.writestr(info, data)
    Path(path).write_bytes(buffer.getvalue())


# ---------------------------------------------------------------- 评定表 (xlsxwriter)

def _write_assessment(path: Path, scheme, values: dict[tuple[str, str], object], office_claims: list[tuple]) -> None:
    import xlsxwriter

    rows = tpl.assessment_rows(scheme)
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = book.add_worksheet(tpl_layout.ASSESSMENT_TABLE.sheet)
    sheet.write(0, 0, f"{scheme.meta.name}（{scheme.meta.period}）评定表")
    sheet.write(1, 0, "由考核办或牵头单位在黄色单元格中填写评定值。")
    sheet.write_row(2, 0, tpl_layout.ASSESSMENT_TABLE.columns)
    for i, row in enumerate(rows.itertuples(index=False), start=3):
        target = None if math.isnan(row.target) else row.target
        sheet.write_row(i, 0, [row.unit_code, row.unit_name, row.indicator_code, row.name, row.measure_unit])
        if target is not None:
            sheet.write_number(i, 5, target)
        value = values[(row.unit_code, row.indicator_code)]
        sheet.write(i, 6, value)
        sheet.write_row(i, 7, ["考核办提供", row.lead_unit])
    claims = book.add_worksheet(tpl_layout.UNIT_CLAIM_TABLE.sheet)
    claims.write(0, 0, "扣分及一票否决事项登记")
    claims.write(1, 0, "由考核办登记扣分和一票否决事项。")
    claims.write_row(2, 0, tpl_layout.OFFICE_CLAIM_TABLE.columns)
    for i, claim in enumerate(office_claims, start=3):
        claims.write_row(i, 0, claim)
    meta = book.add_worksheet(tpl_layout.META_SHEET)
    pairs = [("项目", "值")] + origin.signed_meta(origin.find_key(scheme), [
        ("文件类型", tpl_layout.ASSESSMENT_FILE_TYPE), ("格式版本", tpl_layout.FORMAT_VERSION),
        ("考核名称", scheme.meta.name), ("考核周期", scheme.meta.period), ("方案指纹", scheme.fingerprint),
        ("指标代码", ",".join(dict.fromkeys(rows["indicator_code"])))])
    for i, pair in enumerate(pairs):
        meta.write_row(i, 0, pair)
    meta.hide()
    book.close()


# ---------------------------------------------------------------- entry point

def generate(n_units: int, seed: int = 2024, folder: Path | None = None, workers: int = 2, force: bool = False,
             shape: str = "bench") -> Path:
    """Scheme + inbox for `n_units` units under bench/data/u<N>/ (the county shape: u<N>-county/;
    cached; `force` rebuilds)."""
    n_indicators = COUNTY_INDICATORS if shape == "county" else N_INDICATORS
    folder = folder or DATA / (f"u{n_units}" if shape == "bench" else f"u{n_units}-{shape}")
    stamp = folder / "generated.json"
    wanted = {"units": n_units, "seed": seed, "version": GENERATOR_VERSION}
    if shape != "bench":
        wanted["shape"] = shape
    if not force and stamp.is_file() and json.loads(stamp.read_text()) == wanted:
        return folder
    if folder.exists():
        shutil.rmtree(folder)
    inbox = folder / "inbox"
    inbox.mkdir(parents=True)
    started = time.perf_counter()
    scheme = load_scheme(write_scheme(folder / "scheme.xlsx", n_units, seed, n_indicators))
    rng = np.random.default_rng(seed + 1)
    units = scheme.units.reset_index(drop=True)
    perf = dict(zip(units["unit_code"], np.round(rng.normal(1.0, 0.06, len(units)), 3)))
    assignments = scheme.assignments()
    active = assignments[~assignments["exempt"]]
    # value of every unit x indicator, drawn per indicator (vectorized over units)
    values: dict[tuple[str, str], object] = {}
    for code, rows in active.groupby("indicator_code", sort=False):
        spec = rows.iloc[0].to_dict()
        drawn = _values(spec, np.array([perf[u] for u in rows["unit_code"]]), rng)
        values.update(zip(zip(rows["unit_code"], [code] * len(rows)), drawn))
    # a few values typed as people type them (normalized with a warning)
    self_rows = active[active["source"] == "self"]
    percent_pairs = list(zip(self_rows.loc[self_rows["measure_unit"] == "%", "unit_code"],
                             self_rows.loc[self_rows["measure_unit"] == "%", "indicator_code"]))
    for index in rng.choice(len(percent_pairs), size=max(1, len(percent_pairs) // 500), replace=False):
        pair = percent_pairs[index]
        values[pair] = f"{values[pair]}%"
    template_dir = folder / "templates"
    firsts = units.groupby("group", sort=False)["unit_code"].first()
    layouts = {}
    for group, code in firsts.items():
        path = tpl.write_templates(scheme, template_dir, units=[code])[0]
        layouts[group] = _template_layout(path)
    bonus_names = dict(zip(scheme.adjustments["item_code"], scheme.adjustments["name"]))
    evidence_words = ["统计台账", "年报快报数据", "年度工作总结", "验收材料及照片", "上级通报文件"]
    jobs = []
    for unit in units.itertuples(index=False):
        layout = layouts[unit.group]
        codes = [code for _r, code in layout["rows"]]
        unit_values = [values[(unit.unit_code, code)] for code in codes]
        evidence = [evidence_words[i] for i in rng.integers(len(evidence_words), size=len(codes))]
        notes = np.where(rng.random(len(codes)) < 0.15, "截至12月31日", "").tolist()
        claims = []
        if rng.random() < 0.05:
            claims.append({"项目代码": "JF03", "项目名称": bonus_names["JF03"], "数量": 1,
                           "事项说明": "获市级先进集体", "佐证材料": "市政府通报（市政〔2024〕31号）"})
        path = inbox / tpl.template_file_name(unit.unit_code, unit.unit_name)
        jobs.append((layout, str(path), unit.unit_code, unit.unit_name, unit_values, evidence, notes, claims))
    if workers > 1 and len(jobs) > 200:
        with ProcessPoolExecutor(workers) as pool:
            list(pool.map(_unit_file, jobs, chunksize=64))
    else:
        for job in jobs:
            _unit_file(job)
    codes = units["unit_code"].to_numpy()
    office = [(u, "KF01", 1, "负面舆情被媒体曝光", "") for u in rng.choice(codes, size=max(1, len(codes) // 100), replace=False)]
    office += [(u, "FJ01", 1, "发生较大生产安全责任事故", "") for u in rng.choice(codes, size=max(1, len(codes) // 1000), replace=False)]
    _write_assessment(inbox / tpl_layout.ASSESSMENT_FILE_NAME, scheme, values, office)
    shutil.rmtree(template_dir)
    stamp.write_text(json.dumps(wanted))
    print(f"generated {n_units} units in {time.perf_counter() - started:.1f} s -> {folder}", file=sys.stderr)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--units", type=int, default=300)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--shape", choices=["bench", "county"], default="bench",
                        help="bench: 60 indicators per file; county: 17, small files as a real county's")
    args = parser.parse_args()
    generate(args.units, args.seed, force=args.force, shape=args.shape)


if __name__ == "__main__":
    main()
