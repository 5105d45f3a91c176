"""What the names and ids the API is given look like: a project's name, an environment
variable's name, a numeric id in a path or a reference."""

from __future__ import annotations

import re

__all__ = ["ENV_NAME_PATTERN", "ENV_NAME_RE", "ID_DIGITS", "ID_PATTERN", "PROJECT_NAME_PATTERN",
           "PROJECT_NAME_RE", "numeric_id"]

#: A project's name (lower case; functions name theirs in ``project``).
PROJECT_NAME_PATTERN = r"^[a-z][a-z0-9-]{0,62}$"
PROJECT_NAME_RE = re.compile(PROJECT_NAME_PATTERN)
#: An environment variable's name (a function's, a project's or the system's).
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"
ENV_NAME_RE = re.compile(ENV_NAME_PATTERN)

#: The most digits of a numeric id: any such number fits a PostgreSQL ``bigint``.
ID_DIGITS = 18
#: What :func:`numeric_id` reads, as a path parameter's schema says it.
ID_PATTERN = f"^[0-9]{{1,{ID_DIGITS}}}$"


def numeric_id(text: str, *, digits: int = ID_DIGITS) -> int | None:
    """``text`` as an id when it is ASCII digits only, at most ``digits`` of them; else
    None (it cannot name a row, so it is not looked up as an id)."""
    if text.isascii() and text.isdigit() and len(text) <= digits:
        return int(text)
    return None
