"""SMS part counting: GSM-7 160/153, UCS-2 70/67 (TS 23.038 / 23.040), at and just past each boundary."""

from __future__ import annotations

import pytest

from notifications.sms_length import sms_length, sms_parts

HAN = "捐"  # any Chinese character: the text goes as UCS-2


@pytest.mark.parametrize(
    ("length", "parts"),
    [(1, 1), (70, 1), (71, 2), (134, 2), (135, 3), (201, 3), (202, 4)],
)
def test_chinese_text_is_70_characters_in_one_part_and_67_per_part_when_split(
    length: int, parts: int
) -> None:
    assert sms_parts(HAN * length) == parts


@pytest.mark.parametrize(("length", "parts"), [(160, 1), (161, 2), (306, 2), (307, 3)])
def test_gsm7_text_is_160_in_one_part_and_153_per_part_when_split(length: int, parts: int) -> None:
    assert sms_parts("a" * length) == parts


def test_one_chinese_character_turns_a_latin_text_into_ucs2() -> None:
    text = "a" * 69 + HAN
    assert sms_length(text).encoding == "ucs2" and sms_parts(text) == 1
    assert sms_parts("a" * 70 + HAN) == 2


def test_gsm7_extension_characters_take_two_septets() -> None:
    assert sms_length("[" * 80).units == 160 and sms_parts("[" * 80) == 1
    assert sms_parts("[" * 80 + "a") == 2
    assert sms_length("€").encoding == "gsm7"


def test_characters_outside_the_bmp_count_as_two_utf16_units() -> None:
    emoji = "\U0001f600"
    assert sms_length(emoji * 35).units == 70 and sms_parts(emoji * 35) == 1
    assert sms_parts(emoji * 35 + HAN) == 2


def test_a_surrogate_pair_is_never_split_across_two_parts() -> None:
    # 66 units, then a pair that would straddle the 67-unit boundary: it starts part 2 (66 + 2 > 67).
    text = HAN * 66 + "\U0001f600" + HAN * 66
    assert sms_length(text).units == 134
    assert sms_parts(text) == 3  # a naive 134 // 67 would say 2


def test_an_empty_text_still_costs_one_part() -> None:
    assert sms_parts("") == 1
