"""`lrs projector status` pointed at a plr-reader (scale-out walk, finding 2): the reader refuses (409), and the
command says which variable names it, not "events handled since this projector started: 0" with a frozen lag."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main

from .answering import answered_by

REFUSED = {
    "type": "about:blank",
    "title": "Not the projector that writes",
    "status": 409,
    "detail": "This projector only reads (PROJECTOR_RUN_CONSUMER=false): ask for the projection's status, and retry,"
    " skip, replay and rebuild, on the one that runs the live projection (on Kubernetes the plr-projector Service,"
    " not plr-reader).",
}


def test_the_status_of_a_reader_says_it_only_reads_and_which_variable_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def reader(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v1/admin/projector"
        return httpx.Response(409, json=REFUSED, headers={"content-type": "application/problem+json"})

    answered_by(monkeypatch, reader)
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:43185")

    code = main(["projector", "status"])

    said = capsys.readouterr()
    assert code != ExitCode.OK
    assert "events handled" not in said.out
    assert "Not the projector that writes" in said.err
    assert "Check LRS_PLR_PROJECTOR_URL: it names a plr-reader." in said.err


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (
            httpx.Response(
                409,
                json={
                    "title": "Conflict",
                    "status": 409,
                    "detail": "The live model is being switched: ask again in a minute.",
                    "code": "CONFLICT",
                },
                headers={"content-type": "application/problem+json"},
            ),
            "HTTP 409: Conflict: the live model is being switched: ask again in a minute.",
        ),
        (
            httpx.Response(409, text="<html>Conflict</html>", headers={"content-type": "text/html"}),
            "HTTP 409 from http://127.0.0.1:43185/v1/admin/projector (text/html), not the LRS's problem document",
        ),
    ],
)
def test_another_409_is_said_as_the_problem_it_is_not_as_a_reader(
    answer: httpx.Response, said: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    answered_by(monkeypatch, lambda request: answer)
    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://127.0.0.1:43185")

    code = main(["projector", "status"])

    err = " ".join(capsys.readouterr().err.split())
    assert code != ExitCode.OK
    assert said in err
    assert "plr-reader" not in err
