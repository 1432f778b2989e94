from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from stdnum.cn import ric

from models.intake import LOCAL_TZ, RowRejection, SignupRecord, validate_row

NOW = datetime(2021, 6, 1, 12, 0, tzinfo=UTC)
DRIVE = date(2021, 5, 1)


def make_id(birth: str, *, region: str = "410102", sequence: str = "123") -> str:
    """A resident ID with a correct ISO 7064 MOD 11-2 check character (stdnum computes it)."""
    body = region + birth + sequence
    return body + ric.calc_check_digit(body + "0")  # calc_check_digit ignores the last character


def with_wrong_check_digit(national_id: str) -> str:
    wrong = next(c for c in "0123456789X" if c != national_id[-1])
    return national_id[:-1] + wrong


MALE_ID = make_id("19900101", sequence="123")  # 17th digit 3: male
FEMALE_ID = make_id("19920202", region="410105", sequence="124")  # 17th digit 4: female


def cells(**overrides: str | None) -> dict[str, str | None]:
    base: dict[str, str | None] = {
        "name": "张三丰",
        "sex": "男",
        "birth_date": None,
        "national_id": MALE_ID,
        "phone": "13800138000",
        "email": None,
        "blood_group": None,
        "consent_at": "2021-05-01 10:30",
        "external_id": None,
    }
    base.update(overrides)
    return base


def validate(
    row_cells: dict[str, str | None], *, drive_date: date | None = DRIVE
) -> SignupRecord | RowRejection:
    return validate_row(7, row_cells, drive_date=drive_date, now=NOW)


def rejected(row_cells: dict[str, str | None], **kwargs: date | None) -> tuple[str, ...]:
    result = validate(row_cells, **kwargs)
    assert isinstance(result, RowRejection), result
    assert result.row == 7
    return result.errors


def accepted(row_cells: dict[str, str | None], **kwargs: date | None) -> SignupRecord:
    result = validate(row_cells, **kwargs)
    assert isinstance(result, SignupRecord), result
    return result


def test_helper_ids_are_valid_per_stdnum() -> None:
    assert ric.is_valid(MALE_ID)
    assert ric.is_valid(FEMALE_ID)
    assert not ric.is_valid(with_wrong_check_digit(MALE_ID))


def test_valid_row_becomes_a_normalised_record() -> None:
    record = accepted(
        cells(
            name="李四",
            sex="female",
            national_id=FEMALE_ID[:-1] + FEMALE_ID[-1].lower(),
            birth_date="1992/2/2",
            phone="+86 138-0013-8000",
            email="Li.Si@Example.COM",
            blood_group="B RhD阳性",
            consent_at="2021-05-01T10:30:00+08:00",
            external_id="ZZ-2021-0007",
            A_1="A*02:01",
            DRB1_2="DRB1*15:01",
        )
    )
    assert record == SignupRecord(
        row=7,
        name="李四",
        sex="F",
        birth_date=date(1992, 2, 2),
        national_id=FEMALE_ID.upper(),
        phone="13800138000",
        email="Li.Si@example.com",
        blood_group="B+",
        consent_at=datetime(2021, 5, 1, 10, 30, tzinfo=LOCAL_TZ),
        hla={"A_1": "A*02:01", "DRB1_2": "DRB1*15:01"},
        external_id="ZZ-2021-0007",
    )


def test_id_with_lower_case_x_is_normalised_to_upper_case() -> None:
    national_id = next(
        candidate
        for candidate in (make_id("19900101", sequence=f"{n:03d}") for n in range(1, 999, 2))
        if candidate.endswith("X")
    )
    record = accepted(cells(national_id=national_id.lower()))
    assert record.national_id == national_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-05-01", datetime(2021, 5, 1, 0, 0, tzinfo=LOCAL_TZ)),
        ("2021-05-01 10:30", datetime(2021, 5, 1, 10, 30, tzinfo=LOCAL_TZ)),
        ("2021/5/1", datetime(2021, 5, 1, 0, 0, tzinfo=LOCAL_TZ)),
        ("2021-05-01T10:30:00+08:00", datetime(2021, 5, 1, 10, 30, tzinfo=LOCAL_TZ)),
        ("2021-05-01T02:30:00Z", datetime(2021, 5, 1, 10, 30, tzinfo=LOCAL_TZ)),
        ("2021年5月1日", datetime(2021, 5, 1, 0, 0, tzinfo=LOCAL_TZ)),
        ("2021年5月1日 10:30", datetime(2021, 5, 1, 10, 30, tzinfo=LOCAL_TZ)),
    ],
)
def test_consent_formats_parse_as_aware_times_naive_meaning_shanghai(text: str, expected: datetime) -> None:
    consent_at = accepted(cells(consent_at=text)).consent_at
    assert consent_at == expected
    assert consent_at.utcoffset() == timedelta(hours=8)


