"""The engine's settings, read once where opsgate starts (the web app, a CLI command, the worker)
and handed to the engine with its sessions: nothing below reads the environment.

`EngineConfig.from_environ()` is the one place the OPSGATE_* variables are read; the edge binds
the result to its sessionmaker (engine.db.make_sessionmaker), and engine code reads it back with
`settings(session)`. A session made without one (a test, a script) gets the defaults.

=========================  ==========================================================  ===========
variable                   meaning                                                     default
=========================  ==========================================================  ===========
OPSGATE_DATABASE_URL       SQLAlchemy URL of the database                              SQLite file
OPSGATE_INSTANCE_CACHE     cases whose SpiffWorkflow instance a process keeps (0: off) 256
OPSGATE_SPEC_CACHE         parsed process versions a process keeps                     64
OPSGATE_BASE_URL           the address people open, for links in e-mail                (none)
OPSGATE_SMTP_HOST          mail server; unset means no e-mail is queued                (unset)
OPSGATE_SMTP_PORT          port                                                        by TLS mode
OPSGATE_SMTP_TLS           none, starttls or ssl                                       see mail.py
OPSGATE_SMTP_USER          login user (optional)
OPSGATE_SMTP_PASSWORD      login password
OPSGATE_SMTP_FROM          From address                                                opsgate@localhost
OPSGATE_SMTP_TIMEOUT       seconds per connection                                      10
OPSGATE_CALENDAR           business calendars file (TOML), see engine.timing.calendar  built-in
OPSGATE_CALENDAR_*         single calendar settings without a file
OPSGATE_EVALUATION_CONFIG  evaluation weights and targets (TOML)                       shipped file
OPSGATE_SECRET_KEY         the installation's secret (sessions; webhook secrets' key)  instance file
OPSGATE_WEBHOOK_TIMEOUT    seconds to wait for a webhook receiver                      10
OPSGATE_DIRECTORY_CONFIG   LDAP / Active Directory settings (TOML), engine.people.directory  (none)
OPSGATE_OIDC_CONFIG        OpenID Connect providers (TOML), engine.people.oidc         (none)
OPSGATE_SCRIPT_SECONDS     wall time one sandboxed expression or script may take       1
OPSGATE_SCRIPT_MEMORY_MB   memory one sandbox may allocate beyond its start-up size    256
OPSGATE_SANDBOX_WORKERS    sandbox processes one opsgate process keeps                 2
OPSGATE_STEP_BUDGET        engine steps (tasks run) one case action may take           5000
OPSGATE_MAX_INSTANCES      instances one multi-instance task may make                  1000
=========================  ==========================================================  ===========
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

DEFAULT_DATABASE_URL = "sqlite:///instance/opsgate.db"
_KEY = "opsgate.config"


def _float(environ: Mapping[str, str], name: str, default: float) -> float:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number of seconds, not {text!r}") from None
    if not 0 < value <= 3600:
        raise ValueError(f"{name} must be more than 0 and at most 3600 seconds, not {text!r}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int) -> int:
    text = (environ.get(name) or "").strip()
    if not text:
        return default
    try:
        return max(0, int(text))
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {text!r}") from None


@dataclass(frozen=True)
class EngineConfig:
    """Everything the engine is told about its installation (see the table above)."""

    database_url: str = DEFAULT_DATABASE_URL
    instance_cache: int = 256
    spec_cache: int = 64
    base_url: str = ""
    # The raw mail settings (OPSGATE_SMTP_*), checked when mail is sent (engine.notifications.mail).
    smtp: tuple[tuple[str, str], ...] = ()
    # The calendar settings (OPSGATE_CALENDAR and OPSGATE_CALENDAR_*), read by engine.timing.calendar.
    calendar: tuple[tuple[str, str], ...] = ()
    evaluation_config: Path | None = None
    # The installation's secret (OPSGATE_SECRET_KEY, else the instance folder's file: the edge
    # fills it in); webhook signing secrets are encrypted under a key derived from it.
    secret_key: str = field(default="", repr=False)
    webhook_timeout: int = 10
    directory_config: Path | None = None
    oidc_config: Path | None = None
    # The deploy gate (engine.processes.scripting, engine.cases.stepping; docs/bpmn.md, "Limits").
    script_seconds: float = 1.0
    script_memory_mb: int = 256
    sandbox_workers: int = 2
    step_budget: int = 5000
    max_instances: int = 1000

    @property
    def mail_wanted(self) -> bool:
        """Whether e-mail is configured at all (a bad setting shows at delivery, never in a case)."""
        return bool(dict(self.smtp).get("OPSGATE_SMTP_HOST", "").strip())

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None, *, database_url: str | None = None) -> EngineConfig:
        """Read the OPSGATE_* settings (an explicit database URL wins over the environment's)."""
        env = os.environ if environ is None else environ
        evaluation = (env.get("OPSGATE_EVALUATION_CONFIG") or "").strip()
        directory = (env.get("OPSGATE_DIRECTORY_CONFIG") or "").strip()
        oidc = (env.get("OPSGATE_OIDC_CONFIG") or "").strip()
        return cls(
            database_url=database_url or (env.get("OPSGATE_DATABASE_URL") or "").strip() or DEFAULT_DATABASE_URL,
            instance_cache=_int(env, "OPSGATE_INSTANCE_CACHE", 256),
            spec_cache=_int(env, "OPSGATE_SPEC_CACHE", 64),
            base_url=(env.get("OPSGATE_BASE_URL") or "").strip().rstrip("/"),
            smtp=tuple(sorted((k, v) for k, v in env.items() if k.startswith("OPSGATE_SMTP_"))),
            calendar=tuple(sorted((k, v) for k, v in env.items() if k.startswith("OPSGATE_CALENDAR"))),
            evaluation_config=Path(evaluation) if evaluation else None,
            secret_key=(env.get("OPSGATE_SECRET_KEY") or "").strip(),
            webhook_timeout=max(1, _int(env, "OPSGATE_WEBHOOK_TIMEOUT", 10)),
            directory_config=Path(directory) if directory else None,
            oidc_config=Path(oidc) if oidc else None,
            script_seconds=_float(env, "OPSGATE_SCRIPT_SECONDS", 1.0),
            script_memory_mb=max(16, _int(env, "OPSGATE_SCRIPT_MEMORY_MB", 256)),
            sandbox_workers=max(1, _int(env, "OPSGATE_SANDBOX_WORKERS", 2)),
            step_budget=max(10, _int(env, "OPSGATE_STEP_BUDGET", 5000)),
            max_instances=_int(env, "OPSGATE_MAX_INSTANCES", 1000),
        )


DEFAULTS = EngineConfig()


def bind(session_info: dict[str, object], config: EngineConfig) -> None:
    """Attach a configuration to a sessionmaker's `info` (engine.db.make_sessionmaker does)."""
    session_info[_KEY] = config


def settings(session: Session) -> EngineConfig:
    """The configuration the edge gave this session (the defaults when it gave none)."""
    found = session.info.get(_KEY)
    return found if isinstance(found, EngineConfig) else DEFAULTS


def child_environment(**extra: str) -> dict[str, str]:
    """The environment for a tool the engine runs (pg_dump, pg_restore): this process's own, so
    that PATH, PGSSLMODE and the like reach it, plus `extra`. Passed through, not read as
    configuration, and kept here so that this module stays the engine's one reader of it."""
    return {**os.environ, **extra}
