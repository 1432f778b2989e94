"""Getting members in: sign-up sheets read and validated, the sign-up and ATLAS imports, the inbox folder."""

from models.intake.atlas import import_atlas, is_atlas_file
from models.intake.atlas_records import atlas_member_key
from models.intake.import_summary import ImportSummary
from models.intake.imports import INBOX_SUFFIXES, import_file, in_inbox_format
from models.intake.inbox import already_imported, remember_import, sheet_in_inbox
from models.intake.policy import ImportPolicy, national_id_hash
from models.intake.rejects import check_rejects_path, safe_cell, write_rejects_csv
from models.intake.report import ImportReport
from models.intake.sheet import read_sheet
from models.intake.sheet_dates import LOCAL_TZ
from models.intake.sheet_files import SheetLimits, open_regular_file
from models.intake.sheet_rows import SheetRows
from models.intake.signup import import_records, import_signups
from models.intake.validation import RowRejection, SignupRecord, validate_row

__all__ = [
    "INBOX_SUFFIXES",
    "ImportPolicy",
    "ImportReport",
    "ImportSummary",
    "LOCAL_TZ",
    "RowRejection",
    "SheetLimits",
    "SheetRows",
    "SignupRecord",
    "already_imported",
    "atlas_member_key",
    "check_rejects_path",
    "import_atlas",
    "import_file",
    "import_records",
    "import_signups",
    "in_inbox_format",
    "is_atlas_file",
    "national_id_hash",
    "open_regular_file",
    "read_sheet",
    "remember_import",
    "safe_cell",
    "sheet_in_inbox",
    "validate_row",
    "write_rejects_csv",
]
