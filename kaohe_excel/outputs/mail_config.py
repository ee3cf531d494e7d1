"""kaohe.toml for `kaohe mail` (the SMTP server, the sender, the pauses, the address overrides) and
the address and header rules every message follows: an address we cannot vouch for is reported,
never "fixed"; header text never carries a line break."""

from __future__ import annotations

import math
import os
import re
import unicodedata
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.utils import parseaddr
from pathlib import Path

import pandas as pd

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from kaohe_excel.base.errors import MailConfigError

PASSWORD_ENV = "KAOHE_SMTP_PASSWORD"

SECURITY_MODES = ("starttls", "ssl", "none")
DEFAULT_PORTS = {"ssl": 465, "starttls": 587, "none": 25}

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
