"""Withdrawal against a running re-import, with real concurrency: two threads, two sessions, two connections.

The interleaving is forced, not hoped for: a listener on the engine pauses the import right after it has
read a batch's members, and the other thread withdraws some of them (each withdrawal its own committed
transaction) before the import goes on to write. That is exactly the window in which an unconditional
UPDATE undoes a withdrawal; the import itself is not changed for the test.
"""

from __future__ import annotations

import csv
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from donorflow.demo import SIGNUP_HEADER, SignupRow, signup_rows
from models.core import ConflictError, StageEvent, transaction
from models.intake import ImportPolicy, ImportReport, import_signups, national_id_hash
from models.matching import IndexFile, IndexStore
from models.registry import Donor, HlaTyping, withdraw_donor

POLICY = ImportPolicy(id_salt=b"race-salt", batch_size=20)
HLA_HEADER = ["A_1", "A_2", "B_1", "B_2", "DRB1_1", "DRB1_2"]
FIRST_TYPING = ["A*02:01", "A*24:02", "B*40:01", "B*46:01", "DRB1*09:01", "DRB1*15:01"]
SECOND_TYPING = ["A*02:01", "A*11:01", "B*40:01", "B*46:01", "DRB1*09:01", "DRB1*15:01"]
WAIT = 30  # seconds; a hang is a failure, never a pass


def _people(count: int) -> list[SignupRow]:
    return list(signup_rows(count, seed=31, day=date(2021, 6, 14)))


def _write(path: Path, rows: Sequence[tuple[SignupRow, list[str]]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, *HLA_HEADER])
        for person, typing in rows:
            writer.writerow([*person.cells(), *(typing or [""] * len(HLA_HEADER))])
    return path


def _new_phone(person: SignupRow, n: int) -> SignupRow:
    return replace(person, phone=f"139{n:08d}")


@contextmanager
def _after_member_read(
    engine: Engine, thread_ids: set[int], pause: Callable[[set[str]], None]
) -> Iterator[None]:
    """Call `pause(hashes)` in the import thread(s) right after a batch's members were read by ID hash."""

    def listener(*args: Any) -> None:
        statement, parameters = args[2], args[3]
        if threading.get_ident() not in thread_ids:
            return
        flat = " ".join(statement.split()).lower()
        if "from donor" not in flat or "national_id_hash in" not in flat:
            return
        values = parameters.values() if isinstance(parameters, dict) else parameters
        pause({value for value in values if isinstance(value, str)})

    event.listen(engine, "after_cursor_execute", listener)
    try:
        yield
    finally:
        event.remove(engine, "after_cursor_execute", listener)


def _donor_trail(session: Session, donor_id: int) -> list[tuple[str | None, str]]:
    events = session.exec(
        select(StageEvent).where(StageEvent.donor_id == donor_id).order_by(col(StageEvent.id))
    ).all()
    return [(e.from_state, e.to_state) for e in events]