def test_consent_with_foreign_offset_is_the_same_instant() -> None:
    consent_at = accepted(cells(consent_at="2021-05-01T10:30:00-05:00")).consent_at
    assert consent_at == datetime(2021, 5, 1, 10, 30, tzinfo=timezone(timedelta(hours=-5)))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"national_id": with_wrong_check_digit(MALE_ID)}, "national_id: check digit does not match"),
        ({"national_id": MALE_ID[:-1]}, "national_id: not 18 digits"),
        ({"national_id": "410102900101123"}, "national_id: not 18 digits"),
        ({"national_id": make_id("19901301")}, "national_id: birth date in the ID is not a date"),
        ({"national_id": make_id("19900101", region="999999")}, "national_id: unknown birth-place code"),
        ({"national_id": "4.10102199001011E+17"}, "national_id: stored as a number in Excel"),
        ({"national_id": None}, "national_id: required"),
        ({"birth_date": "1990-01-02"}, "birth_date: does not match the birth date in national_id"),
        ({"birth_date": "01/02/1990"}, "birth_date: not a date"),
        ({"sex": "女"}, "sex: female, but national_id says male"),
        ({"sex": "x"}, "sex: not one of M/F, 男/女, male/female"),
        ({"sex": None}, "sex: required"),
        (
            {"national_id": make_id("19750101")},
            "age 46 on the drive date is outside 18–45 (CMDP joining age)",
        ),
        (
            {"national_id": make_id("20030502")},
            "age 17 on the drive date is outside 18–45 (CMDP joining age)",
        ),
        ({"phone": "1380013800"}, "phone: not a mainland mobile number"),
        ({"phone": "0371-12345678"}, "phone: not a mainland mobile number"),
        ({"phone": "12345678901"}, "phone: not a mainland mobile number"),
        ({"phone": "+1 650 253 0000"}, "phone: not a mainland mobile number"),
        ({"phone": "1.3800138E+10"}, "phone: stored as a number in scientific notation"),
        ({"phone": None}, "phone: required"),
        ({"email": "zhang@@example.com"}, "email: not a valid address"),
        ({"consent_at": None}, "consent_at: required"),
        ({"consent_at": "5/1/2021"}, "consent_at: not a date or time"),
        ({"consent_at": "2021-02-30"}, "consent_at: not a date or time"),
        ({"consent_at": "2021-06-02"}, "consent_at: in the future"),
        ({"consent_at": "1989-12-31 23:59"}, "consent_at: before 1990"),
        ({"name": None}, "name: required"),
        ({"name": "张3"}, "name: contains digits"),
        ({"name": "张" * 65}, "name: longer than 64 characters"),
        ({"name": "=HYPERLINK(x)"}, "name: starts with = + - or @ (looks like a formula)"),
        ({"blood_group": "C"}, "blood_group: not one of A, B, AB, O"),
        ({"A_1": "A*02:01 A*03:01"}, "A_1: HLA typing contains spaces"),
        ({"DPB1_2": "X" * 65}, "DPB1_2: HLA typing longer than 64 characters"),
        ({"external_id": "E" * 65}, "external_id: longer than 64 characters"),
    ],
)
def test_each_broken_rule_rejects_the_row_with_its_own_message(
    overrides: dict[str, str | None], expected: str
) -> None:
    errors = rejected(cells(**overrides))
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_all_errors_of_a_row_are_collected_in_column_order() -> None:
    errors = rejected(
        cells(
            name="张3",
            sex="女",
            birth_date="1990-01-02",
            phone="12345",
            email="not-an-email",
            blood_group="Q",
            consent_at="2999-01-01",
        )
    )
    assert [error.split(":")[0] for error in errors] == [
        "name",
        "birth_date",
        "phone",
        "email",
        "blood_group",
        "consent_at",
        "sex",
    ]


