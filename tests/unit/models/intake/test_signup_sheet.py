from __future__ import annotations

import csv
import os
import re
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from models.core import SheetError
from models.intake import (
    RowRejection,
    SheetLimits,
    SheetRows,
    read_sheet,
    safe_cell,
    validate_row,
    write_rejects_csv,
)
from models.intake.sheet_rows import _cell_text


def make_id(birth: str, *, region: str = "410103", sequence: str = "123") -> str:
    body = region + birth + sequence
    return body + ric.calc_check_digit(body + "0")  # calc_check_digit ignores the last character


ID_1 = make_id("19900101")
ID_2 = make_id("19920202", region="410122", sequence="124")
EN_HEADER = "name,sex,national_id,phone,consent_at"
ZH_HEADER = "姓名,性别,身份证号,手机号,知情同意时间"


def write_text(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def rows_of(sheet: SheetRows) -> list[tuple[int, dict[str, str | None]]]:
    return list(sheet)


def test_utf8_csv_gives_canonical_cells_with_spreadsheet_row_numbers(tmp_path: Path) -> None:
    path = write_text(
        tmp_path / "drive.csv",
        [EN_HEADER, f" Zhang San ,M,{ID_1}, 13800138000 ,2021-05-01", f"Li Si,F,{ID_2},13900139000,"],
    )
    sheet = read_sheet(path)
    assert sheet.columns == ["name", "sex", "national_id", "phone", "consent_at"]
    assert sheet.encoding == "utf-8"
    assert sheet.header_row == 1
    assert rows_of(sheet) == [
        (
            2,
            {
                "name": "Zhang San",
                "sex": "M",
                "national_id": ID_1,
                "phone": "13800138000",
                "consent_at": "2021-05-01",
            },
        ),
        (3, {"name": "Li Si", "sex": "F", "national_id": ID_2, "phone": "13900139000", "consent_at": None}),
    ]


ROW_1 = f"张三,男,{ID_1},13800138000,2021-05-01"
ZHANG = {"name": "张三", "sex": "男", "national_id": ID_1, "phone": "13800138000", "consent_at": "2021-05-01"}


@pytest.mark.parametrize(
    ("name", "lines", "written", "detected", "rows"),
    [
        pytest.param(  # the BOM does not leak into the first header
            "drive.csv",
            [ZH_HEADER, f"张三,男,{ID_1},13800138000,2021/5/1"],
            "utf-8-sig",
            "utf-8-sig",
            [{"name": "张三"}],
            id="utf8-bom",
        ),
        pytest.param(
            "报名表.csv",
            [
                "姓名,性别,身份证号码,手机,同意时间,血型",
                f"张三丰,男,{ID_1},13800138000,2021年5月1日,A型",
                f"欧阳娜娜,女,{ID_2},13900139000,2021年5月2日,O型Rh阴性",
            ],
            "gbk",
            "gb18030",
            [{"name": "张三丰"}, {"name": "欧阳娜娜", "blood_group": "O型Rh阴性"}],
            id="gbk-chinese-headers-and-names",
        ),
        pytest.param(  # charset-normalizer ranks Big5-HKSCS first for this; the reader must choose GB18030
            "drive.csv",
            [EN_HEADER, ROW_1],
            "gbk",
            "gb18030",
            [{"name": "张三"}],
            id="gbk-english-header-short-chinese-text-not-big5",
        ),
        pytest.param(  # Excel's "Unicode text" export: UTF-16 with BOM, tab separated
            "drive.txt",
            [ZH_HEADER.replace(",", "\t"), ROW_1.replace(",", "\t")],
            "utf-16",
            "utf-16",
            [ZHANG],
            id="excel-unicode-text-utf16-tab-txt",
        ),
        pytest.param("drive.csv", [ZH_HEADER, ROW_1], "utf-16", "utf-16", [{"name": "张三"}], id="utf16-bom"),
        pytest.param("drive.csv", [ZH_HEADER, ROW_1], "utf-32", "utf-32", [{"name": "张三"}], id="utf32-bom"),
        pytest.param(
            "drive.csv",
            [EN_HEADER, f"张\x00三,男,{ID_1},13800138000,2021-05-01"],
            "utf-8",
            "utf-8",
            [{"name": "张\x00三"}],
            id="nul-in-one-cell-still-utf8",
        ),
    ],
)
def test_each_accepted_encoding_is_detected_and_read(
    tmp_path: Path, name: str, lines: list[str], written: str, detected: str, rows: list[dict[str, str]]
) -> None:
    sheet = read_sheet(write_text(tmp_path / name, lines, written))
    assert sheet.encoding == detected
    assert sheet.labels["name"] == re.split("[,\t]", lines[0])[0]
    read = rows_of(sheet)
    assert [number for number, _ in read] == list(range(2, 2 + len(rows)))  # spreadsheet row numbers
    for (_, cells), expected in zip(read, rows, strict=True):
        assert {column: cells[column] for column in expected} == expected


ENCODING_REFUSED = (
    r"the file's encoding could not be read; accepted: UTF-8 \(with or without BOM\), GBK/GB18030, "
    r"UTF-16 with BOM\. Save it as UTF-8"
)


def test_bytes_no_encoding_explains_raise_sheet_error_asking_for_utf8_or_gbk(tmp_path: Path) -> None:
    path = tmp_path / "garbled.csv"
    path.write_bytes(EN_HEADER.encode() + b"\n" + bytes(range(128, 256)) * 3)
    with pytest.raises(SheetError, match=r"^garbled\.csv: " + ENCODING_REFUSED):
        read_sheet(path)


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-32-le"])
@pytest.mark.parametrize("header", [EN_HEADER, ZH_HEADER])
def test_utf16_without_bom_is_an_unreadable_encoding_not_missing_columns(
    tmp_path: Path, encoding: str, header: str
) -> None:
    path = write_text(tmp_path / "drive.csv", [header, f"张三,男,{ID_1},13800138000,2021-05-01"], encoding)
    with pytest.raises(SheetError, match=r"^drive\.csv: " + ENCODING_REFUSED):
        read_sheet(path)


@pytest.mark.parametrize("delimiter", ["\t", ";", ","])
def test_tab_and_semicolon_delimiters_are_sniffed_from_the_header(tmp_path: Path, delimiter: str) -> None:
    header = EN_HEADER.replace(",", delimiter)
    line = delimiter.join(["Zhang, San", "M", ID_1, "13800138000", "2021-05-01 10:30"])
    if delimiter == ",":
        line = line.replace("Zhang, San", '"Zhang, San"')
    sheet = read_sheet(write_text(tmp_path / "drive.csv", [header, line]))
    assert rows_of(sheet)[0][1]["name"] == "Zhang, San"
    assert rows_of(sheet)[0][1]["consent_at"] == "2021-05-01 10:30"


def test_header_variants_map_to_canonical_names(tmp_path: Path) -> None:
    header = [
        " NAME ",
        "Gender",
        "身份证号码",
        "手机",
        "Consent",
        "出生日期（yyyy-mm-dd）",
        "E-Mail",
        "血型",
        "HLA-A_1",
        "A-2",
        "b1",
        "HLA-DRB1*1",
        "dqb1_2",
        "外部编号",
        "备注",
    ]
    path = write_text(
        tmp_path / "drive.csv", [",".join(header), ",".join(str(i) for i in range(len(header)))]
    )
    sheet = read_sheet(path)
    assert sheet.columns == [
        "name",
        "sex",
        "national_id",
        "phone",
        "consent_at",
        "birth_date",
        "email",
        "blood_group",
        "A_1",
        "A_2",
        "B_1",
        "DRB1_1",
        "DQB1_2",
        "external_id",
    ]
    assert sheet.ignored_columns == ["备注"]
    assert sheet.labels["A_1"] == "HLA-A_1"
    assert rows_of(sheet)[0][1]["DQB1_2"] == "12"


def test_missing_required_columns_are_named_in_english_and_chinese(tmp_path: Path) -> None:
    path = write_text(tmp_path / "drive.csv", ["姓名,性别,手机号", "张三,男,13800138000"])
    with pytest.raises(SheetError) as caught:
        read_sheet(path)
    message = str(caught.value)
    assert "national_id (身份证号)" in message
    assert "consent_at (知情同意时间)" in message
    assert "name" not in message.replace("drive.csv", "")  # present columns are not listed


def test_missing_file_is_a_sheet_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(SheetError, match=r"^file not found: nope\.csv$"):
        read_sheet(tmp_path / "nope.csv")


@pytest.mark.parametrize("name", ["drive.xls", "drive.ods", "drive.numbers", "drive"])
def test_unsupported_file_types_advise_xlsx_or_csv(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0 not really")
    with pytest.raises(SheetError, match=r"save as \.xlsx or CSV"):
        read_sheet(path)


def test_workbook_saved_with_a_csv_name_says_to_rename_it(tmp_path: Path) -> None:
    book = Workbook()
    book.save(tmp_path / "drive.csv")
    with pytest.raises(SheetError, match=r"rename it to \.xlsx"):
        read_sheet(tmp_path / "drive.csv")


@pytest.mark.parametrize(
    ("lines", "numbers"),
    [
        pytest.param(
            [
                EN_HEADER,
                f"A,M,{ID_1},13800138000,2021-05-01",
                "",
                ",,  ,,",
                "\t,,,,",
                f"B,F,{ID_2},13900139000,2021-05-01",
            ],
            [2, 6],
            id="blank-rows-skipped-keeping-their-numbers",
        ),
        pytest.param(
            ["序号," + EN_HEADER, f"1,A,M,{ID_1},13800138000,2021-05-01", "2,,,,,", "3,,,,,"],
            [2],
            id="rows-with-only-unrecognised-cells-count-as-blank",
        ),
        pytest.param(
            [
                EN_HEADER + ",note",
                f'A,M,{ID_1},13800138000,2021-05-01,"line one\nline two"',
                f"B,F,{ID_2},13900139000,2021-05-01,",
            ],
            [2, 3],
            id="a-quoted-multi-line-cell-is-one-row",
        ),
    ],
)
def test_rows_keep_their_spreadsheet_row_numbers(
    tmp_path: Path, lines: list[str], numbers: list[int]
) -> None:
    assert [number for number, _ in read_sheet(write_text(tmp_path / "drive.csv", lines))] == numbers


def test_title_row_above_the_header_is_skipped(tmp_path: Path) -> None:
    lines = [
        "2021年郑州大学造血干细胞捐献者招募报名表,,,,",
        ZH_HEADER,
        f"张三,男,{ID_1},13800138000,2021-05-01",
    ]
    sheet = read_sheet(write_text(tmp_path / "drive.csv", lines))
    assert sheet.header_row == 2
    assert rows_of(sheet) == [(3, ZHANG)]


def test_formula_looking_text_in_csv_is_kept_as_plain_text(tmp_path: Path) -> None:
    lines = [EN_HEADER, f"=1+1,M,{ID_1},+86 138 0013 8000,2021-05-01"]
    cells = rows_of(read_sheet(write_text(tmp_path / "drive.csv", lines)))[0][1]
    assert (cells["name"], cells["phone"]) == ("=1+1", "+86 138 0013 8000")


def test_sheet_rows_can_be_iterated_twice(tmp_path: Path) -> None:
    sheet = read_sheet(write_text(tmp_path / "drive.csv", [EN_HEADER, f"A,M,{ID_1},13800138000,2021-05-01"]))
    assert rows_of(sheet) == rows_of(sheet)
    assert len(rows_of(sheet)) == 1


def _workbook(path: Path) -> Path:
    book = Workbook()
    first = book.active
    assert first is not None
    first.title = "报名"
    first.append(["姓名", "性别", "身份证号", "手机号", "知情同意时间", "出生日期", "外部编号"])
    first.append(["张三", "男", ID_1, 13800138000, datetime(2021, 5, 1, 10, 30), date(1990, 1, 1), 1.5])
    first.append([None] * 7)
    first.append(["李四", "女", 410122199202021240.0, 1.39001390e10, datetime(2021, 5, 2), None, 7.0])
    formula_text = first.cell(row=5, column=1)
    formula_text.value = '=HYPERLINK("http://evil")'
    formula_text.data_type = "s"  # a text cell that merely looks like a formula
    for column, value in enumerate(["女", ID_2, "13700137000", "2021-05-03"], start=2):
        first.cell(row=5, column=column, value=value)
    other = book.create_sheet("说明")
    other.append(["not", "the", "sign-ups"])
    book.active = 1  # saved with the second sheet open: the reader must still take the first
    book.save(path)
    return path


def test_xlsx_first_sheet_numbers_dates_and_formula_text(tmp_path: Path) -> None:
    sheet = read_sheet(_workbook(tmp_path / "drive.xlsx"))
    assert sheet.encoding is None
    rows = rows_of(sheet)
    assert [number for number, _ in rows] == [2, 4, 5]
    first, second, third = (cells for _, cells in rows)
    assert first == {
        "name": "张三",
        "sex": "男",
        "national_id": ID_1,
        "phone": "13800138000",
        "consent_at": "2021-05-01T10:30:00",
        "birth_date": "1990-01-01",
        "external_id": "1.5",
    }
    assert second["phone"] == "13900139000"
    assert second["consent_at"] == "2021-05-02"
    assert second["external_id"] == "7"
    assert second["national_id"] is not None and "e+17" in second["national_id"]
    assert third["name"] == '=HYPERLINK("http://evil")'


def test_xlsx_numeric_id_is_rejected_with_a_clear_reason_not_guessed(tmp_path: Path) -> None:
    number, cells = rows_of(read_sheet(_workbook(tmp_path / "drive.xlsx")))[1]
    result = validate_row(number, cells, drive_date=date(2021, 5, 1))
    assert isinstance(result, RowRejection)
    assert result.errors == (
        "national_id: stored as a number in Excel, so its last digits are lost; "
        "format the column as text and type it again",
    )


def test_xlsx_parsed_rows_validate_end_to_end(tmp_path: Path) -> None:
    rows = rows_of(read_sheet(_workbook(tmp_path / "drive.xlsx")))
    results = [validate_row(number, cells, drive_date=date(2021, 5, 1)) for number, cells in rows]
    assert not isinstance(results[0], RowRejection), results[0]
    assert results[0].phone == "13800138000"
    assert isinstance(results[2], RowRejection)
    assert results[2].errors == ("name: starts with = + - or @ (looks like a formula)",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1.3800138e10, "13800138000"),  # a phone typed into a General cell
        (4.10102199001011e17, "4.10102199001011e+17"),  # an 18-digit ID: digits already lost, not guessed
        (1.5, "1.5"),
        (7, "7"),
        (True, "TRUE"),
        (datetime(2021, 5, 1, 10, 29, 59, 999_600), "2021-05-01T10:30:00"),  # Excel float noise
        (datetime(1990, 1, 1), "1990-01-01"),
        ("  \u200b张三\u3000 ", "张三"),
        ("   ", None),
        (None, None),
    ],
)
def test_excel_cell_values_become_the_text_a_user_sees(value: object, expected: str | None) -> None:
    assert _cell_text(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("  =1", "'  =1"),
        ("张三", "张三"),
        ("a=b", "a=b"),
        ("", ""),
        (None, ""),
    ],
)
def test_safe_cell_neutralises_formula_prefixes_only(value: str | None, expected: str) -> None:
    assert safe_cell(value) == expected


