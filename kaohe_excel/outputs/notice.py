"""The notice (通报): a Word document rendered with docxtpl from templates/通报.docx.

Every value handed to the template is a plain string passed through `xml_safe`, and
rendering uses autoescape, so unit names containing <, & or control characters
keep the document valid and appear literally.
"""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
from docxtpl import DocxTemplate
from jinja2 import TemplateError, TemplateSyntaxError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from kaohe_excel.base.errors import NoticeTemplateError

from kaohe_excel.outputs.notice_layout import (
    chinese_date,
    document_date,
    imprint_context,
    set_document_properties,
    title_lines,
)
from kaohe_excel.outputs.notice_template import build_notice_template
from kaohe_excel.inputs.number_text import fixed
from kaohe_excel.base.safety import xml_safe
from kaohe_excel.scoring.score import round_half_up

VETO_EFFECT_ZH = {"no_excellent": "取消评优资格", "fail": "等次定为不合格", "zero": "总分记为0分"}
_DIGITS = "零一二三四五六七八九"

DEFAULT_REQUIREMENTS = [
    "1.认真抓好整改落实。各单位要对照考核结果和失分情况，深入查找工作中的短板和不足，"
    "逐项明确整改措施、责任人和完成时限，切实做到以考促干、以考促改。",
    "2.对标先进争先进位。获得优秀等次的单位要总结经验、再接再厉；排名靠后的单位要主动对标先进，"
    "分析差距原因，推动各项工作提质增效。",
    "3.严肃考核工作纪律。各单位要如实报送考核数据和佐证材料，对弄虚作假的，一经查实，"
    "按有关规定严肃处理。对考核结果如有异议，可自本通报印发之日起5个工作日内书面提出复核申请。",
]


def chinese_number(n: int) -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十 (heading ordinals such as （一）)."""
    if n < 10:
        return _DIGITS[n]
    tens, ones = divmod(n, 10)
    if n < 100:
        return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")
    return str(n)


def period_text(period: str, period_type: str = "") -> str:
    """2024 → 2024年度, 2024Q3 → 2024年第三季度, 2024-06 → 2024年6月; anything else as is."""
    period = str(period).strip()
    if m := re.fullmatch(r"(\d{4})", period):
        return f"{m[1]}年度"
    if m := re.fullmatch(r"(\d{4})\s*[Qq]([1-4])", period):
        return f"{m[1]}年第{chinese_number(int(m[2]))}季度"
    if m := re.fullmatch(r"(\d{4})[-./](\d{1,2})", period):
        return f"{m[1]}年{int(m[2])}月"
    return period


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, (list, tuple)):
        return "；".join(_text(v) for v in value if _text(v))
    if hasattr(value, "tolist") and not isinstance(value, str):
        return _text(value.tolist())
    return str(value)


def _total_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "" if pd.isna(number) else fixed(number, 2)


def _rank_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "" if pd.isna(number) else str(int(number))


def _clean(value: Any) -> Any:
    """xml_safe every string, recursively through lists and dicts."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, str):
        return xml_safe(value)
    return value


def _sorted_units(ranked: pd.DataFrame) -> pd.DataFrame:
    frame = ranked.copy()
    positions = {g: i for i, g in enumerate(pd.unique(frame["group"].astype(object)))}
    frame["_g"] = frame["group"].astype(object).map(positions)
    frame["_o"] = pd.to_numeric(frame["order"] if "order" in frame.columns else frame["rank"], errors="coerce")
    return frame.sort_values(["_g", "_o", "unit_code"], kind="stable").reset_index(drop=True)


def _vetoed(frame: pd.DataFrame) -> pd.Series:
    if "vetoed" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return frame["vetoed"].fillna(False).astype(bool)


UNSCORED_MARK = "（含未计分指标）"


def _unscored(frame: pd.DataFrame) -> pd.Series:
    """Units with indicators left unscored (--allow-errors): ranked's unscored_count > 0."""
    if "unscored_count" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return pd.to_numeric(frame["unscored_count"], errors="coerce").fillna(0).gt(0)


