"""A drive as a data manager gives it is checked by the registry (drive_input), not by the CLI."""

from __future__ import annotations

from datetime import date

import pytest

from models.core import ValidationError
from models.registry import EVENT_KINDS, drive_input


def test_a_drive_for_a_programme_we_do_not_run_is_our_validation_error() -> None:
    with pytest.raises(ValidationError, match="kind must be stem_cell or blood, not 'plasma'"):
        drive_input(name="d", held_on=date(2021, 6, 14), location="l", kind="plasma")


def test_a_drive_without_a_name_is_one_line_naming_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        drive_input(name="", held_on=date(2021, 6, 14), location="l")
    assert str(caught.value) == "invalid drive: name: String should have at least 1 character"


@pytest.mark.parametrize("kind", EVENT_KINDS)
def test_a_drive_for_either_programme_is_taken(kind: str) -> None:
    drive = drive_input(name="d", held_on=date(2021, 6, 14), location="l", district="金水区", kind=kind)
    assert (drive.kind, drive.district) == (kind, "金水区")