def test_rejects_csv_is_utf8_with_bom_and_every_cell_is_safe(tmp_path: Path) -> None:
    path = tmp_path / "rejects.csv"
    written = write_rejects_csv(
        path,
        ["name", "phone"],
        [
            (2, {"name": "=cmd|' /C calc'!A0", "phone": "+86 138"}, ["phone: not a mainland mobile number"]),
            (5, {"name": "张三", "phone": None}, ["phone: required", "consent_at: required"]),
        ],
        labels={"name": "姓名", "phone": "@手机号"},
    )
    assert written == 2
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    with path.open(encoding="utf-8-sig", newline="") as handle:
        table = list(csv.reader(handle))
    assert table == [
        ["row", "姓名", "'@手机号", "errors"],
        ["2", "'=cmd|' /C calc'!A0", "'+86 138", "phone: not a mainland mobile number"],
        ["5", "张三", "", "phone: required; consent_at: required"],
    ]


# --- hostile and clumsy files ------------------------------------------------------------------------------

SMALL = SheetLimits(max_file_bytes=100_000, max_cell_chars=20, max_rows=10)


def _rewrite_part(path: Path, part: str, change: Callable[[bytes], bytes]) -> Path:
    """Edit one XML part inside an .xlsx (a zip), as a broken exporter or an attacker would."""
    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    parts[part] = change(parts[part])
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return path


