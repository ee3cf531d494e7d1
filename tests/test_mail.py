"""Mail: a real SMTP server on loopback receives every message; attachments are the archived bytes."""

from __future__ import annotations

import email
import hashlib
import io
import json
import shutil
import ssl
import subprocess
import warnings
from datetime import date
from email import policy
from pathlib import Path

import pandas as pd
import pytest
from aiosmtpd.controller import Controller
from openpyxl import load_workbook

from conftest import (free_port as _free_port, free_ports as _free_ports, make_inbox, small_scheme_sheets,
                      smtp_authenticator as _authenticator, SMTP_PASSWORD as PASSWORD, SMTP_READY as READY,
                      write_mail_config as write_config, write_workbook)
from kaohe_excel.outputs import mail
from kaohe_excel.jobs import pipeline
from kaohe_excel.base.errors import KaoheError, MailConfigError, MailSendError
from kaohe_excel.scheme.workbook import load_scheme

EMAILS = {"T01": "t01@example.gov.cn", "T02": "t02@example.gov.cn", "D01": "d01@example.gov.cn", "D02": "d02@example.gov.cn"}
NAMES = {"T01": "东城镇", "T02": "西山乡", "D01": "发改局", "D02": "财政局"}
LEADER = "leader@example.gov.cn"

# aiosmtpd warns on every connection that AUTH without TLS is unsafe: fine on loopback.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


# --------------------------------------------------------------------------- fixtures


def _build_period(root: Path, sheets) -> Path:
    scheme_path = write_workbook(root / "scheme.xlsx", sheets)
    inbox = make_inbox(root / "inbox", load_scheme(scheme_path))
    pipeline.run(inbox, scheme_path, out_root=root / "outputs", issued_on=date(2025, 1, 15))
    return root / "outputs"


@pytest.fixture(scope="module")
def built_period(tmp_path_factory) -> Path:
    return _build_period(tmp_path_factory.mktemp("period"), small_scheme_sheets())


@pytest.fixture
def out_root(built_period, tmp_path) -> Path:
    """A private copy of the period folder: tests write logs and tamper with files."""
    target = tmp_path / "outputs"
    shutil.copytree(built_period, target)
    return target


class Recorder:
    """aiosmtpd handler keeping every accepted message; can refuse or hang up on chosen ones."""

    def __init__(self):
        self.received: list[tuple[str, list[str], bytes]] = []
        self.reject_rcpt: set[str] = set()     # answer 451 to DATA for these recipients
        self.hangup_after: int | None = None   # drop the connection once this many were accepted

    async def handle_DATA(self, server, session, envelope):
        if self.hangup_after is not None and len(self.received) >= self.hangup_after:
            server.transport.close()
            return "421 closing"
        if set(envelope.rcpt_tos) & self.reject_rcpt:
            return "451 4.3.0 try later"
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 2.0.0 OK queued"

    def messages(self):
        return [(rcpts, email.message_from_bytes(data, policy=policy.default)) for _, rcpts, data in self.received]

    def by_rcpt(self):
        return {tuple(rcpts): message for rcpts, message in self.messages()}


@pytest.fixture
def smtp_server():
    handler = Recorder()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AUTH without TLS: fine on loopback
        controller = Controller(handler, hostname="127.0.0.1", port=_free_port(), authenticator=_authenticator,
                                auth_required=True, auth_require_tls=False, ready_timeout=READY)
        controller.start()
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def config(tmp_path, smtp_server, monkeypatch) -> Path:
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    return write_config(tmp_path / "kaohe.toml", smtp_server.port)


def send(out_root, config_path, **kwargs):
    kwargs.setdefault("template_dir", None)
    kwargs.setdefault("sleep", lambda seconds: None)
    return mail.send_period(out_root, "2024", config_path, **kwargs)


def attachments(message) -> dict[str, bytes]:
    return {part.get_filename(): part.get_content() for part in message.iter_attachments()}


def log_records(out_root) -> list[dict]:
    return [json.loads(line) for line in (out_root / "2024" / mail.LOG_NAME).read_text(encoding="utf-8").splitlines()]


