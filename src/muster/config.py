"""Settings: built once by each shell (API, CLI, worker) and passed down, never read at import."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

DEFAULT_DATABASE_PATH = Path("var") / "muster.db"
# scheme://host[:port]: a DNS name or IPv4 address, or an IPv6 address in brackets
_ORIGIN = re.compile(r"https?://([A-Za-z0-9.\-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")


class Settings(BaseSettings):
    """Every knob of the service; environment variables use the prefix `MUSTER_`."""

    model_config = SettingsConfigDict(env_prefix="MUSTER_", env_file=None, extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE_PATH}",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    database_echo: bool = False
    database_pool_size: int = Field(default=10, ge=1)
    database_connect_timeout_seconds: int = Field(
        default=5,
        ge=2,
        le=600,
        description="PostgreSQL: give up opening a connection after this long (the request "
        "then answers 503 with Retry-After)",
    )
    database_pool_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        le=600,
        description="longest a request waits for a free pooled connection before it answers 503",
    )
    sqlite_checkpoint_seconds: float = Field(
        default=1.0,
        ge=0,
        description="SQLite: seconds between background WAL checkpoints in the server and "
        "`muster ingest`; 0 leaves them to SQLite's commits",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_batch_alerts: int = Field(default=10_000, ge=1)
    max_json_depth: int = Field(
        default=128,
        ge=2,
        le=254,
        description="how deeply arrays and objects may nest in a JSON request body (254: the "
        "most a stored alert's raw can hold)",
    )
    auth_cache_seconds: float = Field(
        default=5.0, ge=0, description="how long an authenticated key is trusted without a lookup"
    )
    gc_young_collection_every: int = Field(
        default=50_000,
        ge=0,
        description="server: allocations between young-generation garbage collections "
        "(Python's default is 700; 0 keeps Python's defaults)",
    )
    embedded_worker: bool = Field(
        default=True, description="`muster serve` also runs jobs (SOAR steps, timers)"
    )
    worker_poll_seconds: float = Field(default=0.2, gt=0, le=5)
    job_lease_seconds: float = Field(
        default=30.0, gt=0, description="a claimed job whose worker died is re-run after this"
    )
    smtp_host: str = Field(default="127.0.0.1", description="outgoing mail server")
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "muster@localhost"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    http_action_timeout_seconds: float = Field(
        default=10.0, gt=0, le=120, description="ceiling for SOAR webhook and HTTP actions"
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where people reach this service; links in e-mails and webhook payloads",
    )
    sla_scan_seconds: float = Field(
        default=1.0, gt=0, le=60, description="how often the worker looks for due SLA events"
    )
    webhook_allow_private_targets: bool = Field(
        default=False,
        description="admin setting: allow webhook targets on loopback, private or link-local "
        "addresses (refused by default)",
    )
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    webhook_max_attempts: int = Field(default=8, ge=1, le=20)
    webhook_retry_base_seconds: float = Field(
        default=5.0, gt=0, description="first retry delay; doubles per attempt (capped at 1 h)"
    )
    webhook_disable_after_failures: int = Field(
        default=20, ge=1, description="consecutive failed attempts that disable a subscription"
    )
    mail_listen: str | None = Field(
        default=None,
        description="host:port of the inbound SMTP listener; `muster serve` runs it when set",
    )
    mail_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=1,
        description="when set, `GET /metrics` requires `Authorization: Bearer <token>`; "
        "unset, it is open to whoever reaches the bind address (it shows counts only)",
    )
    ui_refresh_seconds: float = Field(
        default=10.0, gt=0, le=3600, description="web console: how often the queue refreshes itself"
    )
    session_idle_minutes: int = Field(
        default=480,
        ge=1,
        description="web console: a session unused this long ends (the user logs in again)",
    )
    login_max_failures: int = Field(
        default=5,
        ge=1,
        description="web console: failed logins of one account within the failure window that "
        "lock it for the lockout period",
    )
    login_max_failures_per_address: int = Field(
        default=50,
        ge=0,
        description="web console: failed logins from one client address within the failure "
        "window that lock that address out (any account); 0 turns the address limit off",
    )
    login_failure_window_minutes: int = Field(
        default=15, ge=1, description="web console: how far back failed logins are counted"
    )
    login_lockout_minutes: int = Field(
        default=15, ge=1, description="web console: how long a locked account or address waits"
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins (`https://soc.example`) whose browser scripts may call the API; "
        "comma-separated or a JSON list; empty (the default): no CORS headers at all",
    )
    log_level: str = "info"
    log_json: bool = False

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        """Accept `a,b` and `["a","b"]` (the environment) as well as a list."""
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                return json.loads(text)
            return [part.strip() for part in text.split(",") if part.strip()]
        return value

    @field_validator("cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        """Each entry is a bare origin: scheme, host and optional port; no wildcard, no path."""
        for origin in origins:
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(
                    f"{origin!r} is not an origin like https://soc.example or "
                    "http://localhost:3000 (no path, no wildcard)"
                )
        return origins

    @property
    def is_sqlite(self) -> bool:
        """True when the configured database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")
