"""The package layout holds: imports point down only (the import-linter contracts in
pyproject.toml) and no module imports itself through others."""

from __future__ import annotations

import graphlib
from pathlib import Path

import grimp
import pytest
from importlinter.application.use_cases import lint_imports
from importlinter.configuration import configure

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("gateway", "triggers", "executors", "auth", "config")


def test_every_layer_contract_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    configure()  # what the lint-imports command does first
    assert lint_imports(config_filename=str(ROOT / "pyproject.toml"), cache_dir=None,
                        no_logo=True), "lint-imports found a broken contract (printed above)"


def test_no_import_cycles() -> None:
    graph = grimp.build_graph(*PACKAGES)
    sorter = graphlib.TopologicalSorter(
        {m: graph.find_modules_directly_imported_by(m) for m in graph.modules}
    )
    try:
        sorter.prepare()
    except graphlib.CycleError as exc:
        raise AssertionError(f"import cycle: {' -> '.join(exc.args[1])}") from None


def test_a_cycle_is_seen() -> None:
    """The check above can fail: the same sort on a graph with a cycle raises."""
    sorter = graphlib.TopologicalSorter({"a": {"b"}, "b": {"c"}, "c": {"a"}})
    try:
        sorter.prepare()
    except graphlib.CycleError:
        return
    raise AssertionError("no cycle seen")
