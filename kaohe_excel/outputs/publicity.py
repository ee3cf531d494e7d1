"""公示名单.docx: the results as published for the 公示 period, in the notice's GB/T 9704 layout.

Built with the notice template's styles and table helpers and rendered with docxtpl like the
notice, so both documents look alike and every value is escaped the same way.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pandas as pd
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.shared import Mm, Pt
from docxtpl import DocxTemplate

from kaohe_excel.outputs import notice_template as nt
from kaohe_excel.outputs.notice import _clean, _group_context, _sorted_units, _text, chinese_number, period_text
from kaohe_excel.outputs.notice_layout import title_lines
from kaohe_excel.base.publication import Window, chinese_date, period_sentence

PUBLICITY_NAME = "公示名单.docx"


def _build_template(path: Path) -> Path:
    doc = Document()
    section = nt.gbt9704_page(doc)
    nt._set_lang(doc)
    nt._style(doc, "Normal", nt.BODY_FONT, nt.SIZE_3, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    nt._style(doc, nt.STYLE_TITLE, nt.TITLE_FONT, nt.SIZE_2, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0,
              exact_pitch=False)
    doc.styles[nt.STYLE_TITLE].paragraph_format.line_spacing = Pt(36)
    doc.styles[nt.STYLE_TITLE].paragraph_format.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    nt._style(doc, nt.STYLE_H2, nt.HEADING2_FONT, nt.SIZE_3)
    doc.styles[nt.STYLE_H2].paragraph_format.keep_with_next = True
    nt._style(doc, nt.STYLE_SIGNATURE, nt.BODY_FONT, nt.SIZE_3, align=WD_ALIGN_PARAGRAPH.RIGHT, indent_chars=0)
    doc.styles[nt.STYLE_SIGNATURE].paragraph_format.right_indent = Pt(16 * 4)
    nt._style(doc, nt.STYLE_TABLE, nt.BODY_FONT, nt.SIZE_4, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0,
              exact_pitch=False)
    nt.set_run_fonts(doc.styles["Table Grid"].element, nt.BODY_FONT)

    def para(text: str = "", style: str = "Normal"):
        return doc.add_paragraph(text, style=doc.styles[style])

    para("{{ title }}", nt.STYLE_TITLE)
    para("")
    para("{{ opening }}")
    para("{%p for g in groups %}")
    para("{{ g.heading }}", nt.STYLE_H2)
    nt._loop_table(doc, [Mm(18), Mm(66), Mm(28), Mm(44)], ["名次", "单位", "总分", "等次"], "r in g.rows",
                   ["r.rank", "r.unit", "r.total", "r.grade"])
    # the table's rows keep with what follows (a table moves whole rather than leave a row behind); this
    # plain line ends that chain, else every group's table would be chained to the next one
    para("")
    para("{%p endfor %}")
    para("{{ period_line }}")
    # the signature never stands alone on a page (GB/T 9704): the last lines of the text go with it
    para("{{ objections }}").paragraph_format.keep_with_next = True
    para("").paragraph_format.keep_with_next = True
    para("{{ issuer }}", nt.STYLE_SIGNATURE).paragraph_format.keep_with_next = True
    para("{{ issued_on }}", nt.STYLE_SIGNATURE)
    nt._page_number_footers(doc, section)
    doc.core_properties.title = "考核结果公示"
    doc.core_properties.author = "kaohe-excel"
    doc.save(str(path))
    return path


def publicity_context(meta: Any, ranked: pd.DataFrame, win: Window) -> dict:
    name = _text(getattr(meta, "name", ""))
    issuer = _text(getattr(meta, "issuer", "")) or "考核办公室"
    when = period_text(_text(getattr(meta, "period", "")), _text(getattr(meta, "period_type", "")))
    units = _sorted_units(ranked)
    groups = list(pd.unique(units["group"].astype(object)))
    settings = getattr(meta, "publication", None)
    objections = _text(getattr(settings, "objections", "")) or (
        f"公示期间，对公示结果如有异议，请以书面形式向{issuer}反映，并提供相关佐证材料。")
    context = {
        # broken between words like the notice's title (docxtpl turns the \n into a line break)
        "title": "\n".join(title_lines(f"关于{name}结果的公示")),
        "opening": (f"根据{name}工作安排，{issuer}对{len(units)}个单位{when}工作情况进行了考核，"
                    f"经数据汇总、审核、计分和排名，现将考核结果予以公示（公示{win.days}个工作日）："),
        "groups": [dict(_group_context(i, _text(g), units[units["group"].astype(object) == g], []),
                        heading=f"（{chinese_number(i)}）{_text(g)}（共{int((units['group'].astype(object) == g).sum())}个单位）")
                   for i, g in enumerate(groups, start=1)],
        "period_line": period_sentence(win) + "。",
        "objections": objections,
        "issuer": issuer,
        "issued_on": chinese_date(win.issued_on),
    }
    return _clean(context)


def write_publicity(path: str | Path, meta: Any, ranked: pd.DataFrame, win: Window) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        template = DocxTemplate(str(_build_template(Path(tmp) / "公示名单模板.docx")))
        template.render(publicity_context(meta, ranked, win), autoescape=True)
        template.save(str(path))
    return path


__all__ = ["PUBLICITY_NAME", "publicity_context", "quota_lines", "write_publicity"]


ROUNDING_ZH = {"floor": "向下取整", "half_up": "四舍五入"}


def quota_lines(scheme: Any, ranked: pd.DataFrame) -> dict[str, str]:
    """Per group: its 优秀 名额 and why each unit that reached the top threshold is not 优秀 (notice, summary)."""
    grades = scheme.grades
    if grades is None or not len(grades) or "quota" not in ranked.columns:
        return {}
    top, top_min = _text(grades["grade"].iloc[0]), float(grades["min_score"].iloc[0])
    own = {}
    quotas = getattr(scheme, "group_quotas", None)
    if quotas is not None and len(quotas):
        own = {_text(r.group): r for r in quotas.itertuples(index=False)}
    default_share = float(getattr(scheme.meta, "excellent_quota", 1.0))
    lines = {}
    units = _sorted_units(ranked)
    for group, rows in units.groupby(units["group"].astype(object), sort=False):  # one line per group: few
        rule = own.get(_text(group))
        share = float(rule.share) if rule is not None else default_share
        how = ROUNDING_ZH.get(rule.rounding if rule is not None else "floor", "向下取整")
        if rule is not None and bool(rule.at_least_one):
            how += "，至少一名"
        count = int(rows["quota"].iloc[0])
        text = (f"{top}名额：{_text(group)}{len(rows)}个单位，{top}比例上限{_share_text(share)}（{how}），"
                f"{top}名额{count}个。")
        total = pd.to_numeric(rows["total"], errors="coerce")
        lost = rows[(total + 1e-9 >= top_min) & (rows["grade"].map(_text) != top)]
        vetoed_top = rows[rows["grade"].map(_text) != top].copy()
        vetoed_top = vetoed_top[vetoed_top["grade_note"].map(_text).str.startswith("一票否决")]
        lost = pd.concat([lost, vetoed_top[~vetoed_top.index.isin(lost.index)]])
        if len(lost):
            reasons = "、".join(f"{_text(r.unit_name)}（{_lost_reason(_text(r.grade_note), top)}）" for r in lost.itertuples())
            text += f"未评为{top}的：{reasons}。"
        lines[_text(group)] = text
    return lines


def _lost_reason(note: str, top: str) -> str:
    """The veto note as is; the quota note without its 名额 (the line states it already)."""
    if note.startswith("一票否决"):
        return note
    return f"达到{top}分数线，超出名额" if note.startswith(f"达到{top}分数线") else (note or "未达条件")


def _share_text(share: float) -> str:
    percent = round(share * 100, 4)
    return f"{int(percent)}%" if float(percent).is_integer() else f"{percent:g}%"
