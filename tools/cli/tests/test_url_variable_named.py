"""An AO set up as docs/operations.md says (`LRS_API_URL` alone) is sent to LRS_API_URL, not to per-service
variables it never set: a key refused in clear, a URL not valid, a service out of reach, a 404 no route answers (the
address asked shown, as the service's answer has it: a doubled `/v1`), a certificate for another host name (not "set
SSL_CERT_FILE" when the CA is trusted). A batch whose header names another AO is a refusal of the file (exit status
1), not of the key (5)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli.client import CONTENT_REFUSED, ExitCode, exit_code_of_answer
from lrs_cli.main import main
from lrs_platform.http import no_route_detail

from .answering import clients_answered_by
from .tls_server import refusing_tls_server, self_signed_certificate

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"
SERVICES = ("INGEST", "VALIDATION", "PLR_PROJECTOR", "CHALLENGES", "NOTIFIER", "REPORTING", "PORTAL")


@pytest.fixture
def api_url_alone(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    for service in SERVICES:
        monkeypatch.delenv(f"LRS_{service}_URL", raising=False)
    monkeypatch.delenv("LRS_ALLOW_PLAIN_HTTP", raising=False)
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    return monkeypatch


def _answering(monkeypatch: pytest.MonkeyPatch, answer: Any) -> None:
    clients_answered_by(monkeypatch, answer)


def test_plain_http_in_lrs_api_url_is_said_of_lrs_api_url(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api_url_alone.setenv("LRS_API_URL", "http://api.lrs.example")

    assert main(["batch", "list"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert err.startswith("lrs: LRS_API_URL is http://api.lrs.example: the API key would cross the network")
    assert "LRS_INGEST_URL" not in err


def test_a_service_url_that_overrides_lrs_api_url_is_the_one_named(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example")
    api_url_alone.setenv("LRS_INGEST_URL", "http://ingest.lrs.example")

    assert main(["batch", "list"]) == ExitCode.USAGE
    assert capsys.readouterr().err.startswith("lrs: LRS_INGEST_URL is http://ingest.lrs.example: the API key")


def test_a_url_without_its_scheme_names_lrs_api_url_and_the_url_asked(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    api_url_alone.setenv("LRS_API_URL", "api.lrs.example")

    assert main(["batch", "list"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "a request URL is not valid" in err
    assert "lrs asked api.lrs.example/v1/batches" in err and err.rstrip().endswith("check LRS_API_URL")
    assert "LRS_<SERVICE>_URL" not in err


def test_out_of_reach_names_lrs_api_url(api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    _answering(api_url_alone, refused)
    api_url_alone.setenv("LRS_API_URL", "https://127.0.0.1:1")

    assert main(["batch", "list"]) == ExitCode.UNREACHABLE
    assert capsys.readouterr().err == (
        "lrs: cannot reach https://127.0.0.1:1 ([Errno 111] Connection refused): is it running, and is LRS_API_URL"
        " right?\n"
    )


def test_a_404_no_route_answers_shows_the_address_asked_as_the_service_has_it(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def no_route(request: httpx.Request) -> httpx.Response:
        problem = {
            "title": "Not Found",
            "status": 404,
            "detail": no_route_detail(request.url.path),
            "instance": request.url.path,
        }
        return httpx.Response(404, json=problem)

    _answering(api_url_alone, no_route)
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example/v1")  # a common slip: the base with /v1

    assert main(["batch", "list"]) == ExitCode.FAILED

    err = capsys.readouterr().err
    assert "no route answers this address on this service" in err
    assert err.rstrip().endswith("lrs asked https://api.lrs.example/v1/v1/batches: check LRS_API_URL.")


def test_a_404_of_a_thing_not_found_says_nothing_of_the_url(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = {"title": "Not Found", "status": 404, "detail": "No batch 6cb6ff06 for this caller."}
    _answering(api_url_alone, lambda request: httpx.Response(404, json=missing))
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example")

    assert main(["batch", "status", "6cb6ff06-0b1e-4c1f-9d3a-0f5e2b7c8a41"]) == ExitCode.FAILED
    assert "lrs asked" not in capsys.readouterr().err


# A batch of another AO: a refusal of the file, not of the key

OTHER_AO = {
    "title": "The batch is another awarding organisation's",
    "status": 403,
    "code": "BATCH_OF_ANOTHER_AO",
    "detail": "the batch header names AwardingOrganisation 'RN9037', but the API key belongs to 'RN9093'",
    "instance": "/v1/batches",
}


def test_the_rule_by_code_a_403_of_the_content_is_1_other_403s_and_401_are_5() -> None:
    assert {"BATCH_OF_ANOTHER_AO"} == CONTENT_REFUSED
    assert exit_code_of_answer(403, "BATCH_OF_ANOTHER_AO") == ExitCode.FAILED
    assert exit_code_of_answer(403, None) == ExitCode.KEY_REFUSED
    assert exit_code_of_answer(403, "FORBIDDEN") == ExitCode.KEY_REFUSED
    assert exit_code_of_answer(401, "BATCH_OF_ANOTHER_AO") == ExitCode.KEY_REFUSED


def test_a_batch_naming_another_ao_is_refused_exit_1_with_the_refusal_json(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answering(api_url_alone, lambda request: httpx.Response(403, json=OTHER_AO))
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example")

    assert main(["batch", "submit", str(SAMPLE), "--json", "--wait", "60"]) == ExitCode.FAILED

    captured = capsys.readouterr()
    assert '"batch_id": null' in captured.out and '"status": "refused"' in captured.out
    assert "BATCH_OF_ANOTHER_AO" in captured.out
    assert captured.err.startswith("lrs: HTTP 403: BATCH_OF_ANOTHER_AO - The batch is another awarding")


def test_a_batch_naming_another_ao_without_json_prints_no_batch_id(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _answering(api_url_alone, lambda request: httpx.Response(403, json=OTHER_AO))
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example")

    assert main(["batch", "submit", str(SAMPLE)]) == ExitCode.FAILED
    assert capsys.readouterr().out == ""


def test_a_key_not_allowed_to_submit_stays_exit_5(
    api_url_alone: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    forbidden = {"title": "Forbidden", "status": 403, "detail": "Submitting is not open to learner callers."}
    _answering(api_url_alone, lambda request: httpx.Response(403, json=forbidden))
    api_url_alone.setenv("LRS_API_URL", "https://api.lrs.example")

    assert main(["batch", "submit", str(SAMPLE), "--json"]) == ExitCode.KEY_REFUSED
    assert capsys.readouterr().out == ""


# A certificate for another host name


@pytest.fixture(scope="module")
def certificate_of_another_name(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A CA-signed-looking self-signed certificate for api.lrs.example (and 127.0.0.1), trusted by SSL_CERT_FILE."""
    return self_signed_certificate(tmp_path_factory.mktemp("tls-name"), "api.lrs.example", ("api.lrs.example",))


@pytest.fixture
def tls_port(certificate_of_another_name: tuple[Path, Path]) -> Iterator[int]:
    with refusing_tls_server(certificate_of_another_name) as port:
        yield port


def test_a_trusted_certificate_for_another_name_says_check_the_url_not_ssl_cert_file(
    tls_port: int,
    certificate_of_another_name: tuple[Path, Path],
    api_url_alone: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api_url_alone.setenv("SSL_CERT_FILE", str(certificate_of_another_name[0]))  # the CA is trusted
    api_url_alone.delenv("SSL_CERT_DIR", raising=False)
    api_url_alone.setenv("LRS_API_URL", f"https://localhost:{tls_port}")  # the name is not the certificate's

    assert main(["batch", "list"]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert err.startswith(f"lrs: the certificate of localhost:{tls_port} is for another name (")
    assert err.rstrip().endswith("): check the URL (LRS_API_URL)")
    assert "SSL_CERT_FILE" not in err

    api_url_alone.setenv("LRS_API_URL", f"https://127.0.0.1:{tls_port}")  # its own name: the LRS answers
    assert main(["batch", "list"]) == ExitCode.KEY_REFUSED
