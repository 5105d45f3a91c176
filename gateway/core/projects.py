"""Layering of environment and dependencies: system, then project, then function.

A function runs with the system environment, overridden by its project's, overridden by
its own ``environment``, and nothing of the gateway's environment. Its dependencies are
the union of the three lists; where two layers name the same package, the nearer layer's
specifier wins (a function can pin what its project leaves open). A system or project
entry applies to the functions whose runtime's syntax accepts it (``lodash@^4`` only to
Node.js functions, ``requests>=2`` only to Python ones, a bare name to both).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

__all__ = ["COMPILED", "dependency_pattern", "layered_dependencies", "layered_environment",
           "package_name"]

# A package name and optional extras and version ranges; no options, URLs or paths.
_PIP_REQ = re.compile(
    r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[A-Za-z0-9._,-]+\])?"
    r"\s*((==|!=|<=|>=|<|>|~=)\s*[A-Za-z0-9.*+!-]+\s*(,\s*(==|!=|<=|>=|<|>|~=)\s*[A-Za-z0-9.*+!-]+\s*)*)?$"
)
_NPM_REQ = re.compile(r"^(@[a-z0-9][a-z0-9._-]*/)?[a-z0-9][a-z0-9._-]*(@[A-Za-z0-9.^~<>=|* -]+)?$")

_NOTHING = re.compile(r"(?!)")
#: Runtimes compiled at deploy, which take no dependencies.
COMPILED = ("go", "rust")

# The package name at the start of a pip requirement or an npm spec (scope included).
_NAME = re.compile(r"^(@[^/@\s]+/)?[^@\s\[<>=!~;,]+")


def dependency_pattern(runtime: str | None) -> re.Pattern[str]:
    """What a dependency specifier of ``runtime`` must look like (Go and Rust: nothing; they
    build with the standard library, and Rust with serde_json, only)."""
    if runtime in COMPILED:
        return _NOTHING
    return _NPM_REQ if runtime == "nodejs" else _PIP_REQ


def layered_environment(*layers: Mapping[str, str]) -> dict[str, str]:
    """The layers merged in order: a later layer's value wins."""
    merged: dict[str, str] = {}
    for layer in layers:
        merged.update(layer)
    return merged


def package_name(spec: str) -> str:
    """The (normalized) package a dependency specifier names."""
    match = _NAME.match(spec.strip())
    name = match.group(0) if match else spec.strip()
    return re.sub(r"[-_.]+", "-", name).lower()


def layered_dependencies(runtime: str, inherited: Iterable[str],
                         own: Iterable[str]) -> list[str]:
    """``inherited`` (system then project) that fit ``runtime``, then ``own``: one entry per
    inherited package (the later layer's winning), in first-seen order, replaced by every
    entry ``own`` has for that package (``["six>=1", "six<2"]`` stays both)."""
    pattern = dependency_pattern(runtime)
    chosen: dict[str, list[str]] = {}
    for spec in inherited:
        if pattern.fullmatch(spec.strip()):
            chosen[package_name(spec)] = [spec.strip()]
    mine: dict[str, list[str]] = {}
    for spec in own:
        mine.setdefault(package_name(spec), []).append(spec.strip())
    chosen.update(mine)
    return [spec for specs in chosen.values() for spec in specs]
