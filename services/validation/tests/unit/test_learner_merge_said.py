"""The merge route says whether a merge changed anything: a merge made now is 204; the same merge again (the ULN
merged into that master already) changes nothing and answers 200 `changed: false`, so an operator is never told
"merged" for a merge that was not made; a ULN merged into another master is still refused (decision 0158)."""

from __future__ import annotations

import asyncio

import httpx
import structlog

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from validation.api import router
from validation.learner_registry import AlreadyMergedError

MASTER = "1000000043"
OTHER_MASTER = "5555555554"
MERGED = "6936002314"


class Merges:
    """The registry's merges as the route reaches them: a ULN is merged once, the same merge again is nothing new."""

    def __init__(self) -> None:
        self.masters: dict[str, str] = {}

    async def merge(self, master_uln: str, merged_uln: str, merged_by: str | None = None) -> bool:
        held = self.masters.get(merged_uln)
        if held == master_uln:
            return False
        if held is not None:
            raise AlreadyMergedError(f"******{merged_uln[-4:]} is merged into ******{held[-4:]} already")
        self.masters[merged_uln] = master_uln
        return True


def _client(merges: Merges, outbox_wake: asyncio.Event) -> httpx.AsyncClient:
    app = build_app("validation", title="Validation", description="", lifespan=noop_lifespan)
    app.include_router(router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("operator:ops")
    app.state.learner_registry = merges
    app.state.outbox_wake = outbox_wake
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://validation")


async def test_the_same_merge_again_answers_that_nothing_changed() -> None:
    outbox_wake = asyncio.Event()
    async with _client(Merges(), outbox_wake) as client:
        made = await client.post(f"/v1/learners/{MASTER}/merge", json={"merged_uln": MERGED})
        outbox_wake.clear()
        with structlog.testing.capture_logs() as logs:
            again = await client.post(f"/v1/learners/{MASTER}/merge", json={"merged_uln": MERGED})

    assert (made.status_code, made.content) == (204, b""), made.text
    assert again.status_code == 200, again.text
    assert again.headers["content-type"] == "application/json"
    assert again.json() == {"master_uln": MASTER, "merged_uln": MERGED, "changed": False}
    assert not outbox_wake.is_set()  # nothing was queued to publish
    said = [entry["event"] for entry in logs if entry["event"].startswith("learners_merged")]
    assert said == ["learners_merged_already"]  # an auditor's `learners_merged` is a merge made


async def test_a_uln_merged_into_another_master_is_still_refused() -> None:
    async with _client(Merges(), asyncio.Event()) as client:
        await client.post(f"/v1/learners/{MASTER}/merge", json={"merged_uln": MERGED})
        refused = await client.post(f"/v1/learners/{OTHER_MASTER}/merge", json={"merged_uln": MERGED})

    assert refused.status_code == 409, refused.text
    assert refused.json()["code"] == "LEARNER_MERGED_ALREADY"
