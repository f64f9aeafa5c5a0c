"""`lrs batch status ID --only rejected`: the 10 rejected records of 10,000, asked of the service as such."""

from __future__ import annotations

import httpx

from lrs_cli.batch_commands import records


def test_only_asks_for_the_records_of_that_result() -> None:
    asked: list[dict[str, str]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(dict(request.url.params))
        return httpx.Response(200, json={"records": [{"line": 4, "status": "rejected"}], "total": 1})

    with httpx.Client(transport=httpx.MockTransport(answer), base_url="http://ingest") as client:
        found = list(records(client, "b1", "rejected"))
        every = list(records(client, "b1"))

    assert found == every == [{"line": 4, "status": "rejected"}]
    assert asked[0]["status"] == "rejected" and "status" not in asked[1]
