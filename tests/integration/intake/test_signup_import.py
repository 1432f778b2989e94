"""Sign-up import against a real database: good rows land, bad rows are reported, reruns change nothing."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from donorflow.demo import SIGNUP_HEADER, SignupRow, make_national_id, signup_rows, write_signup_csv
from models.core import NotFoundError, SheetError, StageEvent
from models.intake import ImportPolicy, SheetLimits, import_signups
from models.registry import Donor, HlaTyping, RecruitmentEventCreate, create_event, show_donor, withdraw_donor

POLICY = ImportPolicy(id_salt=b"test-salt", batch_size=50)


def _count(session: Session, model: type[Donor] | type[StageEvent] | type[HlaTyping]) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def _drive(session: Session, held_on: date = date(2021, 6, 14)) -> int:
    event = create_event(
        session=session, data=RecruitmentEventCreate(name="郑大", held_on=held_on, location="郑州大学")
    )
    assert event.id is not None
    return event.id


def _good(count: int, start: int = 0) -> list[SignupRow]:
    return list(signup_rows(count, seed=7, start=start, day=date(2021, 6, 14)))


def _mixed_sheet(path: Path) -> tuple[Path, dict[int, str]]:
    """Twelve good rows with one of each kind of bad row between them; returns the bad rows' reasons."""
    good = [row.cells() for row in _good(12)]
    spare = [row.cells() for row in _good(6, start=100)]  # distinct people to break, one rule each
    column = {name: SIGNUP_HEADER.index(name) for name in SIGNUP_HEADER}
    old_id = make_national_id("410102", date(1970, 3, 3), 11)
    breakages: list[tuple[str, dict[str, str]]] = [
        ("check digit", {"national_id": ""}),  # filled below: the last character changed
        ("not a mainland mobile", {"phone": "12345"}),
        ("email", {"email": "not-an-email"}),
        ("consent_at", {"consent_at": ""}),
        ("outside 18–45", {"national_id": old_id, "birth_date": "1970-03-03", "sex": "M"}),
        ("sex", {"sex": ""}),  # filled below: the opposite of what the ID says
    ]
    rows: list[list[str]] = []
    reasons: dict[int, str] = {}
    for index, (reason, changes) in enumerate(breakages):
        rows.append(good[index])
        broken = list(spare[index])
        for name, value in changes.items():
            broken[column[name]] = value
        if reason == "check digit":
            original = spare[index][column["national_id"]]
            broken[column["national_id"]] = original[:-1] + ("1" if original[-1] != "1" else "2")
        if reason == "sex":
            broken[column["sex"]] = "F" if spare[index][column["sex"]] == "M" else "M"
        rows.append(broken)
        reasons[len(rows) + 1] = reason  # the header is row 1
    rows.extend(good[len(breakages) :])
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SIGNUP_HEADER)
        writer.writerows(rows)
    return path, reasons


def test_good_rows_land_and_each_bad_row_is_reported_with_row_and_reason(
    session: Session, tmp_path: Path
) -> None:
    sheet, reasons = _mixed_sheet(tmp_path / "mixed.csv")
    report = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    rejected = {r.row: r.errors for r in report.rejected}
    assert set(rejected) == set(reasons)
    for row, reason in reasons.items():
        assert any(reason in error for error in rejected[row]), (row, rejected[row])
    assert report.count("created") == 12
    assert _count(session, Donor) == 12
    assert all(a.code.startswith("ZZ21-") for a in report.accepted)


def test_reimporting_the_same_sheet_creates_nothing(session: Session, tmp_path: Path) -> None:
    sheet, _ = _mixed_sheet(tmp_path / "mixed.csv")
    event_id = _drive(session)
    first = import_signups(session=session, path=sheet, policy=POLICY, event_id=event_id)
    again = import_signups(session=session, path=sheet, policy=POLICY, event_id=event_id)
    assert again.to_json()["created"] == 0
    assert again.count("unchanged") == 12 and len(again.rejected) == len(first.rejected)
    assert [a.code for a in again.accepted] == [a.code for a in first.accepted]
    assert _count(session, Donor) == 12
    registered = select(func.count()).select_from(StageEvent).where(StageEvent.to_state == "registered")
    assert session.exec(registered).one() == 12


