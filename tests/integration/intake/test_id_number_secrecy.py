"""The ID number cannot be recovered from the database and the data directory (issue 8, item 2).

The attack the issue ran: the mask gives the region code, the member row the birth date, so only the
3-digit sequence is unknown (the check digit follows); each candidate is hashed with every salt that can
be found and compared with the stored HMAC. With the salt kept apart from the data it finds nothing;
given the salt it finds the number, which is what makes this test able to fail.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select
from stdnum.cn import ric

from donorflow.bootstrap import id_salt, import_policy
from donorflow.demo import signup_rows, write_signup_csv
from donorflow.settings import Settings
from models.core import ConfigurationError
from models.intake import import_signups
from models.matching import IndexFile, IndexStore
from models.registry import Donor

DIGITS = "0123456789"


def _candidates(mask: str, birth: date) -> Iterator[str]:
    """Every 18-digit ID consistent with the mask and the stored birth date."""
    region = [c if c.isdigit() else DIGITS for c in mask[:6]] if mask else [DIGITS] * 6
    sequence = [c if c.isdigit() else DIGITS for c in mask[14:17]] if len(mask) == 18 else [DIGITS] * 3
    for parts in itertools.product(*region, *sequence):
        body = "".join(parts[:6]) + f"{birth:%Y%m%d}" + "".join(parts[6:])
        yield body + ric.calc_check_digit(body + "0")


def _salts_in(directory: Path) -> set[bytes]:
    """Anything in the data directory that could be the salt: each file whole, and each of its lines."""
    found: set[bytes] = set()
    for path in directory.rglob("*"):
        if path.is_file():
            content = path.read_bytes()
            found |= {content, content.strip(), *(line.strip() for line in content.splitlines())}
    return found


def _brute_force(session: Session, salts: set[bytes]) -> dict[str, str]:
    recovered = {}
    for donor in session.exec(select(Donor)):
        assert donor.birth_date is not None
        for candidate in _candidates(donor.national_id_masked, donor.birth_date):
            for salt in salts:
                digest = hmac.new(salt, candidate.encode(), hashlib.sha256).hexdigest()
                if digest == donor.national_id_hash:
                    recovered[donor.code] = candidate
    return recovered


def test_database_and_data_dir_alone_do_not_give_back_the_id_number(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    settings = Settings(
        var_dir=tmp_path / "var",
        secrets_dir=tmp_path / "home" / ".config" / "donorflow",
        database_url=database_url,
        id_salt=None,
    )
    person = next(signup_rows(1, seed=99, day=date(2021, 6, 14)))
    sheet = write_signup_csv(tmp_path / "drive.csv", [person])
    import_signups(session=session, path=sheet, policy=import_policy(settings))
    # the data directory as a registry has it
    IndexStore(IndexFile(settings.var_dir / "hla-index.npz")).open(session)
    (settings.var_dir / "inbox").mkdir(exist_ok=True)

    assert _brute_force(session, _salts_in(settings.var_dir) | {b""}) == {}
    with_salt = _brute_force(session, {(settings.secrets_dir / "id_salt").read_bytes()})
    assert list(with_salt.values()) == [person.national_id]  # the attack works once the salt is known


def test_a_registry_with_members_never_gets_a_new_salt_silently(
    database_url: str, session: Session, tmp_path: Path
) -> None:
    settings = Settings(
        var_dir=tmp_path / "var", secrets_dir=tmp_path / "secrets", database_url=database_url, id_salt=None
    )
    sheet = write_signup_csv(tmp_path / "drive.csv", list(signup_rows(2, seed=98, day=date(2021, 6, 14))))
    import_signups(session=session, path=sheet, policy=import_policy(settings))
    (settings.secrets_dir / "id_salt").unlink()  # lost: not backed up
    with pytest.raises(ConfigurationError, match="ID salt not found: the registry has 2 members"):
        id_salt(settings)
    assert not (settings.secrets_dir / "id_salt").exists()
