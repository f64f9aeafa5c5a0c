"""Report windows, finding 3: while a maintenance window or pause holds an AO's waiting batches, none of them is
decided before it ends, so the queue limit's 429 (decision 0171) says so and when: the hold's reason and end, a
`Retry-After` of the seconds until the window's end (300 during a pause, which has none), and the `maintenance` notice
a 202 carries. Without a hold it is answered as before."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from ingest.api import PAUSED_RETRY_AFTER_SECONDS, _deferred
from ingest.config import IngestSettings
from ingest.repository import Waiting
from lrs_contracts.environments import Environment
from lrs_platform.identity import Principal, PrincipalKind
from lrs_platform.maintenance import Closure

SETTINGS = IngestSettings(max_waiting_records_per_ao=150)
WAITING = Waiting(records=200, batches=2)


def _ao() -> Principal:
    return Principal(PrincipalKind.AO, f"RN{uuid.uuid4().int % 10**8:08d}")


def test_during_a_window_the_429_says_it_holds_the_batches_until_its_end() -> None:
    end = (datetime.now(UTC) + timedelta(hours=20)).replace(microsecond=0)
    deferred = _deferred(_ao(), WAITING, SETTINGS, Closure("sandpit database upgrade", end, paused=False))

    problem = deferred.problem.model_dump(mode="json")
    until = end.isoformat().replace("+00:00", "Z")
    assert problem["detail"] == (
        "200 records of your batches are waiting for their decision (at most 150 may wait), and they are held by"
        f" maintenance (sandpit database upgrade) until {until}: send this file after that. Nothing of it was kept."
    )
    assert problem["maintenance"] == {
        "reason": "sandpit database upgrade",
        "until": until,
        "paused": False,
        "message": f"will be processed after {until}",
    }
    retry_after = int(deferred.headers["Retry-After"])
    assert 20 * 3600 - 60 < retry_after <= 20 * 3600 and problem["retry_after"] == retry_after


def test_during_a_pause_the_429_says_until_it_is_resumed_and_asks_again_in_5_minutes() -> None:
    for environment, who in ((Environment.LIVE, "the LRS"), (Environment.SANDPIT, "the Sandpit")):
        held = Closure("broker incident", None, paused=True, environment=environment)
        deferred = _deferred(_ao(), WAITING, SETTINGS, held)

        problem = deferred.problem.model_dump(mode="json")
        assert (
            f"held by maintenance (broker incident) until {who} resumes after an unplanned pause: send"
            in (problem["detail"])
        )
        assert problem["maintenance"]["paused"] and problem["maintenance"]["until"] is None
        assert deferred.headers["Retry-After"] == str(PAUSED_RETRY_AFTER_SECONDS) == "300"
        assert problem["retry_after"] == 300


def test_without_a_hold_the_429_asks_again_in_30_seconds_as_before() -> None:
    deferred = _deferred(_ao(), WAITING, SETTINGS)

    problem = deferred.problem.model_dump(mode="json")
    assert "send this file again in 30 seconds, once some of them are decided" in problem["detail"]
    assert "maintenance" not in problem and deferred.headers["Retry-After"] == "30"
