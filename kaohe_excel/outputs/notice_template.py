"""Build templates/通报.docx, the docxtpl template of the notice (通报), reproducibly.

The office may edit the generated file in Word or WPS (wording, fonts, the seal area);
run `python -m kaohe_excel.outputs.notice_template [path]` to regenerate the default.
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
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from kaohe_excel.base import paths

DEFAULT_TEMPLATE = paths.REPOSITORY_TEMPLATES / "通报.docx"

BODY_FONT = "仿宋_GB2312"
TITLE_FONT = "方正小标宋简体"
HEADING1_FONT = "黑体"
HEADING2_FONT = "楷体_GB2312"
SIZE_2 = Pt(22)  # 二号
SIZE_3 = Pt(16)  # 三号
SIZE_4 = Pt(14)  # 四号
LINE_PITCH = Pt(28.95)
# The GB/T 9704 grid: 22 lines of 28 characters in the 156 mm × 225 mm type area. 156 mm / 28 =
# 15.79 pt a character, less than 三号's 16 pt: the body is set 0.25 pt tighter (-5 twips), which
# Word, WPS and LibreOffice all honour alike (a w:docGrid character grid is laid out differently
# by each), and the line grid keeps its 28.95 pt pitch.
GRID_LINE_PITCH = 579  # twips: 28.95 pt
BODY_CHAR_SPACING = -5  # twips
TEXT_WIDTH = Mm(156)
RED = "FF0000"

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
STYLE_MASTHEAD = "发文机关标志"
STYLE_IMPRINT = "版记"


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
    # The character grid's pitch is the default font size plus w:charSpace: the default must be 三号.
    for tag in ("w:sz", "w:szCs"):
        size = rpr_default.find(qn(tag))
        if size is None:
            size = OxmlElement(tag)
            rpr_default.append(size)
        size.set(qn("w:val"), str(int(SIZE_3.pt * 2)))


def _no_grid(style_or_paragraph) -> None:
    """Leave the character grid: a 二号 title or a 四号 table snapped to the 三号 grid would be spread out."""
    owner = style_or_paragraph._p if hasattr(style_or_paragraph, "_p") else style_or_paragraph.element
    ppr = owner.get_or_add_pPr()
    snap = OxmlElement("w:snapToGrid")
    snap.set(qn("w:val"), "0")
    ppr.append(snap)


def _doc_grid(section) -> None:
    sect_pr = section._sectPr
    grid = sect_pr.find(qn("w:docGrid"))
    if grid is None:
        grid = OxmlElement("w:docGrid")
        sect_pr.append(grid)
    grid.set(qn("w:type"), "lines")
    grid.set(qn("w:linePitch"), str(GRID_LINE_PITCH))
    grid.attrib.pop(qn("w:charSpace"), None)


def _char_spacing(style, twips: int) -> None:
    rpr = style.element.get_or_add_rPr()
    spacing = rpr.find(qn("w:spacing"))
    if spacing is None:
        spacing = OxmlElement("w:spacing")
        rpr.append(spacing)
    spacing.set(qn("w:val"), str(twips))


def _border(paragraph_format_element, side: str, size_eighths: int, color: str = "000000") -> None:
    """A paragraph border line (w:pBdr), size in eighths of a point."""
    ppr = paragraph_format_element.get_or_add_pPr()
    bdr = ppr.find(qn("w:pBdr"))
    if bdr is None:
        bdr = OxmlElement("w:pBdr")
        ppr.append(bdr)
    line = OxmlElement(f"w:{side}")
    line.set(qn("w:val"), "single")
    line.set(qn("w:sz"), str(size_eighths))
    line.set(qn("w:space"), "1")
    line.set(qn("w:color"), color)
    bdr.append(line)


def _page_number_footers(doc, section) -> None:
    """GB/T 9704 page numbers: 4号 半角 digits between em dashes, "— 1 —", 单页码居右空一字,
    双页码居左空一字 (odd and even pages have their own footers)."""
    doc.settings.odd_and_even_pages_header_footer = True
    odd = section.footer.paragraphs[0]
    odd.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    odd.paragraph_format.right_indent = SIZE_4
    _page_number_footer(odd)
    even = section.even_page_footer.paragraphs[0]
    even.alignment = WD_ALIGN_PARAGRAPH.LEFT
    even.paragraph_format.left_indent = SIZE_4
    _page_number_footer(even)


def _page_number_footer(paragraph) -> None:
    paragraph.paragraph_format.first_line_indent = Pt(0)
    _no_grid(paragraph)
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
        # every row keeps with the next: a table that fits on a page starts on a new one rather than
        # leaving its header and a row behind; a longer one breaks where it must
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                paragraph.paragraph_format.keep_with_next = True


def _printer_line(para):
    """「<印发机关>	<日期>印发」: the date pushed right by the style's tab stop."""
    paragraph = para("{{ printer }}", STYLE_IMPRINT)
    paragraph.add_run().add_tab()
    paragraph.add_run("{{ printed_on }}")
    return paragraph


