"""The JSON nesting bound: exact at the limit, whatever the shape or the strings."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from gateway.core.errors import InvalidRequest
from gateway.schemas.json_depth import MAX_JSON_DEPTH, check_depth, loads_bounded


def _nested(depth: int, *, kind: str = "list") -> Any:
    value: Any = 1
    for level in range(depth):
        value = [value] if (kind == "list" or (kind == "mixed" and level % 2)) else {"k": value}
    return value


@pytest.mark.parametrize("kind", ["list", "dict", "mixed"])
def test_the_bound_is_accepted_and_one_more_level_is_refused(kind: str) -> None:
    ok = orjson.dumps(_nested(MAX_JSON_DEPTH, kind=kind))
    assert loads_bounded(ok) == orjson.loads(ok)
    with pytest.raises(InvalidRequest) as caught:
        loads_bounded(orjson.dumps(_nested(MAX_JSON_DEPTH + 1, kind=kind)))
    assert caught.value.details == {"max_depth": MAX_JSON_DEPTH}
    assert "128 levels" in caught.value.message


def test_past_orjsons_own_limit_is_the_same_400() -> None:
    with pytest.raises(InvalidRequest) as caught:
        loads_bounded(b"[" * 2000 + b"]" * 2000)
    assert caught.value.details == {"max_depth": MAX_JSON_DEPTH}


def test_other_bad_json_is_left_to_the_caller() -> None:
    with pytest.raises(orjson.JSONDecodeError):
        loads_bounded(b"{nope")


def test_many_shallow_brackets_and_brackets_in_strings_are_fine() -> None:
    wide = [{"v": [i, {"s": "[[[[{{{{"}]} for i in range(500)]
    raw = orjson.dumps(wide)
    assert raw.count(b"[") > MAX_JSON_DEPTH
    check_depth(raw, wide)


def test_the_deep_path_is_found_wherever_it_is() -> None:
    value = [1, {"a": "x"}, [[2]], {"deep": _nested(MAX_JSON_DEPTH - 1)}]  # 1 + 1 + 127
    with pytest.raises(InvalidRequest):
        check_depth(orjson.dumps(value), value)
    shallower = [1, {"deep": _nested(MAX_JSON_DEPTH - 2)}]
    check_depth(orjson.dumps(shallower), shallower)
