"""The `donorflow` command line: what a registry data manager types. `--json` for machines."""

from __future__ import annotations

import getpass
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlmodel import Session

from donorflow import bootstrap
from donorflow.cli_events import pipeline_app
from donorflow.cli_hla import hla_app
from donorflow.cli_notify import notify_app
from donorflow.cli_reminders import followups_app, reminders_app
from donorflow.cli_users import users_app
from models.cases import funnel_counts, funnel_period
from models.core import ConflictError, DonorflowError, NotFoundError, ValidationError, transaction
from models.intake import check_rejects_path, import_file, write_rejects_csv
from models.outreach import withdraw_member
from models.registry import create_event, drive_input, show_donor

app = typer.Typer(help="donorflow: stem-cell and blood donor programmes.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
events_app = typer.Typer(help="Recruitment drives.", no_args_is_help=True)
donors_app = typer.Typer(help="Registry members.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(events_app, name="events")
app.add_typer(donors_app, name="donors")
app.add_typer(notify_app, name="notify")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(reminders_app, name="reminders")
app.add_typer(followups_app, name="followups")
app.add_typer(users_app, name="users")
app.add_typer(hla_app, name="hla")

# No markup or emoji codes: what we print is mostly user data (HLA cells, codes, reasons, file names), and
# "[/x]" in a cell must print as written, not raise MarkupError after the import has committed.
out = Console(highlight=False, markup=False, emoji=False)
err = Console(stderr=True, highlight=False, markup=False, emoji=False)

EXIT_DATABASE = 5  # the database is not usable yet: not migrated (run `donorflow db upgrade`) or unreachable

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output on stdout.")]
ActorOption = Annotated[str, typer.Option(help="Who does this (goes into the audit log).")]


def _default_actor() -> str:
    return f"cli:{getpass.getuser()}"


def _fail(message: str, code: int) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True, markup=True)
    raise typer.Exit(code)


@contextmanager
def _session() -> Iterator[Session]:
    """One session per command; our errors become one line on stderr and a meaningful exit code."""
    bootstrap.configure_logging()
    engine = bootstrap.get_engine()
    problem = bootstrap.schema_problem(engine)
    if problem is not None:
        _fail(problem, EXIT_DATABASE)
    try:
        with Session(engine) as session:
            yield session
    except NotFoundError as exc:
        _fail(str(exc), 3)
    except ConflictError as exc:
        _fail(str(exc), 4)
    except ValidationError as exc:
        _fail(str(exc), 2)
    except DonorflowError as exc:
        _fail(str(exc), 1)


def _print_json(payload: Any) -> None:
    out.file.write(json.dumps(payload, ensure_ascii=False, default=str, indent=2) + "\n")


def _parse_date(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        _fail(f"{option}: 日期格式错误 {value!r} is not a date (YYYY-MM-DD)", 2)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or migrate the database schema to the latest version (safe to run again)."""
    bootstrap.configure_logging()
    bootstrap.upgrade_database()
    err.print("database is up to date")


@events_app.command("add")
def events_add(
    name: Annotated[str, typer.Option(help="Name of the drive.")],
    date_: Annotated[str, typer.Option("--date", help="Day it is held, YYYY-MM-DD.")],
    location: Annotated[str, typer.Option(help="Where it is held.")],
    district: Annotated[str | None, typer.Option(help="District, e.g. 金水区.")] = None,
    kind: Annotated[str, typer.Option(help="stem_cell or blood.")] = "stem_cell",
    json_: JsonFlag = False,
) -> None:
    """Record a recruitment drive; prints its id (use it with `donors import --event-id`)."""
    held_on = _parse_date(date_, "--date")
    with _session() as session:
        data = drive_input(name=name, held_on=held_on, location=location, district=district, kind=kind)
        with transaction(session):  # the command owns the unit of work; services never commit
            event = create_event(session=session, data=data)
        if json_:
            _print_json({"id": event.id, "name": event.name, "held_on": event.held_on, "kind": event.kind})
        else:
            out.print(event.id)


@donors_app.command("import")
def donors_import(
    path: Annotated[
        Path,
        typer.Argument(help="Sign-up sheet: .csv (UTF-8 or GBK) or .xlsx; or an ATLAS donor file (.json)."),
    ],
    event_id: Annotated[int | None, typer.Option(help="The drive these people signed up at.")] = None,
    rejects_out: Annotated[
        Path | None, typer.Option(help="Write the rejected rows and their reasons to this CSV to fix.")
    ] = None,
    actor: ActorOption = "",
    json_: JsonFlag = False,
) -> None:
    """Import a drive's sign-up sheet. Good rows land, bad rows are reported; safe to run again."""
    with _session() as session, _progress(enabled=not json_) as advance:
        if rejects_out is not None:  # before importing: a refused path must not cost a committed import
            check_rejects_path(rejects_out, source=path)
        report = import_file(
            session=session,
            path=path,
            policy=bootstrap.import_policy(),
            event_id=event_id,
            actor=actor or _default_actor(),
            progress=advance,
            load_reference=bootstrap.hla_reference,
        )
    if rejects_out is not None and report.rejected:
        try:
            write_rejects_csv(rejects_out, report.columns, report.rejected_rows())
        except OSError as exc:  # e.g. the disk filled up: the import itself is committed, say so
            _fail(f"imported, but the rejects file {rejects_out} could not be written: {exc.strerror}", 1)
        err.print(f"rejected rows written to {rejects_out}")
    summary = report.to_json()
    if json_:
        _print_json(summary)
        return
    out.print(
        f"created {summary['created']}, updated {summary['updated']}, unchanged {summary['unchanged']}, "
        f"rejected {len(report.rejected)}"
    )
    if report.rejected:
        table = Table("row", "reasons", title="Rejected rows (fix them in the sheet and import it again)")
        for rejection in report.rejected:
            table.add_row(str(rejection.row), "; ".join(rejection.errors))
        out.print(table)


@contextmanager
def _progress(*, enabled: bool) -> Iterator[Callable[[int], None] | None]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("rows", total=None)
        yield lambda n: progress.advance(task, n)


@donors_app.command("show")
def donors_show(
    code: Annotated[str, typer.Argument(help="Registry code, e.g. ZZ21-000123.")], json_: JsonFlag = False
) -> None:
    """Show a member, personal data masked."""
    with _session() as session:
        donor = show_donor(session=session, code=code)
    if json_:
        _print_json(donor.model_dump(mode="json"))
        return
    table = Table(show_header=False)
    for key, value in donor.model_dump().items():
        if key == "hla" and value:
            value = " ".join(f"{k.upper()}={v}" for k, v in value.items() if v)
        table.add_row(key, "" if value is None else str(value))
    out.print(table)


@donors_app.command("withdraw")
def donors_withdraw(
    code: Annotated[str, typer.Argument(help="Registry code of the member withdrawing consent.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    actor: ActorOption = "",
) -> None:
    """Consent withdrawn: erase the member's personal data (anonymous counts and the audit trail stay),
    stop pending messages to them and send them a confirmation."""
    if not yes and sys.stdin.isatty() and not typer.confirm(f"Erase the personal data of {code}?"):
        raise typer.Exit(1)
    with _session() as session:
        with transaction(session):
            donor = withdraw_member(session=session, code=code, actor=actor or _default_actor())
        out.print(f"{donor.code} withdrawn; personal data erased")


@donors_app.command("deceased")
def donors_deceased(
    code: Annotated[str, typer.Argument(help="已故志愿者编号 Registry code of the member who died.")],
    on: Annotated[str, typer.Option("--on", help="死亡日期 Date of death, YYYY-MM-DD.")],
    yes: Annotated[bool, typer.Option("--yes", help="不再确认 Do not ask for confirmation.")] = False,
    actor: ActorOption = "",
    json_: JsonFlag = False,
) -> None:
    """登记志愿者已故 Record a member's death (reported by the family or a hospital): nothing is sent to
    them again, their follow-ups and reminders stop, and each open case becomes a task to close it."""
    from models.reminders import record_death

    died_on = _parse_date(on, "--on")
    if not yes and sys.stdin.isatty() and not typer.confirm(f"登记 {code} 已故？ Record {code} as deceased?"):
        raise typer.Exit(1)
    with _session() as session:
        with transaction(session):
            done = record_death(session=session, code=code, died_on=died_on, actor=actor or _default_actor())
        summary = done.as_dict()
    if json_:
        _print_json(summary)
        return
    out.print(
        f"{summary['member_code']}: 已登记已故 recorded as deceased; 停止消息 messages stopped "
        f"{summary['messages_skipped']}, 取消随访 follow-ups cancelled {summary['follow_ups_cancelled']}, "
        f"待结案 open cases to close {len(done.cases)}"
    )


@donors_app.command("availability")
def donors_availability(
    code: Annotated[str, typer.Argument(help="Registry code of the member who answered the check.")],
    available: Annotated[
        bool,
        typer.Option("--available/--not-available", help="可以捐献 Available, or not (a pause)."),
    ],
    until: Annotated[
        str | None, typer.Option("--until", help="暂停至 Not available until YYYY-MM-DD (--not-available).")
    ] = None,
    actor: ActorOption = "",
) -> None:
    """记录可捐献状态复核 Record the member's answer to the 2-yearly availability check: available (next check
    in 2 years) or not available until a date (checks pause until then; the member stays searchable)."""
    from models.registry import get_donor
    from models.reminders import record_availability

    pause = None if until is None else _parse_date(until, "--until")
    with _session() as session:
        with transaction(session):
            donor = get_donor(session=session, code=code)
            who = actor or _default_actor()
            donor = record_availability(
                session=session, donor=donor, available=available, until=pause, actor=who
            )
        shown = "可以捐献 available" if available else f"暂停至 paused until {donor.paused_until}"
        out.print(f"{donor.code}: {shown}; 下次复核 next check {donor.availability_due_on}")


@app.command("search")
def search(
    hla_text: Annotated[
        str, typer.Option("--hla", help='Patient typing: "A*02:01 A*24:02 B*40:01 …" or a GL string.')
    ],
    loci: Annotated[
        str, typer.Option(help="Loci to score: A,B,DRB1 (6/6) … A,B,C,DRB1,DQB1,DPB1 (12/12).")
    ] = "A,B,C,DRB1",
    max_mismatches: Annotated[int, typer.Option(min=0, max=6, help="Mismatches allowed.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many candidates to list.")] = 20,
    dpb1_apart: Annotated[
        bool,
        typer.Option(
            "--dpb1-apart",
            help="DPB1 不计入总分，只报告允许性并用于排序 "
            "Grade DPB1 and rank by its permissiveness, but leave it out of the total (10/10 + DPB1).",
        ),
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Initial screening: registry members ranked against a patient's HLA typing."""
    from models.matching import patient_genotype, search_registry

    with _session() as session:
        reference = bootstrap.hla_reference()
        patient = patient_genotype(hla_text, reference)
        index = bootstrap.hla_index_store().open(session)
        wanted = [locus.strip().upper() for locus in loci.split(",") if locus.strip()]
        total, rows = search_registry(
            session=session,
            index=index,
            patient=patient,
            loci=wanted,
            max_mismatches=max_mismatches,
            limit=limit,
            haplotypes=bootstrap.hla_haplotypes(),
            count_dpb1=not dpb1_apart,
        )
    if json_:
        _print_json([row.as_dict() for row in rows])
        return
    # Match likelihood columns only when a haplotype-frequency set is configured (DONORFLOW_HLA_HAPLOTYPES).
    levels = ["6/6", "8/8", "10/10"] if any(row.likelihood for row in rows) else []
    sets = sorted({row.haplotype_set for row in rows if row.haplotype_set})
    table = Table(
        "member",
        "match",
        "certainty",
        *wanted,
        *(["DPB1 TCE"] if "DPB1" in wanted else []),
        *(f"P({level})" for level in levels),
        title=f"{total} 位候选，错配不超过 {max_mismatches} "
        + f"{total} candidates within {max_mismatches} mismatches"
        + ("；DPB1 不计入总分 DPB1 not counted" if dpb1_apart and "DPB1" in wanted else "")
        + (f"; 全相合概率 match likelihood: {', '.join(sets)}" if sets else ""),
    )
    for row in rows:
        shown = row.result.as_dict()
        grades, nulls = shown["loci"], shown["nulls"]
        assert isinstance(grades, dict) and isinstance(nulls, dict)
        chances = row.likelihood.levels if row.likelihood else {}
        table.add_row(
            row.code,
            f"{row.result.matched}/{row.result.of}",
            str(row.result.certainty),
            *(
                " ".join(
                    grade + _NULL_MARKS.get(flag, "")
                    for grade, flag in zip(grades[locus], nulls.get(locus, [None, None]), strict=True)
                )
                for locus in wanted
            ),
            *([_TCE_LABELS.get(str(row.result.dpb1_tce), "")] if "DPB1" in wanted else []),
            *(_percent(chances.get(level)) for level in levels),
        )
    out.print(table)
    untyped = [locus for locus in wanted if not patient.typed(locus)]
    if untyped:
        # Issue 13 item 7: searched, not refused; the coordinator sees that those grades confirm nothing.
        out.print(
            f"注意 warning: 患者未分型位点 {', '.join(untyped)} 按潜在相合计 "
            f"the patient is not typed at {', '.join(untyped)}: every position there is scored potential"
        )
    if any(row.result.as_dict()["nulls"] for row in rows):
        out.print(
            "(无效 null): 该位点含无效等位基因 a null allele at this position, graded as the other typing"
        )


# DPB1 permissiveness by TCE group (issue 13 item 6), zh-CN first.
_TCE_LABELS = {
    "no_mismatch": "无错配 no mismatch",
    "permissive": "允许性 permissive",
    "non_permissive_gvh": "非允许性 non-permissive (GvH)",
    "non_permissive_hvg": "非允许性 non-permissive (HvG)",
    "unknown": "未知 unknown",
}

# A position involving a null allele keeps its grade; the mark says so (issue 13: nulls visible).
_NULL_MARKS = {
    "expressed_vs_null": "(无效 null)",
    "null_vs_null": "(均无效 null/null)",
    "possibly_null": "(或无效 null?)",
}


def _percent(value: float | None) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


@app.command("funnel")
def funnel(
    from_: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (Asia/Shanghai).")],
    to: Annotated[str, typer.Option("--to", help="Last day, inclusive.")],
    json_: JsonFlag = False,
) -> None:
    """Funnel counts for a period: drives, registrations, screenings … donations."""
    with _session() as session:
        start, end = funnel_period(from_, to)
        counts = funnel_counts(session=session, start=start, end=end)
    if json_:
        _print_json(counts.model_dump())
        return
    rates = counts.conversion()
    table = Table("stage", "count", "of previous", title=f"Funnel {start} – {end}")
    for key, value in counts.model_dump().items():
        rate = rates.get(key)
        table.add_row(key, str(value), f"{rate:.1%}" if rate is not None else "")
    out.print(table)


demo_app = typer.Typer(help="Synthetic demo data (nobody in it is a real person).", no_args_is_help=True)
app.add_typer(demo_app, name="demo")


@demo_app.command("signups")
def demo_signups(
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the CSV.")],
    rows: Annotated[int, typer.Option(min=1, help="How many people.")] = 2358,
    seed: Annotated[int, typer.Option(help="Same seed, same sheet.")] = 2021,
    encoding: Annotated[str, typer.Option(help="utf-8, utf-8-sig or gbk.")] = "utf-8",
) -> None:
    """Write a synthetic sign-up sheet with valid ID numbers (the seed year has 2,358 rows)."""
    from donorflow.demo import signup_rows, write_signup_csv

    write_signup_csv(out_path, list(signup_rows(rows, seed=seed)), encoding=encoding)
    err.print(f"wrote {rows} rows to {out_path}")


@demo_app.command("zhengzhou-2021")
def demo_zhengzhou_2021() -> None:
    """Load the synthetic seed year (73 drives, 2,358 sign-ups, 2,369 screenings … 39 donations); once."""
    from donorflow.setup import load_demo_year

    with _session() as session:
        for line in load_demo_year(session):
            err.print(line)


@app.command("up")
def up(
    demo: Annotated[bool, typer.Option("--demo/--no-demo", help="Load the synthetic demo year once.")] = True,
) -> None:
    """Database, demo data, a local Prefect server and every deployment served; Ctrl-C stops it all."""
    from donorflow.up import run_up

    bootstrap.configure_logging()
    try:
        run_up(echo=lambda line: out.print(line, soft_wrap=True), demo=demo)
    except (DonorflowError, RuntimeError) as exc:
        _fail(str(exc), 1)


@app.command("dashboard")
def dashboard(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="Port (default 8000).")] = None,
) -> None:
    """工作台 The dashboard alone (make up runs it beside Prefect): log in with `donorflow users add`."""
    from donorflow.web import serve

    settings = bootstrap.get_settings()
    bootstrap.configure_logging()
    problem = bootstrap.schema_problem(bootstrap.get_engine(settings))
    if problem is not None:
        _fail(problem, EXIT_DATABASE)
    host = host or settings.dashboard_host
    port = port or settings.dashboard_port
    err.print(f"Dashboard: http://{host}:{port}  (Ctrl-C stops it)")
    serve(host, port)


cases_app = typer.Typer(
    help="Donor cases (one registry member considered for one patient).", no_args_is_help=True
)
app.add_typer(cases_app, name="cases")


@cases_app.command("release")
def cases_release(
    case_id: Annotated[str, typer.Argument(help="The stuck case (its id, as the flow run's name shows it).")],
    reason: Annotated[str, typer.Option(help="Why (goes into the audit log), e.g. 'run cancelled'.")],
    actor: ActorOption = "",
    json_: JsonFlag = False,
) -> None:
    """Free a case a stage run still holds (a run cancelled, crashed or killed): audited, with a reason."""
    with _session() as session:
        from models.cases import release_claim

        with transaction(session):
            held_by = release_claim(
                session=session, case_id=case_id, actor=actor or _default_actor(), reason=reason
            )
    if json_:
        _print_json({"case_id": case_id, "released_from_run": held_by})
        return
    out.print(f"已释放 released: case {case_id} (held by run {held_by})", markup=False)
