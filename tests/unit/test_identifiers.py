"""Names and ids: what can name a row is read once, here."""

from __future__ import annotations

import re

import pytest

from gateway.core.identifiers import ENV_NAME_RE, ID_PATTERN, PROJECT_NAME_RE, numeric_id


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("42", 42), ("9" * 18, int("9" * 18)),
    ("", None), ("9" * 19, None), ("-1", None), ("1.0", None), (" 1", None),
    ("١٢", None), ("²", None),  # digits, but not ASCII ones: int() of "²" would raise
])
def test_numeric_id_reads_ascii_digits_within_bigint_only(text: str,
                                                          expected: int | None) -> None:
    assert numeric_id(text) == expected
    # The document's pattern of an id parameter says the same.
    assert (re.fullmatch(ID_PATTERN, text) is not None) == (expected is not None)


def test_numeric_id_takes_a_smaller_bound() -> None:
    assert numeric_id("123456789", digits=9) == 123456789
    assert numeric_id("1234567890", digits=9) is None


def test_project_and_variable_names() -> None:
    assert PROJECT_NAME_RE.fullmatch("my-project-2")
    assert not PROJECT_NAME_RE.fullmatch("My-project") and not PROJECT_NAME_RE.fullmatch("2a")
    assert ENV_NAME_RE.fullmatch("_API_KEY1") and not ENV_NAME_RE.fullmatch("1A")
