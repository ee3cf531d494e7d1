"""The SMTP conversation of `kaohe mail`: connect (ssl, starttls or none), log in, send one message
with retries on 4xx and reconnects, and tell apart a message refused, one worth retrying, and one
whose connection dropped after the whole message went out (unconfirmed: never retried on its own)."""

from __future__ import annotations

import re
import smtplib
import ssl
from typing import Callable

from kaohe_excel.base.errors import MailSendError
from kaohe_excel.outputs.mail_config import PASSWORD_ENV, MailConfig, clean_header_text


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
