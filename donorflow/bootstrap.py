"""The composition root: settings, engine, salt. Nothing else constructs these."""

from __future__ import annotations

import logging
import os
import secrets
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

import hla
import migrations
from donorflow.settings import Settings
from hla.likelihood import SHIPPED_HAPLOTYPES, HaplotypeSet, load_haplotypes
from models.core import ConfigurationError, PiiMaskingFilter, install_record_masking, make_engine
from models.intake import ImportPolicy, SheetLimits
from models.matching import IndexFile, IndexStore, use_hla_reference
from models.outreach import parse_quiet_hours
from models.registry import Donor
from models.reminders import Plan, ReminderConfig, RunResult, plan, run
from notifications import Branch, Renderer

if TYPE_CHECKING:  # the dispatcher's and the dashboard's modules load only when they run (every CLI
    # command imports this one)
    from fastapi import FastAPI

    from notifications.dispatch import DispatchConfig, DispatchResult

log = logging.getLogger(__name__)

__all__ = [
    "configure_logging",
    "dashboard_app",
    "dashboard_secret",
    "dispatch_config",
    "dispatch_once",
    "get_engine",
    "get_settings",
    "hla_cache_dir",
    "hla_haplotypes",
    "hla_index_store",
    "hla_mac_file",
    "hla_reference",
    "import_hla_macs",
    "id_salt",
    "id_salt_location",
    "import_policy",
    "renderer",
    "schema_problem",
    "plan_reminders",
    "reminder_config",
    "run_reminders",
    "upgrade_database",
]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


@lru_cache(maxsize=4)
def _engine(url: str) -> Engine:
    return make_engine(url)


def get_engine(settings: Settings | None = None) -> Engine:
    settings = settings or get_settings()
    if not settings.database_url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return _engine(settings.resolved_database_url)


_SALT_FILE = "id_salt"


def id_salt(settings: Settings | None = None) -> bytes:
    """The secret salt of the ID-number hash, kept apart from the data (DESIGN.md §8). Never logged.

    DONORFLOW_ID_SALT wins; otherwise `id_salt` in the secrets directory (DONORFLOW_SECRETS_DIR, default
    ~/.config/donorflow), created there on first use (directory 0700, file 0600). A salt an older install
    left in the data directory is moved there once, never replaced by a new one; and a registry that
    already has members never gets a new salt silently (a lost salt is restored from its backup).
    """
    settings = settings or get_settings()
    if settings.id_salt is not None:
        return settings.id_salt.get_secret_value().encode()
    path = settings.secrets_dir / _SALT_FILE
    legacy = settings.var_dir / _SALT_FILE
    if legacy.is_file() and legacy.resolve() != path.resolve():
        _move_legacy_salt(legacy, path)
    if not path.exists():
        _refuse_new_salt_for_a_filled_registry(settings, path)
        _write_secret(path, secrets.token_hex(32).encode())
        log.info("created a new ID salt in %s: back it up apart from the database", path)
    return _read_secret(path)


def id_salt_location(settings: Settings | None = None) -> str:
    """Where the salt comes from, for a start-up line (never the salt itself)."""
    settings = settings or get_settings()
    if settings.id_salt is not None:
        return "DONORFLOW_ID_SALT (environment)"
    return str(settings.secrets_dir / _SALT_FILE)


def _move_legacy_salt(legacy: Path, path: Path) -> None:
    salt = legacy.read_bytes().strip()
    if path.exists():
        if _read_secret(path) != salt:
            raise ConfigurationError(
                f"两个不同的身份证号盐值 two different ID salts: {legacy} (an older install's) and {path}; "
                "keep the one this database was filled with, move the other away, and run again"
            )
    else:
        _write_secret(path, salt)
    legacy.unlink()
    log.warning(
        "moved the ID salt from the data directory %s to %s: back it up apart from the database",
        legacy.parent,
        path,
    )


def _refuse_new_salt_for_a_filled_registry(settings: Settings, path: Path) -> None:
    """A new salt for a registry that has members would make every re-imported member a duplicate."""
    try:
        with get_engine(settings).connect() as connection:
            members = connection.execute(select(func.count()).select_from(Donor)).scalar_one()
    except SQLAlchemyError:  # no database or no tables yet: nothing was salted
        return
    if members:
        raise ConfigurationError(
            f"找不到身份证号盐值 ID salt not found: the registry has {members} members but neither "
            f"DONORFLOW_ID_SALT nor {path} is set; restore the salt from your backup (README: where the "
            "salt lives) — a new one would make every re-imported member a duplicate"
        )


