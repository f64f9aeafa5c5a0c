"""`lrs` run by a script (cron, headless): its exit status says who can put a failure right. An LRS unavailable for
now (its own 503, a gateway's 502/503/504 page) is 4, try again later; a refused key (401, 403) is 5; the rest of
the error answers stay 1. One base URL, LRS_API_URL, serves every service of api.<host>; a loopback default nobody
chose, or a certificate the machine does not trust, is a configuration error (2), not "retry later". Usage errors
are one plain line when stderr is no terminal; a key file others may read is warned of; `lrs --version`."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import metadata
from pathlib import Path

import httpx
import pytest

from lrs_cli.client import Connection, ExitCode
from lrs_cli.main import main
from lrs_contracts.environments import Environment

from .answering import answered_by
from .tls_server import refusing_tls_server, self_signed_certificate

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"
BATCH_ID = "6cb6ff06-0b1e-4c1f-9d3a-0f5e2b7c8a41"
Answer = Callable[[httpx.Request], httpx.Response]

GATEWAY_PAGE = "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center>"


def serve(monkeypatch: pytest.MonkeyPatch, answer: Answer) -> list[httpx.Request]:
    """Every service answers with `answer` (through lrs's own clients, response hooks and all)."""
    asked: list[httpx.Request] = []

    def recorded(request: httpx.Request) -> httpx.Response:
        request.read()
        asked.append(request)
        return answer(request)

    answered_by(monkeypatch, recorded)
    for service in ("INGEST", "PLR_PROJECTOR", "CHALLENGES", "REPORTING"):
        monkeypatch.setenv(f"LRS_{service}_URL", f"https://{service.lower()}.lrs.example")
    return asked


def one_line(err: str) -> str:
    assert err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    return err.strip()


UNAVAILABLE = {
    "title": "The batch store is unavailable",
    "status": 503,
    "detail": "The connection to PostgreSQL was refused, so nothing was accepted or changed. Send the request again"
    " later.",
    "code": "SERVICE_UNAVAILABLE",
}
READS = [
    ["batch", "status", BATCH_ID, "--json"],
    ["batch", "list", "--json"],
    ["plr", "show", "1000000043", "--json"],
    ["challenges", "list", "--json"],
    ["reports", "submissions", "--json"],
]


@pytest.mark.parametrize("argv", READS, ids=[" ".join(argv[:2]) for argv in READS])
def test_the_services_own_503_is_unavailable_try_later_exit_4(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(503, json=UNAVAILABLE, headers={"X-Request-Id": "c492"}))

    assert main(argv) == ExitCode.UNREACHABLE

    captured = capsys.readouterr()
    assert captured.out == ""
    said = one_line(captured.err)
    assert said.startswith("lrs: HTTP 503: The batch store is unavailable: the connection to PostgreSQL was refused")
    assert said.endswith("(request c492: quote it to the LRS service desk)")


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("argv", READS, ids=[" ".join(argv[:2]) for argv in READS])
def test_a_gateways_page_while_the_service_is_away_is_exit_4_and_says_so(
    argv: list[str], status: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(status, html=GATEWAY_PAGE))

    assert main(argv) == ExitCode.UNREACHABLE

    said = one_line(capsys.readouterr().err)
    assert said.startswith(
        f"lrs: a gateway in front of the LRS answered {status} (text/html; charset=utf-8 from https://"
    )
    assert said.endswith("): the service may be restarting; try again later.")
    assert "LRS_<SERVICE>_URL" not in said and "<html" not in said


@pytest.mark.parametrize("status", [502, 504])
@pytest.mark.parametrize(
    ("options", "resend"),
    [
        ([], "submitting the same file again is safe: ingest answers a file it has with that first batch"),
        (["--idempotency-key", "night-1"], "submitting it again with the same --idempotency-key is safe"),
    ],
    ids=["plain", "idempotency-key"],
)
def test_a_gateway_that_gave_up_after_the_upload_says_the_batch_may_be_kept(
    status: int, options: list[str], resend: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(status, html=GATEWAY_PAGE))

    assert main(["batch", "submit", "--json", *options, str(SAMPLE)]) == ExitCode.UNREACHABLE

    said = one_line(capsys.readouterr().err)
    assert f"a gateway in front of the LRS answered {status}" in said
    assert said.endswith(f"Whether it kept the batch is unknown: `lrs batch list` shows it if it did, and {resend}")


def test_a_read_through_a_gateway_says_nothing_of_a_batch_kept(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(504, html=GATEWAY_PAGE))

    assert main(["batch", "list", "--json"]) == ExitCode.UNREACHABLE
    assert "kept" not in capsys.readouterr().err


def test_another_servers_page_keeps_the_url_advice_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(404, html=GATEWAY_PAGE))

    assert main(["batch", "list", "--json"]) == ExitCode.FAILED
    assert one_line(capsys.readouterr().err).endswith(
        "not the LRS's problem document: check the LRS_<SERVICE>_URL variables"
    )


