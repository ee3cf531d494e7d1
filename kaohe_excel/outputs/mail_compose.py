"""What `kaohe mail` would send: one Draft per message (the leaders' first, then each unit's), its
attachments proven against the manifest (and a feedback workbook against the unit it names), its
subject and body rendered from the office's Jinja templates; and the MIME message of a Draft."""

from __future__ import annotations

import hashlib
import io
import math
import re
import unicodedata
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Sequence

import jinja2
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment

from kaohe_excel.storage.archive import (
    NOTICE_NAME,
    SCHEME_COPY,
    SUMMARY_NAME,
    feedback_path,
    read_manifest,
    read_results,
)
from kaohe_excel.base.errors import KaoheError, MailConfigError
from kaohe_excel.inputs.number_text import fixed
from kaohe_excel.outputs.mail_config import MailConfig, _address, clean_header_text, split_addresses
from kaohe_excel.scheme.workbook import load_scheme
from kaohe_excel.base import paths

UNIT_TEMPLATE = "mail_unit.txt.j2"
LEADER_TEMPLATE = "mail_leader.txt.j2"
LEADER_KEY = "leader"
# Tokens accepted in --only for the leaders' message.
LEADER_TOKENS = {"领导", "leader", "leaders"}
RESOURCES = paths.RESOURCES

MIME_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
}


# --------------------------------------------------------------------------- templates


def _environment(template_dir: Path | None) -> SandboxedEnvironment:
    loaders = []
    if template_dir is not None and Path(template_dir).is_dir():
        loaders.append(jinja2.FileSystemLoader(str(template_dir), encoding="utf-8"))
    loaders.append(jinja2.FileSystemLoader(str(RESOURCES), encoding="utf-8"))
    # Sandboxed: the templates are edited by the office, not by us.
    return SandboxedEnvironment(loader=jinja2.ChoiceLoader(loaders), undefined=jinja2.StrictUndefined,
                                autoescape=False, keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


def render_template(name: str, context: dict, template_dir: Path | None) -> tuple[str, str]:
    """(subject, body) from a template whose first rendered line is `主题：...`."""
    try:
        template = _environment(template_dir).get_template(name)
        text = template.render(**context)
    except UnicodeDecodeError:
        raise MailConfigError(f"邮件模板 {name} 不是 UTF-8 编码，请用 UTF-8 另存") from None
    except jinja2.TemplateNotFound:
        raise MailConfigError(f"找不到邮件模板 {name}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise MailConfigError(f"邮件模板 {name} 第{exc.lineno}行有语法错误：{exc.message}") from None
    except jinja2.exceptions.SecurityError:  # the sandbox refused a reach into Python internals
        raise MailConfigError(f"邮件模板 {name} 含有不允许的写法（访问内部属性），已停止生成邮件，其中的内容没有被执行；"
                              "模板中只能使用提供的变量，请检查模板是否被改动") from None
    except jinja2.UndefinedError as exc:
        raise MailConfigError(f"邮件模板 {name} 用到了不存在的变量（{exc.message}）。可用的变量：{'、'.join(context)}") from None
    except jinja2.TemplateError as exc:
        raise MailConfigError(f"邮件模板 {name} 渲染失败：{exc}") from None
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    match = re.match(r"^主题\s*[：:]\s*(.*)$", first)
    if not match:
        raise MailConfigError(f"邮件模板 {name} 的第一行应为「主题：……」（邮件主题），现为「{first[:40]}」")
    subject = clean_header_text(match.group(1), 200)
    if not subject:
        raise MailConfigError(f"邮件模板 {name} 渲染出的主题为空")
    body = "\n".join(lines[1:]).lstrip("\n").rstrip() + "\n"
    # Keep the body printable: no stray control characters from unit names.
    body = "".join(c for c in body if c in "\n\t" or unicodedata.category(c) != "Cc")
    return subject, body


# --------------------------------------------------------------------------- the plan: what to send


@dataclass
class Attachment:
    name: str
    relative: str
    path: Path
    data: bytes = field(repr=False)
    sha256: str


@dataclass
class Draft:
    """One message ready to go (or the reason it cannot)."""

    key: str
    unit_code: str
    unit_name: str
    to: list[str]
    display_name: str = ""
    subject: str = ""
    body: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    problem: str = ""


def _manifest_hashes(folder: Path) -> dict[str, str]:
    manifest = read_manifest(folder, "核对附件，未发送任何邮件")
    return {entry["path"]: entry["sha256"] for entry in manifest["files"]}


def _verified(folder: Path, relative: str, hashes: dict[str, str]) -> Attachment | str:
    """The archived file's bytes when they match the manifest, else the Chinese reason for refusing it."""
    path = folder / relative
    try:
        inside = path.resolve().is_relative_to(folder.resolve())
    except OSError:
        inside = False
    if not inside or not path.is_file():
        return f"找不到归档文件 {relative}"
    expected = hashes.get(relative)
    if expected is None:
        return f"文件 {relative} 不在本期清单（manifest.json）中，拒绝发送"
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != expected:
        return f"文件 {relative} 在归档后被改动过（哈希值与清单不符），拒绝发送；如需更正请重新运行 kaohe run"
    return Attachment(name=path.name, relative=relative, path=path, data=data, sha256=digest)


def _feedback_owner(data: bytes) -> str | None:
    """The 单位代码 written in a feedback workbook's header block (first sheet)."""
    from python_calamine import CalamineWorkbook

    try:
        rows = CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python(nrows=15)
    except Exception:  # a corrupt workbook is just "not provably this unit's"
        return None
    for row in rows:
        if len(row) > 1 and str(row[0]).strip() == "单位代码":
            value = row[1]
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return str(value).strip()
    return None


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, float)):
        return fixed(value, digits)
    return str(value)


