"""The API key crosses a network only encrypted: plain http is for this machine and names inside the cluster."""

import httpx
import pytest

from lrs_cli.client import ExitCode
from lrs_cli.main import main


@pytest.fixture
def requests_sent(monkeypatch: pytest.MonkeyPatch) -> list[httpx.Request]:
    sent: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"items": [], "total": 0, "next": None})

    real_client = httpx.Client

    def recording_client(*args: object, **kwargs: object) -> httpx.Client:
        kwargs["transport"] = httpx.MockTransport(answer)
        return real_client(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(httpx, "Client", recording_client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.delenv("LRS_ALLOW_PLAIN_HTTP", raising=False)
    return sent


@pytest.mark.parametrize("url", ["http://lrs.example.org", "HTTP://10.0.0.7:8001", "http://ingest.lrs.example"])
def test_a_key_is_not_sent_over_plain_http_across_a_network(
    url: str, requests_sent: list[httpx.Request], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_INGEST_URL", url)

    assert main(["batch", "list"]) == ExitCode.USAGE

    assert requests_sent == []
    err = capsys.readouterr().err
    assert "LRS_INGEST_URL is" in err and "unencrypted, so nothing was sent" in err and "https://" in err


def test_the_portal_s_user_commands_refuse_it_too(
    requests_sent: list[httpx.Request], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_PORTAL_URL", "http://portal.example.org")

    assert main(["users", "list"]) == ExitCode.USAGE

    assert requests_sent == []
    assert "LRS_PORTAL_URL is http://portal.example.org" in capsys.readouterr().err


@pytest.mark.parametrize(
    "url",
    [
        "https://lrs.example.org",
        "http://127.0.0.1:8001",
        "http://[::1]:8001",
        "http://localhost:8001",
        "http://ingest",
        "http://sandpit-ingest.lrs.svc",
        "http://ingest.lrs.svc.cluster.local:8000",
    ],
)
def test_tls_this_machine_and_cluster_names_are_asked(
    url: str, requests_sent: list[httpx.Request], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRS_INGEST_URL", url)

    assert main(["batch", "list"]) == ExitCode.OK

    assert [request.headers["Authorization"] for request in requests_sent] == ["Bearer lrs_test_key"]


def test_an_operator_may_allow_a_private_network(
    requests_sent: list[httpx.Request], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LRS_INGEST_URL", "http://lrs.internal.example")
    monkeypatch.setenv("LRS_ALLOW_PLAIN_HTTP", "1")

    assert main(["batch", "list"]) == ExitCode.OK

    assert len(requests_sent) == 1
