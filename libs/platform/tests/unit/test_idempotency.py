"""The Idempotency-Key header as ingest's batches and the projector's centre reports take it."""

from __future__ import annotations

import pytest

from lrs_platform.idempotency import UnusableIdempotencyKey, idempotency_key_of


@pytest.mark.parametrize(
    ("sent", "key"),
    [(None, None), ("run-1", "run-1"), (' "run-1" ', "run-1"), ("x" * 255, "x" * 255)],
)
def test_a_key_is_taken_as_sent_or_from_its_quotes(sent: str | None, key: str | None) -> None:
    assert idempotency_key_of(sent) == key


@pytest.mark.parametrize("sent", ["", "   ", '""', "has space", "caf\u00e9", "x" * 256])
def test_a_key_that_could_not_be_stored_as_sent_is_refused(sent: str) -> None:
    with pytest.raises(UnusableIdempotencyKey):
        idempotency_key_of(sent)
