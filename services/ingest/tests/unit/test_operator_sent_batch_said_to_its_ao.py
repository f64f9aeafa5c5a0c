"""Who sent a batch, as the caller may be told (decision 0169): an operator reads `submitted_by` and
`submitted_with_key` as kept; the AO reads its own batches' as kept, and for a batch an LRS operator sent on its
behalf only `an LRS operator`, with no key: neither the operator's name nor their key is its business. The batch's
own view and the batch list say it alike, live and in the Sandpit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from services.ingest.tests.unit.test_desk_reads_batches import AO, BATCH_ID, Batches, Ingest, _row, served

from ingest.views import OPERATOR_SAID, submitter_said_to
from lrs_contracts.environments import Environment
from lrs_platform.identity import Principal

OPERATORS_KEY = "0f1e2d3c4b5a6978"
AOS_KEY = "a1b2c3d4e5f60718"


@pytest.fixture(params=[Environment.LIVE, Environment.SANDPIT])
async def ingest(request: pytest.FixtureRequest) -> AsyncIterator[Ingest]:
    """A batch an LRS operator sent on the AO's behalf, live and in the Sandpit."""
    sent = _row(submitted_by=f"operator:jo.bloggs-{uuid.uuid4().hex[:4]}", submitted_with_key=OPERATORS_KEY)
    async with served(Batches(sent), request.param) as ingest:
        yield ingest


async def both_views(ingest: Ingest) -> list[dict[str, Any]]:
    """The batch as its own view says it and as the batch list does."""
    view = await ingest.client.get(f"/v1/batches/{BATCH_ID}")
    listed = await ingest.client.get("/v1/batches")
    assert view.status_code == listed.status_code == 200, (view.text, listed.text)
    (item,) = listed.json()["items"]
    return [view.json(), item]


async def test_an_operators_batch_reads_to_its_ao_as_sent_by_an_lrs_operator_with_no_key(ingest: Ingest) -> None:
    ingest.call_as(f"ao:{AO}")

    for view in await both_views(ingest):
        assert view["submitted_by"] == "an LRS operator"
        assert view["submitted_with_key"] is None
        assert "jo.bloggs" not in str(view) and OPERATORS_KEY not in str(view)


async def test_an_operator_reads_who_sent_it_as_kept(ingest: Ingest) -> None:
    ingest.call_as("operator:desk")
    sent_by = ingest.batches.row["submitted_by"]

    for view in await both_views(ingest):
        assert (view["submitted_by"], view["submitted_with_key"]) == (sent_by, OPERATORS_KEY)


@pytest.mark.parametrize("caller", [f"ao:{AO}", "operator:desk"])
async def test_the_aos_own_batch_reads_as_kept_to_it_and_to_an_operator(ingest: Ingest, caller: str) -> None:
    ingest.batches.row = _row(submitted_by=f"ao:{AO}", submitted_with_key=AOS_KEY)
    ingest.call_as(caller)

    for view in await both_views(ingest):
        assert (view["submitted_by"], view["submitted_with_key"]) == (f"ao:{AO}", AOS_KEY)


async def test_a_batch_sent_before_this_was_kept_reads_null_to_everyone(ingest: Ingest) -> None:
    ingest.batches.row = _row(submitted_by=None, submitted_with_key=None)
    for caller in (f"ao:{AO}", "operator:desk"):
        ingest.call_as(caller)
        for view in await both_views(ingest):
            assert (view["submitted_by"], view["submitted_with_key"]) == (None, None)


def test_what_each_viewer_is_told() -> None:
    ao = Principal.parse(f"ao:{AO}")
    operator = Principal.parse("operator:desk")
    assert submitter_said_to(ao, "operator:jo", OPERATORS_KEY) == (OPERATOR_SAID, None) == ("an LRS operator", None)
    assert submitter_said_to(ao, f"ao:{AO}", AOS_KEY) == (f"ao:{AO}", AOS_KEY)
    assert submitter_said_to(ao, "ao:RN9093", AOS_KEY) == (None, None)  # never another AO's, whatever is stored
    assert submitter_said_to(operator, "operator:jo", OPERATORS_KEY) == ("operator:jo", OPERATORS_KEY)
    assert submitter_said_to(None, "operator:jo", OPERATORS_KEY) == ("operator:jo", OPERATORS_KEY)  # as kept


def test_the_document_says_what_an_ao_is_told(ingest: Ingest) -> None:
    properties = ingest.app.openapi()["components"]["schemas"]["BatchView"]["properties"]
    assert "an LRS operator" in properties["submitted_by"]["description"]
    assert "to the AO only for a batch it sent itself" in properties["submitted_with_key"]["description"]
