"""The composition root: settings, engine, salt. Nothing else constructs these."""

from __future__ import annotations

import logging
import os
import secrets
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

import hla
import migrations
from donorflow.settings import Settings
from models.db import make_engine
from models.masking import PiiMaskingFilter, install_record_masking
from models.matching import IndexStore
from models.sheet_files import SheetLimits
from models.signup_import import ImportPolicy

__all__ = [
    "configure_logging",
    "get_engine",
    "get_settings",
    "hla_index_store",
    "hla_reference",
    "id_salt",
    "import_policy",
    "schema_problem",
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


def id_salt(settings: Settings | None = None) -> bytes:
    """DONORFLOW_ID_SALT, or a salt generated once into var/id_salt (mode 0600). Never logged.

    Losing it means re-imported members can no longer be recognised: back it up with the database.
    """
    settings = settings or get_settings()
    if settings.id_salt is not None:
        return settings.id_salt.get_secret_value().encode()
    path = settings.var_dir / "id_salt"
    if not path.exists():
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


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
def hla_reference() -> hla.Reference | None:
    """The optional IMGT/HLA and MAC tables (DONORFLOW_HLA_DATA_DIR); None means the built-in rules."""
    data_dir = get_settings().hla_data_dir
    return hla.load_reference(data_dir) if data_dir else None


def hla_index_store(settings: Settings | None = None) -> IndexStore:
    settings = settings or get_settings()
    return IndexStore(settings.var_dir / "hla-index.npz", hla_reference())


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
