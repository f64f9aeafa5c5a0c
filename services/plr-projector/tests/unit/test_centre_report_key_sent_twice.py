"""A centre report sent with the Idempotency-Key header twice is refused 400 naming the header, as a malformed key
is, before the learner is looked up or anything is put on the log: the key is one value, and taking the first of two
made a report sent with `k2` and `k1` a new report, its `k1` never looked at."""

from __future__ import annotations

from typing import Any

import httpx

from lrs_platform.authentication import current_principal
from lrs_platform.http import build_app, noop_lifespan
from lrs_platform.identity import Principal
from plr_projector.api import centre_router
from plr_projector.endpoints import projector_of

REPORT = {"uln": "1000000043", "qualification_number": "601/4491/X", "subject": "Polymer Operations", "grade": "Merit"}


class Untouched:
    """A projector that may not be used: the refusal comes before the read model, the registry and the log."""

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the projector's {name} was used")


async def test_two_idempotency_keys_are_400_naming_the_header_before_anything_is_read() -> None:
    app = build_app("plr-projector", title="PLR", description="", lifespan=noop_lifespan)
    app.include_router(centre_router)
    app.dependency_overrides[current_principal] = lambda: Principal.parse("provider:10004567")
    app.dependency_overrides[projector_of] = Untouched
    headers = [("Idempotency-Key", "k2"), ("Idempotency-Key", "k1")]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://plr") as client:
        answer = await client.post("/v1/centre/achievements", json=REPORT, headers=headers)

    assert answer.status_code == 400, answer.text
    problem = answer.json()
    assert (problem["code"], problem["title"]) == ("MALFORMED_REQUEST", "Invalid Idempotency-Key")
    assert problem["detail"] == "Idempotency-Key was sent more than once: send one."
