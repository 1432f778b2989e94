"""ATLAS donor import: Anthony Nolan's donor-update JSON files become registry members (DESIGN.md §2, §3).

The format is ATLAS's own, followed as its importer reads it (github.com/Anthony-Nolan/Atlas, read at
d2a6d8d: Schemas/DonorUpdateFileSchema.json, last changed in 14330e64, 2023-03; Atlas.DonorImport.FileSchema.
Models; Atlas.DonorImport/Services/DonorImportFileParser.cs, Validators/SearchableDonorValidator.cs,
Models/Mapping/ImportedLocusInterpreter.cs, Services/DonorRecordChangeApplier.cs):

    {"updateMode": "diff" | "full" | "check",
     "donors": [{"recordId": "7001", "changeType": "N" | "U" | "D" | "NU", "donorType": "D" | "C" | "B",
                 "donPool": "…", "ethn": "…",
                 "hla": {"a": {"dna": {"field1": "*02:01", "field2": "*24:02"}, "ser": {"field1": "2"}},
                         "b": {…}, "c": {…}, "drb1": {…}, "dqb1": {…}, "dpb1": {…}}}]}

ATLAS records carry no personal data: a member is known by its recordId alone, kept in `external_id` and,
salted and hashed as "atlas:<recordId>", in `national_id_hash`, whose unique constraint dedupes. donPool and
ethn have no column here and are not kept. Batches commit like the sign-up import (models.intake.batches): a
crash loses at most the batch in flight, and a rerun of the same file changes nothing (N rows are then
reported as existing).

Where this differs from ATLAS, on purpose: a record ATLAS fails the whole file for (no recordId, changeType
or donorType) is one rejected row here; a D for an unknown recordId (ATLAS: a notification) is a rejected
row; a withdrawn member is not re-created by a later N/NU (re-registration needs a new consent, as for
sign-up sheets); a "NEW" allele (not yet named by WHO) cannot be graded and rejects the record.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session

import hla
from models.core import SHANGHAI, SheetError, utcnow
from models.intake.atlas_batch import AtlasBatchWriter
from models.intake.atlas_records import CHANGE_CODES, AtlasUpdate, json_field, lower_code, parse_donor
from models.intake.batches import run_in_batches
from models.intake.policy import ImportPolicy
from models.intake.report import AcceptedRow, ImportReport
from models.intake.sheet_files import SheetLimits, open_regular_file
from models.intake.validation import RowRejection
from models.registry import code_prefix

__all__ = ["import_atlas", "is_atlas_file"]

_FILE_KEYS = frozenset({"updateMode", "donors"})


def is_atlas_file(path: Path) -> bool:
    """Whether `donors import` should hand this file to :func:`import_atlas` (by extension, like Excel)."""
    return path.suffix.lower() == ".json"


def import_atlas(
    *,
    session: Session,
    path: Path,
    policy: ImportPolicy,
    actor: str = "import",
    progress: Callable[[int], None] | None = None,
    reference: hla.Reference | None = None,
) -> ImportReport:
    """Import one ATLAS donor-update file. Unusable files raise SheetError; bad donors are reported.

    `row` in the report is the donor's 1-based position in the file's donors array. A deletion (D)
    withdraws the member and is reported as "updated". `reference` (IMGT/HLA, MAC tables) is optional:
    without it a multiple allele code is checked for form only and kept as written.
    """
    mode, donors = _read_file(path, policy.limits)
    report = ImportReport()
    year = utcnow().astimezone(SHANGHAI).year
    prefix = code_prefix(policy.registry_prefix, year)
    parsed = (parse_donor(row, raw, policy.id_salt, reference) for row, raw in enumerate(donors, start=1))

    def write(batch: Sequence[AtlasUpdate | RowRejection]) -> tuple[list[AcceptedRow], list[RowRejection]]:
        refused = [u for u in batch if isinstance(u, RowRejection)]
        updates = [u for u in batch if not isinstance(u, RowRejection)]
        if not updates:
            return [], refused
        accepted, rejected = AtlasBatchWriter(session, prefix, actor).write(updates)
        return accepted, [*refused, *rejected]

    def committed(outcome: tuple[list[AcceptedRow], list[RowRejection]]) -> None:
        report.accepted.extend(outcome[0])
        report.rejected.extend(outcome[1])

    run_in_batches(
        session=session,
        rows=parsed,
        batch_size=policy.batch_size,
        write_batch=write,
        committed=committed,
        progress=progress,
    )
    report.finish(f"{path.name} (ATLAS {mode})", unit="donor")
    return report


def _read_file(path: Path, limits: SheetLimits) -> tuple[str, list[Any]]:
    """The update mode and the donors array; anything ATLAS would refuse as a file is a SheetError."""
    try:
        with open_regular_file(path, limits) as handle:  # never a FIFO or device; within the size limit
            raw = handle.read(limits.max_file_bytes + 1)
    except OSError as exc:
        raise SheetError(f"cannot read {path.name}: {exc.strerror or exc}") from exc
    try:
        document = json.loads(raw)  # RFC 8259: UTF-8 (a BOM is tolerated), UTF-16 or UTF-32
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SheetError(f"{path.name} is not a JSON file: {exc}") from exc
    if not isinstance(document, dict):
        raise SheetError(f'{path.name}: an ATLAS donor file is a JSON object with a "donors" array')
    donors = document.get("donors")
    if not isinstance(donors, list) or not donors:
        raise SheetError(f'{path.name} has no "donors" array (an ATLAS donor import file needs one)')
    # DonorImportFileParser reads these two names exactly and refuses any other top-level property.
    unknown = sorted(str(key) for key in document if key not in _FILE_KEYS)
    if unknown:
        raise SheetError(
            f"{path.name}: unknown property {unknown[0]!r}; an ATLAS file has updateMode and donors"
        )
    mode = document.get("updateMode")
    mode = mode.strip().lower() if isinstance(mode, str) else mode
    if mode == "check":
        raise SheetError(f'{path.name} is an ATLAS donor check file (updateMode "check"): it imports nothing')
    if mode not in ("diff", "full"):
        raise SheetError(f'{path.name}: updateMode must be "diff" or "full", not {mode!r}')
    if mode == "full":
        _check_full_file(path, donors)
    return str(mode), donors


def _check_full_file(path: Path, donors: list[Any]) -> None:
    """DonorImportFileParser fails a whole "full" file (an initial load) on its first U or D record."""
    for row, raw in enumerate(donors, start=1):
        change = (
            CHANGE_CODES.get(lower_code(json_field(raw, "changeType")) or "")
            if isinstance(raw, dict)
            else None
        )
        if change in ("U", "D"):
            raise SheetError(f'{path.name}: donor {row} has changeType {change}; a "full" file only creates')
