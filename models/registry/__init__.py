"""The member registry: drives, members, HLA typings, codes, status changes, deferrals, withdrawal."""

from models.registry.codes import code_prefix, reserve_codes
from models.registry.deferrals import Deferral, defer_member
from models.registry.drives import EVENT_KINDS, drive_input
from models.registry.hla_columns import (
    HLA_COLUMNS,
    HLA_HEADERS,
    LOCUS_COLUMNS,
    POSITIONS,
    column_locus,
    column_name,
    column_title,
    sheet_header,
)
from models.registry.lifecycle import NOT_CONTACTED, REGISTRY_MOVES, RegistryStatus, allowed_registry_moves
from models.registry.members import (
    create_event,
    erase_withdrawn,
    get_donor,
    get_event,
    latest_typing,
    show_donor,
    withdraw_donor,
)
from models.registry.tables import (
    Donor,
    DonorPublic,
    HlaTyping,
    RecruitmentEvent,
    RecruitmentEventCreate,
    RecruitmentEventPublic,
)
from models.registry.transitions import change_registry_status

__all__ = [
    "Deferral",
    "Donor",
    "DonorPublic",
    "EVENT_KINDS",
    "HLA_COLUMNS",
    "HLA_HEADERS",
    "HlaTyping",
    "LOCUS_COLUMNS",
    "POSITIONS",
    "REGISTRY_MOVES",
    "RecruitmentEvent",
    "RecruitmentEventCreate",
    "RecruitmentEventPublic",
    "NOT_CONTACTED",
    "RegistryStatus",
    "allowed_registry_moves",
    "change_registry_status",
    "code_prefix",
    "column_locus",
    "column_name",
    "column_title",
    "create_event",
    "defer_member",
    "drive_input",
    "erase_withdrawn",
    "get_donor",
    "get_event",
    "latest_typing",
    "reserve_codes",
    "sheet_header",
    "show_donor",
    "withdraw_donor",
]
