"""What the imports queue for members: a welcome per new registration (sign-up sheets), none for an ATLAS
transfer, and an ATLAS deletion stops the messages still pending to the member."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from sqlmodel import Session, col, select

from donorflow.demo import SignupRow, signup_rows, write_signup_csv
from models.core import transaction
from models.intake import ImportPolicy, atlas_member_key, import_atlas, import_signups
from models.outreach import Outbox, enqueue
from models.registry import Donor, withdraw_donor

POLICY = ImportPolicy(id_salt=b"welcome-salt", batch_size=4)
TYPED = {
    "a": {"dna": {"field1": "*02:01", "field2": "*24:02"}},
    "b": {"dna": {"field1": "*40:01", "field2": "*46:01"}},
    "drb1": {"dna": {"field1": "*09:01", "field2": "*15:01"}},
}


def _people(count: int, seed: int = 31) -> list[SignupRow]:
    return list(signup_rows(count, seed=seed, day=date(2021, 6, 14)))


def _outbox(session: Session) -> list[Outbox]:
    session.expire_all()
    return list(session.exec(select(Outbox).order_by(col(Outbox.id))))


def test_each_new_member_gets_one_welcome_with_only_the_code(session: Session, tmp_path: Path) -> None:
    people = _people(10)  # three batches of four: the welcomes commit with their batch
    report = import_signups(session=session, path=write_signup_csv(tmp_path / "a.csv", people), policy=POLICY)

    rows = _outbox(session)
    donors = {d.code: d for d in session.exec(select(Donor))}
    assert sorted(r.context["code"] for r in rows) == sorted(a.code for a in report.accepted)
    for row in rows:
        donor = donors[row.context["code"]]
        assert (row.template_key, row.recipient_ref, row.idempotency_key) == (
            "registration_welcome",
            f"donor:{donor.id}",
            f"member:{donor.id}:welcome",
        )
        assert (row.channel, row.urgent, row.status, row.language) == (None, False, "pending", "zh-CN")
        assert row.context == {"code": donor.code} and row.address_snapshot is None
    everything = json.dumps([r.context for r in rows], ensure_ascii=False)
    for person in people:
        assert person.name not in everything and person.phone not in everything
        assert person.national_id not in everything and person.email not in everything


def test_importing_the_same_sheet_again_welcomes_no_one_twice(session: Session, tmp_path: Path) -> None:
    people = _people(5)
    sheet = write_signup_csv(tmp_path / "a.csv", people)
    import_signups(session=session, path=sheet, policy=POLICY)
    changed = write_signup_csv(tmp_path / "b.csv", [replace(people[0], phone="13700002222"), *people[1:]])
    import_signups(session=session, path=sheet, policy=POLICY)
    import_signups(session=session, path=changed, policy=POLICY)  # a known member, updated: no welcome
    assert [r.template_key for r in _outbox(session)] == ["registration_welcome"] * 5


def test_a_member_rejoining_with_a_new_consent_is_welcomed_again(session: Session, tmp_path: Path) -> None:
    person = _people(1)[0]
    first = import_signups(
        session=session, path=write_signup_csv(tmp_path / "a.csv", [person]), policy=POLICY
    )
    code = first.accepted[0].code
    with transaction(session):
        withdraw_donor(session=session, code=code, actor="data-manager", at=datetime(2021, 7, 1, tzinfo=UTC))
    again = replace(person, consent_at=datetime(2021, 9, 1, 10), phone="13700001111")
    sheet = write_signup_csv(tmp_path / "again.csv", [again])
    import_signups(session=session, path=sheet, policy=POLICY)
    import_signups(session=session, path=sheet, policy=POLICY)  # the re-join sheet again: known, no welcome

    donor = session.exec(select(Donor).where(Donor.code == code)).one()
    welcomes = [(r.idempotency_key, r.context) for r in _outbox(session)]
    assert welcomes == [
        (f"member:{donor.id}:welcome", {"code": code}),
        (f"member:{donor.id}:welcome:20210901T100000", {"code": code}),
    ]


def test_atlas_transfers_get_no_welcome_and_a_deletion_stops_their_pending_messages(
    session: Session, tmp_path: Path
) -> None:
    def atlas(name: str, *donors: dict[str, object]) -> None:
        path = tmp_path / name
        path.write_text(json.dumps({"updateMode": "diff", "donors": list(donors)}), encoding="utf-8")
        import_atlas(session=session, path=path, policy=POLICY, actor="test")

    new = {"changeType": "N", "donorType": "D", "hla": TYPED}
    atlas("first.json", {"recordId": "70", **new}, {"recordId": "71", **new})
    assert _outbox(session) == []  # the sending registry welcomed them: this is a transfer

    members = {
        rid: session.exec(
            select(Donor).where(Donor.national_id_hash == atlas_member_key(rid, POLICY.id_salt))
        ).one()
        for rid in ("70", "71")
    }
    with transaction(session):  # e.g. an availability check queued for each
        for rid, donor in members.items():
            enqueue(
                session=session, donor=donor, template_key="availability_check", context={}, key=f"k{rid}"
            )
    atlas("second.json", {"recordId": "70", "changeType": "D", "donorType": "D", "hla": None})

    by_key = {r.idempotency_key: r for r in _outbox(session)}
    assert (by_key["k70"].status, by_key["k70"].last_error) == ("skipped", "withdrawn")
    assert (by_key["k71"].status, by_key["k71"].last_error) == ("pending", None)
    assert len(by_key) == 2  # no confirmation: the member withdrew at the registry that sent the file
