"""Sending e-mail through SMTP settings from the environment, against a local test server."""
from __future__ import annotations

import smtplib

import pytest

from engine.errors import InvalidData
from engine.notifications.mail import SmtpSettings, send_mail
from tests.smtp_server import free_port, smtp_server


def test_settings_from_environment():
    assert SmtpSettings.from_env({}) is None
    s = SmtpSettings.from_env({"OPSGATE_SMTP_HOST": "mail.example.org", "OPSGATE_SMTP_USER": "ops",
                               "OPSGATE_SMTP_PASSWORD": "pw", "OPSGATE_SMTP_FROM": "ops@example.org"})
    assert (s.host, s.port, s.tls, s.user, s.sender) == ("mail.example.org", 587, "starttls", "ops", "ops@example.org")
    s = SmtpSettings.from_env({"OPSGATE_SMTP_HOST": "mail", "OPSGATE_SMTP_TLS": "ssl"})
    assert (s.port, s.tls) == (465, "ssl")
    with pytest.raises(InvalidData) as err:
        SmtpSettings.from_env({"OPSGATE_SMTP_HOST": "mail", "OPSGATE_SMTP_TLS": "maybe"})
    assert "OPSGATE_SMTP_TLS" in err.value.details


def test_send_mail_reaches_the_server():
    with smtp_server() as (inbox, port):
        send_mail(SmtpSettings(host="127.0.0.1", port=port, sender="opsgate@example.org"),
                  "alice@example.org", "INC-000001: SLA warning", "75% of the resolution SLA is used.")
    [message] = inbox.messages
    assert message["To"] == "alice@example.org" and message["From"] == "opsgate@example.org"
    assert message["Subject"] == "INC-000001: SLA warning"
    assert "75% of the resolution SLA" in message.get_payload()


def test_send_mail_raises_when_refused_or_unreachable():
    with smtp_server() as (inbox, port):
        inbox.refuse = True
        with pytest.raises(smtplib.SMTPException):
            send_mail(SmtpSettings(host="127.0.0.1", port=port), "a@example.org", "s", "b")
    with pytest.raises(OSError):
        send_mail(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2), "a@example.org", "s", "b")
