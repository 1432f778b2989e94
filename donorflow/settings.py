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

    # TEST ONLY: the flow process kills itself (SIGKILL) after a stage's commit, before its events are
    # relayed, to prove the relay at restart (tests/e2e/test_relay_deployed.py). Never set in production.
    fault_kill_before_relay: bool = Field(default=False, description="test only: die before relaying")

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'donorflow.db').resolve()}"
