"""Chinese for the command-line framework's own texts (usage errors, help boilerplate, metavars).

Data and string functions: cli.py (the only module importing typer) applies them to typer's
help renderer and usage errors; `localize_rich_utils` applies them to typer.rich_utils, which it
is handed (this module imports no typer), and `when_rich_utils_loads` defers that until typer
first imports it. Kept apart so the framework's English never reaches a user and the table of
phrases can be tested on its own.
"""

from __future__ import annotations

import re
import sys

# typer.rich_utils module constants -> Chinese
RICH_TEXTS = {
    "ARGUMENTS_PANEL_TITLE": "参数",
    "OPTIONS_PANEL_TITLE": "选项",
    "COMMANDS_PANEL_TITLE": "命令",
    "ERRORS_PANEL_TITLE": "错误",
    "ABORTED_TEXT": "已中止。",
    "RICH_HELP": "运行 [blue]{command_path} {help_option}[/] 查看帮助。",
    "DEFAULT_STRING": "[默认：{}]",
    "ENVVAR_STRING": "[环境变量：{}]",
    "REQUIRED_LONG_STRING": "[必填]",
    "DEPRECATED_STRING": "（已停用）",
}
HELP_OPTION_HELP = "显示本帮助并退出。"
USAGE_PREFIX = "用法："
OPTIONS_METAVAR = "[选项]"
SUBCOMMAND_METAVAR = "命令 [参数]"
USAGE_PIECES = {"[OPTIONS]": OPTIONS_METAVAR, "COMMAND [ARGS]...": SUBCOMMAND_METAVAR}

# The value type shown beside an option: bool flags show nothing (a switch takes no value).
TYPE_LABELS = {"path": "路径", "str": "文本", "text": "文本", "int": "整数", "integer": "整数",
               "float": "数字", "file": "文件", "directory": "文件夹", "dir": "文件夹"}


def type_label(label: str) -> str | None:
    """<path> -> <路径>, <list[str]> -> <文本>（可重复）, <bool> -> None (not shown)."""
    inner = label.strip("<>")
    if inner == "bool":
        return None
    repeated = inner.startswith("list[") and inner.endswith("]")
    if repeated:
        inner = inner[5:-1]
    text = TYPE_LABELS.get(inner, inner)
    if "|" in text:  # a choice: its values are already the user's words
        text = text.replace("|", " | ")
    return f"<{text}>（可重复）" if repeated else f"<{text}>"


_NAME = r"'?(?P<name>[^']+?)'?"
# (pattern, Chinese); patterns match the framework's whole message
MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"No such command '(?P<name>.+?)'\.? Did you mean (?P<hint>.+)\?$"), "没有命令「{name}」。您要找的是不是 {hint}？"),
    (re.compile(r"No such command '(?P<name>.+?)'\.?$"), "没有命令「{name}」。运行 kaohe --help 查看全部命令"),
    (re.compile(r"No such option: (?P<name>\S+) \(Possible options: (?P<hint>.+)\)$"), "没有选项 {name}。您要找的是不是 {hint}？"),
    (re.compile(r"No such option: (?P<name>\S+)\s*Did you mean (?P<hint>.+)\?$"), "没有选项 {name}。您要找的是不是 {hint}？"),
    (re.compile(r"No such option: (?P<name>\S+)$"), "没有选项 {name}"),
    (re.compile(r"Missing argument " + _NAME + r"\.?( .*)?$"), "缺少参数「{name}」"),
    (re.compile(r"Missing option " + _NAME + r"\.?( .*)?$"), "缺少选项 {name}"),
    (re.compile(r"Missing parameter:? " + _NAME + r"\.?$"), "缺少参数「{name}」"),
    (re.compile(r"Got unexpected extra argument(s|\(s\))? \((?P<name>.*)\)$"), "多余的参数：{name}"),
    (re.compile(r"Option '(?P<name>.+?)' requires an argument\.$"), "选项 {name} 后面须写一个值"),
    (re.compile(r"Option '(?P<name>.+?)' requires (?P<hint>\d+) arguments\.$"), "选项 {name} 后面须写 {hint} 个值"),
    (re.compile(r"Option '(?P<name>.+?)' does not take a value\.$"), "选项 {name} 不带值"),
    (re.compile(r"Argument '(?P<name>.+?)' takes (?P<hint>\d+) values\.$"), "参数「{name}」须有 {hint} 个值"),
    (re.compile(r"Invalid value for (?P<name>.+?): (?P<hint>.+)$", re.S), "{name} 的值无效：{hint}"),
    (re.compile(r"Invalid value: (?P<hint>.+)$", re.S), "值无效：{hint}"),
]
# pieces inside "Invalid value" messages
VALUE_MESSAGES: list[tuple[re.Pattern, str]] = [
    (re.compile(r"'(?P<name>.*?)' is not a valid (integer|int)( range)?\.?"), "「{name}」不是整数"),
    (re.compile(r"'(?P<name>.*?)' is not a valid float( range)?\.?"), "「{name}」不是数字"),
    (re.compile(r"'(?P<name>.*?)' is not a valid boolean\.?"), "「{name}」应为 是 或 否"),
    (re.compile(r"'(?P<name>.*?)' is not one of (?P<hint>.+)\.?"), "「{name}」只能是 {hint}"),
    (re.compile(r"(Path|File|Directory) '(?P<name>.*?)' does not exist\.?"), "「{name}」不存在"),
]


