"""Settings loading and function-body validation (no I/O beyond tmp files)."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import SettingsError, load, load_or_create_secret
from gateway.core.errors import InvalidRequest, InvalidRuntime
from gateway.schemas.function_input import normalize_runtime
from gateway.schemas.functions import FunctionUpdate
from gateway.schemas.validation import parse


def test_environment_overrides_toml(tmp_path: Path) -> None:
    toml = tmp_path / "fngate.toml"
    toml.write_text('port = 9000\nhost = "0.0.0.0"\ncors_origins = ["https://a"]\n')
    s = load({"FNGATE_PORT": "9100"}, toml_path=toml)
    assert s.port == 9100 and s.host == "0.0.0.0" and s.cors_origins == ("https://a",)


def test_bad_settings_are_refused(tmp_path: Path) -> None:
    none = tmp_path / "none.toml"
    with pytest.raises(SettingsError):
        load({"FNGATE_PORT": "eighty"}, toml_path=none)
    with pytest.raises(SettingsError):
        load({"FNGATE_MODE": "production"}, toml_path=none)
    with pytest.raises(SettingsError):
        load({"FNGATE_JWT_ALGORITHMS": "none"}, toml_path=none)
    bad = tmp_path / "bad.toml"
    bad.write_text("no_such_setting = 1\n")
    with pytest.raises(SettingsError):
        load({}, toml_path=bad)


def test_generated_secret_is_private_and_stable(tmp_path: Path) -> None:
    s = load({}, toml_path=tmp_path / "none.toml", data_dir=str(tmp_path / "d"))
    first = load_or_create_secret(s, "jwt_secret")
    assert load_or_create_secret(s, "jwt_secret") == first and len(first) >= 32
    assert ((tmp_path / "d").stat().st_mode & 0o777) == 0o700
    assert ((tmp_path / "d" / "jwt_secret").stat().st_mode & 0o777) == 0o600


@pytest.mark.parametrize("alias", ["python", "python3", "PYTHON3.11", "python39", "py"])
def test_python_aliases(alias: str) -> None:
    assert normalize_runtime(alias) == "python"


@pytest.mark.parametrize("alias", ["nodejs", "node", "nodejs18", "node20", "nodejs18.x"])
def test_node_aliases(alias: str) -> None:
    assert normalize_runtime(alias) == "nodejs"


@pytest.mark.parametrize("alias", ["go", "go119", "go1.19", "GO1.21", "golang", "go1.x"])
def test_go_aliases(alias: str) -> None:
    assert normalize_runtime(alias) == "go"


@pytest.mark.parametrize("alias", ["rust", "rust1", "Rust1.63", "rustlang"])
def test_rust_aliases(alias: str) -> None:
    assert normalize_runtime(alias) == "rust"


@pytest.mark.parametrize("value", ["gopher", "rusty", "ruby", "", 3])
def test_unknown_runtimes(value: object) -> None:
    with pytest.raises((InvalidRuntime, InvalidRequest)):
        normalize_runtime(value)


def test_update_body_is_all_optional_and_aliases_apply(tmp_path: Path) -> None:
    s = load({}, toml_path=tmp_path / "none.toml")

    def update(body: object) -> FunctionUpdate:
        return parse(FunctionUpdate, body, context={"settings": s})

    parsed = update({"maxReplicas": 3, "minReplicas": 1})
    assert parsed.columns() == {"max_concurrency": 3, "min_warm": 1}
    assert not parsed.changes_code
    assert update({"handler": "main.run"}).handler == "run"
    with pytest.raises(InvalidRequest):
        update({"max_concurrency": True})
    with pytest.raises(InvalidRequest):
        update([])
