"""What the PLR projector's rebuild tests set up alike: a log of learners on topics of their own, the live model
projected from it, a rebuild caught up, its status as an operator reads it, and its worker processes (those the
projector starts, or an indexed Job's pods started here)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support.projector import (
    LEARNERS,
    PLR,
    App,
    Events,
    Record,
    create_topics,
    envelope_bytes,
    new_prefix,
    produce,
    registered,
    stored_offsets,
    uln_for,
)
from tests.support.waiting import eventually

from plr_projector.rebuild import worker_environment

OPERATOR = "operator:ops-tests"


def new_ulns(count: int) -> list[str]:
    """`count` valid ULNs in a row from a random start: learners of this test alone."""
    base = uuid.uuid4().int % 50_000_000
    return [uln_for(base + index) for index in range(count)]


def learners_log(ulns: Sequence[str], *, regraded: bool = False) -> list[Record]:
    """Learner by learner: registered, then given an achievement of one batch (and, `regraded`, a new grade for it)."""
    events = Events()
    records: list[Record] = []
    for index, uln in enumerate(ulns):
        records.append(Record(LEARNERS, uln, envelope_bytes(registered(uln), sequence=index * 10)))
        records.append(Record(PLR, uln, envelope_bytes(events.recorded(uln), sequence=index * 10 + 1)))
        if regraded:
            records.append(Record(PLR, uln, envelope_bytes(events.updated(uln, grade="8"), sequence=index * 10 + 2)))
    return records


async def topics_holding(bootstrap: str, records: Sequence[Record]) -> str:
    """Topics under a prefix of their own, `records` produced to them; the prefix, for the projector to read them."""
    prefix = new_prefix()
    await create_topics(bootstrap, prefix)
    await produce(bootstrap, prefix, records)
    return prefix


async def projected_live(app: App, records: Sequence[Record], *, what: str = "live projection") -> None:
    """Waits until the live model has stored offsets past `records`, all there is on its topics."""

    async def all_stored() -> bool:
        return sum((await stored_offsets(app.database_url)).values()) >= len(records)

    await eventually(all_stored, within=60, what=what)


async def rebuild_status(app: App, operator: str = OPERATOR) -> dict[str, Any]:
    """`GET /v1/admin/rebuild`: what `lrs projector rebuild status` reads."""
    answer = await app.get(operator, "/v1/admin/rebuild")
    assert answer.status_code == 200, answer.text
    status: dict[str, Any] = answer.json()
    return status


async def rebuild_in_state(app: App, state: str, operator: str = OPERATOR) -> dict[str, Any] | None:
    """The rebuild's status once it is in `state`, None before: a probe for `eventually`."""
    status = await rebuild_status(app, operator)
    return status if status["state"] == state else None


async def caught_up_rebuild(app: App, operator: str = OPERATOR) -> None:
    """Starts a rebuild the projector loads itself (no workers) and waits until it has caught up with the live model."""
    start = await app.post(operator, "/v1/admin/rebuild", workers=0)
    assert start.status_code == 202, start.text
    await eventually(lambda: rebuild_in_state(app, "caught_up", operator), within=60, what="rebuild caught up")


async def job_pod(settings: Any, index: int) -> int:
    """One pod of the rebuild Job: the image's command, its index in JOB_COMPLETION_INDEX; its exit status."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "plr_projector.rebuild",
        env={**worker_environment(settings), "JOB_COMPLETION_INDEX": str(index)},
    )
    return await asyncio.wait_for(process.wait(), timeout=180)


def worker_processes(number: int) -> list[int]:
    """The processes of rebuild worker `number` this test's projector started (its children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError, ValueError):
            continue  # ended meanwhile
        ours = parent == os.getpid() and b"plr_projector.rebuild" in command and b"--worker" in command
        if ours and command[command.index(b"--worker") + 1] == str(number).encode():
            found.append(int(entry.name))
    return found


async def killed_until_the_rebuild_fails(app: App, worker: int) -> tuple[dict[str, Any], set[int]]:
    """Kills each process of rebuild worker `worker` by SIGKILL (as the kernel kills one out of memory) as the
    projector starts it, until the rebuild has failed; its failed status, and the processes killed."""
    killed: set[int] = set()

    async def kill_the_worker() -> dict[str, Any] | None:
        for pid in set(worker_processes(worker)) - killed:
            os.kill(pid, signal.SIGKILL)  # a process this test's projector started
            killed.add(pid)
        return await rebuild_in_state(app, "failed")

    failed = await eventually(kill_the_worker, within=120, what="the rebuild failed for its killed worker")
    return failed, killed