def _signup_book(path: Path, rows: int, *, sheets: tuple[str, ...] = ("报名",), data_on: int = 0) -> Path:
    book = Workbook()
    for index, title in enumerate(sheets):
        sheet = book.active if index == 0 else book.create_sheet(title)
        assert sheet is not None
        sheet.title = title
        if index != data_on:
            sheet.append(["说明", "请填写第二页"])
            continue
        sheet.append(["姓名", "性别", "身份证号", "手机号", "知情同意时间"])
        for number in range(rows):
            sheet.append([f"成员{number}", "男", ID_1, "13800138000", "2021-05-01"])
    book.save(path)
    return path


def test_xlsx_with_a_stale_dimension_yields_every_row(tmp_path: Path) -> None:
    path = _signup_book(tmp_path / "drive.xlsx", 10)
    _rewrite_part(
        path,
        "xl/worksheets/sheet1.xml",
        lambda xml: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:E4"', xml),
    )
    assert b'ref="A1:E4"' in zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml")
    rows = rows_of(read_sheet(path))
    assert [number for number, _ in rows] == list(range(2, 12))
    assert rows[-1][1]["name"] == "成员9"


def test_xlsx_with_the_sign_ups_on_another_sheet_names_the_sheets(tmp_path: Path) -> None:
    path = _signup_book(tmp_path / "drive.xlsx", 3, sheets=("说明", "报名表", "统计"), data_on=1)
    with pytest.raises(SheetError) as caught:
        read_sheet(path)
    message = str(caught.value)
    assert "sheets: '说明', '报名表', '统计'" in message
    assert "sign-ups seem to be on sheet '报名表'" in message


