"""`lrs` as a nightly script drives it, against the running services: a batch piped in on standard input (`-`), a
challenge resolved again when the job is run again (done, exit 0; resolved otherwise, exit 1 saying how), and a
list read whole with `--all`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.test_cli_against_services import _ao, _batch_file, _register
from tests.support.learners import new_learner, random_uln

pytestmark = pytest.mark.integration

LRS = str(Path(sys.executable).parent / "lrs")
OK, FAILED = 0, 1


async def _lrs(
    system: SystemUnderTest, principal: str, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "LRS_API_KEY": await system.key_for(principal),
        **{
            f"LRS_{name.upper().replace('-', '_')}_URL": system.url(name)
            for name in ("ingest", "validation", "plr-projector", "challenges", "notifier", "reporting")
        },
    }
    run = await asyncio.to_thread(
        subprocess.run,
        [LRS, *args],
        env=env,
        input=stdin if stdin is not None else b"",
        capture_output=True,
        timeout=600,
        check=False,
    )
    return subprocess.CompletedProcess(run.args, run.returncode, run.stdout.decode(), run.stderr.decode())


async def test_a_batch_piped_in_is_checked_submitted_and_resolved_again_as_a_rerun_does(
    system: SystemUnderTest, tmp_path: Path
) -> None:
    learners = [new_learner()]
    await _register(system, tmp_path, learners)
    file = _batch_file(tmp_path, learners, "piped.csv")
    ao = _ao(file)

    checked = await _lrs(system, ao, "batch", "check", "-", stdin=file.read_bytes())
    submitted = await _lrs(system, ao, "batch", "submit", "-", "--wait", "90", "--json", stdin=file.read_bytes())

    assert checked.returncode == OK, checked.stderr
    assert checked.stdout.startswith("standard input: 1 record\n")
    assert submitted.returncode == OK, submitted.stderr
    batch = json.loads(submitted.stdout)
    assert batch["status"] == "completed" and batch["batch"]["counts"]["accepted"] == 1

    learner = f"learner:{learners[0]['uln']}"
    plr = await _lrs(system, learner, "plr", "show", learners[0]["uln"], "--after-batch", batch["batch_id"], "--json")
    [event] = json.loads(plr.stdout)["learning_events"]
    raised = await _lrs(system, learner, "challenges", "raise", event["id"], "--reason", "My grade was a Merit.")
    assert raised.returncode == OK, raised.stderr
    challenge_id = raised.stdout.split()[1].rstrip(":")

    resolve = ("challenges", "resolve", challenge_id, "--resolution", "upheld", "--note", "Grade confirmed")
    first = await _lrs(system, ao, *resolve)
    again = await _lrs(system, ao, *resolve)
    otherwise = await _lrs(
        system, ao, "challenges", "resolve", challenge_id, "--resolution", "rejected", "--note", "Not a data error"
    )

    assert (first.returncode, first.stdout) == (OK, f"challenge {challenge_id}: resolved (Data confirmed correct)\n")
    assert (again.returncode, again.stdout, again.stderr) == (
        OK,
        f"challenge {challenge_id}: resolved (Data confirmed correct) already\n",
        "",
    )
    assert otherwise.returncode == FAILED and otherwise.stdout == ""
    said = " ".join(otherwise.stderr.split())
    assert f"challenge {challenge_id} is resolved already: upheld (Data confirmed correct)" in said
    assert 'with the note "Grade confirmed". It was not resolved again as rejected' in said


async def test_an_ao_lists_all_its_open_challenges_at_once(system: SystemUnderTest) -> None:
    ao = f"RN{uuid.uuid4().int % 10**6}"
    raised_at = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    states = ["raised", "resolved", "acknowledged"] * 3
    connection = await asyncpg.connect(system.database_url)
    try:
        await connection.executemany(
            "INSERT INTO challenges.challenges (challenge_id, achievement_id, ao_id, uln, reason, state, raised_at)"
            " VALUES (gen_random_uuid(), gen_random_uuid(), $1, $2, 'The grade is wrong.', $3, $4)",
            [(ao, random_uln(), state, raised_at + timedelta(hours=n)) for n, state in enumerate(states)],
        )
        newest_open_first = [
            str(row["challenge_id"])
            for row in await connection.fetch(
                "SELECT challenge_id FROM challenges.challenges WHERE ao_id = $1 AND state <> 'resolved'"
                " ORDER BY raised_at DESC",
                ao,
            )
        ]
    finally:
        await connection.close()

    every = await _lrs(system, f"ao:{ao}", "challenges", "list", "--open", "--limit", "4", "--all", "--json")

    assert (every.returncode, every.stderr) == (OK, "")
    assert [challenge["challenge_id"] for challenge in json.loads(every.stdout)] == newest_open_first