def _apply(rules, text: str) -> str | None:
    for pattern, chinese in rules:
        match = pattern.match(text)
        if match:
            groups = {k: (v or "").strip() for k, v in match.groupdict().items()}
            groups["name"] = groups.get("name", "").strip("'")
            if "hint" in groups:
                groups["hint"] = groups["hint"].replace(", ", " 或 ")
            return chinese.format(**groups)
    return None


def translate_message(text: str) -> str:
    """A usage error of the framework in Chinese; an unknown English message is kept with a Chinese lead."""
    text = text.strip()
    translated = _apply(MESSAGES, text)
    if translated is None:
        return text if re.search(r"[\u4e00-\u9fff]", text) else f"命令写法有误（{text}）"
    return re.sub(r"'([^']*)'", r"\1", _value_text(translated))


def _value_text(text: str) -> str:
    head, sep, tail = text.partition("：")
    if not sep:
        return text
    value = _apply(VALUE_MESSAGES, tail.strip())
    return head + sep + (value if value is not None else tail)


# --------------------------------------------------------------------------- typer.rich_utils


def localize_rich_utils(rich_utils) -> None:
    """The Chinese of typer's rich help panels and error box, applied once to typer.rich_utils."""
    if getattr(rich_utils, "_kaohe_localized", False):
        return
    rich_utils._kaohe_localized = True
    for name, text in RICH_TEXTS.items():
        setattr(rich_utils, name, text)
    original_error = rich_utils.rich_format_error

    def rich_format_error(exc) -> None:
        message = translate_message(exc.format_message())
        exc.format_message = lambda: message
        original_error(exc)

    rich_utils.rich_format_error = rich_format_error

    original_rich_text = rich_utils._make_rich_text

    def make_rich_text(*args, **kwargs):
        # Chinese has no spaces: without "fold" a long sentence is one word, cut with "…" in a table cell.
        text = original_rich_text(*args, **kwargs)
        if hasattr(text, "overflow"):
            text.overflow = "fold"
        return text

    rich_utils._make_rich_text = make_rich_text


_RICH_UTILS = "typer.rich_utils"


def when_rich_utils_loads(patch) -> None:
    """Run patch(typer.rich_utils) now if it is loaded, else right after its first import.

    typer imports rich_utils (and with it most of rich, ~70 ms) only to draw help or an
    error; importing it here just to patch it would make `kaohe --version` pay for that.
    """
    loaded = sys.modules.get(_RICH_UTILS)
    if loaded is not None:
        patch(loaded)
        return
    import importlib.abc

    class PatchAfterImport(importlib.abc.MetaPathFinder):
        def find_spec(self, fullname, path=None, target=None):
            if fullname != _RICH_UTILS:
                return None
            for finder in sys.meta_path:  # the ordinary finders locate the file; this one only wraps it
                find = getattr(finder, "find_spec", None) if finder is not self else None
                spec = find(fullname, path, target) if find is not None else None
                if spec is not None:
                    break
            else:
                return None
            if spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec
            execute = spec.loader.exec_module

            def exec_module(module):
                execute(module)
                if self in sys.meta_path:  # loaded now: later imports find it in sys.modules
                    sys.meta_path.remove(self)
                patch(module)

            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, PatchAfterImport())
