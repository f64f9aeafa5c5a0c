"""`lrs dlq skip ULN` of plr-projector sends the events it drops (report idempotency, finding 1). The projector's skip
names a learner, not an event: sent twice (a retry after a lost answer, two operators at once) it dropped the event
first the second time, the one held behind the poison, never seen nor confirmed. The CLI now reads the learner's
parked events first, says on stderr which it drops, and sends them as the skip's `heads`: when they are no longer
first, the projector skips nothing (409 "Parked events changed") and the CLI says so plainly, exit status 1, naming
the skip that dropped them already (who, when) or saying another event is first now; it suggests no skip."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_cli.times import uk_time

from .answering import answered_by

ULN = "1885756908"
TOPIC = "lrs.plr.events.v1"
POISON = {"topic": TOPIC, "partition": 5, "offset": 28, "learner": ULN, "reason": "error", "error": "invalid: JSON"}
HELD = {"topic": TOPIC, "partition": 5, "offset": 29, "learner": ULN, "reason": "blocked", "error": None}
CHALLENGE = {"topic": "lrs.challenge.events.v1", "partition": 1, "offset": 4, "learner": ULN, "reason": "error"}
SKIPPED_AT = "2026-12-07T09:01:34.365000+00:00"


class Projector:
    """The projector's dead-letter routes over a parked list: its skip drops each topic's head, refusing 409 (nothing
    skipped) when the `heads` sent are not those, as `plr_projector.dead_letters.drain_stream` does."""

    def __init__(self, *parked: dict[str, Any]) -> None:
        self.parked = [dict(row, attempts=1) for row in parked]
        self.actions: list[dict[str, Any]] = []
        self.skips: list[dict[str, Any]] = []
        self.listed_before_skip: list[dict[str, Any]] | None = None  # what the listing answers, if not the state

    def heads(self) -> list[tuple[str, int, int]]:
        firsts: dict[str, dict[str, Any]] = {}
        for row in self.parked:
            first = firsts.get(row["topic"])
            if first is None or (first["reason"] != "error" and row["reason"] == "error"):
                firsts[row["topic"]] = row
        return sorted((row["topic"], row["partition"], row["offset"]) for row in firsts.values())

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/v1/admin/dlq":
            assert request.url.params["learner"] == ULN
            listed = self.listed_before_skip if self.listed_before_skip is not None else self.parked
            return httpx.Response(200, json={"parked": listed, "total": len(listed)})
        if request.method == "GET" and path == "/v1/admin/dlq/actions":
            return httpx.Response(200, json={"actions": self.actions})
        if request.method == "POST" and path == f"/v1/admin/dlq/{ULN}/skip":
            body = json.loads(request.content or b"{}")
            self.skips.append(body)
            sent = body.get("heads")
            if sent is not None and sorted((h["topic"], h["partition"], h["offset"]) for h in sent) != self.heads():
                detail = "The first parked events of this learner are not those confirmed: … Nothing was skipped."
                problem = {"title": "Parked events changed", "status": 409, "detail": detail, "code": "CONFLICT"}
                return httpx.Response(409, json=problem)
            dropped = set(self.heads())
            self.parked = [row for row in self.parked if (row["topic"], row["partition"], row["offset"]) not in dropped]
            results = [
                {"topic": t, "applied": 0, "duplicates": 0, "skipped": 1, "still_parked": 0} for t, _, _ in dropped
            ]
            return httpx.Response(200, json={"results": results})
        return httpx.Response(404, json={"title": "Not Found", "status": 404})


def serve(monkeypatch: pytest.MonkeyPatch, projector: Projector) -> None:
    answered_by(monkeypatch, projector.answer)


def test_a_skip_sends_the_poison_it_drops_and_says_which_it_is(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(POISON, HELD, CHALLENGE)
    serve(monkeypatch, projector)

    assert main(["dlq", "skip", ULN, "--reason", "bad event seen at offset 28"]) == ExitCode.OK

    (sent,) = projector.skips
    assert sent == {
        "heads": [
            {"topic": TOPIC, "partition": 5, "offset": 28},
            {"topic": "lrs.challenge.events.v1", "partition": 1, "offset": 4},
        ],
        "reason": "bad event seen at offset 28",
    }
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"skipping the first parked events of {ULN}: {TOPIC} partition 5 offset 28 (invalid: JSON);"
        " lrs.challenge.events.v1 partition 1 offset 4; 1 held behind them are then tried again"
    ) in err


def test_the_same_skip_sent_again_skips_nothing_and_names_the_skip_made_already(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second of two skips at once read the poison as first; by its turn the first had dropped it."""
    projector = Projector(HELD)  # offset 28 skipped meanwhile: 29 is first now
    projector.listed_before_skip = [dict(POISON, attempts=1), dict(HELD, attempts=1)]  # as read before that
    projector.actions = [
        {
            "action": "skip",
            "operator": "operator:demo",
            "topic": TOPIC,
            "partition": 5,
            "offset": 28,
            "acted_at": SKIPPED_AT,
        }
    ]
    serve(monkeypatch, projector)

    assert main(["dlq", "skip", ULN, "--reason", "bad event seen at offset 28"]) == ExitCode.FAILED

    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"nothing was skipped: {TOPIC} partition 5 offset 28 was skipped already, by operator:demo at"
        f" {uk_time(SKIPPED_AT)}"
    ) in err
    assert f"`lrs dlq list --learner {ULN} --service plr-projector`" in err
    assert "HTTP 409" not in err and f"`lrs dlq skip {ULN}" not in err
    assert [row["offset"] for row in projector.parked] == [29]  # the event held behind it is kept


