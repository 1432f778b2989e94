"""ATLAS donor-update files against a real database: members by recordId, typings as history, D withdraws.

Fixtures follow Anthony-Nolan/Atlas Schemas/DonorUpdateFileSchema.json (lower-case keys, `dna`/`ser`
objects with `field1`/`field2`), built per test in tmp_path.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import Session, col, select

from hla import Reference
from models.core import SheetError, StageEvent, utcnow
from models.intake import ImportPolicy, ImportReport, atlas_member_key, import_atlas, national_id_hash
from models.registry import Donor, HlaTyping

POLICY = ImportPolicy(id_salt=b"test-salt", batch_size=50)
# Codes carry the import year in Asia/Shanghai, whatever year the test runs in.
YEAR = f"ZZ{utcnow().astimezone(ZoneInfo('Asia/Shanghai')).year % 100:02d}-"

TYPED = {
    "a": {"dna": {"field1": "*02:01", "field2": "*24:02"}},
    "b": {"dna": {"field1": "*40:01", "field2": "*46:01"}},
    "c": {"dna": {"field1": "*01:02", "field2": "*07:02"}},
    "drb1": {"dna": {"field1": "*09:01", "field2": "*15:01"}},
}
RETYPED = {**TYPED, "b": {"dna": {"field1": "*40:01", "field2": "*13:01"}}}


def _donor(
    record_id: str, change: str | None = "N", hla: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    donor = {
        "recordId": record_id,
        "changeType": change,
        "donorType": "D",
        "donPool": "ZZ",
        "ethn": None,
        "hla": TYPED if hla is None else hla,
    }
    return {**donor, **extra}


def _file(tmp_path: Path, donors: list[Any], name: str = "donors.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"updateMode": "diff", "donors": donors}), encoding="utf-8")
    return path


def _import(session: Session, path: Path, policy: ImportPolicy = POLICY) -> ImportReport:
    return import_atlas(session=session, path=path, policy=policy, actor="test")


def _member(session: Session, record_id: str) -> Donor:
    key = atlas_member_key(record_id, POLICY.id_salt)
    return session.exec(select(Donor).where(Donor.national_id_hash == key)).one()


def _typings(session: Session, donor: Donor) -> list[HlaTyping]:
    query = select(HlaTyping).where(HlaTyping.donor_id == donor.id).order_by(col(HlaTyping.id))
    return list(session.exec(query))


def _trail(session: Session, donor: Donor) -> list[tuple[str | None, str]]:
    query = select(StageEvent).where(StageEvent.donor_id == donor.id).order_by(col(StageEvent.id))
    return [(event.from_state, event.to_state) for event in session.exec(query)]


def _rejected(report: ImportReport) -> dict[int, str]:
    return {r.row: "; ".join(r.errors) for r in report.rejected}


def test_new_adult_donors_become_active_members_known_only_by_record_id(
    session: Session, tmp_path: Path
) -> None:
    serology_only = {
        "a": {"dna": {"field1": None, "field2": None}, "ser": {"field1": "2", "field2": "24"}},
        "b": {"ser": {"field1": "40", "field2": "46"}},
        "c": {"ser": {"field1": "3"}},
        "drb1": {"ser": {"field1": "9", "field2": "15"}},
    }
    mixed = {**TYPED, "a": {"dna": {"field1": "*02:01"}, "ser": {"field1": "9"}}, "b": serology_only["b"]}
    report = _import(
        session,
        _file(tmp_path, [_donor("7001"), _donor("7002", hla=serology_only), _donor("7003", hla=mixed)]),
    )

    assert [(a.row, a.action) for a in report.accepted] == [(1, "created"), (2, "created"), (3, "created")]
    assert all(a.code.startswith(YEAR) for a in report.accepted) and not report.rejected
    donor = _member(session, "7001")
    assert donor.code == report.accepted[0].code and donor.status == "active"
    assert donor.external_id == "7001" and donor.national_id_masked == ""
    assert donor.national_id_hash == national_id_hash("atlas:7001", POLICY.id_salt)
    assert (donor.name, donor.phone, donor.email, donor.birth_date) == (None, None, None, None)
    assert _trail(session, donor) == [(None, "registered"), ("registered", "active")]

    (high,) = _typings(session, donor)
    assert (high.a_1, high.a_2, high.c_2, high.drb1_2, high.dqb1_1) == (
        "A*02:01",
        "A*24:02",
        "C*07:02",
        "DRB1*15:01",
        None,
    )
    assert high.resolution == "high"
    (low,) = _typings(session, _member(session, "7002"))
    assert (low.a_1, low.b_2, low.c_1, low.c_2, low.drb1_1) == ("A2", "B46", "Cw3", "Cw3", "DR9")
    assert low.resolution == "low"
    (both,) = _typings(session, _member(session, "7003"))
    # DNA wins over serology; a blank field 2 is homozygous (ATLAS ImportedLocusInterpreter).
    assert (both.a_1, both.a_2, both.b_1) == ("A*02:01", "A*02:01", "B40")
    assert both.resolution == "intermediate"


def test_rerunning_a_file_creates_nothing_and_changes_nothing(session: Session, tmp_path: Path) -> None:
    path = _file(tmp_path, [_donor("1", "N"), _donor("2", "NU"), _donor("3", "NU", hla=RETYPED)])
    first = _import(session, path)
    again = _import(session, path)

    assert first.to_json()["created"] == 3
    summary = again.to_json()
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 0, 2)
    assert _rejected(again) == {1: "recordId is already a member (changeType N only creates; U or NU update)"}
    assert [a.code for a in again.accepted] == [a.code for a in first.accepted[1:]]
    assert session.exec(select(func.count()).select_from(Donor)).one() == 3
    assert session.exec(select(func.count()).select_from(HlaTyping)).one() == 3
    assert session.exec(select(func.count()).select_from(StageEvent)).one() == 6


def test_changed_typing_is_added_as_history_and_the_same_typing_is_unchanged(
    session: Session, tmp_path: Path
) -> None:
    _import(session, _file(tmp_path, [_donor("10"), _donor("11")], "first.json"))
    report = _import(
        session,
        _file(
            tmp_path, [_donor("10", "U", hla=RETYPED), _donor("11", "U"), _donor("12", "NU")], "second.json"
        ),
    )

    assert [a.action for a in report.accepted] == ["updated", "unchanged", "created"]
    donor = _member(session, "10")
    old, new = _typings(session, donor)
    assert (old.b_2, new.b_2) == ("B*46:01", "B*13:01")
    assert len(_typings(session, _member(session, "11"))) == 1
    assert donor.status == "active" and _trail(session, donor) == [
        (None, "registered"),
        ("registered", "active"),
    ]


def test_malformed_typing_rejects_that_donor_naming_locus_and_text_and_the_rest_land(
    session: Session, tmp_path: Path
) -> None:
    bad = {**TYPED, "b": {"dna": {"field1": "*40:01", "field2": "*46:0x"}}}
    report = _import(session, _file(tmp_path, [_donor("20"), _donor("21", hla=bad), _donor("22")]))

    assert [a.row for a in report.accepted] == [1, 3]
    error = _rejected(report)[2]
    assert "HLA B DNA field2" in error and '"B*46:0x"' in error and "not a number" in error
    assert session.exec(select(func.count()).select_from(Donor)).one() == 2


def test_new_donor_without_a_required_locus_is_rejected_as_atlas_does(
    session: Session, tmp_path: Path
) -> None:
    no_drb1 = {key: value for key, value in TYPED.items() if key != "drb1"}
    no_c = {key: value for key, value in TYPED.items() if key != "c"}
    report = _import(session, _file(tmp_path, [_donor("30", hla=no_drb1), _donor("31", hla=no_c)]))

    assert _rejected(report) == {1: "required locus DRB1: minimum HLA typing has not been provided"}
    (typing,) = _typings(session, _member(session, "31"))
    assert (typing.c_1, typing.c_2) == (None, None)


def test_no_change_applies_to_a_member_recorded_as_deceased(session: Session, tmp_path: Path) -> None:
    from models.reminders import record_death

    _import(session, _file(tmp_path, [_donor("50")], "first.json"))
    code = _member(session, "50").code
    record_death(session=session, code=code, died_on=date(2026, 1, 1), actor="data-manager")
    session.commit()
    for change, name in (("U", "second.json"), ("D", "third.json")):
        update = _donor("50", change, hla=RETYPED) | ({"hla": None} if change == "D" else {})
        report = _import(session, _file(tmp_path, [update], name))
        assert _rejected(report) == {1: f"志愿者 {code} 已登记为已故 member is recorded as deceased"}
    donor = _member(session, "50")
    assert donor.status == "deceased" and len(_typings(session, donor)) == 1


def test_deletion_withdraws_the_member_and_erases_its_typings(session: Session, tmp_path: Path) -> None:
    _import(session, _file(tmp_path, [_donor("40"), _donor("41")], "first.json"))
    _import(session, _file(tmp_path, [_donor("40", "U", hla=RETYPED)], "second.json"))
    deletion = _file(tmp_path, [_donor("40", "D") | {"hla": None}], "third.json")
    report = _import(session, deletion)

    assert [(a.row, a.action) for a in report.accepted] == [(1, "updated")]
    donor = _member(session, "40")
    assert donor.status == "withdrawn" and donor.withdrawn_at is not None and donor.external_id is None
    assert donor.code == report.accepted[0].code and _typings(session, donor) == []
    assert _trail(session, donor)[-1] == ("active", "withdrawn")
    assert len(_typings(session, _member(session, "41"))) == 1  # only the deleted member's typings go

    again = _import(session, deletion)
    assert [a.action for a in again.accepted] == ["unchanged"]
    back = _import(session, _file(tmp_path, [_donor("40", "NU")], "fourth.json"))
    assert "was withdrawn; re-registration needs a new consent" in _rejected(back)[1]
    assert _member(session, "40").status == "withdrawn" and len(_trail(session, donor)) == 3


def test_one_file_may_create_update_and_delete_the_same_member_in_order(
    session: Session, tmp_path: Path
) -> None:
    donors = [_donor("50"), _donor("50", "U", hla=RETYPED), _donor("50", "D"), _donor("50", "NU")]
    report = _import(session, _file(tmp_path, donors))

    assert [a.action for a in report.accepted] == ["created", "updated", "updated"]
    assert len({a.code for a in report.accepted}) == 1
    assert "was withdrawn" in _rejected(report)[4]
    donor = _member(session, "50")
    assert donor.status == "withdrawn" and _typings(session, donor) == []
    assert _trail(session, donor) == [(None, "registered"), ("registered", "active"), ("active", "withdrawn")]


def test_duplicate_new_and_unknown_update_or_deletion_are_rejected(session: Session, tmp_path: Path) -> None:
    _import(session, _file(tmp_path, [_donor("60")], "first.json"))
    donors = [_donor("60", "N"), _donor("61", "N"), _donor("61", "N"), _donor("62", "U"), _donor("63", "D")]
    report = _import(session, _file(tmp_path, donors, "second.json"))

    assert [(a.row, a.action) for a in report.accepted] == [(2, "created")]
    rejected = _rejected(report)
    assert "already a member" in rejected[1] and "already a member" in rejected[3]
    assert "recordId is not a member here (changeType U only updates" in rejected[4]
    assert rejected[5] == "recordId is not a member here: nothing to withdraw"
    assert session.exec(select(func.count()).select_from(Donor)).one() == 2


def test_cord_blood_units_and_banked_donors_are_not_members(session: Session, tmp_path: Path) -> None:
    donors = [_donor("70", donorType="C"), _donor("71", donorType="B"), _donor("72", donorType="Adult")]
    report = _import(session, _file(tmp_path, donors))

    assert _rejected(report)[1] == "cord blood units are not registry members here"
    assert "banked donors are not registry members here" in _rejected(report)[2]
    assert [(a.row, a.action) for a in report.accepted] == [(3, "created")]


def test_records_without_record_id_or_with_unknown_change_type_are_rejected_with_reason(
    session: Session, tmp_path: Path
) -> None:
    no_id = {key: value for key, value in _donor("x").items() if key != "recordId"}
    donors: list[Any] = [no_id, _donor("80", "X"), _donor("81", None), "not a donor", _donor("", "N")]
    report = _import(session, _file(tmp_path, donors))

    assert report.accepted == []
    assert _rejected(report) == {
        1: "recordId is missing",
        2: "changeType 'X' is not N, U, D or NU",
        3: "changeType is missing (N, U, D or NU)",
        4: "donor entry is not a JSON object",
        5: "recordId is missing",
    }


def test_atlas_key_spelling_homozygous_fields_and_codes_are_read_as_atlas_reads_them(
    session: Session, tmp_path: Path
) -> None:
    # Atlas's own test files: PascalCase keys, integer ids, a MAC (needs the NMDP table to expand).
    hla = {
        "A": {"Dna": {"Field1": "*01:DXGWF", "Field2": ""}, "ser": None},
        "B": {"Dna": {"Field1": "39:06:02:01", "Field2": "*07:02:45"}},
        "DRB1": {"Dna": {"Field1": "*15:03:01:01", "Field2": "*15:02:01:01"}},
    }
    donor = {"RecordId": 4, "ChangeType": "n", "DonorType": "D", "UpdateMode": "diff", "Hla": hla}
    report = _import(session, _file(tmp_path, [donor]))

    assert [a.action for a in report.accepted] == ["created"], report.rejected
    (typing,) = _typings(session, _member(session, "4"))
    assert (typing.a_1, typing.a_2, typing.b_1) == ("A*01:DXGWF", "A*01:DXGWF", "B*39:06:02:01")
    assert typing.resolution == "intermediate"


def test_multiple_allele_codes_are_checked_against_the_nmdp_table_when_one_is_loaded(
    session: Session, tmp_path: Path
) -> None:
    coded = {**TYPED, "a": {"dna": {"field1": "*01:AB", "field2": "*01:ZZ"}}}
    path = _file(tmp_path, [_donor("95", hla=coded)])
    with_table = import_atlas(
        session=session, path=path, policy=POLICY, reference=Reference(mac={"AB": ("01", "02")})
    )
    assert with_table.accepted == []
    assert _rejected(with_table)[1] == (
        'HLA A DNA field2: "A*01:ZZ" at A: multiple allele code ZZ is not in the MAC table'
    )
    without = _import(session, path)  # no table: the code's form is checked, it is kept as written
    assert [a.action for a in without.accepted] == ["created"]


def test_new_alleles_and_serology_of_another_locus_reject_the_record(
    session: Session, tmp_path: Path
) -> None:
    new_allele = {**TYPED, "drb1": {"dna": {"field1": "NEW", "field2": "*15:01"}}}
    wrong_antigen = {**TYPED, "c": {"ser": {"field1": "A2", "field2": "3"}}}
    report = _import(
        session, _file(tmp_path, [_donor("96", hla=new_allele), _donor("97", hla=wrong_antigen)])
    )

    assert report.accepted == []
    assert "HLA DRB1 DNA field1" in _rejected(report)[1] and '"NEW"' in _rejected(report)[1]
    assert _rejected(report)[2] == 'HLA C serology field1: "A2" at C: serological A2 is not an antigen of C'


def test_batches_commit_one_by_one_so_a_crash_loses_at_most_one_and_a_rerun_finishes(
    session: Session, tmp_path: Path
) -> None:
    path = _file(tmp_path, [_donor(str(900 + n), "NU") for n in range(5)])
    small = ImportPolicy(id_salt=POLICY.id_salt, batch_size=2)

    def crash(_: int) -> None:
        raise KeyboardInterrupt  # the operator's Ctrl-C after the first batch

    with pytest.raises(KeyboardInterrupt):
        import_atlas(session=session, path=path, policy=small, progress=crash)
    session.rollback()  # what the crash takes with it: the transaction in flight, never a committed batch
    assert session.exec(select(func.count()).select_from(Donor)).one() == 2

    seen: list[int] = []
    report = import_atlas(session=session, path=path, policy=small, progress=seen.append)
    assert seen == [2, 2, 1]
    assert [a.action for a in report.accepted] == ["unchanged", "unchanged", "created", "created", "created"]
    assert session.exec(select(func.count()).select_from(Donor)).one() == 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("donor,record\n1,2\n", "is not a JSON file"),
        ('{"updateMode": "diff"}', 'has no "donors" array'),
        ('{"updateMode": "diff", "donors": []}', 'has no "donors" array'),
        ("[1, 2]", 'a JSON object with a "donors" array'),
        ('{"donors": [{}]}', 'updateMode must be "diff" or "full"'),
        ('{"updateMode": "check", "donors": [{}]}', "donor check file"),
        ('{"updateMode": "diff", "donors": [{}], "extra": 1}', "unknown property 'extra'"),
        ('{"updateMode": "full", "donors": [{"changeType": "N"}, {"changeType": "D"}]}', "donor 2 has"),
    ],
)
def test_a_file_atlas_would_refuse_raises_one_clear_sheet_error(
    session: Session, tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SheetError, match="bad.json") as caught:
        _import(session, path)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert session.exec(select(func.count()).select_from(Donor)).one() == 0
