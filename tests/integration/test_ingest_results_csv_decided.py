"""A batch's results CSV is of a decided batch: before its decision `records.csv` answers 409 BATCH_NOT_DECIDED naming
its status (a file of no rows read as "no records", the parity walk's finding 4); once decided, `?code=` gives the
records with a finding of that code, as the JSON view's `?code=` does (finding 6). Against real Kafka and PostgreSQL."""

from __future__ import annotations

import pytest
from tests.integration.ingest_service import ingest_service  # noqa: F401 - the module's `ingest` fixture
from tests.integration.test_ingest_api import (  # noqa: F401 - ingest_database_url is a fixture
    Ingest,
    batch_file,
    ingest_database_url,
)
from tests.integration.test_ingest_uploads import _fail, _submitted

pytestmark = pytest.mark.integration


def _lines(text: str) -> list[int]:
    return [int(row.split(",")[0]) for row in text.removeprefix("\ufeff").splitlines()[1:]]


async def test_the_results_of_a_batch_not_decided_are_409_then_filtered_by_code_once_decided(ingest: Ingest) -> None:
    ao_id, headers = await ingest.new_ao()
    batch_id, _ = await _submitted(ingest, headers, batch_file(ao_id, records=4))
    csv_url = f"/v1/batches/{batch_id}/records.csv"

    undecided = await ingest.client.get(csv_url, headers=headers)
    assert undecided.status_code == 409, undecided.text
    problem = undecided.json()
    assert (problem["code"], problem["batch_status"]) == ("BATCH_NOT_DECIDED", "accepted")
    assert problem["detail"].startswith(f"Batch {batch_id} is accepted, not decided yet:")

    await _fail(ingest, headers, batch_id, ao_id)  # line 2 is rejected RV002 with a warning WV001; line 4 has WV002

    everything = await ingest.client.get(csv_url, headers=headers)
    assert everything.status_code == 200, everything.text
    assert _lines(everything.text) == [1, 2, 3, 4]
    for code, lines in (("RV002", [2]), ("WV002", [4]), ("RV004", [])):
        as_csv = await ingest.client.get(csv_url, headers=headers, params={"code": code})
        as_json = await ingest.client.get(f"/v1/batches/{batch_id}/records", headers=headers, params={"code": code})
        assert as_csv.status_code == 200, as_csv.text
        assert _lines(as_csv.text) == lines == [record["line"] for record in as_json.json()["records"]]
    both = await ingest.client.get(csv_url, headers=headers, params={"code": "WV001", "status": "accepted"})
    assert _lines(both.text) == []
    assert (await ingest.client.get(csv_url, headers=headers, params={"code": "rv002"})).status_code == 422