def test_a_skip_whose_events_changed_otherwise_says_another_is_first_now(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(POISON, HELD)
    projector.listed_before_skip = [dict(HELD, reason="error", attempts=1)]  # read before offset 28 was parked
    serve(monkeypatch, projector)

    assert main(["dlq", "skip", ULN, "--reason", "test"]) == ExitCode.FAILED

    err = " ".join(capsys.readouterr().err.split())
    assert f"nothing was skipped: the first parked events of {ULN} changed since they were read" in err
    assert len(projector.parked) == 2


def test_a_skip_that_leaves_one_parked_suggests_seeing_it_not_skipping_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(POISON, HELD)

    def still_parked(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            result = {"topic": TOPIC, "applied": 0, "duplicates": 0, "skipped": 1, "still_parked": 1, "error": "bad"}
            return httpx.Response(200, json={"results": [result]})
        return Projector.answer(projector, request)

    projector.answer = still_parked  # type: ignore[method-assign]
    serve(monkeypatch, projector)

    assert main(["dlq", "skip", ULN, "--reason", "test"]) == ExitCode.FAILED

    err = " ".join(capsys.readouterr().err.split())
    assert f"See it (`lrs dlq show {ULN}`); deploy a fix and retry (`lrs dlq retry {ULN}`)" in err
    assert f"`lrs dlq skip {ULN}`" not in err


def test_a_skip_named_by_its_head_run_again_after_a_lost_answer_drops_nothing_more(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A script's retry after a timeout reads the heads anew, and would drop the event held behind: `--head`, as the
    first run printed it, names the event to drop, so the run again skips nothing."""
    projector = Projector(POISON, HELD)
    serve(monkeypatch, projector)
    command = ["dlq", "skip", ULN, "--head", f"{TOPIC}:5:28", "--reason", "bad event seen at offset 28"]

    assert main(command) == ExitCode.OK
    projector.actions = [
        {
            "action": "skip",
            "operator": "operator:demo",
            "topic": TOPIC,
            "partition": 5,
            "offset": 28,
            "acted_at": SKIPPED_AT,
        }
    ]
    capsys.readouterr()
    assert main(command) == ExitCode.FAILED

    assert [skip["heads"] for skip in projector.skips] == [[{"topic": TOPIC, "partition": 5, "offset": 28}]] * 2
    assert [row["offset"] for row in projector.parked] == [29]
    err = " ".join(capsys.readouterr().err.split())
    assert f"nothing was skipped: {TOPIC} partition 5 offset 28 was skipped already, by operator:demo" in err


def test_the_skip_says_the_head_that_names_what_it_drops(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, Projector(POISON, HELD))

    assert main(["dlq", "skip", ULN, "--reason", "test"]) == ExitCode.OK

    assert f"(to run this skip again without dropping more: --head {TOPIC}:5:28)" in " ".join(
        capsys.readouterr().err.split()
    )


@pytest.mark.parametrize(
    ("command", "says"),
    [
        (["dlq", "skip", ULN, "--head", "5:28", "--reason", "test"], "is not TOPIC:PARTITION:OFFSET"),
        (["dlq", "skip", ULN, "--head", f"{TOPIC}:five:28", "--reason", "test"], "is not TOPIC:PARTITION:OFFSET"),
        (
            ["dlq", "skip", "3", "--service", "ingest", "--head", f"{TOPIC}:5:28", "--reason", "test"],
            "--head is for plr-projector",
        ),
    ],
)
def test_a_head_not_named_as_the_projector_names_it_is_a_usage_error(
    command: list[str], says: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    projector = Projector(POISON, HELD)
    serve(monkeypatch, projector)

    assert main(command) == ExitCode.USAGE

    assert says in " ".join(capsys.readouterr().err.split())
    assert projector.skips == []
