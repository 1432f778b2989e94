"""Flows call services: the import-linter contract catches a flow importing SQLAlchemy, and no flow holds
a table class (which a re-export through a package would hide from import-linter)."""

from __future__ import annotations

import importlib
import os
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from sqlmodel import SQLModel

import flows

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hla", "models", "notifications", "flows", "dashboard", "donorflow")
CONTRACT = "Flows call services: no SQLAlchemy, no sqlmodel, no table modules"


def _lint_imports(tree: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    env = {**os.environ, "PYTHONPATH": str(tree)}  # the copy, not the installed worktree
    return subprocess.run(
        [str(lint), "--config", "pyproject.toml", "--no-cache"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("contract")
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            shutil.copytree(ROOT / package, copy / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    return copy


def test_the_flows_contract_is_kept_by_the_code_as_it_is(tree: Path) -> None:
    result = _lint_imports(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{CONTRACT} KEPT" in " ".join(result.stdout.split())


@pytest.mark.parametrize("violation", ["import sqlalchemy", "from models.cases.tables import DonorCase"])
def test_a_flow_importing_sqlalchemy_or_a_table_module_breaks_the_flows_contract(
    tree: Path, violation: str
) -> None:
    reports = tree / "flows" / "reports.py"
    original = reports.read_text(encoding="utf-8")
    reports.write_text(original.replace("from __future__ import annotations\n", f"{violation}\n", 1))
    try:
        result = _lint_imports(tree)
    finally:
        reports.write_text(original, encoding="utf-8")
    output = " ".join(result.stdout.split())
    assert result.returncode == 1, output
    assert f"{CONTRACT} BROKEN" in output
    assert "Contracts: 3 kept, 1 broken" in output  # only this contract: the violation is the flow's


def test_no_flow_module_holds_a_table_class() -> None:
    for module in pkgutil.iter_modules(flows.__path__, "flows."):
        namespace = vars(importlib.import_module(module.name))
        tables = [
            name
            for name, value in namespace.items()
            if isinstance(value, type) and issubclass(value, SQLModel) and hasattr(value, "__table__")
        ]
        assert not tables, f"{module.name} holds table classes {tables}: call a service instead"
