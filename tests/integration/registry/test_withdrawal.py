"""Withdrawal of consent: what is erased (the ID mask too), and that it never writes over a newer change."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from donorflow.demo import signup_rows, write_signup_csv
from models.core import ConflictError
from models.intake import ImportPolicy, import_signups
from models.registry import Donor, HlaTyping, get_donor, withdraw_donor

POLICY = ImportPolicy(id_salt=b"withdraw-salt", batch_size=10)


def test_withdrawal_erases_the_id_mask_and_keeps_only_the_hash(session: Session, tmp_path: Path) -> None:
    person = next(signup_rows(1, seed=5, day=date(2021, 6, 14)))
    report = import_signups(
        session=session, path=write_signup_csv(tmp_path / "a.csv", [person]), policy=POLICY
    )
    code = report.accepted[0].code
    donor = get_donor(session=session, code=code)
    assert donor.national_id_masked == person.national_id[:6] + "*" * 12  # the region code, nothing more
    withdrawn = withdraw_donor(session=session, code=code, actor="data-manager")
    assert withdrawn.national_id_masked == ""
    assert (withdrawn.name, withdrawn.phone, withdrawn.email, withdrawn.external_id) == (
        None,
        None,
        None,
        None,
    )
    assert withdrawn.birth_date == person.birth_date.replace(month=1, day=1)
    assert withdrawn.national_id_hash and withdrawn.withdrawn_at is not None


def test_withdrawal_decided_on_a_stale_read_is_a_conflict_and_changes_nothing(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    person = next(signup_rows(1, seed=6, day=date(2021, 6, 14)))
    report = import_signups(
        session=session, path=write_signup_csv(tmp_path / "a.csv", [person]), policy=POLICY
    )
    code = report.accepted[0].code
    with Session(engine) as coordinator:
        held = get_donor(session=coordinator, code=code)  # the coordinator's read, held in its session
        assert held.version == 1
        moved = replace(person, phone="13700002222")
        import_signups(session=session, path=write_signup_csv(tmp_path / "b.csv", [moved]), policy=POLICY)
        with pytest.raises(ConflictError, match=f"member {code} was changed by someone else"):
            withdraw_donor(session=coordinator, code=code, actor="coordinator")
    session.expire_all()
    donor = session.exec(select(Donor).where(Donor.code == code)).one()
    assert (donor.status, donor.phone, donor.version) == ("registered", "13700002222", 2)
    assert donor.national_id_masked != ""
    assert session.exec(select(HlaTyping)).first() is None