def test_same_person_again_updates_the_member_never_a_second_one(session: Session, tmp_path: Path) -> None:
    people = _good(3)
    event_id = _drive(session)
    import_signups(
        session=session, path=write_signup_csv(tmp_path / "a.csv", people), policy=POLICY, event_id=event_id
    )
    moved = SignupRow(**{**people[1].__dict__, "phone": "13912345678"})
    duplicate_in_file = [people[0], moved, people[2], people[2]]
    report = import_signups(
        session=session,
        path=write_signup_csv(tmp_path / "b.csv", duplicate_in_file),
        policy=POLICY,
        event_id=event_id,
    )
    assert [a.action for a in report.accepted] == ["unchanged", "updated", "unchanged", "unchanged"]
    assert _count(session, Donor) == 3
    donor = session.exec(select(Donor).where(Donor.code == report.accepted[1].code)).one()
    assert donor.phone == "13912345678" and donor.version == 2


def test_sheet_with_the_same_new_person_twice_creates_one_member(session: Session, tmp_path: Path) -> None:
    person = _good(1)[0]
    changed = SignupRow(**{**person.__dict__, "email": "new@example.org"})
    sheet = write_signup_csv(tmp_path / "twice.csv", [person, changed])
    report = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    assert [a.action for a in report.accepted] == ["created", "updated"]
    assert report.accepted[0].code == report.accepted[1].code
    assert session.exec(select(Donor)).one().email == "new@example.org"


def test_hla_columns_make_the_member_active_and_store_the_typing(session: Session, tmp_path: Path) -> None:
    person = _good(1)[0]
    sheet = tmp_path / "hla.csv"
    hla = {
        "A_1": "A*02:01",
        "A_2": "A*24:02",
        "B_1": "B*40:01",
        "B_2": "B*46:01",
        "DRB1_1": "DRB1*09:01",
        "DRB1_2": "DRB1*15:01",
    }
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *hla])
        writer.writerow([*person.cells(), *hla.values()])
    report = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    donor = session.exec(select(Donor)).one()
    assert donor.status == "active"
    typing = session.exec(select(HlaTyping)).one()
    assert (typing.a_1, typing.drb1_2, typing.c_1) == ("A*02:01", "DRB1*15:01", None)
    trail = session.exec(select(StageEvent.to_state).order_by(col(StageEvent.id))).all()
    assert trail == ["registered", "active"]
    again = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    assert again.count("unchanged") == 1 and _count(session, HlaTyping) == 1
    assert report.accepted[0].code == again.accepted[0].code


def test_unknown_drive_and_unusable_files_are_clear_errors(session: Session, tmp_path: Path) -> None:
    sheet = write_signup_csv(tmp_path / "ok.csv", _good(2))
    with pytest.raises(NotFoundError, match="recruitment event 999"):
        import_signups(session=session, path=sheet, policy=POLICY, event_id=999)
    with pytest.raises(SheetError, match="not found"):
        import_signups(session=session, path=tmp_path / "missing.csv", policy=POLICY)
    no_phone = tmp_path / "no_phone.csv"
    no_phone.write_text("name,sex,national_id,consent_at\n", encoding="utf-8")
    with pytest.raises(SheetError, match="phone"):
        import_signups(session=session, path=no_phone, policy=POLICY)
    assert _count(session, Donor) == 0


def test_withdrawal_erases_personal_data_but_keeps_counts_and_audit(session: Session, tmp_path: Path) -> None:
    sheet = write_signup_csv(tmp_path / "a.csv", _good(2))
    report = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    code = report.accepted[0].code
    withdraw_donor(session=session, code=code, actor="data-manager")
    donor = session.exec(select(Donor).where(Donor.code == code)).one()
    assert (donor.name, donor.phone, donor.email, donor.status) == (None, None, None, "withdrawn")
    assert donor.birth_date is not None and (donor.birth_date.month, donor.birth_date.day) == (1, 1)
    states = session.exec(
        select(StageEvent.to_state).where(StageEvent.donor_id == donor.id).order_by(col(StageEvent.id))
    ).all()
    assert list(states) == ["registered", "withdrawn"]
    public = json.loads(show_donor(session=session, code=code).model_dump_json())
    assert public["name"] == "" and public["status"] == "withdrawn"
    # The old sheet again: the withdrawn member is not silently re-registered.
    again = import_signups(session=session, path=sheet, policy=POLICY)
    assert [r.row for r in again.rejected] == [2] and "withdrew consent" in again.rejected[0].errors[0]
    assert _count(session, Donor) == 2