def test_a_wait_the_projector_ran_out_of_stays_not_final(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pending = {"title": "Not yet projected", "status": 503, "code": "PROJECTION_PENDING"}
    serve(monkeypatch, lambda request: httpx.Response(503, json=pending))

    assert main(["plr", "show", "1000000043", "--min-offsets", "0:99999"]) == ExitCode.NOT_FINAL


def test_a_gateways_page_to_the_sandpit_is_said_as_unavailable_not_as_live(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A gateway's page carries no LRS-Environment: it is from no environment, not live's answer; and nothing is sent
    until the Sandpit has said it is there."""
    asked = serve(monkeypatch, lambda request: httpx.Response(503, html=GATEWAY_PAGE))
    monkeypatch.setenv("LRS_SANDPIT_API_KEY", "lrs_sbx_test_key")
    monkeypatch.setenv("LRS_SANDPIT_INGEST_URL", "https://sandpit.api.lrs.example")

    assert main(["--sandpit", "batch", "list", "--json"]) == ExitCode.UNREACHABLE

    err = capsys.readouterr().err
    assert "a gateway in front of the LRS answered 503" in err
    assert "is not the Sandpit" not in err
    assert [request.url.path for request in asked] == ["/healthz"]


@pytest.mark.parametrize(
    ("status", "title"),
    [(401, "Unauthenticated: the API key is unknown, revoked or malformed"), (403, "Forbidden")],
)
@pytest.mark.parametrize("argv", READS, ids=[" ".join(argv[:2]) for argv in READS])
def test_a_refused_key_is_exit_5_in_one_line(
    argv: list[str], status: int, title: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(status, json={"title": title, "status": status}))

    assert main(argv) == ExitCode.KEY_REFUSED

    captured = capsys.readouterr()
    assert captured.out == ""
    assert one_line(captured.err).startswith(f"lrs: HTTP {status}: {title}")


@pytest.mark.parametrize(("status", "code"), [(404, "NOT_FOUND"), (409, "IDEMPOTENCY_KEY_REUSED"), (422, "RS003")])
def test_other_error_answers_stay_exit_1(
    status: int, code: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve(monkeypatch, lambda request: httpx.Response(status, json={"title": "No", "status": status, "code": code}))

    assert main(["batch", "status", BATCH_ID, "--json"]) == ExitCode.FAILED


def test_the_top_level_help_names_every_exit_status_and_the_url_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COLUMNS", "400")

    assert main(["--help"]) == ExitCode.OK

    shown = " ".join(capsys.readouterr().out.split())
    assert "4 LRS unreachable or unavailable (502, 503, 504: try again later)" in shown
    assert "5 API key refused (401, 403)" in shown
    assert "143 SIGTERM" in shown
    assert "$LRS_API_URL (https://api.<host>)" in shown and "SSL_CERT_FILE" in shown


# One base URL


@pytest.mark.parametrize("service", ["ingest", "validation", "plr_projector", "challenges", "notifier", "reporting"])
def test_every_service_of_the_api_host_defaults_to_lrs_api_url(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for each in ("INGEST", "VALIDATION", "PLR_PROJECTOR", "CHALLENGES", "NOTIFIER", "REPORTING", "PORTAL"):
        monkeypatch.delenv(f"LRS_{each}_URL", raising=False)
    monkeypatch.setenv("LRS_API_URL", "https://api.lrs.example/")
    live = Connection("lrs_test_key")

    assert live.url(service) == "https://api.lrs.example"

    monkeypatch.setenv(f"LRS_{service.upper()}_URL", "http://127.0.0.1:18001")  # an operator's port-forward
    assert live.url(service) == "http://127.0.0.1:18001"


def test_lrs_api_url_is_not_the_portals_nor_the_sandpits(monkeypatch: pytest.MonkeyPatch) -> None:
    """The portal has a host of its own; the Sandpit is another environment, whose URLs are set apart."""
    monkeypatch.delenv("LRS_PORTAL_URL", raising=False)
    monkeypatch.delenv("LRS_SANDPIT_INGEST_URL", raising=False)
    monkeypatch.setenv("LRS_API_URL", "https://api.lrs.example")

    assert Connection("lrs_test_key").url("portal") == "http://127.0.0.1:8007"
    with pytest.raises(Exception, match="LRS_SANDPIT_INGEST_URL is not set"):
        Connection("lrs_sbx_key", Environment.SANDPIT).url("ingest")


def _refused_at_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    serve(monkeypatch, refused)
    for each in ("INGEST", "VALIDATION", "PLR_PROJECTOR", "CHALLENGES", "NOTIFIER", "REPORTING", "API"):
        monkeypatch.delenv(f"LRS_{each}_URL", raising=False)


def test_a_url_nobody_set_is_named_and_a_configuration_error_not_retry_later(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _refused_at_the_default(monkeypatch)
    monkeypatch.chdir(tmp_path)

    assert main(["batch", "list", "--json"]) == ExitCode.USAGE

    assert one_line(capsys.readouterr().err) == (
        "lrs: LRS_INGEST_URL is not set, so lrs tried http://127.0.0.1:8001 ([Errno 111] Connection refused): set"
        " LRS_API_URL (https://api.<host>) or LRS_INGEST_URL"
    )


def test_in_a_make_up_checkout_the_url_not_set_says_to_source_its_env(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _refused_at_the_default(monkeypatch)
    (tmp_path / ".run").mkdir()
    (tmp_path / ".run" / "env").write_text("export LRS_INGEST_URL=http://127.0.0.1:44555\n")
    (tmp_path / "samples").mkdir()
    monkeypatch.chdir(tmp_path / "samples")

    assert main(["challenges", "list", "--json"]) == ExitCode.USAGE

    assert one_line(capsys.readouterr().err).endswith(
        "set LRS_API_URL (https://api.<host>) or LRS_CHALLENGES_URL (after `make up`: source .run/env)"
    )


def test_a_loopback_url_someone_set_is_still_out_of_reach_exit_4(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused_at_the_default(monkeypatch)
    monkeypatch.setenv("LRS_INGEST_URL", "http://127.0.0.1:8001")

    assert main(["batch", "list", "--json"]) == ExitCode.UNREACHABLE
    assert one_line(capsys.readouterr().err).startswith("lrs: cannot reach http://127.0.0.1:8001 ")


# An untrusted certificate


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return self_signed_certificate(tmp_path_factory.mktemp("tls"), "127.0.0.1")


@pytest.fixture
def tls_ingest(self_signed: tuple[Path, Path]) -> Iterator[str]:
    with refusing_tls_server(self_signed) as port:
        yield f"https://127.0.0.1:{port}"


def test_a_certificate_the_machine_does_not_trust_is_a_configuration_error_naming_ssl_cert_file(
    tls_ingest: str, self_signed: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_test_key")
    monkeypatch.setenv("LRS_INGEST_URL", tls_ingest)
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    monkeypatch.delenv("SSL_CERT_DIR", raising=False)

    assert main(["batch", "list", "--json"]) == ExitCode.USAGE

    host = tls_ingest.removeprefix("https://")
    assert one_line(capsys.readouterr().err) == (
        f"lrs: the certificate of {host} is not trusted (self-signed certificate): set SSL_CERT_FILE to your CA bundle"
    )

    monkeypatch.setenv("SSL_CERT_FILE", str(self_signed[0]))  # as said: then the LRS answers (here, a refusal)
    assert main(["batch", "list", "--json"]) == ExitCode.KEY_REFUSED


# Usage errors, key files, --version


def test_a_usage_error_off_a_terminal_is_clicks_plain_line_with_the_whole_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / ("this/is/a/very/long/path/to/a/nightly/batch/file/from/the/mis/export/2026-12-07" * 2)

    assert main(["batch", "submit", str(missing / "results.csv")]) == ExitCode.USAGE

    err = capsys.readouterr().err
    assert "╭" not in err and "│" not in err
    assert f"Error: Invalid value for 'FILE': file '{missing / 'results.csv'}' does not exist.\n" in err
    assert err.startswith("Usage: lrs batch submit")


def test_a_key_file_others_may_read_is_warned_of_and_still_used(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file = tmp_path / "ao.key"
    key_file.write_text("lrs_test_key\n")
    key_file.chmod(0o644)

    assert main(["--key-file", str(key_file), "batch", "check", str(SAMPLE), "--json"]) == ExitCode.OK
    assert capsys.readouterr().err == (
        f"lrs: the key file {key_file} can be read by other users (mode 0644): chmod 600 it, and make a new key if"
        " anyone else may have read it\n"
    )

    key_file.chmod(0o600)
    assert main(["--key-file", str(key_file), "batch", "check", str(SAMPLE), "--json"]) == ExitCode.OK
    assert capsys.readouterr().err == ""


def test_version_is_the_packages_release(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == ExitCode.OK
    assert capsys.readouterr().out == f"lrs {metadata.version('lrs-cli')}\n"