def feedback_code(data: bytes) -> str:
    sheet = load_workbook(io.BytesIO(data), read_only=True).worksheets[0]
    return {row[0]: row[1] for row in sheet.iter_rows(max_row=10, max_col=2, values_only=True)}["单位代码"]


# --------------------------------------------------------------------------- sending


def test_each_unit_gets_only_its_own_feedback_and_leaders_get_summary_and_notice(out_root, config, smtp_server):
    report = send(out_root, config)
    assert report.exit_code == 0, [(o.key, o.reason) for o in report.outcomes]
    assert report.count(mail.SENT) == 5
    received = smtp_server.by_rcpt()
    assert sorted(received) == sorted([(LEADER,)] + [(a,) for a in EMAILS.values()])
    folder = out_root / "2024"
    for code, address in EMAILS.items():
        message = received[(address,)]
        assert message["To"].addresses[0].addr_spec == address
        assert message["To"].addresses[0].display_name == NAMES[code]
        assert message["From"].addresses[0].addr_spec == "kaohe@example.gov.cn"
        assert message["Subject"] == f"测试县2024年度考核结果反馈——{NAMES[code]}"
        files = attachments(message)
        assert list(files) == [f"{code}_{NAMES[code]}.xlsx"]
        data = files[f"{code}_{NAMES[code]}.xlsx"]
        assert data == (folder / "反馈" / f"{code}_{NAMES[code]}.xlsx").read_bytes()
        assert feedback_code(data) == code
    # The body quotes the archived result (scoring itself is pinned in test_score/test_rank).
    t01_total = pd.read_parquet(folder / "totals.parquet").set_index("unit_code").loc["T01"]
    body = received[(EMAILS["T01"],)].get_body(("plain",)).get_content()
    assert "东城镇（张三同志）：" in body
    assert (f"贵单位总分 {t01_total['total']:.2f} 分，在乡镇类 2 个单位中排第 {int(t01_total['rank'])} 名，"
            f"等次为“{t01_total['grade']}”") in body
    assert "附件：T01_东城镇.xlsx" in body and "测试县考核办" in body
    leader = received[(LEADER,)]
    assert leader["Subject"] == "测试县2024年度考核结果汇总及通报（送审）"
    files = attachments(leader)
    assert list(files) == ["汇总表.xlsx", "通报.docx"]
    assert files["汇总表.xlsx"] == (folder / "汇总表.xlsx").read_bytes()
    assert files["通报.docx"] == (folder / "通报.docx").read_bytes()
    assert "共考核 4 个单位" in leader.get_body(("plain",)).get_content()
    # The log records what went out: recipient, attachment hashes, server response.
    accepted = [r for r in log_records(out_root) if r["status"] == "accepted"]
    assert len(accepted) == 5
    t01 = next(r for r in accepted if r["unit_code"] == "T01")
    assert t01["to"] == [EMAILS["T01"]]
    assert t01["attachments"][0]["sha256"] == hashlib.sha256((folder / "反馈" / "T01_东城镇.xlsx").read_bytes()).hexdigest()
    assert t01["response"].startswith("250")


def test_second_run_sends_nothing_and_resend_is_explicit(out_root, config, smtp_server):
    send(out_root, config)
    again = send(out_root, config)
    assert again.count(mail.ALREADY_SENT) == 5 and again.count(mail.SENT) == 0
    assert again.exit_code == 0
    assert len(smtp_server.received) == 5
    resent = send(out_root, config, only=["T01"], resend=True)
    assert [(o.key, o.status) for o in resent.outcomes] == [("unit:T01", mail.SENT)]
    assert [rcpts for _, rcpts, _ in smtp_server.received].count([EMAILS["T01"]]) == 2


