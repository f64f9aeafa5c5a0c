"""`lrs batch submit --wait` and `lrs batch status --wait` keep waiting while the gateway in front of ingest (the
deployment's ingress-nginx) answers its own 502, 503 or 504 page for ingest restarting, as they do ingest's own 503:
a status read changes nothing, and a nightly script must not read a restart as the batch's outcome."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli import batch_commands
from lrs_cli.client import CommandError
from lrs_cli.main import main

BATCH = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"


def _gateway_page(status: int) -> httpx.Response:
    """What ingress-nginx answers for an upstream restarting or gone: its own HTML page (a Retry-After of 0 here,
    so that the test does not wait the 2 s lrs waits without one)."""
    return httpx.Response(
        status, headers={"Content-Type": "text/html", "Retry-After": "0"}, text=f"<html>{status}</html>"
    )


def _ingest(answers: list[httpx.Response]) -> httpx.Client:
    def answer(request: httpx.Request) -> httpx.Response:
        return answers.pop(0) if len(answers) > 1 else answers[0]

    return httpx.Client(transport=httpx.MockTransport(answer), base_url="http://ingest")


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateways_error_page_while_waiting_is_waited_through_to_the_decision(status: int) -> None:
    answers = [
        httpx.Response(200, json={"batch_id": BATCH, "status": "validating"}),
        _gateway_page(status),
        _gateway_page(status),
        httpx.Response(200, json={"batch_id": BATCH, "status": "completed"}),
    ]

    assert batch_commands.follow(_ingest(answers), BATCH, wait=30)["status"] == "completed"


@pytest.mark.parametrize("status", [502, 504])
def test_the_first_read_rides_out_a_gateway_restart_too(status: int) -> None:
    answers = [_gateway_page(status), httpx.Response(200, json={"batch_id": BATCH, "status": "completed"})]

    assert batch_commands.follow(_ingest(answers), BATCH, wait=30)["status"] == "completed"


@pytest.mark.parametrize("status", [502, 504])
def test_without_wait_a_gateways_error_is_said_at_once(status: int) -> None:
    with pytest.raises(CommandError, match=rf"\b{status}\b"):
        batch_commands.follow(_ingest([_gateway_page(status)]), BATCH, wait=0)


class _Connection:
    """Ingest behind a gateway that answers 502 twice (ingest restarting), then the batch decided."""

    sandpit = False

    def __init__(self) -> None:
        self.answers = [
            _gateway_page(502),
            _gateway_page(504),
            httpx.Response(200, json={"batch_id": BATCH, "status": "completed", "counts": {"total": 1}}),
        ]

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        return _ingest(self.answers)


def test_batch_status_wait_exits_0_once_the_restart_is_over(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(batch_commands, "connection", lambda ctx: _Connection())

    assert main(["batch", "status", BATCH, "--wait", "30", "--json"]) == 0

    assert '"status": "completed"' in capsys.readouterr().out
