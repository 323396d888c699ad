"""Settings: built once by each shell (API, CLI, worker) and passed down, never read at import."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_PATH = Path("var") / "muster.db"


class Settings(BaseSettings):
    """Every knob of the service; environment variables use the prefix `MUSTER_`."""

    model_config = SettingsConfigDict(env_prefix="MUSTER_", env_file=None, extra="ignore")

    database_url: str = Field(
        default=f"sqlite:///{DEFAULT_DATABASE_PATH}",
        description="SQLAlchemy URL; sqlite:///path or postgresql+psycopg://user@host/db",
    )
    database_echo: bool = False
    database_pool_size: int = Field(default=10, ge=1)
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
    log_level: str = "info"
    log_json: bool = False

    @property
    def is_sqlite(self) -> bool:
        """True when the configured database is an embedded SQLite file."""
        return self.database_url.startswith("sqlite")