def _write_secret(path: Path, content: bytes) -> None:
    """Create `path` (0600, in a 0700 directory) atomically: readers see the whole salt or no file."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
        path.parent.chmod(0o700)  # mkdir's mode is filtered by the umask
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # fails if another process created it first: theirs is kept
        except FileExistsError:
            pass
    finally:
        temporary.unlink(missing_ok=True)


def _read_secret(path: Path, what: str = "the ID salt file") -> bytes:
    if path.stat().st_mode & 0o077:
        log.warning("%s is readable by other users: chmod 600 it", path)
    salt = path.read_bytes().strip()
    if not salt:
        raise ConfigurationError(f"{what} {path} is empty; restore it from your backup")
    return salt


def import_policy(settings: Settings | None = None) -> ImportPolicy:
    settings = settings or get_settings()
    return ImportPolicy(
        id_salt=id_salt(settings),
        registry_prefix=settings.registry_prefix,
        min_age=settings.join_min_age,
        max_age=settings.join_max_age,
        batch_size=settings.import_batch_size,
        limits=SheetLimits(
            max_file_bytes=settings.import_max_file_bytes,
            max_cell_chars=settings.import_max_cell_chars,
            max_rows=settings.import_max_rows,
        ),
    )


@lru_cache(maxsize=1)
def hla_reference() -> hla.Reference:
    """The IMGT/HLA tables: the release shipped in the package, or DONORFLOW_HLA_DATA_DIR (a newer one),
    with the NMDP MAC table when one was imported (`donorflow hla import-macs`). Parsed once and kept in
    compact form under var/hla, keyed by the files' fingerprint."""
    settings = get_settings()
    data_dir = settings.hla_data_dir or hla.SHIPPED_DIR
    mac = hla_mac_file(settings)
    return hla.load_reference(
        data_dir, mac_file=mac if mac.is_file() else None, cache_dir=hla_cache_dir(settings)
    )


use_hla_reference(hla_reference)  # case grades read typings with the tables the search uses


def hla_cache_dir(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).var_dir / "hla"


def hla_mac_file(settings: Settings | None = None) -> Path:
    """Where `donorflow hla import-macs` keeps the NMDP code table."""
    return hla_cache_dir(settings) / "mac.txt"


