"""The CLI's pure parts: the deploy manifest, the plan against what the gateway has, the
profiles file, the scaffold, and the settings loader leaving a manifest alone."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

import pytest

from config import load
from gateway.cli.manifest import ManifestError, load_manifest
from gateway.cli.plan import plan_function
from gateway.cli.profiles import resolve, save_profile
from gateway.cli.scaffold import TEMPLATES, scaffold


def _write(folder: Path, manifest: str, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fngate.toml").write_text(manifest)
    for name, text in files.items():
        (folder / name.replace("__", "/")).parent.mkdir(parents=True, exist_ok=True)
        (folder / name.replace("__", "/")).write_text(text)
    return folder


_ONE = '''
[function]
name = "hello"
runtime = "python3.11"
handler = "main.handler"
dependencies = "requirements.txt"
[function.environment]
KEY = "${API_KEY}"
MODE = "${MODE:-dev}"
PRICE = "$$5"
[function.limits]
timeout_ms = 5000
[[function.triggers]]
type = "http"
path = "/hello"
method = "get"
[[function.triggers]]
type = "schedule"
name = "nightly"
cron = "0 3 * * *"
'''


def test_a_function_table_becomes_api_fields_with_its_code_and_expanded_environment(
        tmp_path: Path) -> None:
    folder = _write(tmp_path / "hello", _ONE, **{"handler.py": "def handler(e):\n  return e\n",
                                                 "requirements.txt": "requests>=2 # http\n\n"
                                                                     "# comment\nidna\n"})
    [spec] = load_manifest(folder, {"API_KEY": "s3cret"})
    assert spec.fields["code"] == "def handler(e):\n  return e\n"
    assert spec.fields["dependencies"] == ["requests>=2", "idna"]
    assert spec.fields["environment"] == {"KEY": "s3cret", "MODE": "dev", "PRICE": "$5"}
    assert spec.fields["timeout_ms"] == 5000 and "limits" not in spec.fields
    assert spec.triggers is not None
    http, cron = spec.triggers
    assert (http.type, http.config) == ("http", {"path": "/hello", "methods": ["get"]})
    assert (cron.type, cron.name, cron.config) == ("cron", "nightly",
                                                   {"schedule": "0 3 * * *"})


def test_a_variable_missing_from_the_environment_is_named(tmp_path: Path) -> None:
    folder = _write(tmp_path / "hello", _ONE, **{"handler.py": "x", "requirements.txt": ""})
    with pytest.raises(ManifestError, match=r"environment\.KEY: \$\{API_KEY\} is not set"):
        load_manifest(folder, {})


@pytest.mark.parametrize(("manifest", "message"), [
    ('[function]\nname = "a"\nruntime = "python"\ncolor = 1\n', "unknown key 'color'"),
    ('[function]\nname = "a"\n', "'runtime' is required"),
    ('[function]\nname = "a"\nruntime = "python"\n[function.limits]\nspeed = 1\n',
     "unknown limit 'speed'"),
    ('[function]\nname = "a"\nruntime = "python"\ncode = "nope.py"\n', "does not exist"),
    ('[[functions]]\nname = "a"\nruntime = "python"\n[[functions]]\nname = "A"\n'
     'runtime = "python"\n', "listed twice"),
    ('[function\n', "Expected"),
    ('title = "x"\n', "unknown key 'title'"),
])
def test_a_bad_manifest_says_what_is_wrong(tmp_path: Path, manifest: str,
                                           message: str) -> None:
    folder = _write(tmp_path / "f", manifest, **{"handler.py": "x"})
    with pytest.raises(ManifestError, match=message):
        load_manifest(folder, {})


def test_several_functions_in_one_file_with_folders_and_a_package_json(tmp_path: Path) -> None:
    _write(tmp_path, "", **{"a__handler.py": "A", "a__test_handler.py": "T",
                            "b__index.js": "B",
                            "b__package.json": '{"dependencies": {"left-pad": "^1.3.0"}}'})
    file = tmp_path / "fns.toml"
    file.write_text('project = "shop"\n[[functions]]\nname = "a"\nruntime = "python"\n'
                    'path = "a"\n[[functions]]\nname = "b"\nruntime = "node"\npath = "b"\n'
                    'dependencies = "package.json"\nproject = "other"\n')
    a, b = load_manifest(file, {})
    assert (a.fields["code"], a.fields["project"], a.triggers) == ("A", "shop", None)
    assert (b.fields["code"], b.fields["project"]) == ("B", "other")
    assert b.fields["dependencies"] == ["left-pad@^1.3.0"]


def _current(**over: Any) -> dict[str, Any]:
    function = {"id": 7, "name": "hello", "runtime": "python", "handler": "handler",
                "code": "def handler(e):\n  return e\n", "dependencies": ["requests>=2", "idna"],
                "environment": {"KEY": "s3cret", "MODE": "dev", "PRICE": "$5"},
                "timeout_ms": 5000}
    function.update(over)
    return function


_TRIGGERS = [
    {"id": 1, "type": "http", "name": None, "enabled": True,
     "config": {"path": "/hello", "methods": ["GET"], "public": False}},
    {"id": 2, "type": "cron", "name": "nightly", "enabled": True,
     "config": {"schedule": "0 3 * * *", "timezone": "UTC", "payload": {}}},
]


def _spec(tmp_path: Path, manifest: str = _ONE) -> Any:
    folder = _write(tmp_path / "hello", manifest,
                    **{"handler.py": "def handler(e):\n  return e\n",
                       "requirements.txt": "requests>=2\nidna\n"})
    [spec] = load_manifest(folder, {"API_KEY": "s3cret"})
    return spec


def test_nothing_to_do_when_the_gateway_has_what_the_manifest_says(tmp_path: Path) -> None:
    plan = plan_function(_spec(tmp_path), _current(), _TRIGGERS)
    assert plan.empty and plan.action == "unchanged" and not plan.new_version


def test_only_what_changed_is_sent_and_a_code_change_is_a_new_version(tmp_path: Path) -> None:
    plan = plan_function(_spec(tmp_path), _current(code="old", timeout_ms=30000), _TRIGGERS)
    assert plan.action == "update" and plan.new_version
    assert plan.body == {"code": "def handler(e):\n  return e\n", "timeout_ms": 5000}
    in_place = plan_function(_spec(tmp_path), _current(environment={}), _TRIGGERS)
    assert in_place.changed == ["environment"] and not in_place.new_version


def test_a_missing_function_is_created_with_its_triggers(tmp_path: Path) -> None:
    plan = plan_function(_spec(tmp_path), None, [])
    assert plan.action == "create" and plan.new_version
    assert [t["type"] for t in plan.body["triggers"]] == ["http", "cron"]
    assert [c.action for c in plan.triggers] == ["add", "add"]


def test_triggers_are_reconciled_to_the_manifest(tmp_path: Path) -> None:
    have = [dict(_TRIGGERS[0], config={"path": "/hello", "methods": ["POST"]}),
            {"id": 3, "type": "queue", "name": None, "enabled": True,
             "config": {"queue": "orders"}}]
    plan = plan_function(_spec(tmp_path), _current(), have)
    assert [(c.action, c.label, c.id) for c in plan.triggers] == [
        ("update", "http /hello", 1), ("add", "cron nightly", None),
        ("remove", "queue orders", 3)]
    unmanaged = _spec(tmp_path, _ONE.split("[[function.triggers]]")[0])
    assert plan_function(unmanaged, _current(), have).triggers == []


def test_a_profile_file_is_private_and_the_environment_overrides_it(tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path)}
    path = tmp_path / "fngate" / "config.toml"
    save_profile(path, "default", "http://a:1", "tok-a")
    save_profile(path, "prod", "https://b", 'tok-"b"')
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert resolve(None, None, None, env).url == "http://a:1"
    prod = resolve("prod", None, None, env)
    assert (prod.url, prod.token) == ("https://b", 'tok-"b"')
    over = resolve("prod", None, None, {**env, "FNGATE_URL": "http://c", "FNGATE_TOKEN": "t"})
    assert (over.url, over.token) == ("http://c", "t")
    assert resolve("prod", "http://d", "u", env).url == "http://d"


def test_every_runtime_scaffolds_a_handler_its_manifest_names(tmp_path: Path) -> None:
    for runtime in TEMPLATES:
        folder = tmp_path / runtime
        scaffold(folder, "hello", runtime)
        [spec] = load_manifest(folder, {})
        assert spec.fields["runtime"] == runtime and spec.fields["code"]
        assert spec.source.name.startswith("handler.")


def test_the_settings_loader_leaves_a_deploy_manifest_alone(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    Path("fngate.toml").write_text('[function]\nname = "a"\nruntime = "python"\n')
    assert load({}).port == 8080
    Path("fngate.toml").write_text("port = 9001\n")
    assert load({}).port == 9001
