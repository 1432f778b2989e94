"""The one Settings object (env prefix DONORFLOW_). Read once in the composition root; nowhere else."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DONORFLOW_", env_file=".env", extra="ignore")

    var_dir: Path = Field(default=Path("var"), description="runtime files: database, salt, inbox, index")
    database_url: str = Field(default="", description="SQLAlchemy URL; empty means SQLite under var_dir")
    id_salt: SecretStr | None = Field(default=None, description="secret salt for ID hashing")
    registry_prefix: str = Field(default="ZZ", pattern=r"^[A-Z]{2,4}$", description="branch code prefix")
    # CMDP joining ages 18–45; members stay donors to 55 (abroad often to the 61st birthday).
    join_min_age: int = 18
    join_max_age: int = 45
    donate_max_age: int = 55
    import_batch_size: int = Field(default=2000, ge=1, le=50_000)
    max_contact_attempts: int = Field(default=3, ge=1, le=10, description="re-mobilisation attempts")
    hla_data_dir: Path | None = Field(default=None, description="IMGT/HLA and MAC tables (optional)")
    prefect_port: int = 4200
    prefect_database_url: str = Field(
        default="",
        description="the `make up` Prefect server's database; empty: SQLite under var/prefect (one user). "
        "Several coordinators at once: postgresql+asyncpg://user@host/prefect",
    )
    dashboard_port: int = 8000
    timezone: str = "Asia/Shanghai"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'donorflow.db').resolve()}"
