"""No English of the command-line framework reaches a user: help, usage errors, `kaohe` alone."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from kaohe_excel import cli_zh
from kaohe_excel.cli import app

runner = CliRunner()
NARROW = {"COLUMNS": "80", "TERMINAL_WIDTH": "80"}

# Phrases typer/click print on their own; none may appear in what a user reads.
BOILERPLATE = [
    "Usage:", "Options", "Arguments", "Commands", "Show this message", "[required]", "[default", "Missing argument",
    "Missing option", "No such command", "No such option", "Did you mean", "Possible options", "Try ", "for help",
    "Error", "Aborted", "[OPTIONS]", "COMMAND", "[ARGS]", "<bool>", "<path>", "<str>", "<text>", "<int>", "<list",
    "{", "}", "…", "Invalid value", "Got unexpected", "requires an argument", "env var",
]


def english_in(text: str) -> list[str]:
    return [phrase for phrase in BOILERPLATE if phrase in text]


def command_names() -> list[str]:
    import typer.main

    return sorted(typer.main.get_command(app).commands)


def invoke(args):
    return runner.invoke(app, args, env=NARROW, prog_name="kaohe")


def test_kaohe_alone_lists_commands_with_examples_in_chinese():
    result = invoke([])
    assert english_in(result.output) == [], result.output
    assert "用法：kaohe [选项] 命令 [参数]" in result.output
    assert "命令" in result.output and "示例" in result.output and "kaohe init 考核" in result.output


@pytest.mark.parametrize("name", command_names())
def test_command_help_has_no_english_boilerplate(name):
    result = invoke([name, "--help"])
    assert result.exit_code == 0
    assert english_in(result.output) == [], result.output
    assert "显示本帮助并退出" in result.output and "选项" in result.output


USAGE_ERRORS = [
    (["run"], "缺少参数「收件箱」"),
    (["rn"], "没有命令「rn」。您要找的是不是 run？"),
    (["run", "x", "--foo"], "没有选项 --foo"),
    (["simulate", "2024"], "缺少选项 --set"),
    (["seal", "2024", "2025"], "多余的参数：2025"),
    (["run", "x", "--period"], "选项 --period 后面须写一个值"),
    (["run", "x", "--allow-errors=yes"], "选项 --allow-errors 不带值"),
]


@pytest.mark.parametrize("args,chinese", USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors_are_chinese(args, chinese):
    result = invoke(args)
    assert result.exit_code == 2
    assert chinese in result.output, result.output
    assert "错误" in result.output
    assert english_in(result.output) == [], result.output


def test_every_framework_message_pattern_translates():
    samples = {
        "Missing argument 'inbox'.": "缺少参数「inbox」",
        "No such command 'rn'. Did you mean 'run'?": "没有命令「rn」。您要找的是不是 run？",
        "No such option: --foo (Possible options: --out)": "没有选项 --foo。您要找的是不是 --out？",
        "Invalid value for '--n': 'abc' is not a valid integer.": "--n 的值无效：「abc」不是整数",
        "Option '--out' requires 2 arguments.": "选项 --out 后面须写 2 个值",
    }
    for english, chinese in samples.items():
        assert cli_zh.translate_message(english) == chinese
    assert re.search(r"[\u4e00-\u9fff]", cli_zh.translate_message("Something new happened"))


def test_type_labels():
    assert cli_zh.type_label("<bool>") is None
    assert cli_zh.type_label("<path>") == "<路径>"
    assert cli_zh.type_label("<list[str]>") == "<文本>（可重复）"


def test_every_issue_code_has_a_chinese_kind():
    from kaohe_excel.base.issues import ISSUE_KINDS_ZH, IssueCode, issue_kind

    assert [c.value for c in IssueCode if c.value not in ISSUE_KINDS_ZH] == []
    assert all(re.search(r"[\u4e00-\u9fff]", issue_kind(c)) for c in IssueCode)


@pytest.mark.parametrize("toml_text,chinese", [
    ("[smtp\nhost = 1\n", "第1行第6列：方括号 [ ] 没有配对"),
    ("[smtp]\nhost = smtp.example.gov.cn\n", "第2行第8列：等号后面的值写法不对"),
    ('[smtp]\nhost = "smtp.example.gov.cn\n', "引号没有配对"),
])
def test_kaohe_toml_syntax_errors_are_chinese(tmp_path, toml_text, chinese):
    from kaohe_excel.base.errors import MailConfigError
    from kaohe_excel.outputs.mail import load_config

    path = tmp_path / "kaohe.toml"
    path.write_text(toml_text, encoding="utf-8")
    with pytest.raises(MailConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert chinese in message, message
    assert not re.search(r"[A-Za-z]{4,}", message.replace("kaohe.toml", "").replace(str(tmp_path), "")
                         .replace("smtp.example.gov.cn", "").replace("host", "").replace("true/false", "")), message
