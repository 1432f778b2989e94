from __future__ import annotations

import logging

import pytest

from models.core import PiiMaskingFilter, mask_name, mask_national_id, mask_phone, mask_text


@pytest.mark.parametrize(
    ("raw", "masked"),
    [("张三丰", "张**"), ("李四", "李*"), ("王", "王*"), ("", ""), (None, "")],
)
def test_name_keeps_only_the_family_name(raw: str | None, masked: str) -> None:
    assert mask_name(raw) == masked


def test_phone_keeps_prefix_and_last_four() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+86 138-1234-5678") == "138****5678"


def test_national_id_keeps_the_region_code_only() -> None:
    assert mask_national_id("41010219900101123X") == "410102************"
    assert mask_national_id("410102900101123") == "410102*********"  # a 15-digit ID of before 1999
    assert mask_national_id("4101021") == "*******"


def test_free_text_masks_ids_and_phones_but_not_other_numbers() -> None:
    text = "row 12: 41010219900101123X called 13812345678, batch 2000"
    assert mask_text(text) == "row 12: 410102************ called 138****5678, batch 2000"


def test_logging_filter_masks_the_formatted_message() -> None:
    record = logging.LogRecord("t", logging.INFO, __file__, 1, "phone %s", ("13812345678",), None)
    PiiMaskingFilter().filter(record)
    assert record.getMessage() == "phone 138****5678"


def test_installed_record_masking_reaches_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    from models.core import install_record_masking

    install_record_masking()
    install_record_masking()  # idempotent
    with caplog.at_level(logging.INFO):
        logging.getLogger("donorflow.anywhere").info(
            "member %s phoned %s", "41010219900101123X", "13812345678"
        )
    assert "410102************" in caplog.text and "138****5678" in caplog.text
    assert "13812345678" not in caplog.text
