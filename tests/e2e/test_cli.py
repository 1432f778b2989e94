"""The CLI as a data manager uses it: a real process, a real database, exit codes and stderr lines."""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from alembic import command
from openpyxl import Workbook
from sqlalchemy import create_engine, func, text
from sqlmodel import Session, select

from donorflow.bootstrap import alembic_config
from donorflow.demo import SIGNUP_HEADER, signup_rows, write_signup_csv
from models.registry import Donor
from tests.databases import BACKENDS, empty_all_tables, fresh_database

DONORFLOW = str(Path(sys.executable).with_name("donorflow"))


@pytest.fixture(scope="module", params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(request.param, tmp_path_factory.mktemp(f"cli-{request.param}")) as url:
        yield url


@pytest.fixture
def run(database_url: str, tmp_path: Path) -> CliRunner:
    return _clean_runner(database_url, tmp_path)


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path_factory.mktemp("cli-one-backend")) as url:
        yield url


@pytest.fixture
def run_sqlite(sqlite_url: str, tmp_path: Path) -> CliRunner:
    """For behaviour that does not depend on the database (printing, files): one backend is enough."""
    return _clean_runner(sqlite_url, tmp_path)


def _clean_runner(database_url: str, tmp_path: Path) -> CliRunner:
    engine = create_engine(database_url)
    empty_all_tables(engine)
    engine.dispose()
    return CliRunner(database_url, tmp_path)


