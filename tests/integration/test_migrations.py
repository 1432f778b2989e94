"""Every schema change is a migration: head matches the models, and the chain goes down and up again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import insert, select

from donorflow.bootstrap import alembic_config
from models.core import make_engine
from models.registry import Donor
from tests.databases import BACKENDS, fresh_database


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_the_models_and_downgrade_cleanly(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:  # already upgraded to head
        config = alembic_config(url)
        command.check(config)  # raises if the models differ from what the migrations create
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        command.check(config)


# The donor table as revision 0003 left it (the model has columns later revisions add).
_donor_at_0003 = sa.table(
    "donor",
    *(sa.column(name) for name in ("code", "status", "national_id_masked", "national_id_hash")),
    sa.column("opt_out_sms", sa.Boolean),
    sa.column("opt_out_email", sa.Boolean),
    sa.column("language", sa.String),
    sa.column("version", sa.Integer),
    sa.column("created_at", sa.DateTime),
    sa.column("updated_at", sa.DateTime),
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_0004_remasks_old_id_masks_and_clears_withdrawn_members(backend: str, tmp_path: Path) -> None:
    with fresh_database(backend, tmp_path) as url:
        config = alembic_config(url)
        command.downgrade(config, "0003")
        engine = make_engine(url)
        old = {
            "ZZ21-000001": ("active", "4101**********123X"),
            "ZZ21-000002": ("withdrawn", "4101**********0013"),
            "ZZ21-000003": ("registered", ""),  # an ATLAS member: no ID number, no mask
            "ZZ21-000004": ("active", "410102************"),  # already the new form
        }
        with engine.begin() as connection:
            connection.execute(
                insert(_donor_at_0003),
                [
                    {
                        "code": code,
                        "status": status,
                        "national_id_masked": mask,
                        "national_id_hash": code,
                        "opt_out_sms": False,
                        "opt_out_email": False,
                        "language": "zh-CN",
                        "version": 1,
                        "created_at": datetime.now(UTC),
                        "updated_at": datetime.now(UTC),
                    }
                    for code, (status, mask) in old.items()
                ],
            )
        command.upgrade(config, "head")
        with engine.connect() as connection:
            table = Donor.__table__  # type: ignore[attr-defined]
            masks: dict[str, str] = dict(
                connection.execute(select(table.c.code, table.c.national_id_masked)).all()
            )
        engine.dispose()
    assert masks == {
        "ZZ21-000001": "4101**************",
        "ZZ21-000002": "",
        "ZZ21-000003": "",
        "ZZ21-000004": "410102************",
    }


@pytest.mark.parametrize("backend", BACKENDS)
def test_0011_gives_rows_written_before_it_the_time_their_case_entered_the_stage_it_left(
    backend: str, tmp_path: Path
) -> None:
    from sqlmodel import Session

    from models.cases import CaseStage, CloseReason, advance_case, close_case
    from models.core import StageEvent, transaction
    from tests.e2e.served import screened_case

    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        case_id = screened_case(engine)  # opened as the screening does: its first audit row
        with Session(engine) as session:
            opened = datetime.now(UTC)  # the case was opened just now (screened_case)
            with transaction(session):
                for n, stage in enumerate((CaseStage.REMOBILISING, CaseStage.HIGH_RES_TYPING), start=1):
                    advance_case(
                        session=session,
                        case_id=case_id,
                        to=stage,
                        actor="t",
                        at=opened + timedelta(days=5 * n),
                    )
                close_case(
                    session=session,
                    case_id=case_id,
                    reason=CloseReason.NOT_SELECTED,
                    actor="t",
                    at=opened + timedelta(days=20),
                )
        table = StageEvent.__table__  # type: ignore[attr-defined]
        query = select(table.c.from_state, table.c.from_state_since, table.c.stage_days).where(
            table.c.case_id == case_id
        )
        with engine.connect() as connection:
            written = sorted(connection.execute(query).all(), key=str)
        config = alembic_config(url)
        command.downgrade(config, "0010")  # the column goes: the rows are as before 0011
        command.upgrade(config, "head")
        with engine.connect() as connection:
            backfilled = sorted(connection.execute(query).all(), key=str)
        engine.dispose()
    assert [row[:2] for row in backfilled] == [row[:2] for row in written]
    # julianday keeps about a millisecond: the days agree to well under a second
    assert [row[2] for row in backfilled] == [pytest.approx(row[2], abs=1e-5) for row in written]
    stays = sorted(days for state, _since, days in written if state is not None)
    assert stays == pytest.approx([5.0, 5.0, 10.0], abs=1e-3)  # screened, re-mobilising, high-res


# The grade table as revision 0012 left it (no details).
_grade_at_0012 = sa.table(
    "case_grade",
    *(sa.column(name) for name in ("case_id", "source", "certainty")),
    *(sa.column(name, sa.Integer) for name in ("matched", "of", "mismatches")),
    sa.column("loci", sa.JSON),
    sa.column("at", sa.DateTime),
)


@pytest.mark.parametrize("backend", BACKENDS)
def test_0013_adds_grade_details_leaves_earlier_grades_null_and_goes_down_again(
    backend: str, tmp_path: Path
) -> None:
    from tests.e2e.served import screened_case

    with fresh_database(backend, tmp_path) as url:
        engine = make_engine(url)
        case_id = screened_case(engine)
        config = alembic_config(url)
        command.downgrade(config, "0012")  # from head: 0013's downgrade drops the column
        before = {column["name"] for column in sa.inspect(engine).get_columns("case_grade")}
        with engine.begin() as connection:
            connection.execute(
                insert(_grade_at_0012),
                {
                    "case_id": case_id,
                    "source": "screening",
                    "certainty": "potential",
                    "matched": 8,
                    "of": 8,
                    "mismatches": 0,
                    "loci": {"A": ["allele", "potential"]},
                    "at": datetime.now(UTC),
                },
            )
        command.upgrade(config, "head")
        after = {column["name"]: column for column in sa.inspect(engine).get_columns("case_grade")}
        with engine.connect() as connection:
            old = connection.execute(sa.text("SELECT details FROM case_grade")).scalar_one()
        engine.dispose()
    assert "details" not in before
    assert after["details"]["nullable"] is True
    assert old is None  # a grade written before 0013 has no details: the page shows "—"
