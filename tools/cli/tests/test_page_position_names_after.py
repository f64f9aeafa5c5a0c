"""A page position no page handed out (`--after abc`) is refused naming the option that sent it: the services say
`query.after: …` (`lrs_platform.paging`), which the CLI says as `--after`, as it says every other parameter."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main
from lrs_platform.paging import InvalidPageToken, PagePosition

from .answering import answered_by


def _refused(token: str) -> str:
    """What a service's `after` says of `token`, as `lrs_platform.paging_api.page_after` answers it."""
    with pytest.raises(InvalidPageToken) as refused:
        PagePosition.of_token(token)
    return str(refused.value)


def test_an_unknown_position_names_the_after_option(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def service(request: httpx.Request) -> httpx.Response:
        problem = {
            "type": "/problems/INVALID_REQUEST",
            "title": "Invalid page position",
            "status": 422,
            "detail": _refused(request.url.params["after"]),
            "code": "INVALID_REQUEST",
        }
        return httpx.Response(422, json=problem, headers={"content-type": "application/problem+json"})

    answered_by(monkeypatch, service)

    code = main(["challenges", "list", "--after", "abc"])

    assert code != ExitCode.OK
    said = capsys.readouterr().err
    assert "--after: not a page position this list handed out" in said, said
    assert "query.after" not in said
