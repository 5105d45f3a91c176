"""The four compatibility documents' examples (seeds 000, 001, 003, 004), once: each
document's requests verbatim (base URL and token aside) with the shapes and statuses its
own examples show, written as flows over an :class:`~tests.dialect_examples.harness.Api`.
The end-to-end tier runs every flow against ``fngate serve``
(``tests/e2e/test_dialect_examples.py``); the integration tier keeps what needs an
in-process app (a small rate limit)."""
