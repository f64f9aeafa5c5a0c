"""`lrs dlq skip ULN` sent twice at once to a real projector (report idempotency, finding 1): with the `heads` the CLI
now reads and sends, one skip drops the poison and the other skips nothing (409 "Parked events changed"), so the
event held behind the poison stays parked; the skip history names the skip made, as the CLI reads it to say "skipped
already, by … at …". Without `heads` (the CLI before), the second dropped the held event too.

The projector has topics of its own (the `projector` fixture): its poison messages reach no other test."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from tests.support.projector import PLR, App, Record, caught_up, ends_of, produce, uln_for
from tests.support.waiting import eventually

from lrs_cli.client import Connection
from lrs_cli.projector_commands import HEADS_CHANGED, heads_changed_text, skipped_heads

pytestmark = pytest.mark.integration

OPERATOR = "operator:skip-twice-tests"


async def _parked(app: App, uln: str) -> list[dict[str, object]]:
    answer = await app.get(OPERATOR, "/v1/admin/dlq", learner=uln, limit=10_000)
    assert answer.status_code == 200, answer.text
    parked: list[dict[str, object]] = answer.json()["parked"]
    return parked


async def test_the_same_skip_sent_twice_at_once_with_its_heads_drops_one_event(
    projector: tuple[App, str], kafka_bootstrap: str
) -> None:
    app, prefix = projector
    uln = uln_for(uuid.uuid4().int % 1_000_000)
    records = [Record(PLR, uln, b"\x00 not json", None), Record(PLR, uln, b"\x00 nor this", None)]
    ends = ends_of(await produce(kafka_bootstrap, prefix, records))

    async def projected() -> bool:
        return await caught_up(app.database_url, ends)

    await eventually(projected, within=30, what="projection")
    parked = await _parked(app, uln)
    assert [row["reason"] for row in parked] == ["error", "blocked"]

    # what `lrs dlq skip ULN` sends, read by each of the two at once before either skips
    heads = [{key: row[key] for key in ("topic", "partition", "offset")} for row in skipped_heads(parked)]
    assert heads == [{key: parked[0][key] for key in ("topic", "partition", "offset")}]
    body = {"reason": "bad event seen", "heads": heads}
    answers = await asyncio.gather(*(app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", body) for _ in range(2)))

    assert sorted(answer.status_code for answer in answers) == [200, 409], [answer.text for answer in answers]
    refused = next(answer for answer in answers if answer.status_code == 409)
    assert refused.json()["title"] == HEADS_CHANGED
    left = await _parked(app, uln)
    assert [row["offset"] for row in left] == [parked[1]["offset"]]  # the event held behind the poison is kept
    # run again later with the head it named (`--head`, after a lost answer): nothing more is dropped
    again = await app.post(OPERATOR, f"/v1/admin/dlq/{uln}/skip", body)
    assert (again.status_code, again.json()["title"]) == (409, HEADS_CHANGED)
    assert [row["offset"] for row in await _parked(app, uln)] == [parked[1]["offset"]]

    actions = (await app.get(OPERATOR, "/v1/admin/dlq/actions")).json()["actions"]
    assert [action["offset"] for action in actions if action["action"] == "skip"] == [parked[0]["offset"]]
    said = heads_changed_text(uln, skipped_heads(parked), actions, Connection(None))
    assert said.startswith(
        f"nothing was skipped: {parked[0]['topic']} partition {parked[0]['partition']} offset {parked[0]['offset']}"
        f" was skipped already, by {OPERATOR} at "
    )
