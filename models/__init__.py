"""Domain: SQLModel tables, state machines and use-case services. No Prefect here (DESIGN.md §1)."""

from models.blood import BloodDonation, Deferral
from models.cases import DonorCase, DonorCasePublic, PatientSearch, PatientSearchCreate, StageEvent
from models.db import make_engine, transaction, utcnow
from models.errors import (
    ConflictError,
    DonorflowError,
    IllegalTransitionError,
    NotFoundError,
    SheetError,
    ValidationError,
)
from models.outbox import Outbox
from models.pipeline import CaseStage, CaseStatus, CloseReason, RegistryStatus
from models.registry import Donor, DonorPublic, HlaTyping, RecruitmentEvent, RecruitmentEventCreate

__all__ = [
    "BloodDonation",
    "CaseStage",
    "CaseStatus",
    "CloseReason",
    "ConflictError",
    "Deferral",
    "Donor",
    "DonorCase",
    "DonorCasePublic",
    "DonorPublic",
    "DonorflowError",
    "HlaTyping",
    "IllegalTransitionError",
    "NotFoundError",
    "Outbox",
    "PatientSearch",
    "PatientSearchCreate",
    "RecruitmentEvent",
    "RecruitmentEventCreate",
    "RegistryStatus",
    "SheetError",
    "StageEvent",
    "ValidationError",
    "make_engine",
    "transaction",
    "utcnow",
]
