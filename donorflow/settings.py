"""The one Settings object (env prefix DONORFLOW_). Read once in the composition root; nowhere else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
    # Members retire on the birthday they reach it (the reminder engine; the demo year). CMDP: up to 55
    # (DESIGN.md §6); registries abroad list members to their 61st birthday.
    donate_max_age: int = Field(default=55, ge=18, le=80, description="members retire on this birthday")
    import_batch_size: int = Field(default=2000, ge=1, le=50_000)
    # How much of a sign-up file the reader takes on; a file over a limit is refused before any row lands.
    import_max_file_bytes: int = Field(default=50_000_000, ge=1, description="largest sheet file accepted")
    import_max_cell_chars: int = Field(default=1000, ge=1, description="longest cell accepted")
    import_max_rows: int = Field(default=200_000, ge=1, description="most non-blank rows in a sheet")
    max_contact_attempts: int = Field(default=3, ge=1, le=10, description="re-mobilisation attempts")
    hla_data_dir: Path | None = Field(
        default=None,
        description="IMGT/HLA tables of a newer release; unset: the release shipped in the package",
    )
    # Match likelihood for low-resolution members (issue 13 item 8): a haplotype-frequency file (ATLAS
    # JSON or an NMDP-style A~C~B~DRB1~DQB1 table, gzipped or not), or "demo" for the shipped SYNTHETIC
    # set; empty: no likelihood is computed.
    hla_haplotypes: str = Field(default="", description="haplotype-frequency file, or 'demo' (synthetic)")
    hla_haplotype_population: str = Field(
        default="", description="the <population>_freq column to read (default: the first)"
    )
    prefect_port: int = 4200
    # Where coordinators open the Prefect UI: the links in their alerts. Empty: the `make up` server on
    # this machine (http://127.0.0.1:<prefect_port>); set it when they reach it by another name.
    prefect_ui_url: str = Field(default="", description="Prefect UI address used in coordinator alerts")
    # Prefect's REST API as the dashboard calls it ("waiting for me", starting re-mobilisation). Empty:
    # the `make up` server on this machine (http://127.0.0.1:<prefect_port>/api, donorflow/up.py).
    prefect_api_url: str = Field(default="", description="Prefect API the dashboard calls")
    prefect_database_url: str = Field(
        default="",
        description="the `make up` Prefect server's database; empty: SQLite under var/prefect (one user). "
        "Several coordinators at once: postgresql+asyncpg://user@host/prefect",
    )
    # -- the dashboard (issue 12; dashboard/): `make up` serves it beside the Prefect UI ------------------
    dashboard_host: str = Field(default="127.0.0.1", description="address the dashboard listens on")
    dashboard_port: int = Field(default=8000, ge=1, le=65535, description="the dashboard's port")
    # Signs the session cookie. Empty: a random key in secrets_dir/dashboard_session_key, made once.
    dashboard_secret: SecretStr | None = Field(default=None, description="session cookie signing key")
    # Set when the dashboard is reached over HTTPS (behind a TLS proxy): the cookie is then Secure.
    dashboard_https_only: bool = Field(default=False, description="session cookie only over HTTPS")
    dashboard_session_hours: int = Field(default=12, ge=1, le=24 * 30, description="a login lasts this long")
    login_max_failures: int = Field(
        default=5, ge=1, le=100, description="failed logins per name in the window"
    )
    login_max_failures_per_client: int = Field(
        default=20, ge=1, le=1000, description="failed logins per client address in the window"
    )
    login_window_minutes: int = Field(default=15, ge=1, le=24 * 60, description="the throttle's window")
    # The first admin's password at the first `make up`; empty: one is generated and printed once.
    admin_password: SecretStr | None = Field(default=None, description="first admin's password")

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

    # -- channels (issue 10; donorflow/channels.py builds them). Nothing set: the file channel under
    # outbox_dir stands in for every channel, so `make up` shows what would be sent.
    sms_url: str = Field(default="", description="SMS gateway URL; empty: no SMS")
    sms_token: SecretStr | None = Field(default=None, description="bearer token for the SMS gateway")
    sms_style: Literal["generic", "template"] = Field(
        default="generic", description="generic: {to, text}; template: mainland signature + template code"
    )
    sms_sign_name: str = Field(default="", description="registered SMS signature (签名), template style")
    sms_template_codes: dict[str, str] = Field(
        default_factory=dict,
        description='JSON: message key -> provider template code {"donation_thanks": "SMS_1"}',
    )
    sms_param_max_chars: int = Field(default=35, ge=1, description="longest template variable accepted")
    smtp_host: str = Field(default="", description="SMTP server; empty: no e-mail")
    smtp_port: int | None = Field(default=None, ge=1, le=65535, description="default 587/465/25 by security")
    smtp_security: Literal["starttls", "ssl", "plain"] = "starttls"
    smtp_user: str = ""
    smtp_password: SecretStr | None = None
    smtp_from: str = Field(default="", description="From: address of every e-mail")
    wechat_appid: str = Field(default="", description="official account AppID; empty: no WeChat")
    wechat_secret: SecretStr | None = None
    wechat_api_base: str = "https://api.weixin.qq.com"
    wechat_templates: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description='JSON: key -> {"template_id": "..", "fields": {"wechat_field": "param or text"}}',
    )
    webhook_url: str = Field(default="", description="partner webhook (signed); empty: none")
    webhook_secret: SecretStr | None = None
    alert_emails: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="coordinators' alert addresses, comma separated"
    )
    alert_bot_url: str = Field(default="", description="WeCom/DingTalk group bot URL; empty: none")
    alert_bot_style: Literal["wecom", "dingtalk"] = "wecom"
    alert_bot_secret: SecretStr | None = Field(default=None, description="DingTalk 加签 secret")
    outbox_dir: Path | None = Field(default=None, description="file channel folder; default var_dir/outbox")

    @field_validator("alert_emails", mode="before")
    @classmethod
    def _comma_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @property
    def resolved_outbox_dir(self) -> Path:
        return self.outbox_dir if self.outbox_dir is not None else self.var_dir / "outbox"

    @model_validator(mode="after")
    def _default_prefect_ui_url(self) -> Settings:
        url = self.prefect_ui_url or f"http://127.0.0.1:{self.prefect_port}"
        self.prefect_ui_url = url.rstrip("/")
        api = self.prefect_api_url or f"http://127.0.0.1:{self.prefect_port}/api"
        self.prefect_api_url = api.rstrip("/")
        return self

    # TEST ONLY: the flow process kills itself (SIGKILL) after a stage's commit, before its events are
    # relayed, to prove the relay at restart (tests/e2e/test_relay_deployed.py). Never set in production.
    fault_kill_before_relay: bool = Field(default=False, description="test only: die before relaying")

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

    # -- reminders (issue 11; DESIGN.md §6): the daily engine, models/reminders ------------------------
    reminder_catch_up_days: int = Field(
        default=7, ge=1, le=60, description="a run acts on what fell due this many days back; older: missed"
    )
    follow_up_answer_days: int = Field(
        default=14, ge=1, description="days a questionnaire waits for an answer"
    )
    follow_up_max_reminders: int = Field(
        default=3, ge=1, le=10, description="reminders before a follow-up is lost"
    )
    stage_limits: dict[str, int] = Field(
        default_factory=dict, description='JSON: idle limit in days per stage, e.g. {"exam": 20}'
    )
    reminder_batch_size: int = Field(default=500, ge=1, le=10_000, description="reminders per transaction")

    @field_validator("stage_limits")
    @classmethod
    def _known_stages(cls, value: dict[str, int]) -> dict[str, int]:
        from models.cases import CaseStage

        unknown = sorted(set(value) - {stage.value for stage in CaseStage})
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(CaseStage)}")
        if any(days < 1 for days in value.values()):
            raise ValueError("a stage limit is a number of days, at least 1")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.var_dir / 'donorflow.db').resolve()}"
