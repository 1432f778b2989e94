"""The one Settings object (env prefix DONORFLOW_). Read once in the composition root; nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings", "default_secrets_dir"]


def default_secrets_dir() -> Path:
    """$XDG_CONFIG_HOME/donorflow, i.e. ~/.config/donorflow: beside the user's other secrets, not the data."""
    config_home = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config_home) / "donorflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONORFLOW_", env_file=".env", extra="ignore")

    var_dir: Path = Field(default=Path("var"), description="runtime files: database, inbox, index")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under var_dir")
    id_salt: SecretStr | None = Field(default=None, description="secret salt for ID hashing")
    # Where the salt file lives when DONORFLOW_ID_SALT is not set: never the data directory (DESIGN.md §8).
    secrets_dir: Path = Field(default_factory=default_secrets_dir, description="id_salt lives here")
    registry_prefix: str = Field(default="ZZ", pattern=r"^[A-Z]{2,4}$", description="branch code prefix")
    # CMDP joining ages 18–45; members stay donors to 55 (abroad often to the 61st birthday).
    join_min_age: int = 18
    join_max_age: int = 45
    donate_max_age: int = 55
    import_batch_size: int = Field(default=2000, ge=1, le=50_000)
    # How much of a sign-up file the reader takes on; a file over a limit is refused before any row lands.
    import_max_file_bytes: int = Field(default=50_000_000, ge=1, description="largest sheet file accepted")
    import_max_cell_chars: int = Field(default=1000, ge=1, description="longest cell accepted")
    import_max_rows: int = Field(default=200_000, ge=1, description="most non-blank rows in a sheet")
    max_contact_attempts: int = Field(default=3, ge=1, le=10, description="re-mobilisation attempts")
    hla_data_dir: Path | None = Field(default=None, description="IMGT/HLA and MAC tables (optional)")
    prefect_port: int = 4200
    prefect_database_url: str = Field(
        default="",
        description="the `make up` Prefect server's database; empty: SQLite under var/prefect (one user). "
        "Several coordinators at once: postgresql+asyncpg://user@host/prefect",
    )

    # -- notifications: the dispatcher (issue 10; DESIGN.md §5) --------------------------------------
    quiet_hours: str = Field(
        default="21:00-08:00",
        description="Asia/Shanghai window in which non-urgent member messages wait; empty: no quiet hours",
    )
    dispatch_concurrency: int = Field(default=20, ge=1, le=1000, description="sends in flight at once")
    dispatch_batch_size: int = Field(default=200, ge=1, le=10_000, description="messages claimed at once")
    # A claim older than this is taken to be a dead dispatcher's: its messages are sent again (same key).
    dispatch_lease_seconds: int = Field(default=120, ge=1, description="how long a claim holds")
    dispatch_max_per_run: int = Field(default=10_000, ge=1, description="messages one run handles at most")
    retry_base_seconds: float = Field(default=30.0, gt=0, description="first retry waits up to this")
    retry_cap_seconds: float = Field(default=3600.0, gt=0, description="no retry waits longer than this")
    max_attempts: int = Field(default=8, ge=1, le=100, description="failed sends before a message is dead")
    # Per-channel rate limits (sends a second, per dispatcher process; 0: none). Group bots (WeCom,
    # DingTalk) take 20 messages a minute.
    rate_sms_per_second: float = Field(default=100.0, ge=0)
    rate_email_per_second: float = Field(default=10.0, ge=0)
    rate_wechat_per_second: float = Field(default=50.0, ge=0)
    rate_webhook_per_second: float = Field(default=0.33, ge=0)
    # Stand-ins until the channels and templates branches land (same names there): the generic SMS
    # gateway's endpoint and token, and a branch's own template folder.
    sms_url: str = Field(default="", description="generic SMS gateway endpoint (POST JSON)")
    sms_token: SecretStr | None = Field(default=None, description="bearer token for the SMS gateway")
    templates_dir: Path | None = Field(default=None, description="a branch's own templates, overriding ours")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'donorflow.db').resolve()}"
