"""The notice (通报): template layout, rendered content, hostile unit names, PDF conversion."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from conftest import make_notice_ranked as make_ranked, NOTICE_GRADES as GRADES, NOTICE_META as META
from kaohe_excel.outputs.notice import chinese_date, chinese_number, period_text, write_notice
from kaohe_excel.outputs.notice_template import DEFAULT_TEMPLATE, build_notice_template
from kaohe_excel.scheme.workbook import SchemeMeta

TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "通报.docx"
HOSTILE = ["<script>&alert(1)</script>", "=1+1", "响\x07铃镇"]


def _texts(path: Path) -> list[str]:
    doc = Document(str(path))
    return [p.text for p in doc.paragraphs]


def _table_rows(path: Path) -> list[list[list[str]]]:
    doc = Document(str(path))
    return [[[c.text for c in row.cells] for row in table.rows] for table in doc.tables]


def _east_asia(style) -> str:
    return style.element.rPr.find(qn("w:rFonts")).get(qn("w:eastAsia"))


# --------------------------------------------------------------------------- template


def test_template_page_and_fonts():
    doc = Document(str(TEMPLATE))
    section = doc.sections[0]
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (210, 297)  # A4
    assert [round(m.mm) for m in (section.top_margin, section.bottom_margin, section.left_margin, section.right_margin)] == [37, 35, 28, 26]
    styles = doc.styles
    normal = styles["Normal"]
    assert _east_asia(normal) == "仿宋_GB2312" and normal.font.size == Pt(16)  # 三号
    ind = normal.element.pPr.find(qn("w:ind"))
    assert ind.get(qn("w:firstLineChars")) == "200"  # 首行缩进2字符
    title = styles["通报标题"]
    assert _east_asia(title) == "方正小标宋简体" and title.font.size == Pt(22)  # 二号
    assert title.paragraph_format.alignment == 1  # centered
    assert _east_asia(styles["一级标题"]) == "黑体"
    assert _east_asia(styles["二级标题"]) == "楷体_GB2312"
    assert _east_asia(styles["三级标题"]) == "仿宋_GB2312"


def test_template_is_reproducible(tmp_path):
    built = build_notice_template(tmp_path / "通报.docx")
    assert [p.text for p in Document(str(built)).paragraphs] == [p.text for p in Document(str(TEMPLATE)).paragraphs]
    assert DEFAULT_TEMPLATE == TEMPLATE


# --------------------------------------------------------------------------- content


def test_notice_content(tmp_path):
    path = write_notice(tmp_path / "通报.docx", TEMPLATE, META, make_ranked(), GRADES, date(2025, 1, 15))
    texts = _texts(path)
    assert "关于测试县2024年度综合考核结果的通报" in texts
    assert "测考〔2025〕1号" in texts
    assert texts[-1] == "2025年1月15日" and texts[-2] == "测试县考核办"
    assert "一、考核结果" in texts and "二、一票否决及需整改单位" in texts and "三、工作要求" in texts
    opening = [t for t in texts if t.startswith("根据")][0]
    assert "5个单位" in opening and "2024年度" in opening and "2个类别" in opening
    assert "（一）乡镇（共3个单位）" in texts and "（二）部门（共2个单位）" in texts
    assert "优秀（1个）：东城镇。" in texts and "良好（1个）：西山乡。" in texts
    assert "不合格：无。" in texts
    assert any(t.startswith("发改局（部门）：因重大安全事故被一票否决，取消评优资格") for t in texts)
    assert "南湖镇（乡镇）：末位且低于85分，需作整改承诺。" in texts
    # The veto is reported once, with its effect, not again as a flag.
    assert sum("重大安全事故" in t for t in texts) == 1
    tables = _table_rows(path)
    assert len(tables) == 2
    assert tables[0][0] == ["排名", "单位", "总分", "等次"]
    assert tables[0][1:] == [["1", "东城镇", "95.50", "优秀"], ["2", "西山乡", "85.00", "良好"], ["3", "南湖镇", "60.00", "合格"]]
    assert tables[1][1] == ["1", "发改局", "92.00", "良好（一票否决）"]
    # No Jinja tag survives the rendering.
    assert not any("{%" in t or "{{" in t for t in texts)


def test_notice_without_doc_number_vetoes_or_flags(tmp_path):
    meta = SchemeMeta(name="某局季度考核", period="2024Q3", issuer="某局考核办")
    ranked = make_ranked()
    ranked["vetoed"] = False
    ranked["flags"] = [[] for _ in range(5)]
    path = write_notice(tmp_path / "n.docx", TEMPLATE, meta, ranked, GRADES, date(2024, 10, 8),
                        extra_context={"addressee": "各科室、所、队：", "requirements": ["1.抓好落实。"]})
    texts = _texts(path)
    assert texts[0] == "关于某局季度考核结果的通报"
    assert "各科室、所、队：" in texts
    i = texts.index("二、一票否决及需整改单位")
    assert texts[i + 1] == "无。"
    assert texts[texts.index("三、工作要求") + 1] == "1.抓好落实。"
    assert any("2024年第三季度" in t for t in texts)
    assert texts[-1] == "2024年10月8日"


def test_hostile_unit_names_stay_literal(tmp_path):
    names = [HOSTILE[0], HOSTILE[1], HOSTILE[2], "发改局", 'A&B "局" <x>']
    path = write_notice(tmp_path / "通报.docx", TEMPLATE, META, make_ranked(names), GRADES, date(2025, 1, 15),
                        extra_context={"addressee": "各单位&<部门>："})
    texts = _texts(path)  # opening it at all proves the XML stayed well-formed
    body = "\n".join(texts)
    assert "优秀（1个）：<script>&alert(1)</script>。" in texts
    assert "=1+1" in body
    assert "响铃镇" in body and "\x07" not in body  # control character removed, rest kept
    assert "各单位&<部门>：" in texts
    cells = [c for table in _table_rows(path) for row in table for c in row]
    assert "<script>&alert(1)</script>" in cells and 'A&B "局" <x>' in cells


def test_helpers():
    assert [chinese_number(n) for n in (1, 9, 10, 11, 20, 23)] == ["一", "九", "十", "十一", "二十", "二十三"]
    assert chinese_date(date(2025, 1, 5)) == "2025年1月5日"
    assert period_text("2024") == "2024年度"
    assert period_text("2024Q3") == "2024年第三季度"
    assert period_text("2024-06") == "2024年6月"
    assert period_text("2024上半年") == "2024上半年"


# --------------------------------------------------------------------------- PDF


def test_notice_and_summary_convert_to_pdf(tmp_path):
    soffice = shutil.which("soffice")
    if soffice is None:
        print("soffice not installed: PDF conversion not tested")
        pytest.skip("soffice (LibreOffice) is not installed")
    from conftest import (make_adjustments, make_issues, make_missing, make_report_ranked as r_ranked, make_scored,
                          make_values, REPORT_GRADES as R_GRADES, REPORT_META as R_META)
    from kaohe_excel.outputs.report import write_summary

    notice = write_notice(tmp_path / "通报.docx", TEMPLATE, META, make_ranked(), GRADES, date(2025, 1, 15))
    summary = write_summary(tmp_path / "汇总表.xlsx", R_META, R_GRADES, make_scored(), r_ranked(), make_adjustments(),
                            make_values(), make_issues(), make_missing())
    profile = (tmp_path / "lo-profile").as_uri()
    subprocess.run([soffice, f"-env:UserInstallation={profile}", "--headless", "--convert-to", "pdf",
                    "--outdir", str(tmp_path), str(notice), str(summary)],
                   check=True, capture_output=True, timeout=120)
    for name in ("通报.pdf", "汇总表.pdf"):
        pdf = tmp_path / name
        assert pdf.exists() and pdf.read_bytes().startswith(b"%PDF")
    if shutil.which("pdftotext"):
        text = subprocess.run(["pdftotext", str(tmp_path / "通报.pdf"), "-"], capture_output=True, text=True).stdout
        assert "考核结果的通报" in text and "东城镇" in text
        sheet = subprocess.run(["pdftotext", str(tmp_path / "汇总表.pdf"), "-"], capture_output=True, text=True).stdout
        assert "汇总表" in sheet and "西山乡" in sheet


def test_notice_without_template_uses_built_in_default(tmp_path):
    path = write_notice(tmp_path / "通报.docx", None, META, make_ranked(), GRADES, date(2025, 1, 15))
    assert "关于测试县2024年度综合考核结果的通报" in _texts(path)
