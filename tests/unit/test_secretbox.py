"""Sealing secrets at rest: round trip, rotation, refusal of unknown keys, key settings."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load
from gateway.core.secretbox import SecretBox, SecretsUnreadable, fingerprint, secret_box_for

K1 = "k1-" + "a" * 40
K2 = "k2-" + "b" * 40


def test_sealed_values_open_and_hide_the_plain_text() -> None:
    box = SecretBox(K1)
    token = box.seal({"API_KEY": "hunter2-plain"})
    assert token is not None and b"hunter2-plain" not in token and b"API_KEY" not in token
    assert box.open(token) == {"API_KEY": "hunter2-plain"}
    assert box.seal({}) is None and box.open(None) == {}


def test_a_previous_key_opens_and_reseal_moves_tokens_to_the_current_key() -> None:
    old = SecretBox(K1).seal({"A": "1"})
    assert old is not None
    rotating = SecretBox(K2, K1)
    assert rotating.open(old) == {"A": "1"}
    new = rotating.reseal(old)
    assert new is not None and rotating.reseal(new) is None  # already current
    assert SecretBox(K2).open(new) == {"A": "1"}  # the previous key is no longer needed
    with pytest.raises(SecretsUnreadable):
        SecretBox(K2).open(old)


def test_a_token_no_key_opens_is_refused_without_naming_values() -> None:
    token = SecretBox(K1).seal({"A": "hunter2"})
    assert token is not None
    with pytest.raises(SecretsUnreadable) as caught:
        SecretBox(K2).reseal(token)
    assert "hunter2" not in str(caught.value)


def test_fingerprint_follows_the_tokens() -> None:
    box = SecretBox(K1)
    a, b = box.seal({"A": "1"}), box.seal({"A": "1"})
    assert fingerprint(None, a) == fingerprint(None, a) != fingerprint(None, b)
    assert fingerprint(a, None) != fingerprint(None, a)


def test_development_generates_a_key_in_the_data_directory(tmp_path: Path) -> None:
    settings = load({}, toml_path=tmp_path / "none.toml", data_dir=str(tmp_path / "d"))
    token = secret_box_for(settings).seal({"A": "1"})
    assert (tmp_path / "d" / "secret_key").stat().st_mode & 0o777 == 0o600
    assert secret_box_for(settings).open(token) == {"A": "1"}  # the same key again


def test_key_settings_are_checked(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    production = {"FNGATE_MODE": "production", "FNGATE_DATABASE_URL": "postgresql://x/y",
                  "FNGATE_JWT_SECRET": "s" * 40}
    with pytest.raises(SettingsError, match="FNGATE_SECRET_KEY"):
        load(production, toml_path=none)
    assert load({**production, "FNGATE_SECRET_KEY": K1}, toml_path=none).secret_key == K1
    with pytest.raises(SettingsError, match="at least 32"):
        load({"FNGATE_SECRET_KEY": "short"}, toml_path=none)
    with pytest.raises(SettingsError, match="FNGATE_SECRET_KEY_PREVIOUS"):
        load({"FNGATE_SECRET_KEY": K1, "FNGATE_SECRET_KEY_PREVIOUS": "short"}, toml_path=none)
    assert K1 not in repr(load({"FNGATE_SECRET_KEY": K1}, toml_path=none))
