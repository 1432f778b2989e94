"""HLA typings of members: the confirmatory (high-resolution) result recorded by the high-res stage."""

from __future__ import annotations

from datetime import date

from sqlmodel import Session

from models.cases.forms import HighResResult
from models.registry import HLA_COLUMNS, HlaTyping

__all__ = ["add_high_res_typing"]


def add_high_res_typing(
    *, session: Session, donor_id: int, answer: HighResResult, sampled_on: date
) -> HlaTyping:
    """Add (not replace) the lab's typing: the member's earlier typings stay as history."""
    typing = HlaTyping(donor_id=donor_id, resolution="high", sampled_on=sampled_on)
    for column in HLA_COLUMNS:
        setattr(typing, column, getattr(answer, column).strip() or None)
    session.add(typing)
    return typing
