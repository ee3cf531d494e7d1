"""Chinese for the command-line framework's own texts (usage errors, help boilerplate, metavars).

Pure data and string functions: cli.py (the only module importing typer) applies them to
typer's help renderer and usage errors. Kept apart so the framework's English never reaches
a user and the table of phrases can be tested on its own.
"""

from __future__ import annotations

import re

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
