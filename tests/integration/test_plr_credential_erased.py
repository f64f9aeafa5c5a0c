"""No verifiable credential is signed for an erased learner, whoever asks: a credential is made to be handed on, and
the erased learner's record is no longer to be handed on (providers get 410 on their PLR already). Real projector,
Kafka and PostgreSQL."""

from __future__ import annotations

import base64
import secrets
import uuid
from collections.abc import AsyncIterator

import pytest
from tests.support.projector import (
    LEARNERS,
    T0,
    App,
    Events,
    create_topics,
    linked,
    merged,
    new_prefix,
    project,
    record,
    registered,
    running_projector,
    uln_for,
)

from lrs_contracts.learner import LearnerErased
from lrs_platform.problems import PROBLEM_MEDIA_TYPE

pytestmark = pytest.mark.integration

OPERATOR = "operator:credential-tests"
PROVIDER = "provider:10004567"


@pytest.fixture
async def projector(fresh_database_url: str, kafka_bootstrap: str) -> AsyncIterator[tuple[App, str]]:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(
        fresh_database_url,
        kafka_bootstrap,
        prefix,
        credential_issuer_url="https://lrs.test",
        credential_key_encryption_key=base64.b64encode(secrets.token_bytes(32)).decode(),
    ) as app:
        yield app, prefix


def _credential(uln: str) -> str:
    return f"/v1/learners/{uln}/plr/credential"


async def test_an_erased_learners_plr_is_signed_for_no_one_under_any_of_their_ulns(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    master, merged_uln, other = (uln_for(uuid.uuid4().int % 10_000_000) for _ in range(3))
    aqa = Events()
    await project(
        app,
        kafka_bootstrap,
        prefix,
        [
            *(record(registered(uln), uln, topic=LEARNERS) for uln in (master, merged_uln, other)),
            record(linked(master, PROVIDER), master, topic=LEARNERS, sequence=1),
            record(merged(master, merged_uln), master, topic=LEARNERS, sequence=2),
            record(aqa.recorded(master, grade="7"), master, sequence=3),
            record(aqa.recorded(other, grade="5"), other, sequence=4),
        ],
    )
    before = await app.get(OPERATOR, _credential(master))
    assert before.status_code == 200, before.text  # signed while the learner is not erased

    # the registry erases every ULN of the learner; the projector refuses if any one of them is erased
    erasure = LearnerErased(uln=merged_uln, erasure_id=uuid.uuid4(), erased_by="operator:dpo", erased_at=T0)
    await project(app, kafka_bootstrap, prefix, [record(erasure, merged_uln, topic=LEARNERS, sequence=5)])

    for principal, uln in (
        (OPERATOR, master),
        (OPERATOR, merged_uln),
        (f"learner:{master}", master),  # a key of theirs that outlived the erasure (the registry revokes them)
    ):
        refused = await app.get(principal, _credential(uln))
        assert refused.status_code == 410, (principal, uln, refused.text)
        assert refused.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
        assert refused.json()["code"] == "LEARNER_ERASED"
        assert "credential" not in refused.json()

    # who may never export is told so first, as before: nothing about the learner
    for principal in ("ao:RN5133", PROVIDER):
        forbidden = await app.get(principal, _credential(master))
        assert forbidden.status_code == 403, (principal, forbidden.text)
    # another learner is not touched
    assert (await app.get(OPERATOR, _credential(other))).status_code == 200