def test_withdrawal_during_a_reimport_stays_withdrawn_with_data_typing_and_index_gone(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    people = _people(400)
    # Even members are typed (active) at first, odd ones are not (registered); the re-import changes
    # every phone and brings a new typing for everyone: an active member gets its typing replaced, a
    # registered one becomes active. Either would bring a withdrawn member back.
    first = [(p, FIRST_TYPING if i % 2 == 0 else []) for i, p in enumerate(people)]
    second = [(_new_phone(p, i), SECOND_TYPING) for i, p in enumerate(people)]
    created = import_signups(session=session, path=_write(tmp_path / "first.csv", first), policy=POLICY)
    code_of = {a.row: a.code for a in created.accepted}
    assert len(code_of) == 400
    store = IndexStore(IndexFile(tmp_path / "var" / "hla-index.npz"))
    store.open(session)  # the search index, saved before the race and brought up to date after it

    # Two members of every batch of 20 (one typed, one not) withdraw while that batch is being imported.
    targets = {
        national_id_hash(people[i].national_id, POLICY.id_salt): code_of[i + 2]
        for batch in range(0, 400, 20)
        for i in (batch + 3, batch + 10)
    }
    requests: queue.Queue[list[str] | None] = queue.Queue()
    done: queue.Queue[str] = queue.Queue()
    withdrawn: list[str] = []
    pending = dict(targets)

    def pause(hashes: set[str]) -> None:
        codes = [pending.pop(h) for h in sorted(hashes & set(pending))]
        if codes:
            requests.put(codes)
            assert done.get(timeout=WAIT) == "ok"

    def withdrawer() -> None:
        with Session(engine) as own:
            while (codes := requests.get(timeout=WAIT)) is not None:
                try:
                    for code in codes:  # one by one, each committed on its own
                        with transaction(own):
                            withdraw_donor(session=own, code=code, actor="data-manager")
                        withdrawn.append(code)
                    done.put("ok")
                except Exception as exc:
                    done.put(f"withdrawal failed: {exc!r}")
                    raise

    report: list[ImportReport] = []
    errors: list[BaseException] = []

    import_threads: set[int] = set()

    def importer() -> None:
        import_threads.add(threading.get_ident())
        try:
            with Session(engine) as own:
                report.append(
                    import_signups(session=own, path=_write(tmp_path / "second.csv", second), policy=POLICY)
                )
        except BaseException as exc:
            errors.append(exc)
        finally:
            requests.put(None)

    import_thread = threading.Thread(target=importer)
    withdraw_thread = threading.Thread(target=withdrawer)
    withdraw_thread.start()
    with _after_member_read(engine, import_threads, pause):
        import_thread.start()
        import_thread.join(WAIT * 4)
    withdraw_thread.join(WAIT)
    assert not errors, errors
    assert sorted(withdrawn) == sorted(targets.values())

    session.expire_all()
    donors = {d.code: d for d in session.exec(select(Donor))}
    undone = {}
    for code in withdrawn:
        donor = donors[code]
        assert donor.id is not None
        trail = _donor_trail(session, donor.id)
        withdrawal = next(i for i, (_, to) in enumerate(trail) if to == "withdrawn")
        typed = session.exec(select(HlaTyping).where(HlaTyping.donor_id == donor.id)).first() is not None
        if (donor.status, donor.phone, donor.name, typed) != ("withdrawn", None, None, False) or trail[
            withdrawal + 1 :  # nothing after the withdrawal: no newer consent came
        ]:
            undone[code] = (donor.status, bool(donor.phone), typed, trail[withdrawal:])
    assert undone == {}, f"{len(undone)} of {len(withdrawn)} withdrawals undone"
    index = store.open(session)
    assert not {donors[code].id for code in withdrawn} & {d.id for d in donors.values() if d.id in index}
    # The import lost each race and says so per row; everyone else got the new phone and typing.
    rejected = report[0].rejected
    assert len(rejected) == 40 and all("withdrew consent" in r.errors[0] for r in rejected)
    others = [d for d in donors.values() if d.code not in withdrawn]
    assert all(d.phone and d.phone.startswith("139") and d.status == "active" for d in others)


def test_two_imports_rejoining_a_withdrawn_member_at_once_rejoin_it_once(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    person = _people(1)[0]
    created = import_signups(session=session, path=_write(tmp_path / "a.csv", [(person, [])]), policy=POLICY)
    code = created.accepted[0].code
    with transaction(session):
        withdraw_donor(session=session, code=code, actor="data-manager", at=datetime(2021, 7, 1, tzinfo=UTC))
    # The documented way back: a new sign-up whose consent is newer than the withdrawal.
    again = replace(person, consent_at=datetime(2021, 9, 1, 10), phone="13700001111")
    sheet = _write(tmp_path / "again.csv", [(again, FIRST_TYPING)])
    both_read = threading.Barrier(2, timeout=WAIT)
    first_read: set[int] = set()
    reports: list[ImportReport] = []
    errors: list[BaseException] = []

    def pause(_hashes: set[str]) -> None:
        if threading.get_ident() not in first_read:  # each import's first read only, not its retry
            first_read.add(threading.get_ident())
            both_read.wait()

    importers: set[int] = set()

    def importer() -> None:
        importers.add(threading.get_ident())
        try:
            with Session(engine) as own:
                reports.append(import_signups(session=own, path=sheet, policy=POLICY))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=importer) for _ in range(2)]
    with _after_member_read(engine, importers, pause):
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(WAIT * 2)
    assert not errors, errors
    session.expire_all()
    donor = session.exec(select(Donor).where(Donor.code == code)).one()
    assert donor.id is not None
    assert (donor.status, donor.phone, donor.withdrawn_at) == ("active", "13700001111", None)
    assert _donor_trail(session, donor.id) == [
        (None, "registered"),
        ("registered", "withdrawn"),
        ("withdrawn", "registered"),
        ("registered", "active"),
    ]
    assert len(session.exec(select(HlaTyping).where(HlaTyping.donor_id == donor.id)).all()) == 1
    assert donor.national_id_masked == person.national_id[:6] + "*" * 12  # erased at withdrawal, back now
    assert sorted(r.accepted[0].action for r in reports) == ["unchanged", "updated"]


def test_an_import_that_keeps_losing_the_race_stops_with_a_conflict_naming_its_rows(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    people = _people(4)
    policy = replace(POLICY, batch_size=2)
    import_signups(session=session, path=_write(tmp_path / "a.csv", [(p, []) for p in people]), policy=policy)
    changed = _write(tmp_path / "b.csv", [(_new_phone(p, i), []) for i, p in enumerate(people)])
    last = national_id_hash(people[3].national_id, POLICY.id_salt)
    importers: set[int] = set()
    bumps: list[int] = []

    def pause(hashes: set[str]) -> None:
        if last in hashes:  # the second batch: someone changes its member after every read
            with engine.begin() as other:
                other.execute(
                    update(Donor).where(col(Donor.national_id_hash) == last).values(version=Donor.version + 1)
                )
            bumps.append(1)

    importers.add(threading.get_ident())
    with _after_member_read(engine, importers, pause), Session(engine) as own:
        with pytest.raises(ConflictError, match="rows 4–5: 1 member.s. changed by someone else meanwhile"):
            import_signups(session=own, path=changed, policy=policy)
    assert len(bumps) == 3  # three tries, then it gives up
    session.expire_all()
    phones = [d.phone for d in session.exec(select(Donor).order_by(col(Donor.id)))]
    assert phones == ["13900000000", "13900000001", people[2].phone, people[3].phone]  # batch 1 landed