def gbt9704_page(doc):
    """The A4 page of GB/T 9704 (margins 37/35/28/26 mm) on the document's first section, which it returns."""
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(25)
    return section


def build_notice_template(path: str | Path = DEFAULT_TEMPLATE) -> Path:
    """Write the default notice template and return its path."""
    doc = Document()
    section = gbt9704_page(doc)
    _doc_grid(section)
    _set_lang(doc)

    _style(doc, "Normal", BODY_FONT, SIZE_3, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _char_spacing(doc.styles["Normal"], BODY_CHAR_SPACING)  # 28 characters a line
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
    # 版头: the issuer's mark in red 小标宋, the red separator line under the 发文字号
    _style(doc, STYLE_MASTHEAD, TITLE_FONT, Pt(36), align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0, exact_pitch=False)
    doc.styles[STYLE_MASTHEAD].font.color.rgb = RGBColor.from_string(RED)
    doc.styles[STYLE_MASTHEAD].paragraph_format.space_after = Pt(24)
    # 版记: 四号 仿宋, 左右各空一字, the 印发日期 right-aligned by a tab
    _style(doc, STYLE_IMPRINT, BODY_FONT, SIZE_4, align=WD_ALIGN_PARAGRAPH.LEFT, indent_chars=0)
    imprint = doc.styles[STYLE_IMPRINT].paragraph_format
    imprint.left_indent, imprint.right_indent = SIZE_4, SIZE_4
    imprint.tab_stops.add_tab_stop(TEXT_WIDTH - SIZE_4, WD_TAB_ALIGNMENT.RIGHT)
    for name in (STYLE_TITLE, STYLE_TABLE, STYLE_MASTHEAD, STYLE_IMPRINT):
        _no_grid(doc.styles[name])

    def para(text: str = "", style: str = "Normal"):
        return doc.add_paragraph(text, style=doc.styles[style])

    para("{%p if masthead %}")
    para("{{ masthead }}", STYLE_MASTHEAD)
    # the red separator line under the 发文字号 (GB/T 9704 版头)
    _border(para("{{ doc_number }}", STYLE_DOC_NUMBER)._p, "bottom", 18, RED)
    para("", STYLE_DOC_NUMBER)
    para("{%p elif doc_number %}")
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
    para("{%p if g.note %}")
    para("{{ g.note }}")
    para("{%p endif %}")
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
    # 版记 (optional): 抄送 and 印发机关/印发日期 between lines, the first and last thick
    para("{%p if imprint %}")
    para("")
    para("{%p if copy_to %}")
    copy = para("抄送：{{ copy_to }}。", STYLE_IMPRINT)
    _border(copy._p, "top", 8)
    printer = _printer_line(para)
    _border(printer._p, "top", 4)
    _border(printer._p, "bottom", 8)
    para("{%p else %}")
    printer = _printer_line(para)
    _border(printer._p, "top", 8)
    _border(printer._p, "bottom", 8)
    para("{%p endif %}")
    para("{%p endif %}")
    _page_number_footers(doc, section)

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc.core_properties.title = "考核结果通报模板"
    doc.core_properties.author = "kaohe-excel"
    doc.save(str(path))
    return path


if __name__ == "__main__":  # pragma: no cover
    build_notice_template(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TEMPLATE)