def test_451_on_one_message_then_rerun_delivers_every_message_exactly_once(out_root, config, smtp_server):
    smtp_server.reject_rcpt = {EMAILS["T02"]}
    first = send(out_root, config)
    statuses = {o.key: o.status for o in first.outcomes}
    assert statuses["unit:T02"] == mail.FAILED and "451" in first.outcomes[2].reason
    assert sum(s == mail.SENT for s in statuses.values()) == 4
    assert first.exit_code == 1
    smtp_server.reject_rcpt = set()
    second = send(out_root, config)
    assert [o.key for o in second.outcomes if o.status == mail.SENT] == ["unit:T02"]
    counts = [tuple(rcpts) for _, rcpts, _ in smtp_server.received]
    assert sorted(counts) == sorted([(LEADER,)] + [(a,) for a in EMAILS.values()])


def test_disconnect_after_data_stops_then_rerun_sends_the_rest_once(out_root, config, smtp_server):
    # The server hangs up once the third message's content is in: from the client's side it may have
    # been accepted, so it is 未确认 and never retried without --resend (see test_output_guards).
    smtp_server.hangup_after = 2
    with pytest.raises(MailSendError, match="未确认") as caught:
        send(out_root, config)
    report = caught.value.report
    assert [o.status for o in report.outcomes] == [mail.SENT, mail.SENT, mail.UNCONFIRMED, mail.NOT_ATTEMPTED, mail.NOT_ATTEMPTED]
    assert len(smtp_server.received) == 2
    smtp_server.hangup_after = None
    rerun = send(out_root, config)
    assert rerun.count(mail.SENT) == 2 and rerun.count(mail.ALREADY_SENT) == 2 and rerun.count(mail.UNCONFIRMED) == 1
    unconfirmed = next(o for o in rerun.outcomes if o.status == mail.UNCONFIRMED)
    assert send(out_root, config, only=[unconfirmed.unit_code or "领导"], resend=True).count(mail.SENT) == 1
    counts = [tuple(rcpts) for _, rcpts, _ in smtp_server.received]
    assert sorted(counts) == sorted([(LEADER,)] + [(a,) for a in EMAILS.values()])


def test_interrupted_send_is_uncertain_not_resent_silently(out_root, config, smtp_server):
    send(out_root, config, only=["T01"])
    log = out_root / "2024" / mail.LOG_NAME
    # A crash between the server's 250 and our log line leaves "sending" as the last word on T02.
    record = dict(log_records(out_root)[0], key="unit:T02", unit_code="T02", status="sending")
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, ensure_ascii=False) + "\n{torn")
    report = send(out_root, config, only=["T02"])
    assert report.outcomes[0].status == mail.UNCERTAIN and "--resend" in report.outcomes[0].reason
    assert report.exit_code == 1
    assert send(out_root, config, only=["T02"], resend=True).outcomes[0].status == mail.SENT


def test_throttle_pauses_between_messages(out_root, config, smtp_server):
    config.write_text(config.read_text(encoding="utf-8").replace("pause = 0", "pause = 0.5"), encoding="utf-8")
    pauses = []
    send(out_root, config, sleep=pauses.append)
    assert pauses == [0.5] * 4  # 5 messages, a pause between each pair


def test_auth_failure_stops_with_chinese_message(out_root, config, smtp_server, monkeypatch):
    monkeypatch.setenv(mail.PASSWORD_ENV, "wrong")
    with pytest.raises(MailSendError, match="拒绝登录") as caught:
        send(out_root, config)
    assert mail.PASSWORD_ENV in str(caught.value)
    assert smtp_server.received == []
    assert not any(r["status"] == "accepted" for r in log_records(out_root))


def test_connection_refused_is_a_chinese_error(out_root, tmp_path, monkeypatch):
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    config = write_config(tmp_path / "kaohe.toml", _free_port())
    with pytest.raises(MailSendError, match="无法连接邮件服务器 127.0.0.1"):
        send(out_root, config)


# --------------------------------------------------------------------------- refusing what must not go out


