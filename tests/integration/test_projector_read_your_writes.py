"""Read your writes on the projector that writes: a waiting read checks again as soon as a step of
the projection commits, not at its next interval."""

from __future__ import annotations

import asyncio

import pytest
from tests.support.projector import App, Events, produce, record, uln_for

pytestmark = pytest.mark.integration


async def test_a_waiting_read_wakes_when_the_projection_commits_a_step(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    live = app.app.state.projector.live
    woken = asyncio.create_task(live.stepped(timeout=3600))
    uln = uln_for(4242)
    await produce(kafka_bootstrap, prefix, [record(Events().recorded(uln), uln)])
    await asyncio.wait_for(woken, timeout=60)  # an hour unless the committed step wakes it
    assert live.stats.events >= 1
