"""A plr-reader's `GET /v1/admin/projector` (`lrs projector status`) is refused (409) as its retry, replay and rebuild
are, while the projector that writes answers it (the scale-out walk, finding 2): the reader's live projection does not
run, and it answered the positions it read at its start, a lag frozen since and 0 events handled."""

from __future__ import annotations

from tests.support.projector import create_topics, new_prefix, running_projector

OPERATOR = "operator:ops-tests"


async def test_a_reader_refuses_the_projectors_status_and_the_writer_answers_it(
    fresh_database_url: str, kafka_bootstrap: str
) -> None:
    prefix = new_prefix()
    await create_topics(kafka_bootstrap, prefix)
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix, run_consumer=False) as reader:
        refused = await reader.get(OPERATOR, "/v1/admin/projector")
    async with running_projector(fresh_database_url, kafka_bootstrap, prefix) as writer:
        answered = await writer.get(OPERATOR, "/v1/admin/projector")

    assert refused.status_code == 409, refused.text
    assert refused.json()["title"] == "Not the projector that writes"
    assert "ask for the projection's status" in refused.json()["detail"]
    assert answered.status_code == 200, answered.text
    assert "events_handled" in answered.json()