def _int_text(value: object) -> str:
    try:
        return "" if pd.isna(value) else str(int(value))
    except (TypeError, ValueError):
        return str(value)


def _meta_context(meta, sender_name: str) -> dict:
    return {"考核名称": meta.name, "考核周期": meta.period, "周期类型": meta.period_type, "发文机关": meta.issuer,
            "文号": meta.doc_number, "发件人": sender_name or meta.issuer}


def _unit_context(meta, unit: dict, contact: object, attachments: list[str], sender_name: str) -> dict:
    context = _meta_context(meta, sender_name)
    context.update({
        "单位代码": unit["unit_code"], "单位名称": clean_header_text(unit.get("unit_name"), 100),
        "考核类别": str(unit.get("group") or ""), "联系人": clean_header_text(contact, 40),
        "总分": _fmt(unit.get("total")), "指标得分": _fmt(unit.get("indicator_total")),
        "加分": _fmt(unit.get("bonus")), "扣分": _fmt(unit.get("deduction")),
        "排名": _int_text(unit.get("rank")), "类别单位数": _int_text(unit.get("group_size")),
        "等次": str(unit.get("grade") or ""), "否决": bool(unit.get("vetoed")), "附件": attachments,
    })
    return context


def _leader_context(meta, totals: pd.DataFrame, grades: list[str], attachments: list[str], sender_name: str) -> dict:
    context = _meta_context(meta, sender_name)
    groups = []
    for group, part in totals.sort_values(["group", "order"], kind="stable").groupby("group", sort=False):
        rows = [{"单位代码": r["unit_code"], "单位名称": clean_header_text(r["unit_name"], 100), "总分": _fmt(r["total"]),
                 "排名": _int_text(r["rank"]), "等次": str(r.get("grade") or "")} for r in part.to_dict("records")]
        groups.append({"名称": str(group), "单位数": len(rows), "排名": rows})
    counts = totals["grade"].astype(str).value_counts() if "grade" in totals else pd.Series(dtype=int)
    order = [g for g in grades if g in counts.index] + [g for g in counts.index if g not in grades]
    context.update({"单位数": len(totals), "各类别": groups,
                    "等次统计": [{"等次": g, "数量": int(counts[g])} for g in order], "附件": attachments})
    return context


