"""Where the CLI finds its gateway: profiles in ``~/.config/fngate/config.toml`` (mode
0600), overridden by ``FNGATE_URL`` / ``FNGATE_TOKEN`` and by ``--url`` / ``--token``."""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_URL", "ProfileError", "Target", "config_path", "read_config", "resolve",
           "save_profile"]

DEFAULT_URL = "http://127.0.0.1:8080"


class ProfileError(Exception):
    """The configuration file cannot be read or names no such profile."""


@dataclass(frozen=True, slots=True)
class Target:
    """The gateway a command talks to, and with which token."""

    url: str
    token: str | None
    profile: str


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """``$XDG_CONFIG_HOME/fngate/config.toml``, by default under ``~/.config``."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "fngate" / "config.toml"


def read_config(path: Path) -> dict[str, Any]:
    """The file's content; empty when there is none."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ProfileError(f"{path}: {exc}") from None


def resolve(profile: str | None, url: str | None, token: str | None,
            env: Mapping[str, str] | None = None) -> Target:
    """The target: options beat ``FNGATE_URL``/``FNGATE_TOKEN``, which beat the profile
    (``--profile``, ``FNGATE_PROFILE``, the file's ``default_profile``, or ``default``)."""
    env = os.environ if env is None else env
    path = config_path(env)
    config = read_config(path)
    name = profile or env.get("FNGATE_PROFILE") or config.get("default_profile") or "default"
    profiles = config.get("profiles", {})
    stored = profiles.get(name)
    if stored is None and profile is not None:
        known = ", ".join(sorted(profiles)) or "none"
        raise ProfileError(f"no profile {name!r} in {path} (profiles: {known}); "
                           f"add it with: fngate login --profile {name} --url URL")
    stored = stored or {}
    return Target(url=(url or env.get("FNGATE_URL") or stored.get("url") or DEFAULT_URL),
                  token=token or env.get("FNGATE_TOKEN") or stored.get("token"),
                  profile=name)


def _toml(value: str) -> str:
    # A TOML basic string: JSON's escapes are TOML's for the characters json.dumps writes.
    return json.dumps(value, ensure_ascii=False)


def save_profile(path: Path, name: str, url: str, token: str | None) -> None:
    """Write (or replace) profile ``name``, keeping the others; the file is created 0600
    and its folder 0700 (it holds tokens)."""
    config = read_config(path)
    profiles: dict[str, dict[str, str]] = dict(config.get("profiles", {}))
    profiles[name] = {"url": url, **({"token": token} if token else {})}
    default = config.get("default_profile") or name
    lines = [f"default_profile = {_toml(default)}", ""]
    for key in sorted(profiles):
        lines.append(f"[profiles.{_toml(key)}]")
        lines += [f"{field} = {_toml(str(v))}" for field, v in sorted(profiles[key].items())]
        lines.append("")
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write("\n".join(lines))
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
