"""No flow holds a table class: a re-export through a room's package (`from models.registry import Donor`)
is invisible to the import-linter contract (tests/unit/test_import_contracts.py checks that one)."""

from __future__ import annotations

import importlib
import pkgutil

from sqlmodel import SQLModel

import flows


def test_no_flow_module_holds_a_table_class() -> None:
    for module in pkgutil.iter_modules(flows.__path__, "flows."):
        namespace = vars(importlib.import_module(module.name))
        tables = [
            name
            for name, value in namespace.items()
            if isinstance(value, type) and issubclass(value, SQLModel) and hasattr(value, "__table__")
        ]
        assert not tables, f"{module.name} holds table classes {tables}: call a service instead"