def _group_context(ordinal: int, group: str, units: pd.DataFrame, grade_names: list[str]) -> dict:
    vetoed = _vetoed(units)
    unscored = _unscored(units)
    lines = []
    for grade in grade_names:
        names = units.loc[units["grade"].map(_text) == grade, "unit_name"].map(_text).tolist()
        lines.append(f"{grade}（{len(names)}个）：{'、'.join(names)}。" if names else f"{grade}：无。")
    rows = [
        {
            "rank": _rank_text(u.rank),
            "unit": _text(u.unit_name) + (UNSCORED_MARK if x else ""),
            "total": _total_text(u.total),
            "grade": _text(u.grade) + ("（一票否决）" if v else ""),
        }
        for u, v, x in zip(units.itertuples(index=False), vetoed, unscored)
    ]
    return {
        "name": group,
        "size": str(len(units)),
        "heading": f"（{chinese_number(ordinal)}）{group}（共{len(units)}个单位）",
        "grade_lines": lines,
        "table_intro": f"{group}考核排名情况如下：",
        "rows": rows,
        "note": ("注：标注“含未计分指标”的单位有数据错误未更正，相应指标未计分，其总分和排名须待更正后确认。"
                 if bool(unscored.any()) else ""),
    }


def _problem_lines(units: pd.DataFrame, veto_effect: str, issuer: str) -> list[str]:
    lines = []
    effect = VETO_EFFECT_ZH.get(veto_effect, "")
    vetoed = _vetoed(units)
    for u in units[vetoed].itertuples(index=False):
        items = _text(getattr(u, "veto_items", "")) or "一票否决事项"
        own = VETO_EFFECT_ZH.get(_text(getattr(u, "veto_effect", "")), effect)  # w-year: the unit's strongest veto
        lines.append(f"{_text(u.unit_name)}（{_text(u.group)}）：因{items}被一票否决" + (f"，{own}" if own else "") + "。")
    # Vetoes are listed above with their effect; their flag would repeat them.
    flags = (units["flags"] if "flags" in units.columns else pd.Series("", index=units.index)).map(
        lambda v: _text([f for f in list(v) if not _text(f).startswith("一票否决")])
        if isinstance(v, (list, tuple)) or hasattr(v, "tolist") else _text(v)
    )
    flagged = units[flags != ""]
    for u, text in zip(flagged.itertuples(index=False), flags[flags != ""]):
        lines.append(f"{_text(u.unit_name)}（{_text(u.group)}）：{text}。")
    if len(flagged):
        lines.append(f"请上述需整改单位自本通报印发之日起15个工作日内，向{issuer}报送书面整改报告。")
    return lines or ["无。"]


def _pct_text(value: object) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "" if pd.isna(number) else fixed(round_half_up(number * 100, 1), 1) + "%"


def _amount_text(value: object, unit: str) -> str:
    number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
    return "" if pd.isna(number) else fixed(round_half_up(number, 2), 2) + unit


