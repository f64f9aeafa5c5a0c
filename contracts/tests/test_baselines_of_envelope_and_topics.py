"""The envelope, the topics and the set of event types have committed baselines too (`contracts/schemas/envelope.json`,
`topics.json`), checked as the payloads are: a breaking change is refused, an allowed one is a note."""

from __future__ import annotations

import dataclasses
import json

import pytest
from pydantic import Field, create_model

from lrs_contracts import compatibility
from lrs_contracts.compatibility import ENVELOPE_SNAPSHOT, TOPICS_SNAPSHOT, check_snapshots, main
from lrs_contracts.envelope import Envelope
from lrs_contracts.registry import EVENT_TYPES
from lrs_contracts.topics import ALL_TOPICS, BATCH_SUBMITTED, PLR_EVENTS, Topic


def test_the_committed_baselines_are_todays() -> None:
    assert json.loads(ENVELOPE_SNAPSHOT.read_text(encoding="utf-8")) == compatibility.envelope_schema(), (
        "regenerate: .venv/bin/python -m lrs_contracts.compatibility, then scripts/dev/export_asyncapi.py"
    )
    assert json.loads(TOPICS_SNAPSHOT.read_text(encoding="utf-8")) == compatibility.topics_baseline()
    assert check_snapshots().incompatible == []


def test_a_tightened_envelope_is_refused(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    tightened = create_model(
        "EnvelopeTightened", __base__=Envelope, correlation_id=(str, Field(min_length=1, max_length=40))
    )
    monkeypatch.setattr(compatibility, "Envelope", tightened)
    assert check_snapshots().incompatible == ["envelope: correlation_id: maxLength 40 added"]
    assert main(["--check"]) == 1
    assert "incompatible: envelope: correlation_id: maxLength 40 added" in capsys.readouterr().err


def test_another_envelope_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    loosened = create_model("EnvelopeLoosened", __base__=Envelope, schema_version=(int, Field(default=1, ge=1)))
    monkeypatch.setattr(compatibility, "Envelope", loosened)
    assert check_snapshots().incompatible != []


def test_a_new_optional_envelope_field_is_a_note(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    widened = create_model("EnvelopeWidened", __base__=Envelope, trace_id=(str | None, Field(default=None)))
    monkeypatch.setattr(compatibility, "Envelope", widened)
    found = check_snapshots()
    assert found.incompatible == []
    assert found.notes == ["envelope (every topic): trace_id: new optional field"]
    assert main(["--check"]) == 0
    assert "upgrade the topic's consumers first" in capsys.readouterr().err


def _topics_with(monkeypatch: pytest.MonkeyPatch, *topics: Topic) -> None:
    by_name = {topic.name: topic for topic in ALL_TOPICS}
    by_name.update({topic.name: topic for topic in topics})
    monkeypatch.setattr(compatibility, "ALL_TOPICS", tuple(by_name.values()))


def test_more_partitions_or_another_key_for_a_topic_are_refused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _topics_with(
        monkeypatch,
        dataclasses.replace(PLR_EVENTS, partitions=12),
        dataclasses.replace(BATCH_SUBMITTED, key="batch id"),
    )
    refused = check_snapshots().incompatible
    assert len(refused) == 2
    assert refused[0].startswith('topic lrs.batch.submitted.v1: key changed from "AO id (one AO')
    assert refused[1].startswith("topic lrs.plr.events.v1: partitions changed from 6 to 12: keys would move")
    assert main(["--check"]) == 1
    assert "publish a v2 event type (or topic)" in capsys.readouterr().err


def test_a_new_topic_or_a_new_event_type_on_a_topic_is_a_note(monkeypatch: pytest.MonkeyPatch) -> None:
    _topics_with(
        monkeypatch,
        Topic("lrs.batch.priorities.v1", key="AO id", compacted=True, retention="compacted", carries=()),
        dataclasses.replace(PLR_EVENTS, carries=(*PLR_EVENTS.carries, "lrs.achievement.annotated.v1")),
    )
    found = check_snapshots()
    assert found.incompatible == []
    assert found.notes == [
        "topic lrs.batch.priorities.v1: new topic",
        "topic lrs.plr.events.v1: now carries lrs.achievement.annotated.v1",
    ]


def test_an_event_type_removed_is_refused_and_its_snapshot_named(monkeypatch: pytest.MonkeyPatch) -> None:
    registered = {event_type: model for event_type, model in EVENT_TYPES.items()}
    del registered["lrs.learner.registered.v1"]
    monkeypatch.setattr(compatibility, "EVENT_TYPES", registered)
    refused = check_snapshots().incompatible
    assert refused == [
        "lrs.learner.registered.v1: event type removed, yet its events stay on the log and must stay readable"
        " (keep its model registered)"
    ]
