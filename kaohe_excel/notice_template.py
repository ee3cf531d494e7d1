"""Build templates/通报.docx, the docxtpl template of the notice (通报), reproducibly.

The office may edit the generated file in Word or WPS (wording, fonts, the seal area);
run `python -m kaohe_excel.notice_template [path]` to regenerate the default.
Layout follows GB/T 9704 basics: A4, margins 37/35/28/26 mm, 方正小标宋简体 二号 title,
仿宋_GB2312 三号 body with a fixed 28.95 pt line pitch (22 lines a page), headings
一、(黑体) （一）(楷体_GB2312) 1.（1）(仿宋_GB2312).
"""

from __future__ import annotations

import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_ALIGN_VERTICAL, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt

DEFAULT_TEMPLATE = Path(__file__).resolve().parent.parent / "templates" / "通报.docx"

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
SIZE_2 = Pt(22)  # 二号
SIZE_3 = Pt(16)  # 三号
SIZE_4 = Pt(14)  # 四号
LINE_PITCH = Pt(28.95)

# Paragraph style names the template uses (Chinese so the office sees them in Word's style list).
STYLE_TITLE = "通报标题"
STYLE_DOC_NUMBER = "发文字号"
STYLE_ADDRESSEE = "主送机关"
STYLE_H1 = "一级标题"
STYLE_H2 = "二级标题"
STYLE_H3 = "三级标题"
STYLE_H4 = "四级标题"
STYLE_SIGNATURE = "落款"
STYLE_TABLE = "表格文字"


def set_run_fonts(rpr_parent, name: str) -> None:
    """Set ascii/hAnsi/eastAsia/cs fonts; Word and WPS pick Chinese text's font from w:eastAsia."""
    rpr = rpr_parent.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
        fonts.set(qn(attr), name)
    for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        fonts.attrib.pop(qn(attr), None)


def _style(doc, name: str, font: str, size, *, bold: bool = False, align=None, indent_chars: int = 2,
           base: str = "Normal", exact_pitch: bool = True):
    styles = doc.styles
    style = styles[name] if name in [s.name for s in styles] else styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
    if name != "Normal":
        style.base_style = styles[base]
        style.quick_style = True
    style.font.size = size
    style.font.bold = bold
    set_run_fonts(style.element, font)
    fmt = style.paragraph_format
    if align is not None:
        fmt.alignment = align
    fmt.space_before = Pt(0)
    fmt.space_after = Pt(0)
    if exact_pitch:
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = LINE_PITCH
    _first_line_chars(style.element, indent_chars, size)
    return style


def _first_line_chars(style_element, chars: int, size) -> None:
    """First-line indent in characters (w:firstLineChars), with a twips fallback for other readers."""
    ppr = style_element.get_or_add_pPr()
    ind = ppr.find(qn("w:ind"))
    if ind is None:
        ind = OxmlElement("w:ind")
        ppr.append(ind)
    ind.set(qn("w:firstLineChars"), str(chars * 100))
    ind.set(qn("w:firstLine"), str(int(chars * size.pt * 20)))


def _set_lang(doc) -> None:
    rpr_default = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    lang = rpr_default.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr_default.append(lang)
    lang.set(qn("w:val"), "zh-CN")
    lang.set(qn("w:eastAsia"), "zh-CN")
    fonts = rpr_default.find(qn("w:rFonts"))
    if fonts is not None:
        for attr in list(fonts.attrib):
            fonts.attrib.pop(attr)
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), BODY_FONT)


def _page_number_footer(section) -> None:
    """GB/T 9704 page number: 4号 半角 digits between em dashes, "— 1 —"."""
    paragraph = section.footer.paragraphs[0]
    paragraph.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph.paragraph_format.first_line_indent = Pt(0)
    paragraph.add_run("— ")
    field = OxmlElement("w:fldSimple")
    field.set(qn("w:instr"), "PAGE")
    inner = OxmlElement("w:r")
    text = OxmlElement("w:t")
    text.text = "1"
    inner.append(text)
    field.append(inner)
    paragraph._p.append(field)
    tail = OxmlElement("w:r")
    tail_text = OxmlElement("w:t")
    tail_text.set(qn("xml:space"), "preserve")
    tail_text.text = " —"
    tail.append(tail_text)
    paragraph._p.append(tail)
    for r in paragraph._p.iter(qn("w:r")):
        rpr = r.find(qn("w:rPr"))
        if rpr is None:
            rpr = OxmlElement("w:rPr")
            r.insert(0, rpr)
        fonts = OxmlElement("w:rFonts")
        for attr in ("w:ascii", "w:hAnsi", "w:eastAsia", "w:cs"):
            fonts.set(qn(attr), "宋体")
        size = OxmlElement("w:sz")
        size.set(qn("w:val"), str(int(SIZE_4.pt * 2)))
        rpr.append(fonts)
        rpr.append(size)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    trpr.append(header)


def _ranking_table(doc) -> None:
    widths = [Mm(18), Mm(66), Mm(28), Mm(44)]  # 156 mm = the A4 text width
    _loop_table(doc, widths, ["排名", "单位", "总分", "等次"], "r in g.rows", ["r.rank", "r.unit", "r.total", "r.grade"])


def _progress_table(doc) -> None:
    """The 督办 list of a 月度/季度 notice: one row per lagging unit × indicator."""
    widths = [Mm(28), Mm(44), Mm(24), Mm(24), Mm(36)]  # 156 mm
    _loop_table(doc, widths, ["单位", "指标", "完成进度", "时间进度", "全年预测"], "r in progress_rows",
                ["r.unit", "r.indicator", "r.completion", "r.elapsed", "r.forecast"])