def _progress_context(progress: pd.DataFrame | None, units: pd.DataFrame, issuer: str, when: str) -> dict:
    """The 督办 section of a 月度/季度 notice; progress_section is False for an annual run."""
    if progress is None:
        return {"progress_section": False, "progress_rows": []}
    lag = progress[progress["lag"].astype(bool)].copy()
    group_pos = {g: i for i, g in enumerate(pd.unique(units["group"].astype(object)))}
    unit_pos = {u: i for i, u in enumerate(units["unit_code"])}
    lag["_g"] = lag["group"].astype(object).map(group_pos)
    lag["_u"] = lag["unit_code"].astype(object).map(unit_pos)
    lag["_b"] = -pd.to_numeric(lag["behind"], errors="coerce")
    lag = lag.sort_values(["_g", "_u", "_b"], kind="stable")
    rows = []
    for r in lag.itertuples(index=False):  # the lagging rows only: a short list
        # The measure unit goes with the indicator name so the narrow forecast column holds numbers only.
        unit = _text(r.measure_unit)
        forecast = _amount_text(r.forecast_linear, "")
        if _amount_text(r.forecast_last_year, ""):
            forecast += f"\n同期法{_amount_text(r.forecast_last_year, '')}"  # docxtpl turns \n into a line break
        rows.append({
            "unit": _text(r.unit_name), "indicator": _text(r.name) + (f"（{unit}）" if unit else ""),
            "completion": _pct_text(r.completion),
            "elapsed": _pct_text(r.elapsed) if bool(r.cumulative) else "对标目标", "forecast": forecast,
        })
    n_units = lag["unit_code"].nunique()
    elapsed = _pct_text(progress["elapsed"].iloc[0]) if len(progress) else ""
    if rows:
        intro = (f"截至{when}，全年时间进度为{elapsed}。经对照全年目标分析，{n_units}个单位的{len(rows)}项指标"
                 "完成进度落后于时间进度或目标要求，列为督办事项：")
        closing = (f"请上述单位认真分析进度落后原因，制定赶超措施，自本通报印发之日起10个工作日内向{issuer}"
                   "报送整改措施，确保完成全年目标任务。")
    else:
        intro = f"截至{when}，全年时间进度为{elapsed}。经对照全年目标分析，各单位各项指标完成进度均达到时间进度或目标要求。"
        closing = "请各单位保持工作力度，确保完成全年目标任务。"
    return {
        "progress_section": True,
        "progress_intro": intro,
        "progress_rows": rows,
        "progress_footnote": ("注：完成进度为实际完成值占全年目标的比例；累计类指标与时间进度比较，"
                              "比率类（%）和反向指标对标全年目标。全年预测按当前进度推算"
                              + ("，“同期法”按上年同期至年末的增长比例推算。" if any("同期法" in r["forecast"] for r in rows) else "。")),
        "progress_closing": closing,
    }


def notice_context(meta: Any, ranked: pd.DataFrame, grades: pd.DataFrame, issued_on: date, extra_context: dict | None = None,
                   progress: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None) -> dict:
    """All template variables, as plain strings (and lists/dicts of them), made XML-safe.

    progress (progress.progress_table, 月度/季度 runs) adds the 督办 section and renumbers
    the headings after it. ratings (the RatingOutcome, with the scheme that has the 测评) adds each
    evaluation's participation to the opening, before 「现将……通报如下」.
    """
    name = _text(getattr(meta, "name", ""))
    issuer = _text(getattr(meta, "issuer", "")) or "考核办公室"
    when = period_text(_text(getattr(meta, "period", "")), _text(getattr(meta, "period_type", "")))
    units = _sorted_units(ranked)
    groups = list(pd.unique(units["group"].astype(object)))
    grade_names = [_text(g) for g in grades["grade"]] if grades is not None and len(grades) else []
    extra = getattr(meta, "extra", None) or {}
    group_list = "、".join(_text(g) for g in groups)
    # In the opening paragraph rather than a paragraph of its own: every office's template, however
    # edited, has {{ opening }}, and a notice without 测评 stays word for word what it was.
    participation = "".join(_participation_lines(ratings, scheme))
    context = {
        "title": f"关于{name}结果的通报",
        "doc_number": _text(getattr(meta, "doc_number", "")),
        "addressee": _text(extra.get("主送", "")) or "各有关单位：",
        "opening": (
            f"根据{name}工作安排，{issuer}组织对{len(units)}个单位{when}工作情况进行了考核。"
            f"考核按{len(groups)}个类别（{group_list}）分类进行、分类排名，"
            f"经数据汇总、审核、计分和排名，评定了考核等次。{participation}现将考核结果通报如下："
        ),
        "period": when,
        "unit_count": str(len(units)),
        "group_count": str(len(groups)),
        "groups": [
            _group_context(i, _text(g), units[units["group"].astype(object) == g], grade_names)
            for i, g in enumerate(groups, start=1)
        ],
        "problem_lines": _problem_lines(units, _text(getattr(meta, "veto_effect", "")), issuer),
        "requirements": list(DEFAULT_REQUIREMENTS),
        "issuer": issuer,
        "issued_on": chinese_date(issued_on),
        "quota_lines": {},  # w-year: group → its 优秀 名额 and who lost 优秀 (publicity.quota_lines)
    }
    context.update(_progress_context(progress, units, issuer, when))
    sections = (["进度预警及督办事项"] if context["progress_section"] else []) + ["一票否决及需整改单位", "工作要求"]
    headings = [f"{chinese_number(i)}、{name}" for i, name in enumerate(sections, start=2)]
    if context["progress_section"]:
        context["progress_heading"] = headings.pop(0)
        context["title"] = f"关于{name}{'' if when in name else when}进度情况的通报"
        context["opening"] = (
            f"根据{name}工作安排，{issuer}对{len(units)}个单位截至{when}的工作进展情况进行了考核"
            f"（累计类指标按时间进度折算目标计分），并对照全年目标分析了完成进度。"
            f"考核按{len(groups)}个类别（{group_list}）分类进行、分类排名。{participation}现将有关情况通报如下："
        )
    context["problems_heading"], context["requirements_heading"] = headings
    context.update(imprint_context(meta, issued_on))
    context.update(extra_context or {})
    # broken between words; docxtpl turns the \n into a line break (title_text stays one line)
    context["title_text"] = context["title"]
    context["title"] = "\n".join(title_lines(context["title"]))
    return _clean(context)


