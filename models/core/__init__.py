"""Plumbing every room uses: sessions and UTC times, the clock, errors, PII masking, the audit log."""

from models.core.audit import StageEvent, StageEventPublic, audit_event, audit_values
from models.core.clock import SHANGHAI, add_months, birthday, local_date
from models.core.db import (
    Session,
    SessionFactory,
    UtcDateTime,
    make_engine,
    transaction,
    unit_of_work,
    utcnow,
)
from models.core.errors import (
    BalanceExhaustedError,
    BusyError,
    ConfigurationError,
    ConflictError,
    DonorflowError,
    IllegalTransitionError,
    NotFoundError,
    PermanentDeliveryError,
    SheetError,
    TransientDeliveryError,
    ValidationError,
)
from models.core.masking import (
    PiiMaskingFilter,
    install_record_masking,
    mask_email,
    mask_name,
    mask_national_id,
    mask_phone,
    mask_text,
)
from models.core.tally import StageDayCount, StageStayCount

__all__ = [
    "SHANGHAI",
    "BalanceExhaustedError",
    "BusyError",
    "ConfigurationError",
    "ConflictError",
    "DonorflowError",
    "IllegalTransitionError",
    "NotFoundError",
    "PermanentDeliveryError",
    "PiiMaskingFilter",
    "Session",
    "SessionFactory",
    "SheetError",
    "StageDayCount",
    "StageEvent",
    "StageEventPublic",
    "StageStayCount",
    "TransientDeliveryError",
    "UtcDateTime",
    "ValidationError",
    "add_months",
    "audit_event",
    "audit_values",
    "birthday",
    "install_record_masking",
    "local_date",
    "make_engine",
    "mask_email",
    "mask_name",
    "mask_national_id",
    "mask_phone",
    "mask_text",
    "transaction",
    "unit_of_work",
    "utcnow",
]
