"""The dead-letter counts of every service are asked for at once: a service that does not answer held the operators'
start page 30 s for itself and 30 s more for each service behind it in the list."""

from __future__ import annotations

import asyncio
from typing import Any

from portal.backend import ServiceError
from portal.web.operator_pages import DEAD_LETTER_SERVICES, parked_by_service


class AllAtOnce:
    """Answers only once every service has been asked: asked one after another, the first never answers."""

    def __init__(self, silent: str) -> None:
        self.asked: list[tuple[str, float | None]] = []
        self._everyone = asyncio.Event()
        self._silent = silent

    async def dead_letters(self, service: str, *, timeout: float | None = None) -> dict[str, Any]:
        self.asked.append((service, timeout))
        if len(self.asked) == len(DEAD_LETTER_SERVICES):
            self._everyone.set()
        await asyncio.wait_for(self._everyone.wait(), timeout=5)
        if service == self._silent:
            raise ServiceError(f"The {service} service did not answer (ReadTimeout).")
        return {"parked": [], "total": 0}


async def test_every_service_is_asked_at_once_and_one_that_does_not_answer_is_said_so_in_its_place() -> None:
    service = AllAtOnce(silent="challenges")

    found = await parked_by_service(service, timeout=5.0)  # type: ignore[arg-type]

    assert [parked.service for parked in found] == list(DEAD_LETTER_SERVICES)
    assert {timeout for _, timeout in service.asked} == {5.0}
    [silent] = [parked for parked in found if parked.service == "challenges"]
    assert silent.note is not None and "did not answer" in silent.note
    assert all(parked.total == 0 and parked.note is None for parked in found if parked.service != "challenges")