def plan_period(folder: Path, config: MailConfig, only: Sequence[str] | None = None,
                template_dir: Path | None = Path("templates")) -> tuple[list[Draft], list[str]]:
    """Every message of the period (leaders first, then units in ranking order) and general warnings."""
    hashes = _manifest_hashes(folder)
    scheme_file = _verified(folder, SCHEME_COPY, hashes)
    if isinstance(scheme_file, str):
        raise KaoheError(f"无法取得单位邮箱：{scheme_file}")
    scheme = load_scheme(scheme_file.path)
    meta = scheme.meta
    totals = read_results(folder, "totals", "确定各单位的反馈表，未发送任何邮件")
    totals = totals.sort_values(["group", "order", "unit_code"], kind="stable") if "order" in totals else totals
    units = scheme.units.set_index("unit_code")
    overrides = config.addresses
    templates = config.template_dir if config.template_dir is not None else template_dir
    wanted = _selection(only, totals)
    warnings: list[str] = []
    drafts: list[Draft] = []

    if wanted is None or LEADER_KEY in wanted:
        draft = Draft(key=LEADER_KEY, unit_code="", unit_name="领导", to=[])
        text = overrides.get("领导", overrides.get(LEADER_KEY)) or "；".join(meta.leader_emails)
        draft.to, problems = split_addresses(text)
        attachments = [_verified(folder, name, hashes) for name in (SUMMARY_NAME, NOTICE_NAME)]
        refused = [a for a in attachments if isinstance(a, str)]
        if problems:
            draft.problem = "领导邮箱：" + "；".join(problems) + "（请在考核方案「方案」表的「领导邮箱」或 kaohe.toml 的 [addresses] 中填写）"
        elif refused:
            draft.problem = "；".join(refused)
        else:
            draft.attachments = attachments
            draft.subject, draft.body = render_template(
                LEADER_TEMPLATE, _leader_context(meta, totals, list(scheme.grades["grade"]), [a.name for a in attachments], config.from_name), templates)
        drafts.append(draft)

    for unit in totals.to_dict("records"):
        code = str(unit["unit_code"])
        if wanted is not None and code not in wanted:
            continue
        name = clean_header_text(unit.get("unit_name"), 100)
        draft = Draft(key=f"unit:{code}", unit_code=code, unit_name=name, to=[], display_name=name)
        drafts.append(draft)
        in_scheme = code in units.index
        contact = units.at[code, "contact"] if in_scheme else ""
        text = overrides.get(code) or (units.at[code, "email"] if in_scheme else "")
        draft.to, problems = split_addresses(text)
        if problems:
            draft.problem = "；".join(problems) + "（请在考核方案「单位」表的「邮箱」列或 kaohe.toml 的 [addresses] 中填写）"
            continue
        # The file name is the one report writes (archive.feedback_name), then proven by the code inside it.
        relative = feedback_path(code, unit.get("unit_name"))
        attachment = _verified(folder, relative, hashes)
        if isinstance(attachment, str):
            draft.problem = attachment
            continue
        owner = _feedback_owner(attachment.data)
        if owner != code:
            draft.problem = (f"反馈表 {relative} 中的单位代码为「{owner or '（未找到）'}」，与本单位「{code}」不符，拒绝发送")
            continue
        draft.attachments = [attachment]
        draft.subject, draft.body = render_template(
            UNIT_TEMPLATE, _unit_context(meta, unit, contact, [attachment.name], config.from_name), templates)

    if wanted is None:
        ranked = set(totals["unit_code"].astype(str))
        absent = [c for c in scheme.units["unit_code"] if c not in ranked]
        if absent:
            warnings.append(f"以下单位在本期结果中没有成绩，不发送：{'、'.join(absent)}")
    return drafts, warnings


def _selection(only: Sequence[str] | None, totals: pd.DataFrame) -> set[str] | None:
    if not only:
        return None
    known = set(totals["unit_code"].astype(str))
    chosen: set[str] = set()
    unknown = []
    for token in (t.strip() for t in only):
        if not token:
            continue
        if token.lower() in LEADER_TOKENS or token in LEADER_TOKENS:
            chosen.add(LEADER_KEY)
        elif token in known:
            chosen.add(token)
        else:
            unknown.append(token)
    if unknown:
        raise KaoheError(f"--only 中的「{'、'.join(unknown)}」不是本期的单位代码（领导的邮件写「领导」）")
    return chosen


# --------------------------------------------------------------------------- messages


def build_message(draft: Draft, config: MailConfig) -> EmailMessage:
    """The MIME message: text body, attachments with RFC 2231 file names, no injectable headers."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = clean_header_text(draft.subject)
    message["From"] = _address(config.from_address, config.from_name)
    message["To"] = [_address(a, draft.display_name) for a in draft.to]
    message["Date"] = formatdate(localtime=True)
    message["Message-ID"] = make_msgid(domain=config.from_address.rsplit("@", 1)[-1])
    # base64 keeps the message 7-bit clean for any relay; Chinese text survives every hop.
    message.set_content(draft.body, subtype="plain", charset="utf-8", cte="base64")
    for attachment in draft.attachments:
        maintype, subtype = MIME_TYPES.get(attachment.path.suffix.lower(), ("application", "octet-stream"))
        # Only the disposition's filename (RFC 2231): also setting Content-Type's name makes the email
        # package refold the long xlsx MIME type into an encoded word that clients cannot read.
        message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.name)
    return message
