"""`donorflow hla tables` and `donorflow hla import-macs` (issue 13 item 1), as a data manager runs them.
No database: the reference tables are files (the shipped release, var/hla)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from hla import SHIPPED_RELEASE

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))
IMGT_DIR = Path(__file__).resolve().parents[1] / "data" / "hla" / "imgt"


def run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k != "DONORFLOW_HLA_DATA_DIR"}
    environment.update(
        DONORFLOW_VAR_DIR=str(tmp_path / "var"),
        DONORFLOW_DATABASE_URL=f"sqlite:///{tmp_path / 'unused.db'}",
        COLUMNS="200",
        **env,
    )
    return subprocess.run([DONORFLOW, *args], env=environment, capture_output=True, text=True, timeout=120)


def test_tables_show_the_shipped_release_and_its_cache(tmp_path: Path) -> None:
    shown = run(tmp_path, "hla", "tables")
    assert shown.returncode == 0, shown.stderr
    assert f"IPD-IMGT/HLA {SHIPPED_RELEASE}" in shown.stdout and "版本 release" in shown.stdout
    assert "rel_dna_ser.txt.gz" in shown.stdout and "未导入 not imported" in shown.stdout
    assert "names before 2010" in shown.stdout
    summary = json.loads(run(tmp_path, "hla", "tables", "--json").stdout)
    assert summary["release"] == SHIPPED_RELEASE and summary["counts"]["alleles"] > 30_000
    cache = Path(summary["cache"])
    assert cache.parent == tmp_path / "var" / "hla" and summary["fingerprint"] in cache.name


def test_data_dir_points_at_another_release(tmp_path: Path) -> None:
    summary = json.loads(
        run(tmp_path, "hla", "tables", "--json", DONORFLOW_HLA_DATA_DIR=str(IMGT_DIR)).stdout
    )
    assert summary["release"] == "3.99.0" and summary["source"] == "DONORFLOW_HLA_DATA_DIR"
    assert summary["counts"]["mac_codes"] == 5


def test_import_macs_is_kept_and_loaded_next_time(tmp_path: Path) -> None:
    codes = tmp_path / "numer.v3.txt"
    codes.write_text('"LAST UPDATED: 01/01/25"\n*\tCODE\tSUBTYPE\n\n\tAB\t01/02\n\tAF\t01/06\n')
    imported = run(tmp_path, "hla", "import-macs", str(codes))
    assert imported.returncode == 0, imported.stderr
    assert "已导入 imported 2" in imported.stdout
    summary = json.loads(run(tmp_path, "hla", "tables", "--json").stdout)
    assert summary["mac_imported"] and summary["counts"]["mac_codes"] == 2

    broken = tmp_path / "broken.txt"
    broken.write_text("this is not a code table\n")
    refused = run(tmp_path, "hla", "import-macs", str(broken))
    assert refused.returncode == 1 and "not an NMDP MAC file" in refused.stderr
    assert json.loads(run(tmp_path, "hla", "tables", "--json").stdout)["counts"]["mac_codes"] == 2
