"""Email the results of an archived period: each unit its own feedback, the leaders the summary and notice.

Everything comes from the period folder written by `archive.write_period`: the ranked totals tell
which units exist, the archived scheme gives their addresses, and every attachment must match the
SHA-256 recorded in the manifest (and a feedback workbook must name the unit it is sent to) before
it leaves. A JSON-lines send log in the period folder makes a second run send only what the server
has not accepted yet, so an interrupted run never mails anyone twice.

Subjects and bodies come from Jinja templates the office may edit (`templates/mail_unit.txt.j2`,
`templates/mail_leader.txt.j2`); the first line of a rendered template is `主题：<subject>`, the rest
is the body. Copies ship in `kaohe_excel/resources/` for when templates/ is absent.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import smtplib
import ssl
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Callable, Sequence

import jinja2
import pandas as pd
from jinja2.sandbox import SandboxedEnvironment

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from .archive import (FEEDBACK_DIR, MANIFEST, NOTICE_NAME, SCHEME_COPY, SUMMARY_NAME, find_period,
                      is_sealed, read_manifest, read_results)
from .errors import KaoheError, MailConfigError, MailSendError, PeriodNotFound
from .safety import safe_filename
from .scheme import load_scheme

PASSWORD_ENV = "KAOHE_SMTP_PASSWORD"
LOG_NAME = "mail_log.jsonl"
OUTBOX_DIR = "outbox"
LOCK_NAME = ".mail.lock"
UNIT_TEMPLATE = "mail_unit.txt.j2"
LEADER_TEMPLATE = "mail_leader.txt.j2"
LEADER_KEY = "leader"
# Tokens accepted in --only for the leaders' message.
LEADER_TOKENS = {"领导", "leader", "leaders"}
RESOURCES = Path(__file__).parent / "resources"

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}

MIME_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".docx": ("application", "vnd.openxmlformats-officedocument.wordprocessingml.document"),
}

# Outcome statuses; STATUS_LABELS is what the console shows.
SENT, DRY_RUN, ALREADY_SENT, SKIPPED, FAILED, UNCERTAIN, NOT_ATTEMPTED = (
    "sent", "dry_run", "already_sent", "skipped", "failed", "uncertain", "not_attempted")
# The whole message went out but the connection dropped before the server's reply: it may have been
# delivered. Never retried on its own (that is how a unit got two copies); only --resend sends it again.
UNCONFIRMED = "unconfirmed"
STATUS_LABELS = {SENT: "已发送", DRY_RUN: "已生成预览", ALREADY_SENT: "此前已发送，跳过", SKIPPED: "跳过",
                 FAILED: "发送失败", UNCERTAIN: "状态不明", NOT_ATTEMPTED: "未发送", UNCONFIRMED: "未确认"}
_PROBLEM_STATUSES = {SKIPPED, FAILED, UNCERTAIN, NOT_ATTEMPTED, UNCONFIRMED}

# Deliberately strict: an address we cannot vouch for is reported, never "fixed" by guessing.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@" + _LABEL + r"(?:\." + _LABEL + r")+")
_SPLIT = re.compile(r"[;；,，\s]+")


# --------------------------------------------------------------------------- configuration


@dataclass
class MailConfig:
    host: str = ""
    port: int = 0
    security: str = "starttls"
    user: str = ""
    password: str = field(default="", repr=False)
    from_address: str = ""
    from_name: str = ""
    timeout: float = 30.0
    tls_verify: bool = True
    ca_file: str = ""
    pause: float = 1.0
    max_tries: int = 3
    retry_wait: float = 5.0
    template_dir: Path | None = None
    addresses: dict[str, str] = field(default_factory=dict)


# tomllib's English messages, as the office can act on them (w-docs)
TOML_PROBLEMS = [
    ("Expected ']'", "方括号 [ ] 没有配对"),
    ("Expected '=' after a key", "缺少等号 =（每行写成 名称 = 值）"),
    ("Unterminated string", "引号没有配对"),
    ("Illegal character '\\n'", "引号没有配对（一行结束时引号还没有关上）"),
    ("Illegal character", "有不允许的字符（如中文引号、全角符号），请改用英文半角符号"),
    ("Invalid value", "等号后面的值写法不对：文字要加英文双引号，如 host = \"smtp.example.gov.cn\"，数字和 true/false 不加"),
    ("Cannot overwrite a value", "同一项写了两次"),
    ("Cannot declare", "同一部分（[ ] 标题）写了两次"),
    ("Invalid statement", "这一行不是 名称 = 值 的写法"),
    ("Invalid initial character for a key part", "名称写法不对：只用英文字母、数字、_ 和 -"),
]


def toml_problem(exc: Exception) -> str:
    """'Invalid value (at line 3, column 8)' -> 第3行第8列：等号后面的值写法不对…"""
    text = str(exc)
    where = re.search(r"\(at line (\d+), column (\d+)\)", text)
    place = f"第{where.group(1)}行第{where.group(2)}列" if where else ("文件末尾" if "end of document" in text else "")
    what = next((zh for en, zh in TOML_PROBLEMS if text.startswith(en)), "写法不对，请对照 kaohe.toml.example 检查引号、等号和方括号")
    return f"{place}：{what}" if place else what


def load_config(path: Path, password_env: str = PASSWORD_ENV, need_password: bool = True) -> MailConfig:
    """Read kaohe.toml; the password comes only from the environment variable `password_env`."""
    path = Path(path)
    if not path.is_file():
        raise MailConfigError(f"找不到邮件配置文件 {path}。请复制 kaohe.toml.example 为 kaohe.toml，填写邮件服务器设置")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise MailConfigError(f"邮件配置文件 {path} 不是 UTF-8 编码，请用 UTF-8 另存") from None
    except tomllib.TOMLDecodeError as exc:
        raise MailConfigError(f"邮件配置文件 {path} 格式有误：{toml_problem(exc)}") from None
    smtp = data.get("smtp")
    if not isinstance(smtp, dict):
        raise MailConfigError(f"邮件配置文件 {path} 缺少 [smtp] 部分")
    mail = data.get("mail") if isinstance(data.get("mail"), dict) else {}
    for section in (smtp, mail):
        if any(str(key).lower() in ("password", "pass", "passwd", "密码") for key in section):
            raise MailConfigError(f"请不要把邮箱密码写在 {path} 里：删除其中的 password 一项，改用环境变量 {password_env} 提供密码（授权码）")
    config = MailConfig()
    config.host = str(smtp.get("host", "")).strip()
    if not config.host:
        raise MailConfigError(f"{path} 的 [smtp] 缺少 host（邮件服务器地址，例如 smtp.example.gov.cn）")
    config.security = str(smtp.get("security", "starttls")).strip().lower()
    if config.security not in SECURITY_MODES:
        raise MailConfigError(f"{path} 的 [smtp] security 只能是 starttls、ssl 或 none，现为「{config.security}」")
    port = smtp.get("port", DEFAULT_PORTS[config.security])
    if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
        raise MailConfigError(f"{path} 的 [smtp] port 应为 1–65535 的整数，现为「{port}」")
    config.port = port
    config.user = str(smtp.get("user", "")).strip()
    config.from_name, config.from_address = _parse_from(smtp, path)
    config.timeout = _number(smtp, "timeout", 30.0, path, minimum=1)
    config.tls_verify = bool(smtp.get("tls_verify", True))
    config.ca_file = str(smtp.get("ca_file", "")).strip()
    config.pause = _number(mail, "pause", 1.0, path)
    config.retry_wait = _number(mail, "retry_wait", 5.0, path)
    config.max_tries = int(_number(mail, "max_tries", 3, path, minimum=1))
    if mail.get("templates"):
        config.template_dir = Path(str(mail["templates"]))
    addresses = data.get("addresses", {})
    if not isinstance(addresses, dict):
        raise MailConfigError(f"{path} 的 [addresses] 应为「单位代码 = \"邮箱\"」的列表")
    config.addresses = {str(k).strip(): str(v) for k, v in addresses.items()}
    if config.user and need_password:
        config.password = os.environ.get(password_env, "")
        if not config.password:
            raise MailConfigError(f"未设置环境变量 {password_env}（邮箱 {config.user} 的密码或授权码）。"
                                  f"Windows 命令提示符：set {password_env}=授权码；PowerShell：$env:{password_env}=\"授权码\"；"
                                  f"Linux/macOS：export {password_env}=授权码")
        if not (config.password.isascii() and config.user.isascii()):
            # smtplib encodes AUTH as ASCII; it would crash mid-login instead of failing cleanly.
            raise MailConfigError(f"邮箱用户名或环境变量 {password_env} 中的密码含有中文等非 ASCII 字符，邮件服务器登录不支持；"
                                  f"请核对（很多邮箱应使用由字母和数字组成的“授权码”）")
    return config


def _number(section: dict, key: str, default: float, path: Path, minimum: float = 0) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= minimum or math.isinf(value):
        raise MailConfigError(f"{path} 中的 {key} 应为不小于 {minimum:g} 的数字，现为「{value}」")
    return float(value)


def _parse_from(smtp: dict, path: Path) -> tuple[str, str]:
    raw = str(smtp.get("from", "") or smtp.get("user", "")).strip()
    name, address = parseaddr(raw) if "<" in raw else ("", raw)
    name = str(smtp.get("from_name", name) or "")
    if not address:
        raise MailConfigError(f"{path} 的 [smtp] 缺少 from（发件人邮箱）")
    if check_address(address):
        raise MailConfigError(f"{path} 的 [smtp] from「{address}」不是有效的邮箱地址")
    return clean_header_text(name), address


# --------------------------------------------------------------------------- addresses and headers


def clean_header_text(text: object, max_len: int = 200) -> str:
    """One line of header-safe text: control characters (CR, LF, ...) removed, whitespace collapsed."""
    if text is None or (not isinstance(text, (str, list, tuple)) and pd.isna(text)):
        return ""
    chars = (" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in str(text))
    return re.sub(r"\s+", " ", "".join(chars)).strip()[:max_len]


def check_address(address: str) -> str | None:
    """None when `address` is a plain ASCII addr-spec we will send to, else the Chinese reason."""
    if not address:
        return "邮箱为空"
    if len(address) > 254 or not _ADDRESS.fullmatch(address):
        return f"邮箱格式不正确：「{clean_header_text(address, 80)}」"
    return None


def split_addresses(text: object) -> tuple[list[str], list[str]]:
    """(valid, problems) for a cell that may hold several addresses separated by ; , or spaces."""
    cleaned = clean_header_text(text, 2000)
    parts = [p for p in _SPLIT.split(cleaned) if p]
    valid, problems = [], []
    for part in parts:
        reason = check_address(part)
        (problems.append(reason) if reason else valid.append(part))
    if not parts:
        problems.append("邮箱为空")
    return list(dict.fromkeys(valid)), problems


def _address(addr_spec: str, display_name: str = "") -> Address:
    return Address(display_name=clean_header_text(display_name, 60), addr_spec=addr_spec)


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


@dataclass
class MailOutcome:
    key: str
    unit_code: str
    unit_name: str
    to: list[str]
    subject: str
    attachments: list[str]
    status: str
    reason: str = ""
    response: str = ""
    eml_path: Path | None = None

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass
class MailReport:
    period: str
    folder: Path
    dry_run: bool
    sealed: bool
    outcomes: list[MailOutcome] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    log_path: Path | None = None
    outbox: Path | None = None

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)

    @property
    def problems(self) -> list[MailOutcome]:
        return [o for o in self.outcomes if o.status in _PROBLEM_STATUSES]

    @property
    def exit_code(self) -> int:
        """0 when every selected message went out (or was previewed); 1 when any was skipped or failed."""
        return 1 if self.problems else 0


def _period_folder(out_root: Path, period: str) -> Path:
    folder = find_period(Path(out_root), period) if period and safe_filename(period) == period else None  # recovers first
    if folder is None or not (folder / MANIFEST).is_file():
        folder = Path(out_root) / period
        raise PeriodNotFound(f"找不到 {period} 期的考核结果（{folder}）。请先运行 kaohe run，或用 --out 指定结果所在的输出目录")
    return folder


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
        return f"{value:.{digits}f}"
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
        # The file name is derived exactly as report.py names it, then proven by the code inside it.
        raw_name = unit.get("unit_name")
        stem = safe_filename(f"{code}_{'' if raw_name is None or pd.isna(raw_name) else raw_name}")
        relative = f"{FEEDBACK_DIR}/{stem}.xlsx"
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


# --------------------------------------------------------------------------- the send log


def read_log(path: Path) -> dict[str, dict]:
    """Last real (not dry-run) record per message key; a torn last line from a crash is ignored."""
    last: dict[str, dict] = {}
    if not path.is_file():
        return last
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("status") != "dry_run" and "key" in record:
            last[record["key"]] = record
    return last


def _append_log(path: Path, record: dict) -> None:
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def _record(period: str, draft: Draft, message: EmailMessage | None, status: str, response: str = "",
            resend: bool = False, refused: dict | None = None) -> dict:
    return {
        "time": datetime.now().astimezone().isoformat(timespec="seconds"),
        "period": period, "key": draft.key, "unit_code": draft.unit_code, "unit_name": draft.unit_name,
        "to": draft.to, "subject": draft.subject,
        "attachments": [{"name": a.name, "path": a.relative, "sha256": a.sha256, "size": len(a.data)}
                        for a in draft.attachments],
        "message_id": message["Message-ID"] if message is not None else "",
        "status": status, "response": response, "resend": resend, "refused": refused or {},
    }


class _Lock:
    """One mail run per period at a time: two concurrent runs would both send."""

    def __init__(self, folder: Path):
        self.path = folder / LOCK_NAME
        self.held = False

    def __enter__(self):
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if self._stale():
                    self.path.unlink(missing_ok=True)
                    continue
                raise KaoheError(f"另一个 kaohe mail 正在发送本期邮件（{self.path}）。如确认没有在运行，删除该文件后重试") from None
            with os.fdopen(fd, "w") as handle:
                handle.write(str(os.getpid()))
            self.held = True
            return self
        raise KaoheError(f"无法创建发送锁 {self.path}")

    def _stale(self) -> bool:
        if os.name != "posix":
            return False
        try:
            pid = int(self.path.read_text().strip())
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except (ValueError, OSError):
            return False
        return False

    def __exit__(self, *exc):
        if self.held:
            self.path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- SMTP


class _Transient(Exception):
    """Worth another try: a 4xx reply for this message."""


class _ConnectionLost(Exception):
    """The connection dropped or could not be made; reconnect and retry."""


class _Unconfirmed(Exception):
    """The connection dropped after the whole message was sent, before the server replied: not retried."""


class _Sender:
    def __init__(self, config: MailConfig, sleep: Callable[[float], None]):
        self.config = config
        self.sleep = sleep
        self.smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.config.ca_file or None)
        if not self.config.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _where(self) -> str:
        return f"{self.config.host}:{self.config.port}"

    def connect(self) -> None:
        config = self.config
        try:
            if config.security == "ssl":
                smtp = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout)
        except ssl.SSLError as exc:
            raise MailSendError(f"与邮件服务器 {self._where()} 建立加密连接失败（{exc.reason or exc}）。请检查 kaohe.toml 的 security 与端口是否匹配"
                                f"（465 端口一般用 ssl，587/25 端口用 starttls）") from None
        except smtplib.SMTPConnectError as exc:
            if 400 <= exc.smtp_code < 500:
                raise _ConnectionLost(f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
            raise MailSendError(f"邮件服务器 {self._where()} 拒绝连接：{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (OSError, smtplib.SMTPServerDisconnected) as exc:
            raise _ConnectionLost(str(exc) or type(exc).__name__) from None
        self.smtp = smtp
        try:
            smtp.ehlo()
            if config.security == "starttls":
                if not smtp.has_extn("starttls"):
                    raise MailSendError(f"邮件服务器 {self._where()} 不支持 STARTTLS 加密。请核对端口，或把 security 改为 ssl")
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if config.user:
                smtp.login(config.user, config.password)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise MailSendError(f"邮件服务器拒绝登录（{exc.smtp_code} {_text(exc.smtp_error)}）：用户名或密码错误。请检查 kaohe.toml 的 user "
                                f"和环境变量 {PASSWORD_ENV}（很多邮箱要用“授权码”而不是登录密码）") from None
        except smtplib.SMTPNotSupportedError:
            self.close()
            raise MailSendError(f"邮件服务器 {self._where()} 不支持登录（AUTH）。如该服务器无需登录，请删除 kaohe.toml 中的 user") from None
        except ssl.SSLError as exc:
            self.close()
            raise MailSendError(f"与邮件服务器 {self._where()} 的 STARTTLS 加密握手失败（{exc.reason or exc}）。"
                                f"内网自签证书可在 kaohe.toml 设置 ca_file") from None
        except MailSendError:
            self.close()
            raise
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            self.close()
            raise _ConnectionLost(str(exc) or type(exc).__name__) from None
        except smtplib.SMTPException as exc:
            self.close()
            raise MailSendError(f"与邮件服务器 {self._where()} 握手失败：{exc}") from None

    def close(self) -> None:
        if self.smtp is not None:
            try:
                self.smtp.quit()
            except (smtplib.SMTPException, OSError):
                try:
                    self.smtp.close()
                except OSError:
                    pass
            self.smtp = None

    def _once(self, sender: str, recipients: list[str], data: bytes) -> tuple[str, dict]:
        smtp = self.smtp
        assert smtp is not None
        try:
            code, reply = smtp.mail(sender)
            if code != 250:
                self._reply_failed(code, reply, "发件人被拒绝")
            refused = {}
            for recipient in recipients:
                code, reply = smtp.rcpt(recipient)
                if code not in (250, 251):
                    if code == 421:
                        raise _ConnectionLost(f"{code} {_text(reply)}")
                    refused[recipient] = (code, _text(reply))
            if len(refused) == len(recipients):
                codes = [c for c, _ in refused.values()]
                self._rset()
                text = "；".join(f"{r}：{c} {t}" for r, (c, t) in refused.items())
                if all(400 <= c < 500 for c in codes):
                    raise _Transient(f"收件人暂时被拒绝：{text}")
                raise _Permanent(f"收件人被拒绝：{text}")
            code, reply = self._data(smtp, data)
            if code != 250:
                self._reply_failed(code, reply, "邮件内容被拒绝")
            return f"{code} {_text(reply)}", {r: f"{c} {t}" for r, (c, t) in refused.items()}
        except smtplib.SMTPDataError as exc:
            self._reply_failed(exc.smtp_code, exc.smtp_error, "邮件内容被拒绝")
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _ConnectionLost(str(exc) or type(exc).__name__) from None
        raise AssertionError("unreachable")

    @staticmethod
    def _data(smtp: smtplib.SMTP, data: bytes) -> tuple[int, bytes]:
        """smtplib's DATA, split where it matters: once the final "." has gone out, a lost connection
        means the server may have accepted the message (_Unconfirmed), not that it may be retried."""
        code, reply = smtp.docmd("data")
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        payload = re.sub(rb"(?m)^\.", b"..", data)  # dot-stuffing (RFC 5321 4.5.2), as smtplib does
        if not payload.endswith(b"\r\n"):
            payload += b"\r\n"
        smtp.send(payload + b".\r\n")  # a failure here: the message is incomplete, the server drops it
        try:
            return smtp.getreply()
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise _Unconfirmed(str(exc) or type(exc).__name__) from None

    def _rset(self) -> None:
        try:
            self.smtp.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def _reply_failed(self, code: int, reply: object, what: str) -> None:
        if code == 421 or code < 0:
            raise _ConnectionLost(f"{code} {_text(reply)}")
        self._rset()
        if 400 <= code < 500:
            raise _Transient(f"{what}（暂时）：{code} {_text(reply)}")
        raise _Permanent(f"{what}：{code} {_text(reply)}")

    def send(self, sender: str, recipients: list[str], data: bytes) -> tuple[str, dict]:
        """Server response of an accepted message; retries transient failures with doubling waits."""
        last = ""
        lost = False
        for attempt in range(1, self.config.max_tries + 1):
            try:
                if self.smtp is None:
                    self.connect()
                return self._once(sender, recipients, data)
            except _Transient as exc:
                last, lost = str(exc), False
            except _ConnectionLost as exc:
                self.close()
                last, lost = f"与邮件服务器的连接中断：{exc}", True
            if attempt < self.config.max_tries:
                self.sleep(self.config.retry_wait * 2 ** (attempt - 1))
        if lost:
            raise _ConnectionLost(last)
        raise _Permanent(f"重试 {self.config.max_tries} 次仍失败：{last}")


class _Permanent(Exception):
    """This message will not go through; the next one may."""


def _text(reply: object) -> str:
    if isinstance(reply, bytes):
        reply = reply.decode("utf-8", errors="replace")
    return clean_header_text(reply, 300)


# --------------------------------------------------------------------------- the command's core


def send_period(out_root: Path, period: str, config_path: Path = Path("kaohe.toml"), dry_run: bool = False,
                only: Sequence[str] | None = None, resend: bool = False, password_env: str = PASSWORD_ENV,
                template_dir: Path | None = Path("templates"),
                progress: Callable[[str, int, int], None] | None = None,
                sleep: Callable[[float], None] = time.sleep) -> MailReport:
    """Send (or with dry_run write as .eml) every message of a period that the server has not accepted yet.

    Raises MailConfigError / MailSendError (connection, TLS, login; mid-run with `.report` attached),
    PeriodNotFound, KaoheError; per-message problems are outcomes in the report.
    """
    folder = _period_folder(Path(out_root), period)
    warnings: list[str] = []
    if dry_run and not Path(config_path).is_file():
        config = MailConfig(from_address="kaohe@localhost", from_name="考核办")
        warnings.append(f"没有找到邮件配置文件 {config_path}，预览邮件使用占位发件人 kaohe@localhost")
    else:
        config = load_config(Path(config_path), password_env, need_password=not dry_run)
    if not dry_run and config.security == "none" and config.user:
        warnings.append("security = \"none\"：登录密码和邮件内容将以明文传输，建议改用 starttls 或 ssl")
    report = MailReport(period=period, folder=folder, dry_run=dry_run, sealed=is_sealed(folder),
                        log_path=folder / LOG_NAME)
    if not report.sealed:
        warnings.append(f"{period} 期尚未封存，结果仍可能被重新计算；建议确认无误并封存后再发送")
    with _Lock(folder):
        drafts, plan_warnings = plan_period(folder, config, only, template_dir)
        report.warnings = warnings + plan_warnings
        previous = read_log(report.log_path)
        if dry_run:
            report.outbox = folder / OUTBOX_DIR
            report.outbox.mkdir(exist_ok=True)
            for stale in report.outbox.glob("*.eml"):
                stale.unlink()
        _deliver(report, drafts, previous, config, resend, progress, sleep)
    return report


def _outcome(draft: Draft, status: str, reason: str = "", response: str = "") -> MailOutcome:
    return MailOutcome(key=draft.key, unit_code=draft.unit_code, unit_name=draft.unit_name, to=list(draft.to),
                       subject=draft.subject, attachments=[a.name for a in draft.attachments], status=status,
                       reason=reason, response=response)


def _deliver(report: MailReport, drafts: list[Draft], previous: dict[str, dict], config: MailConfig, resend: bool,
             progress: Callable[[str, int, int], None] | None, sleep: Callable[[float], None]) -> None:
    sender = None if report.dry_run else _Sender(config, sleep)
    pending: list[Draft] = []
    for draft in drafts:
        earlier = previous.get(draft.key, {}).get("status")
        if draft.problem:
            report.outcomes.append(_outcome(draft, SKIPPED, draft.problem))
        elif earlier == "accepted" and not resend:
            when = previous[draft.key].get("time", "")
            report.outcomes.append(_outcome(draft, ALREADY_SENT, f"已于 {when} 发送成功；如需重发请加 --resend"))
        elif earlier == "sending" and not resend:
            report.outcomes.append(_outcome(draft, UNCERTAIN, "上次发送时程序中断，无法确认对方是否已收到；"
                                                              f"请核实后用 --resend --only {draft.unit_code or '领导'} 补发"))
        elif earlier == UNCONFIRMED and not resend:
            when = previous[draft.key].get("time", "")
            report.outcomes.append(_outcome(draft, UNCONFIRMED, _unconfirmed_reason(draft, when)))
        else:
            pending.append(draft)
    try:
        for done, draft in enumerate(pending):
            if progress:
                progress("发送" if sender else "预览", done, len(pending))
            message = build_message(draft, config)
            data = message.as_bytes(policy=policy.SMTP)
            if sender is None:
                path = report.outbox / (safe_filename(draft.unit_code and f"{draft.unit_code}_{draft.unit_name}" or "领导_汇总表与通报") + ".eml")
                path.write_bytes(data)
                _append_log(report.log_path, _record(report.period, draft, message, "dry_run", resend=resend))
                outcome = _outcome(draft, DRY_RUN)
                outcome.eml_path = path
                report.outcomes.append(outcome)
                continue
            if done:
                sleep(config.pause)
            # Written before sending: a crash after the server accepted but before we log it shows up
            # next time as "uncertain" instead of being silently sent twice.
            _append_log(report.log_path, _record(report.period, draft, message, "sending", resend=resend))
            try:
                response, refused = sender.send(config.from_address, draft.to, data)
            except _Permanent as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                continue
            except _Unconfirmed as exc:
                _append_log(report.log_path, _record(report.period, draft, message, UNCONFIRMED, str(exc), resend))
                report.outcomes.append(_outcome(draft, UNCONFIRMED, _unconfirmed_reason(draft)))
                # A server that drops the line after DATA may do it again: stop, so that at most one
                # message is in doubt; the ones not attempted go out safely on the next run.
                _not_attempted(report, pending[done + 1:])
                who = draft.unit_name or "领导"
                error = MailSendError(
                    f"发给「{who}」的邮件已全部发出，但邮件服务器 {config.host}:{config.port} 在确认收到前断开了连接，"
                    f"记为“未确认”，已停止发送。请先向「{who}」核实是否收到：未收到的，用 kaohe mail {report.period} "
                    f"--resend --only {draft.unit_code or '领导'} 补发；其余邮件重新运行 kaohe mail {report.period} 即可补发，不会重复")
                error.report = report
                raise error from None
            except _ConnectionLost as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                _not_attempted(report, pending[done + 1:])
                sent = report.count(SENT)
                where = f"{config.host}:{config.port}"
                head = (f"与邮件服务器 {where} 的连接反复中断（{exc}），已停止发送。本次已发送 {sent} 封" if sent else
                        f"无法连接邮件服务器 {where}（{exc}）。请检查 kaohe.toml 的 host、port、security 和网络")
                error = MailSendError(f"{head}；稍后重新运行 kaohe mail {report.period} 将只补发尚未成功的邮件")
                error.report = report
                raise error from None
            except MailSendError as exc:
                _append_log(report.log_path, _record(report.period, draft, message, "failed", str(exc), resend))
                report.outcomes.append(_outcome(draft, FAILED, str(exc)))
                _not_attempted(report, pending[done + 1:])
                exc.report = report
                raise
            _append_log(report.log_path, _record(report.period, draft, message, "accepted", response, resend, refused))
            reason = ("；".join(f"{r} 被拒收（{t}）" for r, t in refused.items())) if refused else ""
            if refused:
                report.warnings.append(f"「{draft.unit_name}」的邮件已发出，但部分收件人被拒收：{reason}")
            report.outcomes.append(_outcome(draft, SENT, reason, response))
        if progress:
            progress("发送" if sender else "预览", len(pending), len(pending))
    finally:
        if sender is not None:
            sender.close()


def _unconfirmed_reason(draft: Draft, when: str = "") -> str:
    again = f"请核实对方是否收到，未收到的用 --resend --only {draft.unit_code or '领导'} 补发"
    if when:
        return f"{when} 发送时邮件已发出，但服务器未确认收到（连接中断），可能已送达，本次不重发；{again}"
    return f"邮件已发出，但服务器确认收到前连接中断，可能已送达，不自动重发；{again}"


def _not_attempted(report: MailReport, rest: list[Draft]) -> None:
    for draft in rest:
        report.outcomes.append(_outcome(draft, NOT_ATTEMPTED, "因连接中断未发送，重新运行时补发"))
