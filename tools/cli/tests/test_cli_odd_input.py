"""Input a person really sends by mistake is one line on stderr with the right exit status, never a traceback:
a key saved with a byte-order mark or as binary, a key or idempotency key with letters HTTP cannot carry, a
proxy's HTML page where the LRS's JSON was expected, a credential file that is not text."""

from __future__ import annotations

import codecs
from pathlib import Path

import httpx
import pytest

from lrs_cli.client import CommandError, Connection, ExitCode, expect_ok
from lrs_cli.main import main
from lrs_cli.output import print_text, warn

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "samples" / "sample-100.csv"


def test_a_key_file_saved_with_a_byte_order_mark_reads_as_the_key(tmp_path: Path) -> None:
    key_file = tmp_path / "ao.key"
    key_file.write_bytes(codecs.BOM_UTF8 + b"lrs_live_k1_secret\r\n")
    assert Connection.from_environment(key_file).api_key == "lrs_live_k1_secret"


def test_a_binary_key_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key_file = tmp_path / "ao.key"
    key_file.write_bytes(b"\xff\xfe\x00\x81binary")
    assert main(["--key-file", str(key_file), "batch", "list"]) == ExitCode.USAGE
    assert f"the key file {key_file} is not text" in capsys.readouterr().err


def test_a_key_with_letters_a_header_cannot_carry_is_refused_before_any_request(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_clé")
    assert main(["batch", "list"]) == ExitCode.USAGE
    assert "LRS_API_KEY does not hold an API key: a key is visible ASCII characters only" in capsys.readouterr().err


def test_an_idempotency_key_with_letters_a_header_cannot_carry_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LRS_API_KEY", "lrs_live_k1_secret")
    assert main(["batch", "submit", str(SAMPLE), "--idempotency-key", "résultats-1"]) == ExitCode.USAGE
    assert "--idempotency-key is 1 to 255 visible ASCII characters" in capsys.readouterr().err


def test_a_page_that_is_not_the_lrs_json_names_the_url_to_check() -> None:
    request = httpx.Request("GET", "http://proxy.example/v1/batches?page=1")
    page = httpx.Response(200, html="<html>Sign in</html>", request=request)
    with pytest.raises(CommandError, match=r"http://proxy.example/v1/batches answered 200 with text/html"):
        expect_ok(page)


def test_a_credential_file_that_is_not_text_is_refused_as_not_a_credential(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    credential, jwks = tmp_path / "plr.jwt", tmp_path / "jwks.json"
    credential.write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe")
    jwks.write_text('{"keys": []}')
    assert main(["plr", "verify", str(credential), "--jwks", str(jwks)]) == ExitCode.USAGE  # cannot be read: 2
    assert f"cannot read {credential}: it is not text" in capsys.readouterr().err


def test_batch_list_limit_has_a_ceiling(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["batch", "list", "--limit", "99999999999999999999"]) == ExitCode.USAGE


def test_a_route_the_service_lacks_names_the_url_to_check() -> None:
    """LRS_INGEST_URL pointing at another service: its 404 has no detail of its own."""
    request = httpx.Request("GET", "http://127.0.0.1:8003/v1/batches?page=1")
    missing = httpx.Response(404, json={"title": "Not Found", "status": 404, "code": "NOT_FOUND"}, request=request)
    with pytest.raises(CommandError, match=r"at http://127.0.0.1:8003/v1/batches: check the LRS_<SERVICE>_URL"):
        expect_ok(missing)


def test_a_correcting_batch_that_is_no_uuid_is_a_usage_error_before_the_service_is_asked(
    capsys: pytest.CaptureFixture[str],
) -> None:
    challenge = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"
    code = main(["challenges", "resolve", challenge, "--resolution", "corrected", "--correcting-batch", "nope"])
    assert code == ExitCode.USAGE
    assert "a batch id is a UUID" in capsys.readouterr().err


def test_an_ao_named_in_lower_case_is_reported_on_as_the_register_writes_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from lrs_cli import report_commands

    asked: list[str | None] = []

    def report(connection: object, name: str, months: dict[str, str], ao: str | None, fmt: str = "json") -> object:
        asked.append(ao)
        return {"items": []}

    monkeypatch.setattr(report_commands, "report", report)
    monkeypatch.setenv("LRS_API_KEY", "lrs_live_k1_secret")
    main(["reports", "submissions", "--period", "2026-11", "--ao", "rn9093", "--json"])
    assert asked == ["RN9093"]


def test_a_plr_after_a_batch_ingest_has_none_of_is_refused_at_once(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The projector would wait for it, then answer 503 PROJECTION_PENDING, which a script retries for ever."""
    unknown = "0b5c1e0e-8d0c-4f47-9c3a-2c8b6f1d7e11"

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path == f"/v1/batches/{unknown}", "nothing is asked of the projector"
        return httpx.Response(
            404, json={"title": "Not found", "detail": f"There is no batch {unknown} for this caller."}
        )

    def client(self: Connection, service: str, timeout: float = 60.0) -> httpx.Client:
        return httpx.Client(base_url="http://lrs.test", transport=httpx.MockTransport(answer))

    monkeypatch.setattr(Connection, "client", client)
    monkeypatch.setenv("LRS_API_KEY", "lrs_live_k1_secret")

    assert main(["plr", "show", "1000000043", "--after-batch", unknown]) == ExitCode.FAILED
    assert f"--after-batch: Not found: there is no batch {unknown} that your API key can see" in capsys.readouterr().err


def test_text_from_the_service_is_printed_as_written_never_as_emoji_or_markup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    said = "Centre :warning: [bold]Smith[/bold] :thumbs_up:"
    print_text(said)
    warn(said)
    printed = capsys.readouterr()
    assert printed.out == said + "\n"
    assert printed.err == f"lrs: {said}\n"
