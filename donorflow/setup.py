"""`make up` / `donorflow up`, first part: migrate, load the demo year once, build the HLA index."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from sqlmodel import Session, select

from donorflow import bootstrap
from donorflow.demo_year import DEMO_ORGANISER, replay_zhengzhou_2021
from models.registry import RecruitmentEvent

__all__ = ["bring_up", "load_demo_year"]


def load_demo_year(session: Session, say: bool = True) -> Iterator[str]:
    """The synthetic Zhengzhou 2021 year, walked through the same services the flows call."""
    messages: list[str] = []
    settings = bootstrap.get_settings()
    counts = replay_zhengzhou_2021(
        session=session,
        policy=bootstrap.import_policy(settings),
        donate_max_age=settings.donate_max_age,
        progress=messages.append if say else None,
    )
    yield from messages
    figures = ", ".join(f"{key} {value:,}" for key, value in counts.model_dump().items())
    yield f"demo year loaded — 2021 funnel: {figures}"


def bring_up(*, demo: bool = True) -> Iterator[str]:
    """Migrate, load the demo year once (unless `demo` is off), open the HLA index."""
    settings = bootstrap.get_settings()
    bootstrap.upgrade_database()
    yield f"database ready: {settings.resolved_database_url.split('@')[-1]}"
    bootstrap.id_salt(settings)  # created, or moved out of var/, before anything is imported
    yield f"ID salt: {bootstrap.id_salt_location(settings)} (back it up apart from the database)"
    with Session(bootstrap.get_engine()) as session:
        loaded = session.exec(select(RecruitmentEvent.id).where(RecruitmentEvent.organiser == DEMO_ORGANISER))
        if not demo:
            yield "demo year not loaded (--no-demo)"
        elif loaded.first() is not None:
            yield "demo year already loaded; your data is kept"
        else:
            yield "loading the demo year (synthetic Zhengzhou 2021, ~30 s) …"
            yield from load_demo_year(session)
        store = bootstrap.hla_index_store(settings)
        index = store.open(session)
        yield f"HLA index: {len(index):,} searchable members ({'built' if store.built else 'loaded'})"
    yield f"try: .venv/bin/donorflow funnel --from {date(2021, 1, 1)} --to {date(2021, 12, 31)}"