def import_hla_macs(source: Path, settings: Settings | None = None) -> int:
    """Check an NMDP MAC file (numer.v3.txt, alpha.v3.txt or CODE<TAB>subtypes) and keep a copy for
    hla_reference; returns the number of codes. A file that does not parse replaces nothing."""
    codes = hla.read_mac_file(source)
    target = hla_mac_file(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    temporary.write_bytes(source.read_bytes())
    os.replace(temporary, target)
    hla_reference.cache_clear()
    return len(codes)


@lru_cache(maxsize=1)
def hla_haplotypes() -> HaplotypeSet | None:
    """The haplotype-frequency set for match likelihoods (DONORFLOW_HLA_HAPLOTYPES); None: not configured."""
    settings = get_settings()
    if not settings.hla_haplotypes:
        return None
    path = SHIPPED_HAPLOTYPES if settings.hla_haplotypes == "demo" else Path(settings.hla_haplotypes)
    return load_haplotypes(path, hla_reference(), settings.hla_haplotype_population or None)


def hla_index_store(settings: Settings | None = None) -> IndexStore:
    settings = settings or get_settings()
    return IndexStore(IndexFile(settings.var_dir / "hla-index.npz"), hla_reference())


def renderer(settings: Settings | None = None) -> Renderer:
    """The message renderer: this branch's name, hotline and SMS signature in every template, its own
    wording from DONORFLOW_TEMPLATES_DIR where it has some, SMS renders capped at max_sms_parts."""
    settings = settings or get_settings()
    return Renderer(
        settings.templates_dir,
        branches={
            "zh-CN": Branch(
                branch=settings.branch_name, hotline=settings.branch_hotline, signature=settings.sms_signature
            ),
            # An English SMS carries the English name where a Chinese one carries the registered 签名.
            "en": Branch(
                branch=settings.branch_name_en,
                hotline=settings.branch_hotline,
                signature=settings.branch_name_en,
            ),
        },
        max_sms_parts=settings.max_sms_parts,
    )


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade_database(url: str | None = None) -> None:
    """Apply every migration (idempotent: an up-to-date database is left as it is)."""
    settings = get_settings()
    if url is None:
        get_engine(settings)  # creates var/ for the default SQLite file
        url = settings.resolved_database_url
    command.upgrade(alembic_config(url), "head")


def schema_problem(engine: Engine) -> str | None:
    """Why the database cannot be used by this donorflow (never migrated, behind, ahead), or None.

    Checked before a command touches a table, so a forgotten `donorflow db upgrade` is one line, not a
    traceback from the first query.
    """
    script = ScriptDirectory(str(Path(migrations.__file__).parent))
    heads = set(script.get_heads())
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except SQLAlchemyError as exc:
        # The driver's message may carry the URL (and its password): name only the kind of failure.
        return f"cannot open the database ({type(exc).__name__}); check DONORFLOW_DATABASE_URL"
    if current == heads:
        return None
    if not current:
        return "the database has no donorflow schema yet: run `donorflow db upgrade`"
    known = {revision.revision for revision in script.walk_revisions()}
    if not current <= known:
        return (
            f"the database is at migration {', '.join(sorted(current))}, newer than this donorflow "
            f"knows ({', '.join(sorted(heads))}): upgrade donorflow"
        )
    return (
        f"the database is at migration {', '.join(sorted(current))}, this donorflow needs "
        f"{', '.join(sorted(heads))}: run `donorflow db upgrade`"
    )


def configure_logging(level: int = logging.INFO) -> None:
    """Log to stderr with the PII mask applied to every record, whoever logs it."""
    install_record_masking()
    handler = logging.StreamHandler()
    handler.addFilter(PiiMaskingFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for chatty in ("alembic", "httpx"):  # a line per migration or request is noise for users
        logging.getLogger(chatty).setLevel(logging.WARNING)


# -- notifications: the dispatcher (issue 10) ------------------------------------------------------------
def dispatch_config(settings: Settings | None = None) -> DispatchConfig:
    """The dispatcher's settings; a malformed DONORFLOW_QUIET_HOURS is a ValidationError naming it."""
    from notifications.dispatch import DispatchConfig

    settings = settings or get_settings()
    return DispatchConfig(
        batch_size=settings.dispatch_batch_size,
        lease=timedelta(seconds=settings.dispatch_lease_seconds),
        concurrency=settings.dispatch_concurrency,
        max_attempts=settings.max_attempts,
        retry_base_seconds=settings.retry_base_seconds,
        retry_cap_seconds=settings.retry_cap_seconds,
        quiet_hours=parse_quiet_hours(settings.quiet_hours),
        rates={
            "sms": settings.rate_sms_per_second,
            "email": settings.rate_email_per_second,
            "wechat": settings.rate_wechat_per_second,
            "webhook": settings.rate_webhook_per_second,
        },
        max_per_run=settings.dispatch_max_per_run,
    )


async def dispatch_once(settings: Settings | None = None, *, dry_run: bool = False) -> DispatchResult:
    """One dispatcher run with this installation's database, channels and templates (the flow's and the
    CLI's hook)."""
    from donorflow.channels import build_channels
    from notifications.dispatch import dispatch

    settings = settings or get_settings()
    config = dispatch_config(settings)
    engine = get_engine(settings)
    channels = build_channels(settings)
    try:
        return await dispatch(
            session_factory=lambda: Session(engine),
            channels=channels,
            renderer=renderer(settings),
            config=config,
            dry_run=dry_run,
        )
    finally:
        await channels.aclose()


# -- reminders (issue 11) ----------------------------------------------------------------------------------
def reminder_config(settings: Settings | None = None) -> ReminderConfig:
    settings = settings or get_settings()
    return ReminderConfig(
        catch_up_days=settings.reminder_catch_up_days,
        answer_days=settings.follow_up_answer_days,
        max_reminders=settings.follow_up_max_reminders,
        age_limit=settings.donate_max_age,
        stage_limits=dict(settings.stage_limits),
        batch_size=settings.reminder_batch_size,
        ui_url=settings.prefect_ui_url,
    )


def run_reminders(day: date, settings: Settings | None = None) -> RunResult:
    """The reminder engine's run for `day` with this installation's database (the flow's and CLI's hook)."""
    settings = settings or get_settings()
    engine = get_engine(settings)
    return run(lambda: Session(engine), day, reminder_config(settings))


def plan_reminders(day: date, settings: Settings | None = None) -> Plan:
    """What `run_reminders(day)` would do; writes nothing."""
    settings = settings or get_settings()
    with Session(get_engine(settings)) as session:
        return plan(session, day, reminder_config(settings))


# -- the dashboard (issue 12) -------------------------------------------------------------------------------
_DASHBOARD_KEY_FILE = "dashboard_session_key"


def dashboard_secret(settings: Settings | None = None) -> str:
    """The key that signs the dashboard's session cookie: DONORFLOW_DASHBOARD_SECRET, else a random one
    kept in the secrets directory (made on first use, 0600). Losing it only logs everyone out."""
    settings = settings or get_settings()
    if settings.dashboard_secret is not None:
        return settings.dashboard_secret.get_secret_value()
    path = settings.secrets_dir / _DASHBOARD_KEY_FILE
    if not path.exists():
        _write_secret(path, secrets.token_urlsafe(48).encode())
    return _read_secret(path, "the dashboard's session key").decode()


def dashboard_app(settings: Settings | None = None) -> FastAPI:
    """The dashboard with this installation's database, cookie key, throttle, Prefect UI link and API."""
    from dashboard import DashboardConfig, create_app
    from models.accounts import Throttle

    settings = settings or get_settings()
    engine = get_engine(settings)
    return create_app(
        DashboardConfig(
            session_factory=lambda: Session(engine),
            secret_key=dashboard_secret(settings),
            https_only=settings.dashboard_https_only,
            session_max_age=settings.dashboard_session_hours * 3600,
            throttle=Throttle(
                max_failures_per_name=settings.login_max_failures,
                max_failures_per_client=settings.login_max_failures_per_client,
                window=timedelta(minutes=settings.login_window_minutes),
            ),
            prefect_ui_url=settings.prefect_ui_url,
            prefect_api_url=settings.prefect_api_url,
        )
    )
