"""Every schema change is a migration: head matches the models, and the chain goes down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command

from donorflow.bootstrap import alembic_config
from tests.databases import BACKENDS, fresh_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models_and_downgrade_cleanly(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:  # already upgraded to head
        config = alembic_config(url)
        command.check(config)  # raises if the models differ from what the migrations create
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)
