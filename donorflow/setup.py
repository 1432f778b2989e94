"""`make up` / `donorflow up`: migrate, load the demo drive once, say what to do next."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlmodel import Session, select

from donorflow import bootstrap
from donorflow.demo import signup_rows, write_signup_csv
from models.members import create_event
from models.registry import RecruitmentEvent, RecruitmentEventCreate
from models.signup_import import import_signups

__all__ = ["DEMO_DRIVE", "bring_up"]

DEMO_DRIVE = "Demo drive · 郑州大学 (synthetic data)"
DEMO_ROWS = 200


def bring_up() -> Iterator[str]:
    settings = bootstrap.get_settings()
    bootstrap.upgrade_database()
    yield f"database ready: {settings.resolved_database_url.split('@')[-1]}"
    with Session(bootstrap.get_engine()) as session:
        existing = session.exec(select(RecruitmentEvent).where(RecruitmentEvent.name == DEMO_DRIVE)).first()
        if existing is not None:
            yield f"demo drive already loaded (event {existing.id}); your data is kept"
        else:
            held_on = date(2021, 6, 14)  # World Blood Donor Day
            event = create_event(
                session=session,
                data=RecruitmentEventCreate(
                    name=DEMO_DRIVE, held_on=held_on, location="郑州大学", district="高新区"
                ),
            )
            demo_dir = settings.var_dir / "demo"
            demo_dir.mkdir(parents=True, exist_ok=True)
            sheet = write_signup_csv(
                demo_dir / "demo-signups.csv", list(signup_rows(DEMO_ROWS, seed=614, day=held_on))
            )
            report = import_signups(
                session=session,
                path=sheet,
                policy=bootstrap.import_policy(settings),
                event_id=event.id,
                actor="demo",
            )
            yield f"demo drive loaded: event {event.id}, {report.count('created')} members from {sheet}"
    yield "next: .venv/bin/donorflow funnel --from 2021-01-01 --to 2021-12-31"
    yield "      .venv/bin/donorflow donors import <sheet.csv|.xlsx> --event-id <id>   (see README)"
