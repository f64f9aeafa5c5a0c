"""`lrs learners merge` says what the merge did: the same merge again (200, `changed: false`) is said to have
changed nothing, never "merged"."""

from __future__ import annotations

import httpx

from lrs_cli.admin_commands import merge_learners

MASTER = "1000000043"
MERGED = "6936002314"


class Answering:
    """A connection whose validation answers the merge with `response`."""

    sandpit = False

    def __init__(self, response: httpx.Response) -> None:
        self._response = response

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(transport=httpx.MockTransport(lambda request: self._response), base_url="http://validation")


def test_a_merge_made_again_says_nothing_changed() -> None:
    again = httpx.Response(200, json={"master_uln": MASTER, "merged_uln": MERGED, "changed": False})

    said = merge_learners(Answering(again), MASTER, MERGED)  # type: ignore[arg-type]

    assert said == f"ULN {MERGED} was already merged into {MASTER}: nothing changed"


def test_a_merge_made_now_says_merged() -> None:
    said = merge_learners(Answering(httpx.Response(204)), MASTER, MERGED)  # type: ignore[arg-type]

    assert said.startswith(f"{MERGED} merged into {MASTER}: one learner now")
