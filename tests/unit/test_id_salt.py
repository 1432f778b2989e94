"""Where the ID salt lives: the environment, or a secrets directory apart from the data (DESIGN.md §8)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from donorflow.bootstrap import id_salt
from donorflow.settings import Settings, default_secrets_dir
from models.core import ConfigurationError

OLD_SALT = "3f" * 32


def _settings(tmp_path: Path) -> Settings:
    return Settings(
        var_dir=tmp_path / "var",
        secrets_dir=tmp_path / "config" / "donorflow",
        database_url=f"sqlite:///{tmp_path / 'empty.db'}",
        id_salt=None,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_salt_is_created_once_in_the_secrets_dir_never_in_the_data_dir(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    first = id_salt(settings)
    assert id_salt(settings) == first and len(first) == 64
    path = settings.secrets_dir / "id_salt"
    assert path.read_bytes() == first
    assert (_mode(path), _mode(settings.secrets_dir)) == (0o600, 0o700)
    assert not (settings.var_dir / "id_salt").exists()
    assert [p.name for p in settings.secrets_dir.iterdir()] == ["id_salt"]  # no temporary file left


def test_environment_salt_wins_and_nothing_is_written(tmp_path: Path) -> None:
    settings = _settings(tmp_path).model_copy(update={"id_salt": SecretStr("from-the-environment")})
    assert id_salt(settings) == b"from-the-environment"
    assert not settings.secrets_dir.exists()


def test_default_secrets_dir_is_the_users_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert default_secrets_dir() == tmp_path / "xdg" / "donorflow"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_secrets_dir() == tmp_path / "home" / ".config" / "donorflow"


def test_an_older_installs_salt_is_moved_out_of_the_data_dir_not_replaced(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = _settings(tmp_path)
    settings.var_dir.mkdir()
    (settings.var_dir / "id_salt").write_text(OLD_SALT + "\n")
    with caplog.at_level(logging.INFO):
        assert id_salt(settings) == OLD_SALT.encode()
    assert not (settings.var_dir / "id_salt").exists()
    assert (settings.secrets_dir / "id_salt").read_bytes() == OLD_SALT.encode()
    assert "moved the ID salt" in caplog.text and OLD_SALT not in caplog.text
    assert id_salt(settings) == OLD_SALT.encode()  # once: from now on it is read where it was moved


def test_two_different_salts_are_refused_and_both_kept(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    id_salt(settings)  # the secrets dir has one
    (settings.var_dir).mkdir()
    (settings.var_dir / "id_salt").write_text(OLD_SALT)
    with pytest.raises(ConfigurationError, match="two different ID salts"):
        id_salt(settings)
    assert (settings.var_dir / "id_salt").exists() and (settings.secrets_dir / "id_salt").exists()
