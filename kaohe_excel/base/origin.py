"""Proof of origin: the office's key and the 校验码 of every workbook the tool generates.

The inbox is a shared folder and anything in it is read, so a workbook only counts as the
office's (评定表, 核定表) or as a unit's own template when its hidden `_kaohe` sheet carries a
校验码: an HMAC-SHA256 over its identity rows, keyed with a secret only the office holds.

Where the key is, first match wins (docs/office-key.md):
1. the scheme's 方案 row `校验密钥 | 演示密钥`: the public demo key of the samples (packaged
   with the tool, resources/demo_office.key); never for real data, every check says so;
2. the environment variable KAOHE_OFFICE_KEY: the path of the key file (tests, overrides);
3. `kaohe.toml` in the working folder, `[office_key] path = "..."` (a folder several staff share);
4. the user's own configuration folder: %APPDATA%\\kaohe\\office.key on Windows,
   $XDG_CONFIG_HOME/kaohe/office.key or ~/.config/kaohe/office.key elsewhere.
Only `kaohe template` creates a key (where the rules above point); check and run never do:
a new key would make every file already sent out fail.

Nothing here prints and the secret is never written anywhere but its own key file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kaohe_excel.base.errors import OfficeKeyError
from kaohe_excel.base.tables import clean_text
from kaohe_excel.base import paths

KEY_ENV = "KAOHE_OFFICE_KEY"
KEY_FILE_NAME = "office.key"
CONFIG_FILE = "kaohe.toml"
CONFIG_TABLE = "office_key"
SCHEME_KEY_ROW = "校验密钥"
DEMO_KEY_VALUE = "演示密钥"
DEMO_KEY_PATH = paths.RESOURCES / "demo_office.key"
CODE_ROW = "校验码"
# Every identity row any kind has, in this order; a kind signs those it carries.
IDENTITY_ROWS = ("文件类型", "考核周期", "方案指纹", "单位代码", "牵头单位", "测评代码", "测评人类别", "票号")
_MESSAGE_TAG = "kaohe-origin-1"
_HEX_KEY = re.compile(r"^[0-9a-fA-F]{64,}$")
KEY_FILE_NOTE = ("# 考核办密钥（kaohe-excel 生成，用于核验各类表格的校验码）。\n"
                 "# 请备份本文件（如复制到加密U盘、保存在考核办内部电脑），不要放进收件箱，不要发给任何单位。\n"
                 "# 丢失后已下发的模板将无法核验，须重新生成并下发；说明见 docs/office-key.md。\n")

GENUINE, UNSIGNED, FORGED = "genuine", "unsigned", "forged"


@dataclass(frozen=True)
class OfficeKey:
    secret: bytes = field(repr=False)
    path: Path
    demo: bool = False


@dataclass(frozen=True)
class KeyLocation:
    """Where the key is (or will be created) and which rule chose it, in Chinese."""

    path: Path
    source: str
    demo: bool = False


def declares_demo(scheme) -> bool:
    return _scheme_row(scheme) == DEMO_KEY_VALUE


def _scheme_row(scheme) -> str:
    extra = getattr(getattr(scheme, "meta", None), "extra", None) or {}
    return clean_text(extra.get(SCHEME_KEY_ROW, ""))


def user_key_path() -> Path:
    if os.name == "nt" and os.environ.get("APPDATA"):
        return Path(os.environ["APPDATA"]) / "kaohe" / KEY_FILE_NAME
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "kaohe" / KEY_FILE_NAME


def key_location(scheme=None, cwd: Path | None = None) -> KeyLocation:
    """Apply the rules of the module docstring; raises OfficeKeyError on a bad setting."""
    row = _scheme_row(scheme)
    if row:
        if row != DEMO_KEY_VALUE:
            raise OfficeKeyError(f"考核方案「方案」表的「{SCHEME_KEY_ROW}」只能填「{DEMO_KEY_VALUE}」（示例数据专用），现为「{row}」；"
                                 "正式考核请删除此行，考核办密钥的位置见 docs/office-key.md")
        return KeyLocation(DEMO_KEY_PATH, f"考核方案设定的{DEMO_KEY_VALUE}", demo=True)
    env = os.environ.get(KEY_ENV, "").strip()
    if env:
        return KeyLocation(Path(env).expanduser(), f"环境变量 {KEY_ENV}")
    config = Path(cwd or Path.cwd()) / CONFIG_FILE
    if config.is_file():
        configured = _configured_path(config)
        if configured is not None:
            return KeyLocation(configured, f"{config} 的 [{CONFIG_TABLE}] path")
    return KeyLocation(user_key_path(), "本机用户配置目录")


def _configured_path(config: Path) -> Path | None:
    try:
        import tomllib
    except ModuleNotFoundError:  # pragma: no cover - Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        data = tomllib.loads(config.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise OfficeKeyError(f"无法读取 {config}（{type(exc).__name__}），请检查文件格式（UTF-8 编码的 TOML）") from exc
    table = data.get(CONFIG_TABLE)
    if not isinstance(table, dict) or not str(table.get("path", "")).strip():
        return None
    path = Path(str(table["path"]).strip()).expanduser()
    return path if path.is_absolute() else config.parent / path


def _read_key(location: KeyLocation) -> OfficeKey | None:
    try:
        text = location.path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise OfficeKeyError(f"无法读取考核办密钥文件 {location.path}（{type(exc).__name__}），请检查文件权限") from exc
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            if _HEX_KEY.match(line):
                return OfficeKey(bytes.fromhex(line[: len(line) - len(line) % 2]), location.path, location.demo)
            break
    raise OfficeKeyError(f"考核办密钥文件 {location.path} 内容已损坏（应为一行64位以上的十六进制字符），"
                         "请从备份恢复；没有备份时见 docs/office-key.md「密钥丢失」")


def find_key(scheme=None) -> OfficeKey | None:
    """The key the rules point to, or None when that file does not exist (never creates)."""
    return _read_key(key_location(scheme))


def load_key(scheme=None) -> OfficeKey:
    """The key for verifying; raises OfficeKeyError (one Chinese line) when there is none."""
    location = key_location(scheme)
    key = _read_key(location)
    if key is None:
        raise OfficeKeyError(
            f"找不到考核办密钥（{location.source}：{location.path}），无法核验收件箱中文件的校验码。"
            "密钥在本机第一次运行 kaohe template 时生成；如模板是在另一台电脑上生成的，请把那台电脑的密钥文件复制到上述位置；"
            "如密钥已丢失，须重新生成并下发模板，见 docs/office-key.md")
    return key


def ensure_key(scheme=None) -> tuple[OfficeKey, bool]:
    """The key for signing, created where the rules point when there is none yet (`template`).
    Returns (key, created)."""
    location = key_location(scheme)
    key = _read_key(location)
    if key is not None:
        return key, False
    if location.demo:
        raise OfficeKeyError(f"程序自带的演示密钥 {location.path} 缺失，请重新安装 kaohe-excel")
    secret = secrets.token_bytes(32)
    try:
        location.path.parent.mkdir(parents=True, exist_ok=True)
        # Created exclusively, readable by its owner only: never overwrite a key that appeared meanwhile.
        handle = os.open(location.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(KEY_FILE_NOTE + secret.hex() + "\n")
    except FileExistsError:
        return load_key(scheme), False
    except OSError as exc:
        raise OfficeKeyError(f"无法在 {location.path} 创建考核办密钥（{type(exc).__name__}），"
                             f"请检查该文件夹的权限，或用环境变量 {KEY_ENV} 指定密钥文件的位置") from exc
    return OfficeKey(secret, location.path), True


def refuse_inside(key_path: Path, folder: Path, what: str) -> None:
    """The key must never sit in a folder whose files are read as submissions or sent out."""
    try:
        Path(key_path).resolve().relative_to(Path(folder).resolve())
    except ValueError:
        return
    raise OfficeKeyError(f"考核办密钥文件 {key_path} 位于{what}「{folder}」内，可能被读取或随文件发出。"
                         f"请把密钥文件移到收件箱和输出目录以外（例如本机用户配置目录 {user_key_path()}），见 docs/office-key.md")


# ---------------------------------------------------------------- 校验码

def _message(identity: dict[str, object]) -> bytes:
    pairs = [[name, clean_text(identity[name])] for name in IDENTITY_ROWS
             if name in identity and clean_text(identity[name])]
    return json.dumps([_MESSAGE_TAG, pairs], ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(key: OfficeKey, identity: dict[str, object]) -> str:
    """Hex HMAC-SHA256 of the identity rows present in `identity` (a meta mapping)."""
    return hmac.new(key.secret, _message(identity), hashlib.sha256).hexdigest()


def signed_meta(key: OfficeKey, pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The hidden sheet's rows with the 校验码 row appended."""
    return list(pairs) + [(CODE_ROW, sign(key, dict(pairs)))]


def has_code(meta: dict[str, str]) -> bool:
    return bool(clean_text(meta.get(CODE_ROW, "")))


def verify(key: OfficeKey, meta: dict[str, str]) -> str:
    """GENUINE, UNSIGNED (no 校验码 row) or FORGED (a 校验码 that does not match), in constant time."""
    given = clean_text(meta.get(CODE_ROW, "")).lower()
    if not given:
        return UNSIGNED
    expected = sign(key, meta)
    return GENUINE if hmac.compare_digest(given.encode("ascii", "replace"), expected.encode("ascii")) else FORGED


__all__ = ["OfficeKey", "KeyLocation", "key_location", "find_key", "load_key", "ensure_key", "sign", "signed_meta",
           "verify", "has_code", "declares_demo", "refuse_inside", "user_key_path", "GENUINE", "UNSIGNED", "FORGED"]
