"""A key's label is one line of text, whoever makes the key: the portal's key form refused a line break or a control
character in it, `lrs credentials create --label` and the key store did not, and `lrs credentials list` printed such a
label raw, a forged row in an access review or a terminal's escapes (door walk, finding 4). The store refuses it
before it asks the database anything."""

from __future__ import annotations

import re
from typing import Any

import pytest

from lrs_platform import credential_store
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal


class _NoDatabase:
    """A pool the store must not use: the label is refused first."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the database was asked ({name}) for a label that is refused")


FORGED_ROW = "ok\n0000000000000000  operator:ghost              every   6 Dec 2026, 23:29     fake row"


@pytest.mark.parametrize(
    ("label", "said"),
    [
        (FORGED_ROW, "a line break (U+000A) at character 3"),
        ("a\x1b[31mred", "the control character U+001B at character 2"),
        ("nightly\u2028sync", "a line break (U+2028) at character 8"),
        ("sync \u202eevil", "the bidirectional control U+202E at character 6"),
        ("del\x7f", "the control character U+007F at character 4"),
    ],
)
async def test_the_store_refuses_a_label_that_is_not_one_line_of_text(label: str, said: str) -> None:
    store = CredentialStore(_NoDatabase())
    with pytest.raises(ValueError, match=re.escape(f"The label holds {said}")):
        await store.issue(Principal.parse("operator:door"), label)
    with pytest.raises(ValueError, match=re.escape(f"The label holds {said}")):
        await store.rotate(Principal.parse("ao:RN9093"), label)


def test_a_label_of_one_line_passes_and_a_session_keys_is_still_refused() -> None:
    label_refusal = credential_store.label_refusal
    assert label_refusal("the AO's results system, tab\there") is None
    assert label_refusal(None) is None
    assert label_refusal("Siân's nightly sync") is None
    refusal = label_refusal("portal session: nightly")
    assert refusal is not None and "marks the portal's session keys" in refusal


async def test_the_store_refuses_a_label_over_the_limit_saying_so_rather_than_cutting_it() -> None:
    """One limit for a label on every surface (report parity, finding 2): the portal cut one to 100 characters
    unsaid, `lrs credentials` kept it whole."""
    label_refusal = credential_store.label_refusal
    limit = credential_store.MAX_LABEL_CHARACTERS
    assert limit == 100
    assert label_refusal("x" * limit) is None
    assert label_refusal("x" * (limit + 49)) == "The label is 149 characters long: shorten it to 100 or fewer."
    store = CredentialStore(_NoDatabase())
    with pytest.raises(ValueError, match="The label is 101 characters long"):
        await store.issue(Principal.parse("ao:RN9093"), "y" * (limit + 1))
    with pytest.raises(ValueError, match="The label is 101 characters long"):
        await store.rotate(Principal.parse("ao:RN9093"), "y" * (limit + 1))
