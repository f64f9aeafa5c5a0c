"""`lrs dlq show`: a parked message and its value, the bytes an operator mends into a corrected copy for
`lrs dlq retry --replacement` (before, only a Kafka client reading the `.dlq` topic could give them)."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest

from lrs_cli import dlq_commands
from lrs_cli.client import CommandError, Connection, ExitCode
from lrs_cli.dlq_commands import ParkedValue, parked_value, shown_json, shown_text, value_file_bytes
from lrs_cli.main import main
from lrs_contracts.codes import ProblemCode
from lrs_contracts.environments import Environment
from plr_projector import admin_routes

LIVE = Connection("lrs_k1_secret")
ENVELOPE = b'{"event_id":"4f1c","event_type":"BatchCompleted","data":{"batch_id":"6d1c","records":3}}'
MESSAGE = {
    "id": 12,
    "consumer": "ingest.batch-view",
    "topic": "lrs.batch.outcomes.v1",
    "partition": 5,
    "offset": 41,
    "key": "6d1c",
    "reason": "error",
    "error": "invalid: data.records: Field required",
    "attempts": 2,
    "event_id": "4f1c",
    "event_type": "BatchCompleted",
    "parked_at": "2026-12-05T18:51:32+00:00",
}
PLR_HEAD = {
    "topic": "lrs.plr.events.v1",
    "partition": 3,
    "offset": 28,
    "learner": "1000000043",
    "reason": "error",
    "error": "invalid: data.grade: Field required",
    "event_id": "9a0b",
    "event_type": "AchievementUpdated",
    "attempts": 1,
    "parked_at": "2026-12-05T18:50:00+00:00",
}


def shown(**changes: Any) -> ParkedValue:
    values: dict[str, Any] = {
        "service": "ingest",
        "target": "12",
        "topic": None,
        "message": MESSAGE,
        "others": 1,
        "head": None,
        "value": ENVELOPE,
        "media_type": "application/json",
        "no_value": None,
    }
    return ParkedValue(**(values | changes))


def test_it_says_where_the_message_was_read_why_it_is_parked_and_prints_its_value_ready_to_mend() -> None:
    lines = shown_text(shown(), LIVE).splitlines()

    assert lines[:5] == [
        "parked message 12 of ingest: consumer ingest.batch-view",
        "  read from  lrs.batch.outcomes.v1 partition 5 offset 41, key 6d1c",
        "  event      BatchCompleted 4f1c",
        "  parked     error after 2 tries, parked 2026-12-05T18:51:32+00:00: invalid: data.records: Field required",
        "  with it    1 other message parked of its key",
    ]
    assert lines[5] == f"value: {len(ENVELOPE)} bytes of JSON:"
    value_end = lines.index("}")
    assert json.loads("\n".join(lines[6 : value_end + 1])) == json.loads(ENVELOPE)
    assert lines[-1] == (
        "to apply a corrected copy in its place: save it with --output FILE, mend it, then"
        " `lrs dlq retry 12 --service ingest --replacement FILE`"
    )


def test_a_message_held_behind_the_poison_names_the_poison_a_retry_applies_first() -> None:
    text = shown_text(shown(head=9, message=MESSAGE | {"reason": "blocked", "attempts": 0}), LIVE)

    assert "it waits behind parked message 9, its key's poison: a retry applies that one first" in text
    assert "(`lrs dlq show 9 --service ingest`)" in text
    assert "`lrs dlq retry 12 --service ingest --replacement FILE`" in text  # a copy stands in for the one named


def test_the_projector_shows_a_learners_first_parked_event_and_the_retry_that_replaces_it() -> None:
    text = shown_text(
        shown(service="plr-projector", target="1000000043", topic="lrs.plr.events.v1", message=PLR_HEAD, others=0),
        LIVE,
        Path("fixed.json"),
    )

    assert text.splitlines()[:2] == [
        "first parked event of 1000000043 in plr-projector",
        "  read from  lrs.plr.events.v1 partition 3 offset 28",
    ]
    assert "  with it    0 other messages parked of its key" in text
    assert f"value: {len(ENVELOPE)} bytes of JSON, written to fixed.json (indented)" in text
    assert "`lrs dlq retry 1000000043 --topic lrs.plr.events.v1 --replacement fixed.json`" in text
    assert "it may hold personal data: delete it once the retry is done" in text


def test_a_value_that_is_not_text_is_not_printed_and_is_saved_as_its_bytes() -> None:
    garbage = shown(value=b"\x00\xff not json", media_type="application/octet-stream")

    assert "(11 bytes, not UTF-8 text: save them with --output FILE)" in shown_text(garbage, LIVE)
    assert value_file_bytes(garbage) == b"\x00\xff not json"
    assert shown_json(garbage)["value_base64"] == "AP8gbm90IGpzb24="


def test_a_json_value_is_saved_indented_and_reads_back_as_the_same_json() -> None:
    saved = value_file_bytes(shown())

    assert saved.startswith(b'{\n  "event_id": "4f1c"') and saved.endswith(b"}\n")
    assert json.loads(saved) == json.loads(ENVELOPE)
    assert shown_json(shown())["value"] == json.loads(ENVELOPE)


def test_a_sandpit_show_names_the_sandpit_retry() -> None:
    sandpit = Connection("lrs_sbx_k1_secret", Environment.SANDPIT)

    assert "`lrs --sandpit dlq retry 12 --service ingest --replacement FILE`" in shown_text(shown(), sandpit)


def test_show_output_writes_the_value_0600_and_says_how_to_retry_with_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(dlq_commands, "parked_value", lambda *args: shown())
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")
    file = tmp_path / "fixed.json"

    assert main(["dlq", "show", "12", "--service", "ingest", "--output", str(file)]) == ExitCode.OK

    assert json.loads(file.read_bytes()) == json.loads(ENVELOPE)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    out = capsys.readouterr().out
    assert f"`lrs dlq retry 12 --service ingest --replacement {file}`" in out
    assert '"event_id"' not in out  # the value went to the file only


def test_show_of_a_message_without_a_value_writes_nothing_and_fails_with_output(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tombstone = shown(value=None, media_type=None, no_value="parked message 12 had no value (a tombstone)")
    monkeypatch.setattr(dlq_commands, "parked_value", lambda *args: tombstone)
    monkeypatch.setenv("LRS_API_KEY", "lrs_k1_secret")
    file = tmp_path / "fixed.json"

    assert main(["dlq", "show", "12", "--service", "ingest"]) == ExitCode.OK
    assert "no value: parked message 12 had no value (a tombstone)" in capsys.readouterr().out
    assert main(["dlq", "show", "12", "--service", "ingest", "--output", str(file)]) == ExitCode.FAILED
    assert not file.exists()
    assert f"nothing written to {file}" in capsys.readouterr().err


def test_the_cli_reads_the_services_own_names_for_the_heads_place() -> None:
    # a missing value is known by its code (below); NO_VALUE is the title servers answered before it, matched for them
    assert (
        dlq_commands.PARKED_TOPIC_HEADER,
        dlq_commands.PARKED_PARTITION_HEADER,
        dlq_commands.PARKED_OFFSET_HEADER,
    ) == (admin_routes.PARKED_TOPIC_HEADER, admin_routes.PARKED_PARTITION_HEADER, admin_routes.PARKED_OFFSET_HEADER)


def _answering(monkeypatch: pytest.MonkeyPatch, answer: Any) -> list[str]:
    """Every service's client answered by `answer(request)`; returns the paths asked, in order."""
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.url.path}?{request.url.query.decode()}".rstrip("?"))
        response: httpx.Response = answer(request)
        return response

    monkeypatch.setattr(
        Connection,
        "client",
        lambda self, service, timeout=60.0: httpx.Client(
            base_url="http://lrs", transport=httpx.MockTransport(handler), timeout=timeout
        ),
    )
    return asked


