"""`lrs keyring rewrap` calls validation until nothing is left to re-wrap, and says how the keys are wrapped (offline)."""

from __future__ import annotations

from typing import Any

import httpx

from lrs_cli.client import Connection
from lrs_cli.keyring_commands import rewrap, wrapping_text
from lrs_contracts.environments import Environment

LIVE = Connection("lrs_k1_secret")


class _Validation:
    """validation's rewrap endpoint over 250,000 keys to re-wrap, 100,000 a call."""

    def __init__(self) -> None:
        self.left = 250_000
        self.calls: list[str] = []

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "validation"
        return httpx.Client(base_url="http://validation", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(str(request.url))
        done = min(self.left, int(request.url.params["at_most"]))
        self.left -= done
        rewrapped = 250_000 - self.left
        return httpx.Response(
            200,
            json={
                "wrap_with": 3,
                "keys_by_wrapping_key": {"0": self.left, "3": rewrapped} if self.left else {"3": rewrapped},
                "to_rewrap": self.left,
                "rewrapped": done,
            },
        )


def test_rewrap_calls_again_until_nothing_is_left_and_reports_the_whole() -> None:
    validation = _Validation()
    progress: list[tuple[int, int]] = []
    state = rewrap(validation, on_progress=lambda done, left: progress.append((done, left)))  # type: ignore[arg-type]
    assert len(validation.calls) == 3
    assert progress == [(100_000, 150_000), (200_000, 50_000), (250_000, 0)]
    assert (state["rewrapped"], state["to_rewrap"]) == (250_000, 0)


def test_the_status_says_what_is_left_to_rewrap() -> None:
    state: dict[str, Any] = {"wrap_with": 3, "keys_by_wrapping_key": {"0": 12, "3": 1_500}, "to_rewrap": 12}
    assert wrapping_text(state, LIVE).splitlines() == [
        "new learner keys are wrapped with wrapping key 3",
        "stored learner keys: 12 by wrapping key 0, 1,500 by wrapping key 3",
        "12 to re-wrap: run `lrs keyring rewrap`",
    ]
    empty = {"wrap_with": 0, "keys_by_wrapping_key": {}, "to_rewrap": 0}
    assert wrapping_text(empty, LIVE).splitlines() == [
        "new learner keys are wrapped with wrapping key 0 (derived from LRS_KEYRING_KEY)",
        "stored learner keys: none",
    ]


def test_the_rewrap_the_sandpit_status_asks_for_goes_to_the_sandpit() -> None:
    state: dict[str, Any] = {"wrap_with": 3, "keys_by_wrapping_key": {"0": 12}, "to_rewrap": 12}
    sandpit = Connection("lrs_sbx_k1_secret", Environment.SANDPIT)
    assert wrapping_text(state, sandpit).splitlines()[-1] == "12 to re-wrap: run `lrs --sandpit keyring rewrap`"


def test_keys_wrapped_with_a_wrapping_key_not_given_ask_for_it_back_not_for_a_rewrap() -> None:
    """A re-wrap cannot open a key wrapped with a wrapping key validation was not given: the status asks for the
    key back rather than for a re-wrap that would fail the same way (ops walk, finding 1)."""
    state: dict[str, Any] = {
        "wrap_with": 0,
        "keys_by_wrapping_key": {"1": 119},
        "to_rewrap": 119,
        "not_given": [1],
    }
    assert wrapping_text(state, LIVE).splitlines() == [
        "new learner keys are wrapped with wrapping key 0 (derived from LRS_KEYRING_KEY)",
        "stored learner keys: 119 by wrapping key 1",
        "119 stored keys are wrapped with wrapping key 1, which validation was not given: add it back to"
        " LRS_KEYRING_WRAPPING_KEYS and restart",
    ]
    one = {"wrap_with": 2, "keys_by_wrapping_key": {"0": 5, "1": 1, "2": 7}, "to_rewrap": 6, "not_given": [1]}
    assert wrapping_text(one, LIVE).splitlines()[2:] == [
        "1 stored key is wrapped with wrapping key 1, which validation was not given: add it back to"
        " LRS_KEYRING_WRAPPING_KEYS and restart",
    ]