def test_unit_without_or_with_invalid_email_is_skipped_and_others_go(tmp_path, smtp_server, monkeypatch):
    sheets = small_scheme_sheets()
    sheets["单位"] = sheets["单位"].assign(邮箱=["t01@example.gov.cn", None, "d01@@example", "d02@example.gov.cn"])
    out_root = _build_period(tmp_path, sheets)
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    report = send(out_root, write_config(tmp_path / "kaohe.toml", smtp_server.port))
    outcomes = {o.key: o for o in report.outcomes}
    assert outcomes["unit:T02"].status == mail.SKIPPED and "邮箱为空" in outcomes["unit:T02"].reason
    assert outcomes["unit:D01"].status == mail.SKIPPED and "d01@@example" in outcomes["unit:D01"].reason
    assert report.exit_code == 1
    assert sorted(tuple(r) for _, r, _ in smtp_server.received) == [("d02@example.gov.cn",), (LEADER,), ("t01@example.gov.cn",)]


def test_addresses_in_config_override_the_archived_scheme(out_root, config, smtp_server):
    config.write_text(config.read_text(encoding="utf-8") + '\n[addresses]\nT01 = "new@example.gov.cn; two@example.gov.cn"\n',
                      encoding="utf-8")
    send(out_root, config, only=["T01"])
    assert smtp_server.received[0][1] == ["new@example.gov.cn", "two@example.gov.cn"]


def test_changed_attachment_is_refused(out_root, config, smtp_server):
    path = out_root / "2024" / "反馈" / "T01_东城镇.xlsx"
    path.write_bytes(path.read_bytes() + b"\0")
    report = send(out_root, config)
    outcome = next(o for o in report.outcomes if o.key == "unit:T01")
    assert outcome.status == mail.SKIPPED and "哈希值与清单不符" in outcome.reason
    assert EMAILS["T01"] not in [r for _, rcpts, _ in smtp_server.received for r in rcpts]
    assert report.count(mail.SENT) == 4


