"""The decider reads the catalogue on a pool of its own (`ReferenceStore.on_pool`): the catalogue it decodes is the
process's one, not a second copy (~15 MB a validation pod), and a load read through either store is read once."""

from __future__ import annotations

from typing import Any

from validation.reference_store import ReferenceStore


class Pool:
    """Answers the newest load's version, an empty catalogue and one AO; counts the catalogue's reads."""

    def __init__(self) -> None:
        self.catalogue_reads = 0

    async def fetchval(self, query: str, *args: Any) -> int:
        assert "reference_loads" in query
        return 7

    async def fetch(self, query: str, *args: Any) -> list[dict[str, str]]:
        if "validation.qualifications" in query:
            self.catalogue_reads += 1
            return []
        return [{"ao_id": "RN9093", "name": "Pearson Education Ltd"}]


async def test_a_store_on_the_deciders_pool_shares_what_the_first_read() -> None:
    api_pool, decider_pool = Pool(), Pool()
    api = ReferenceStore(api_pool)
    decider = api.on_pool(decider_pool)

    read_by_the_api = await api.current()
    read_by_the_decider = await decider.current()

    assert read_by_the_decider[0] is read_by_the_api[0]
    assert (api_pool.catalogue_reads, decider_pool.catalogue_reads) == (1, 0)
    assert read_by_the_decider[1]["RN9093"].name == "Pearson Education Ltd"