def _loop_table(doc, widths, headers: list[str], loop: str, fields: list[str]) -> None:
    """A header row plus one docxtpl {%tr for %} row; the header repeats on every page."""
    ncols = len(headers)
    table = doc.add_table(rows=4, cols=ncols)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    table.autofit = False
    # LibreOffice and WPS lay a table out by its grid, not by the cell widths alone.
    for grid_col, width in zip(table._tbl.tblGrid.findall(qn("w:gridCol")), widths):
        grid_col.set(qn("w:w"), str(int(width.twips)))
    texts = [
        headers,
        ["{%tr for " + loop + " %}"] + [""] * (ncols - 1),
        ["{{ " + f + " }}" for f in fields],
        ["{%tr endfor %}"] + [""] * (ncols - 1),
    ]
    for row_index, (row, values) in enumerate(zip(table.rows, texts)):
        for cell, width, value in zip(row.cells, widths, values):
            cell.width = width
            cell.vertical_alignment = WD_ALIGN_VERTICAL.CENTER
            paragraph = cell.paragraphs[0]
            paragraph.style = doc.styles[STYLE_TABLE]
            run = paragraph.add_run(value)
            if row_index == 0:
                run.bold = True
                set_run_fonts(run._r, HEADING1_FONT)
    _repeat_header(table.rows[0])
    for row in table.rows:
        cant_split = OxmlElement("w:cantSplit")
        cant_split.set(qn("w:val"), "true")
        row._tr.get_or_add_trPr().append(cant_split)


def build_notice_template(path: str | Path = DEFAULT_TEMPLATE) -> Path:
    """Write the default notice template and return its path."""
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(25)
    _set_lang(doc)

    _style(doc, "Normal", BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _style(doc, STYLE_TITLE, TITLE_FONT, SIZE_2, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0, exact_pitch=False)
    doc.styles[STYLE_TITLE].paragraph_format.line_spacing = Pt(36)
    doc.styles[STYLE_TITLE].paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    _style(doc, STYLE_DOC_NUMBER, BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0)
    _style(doc, STYLE_ADDRESSEE, BODY_FONT, SIZE_3, indent_chars=0)
    _style(doc, STYLE_H1, HEADING1_FONT, SIZE_3)
    _style(doc, STYLE_H2, HEADING2_FONT, SIZE_3)
    for heading in (STYLE_H1, STYLE_H2):
        doc.styles[heading].paragraph_format.keep_with_next = True
    _style(doc, STYLE_H3, BODY_FONT, SIZE_3)
    _style(doc, STYLE_H4, BODY_FONT, SIZE_3)
    _style(doc, STYLE_SIGNATURE, BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.RIGHT, indent_chars=0)
    doc.styles[STYLE_SIGNATURE].paragraph_format.right_indent = Pt(16 * 4)  # 右空四字
    _style(doc, STYLE_TABLE, BODY_FONT, SIZE_4, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0, exact_pitch=False)
    set_run_fonts(doc.styles["Table Grid"].element, BODY_FONT)

    def para(text: str = "", style: str = "Normal"):
        return doc.add_paragraph(text, style=doc.styles[style])

    para("{%p if doc_number %}")
    para("{{ doc_number }}", STYLE_DOC_NUMBER)
    para("", STYLE_DOC_NUMBER)
    para("{%p endif %}")
    para("{{ title }}", STYLE_TITLE)
    para("")
    para("{{ addressee }}", STYLE_ADDRESSEE)
    para("{{ opening }}")
    para("一、考核结果", STYLE_H1)
    para("{%p for g in groups %}")
    para("{{ g.heading }}", STYLE_H2)
    para("{%p for line in g.grade_lines %}")
    para("{{ line }}")
    para("{%p endfor %}")
    para("{%p if g.name in quota_lines %}")
    para("{{ quota_lines[g.name] }}")
    para("{%p endif %}")
    para("{{ g.table_intro }}").paragraph_format.keep_with_next = True
    _ranking_table(doc)
    para("{%p endfor %}")
    # 月度/季度 notices only: the lagging units and indicators put under supervision (督办);
    # the headings after it are numbered by the context so an annual notice has no gap.
    para("{%p if progress_section %}")
    para("{{ progress_heading }}", STYLE_H1)
    para("{{ progress_intro }}").paragraph_format.keep_with_next = True
    para("{%p if progress_rows %}")
    _progress_table(doc)
    para("{{ progress_footnote }}")
    para("{%p endif %}")
    para("{{ progress_closing }}")
    para("{%p endif %}")
    para("{{ problems_heading }}", STYLE_H1)
    para("{%p for line in problem_lines %}")
    para("{{ line }}")
    para("{%p endfor %}")
    para("{{ requirements_heading }}", STYLE_H1)
    para("{%p for line in requirements %}")
    para("{{ line }}", STYLE_H3)
    para("{%p endfor %}")
    para("")
    para("")
    para("{{ issuer }}", STYLE_SIGNATURE)
    para("{{ issued_on }}", STYLE_SIGNATURE)
    _page_number_footer(section)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.core_properties.title = "考核结果通报模板"
    doc.core_properties.author = "kaohe-excel"
    doc.save(str(path))
    return path


if __name__ == "__main__":  # pragma: no cover
    build_notice_template(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TEMPLATE)
