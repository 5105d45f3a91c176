"""A base path that a group of routes lives under, possibly with path parameters
(``/compat/function-api``, ``/api/v1/workspaces/{workspaceId}``): whether a request path
is under it, and what is below it. The compatibility dialects are found this way by the
error rendering and the rate limiter, before and after routing alike."""

from __future__ import annotations

import re

__all__ = ["BasePath"]

_PARAM = re.compile(r"(\{[^/{}]+\})")


class BasePath:
    """A path template without a trailing slash; each ``{name}`` stands for one segment."""

    __slots__ = ("head", "template", "_pattern")

    def __init__(self, template: str) -> None:
        self.template = template.rstrip("/")
        #: The static start of the template: a path that does not start so is not under it.
        self.head = _PARAM.split(self.template, maxsplit=1)[0]
        body = "".join("[^/]+" if _PARAM.fullmatch(part) else re.escape(part)
                       for part in _PARAM.split(self.template))
        self._pattern = re.compile(f"{body}(?P<rest>/.*)?")

    def rest(self, path: str) -> str | None:
        """The part of ``path`` below the base (``""`` for the base itself, else starting
        with ``/``), or None when ``path`` is not under it."""
        if not path.startswith(self.head):
            return None
        found = self._pattern.fullmatch(path)
        if found is None:
            return None
        return found["rest"] or ""

    def __repr__(self) -> str:
        return f"BasePath({self.template!r})"