def test_errors_never_contain_the_personal_values() -> None:
    bad_id = with_wrong_check_digit(MALE_ID)
    values = {
        "name": "王5五",
        "sex": "男",
        "national_id": bad_id,
        "birth_date": "1990-13-45",
        "phone": "13812345678999",
        "email": "wang.wu@@secret-domain.example",
        "consent_at": "tomorrow",
    }
    result = validate(dict(values))
    assert isinstance(result, RowRejection)
    assert len(result.errors) == 6
    text = " ".join(result.errors) + repr(result)
    for column in ("name", "national_id", "phone", "email"):
        assert values[column] not in text
    for fragment in ("王5五", bad_id[6:14], bad_id[-4:], "1381234", "wang.wu", "secret-domain"):
        assert fragment not in text


def test_valid_mismatched_id_and_birth_date_errors_do_not_quote_either_date() -> None:
    errors = rejected(cells(birth_date="1990-01-02"))
    assert "1990" not in " ".join(errors)


def test_record_repr_masks_name_phone_id_email_and_birth_day() -> None:
    record = accepted(cells(email="zhang.sanfeng@example.com"))
    text = repr(record)
    assert "张**" in text
    assert "138****8000" in text
    assert MALE_ID[:6] + "*" * 12 in text
    assert "z***@example.com" in text
    for secret in ("张三丰", "13800138000", MALE_ID, "zhang.sanfeng", "1990-01-01"):
        assert secret not in text
    assert str(record) == text


@pytest.mark.parametrize(
    ("drive_date", "ok"),
    [
        (date(2008, 1, 1), True),  # 18th birthday
        (date(2007, 12, 31), False),  # the day before
        (date(2035, 12, 31), True),  # last day aged 45
        (date(2036, 1, 1), False),  # 46th birthday
    ],
)
def test_age_is_counted_by_calendar_birthday(drive_date: date, ok: bool) -> None:
    result = validate(cells(national_id=make_id("19900101"), consent_at="2021-05-01"), drive_date=drive_date)
    assert isinstance(result, SignupRecord) is ok, result


def test_leap_day_birthday_comes_of_age_on_first_of_march() -> None:
    row = cells(national_id=make_id("20000229"), consent_at="2018-02-28")
    assert "age 17 on the drive date" in rejected(row, drive_date=date(2018, 2, 28))[0]
    assert accepted(row, drive_date=date(2018, 3, 1)).birth_date == date(2000, 2, 29)


def test_without_drive_date_age_is_counted_on_the_consent_date() -> None:
    row = cells(national_id=make_id("20030502"), consent_at="2021-05-01 23:30")
    assert rejected(row, drive_date=None) == (
        "age 17 on the consent date is outside 18–45 (CMDP joining age)",
    )
    assert accepted({**row, "consent_at": "2021-05-02 00:10"}, drive_date=None).birth_date == date(2003, 5, 2)


def test_age_limits_are_parameters() -> None:
    row = cells(national_id=make_id("19700101"))
    assert isinstance(validate_row(2, row, drive_date=DRIVE, max_age=55, now=NOW), SignupRecord)
    assert isinstance(validate_row(2, row, drive_date=DRIVE, now=NOW), RowRejection)


def test_zhengzhou_district_code_created_after_the_birth_year_is_accepted() -> None:
    # 410102 中原区 exists since 1983 and 410181 巩义市 since 1991; codes are those of the residence when the
    # number was assigned, so members born earlier carry them. stdnum's validate() refuses these.
    for national_id in (make_id("19780301"), make_id("19800301", region="410181")):
        assert not ric.is_valid(national_id)
        assert accepted(cells(national_id=national_id)).national_id == national_id


def test_place_code_abolished_before_the_birth_year_is_refused() -> None:
    # 110225 房山县 was in use 1982–1986 only.
    assert accepted(cells(national_id=make_id("19800101", region="110225"))).sex == "M"
    errors = rejected(cells(national_id=make_id("19900101", region="110225")))
    assert errors == ("national_id: unknown birth-place code",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("A", "A"),
        ("a型", "A"),
        ("AB+", "AB+"),
        ("O Rh-", "O-"),
        ("B RhD阳性", "B+"),
        ("AB型Rh阴性", "AB-"),
        ("O型血", "O"),
        ("Ｏ型ＲＨ（Ｄ）阳性", "O+"),
        ("不详", None),
    ],
)
def test_blood_group_spellings_normalise(text: str, expected: str | None) -> None:
    assert accepted(cells(blood_group=text)).blood_group == expected


@pytest.mark.parametrize(("text", "expected"), [("M", "M"), ("male", "M"), ("男", "M"), ("Ｍ", "M")])
def test_sex_spellings_normalise(text: str, expected: str) -> None:
    assert accepted(cells(sex=text)).sex == expected


