"""The one Settings object (env prefix DONORFLOW_). Read once in the composition root; nowhere else."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
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
    # The sending branch as its messages name it (notifications/render.py: every template's globals).
    branch_name: str = Field(default="郑州市红十字会", min_length=1, max_length=60, description="zh-CN name")
    branch_name_en: str = Field(default="Zhengzhou Red Cross", min_length=1, max_length=60)
    branch_hotline: str = Field(default="0371-00000000", min_length=1, max_length=32)
    sms_signature: str = Field(
        default="郑州红十字会", min_length=1, max_length=20, description="the registered 签名, no brackets"
    )
    templates_dir: Path | None = Field(
        default=None, description="a branch's own wording: <lang>/<key>.<channel>.j2 files that win"
    )
    max_sms_parts: int = Field(default=3, ge=1, le=10, description="longest SMS render accepted, in parts")

    @field_validator("sms_signature")
    @classmethod
    def _signature_without_brackets(cls, value: str) -> str:
        """Templates add the brackets (【…】 zh-CN, […] en): a configured 【郑州红十字会】 is not doubled."""
        signature = value.strip().strip("【】[]").strip()
        if not signature:
            raise ValueError("the SMS signature is empty")
        return signature

    @field_validator("templates_dir", mode="before")
    @classmethod
    def _empty_templates_dir_is_none(cls, value: object) -> object:
        """DONORFLOW_TEMPLATES_DIR= (empty) means the packaged wording, not the current directory."""
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'donorflow.db').resolve()}"
