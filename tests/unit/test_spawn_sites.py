"""Every process ``executors/`` starts goes through ``executors.spawn`` (one place that
knows what uvloop accepts and how an identity is dropped), so no spawn site can differ."""

from __future__ import annotations

import ast
from pathlib import Path

EXECUTORS = Path(__file__).resolve().parents[2] / "executors"

_SPAWNING = {
    "subprocess": {"Popen", "run", "call", "check_call", "check_output", "getoutput",
                   "getstatusoutput"},
    "asyncio": {"create_subprocess_exec", "create_subprocess_shell"},
    "os": {"fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "execv",
           "execve", "execvp", "execvpe", "execl", "execle", "execlp", "execlpe", "spawnv",
           "spawnve", "spawnvp", "spawnvpe", "spawnl", "spawnle", "spawnlp", "spawnlpe"},
}


def _annotations(tree: ast.AST) -> set[int]:
    """ids of the nodes inside type annotations (``subprocess.Popen[bytes]`` there is a type)."""
    roots: list[ast.AST] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.arg | ast.AnnAssign) and node.annotation is not None:
            roots.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.returns:
            roots.append(node.returns)
    return {id(n) for root in roots for n in ast.walk(root)}


def _spawn_calls(path: Path) -> list[str]:
    """Each use (a call, or a reference such as ``to_thread(subprocess.Popen, …)``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typed = _annotations(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in _SPAWNING:
            found += [(node.lineno, f"from {node.module} import {a.name}")
                      for a in node.names if a.name in _SPAWNING[node.module]]
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.attr in _SPAWNING.get(node.value.id, ()) and id(node) not in typed):
            found.append((node.lineno, f"{node.value.id}.{node.attr}"))
    return [f"{path.name}:{line} {what}" for line, what in sorted(found)]


def test_only_the_spawn_module_starts_processes() -> None:
    modules = [p for p in EXECUTORS.glob("*.py") if p.name != "spawn.py"]
    assert len(modules) > 5
    found = [hit for p in sorted(modules) for hit in _spawn_calls(p)]
    assert found == [], "spawn through executors.spawn instead: " + ", ".join(found)


def test_the_scan_finds_a_direct_spawn(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import asyncio, subprocess\nfrom os import fork\n"
        "async def f():\n    await asyncio.create_subprocess_exec('true', user=None)\n"
        "def g(p: subprocess.Popen[bytes]) -> subprocess.Popen[bytes]:\n"
        "    return asyncio.to_thread(subprocess.Popen, ['true'])\n"
    )
    assert _spawn_calls(sample) == [
        "sample.py:2 from os import fork",
        "sample.py:4 asyncio.create_subprocess_exec",
        "sample.py:6 subprocess.Popen",
    ]
