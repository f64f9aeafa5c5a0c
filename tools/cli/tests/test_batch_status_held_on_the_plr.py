"""`lrs batch status` of a completed batch some of whose accepted records the PLR projector holds in its dead letters
(a poison on a learner's stream, or held behind one) says so, in the words of the portal's batch page, asking the
projector as that page does (`after_batch` of the AO's view, the batch's AO named): it said nothing, while the
batch page said "1 of the batch's accepted records is held back" (incident walk, finding 2)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

BATCH_ID = "5d2b87d7-3e05-46ba-bd54-9abd9ba8ce15"
COMPLETED = {
    "batch_id": BATCH_ID,
    "ao_id": "RN9093",
    "status": "completed",
    "format": "csv",
    "counts": {"total": 8, "accepted": 7, "rejected": 1, "warnings": 1, "no_ops": 0},
}
HELD_BACK = (
    "  1 of the batch's accepted records is held back by a fault an operator is fixing (in the PLR projector's dead"
    " letters); the others are on learners' records."
)


def _serve(monkeypatch: pytest.MonkeyPatch, batch: dict[str, Any], projector: httpx.Response) -> list[httpx.Request]:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/ao/achievements":
            asked.append(request)
            return projector
        assert request.url.path == f"/v1/batches/{BATCH_ID}"
        return httpx.Response(200, json=batch)

    answered_by(monkeypatch, answer)
    return asked


def _held(count: int) -> httpx.Response:
    return httpx.Response(200, json={"consistency": {"after_batch": BATCH_ID, "batch_events_held": count}})


def test_a_batch_with_an_accepted_record_held_back_says_so_as_the_portal_does(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    asked = _serve(monkeypatch, COMPLETED, _held(1))

    assert main(["batch", "status", BATCH_ID]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"batch {BATCH_ID}: completed - 8 records, 7 accepted, 1 rejected, 0 unchanged, 1 warning",
        HELD_BACK,
    ]
    (request,) = asked
    assert request.url.params["after_batch"] == BATCH_ID
    assert request.url.params["ao_id"] == "RN9093"  # an operator's key names the AO; the AO's own may name itself


def test_several_held_back_are_said_as_the_portal_says_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(monkeypatch, COMPLETED, _held(3))
    main(["batch", "status", BATCH_ID])
    assert "  3 of the batch's accepted records are held back" in capsys.readouterr().out


def test_all_of_them_held_back_are_said_as_the_portal_says_them(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _serve(monkeypatch, COMPLETED, _held(7))
    main(["batch", "status", BATCH_ID])
    assert capsys.readouterr().out.splitlines()[1] == (
        "  The batch's accepted records are held back by a fault an operator is fixing (in the PLR projector's dead"
        " letters): they are not on learners' records yet."
    )


@pytest.mark.parametrize(
    "projector",
    [
        _held(0),
        httpx.Response(403, json={"title": "Forbidden"}),  # a key the projector refuses
        httpx.Response(503, json={"code": "PROJECTION_PENDING"}),  # not taken yet
        httpx.Response(200, json={"consistency": {}}),  # a projector from before the count
    ],
)
def test_nothing_held_or_nothing_known_adds_nothing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], projector: httpx.Response
) -> None:
    _serve(monkeypatch, COMPLETED, projector)

    assert main(["batch", "status", BATCH_ID]) == ExitCode.OK

    assert capsys.readouterr().out.splitlines() == [
        f"batch {BATCH_ID}: completed - 8 records, 7 accepted, 1 rejected, 0 unchanged, 1 warning"
    ]


def test_a_batch_that_accepted_nothing_does_not_ask_the_projector(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    nothing = {**COMPLETED, "counts": {"total": 1, "accepted": 0, "rejected": 1, "warnings": 0, "no_ops": 0}}
    asked = _serve(monkeypatch, nothing, _held(1))

    main(["batch", "status", BATCH_ID])

    assert asked == []