def test_an_old_sheet_reimported_neither_revives_nor_updates_a_deceased_member(
    session: Session, tmp_path: Path
) -> None:
    from models.reminders import record_death

    sheet = write_signup_csv(tmp_path / "a.csv", _good(2))
    report = import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    code = report.accepted[0].code
    record_death(session=session, code=code, died_on=date(2021, 9, 1), actor="data-manager")
    session.commit()
    again = import_signups(session=session, path=sheet, policy=POLICY)
    assert [r.row for r in again.rejected] == [2]
    assert again.rejected[0].errors == (f"志愿者 {code} 已登记为已故 member is recorded as deceased",)
    donor = session.exec(select(Donor).where(Donor.code == code)).one()
    assert donor.status == "deceased" and _count(session, Donor) == 2


def test_shown_member_is_masked(session: Session, tmp_path: Path) -> None:
    person = _good(1)[0]
    report = import_signups(
        session=session, path=write_signup_csv(tmp_path / "a.csv", [person]), policy=POLICY
    )
    shown = show_donor(session=session, code=report.accepted[0].code).model_dump_json()
    for secret in (person.name, person.phone, person.national_id, person.national_id[6:14], person.email):
        assert secret not in shown
    assert person.phone[:3] + "****" + person.phone[-4:] in shown


def test_logs_name_rows_and_rules_never_personal_data(
    session: Session, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    sheet, _ = _mixed_sheet(tmp_path / "mixed.csv")
    with caplog.at_level("DEBUG"):
        import_signups(session=session, path=sheet, policy=POLICY, event_id=_drive(session))
    logged = caplog.text
    assert "row 3 rejected: national_id: check digit does not match" in logged
    cells = list(csv.reader(sheet.open(encoding="utf-8")))[1:]
    for name, _sex, _birth, national_id, phone, *_ in cells:
        for secret in (name, national_id, phone):
            if len(secret) > 4:
                assert secret not in logged


def test_nul_byte_in_one_row_rejects_that_row_and_the_others_land(session: Session, tmp_path: Path) -> None:
    people = [row.cells() for row in _good(5)]
    people[2][0] = people[2][0] + "\x00"  # NUL at the end of a name: PostgreSQL text cannot hold it
    people[3][5] = "x\x00@example.com"
    sheet = tmp_path / "nul.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SIGNUP_HEADER)
        writer.writerows(people)
    report = import_signups(session=session, path=sheet, policy=POLICY)
    assert report.to_json()["rejected"] == [
        {"row": 4, "errors": ["name: contains a control character (retype the cell)"]},
        {"row": 5, "errors": ["email: contains a control character (retype the cell)"]},
    ]
    assert report.count("created") == 3 and _count(session, Donor) == 3


def test_a_file_over_the_limits_further_down_imports_nothing(session: Session, tmp_path: Path) -> None:
    people = [row.cells() for row in _good(120)]
    people[-1][6] = "O" * 41  # the last row's blood group: 41 characters, over this policy's cell limit
    sheet = tmp_path / "long.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SIGNUP_HEADER)
        writer.writerows(people)
    policy = replace(POLICY, limits=SheetLimits(max_cell_chars=40))  # batches of 50: two would commit
    with pytest.raises(SheetError, match=r"^long\.csv: row 121 has a cell longer than 40 characters"):
        import_signups(session=session, path=sheet, policy=policy)
    assert _count(session, Donor) == 0
    too_many = replace(POLICY, limits=SheetLimits(max_rows=100))
    with pytest.raises(SheetError, match=r"more than 100 rows"):
        import_signups(session=session, path=sheet, policy=too_many)
    assert _count(session, Donor) == 0
