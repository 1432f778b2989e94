"""Each import-linter contract in pyproject.toml fails on a deliberate violation, and a clean copy passes.

The source packages and pyproject.toml are copied to a temporary folder, one module gets the violating
import appended, and `lint-imports` runs there with that folder first on PYTHONPATH (import-linter
imports the packages to find them, so the copies shadow the editable install). Add a row to CASES for
each new contract: the contract's name as in pyproject.toml, the module to poison, the import line (and
any contract it also breaks through an indirect import).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")  # the venv's own, beside its python
PACKAGES = ("hla", "models", "notifications", "flows", "dashboard", "donorflow", "migrations")


LAYERS = (
    "Dependencies point one way: donorflow -> flows/dashboard/migrations -> notifications -> models -> hla"
)
MODELS = "models is the domain: no Prefect, no HTTP, no templates"
NO_PREFECT = "Notifications and the dashboard never import Prefect"
HLA = "hla is pure: no database, no web, no templates, no Prefect"
MIGRATIONS = "migrations see the schema only: tables, core column types, Alembic, SQLAlchemy"
REVISIONS = "Migration scripts use only the core column types, never today's tables or services"
LOCKS = "Only the index store adapter locks files"
FLOWS = "Flows call services: no SQLAlchemy, no sqlmodel, no table modules"


class Violation(NamedTuple):
    contract: str  # the contract the import breaks, named as in pyproject.toml
    module: str  # a file under the project root
    line: str  # the import appended to it
    also: tuple[str, ...] = ()  # contracts broken through an indirect import (migrations import models)


CASES = [
    Violation(LAYERS, "notifications/__init__.py", "import dashboard"),
    Violation(MODELS, "models/core/clock.py", "import httpx", also=(MIGRATIONS,)),
    Violation(MODELS, "models/cases/funnel.py", "import jinja2", also=(MIGRATIONS,)),
    # notifications.dispatch reaches models.registry through the outbox's services (models.outreach)
    Violation(MODELS, "models/registry/codes.py", "import prefect", also=(MIGRATIONS, NO_PREFECT)),
    Violation(NO_PREFECT, "dashboard/__init__.py", "import prefect"),
    Violation(HLA, "hla/grading.py", "import sqlalchemy"),
    Violation(MIGRATIONS, "migrations/env.py", "import notifications"),
    Violation(MIGRATIONS, "migrations/env.py", "import prefect"),
    Violation(REVISIONS, "migrations/versions/0001_initial_schema.py", "import models.registry"),
    Violation(LOCKS, "models/matching/index.py", "import fcntl"),
    Violation(FLOWS, "flows/reports.py", "import sqlalchemy"),
    Violation(FLOWS, "flows/reports.py", "from models.cases.tables import DonorCase"),
]


def _copy_project(target: Path) -> None:
    for package in PACKAGES:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", target / "pyproject.toml")


def _lint(folder: Path) -> tuple[int, set[str], set[str]]:
    """Run lint-imports in `folder`: (exit code, names of kept contracts, names of broken contracts)."""
    env = {**os.environ, "PYTHONPATH": str(folder), "COLUMNS": "1000"}  # COLUMNS: names on one line
    done = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", "pyproject.toml"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    output = done.stdout + done.stderr
    kept = set(re.findall(r"^(.+?) KEPT", output, re.MULTILINE))
    broken = set(re.findall(r"^(.+?) BROKEN", output, re.MULTILINE))
    return done.returncode, kept, broken


def test_clean_copy_keeps_every_contract(tmp_path: Path) -> None:
    _copy_project(tmp_path)
    code, kept, broken = _lint(tmp_path)
    assert (code, broken) == (0, set())
    assert kept >= {case.contract for case in CASES}  # every contract in the table is read and checked


@pytest.mark.parametrize("case", CASES, ids=lambda case: f"{case.module}:{case.line}")
def test_violation_breaks_exactly_its_contract(tmp_path: Path, case: Violation) -> None:
    _copy_project(tmp_path)
    module = tmp_path / case.module
    module.write_text(module.read_text() + f"\n{case.line}  # deliberate violation\n")
    code, _kept, broken = _lint(tmp_path)
    assert code != 0
    assert broken == {case.contract, *case.also}