def test_a_shared_services_message_is_read_with_its_stream_then_its_value(monkeypatch: pytest.MonkeyPatch) -> None:
    behind = MESSAGE | {"id": 13, "offset": 42, "reason": "blocked"}

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/admin/dlq/13":
            return httpx.Response(200, json={"parked": [MESSAGE, behind], "total": 2})
        return httpx.Response(200, content=b"{}", headers={"content-type": "application/json"})

    asked = _answering(monkeypatch, answer)

    found = parked_value(LIVE, "ingest", "13")

    assert asked == ["/v1/admin/dlq/13", "/v1/admin/dlq/13/value"]
    assert (found.message, found.others, found.head, found.value, found.is_json) == (behind, 1, 12, b"{}", True)


def test_the_projectors_head_is_listed_at_the_place_its_value_came_from(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/value"):
            place = {"LRS-Parked-Topic": "lrs.plr.events.v1", "LRS-Parked-Partition": "3", "LRS-Parked-Offset": "28"}
            return httpx.Response(200, content=ENVELOPE, headers={"content-type": "application/json", **place})
        blocked = PLR_HEAD | {"offset": 29, "reason": "blocked"}
        return httpx.Response(200, json={"parked": [PLR_HEAD, blocked], "total": 2})

    asked = _answering(monkeypatch, answer)

    found = parked_value(LIVE, "plr-projector", "1000000043")

    assert asked == [
        "/v1/admin/dlq/1000000043/value",
        "/v1/admin/dlq?learner=1000000043&limit=50&topic=lrs.plr.events.v1",
    ]
    assert (found.message, found.others, found.value) == (PLR_HEAD, 1, ENVELOPE)


def test_a_value_the_service_does_not_keep_is_said_and_another_refusal_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/value"):
            return httpx.Response(404, json={"title": "No value kept", "detail": "a tombstone", "status": 404})
        return httpx.Response(200, json={"parked": [MESSAGE], "total": 1})

    _answering(monkeypatch, answer)
    assert parked_value(LIVE, "ingest", "12").no_value == "a tombstone"

    def refused(request: httpx.Request) -> httpx.Response:
        return httpx.Response(403, json={"title": "Forbidden", "detail": "Dead letters are for operators."})

    _answering(monkeypatch, refused)
    with pytest.raises(CommandError, match="HTTP 403: Forbidden: dead letters are for operators"):
        parked_value(LIVE, "plr-projector", "1000000043")


def test_a_value_not_kept_is_known_by_its_code_whatever_its_title_says(monkeypatch: pytest.MonkeyPatch) -> None:
    """The title is words for people, reworded at will: the CLI acts on the problem's code."""

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/value"):
            problem = {"title": "This message kept no bytes", "detail": "a tombstone", "status": 404}
            return httpx.Response(404, json=problem | {"code": ProblemCode.PARKED_VALUE_NOT_KEPT})
        return httpx.Response(200, json={"parked": [MESSAGE], "total": 1})

    _answering(monkeypatch, answer)

    assert parked_value(LIVE, "ingest", "12").no_value == "a tombstone"
