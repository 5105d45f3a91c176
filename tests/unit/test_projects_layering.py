"""Layering of environment and dependencies: system → project → function."""

from __future__ import annotations

from gateway.core.projects import layered_dependencies, layered_environment, package_name


def test_later_environment_layers_win() -> None:
    assert layered_environment({"A": "s", "B": "s"}, {"B": "p", "C": "p"}, {"C": "f"}) == {
        "A": "s", "B": "p", "C": "f"}


def test_package_names_are_normalized() -> None:
    assert package_name("Requests_Toolbelt>=1.0") == "requests-toolbelt"
    assert package_name("@types/node@^20") == "@types/node"
    assert package_name("lodash@^4") == "lodash"
    assert package_name("uvicorn[standard]==0.30") == "uvicorn"


def test_dependencies_are_the_union_with_the_nearest_layer_winning() -> None:
    inherited = ["requests>=2", "six", "orjson==3.9"]
    own = ["requests==2.31.0", "httpx"]
    assert layered_dependencies("python", inherited, own) == [
        "requests==2.31.0", "six", "orjson==3.9", "httpx"]


def test_inherited_entries_apply_only_to_runtimes_whose_syntax_fits() -> None:
    inherited = ["requests>=2", "lodash@^4", "left-pad"]
    assert layered_dependencies("python", inherited, []) == ["requests>=2", "left-pad"]
    assert layered_dependencies("nodejs", inherited, []) == ["lodash@^4", "left-pad"]


def test_a_functions_own_entries_for_one_package_all_stay() -> None:
    # A range written as two specifiers: dropping one would install something else (and,
    # when the recorded set kept both, start a rebuild after every build).
    assert layered_dependencies("python", [], ["six>=1", "six<2"]) == ["six>=1", "six<2"]
    assert layered_dependencies("python", ["six==1.0", "idna"], ["six>=1", "six<2"]) == [
        "six>=1", "six<2", "idna"]
