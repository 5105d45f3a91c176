"""``FNGATE_DIALECTS``: which compatibility dialects a replica serves — all by default, a
comma list of their names, or none; an unknown or repeated name stops the start."""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from click.testing import CliRunner

from config import SettingsError, load
from config.settings import DIALECT_NAMES
from gateway.dialects import all_dialects, mounted_dialects
from gateway.schemas.health import DialectName

ALL = ("function-api", "kube-serverless", "project-functions", "function-service")


def _load(tmp_path: Path, value: str | None) -> tuple[str, ...]:
    env = {} if value is None else {"FNGATE_DIALECTS": value}
    return load(env=env, toml_path=tmp_path / "none.toml",
                data_dir=str(tmp_path)).mounted_dialects


def test_the_names_are_the_dialects_and_the_status_field_s_values() -> None:
    assert DIALECT_NAMES == ALL
    assert tuple(d.name for d in all_dialects()) == ALL
    assert get_args(DialectName.__value__) == ALL


@pytest.mark.parametrize(("value", "mounted"), [
    (None, ALL),
    ("all", ALL),
    ("none", ()),
    (" none ", ()),
    ("function-service, kube-serverless", ("kube-serverless", "function-service")),
    ("project-functions", ("project-functions",)),
])
def test_the_setting_names_the_mounted_dialects_in_their_order(
    tmp_path: Path, value: str | None, mounted: tuple[str, ...],
) -> None:
    assert _load(tmp_path, value) == mounted
    assert [d.name for d in mounted_dialects(mounted)] == list(mounted)


def test_the_toml_key_is_read_too(tmp_path: Path) -> None:
    path = tmp_path / "fngate.toml"
    path.write_text('dialects = "function-api"\n')
    assert load(env={}, toml_path=path, data_dir=str(tmp_path)).mounted_dialects == (
        "function-api",)


@pytest.mark.parametrize(("value", "message"), [
    ("function-apis", "FNGATE_DIALECTS: unknown dialect 'function-apis'"),
    ("none,function-api", "FNGATE_DIALECTS: unknown dialect 'none'"),
    ("all,kube-serverless", "FNGATE_DIALECTS: unknown dialect 'all'"),
    ("function-api,,kube-serverless", "FNGATE_DIALECTS: unknown dialect ''"),
    ("kube-serverless,kube-serverless", "FNGATE_DIALECTS names 'kube-serverless' twice"),
])
def test_an_unknown_or_repeated_name_is_refused(tmp_path: Path, value: str,
                                                message: str) -> None:
    with pytest.raises(SettingsError) as raised:
        _load(tmp_path, value)
    assert str(raised.value).startswith(message)
    if "unknown" in message:  # the message lists what it could have been
        assert "function-api, kube-serverless, project-functions, function-service" in str(
            raised.value)


def test_serve_with_an_unknown_dialect_stops_with_the_message(tmp_path: Path) -> None:
    from gateway.cli.main import cli

    result = CliRunner().invoke(cli, ["serve", "--data-dir", str(tmp_path / "data")],
                                env={"FNGATE_DIALECTS": "function-api,openfaas",
                                     "FNGATE_CONFIG": str(tmp_path / "none.toml")})
    assert result.exit_code == 2
    assert "fngate: FNGATE_DIALECTS: unknown dialect 'openfaas'" in result.output
    assert not (tmp_path / "data").exists()  # nothing started
