"""E-mail transport: the SMTP settings and sending one message."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage

from engine.errors import InvalidData

_TLS_MODES = ("none", "starttls", "ssl")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to send e-mail."""

    host: str
    port: int = 25
    tls: str = "none"
    user: str | None = None
    password: str | None = None
    sender: str = "opsgate@localhost"
    timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str]) -> SmtpSettings | None:
        """Read OPSGATE_SMTP_*; None when no host is configured."""
        env = environ
        host = env.get("OPSGATE_SMTP_HOST", "").strip()
        if not host:
            return None
        user = env.get("OPSGATE_SMTP_USER") or None
        tls = (env.get("OPSGATE_SMTP_TLS") or ("starttls" if user else "none")).strip().lower()
        if tls not in _TLS_MODES:
            raise InvalidData("SMTP settings", details={"OPSGATE_SMTP_TLS": [f"must be one of {', '.join(_TLS_MODES)}"]})
        default_port = {"ssl": 465, "starttls": 587}.get(tls, 25)
        try:
            port = int(env.get("OPSGATE_SMTP_PORT") or default_port)
            timeout = float(env.get("OPSGATE_SMTP_TIMEOUT") or 10)
        except ValueError as exc:
            raise InvalidData("SMTP settings", details={"OPSGATE_SMTP_PORT": [str(exc)]}) from exc
        return cls(host=host, port=port, tls=tls, user=user, password=env.get("OPSGATE_SMTP_PASSWORD"),
                   sender=env.get("OPSGATE_SMTP_FROM") or "opsgate@localhost", timeout=timeout)


def send_mail(settings: SmtpSettings, to: str, subject: str, body: str) -> None:
    """Send one plain-text e-mail now; raise OSError or smtplib.SMTPException on failure."""
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    if settings.tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.host, settings.port, timeout=settings.timeout,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout)
    with client:
        if settings.tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.user:
            client.login(settings.user, settings.password or "")
        client.send_message(message)
