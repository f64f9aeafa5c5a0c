"""Records whose ULN names no learner travel sealed too (decisions 0106, 0154): a batch with records whose ULN
is missing, badly formed or the temporary ULN puts none of their names or dates of birth in clear on `lrs.batch.submitted.v1`;
validation opens them with the batch's own key and judges them as it judges them in clear (the codes
`lrs batch check` gives the file: RV001, RV021, RV003); once the batch is decided its key is destroyed, so what
the topic holds of them can never be opened again. Real services, Kafka and PostgreSQL; the topic read
back as the broker stores it."""

from __future__ import annotations

import os
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest
from tests.integration.conftest import SystemUnderTest
from tests.integration.plr_flow import codes_of, decided, record_outcomes, register, submit
from tests.support.kafka import broker_log_dirs, segment_contents
from tests.support.learners import json_batch, json_record, new_learner

from lrs_contracts.batch import BatchFormat
from lrs_contracts.topics import BATCH_SUBMITTED
from lrs_domain.decision import check_batch_offline
from lrs_domain.formats import parse_batch
from lrs_domain.identifiers import TEMPORARY_ULN
from lrs_domain.reference_files import load_catalogue
from lrs_platform.database import create_pool
from lrs_platform.keyring import ERASED, KEYRING_KEY_VARIABLE, Keyring, batch_key_name, keyring_key_from

pytestmark = pytest.mark.integration

AQA = "RN9008"
GCSE_A_TO_G = "100/5001/2"
SERVER_ONLY = frozenset({"RV004", "RV012", "RV013", "RV014", "RV015", "RV016", "RV017"})


def _unkeyed(uln: str | None, **overrides: Any) -> dict[str, Any]:
    """A record whose ULN names no learner, with details unique to this run: finding them means a leak."""
    tag = uuid.uuid4().hex[:10]
    learner = {"uln": uln or "", "given_name": f"Given{tag}", "family_name": f"Family{tag}"}
    record = json_record(learner, GCSE_A_TO_G, "A", **{"dateOfBirth": "1907-03-14", "gender": "1", **overrides})
    if uln is None:
        del record["uln"]
    return record


def _clear_values(record: dict[str, Any]) -> list[str]:
    return [record[name] for name in ("givenName", "familyName") if record.get(name)]


async def _submitted_topic_contents(system: SystemUnderTest) -> bytes:
    """Every record the broker holds of the submissions topic and its dead letters, inflated."""
    directories = await broker_log_dirs(system.kafka_bootstrap)
    return b"".join(
        segment_contents(path)
        for directory in directories
        for path in directory.rglob("*.log")
        if path.parent.name.rsplit("-", 1)[0] in (BATCH_SUBMITTED.name, f"{BATCH_SUBMITTED.name}.dlq")
    )


async def test_records_that_name_no_learner_travel_sealed_are_judged_as_before_and_their_key_dies(
    system: SystemUnderTest,
) -> None:
    learners = [new_learner() for _ in range(12)]  # 5 of 17 rejected: under RS005's 30%
    await register(system, learners)
    unkeyed = [
        _unkeyed(None),  # no ULN
        _unkeyed("12345"),  # too short
        _unkeyed("900000004X", gender="7", dateOfBirth="1907-02-30"),  # not digits, and details the rules refuse
        _unkeyed(None, familyName=None),  # no ULN, no family name
        _unkeyed(TEMPORARY_ULN),  # no learner's: never a key of its own, which would hold every AO's such records
    ]
    batch = json_batch(AQA, [json_record(learner, GCSE_A_TO_G, "A") for learner in learners] + unkeyed)
    batch_id = await submit(system, AQA, batch)
    view = await decided(system, AQA, batch_id)
    assert view["status"] == "completed"

    # no name and no date of birth of theirs in clear anywhere on the topic, only sealed values
    contents = await _submitted_topic_contents(system)
    assert batch_id.encode() in contents  # the search sees the batch
    leaked = [value for record in unkeyed for value in _clear_values(record) if value.encode() in contents]
    assert leaked == []
    assert b"1907-03-14" not in contents and b"1907-02-30" not in contents

    # judged exactly as in clear: the codes the offline check gives the file, beside the server's own
    outcomes = {outcome["line"]: outcome for outcome in await record_outcomes(system, AQA, batch_id)}
    parsed = parse_batch(orjson.dumps(batch), BatchFormat.JSON)
    offline = check_batch_offline(
        parsed.header, parsed.records, load_catalogue(), datetime.now(ZoneInfo("Europe/London")).date()
    )
    first_unkeyed = len(learners) + 1
    for expected in offline.outcomes[len(learners) :]:
        served = outcomes[expected.line]
        assert served["status"] == "rejected"
        assert [code for code in codes_of(served) if code not in SERVER_ONLY] == [f.code for f in expected.errors]
    missing, short, not_digits, nameless, temporary = (outcomes[first_unkeyed + index] for index in range(5))
    assert ("RV021", "uln") in {(finding["code"], finding["field"]) for finding in missing["errors"]}
    assert "RV001" in codes_of(short) and "RV001" in codes_of(not_digits)
    refused_fields = {finding["field"] for finding in not_digits["errors"]}
    assert {"gender", "date_of_birth"} <= refused_fields  # the rules saw the details the seal held
    assert "family_name" in {finding["field"] for finding in nameless["errors"]}
    assert codes_of(temporary) == ["RV003"]  # its details opened: no RV004 about a learner it never named
    assert all(outcomes[line]["status"] == "accepted" for line in range(1, first_unkeyed))

    # the batch's key is gone for good: what the topic holds of those records opens no more
    pool = await create_pool(system.database_url, max_size=1)
    try:
        keyring = Keyring(pool, keyring_key_from(os.environ[KEYRING_KEY_VARIABLE]))
        name = batch_key_name(uuid.UUID(batch_id))
        assert await keyring.find([name]) == {name: ERASED}
        assert await keyring.find([TEMPORARY_ULN]) == {}  # no key was made for it
        row = await pool.fetchrow(
            "SELECT wrapped_key, erased_at FROM learner_keys.keys WHERE learner_ref = $1", keyring.learner_ref(name)
        )
        assert row is not None and row["wrapped_key"] is None and row["erased_at"] is not None
    finally:
        await pool.close()