@pytest.mark.parametrize("phone", ["13800138000", "+8613800138000", "0086 138 0013 8000", "138-0013-8000"])
def test_phone_spellings_normalise_to_eleven_digits(phone: str) -> None:
    assert accepted(cells(phone=phone)).phone == "13800138000"


def test_consent_exactly_now_is_not_in_the_future() -> None:
    assert accepted(cells(consent_at="2021-06-01 20:00")).consent_at == NOW


def test_blank_optional_cells_and_missing_keys_are_fine() -> None:
    record = accepted(
        {
            "name": "张三",
            "sex": "M",
            "national_id": MALE_ID,
            "phone": "13800138000",
            "consent_at": "2021-05-01",
            "email": "  ",
            "A_1": "",
        }
    )
    assert (record.email, record.blood_group, record.hla, record.external_id) == (None, None, {}, None)


def test_records_are_hashable_and_frozen() -> None:
    record = accepted(cells(A_1="A*02:01"))
    assert hash(record) == hash(accepted(cells(A_1="A*02:01")))
    with pytest.raises(AttributeError):
        record.name = "x"  # type: ignore[misc]


def test_hla_cells_are_checked_against_nomenclature_for_their_column() -> None:
    from models.intake.cells import check_hla

    errors: list[str] = []
    kept = check_hla({"A_1": "A*02:0x", "A_2": "02:01", "B_1": "A*02:01", "DRB1_1": "DR15"}, errors)
    assert kept == {"A_2": "02:01", "DRB1_1": "DR15"}
    assert errors == [
        'A_1: "A*02:0x" at A: field 2 is not a number',
        'B_1: "A*02:01" at B: names locus A, expected B',
    ]


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("name", "张\x00三", "name: contains a control character"),
        ("name", "张三\n李四", "name: contains a line break"),
        ("name", "张三\r李四", "name: contains a line break"),
        ("name", "张\t三", "name: contains a control character"),
        ("name", "张\x85三", "name: contains a line break"),  # C1 NEL
        ("name", "张\x9b三", "name: contains a control character"),  # C1 CSI
        ("name", "张\u202e三", "name: contains a bidi (text direction) control"),
        ("name", "张\u2066三\u2069", "name: contains a bidi (text direction) control"),
        ("email", "a\x00@example.com", "email: contains a control character"),
        ("external_id", "EXT\u202e1", "external_id: contains a bidi (text direction) control"),
        ("external_id", "EXT\u200f1", "external_id: contains a bidi (text direction) control"),
        ("phone", "\u202d13800138000", "phone: contains a bidi (text direction) control"),
        ("national_id", MALE_ID[:5] + "\x00" + MALE_ID[5:], "national_id: contains a control character"),
        ("A_1", "A*02:01\x00", "A_1: contains a control character"),
        ("consent_at", "2021-05-01\x0b10:30", "consent_at: contains a control character"),
    ],
)
def test_control_characters_reject_the_row_naming_the_column_not_the_value(
    column: str, value: str, reason: str
) -> None:
    errors = rejected(cells(**{column: value}))
    assert errors == (f"{reason} (retype the cell)",)
    assert not any(value in error or "张" in error for error in errors)


def test_a_mark_for_right_to_left_names_is_allowed_in_the_name_only() -> None:
    assert accepted(cells(name="Layla\u200f Ahmed")).name == "Layla\u200f Ahmed"


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("external_id", '=HYPERLINK("http://x")'),
        ("external_id", "+1"),
        ("external_id", "-2+3"),
        ("external_id", "@SUM(A1)"),
        ("email", "=1+1@example.com"),
        ("email", "+cmd@example.com"),
        ("email", "-x@example.com"),
        ("name", "=A+B"),
        ("name", "@张三"),
    ],
)
def test_text_fields_that_look_like_formulas_are_rejected_naming_the_column(column: str, value: str) -> None:
    assert rejected(cells(**{column: value})) == (f"{column}: starts with = + - or @ (looks like a formula)",)


def test_formula_rule_spares_phones_with_plus_86_hla_dates_and_inner_signs() -> None:
    record = accepted(
        cells(
            phone="+86 138-0013-8000",
            consent_at="2021-05-01",
            email="a+b=c@example.com",
            external_id="ZZ-2021=1",
            A_1="A*02:01",
        )
    )
    assert (record.phone, record.email, record.external_id) == (
        "13800138000",
        "a+b=c@example.com",
        "ZZ-2021=1",
    )