class CliRunner:
    def __init__(self, database_url: str, tmp_path: Path) -> None:
        self.env = {
            **os.environ,
            "DONORFLOW_DATABASE_URL": database_url,
            "DONORFLOW_VAR_DIR": str(tmp_path / "var"),
            "DONORFLOW_ID_SALT": "cli-test-salt",
            "COLUMNS": "200",
        }
        self.database_url = database_url

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([DONORFLOW, *args], env=self.env, capture_output=True, text=True, timeout=120)
        if check:
            assert result.returncode == 0, result.stderr
        return result

    def with_env(self, **env: str) -> CliRunner:
        runner = CliRunner.__new__(CliRunner)
        runner.env, runner.database_url = {**self.env, **env}, self.database_url
        return runner

    def popen(self, *args: str, **env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [DONORFLOW, *args],
            env={**self.env, **env},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def donors(self) -> int:
        engine = create_engine(self.database_url)
        try:
            with Session(engine) as session:
                return session.exec(select(func.count()).select_from(Donor)).one()
        finally:
            engine.dispose()


def test_import_json_report_show_masked_and_funnel(run: CliRunner, tmp_path: Path) -> None:
    event_id = run(
        "events", "add", "--name", "郑州大学", "--date", "2021-06-14", "--location", "郑州大学"
    ).stdout
    people = list(signup_rows(5, seed=3, day=date(2021, 6, 14)))
    sheet = tmp_path / "sheet.csv"
    with sheet.open("w", newline="", encoding="gbk") as handle:  # a GBK sheet with Chinese headers
        writer = csv.writer(handle)
        writer.writerow(["姓名", "性别", "出生日期", "身份证号", "手机号", "邮箱", "血型", "知情同意时间"])
        writer.writerows(row.cells() for row in people)
        writer.writerow(["坏行", "男", "", "410102199001011230", "13800138000", "", "", "2021-06-14"])
    result = run("donors", "import", str(sheet), "--event-id", event_id.strip(), "--json")
    report = json.loads(result.stdout)
    assert (report["created"], report["updated"], report["unchanged"]) == (5, 0, 0)
    assert report["rejected"] == [{"row": 7, "errors": ["national_id: check digit does not match"]}]
    assert [a["row"] for a in report["accepted"]] == [2, 3, 4, 5, 6]
    assert all(a["action"] == "created" for a in report["accepted"])

    shown = run("donors", "show", report["accepted"][0]["code"], "--json").stdout
    human = run("donors", "show", report["accepted"][0]["code"]).stdout
    person = people[0]
    for output in (shown, human, result.stdout, result.stderr):
        for secret in (person.name, person.phone, person.national_id):
            assert secret not in output
    assert json.loads(shown)["phone"] == person.phone[:3] + "****" + person.phone[-4:]

    funnel = json.loads(run("funnel", "--from", "2021-01-01", "--to", "2021-12-31", "--json").stdout)
    assert list(funnel) == [
        "recruitment_events",
        "registered",
        "initial_screenings",
        "remobilisations",
        "high_res_samples",
        "pre_donation_exams",
        "donations",
    ]
    assert (funnel["recruitment_events"], funnel["registered"]) == (1, 5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["donors", "import", "missing.csv"], "file not found"),
        (["donors", "import", "{no_phone}"], "phone"),
        (["donors", "import", "{binary}"], "encoding"),
        (["donors", "show", "ZZ99-999999"], "no registry member"),
        (["funnel", "--from", "2021-13-01", "--to", "2021-12-31"], "not a date"),
        (["funnel", "--from", "2021-12-31", "--to", "2021-01-01"], "the period ends before it starts"),
        (
            ["events", "add", "--name", "d", "--date", "2021-06-14", "--location", "l", "--kind", "plasma"],
            "kind",
        ),
        (["donors", "import", "{atlas}", "--event-id", "1"], "an ATLAS donor file names no drive"),
    ],
)
def test_unusable_input_is_one_clear_line_on_stderr(
    run: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    no_phone = tmp_path / "no_phone.csv"
    no_phone.write_text("name,sex,national_id,consent_at\n张三,男,x,2021-01-01\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(bytes(range(256)) * 8)
    atlas = tmp_path / "atlas.json"
    atlas.write_text('{"updateMode": "diff", "donors": [{"recordId": "1"}]}', encoding="utf-8")
    args = [a.format(no_phone=no_phone, binary=binary, atlas=atlas) for a in args]
    result = run(*args, check=False)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_rerun_after_kill_9_creates_no_duplicates_and_loses_nothing(run: CliRunner, tmp_path: Path) -> None:
    rows = list(signup_rows(3000, seed=11))
    sheet = write_signup_csv(tmp_path / "big.csv", rows)
    process = run.popen("donors", "import", str(sheet), "--json", DONORFLOW_IMPORT_BATCH_SIZE="100")
    deadline = time.monotonic() + 90
    while run.donors() < 300 and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert process.poll() is None, "the import finished before it could be killed; use a bigger sheet"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    landed = run.donors()
    assert 300 <= landed < 3000 and landed % 100 == 0  # whole batches only: nothing half-written

    report = json.loads(run("donors", "import", str(sheet), "--json").stdout)
    assert (report["created"], report["unchanged"]) == (3000 - landed, landed)
    assert run.donors() == 3000
    engine = create_engine(run.database_url)
    with engine.connect() as connection:
        registered = connection.execute(
            text("SELECT count(*) FROM stage_event WHERE to_state = 'registered'")
        )
        assert registered.scalar_one() == 3000
        codes = connection.execute(text("SELECT count(DISTINCT code) FROM donor")).scalar_one()
        assert codes == 3000
    engine.dispose()


def test_rejects_out_writes_fixable_rows_with_formulas_neutralised(run: CliRunner, tmp_path: Path) -> None:
    sheet = tmp_path / "sheet.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(SIGNUP_HEADER)
        writer.writerow(['=HYPERLINK("http://x")', "M", "", "1", "1", "", "", "2021-01-01"])
    out = tmp_path / "fix.csv"
    result = run("donors", "import", str(sheet), "--rejects-out", str(out))
    assert "rejected 1" in result.stdout
    written = list(csv.reader(out.open(encoding="utf-8-sig")))
    assert written[0][0] == "row" and written[0][-1] == "errors"
    assert written[1][0] == "2" and written[1][1].startswith("'=")


def _sheet_with(tmp_path: Path, extra_rows: list[list[str]], *, people: int = 2) -> tuple[Path, list[str]]:
    """A valid CSV of `people` rows followed by `extra_rows`; returns it and every personal value in it."""
    rows = list(signup_rows(people, seed=41, day=date(2021, 6, 14)))
    sheet = tmp_path / "sheet.csv"
    with sheet.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow([*SIGNUP_HEADER, "A_1"])
        writer.writerows([*row.cells(), "A*02:01"] for row in rows)
        writer.writerows(extra_rows)
    secrets = [value for row in rows for value in (row.name, row.phone, row.national_id)]
    return sheet, secrets


@pytest.mark.parametrize("cell", ["A*02[/x]", "[bold]A*02:01[/bold]", "A*02:01:smile:"])
def test_user_text_with_rich_markup_prints_literally_after_the_import(
    run_sqlite: CliRunner, tmp_path: Path, cell: str
) -> None:
    person = next(signup_rows(1, seed=43, day=date(2021, 6, 14)))
    sheet, _ = _sheet_with(tmp_path, [[*person.cells(), cell]])
    result = run_sqlite("donors", "import", str(sheet), check=False)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert "created 2" in result.stdout and "rejected 1" in result.stdout
    assert cell in result.stdout.replace("\n", "")  # the HLA text is quoted in the reason, as written


def test_nul_and_control_characters_reject_their_rows_and_the_others_land(
    run: CliRunner, tmp_path: Path
) -> None:
    bad = list(signup_rows(3, seed=44, day=date(2021, 6, 14)))
    cells = [row.cells() for row in bad]
    cells[0][0] = cells[0][0][:1] + "\x00" + cells[0][0][1:]  # NUL in the name
    cells[1][0] = cells[1][0] + "\n" + cells[1][0]  # a line break inside the name
    cells[2][4] = "\u202e" + cells[2][4]  # a right-to-left override before the phone
    sheet, secrets = _sheet_with(tmp_path, [[*row, "A*02:01"] for row in cells])
    result = run("donors", "import", str(sheet), "--json", check=False)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["created"] == 2
    assert [r["row"] for r in report["rejected"]] == [4, 5, 6]
    assert "control character" in report["rejected"][0]["errors"][0]
    assert "line break" in report["rejected"][1]["errors"][0]
    assert "bidi" in report["rejected"][2]["errors"][0]
    assert "Traceback" not in result.stderr
    for secret in [*secrets, *(value for row in bad for value in (row.name, row.phone))]:
        assert secret not in result.stderr and secret not in result.stdout
    assert run.donors() == 2


def _broken_xlsx(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "drive.xlsx"
    if kind == "not-a-zip":
        path.write_text("name,sex\n", encoding="utf-8")
        return path
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(list(SIGNUP_HEADER))
    book.save(path)
    if kind == "malformed-xml":
        _rewrite_part(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</sheetData>", b"<row><c"))
    elif kind == "no-sheets":
        _rewrite_part(
            path,
            "xl/workbook.xml",
            lambda xml: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", xml, flags=re.S),
        )
    return path


def _rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> None:
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)


@pytest.mark.parametrize("kind", ["not-a-zip", "malformed-xml", "no-sheets"])
def test_broken_workbook_is_one_line_exit_2(run_sqlite: CliRunner, tmp_path: Path, kind: str) -> None:
    result = run_sqlite("donors", "import", str(_broken_xlsx(tmp_path, kind)), check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert "drive.xlsx" in lines[0] and "Traceback" not in result.stderr


def test_rejects_out_naming_the_input_is_refused_before_importing(
    run_sqlite: CliRunner, tmp_path: Path
) -> None:
    sheet, _ = _sheet_with(tmp_path, [["坏行", "M", "", "1", "1", "", "", "2021-01-01", ""]])
    before = sheet.read_bytes()
    link = tmp_path / "link.csv"
    link.symlink_to(sheet)
    for target in (sheet, link, tmp_path / "." / "sheet.csv"):
        result = run_sqlite("donors", "import", str(sheet), "--rejects-out", str(target), check=False)
        assert result.returncode == 2, result.stderr
        assert "the input" in result.stderr and "Traceback" not in result.stderr
    assert sheet.read_bytes() == before
    assert run_sqlite.donors() == 0


def test_rejects_out_that_cannot_be_written_is_refused_before_importing(
    run_sqlite: CliRunner, tmp_path: Path
) -> None:
    sheet, _ = _sheet_with(tmp_path, [["坏行", "M", "", "1", "1", "", "", "2021-01-01", ""]])
    (tmp_path / "a-folder.csv").mkdir()
    cases = [
        (tmp_path / "nope" / "fix.csv", "does not exist"),  # its folder is missing
        (sheet / "fix.csv", "not a folder"),  # its "folder" is a file
        (tmp_path / "a-folder.csv", "is a folder"),
    ]
    for target, reason in cases:
        result = run_sqlite("donors", "import", str(sheet), "--rejects-out", str(target), check=False)
        assert result.returncode == 2 and reason in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert run_sqlite.donors() == 0


def test_rejects_out_is_replaced_atomically_leaving_no_temporary_file(
    run_sqlite: CliRunner, tmp_path: Path
) -> None:
    sheet, _ = _sheet_with(tmp_path, [["坏行", "M", "", "1", "1", "", "", "2021-01-01", ""]])
    folder = tmp_path / "out"
    folder.mkdir()
    target = folder / "fix.csv"
    target.write_text("an older rejects file\n", encoding="utf-8")
    old_inode = target.stat().st_ino
    run_sqlite("donors", "import", str(sheet), "--rejects-out", str(target))
    assert [p.name for p in folder.iterdir()] == ["fix.csv"]
    assert target.stat().st_ino != old_inode  # a new file renamed over the old one, not rewritten in place
    assert list(csv.reader(target.open(encoding="utf-8-sig")))[1][0] == "4"


@pytest.mark.parametrize("state", ["never migrated", "behind"])
def test_commands_on_an_unmigrated_database_say_to_run_db_upgrade(
    run_sqlite: CliRunner, tmp_path: Path, state: str
) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    if state == "behind":
        command.upgrade(alembic_config(url), "0002")
    run_sqlite.env["DONORFLOW_DATABASE_URL"] = url
    for args in (["donors", "show", "ZZ21-000001"], ["funnel", "--from", "2021-01-01", "--to", "2021-12-31"]):
        result = run_sqlite(*args, check=False)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 5 and len(lines) == 1, result.stderr
        assert "donorflow db upgrade" in lines[0] and "Traceback" not in result.stderr
    run_sqlite("db", "upgrade")
    assert run_sqlite("donors", "show", "ZZ21-000001", check=False).returncode == 3


def test_import_limits_come_from_the_settings(run_sqlite: CliRunner, tmp_path: Path) -> None:
    sheet, _ = _sheet_with(tmp_path, [], people=12)
    for variable, value, reason in (
        ("DONORFLOW_IMPORT_MAX_ROWS", "10", "more than 10 rows"),
        ("DONORFLOW_IMPORT_MAX_CELL_CHARS", "11", "row 2 has a cell longer than 11 characters"),
        ("DONORFLOW_IMPORT_MAX_FILE_BYTES", "1000", "larger than the import limit of 1,000 bytes"),
    ):
        result = run_sqlite.with_env(**{variable: value})("donors", "import", str(sheet), check=False)
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert result.returncode == 2 and len(lines) == 1 and reason in lines[0], result.stderr
    assert run_sqlite.donors() == 0


def test_unreachable_database_is_one_line_without_the_url(run_sqlite: CliRunner) -> None:
    url = "postgresql+psycopg://donorflow:s3cret-pw@127.0.0.1:1/registry"  # nothing listens on port 1
    result = run_sqlite.with_env(DONORFLOW_DATABASE_URL=url)("donors", "show", "ZZ21-000001", check=False)
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 5 and len(lines) == 1, result.stderr
    assert "cannot open the database" in lines[0] and "s3cret-pw" not in result.stderr


@pytest.mark.parametrize("name", ["drive.csv", "drive.xlsx", "donors.json"])
def test_import_of_a_fifo_is_refused_without_waiting_for_a_writer(
    run_sqlite: CliRunner, tmp_path: Path, name: str
) -> None:
    fifo = tmp_path / name
    os.mkfifo(fifo)
    result = run_sqlite("donors", "import", str(fifo), check=False)  # before: blocked until the timeout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert f"{name} is not a regular file" in lines[0]