def test_feedback_of_another_unit_is_refused_even_with_matching_manifest(out_root, config, smtp_server):
    # Swap two towns' files and re-hash the manifest: only the code inside the workbook can tell.
    folder = out_root / "2024"
    first, second = folder / "反馈" / "T01_东城镇.xlsx", folder / "反馈" / "T02_西山乡.xlsx"
    a, b = first.read_bytes(), second.read_bytes()
    first.write_bytes(b)
    second.write_bytes(a)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    for entry in manifest["files"]:
        if entry["path"].startswith("反馈/"):
            entry["sha256"] = hashlib.sha256((folder / entry["path"]).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    report = send(out_root, config)
    statuses = {o.key: (o.status, o.reason) for o in report.outcomes}
    assert statuses["unit:T01"][0] == mail.SKIPPED and "「T02」" in statuses["unit:T01"][1]
    assert statuses["unit:T02"][0] == mail.SKIPPED
    assert {r for _, rcpts, _ in smtp_server.received for r in rcpts} == {LEADER, EMAILS["D01"], EMAILS["D02"]}


def test_header_injection_through_unit_name_and_subject_is_inert():
    draft = mail.Draft(key="unit:T01", unit_code="T01", unit_name="x", to=["t01@example.gov.cn"],
                       display_name="东城镇\r\nBcc: evil@example.com", subject="反馈\r\nBcc: evil@example.com", body="正文\n")
    config = mail.MailConfig(from_address="kaohe@example.gov.cn", from_name="考核办\nX-Evil: 1")
    raw = mail.build_message(draft, config).as_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert [a.addr_spec for a in parsed["To"].addresses] == ["t01@example.gov.cn"]
    assert parsed["Subject"] == "反馈 Bcc: evil@example.com"


@pytest.mark.parametrize("address, ok", [
    ("a.b-c@example.gov.cn", True), ("x@163.com", True), ("", False), ("a@b", False), ("a@@b.cn", False),
    ("a b@c.cn", False), ("张三@example.cn", False), (".a@b.cn", False), ("a@b.cn>\r\nBcc: c@d.cn", False),
])
def test_check_address(address, ok):
    assert (mail.check_address(address) is None) is ok


# --------------------------------------------------------------------------- dry run, templates, config


def test_dry_run_writes_eml_that_parses_back_with_chinese_names(out_root, config, smtp_server):
    report = send(out_root, config, dry_run=True)
    assert smtp_server.received == []
    outbox = out_root / "2024" / "outbox"
    assert sorted(p.name for p in outbox.glob("*.eml")) == sorted(
        ["领导_汇总表与通报.eml"] + [f"{c}_{n}.eml" for c, n in NAMES.items()])
    raw = (outbox / "T02_西山乡.eml").read_bytes()
    assert b"filename*" in raw  # RFC 2231, not raw UTF-8 in the header
    raw.decode("ascii")  # 7-bit clean
    message = email.message_from_bytes(raw, policy=policy.default)
    assert message["Subject"] == "测试县2024年度考核结果反馈——西山乡"
    files = attachments(message)
    assert list(files) == ["T02_西山乡.xlsx"]
    part = next(message.iter_attachments())
    assert part.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert b"Content-Type: application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" in raw
    assert files["T02_西山乡.xlsx"] == (out_root / "2024" / "反馈" / "T02_西山乡.xlsx").read_bytes()
    leader = email.message_from_bytes((outbox / "领导_汇总表与通报.eml").read_bytes(), policy=policy.default)
    assert list(attachments(leader)) == ["汇总表.xlsx", "通报.docx"]
    assert report.count(mail.DRY_RUN) == 5 and report.exit_code == 0
    # A dry run does not count as sent.
    assert send(out_root, config).count(mail.SENT) == 5


def test_dry_run_needs_no_password_and_no_config(out_root, tmp_path, monkeypatch):
    monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
    report = send(out_root, tmp_path / "missing.toml", dry_run=True)
    assert report.count(mail.DRY_RUN) == 5
    assert any("占位发件人" in w for w in report.warnings)


def test_unsealed_period_warns_and_sealed_does_not(out_root, config, smtp_server):
    report = send(out_root, config, dry_run=True)
    assert not report.sealed and any("尚未封存" in w for w in report.warnings)
    (out_root / "2024" / "SEALED.json").write_text("{}", encoding="utf-8")
    report = send(out_root, config)
    assert report.sealed and not any("尚未封存" in w for w in report.warnings)
    assert report.count(mail.SENT) == 5


def test_only_selects_units_and_leaders_and_rejects_unknown_codes(out_root, config, smtp_server):
    report = send(out_root, config, only=["领导", "D02"])
    assert [o.key for o in report.outcomes] == ["leader", "unit:D02"]
    with pytest.raises(KaoheError, match="X99"):
        send(out_root, config, only=["X99"])


def test_office_template_overrides_the_packaged_default(out_root, config, smtp_server, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "mail_unit.txt.j2").write_text("主题：{{ 单位代码 }} 反馈\n\n{{ 单位名称 }}，你好。\n", encoding="utf-8")
    send(out_root, config, only=["D01"], template_dir=templates)
    message = smtp_server.messages()[0][1]
    assert message["Subject"] == "D01 反馈"
    assert message.get_body(("plain",)).get_content().strip() == "发改局，你好。"


def test_template_without_subject_line_or_with_unknown_variable_is_a_config_error(out_root, config, tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "mail_unit.txt.j2").write_text("{{ 单位名称 }}：你好\n", encoding="utf-8")
    with pytest.raises(MailConfigError, match="主题"):
        send(out_root, config, dry_run=True, template_dir=templates)
    (templates / "mail_unit.txt.j2").write_text("主题：{{ 单位全称 }}\n", encoding="utf-8")
    with pytest.raises(MailConfigError, match="不存在的变量"):
        send(out_root, config, dry_run=True, template_dir=templates)


def test_shipped_templates_match_the_editable_copies():
    root = Path(__file__).resolve().parents[1]
    for name in (mail.UNIT_TEMPLATE, mail.LEADER_TEMPLATE):
        assert (root / "templates" / name).read_bytes() == (mail.RESOURCES / name).read_bytes()


def test_password_never_from_file_and_required_from_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(mail.PASSWORD_ENV, raising=False)
    path = write_config(tmp_path / "kaohe.toml", 2525)
    with pytest.raises(MailConfigError, match=mail.PASSWORD_ENV):
        mail.load_config(path)
    monkeypatch.setenv(mail.PASSWORD_ENV, "pw")
    assert mail.load_config(path).password == "pw"
    monkeypatch.setenv(mail.PASSWORD_ENV, "密码")
    with pytest.raises(MailConfigError, match="非 ASCII"):
        mail.load_config(path)
    path.write_text(path.read_text(encoding="utf-8").replace('user = ', 'password = "x"\nuser = '), encoding="utf-8")
    with pytest.raises(MailConfigError, match="不要把邮箱密码写在"):
        mail.load_config(path)


@pytest.mark.parametrize("edit, message", [
    (('security = "none"', 'security = "tls"'), "security"),
    (('port = ', 'port = "abc"\nold_port = '), "port"),
    (('host = "127.0.0.1"', 'host = ""'), "host"),
    (('from = "kaohe@example.gov.cn"', 'from = "not an address"'), "from"),
    (('[mail]', '[mail'), "格式有误"),
])
def test_bad_config_gives_chinese_message(tmp_path, monkeypatch, edit, message):
    monkeypatch.setenv(mail.PASSWORD_ENV, "pw")
    path = write_config(tmp_path / "kaohe.toml", 2525)
    path.write_text(path.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    with pytest.raises(MailConfigError, match=message):
        mail.load_config(path)


def test_example_config_loads(monkeypatch):
    monkeypatch.setenv(mail.PASSWORD_ENV, "pw")
    config = mail.load_config(Path(__file__).resolve().parents[1] / "kaohe.toml.example")
    assert config.security in mail.SECURITY_MODES and config.from_address


# --------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not available")
    folder = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    return folder / "cert.pem", context


@pytest.fixture
def tls_server(certificate):
    """Two servers: STARTTLS required on one port, implicit TLS on the other."""
    cert, context = certificate
    handler = Recorder()
    first, second = _free_ports(2)
    starttls = Controller(handler, hostname="127.0.0.1", port=first, tls_context=context, require_starttls=True,
                          authenticator=_authenticator, auth_required=True, ready_timeout=READY)
    implicit = Controller(handler, hostname="127.0.0.1", port=second, ssl_context=context,
                          authenticator=_authenticator, auth_required=True, auth_require_tls=False, ready_timeout=READY)
    starttls.start()
    implicit.start()
    handler.ports = {"starttls": starttls.port, "ssl": implicit.port}
    yield handler, cert
    starttls.stop()
    implicit.stop()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_modes_deliver_with_the_office_ca_file(out_root, tmp_path, tls_server, monkeypatch, security):
    handler, cert = tls_server
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    config = write_config(tmp_path / "kaohe.toml", handler.ports[security])
    config.write_text(config.read_text(encoding="utf-8").replace('security = "none"', f'security = "{security}"\nca_file = "{cert}"'),
                      encoding="utf-8")
    report = send(out_root, config, only=["D01"])
    assert report.outcomes[0].status == mail.SENT
    assert [r for _, r, _ in handler.received] == [[EMAILS["D01"]]]


def test_untrusted_certificate_and_wrong_security_are_chinese_errors(out_root, tmp_path, tls_server, monkeypatch):
    handler, _ = tls_server
    monkeypatch.setenv(mail.PASSWORD_ENV, PASSWORD)
    config = write_config(tmp_path / "kaohe.toml", handler.ports["starttls"])
    config.write_text(config.read_text(encoding="utf-8").replace('security = "none"', 'security = "starttls"'), encoding="utf-8")
    with pytest.raises(MailSendError, match="加密握手失败"):
        send(out_root, config, only=["D01"])
    # Implicit TLS against a STARTTLS port: the server speaks plain text first.
    config.write_text(config.read_text(encoding="utf-8").replace('security = "starttls"', 'security = "ssl"'), encoding="utf-8")
    with pytest.raises(MailSendError, match="加密连接失败"):
        send(out_root, config, only=["D01"])
    assert handler.received == []
