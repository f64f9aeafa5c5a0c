"""A Sandpit reset sent while a batch of the AO's waits for a Sandpit maintenance pause (decision 0060, 0070): the
decider holds at that batch's start and meets the reset only after it, so the reset's status says it is held by
the maintenance, as the batch's does, and the reset completes once the pause ends."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import submit
from tests.integration.test_sandpit import (  # noqa: F401 - the Sandpit's fixtures
    _decider_says,
    a_gcse_learner_in_both,
    sandpit,
    sandpit_inbox,
)
from tests.support.learners import json_batch, json_record
from tests.support.waiting import eventually

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")


async def lrs_reset(target: SystemUnderTest, ao_id: str, wait: int) -> tuple[int, str, float]:
    """`lrs sandpit reset --wait` with the AO's Sandpit key: its exit status, its output, and how long it took."""
    env = {
        **os.environ,
        "LRS_SANDPIT_API_KEY": await target.key_for(f"ao:{ao_id}"),
        "LRS_SANDPIT_INGEST_URL": target.url("ingest"),
    }
    started = time.monotonic()
    done = await asyncio.to_thread(
        subprocess.run,
        [LRS, "sandpit", "reset", "--wait", str(wait)],
        env=env,
        capture_output=True,
        text=True,
        timeout=wait + 60,
        check=False,
    )
    return done.returncode, done.stdout, time.monotonic() - started


async def test_a_reset_behind_a_batch_a_pause_holds_says_it_is_held_then_completes(
    system: SystemUnderTest,
    sandpit: SystemUnderTest,  # noqa: F811
) -> None:
    chosen, learner = await a_gcse_learner_in_both(system, sandpit)
    batch = json_batch(chosen.ao_id, [json_record(learner, chosen.qualification_number, chosen.passing_grade)])

    async with (
        await sandpit.client("ingest", "operator:sandpit-tests") as operator,
        await sandpit.client("ingest", f"ao:{chosen.ao_id}") as ao,
    ):
        paused = await operator.post("/v1/admin/maintenance/pause", json={"reason": "sandpit upgrade"})
        assert paused.status_code == 201, paused.text
        try:
            await eventually(lambda: _decider_says(sandpit, "paused for maintenance"), what="the Sandpit paused")
            held = await submit(sandpit, chosen.ao_id, batch)
            await eventually(lambda: _decider_says(sandpit, "waiting at a batch boundary"), what="the Sandpit holding")
            asked = await ao.post("/v1/sandpit/reset")
            assert asked.status_code == 202, asked.text
            reset_id = asked.json()["reset_id"]

            async def said_held() -> dict[str, Any] | None:
                view: dict[str, Any] = (await ao.get(f"/v1/sandpit/resets/{reset_id}")).json()
                return view if view.get("maintenance") else None

            view = await eventually(said_held, within=30, what="the reset said to be held")
            assert view["status"] == "pending"
            assert view["maintenance"]["reason"] == "sandpit upgrade"
            assert view["maintenance"]["paused"] is True and view["maintenance"]["until"] is None
            assert view["maintenance"]["message"] == "will be applied when the Sandpit resumes after an unplanned pause"
            assert (await ao.get(f"/v1/batches/{held}")).json()["maintenance"]["reason"] == "sandpit upgrade"
            # the CLI says so at once rather than waiting out --wait, and exits 3 as for a held batch
            status, out, took = await lrs_reset(sandpit, chosen.ao_id, wait=120)
            assert status == 3, out
            assert took < 60, took
            assert ": pending - held by maintenance (sandpit upgrade) behind a batch of" in out, out
            assert "it will be applied when the Sandpit resumes after an unplanned pause" in out, out
        finally:
            resumed = await operator.post("/v1/admin/maintenance/resume")
        assert resumed.status_code == 200, resumed.text

        async def completed() -> dict[str, Any] | None:
            view: dict[str, Any] = (await ao.get(f"/v1/sandpit/resets/{reset_id}")).json()
            return view if view["status"] == "completed" else None

        done = await eventually(completed, within=60, what="the reset to complete after the pause")
        assert done["maintenance"] is None
        # the held batch was ahead of the reset in the AO's queue: decided, then forgotten with the rest
        assert (await ao.get(f"/v1/batches/{held}")).status_code == 404