def _participation_lines(ratings: Any, scheme: Any) -> list[str]:
    if ratings is None or scheme is None or not len(getattr(scheme, "ratings", ())):
        return []
    from kaohe_excel.outputs.rating_report import participation_sentences

    return participation_sentences(ratings, scheme)


def write_notice(path: str | Path, template_path: str | Path | None, meta: Any, ranked: pd.DataFrame,
                 grades: pd.DataFrame, issued_on: date, extra_context: dict | None = None,
                 progress: pd.DataFrame | None = None, ratings: Any = None, scheme: Any = None) -> Path:
    """Render the notice (通报) .docx from the office's template (None: the built-in default)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    issued_on = document_date(meta, issued_on)  # 方案 row 成文日期, else the run date
    context = notice_context(meta, ranked, grades, issued_on, extra_context, progress, ratings, scheme)
    with tempfile.TemporaryDirectory() as tmp:
        if template_path is None:
            template_path = build_notice_template(Path(tmp) / "通报.docx")
        template = DocxTemplate(str(template_path))
        _render(template, context, Path(template_path))
        template.save(str(path))

    set_document_properties(path, context["title_text"], context["issuer"])
    return path


class _StrictSandbox(SandboxedEnvironment):
    """The office edits the template: it may only show the values it is given. Any reach into
    Python internals (cycler.__init__.__globals__.os …) fails the render instead of quietly
    printing nothing, so a tampered template is noticed."""

    def unsafe_undefined(self, obj, attribute):
        raise SecurityError(f"访问内部属性「{attribute}」")


def _render(template: DocxTemplate, context: dict, template_path: Path) -> None:
    """Render in a Jinja sandbox; a template that breaks or reaches for internals stops the
    run with one Chinese line naming it (nothing it asked for is executed)."""
    try:
        template.render(context, jinja_env=_StrictSandbox(autoescape=True), autoescape=True)
    except SecurityError as exc:
        raise NoticeTemplateError(
            f"通报模板「{template_path}」含有不允许的写法（{exc}），已停止生成通报，其中的内容没有被执行。"
            "模板的 {{ }} 中只能使用提供的变量，请检查模板是否被改动") from None
    except TemplateSyntaxError as exc:
        raise NoticeTemplateError(f"通报模板「{template_path}」有语法错误（{exc.message}），请检查模板中的 {{{{ }}}} 和 {{% %}}") from None
    except TemplateError as exc:
        raise NoticeTemplateError(f"通报模板「{template_path}」无法生成通报（{exc}），请检查模板") from None