def test_xlsx_with_no_header_on_any_sheet_still_names_the_sheets(tmp_path: Path) -> None:
    path = _signup_book(tmp_path / "drive.xlsx", 0, sheets=("说明", "其他"), data_on=5)
    with pytest.raises(SheetError, match=r"missing required column.*sheets: '说明', '其他'"):
        read_sheet(path)


@pytest.mark.parametrize(
    ("part", "change", "reason"),
    [
        ("xl/worksheets/sheet1.xml", lambda xml: xml.replace(b"</sheetData>", b"<row><c"), "damaged"),
        ("xl/worksheets/sheet1.xml", lambda xml: xml[: len(xml) // 2], "damaged"),
        ("xl/sharedStrings.xml", lambda xml: xml.replace(b"<si>", b"<si><<", 1), "damaged"),
        (
            "xl/workbook.xml",
            lambda xml: re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", xml, flags=re.S),
            "has no sheets",
        ),
        (
            "xl/sharedStrings.xml",
            lambda xml: b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>' + xml.split(b"?>", 1)[1],
            "DTD",
        ),
    ],
)
def test_damaged_workbook_is_a_sheet_error(
    tmp_path: Path, part: str, change: Callable[[bytes], bytes], reason: str
) -> None:
    book = tmp_path / "drive.xlsx"
    _signup_book(book, 3)
    with zipfile.ZipFile(book, "a") as archive:  # openpyxl writes inline strings; add a shared-string table
        if "xl/sharedStrings.xml" not in archive.namelist():
            archive.writestr(
                "xl/sharedStrings.xml",
                b'<?xml version="1.0"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
                b"<si><t>x</t></si></sst>",
            )
    with pytest.raises(SheetError, match=rf"drive\.xlsx.*{reason}"):
        read_sheet(_rewrite_part(book, part, change))


@pytest.mark.parametrize(
    ("name", "lines", "limits", "refusal"),
    [
        pytest.param(
            "drive.csv",
            [EN_HEADER + ",电话", "a,b,c,d,e,f"],
            SheetLimits(),
            "columns 'phone' and '电话' both mean phone",
            id="two-columns-meaning-the-same-field",
        ),
        pytest.param(
            "drive.xlsx",
            [EN_HEADER],
            SheetLimits(),
            r"cannot open drive\.xlsx as an \.xlsx workbook",
            id="text-file-with-an-xlsx-name",
        ),
        pytest.param(
            "drive.csv",
            [EN_HEADER] + [f"A,M,{ID_1},13800138000,2021-05-01"] * 3 + ["B" * 21 + f",M,{ID_1},1,2021-05-01"],
            SMALL,
            r"^drive\.csv: row 5 has a cell longer than 20 characters",
            id="long-cell-names-the-row",
        ),
        pytest.param(
            "drive.csv",
            [EN_HEADER, "B" * 200_000 + f",M,{ID_1},1,2021-05-01"],
            SheetLimits(),
            r"row 2 has a cell longer than 1,000 characters",
            id="long-cell-beyond-the-csv-module-field-limit",
        ),
        pytest.param(
            "drive.csv",
            [EN_HEADER] + [f"A,M,{ID_1},13800138000,2021-05-01"] * 400,
            SheetLimits(max_file_bytes=10_000),
            r"^drive\.csv is larger than the import limit of 10,000 bytes",
            id="oversized-file-refused-before-it-is-read",
        ),
    ],
)
def test_a_text_sheet_that_breaks_a_rule_is_a_sheet_error_saying_which(
    tmp_path: Path, name: str, lines: list[str], limits: SheetLimits, refusal: str
) -> None:
    with pytest.raises(SheetError, match=refusal):
        read_sheet(write_text(tmp_path / name, lines), limits)


@pytest.mark.parametrize("where", ["shared", "inline"])
def test_long_cell_in_an_xlsx_stops_the_read_before_openpyxl_loads_it(tmp_path: Path, where: str) -> None:
    path = _signup_book(tmp_path / "drive.xlsx", 2)
    long_text = b"x" * 50
    if where == "inline":
        _rewrite_part(path, "xl/worksheets/sheet1.xml", lambda xml: xml.replace("成员1".encode(), long_text))
    else:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("xl/sharedStrings.xml", b"<sst><si><r><t>" + long_text + b"</t></r></si></sst>")
    with pytest.raises(SheetError, match=r"^drive\.xlsx: .*a cell longer than 20 characters"):
        read_sheet(path, SMALL)


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_too_many_rows_stop_the_read_before_any_row_is_returned(tmp_path: Path, suffix: str) -> None:
    if suffix == ".csv":
        path = write_text(tmp_path / "drive.csv", [EN_HEADER] + [f"A,M,{ID_1},13800138000,2021-05-01"] * 12)
    else:
        path = _signup_book(tmp_path / "drive.xlsx", 12)
    with pytest.raises(SheetError, match=rf"^drive\{suffix}: more than 10 rows"):
        read_sheet(path, SMALL)
    assert len(rows_of(read_sheet(path, SheetLimits(max_rows=13)))) == 12


def test_workbook_part_that_unpacks_too_large_is_refused(tmp_path: Path) -> None:
    path = _signup_book(tmp_path / "drive.xlsx", 2)
    _rewrite_part(path, "xl/styles.xml", lambda xml: xml + b" " * 200_000)  # compresses to almost nothing
    assert path.stat().st_size < SMALL.max_file_bytes
    with pytest.raises(SheetError, match=r"^drive\.xlsx: .*too large"):
        read_sheet(path, SMALL)


def test_fifo_named_csv_is_refused_without_being_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "drive.csv"
    os.mkfifo(fifo)
    with pytest.raises(SheetError, match=r"^drive\.csv is not a regular file"):
        read_sheet(fifo)  # before the fix: blocks forever waiting for a writer


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/null", "{folder}"])
def test_link_to_a_device_or_folder_named_csv_is_refused(tmp_path: Path, target: str) -> None:
    link = tmp_path / "drive.csv"
    link.symlink_to(target.format(folder=tmp_path))
    with pytest.raises(SheetError, match=r"^drive\.csv is not a regular file"):
        read_sheet(link)
