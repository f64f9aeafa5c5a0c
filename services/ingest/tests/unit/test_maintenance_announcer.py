"""The compacted maintenance topic keeps the last schedule sent: an instance whose send overtook a newer
one's sends the newer schedule after it (decision 0070's "an older schedule never stays in force")."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import orjson

from ingest.maintenance import MaintenanceAnnouncer
from lrs_contracts.operations import MaintenanceScheduleChanged

SCHEDULE_ID = uuid.uuid4()


class StoreChangedMeanwhile:
    """The stored schedule's versions, one a read: another instance changed it while the first was sent."""

    def __init__(self, versions: Sequence[int]) -> None:
        self._versions = list(versions)

    async def schedule(self) -> MaintenanceScheduleChanged:
        version = self._versions.pop(0) if len(self._versions) > 1 else self._versions[0]
        return MaintenanceScheduleChanged(schedule_id=SCHEDULE_ID, version=version)


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def publish(self, topic: str, key: bytes, values: list[bytes]) -> None:
        [value] = values
        self.sent.append(orjson.loads(value)["data"]["version"])


def _announcer(store: StoreChangedMeanwhile, publisher: RecordingPublisher) -> MaintenanceAnnouncer:
    return MaintenanceAnnouncer(store, publisher, "lrs.operations.maintenance.v1")  # type: ignore[arg-type]


async def test_a_schedule_stored_while_an_older_one_was_sent_is_sent_after_it() -> None:
    publisher = RecordingPublisher()
    assert await _announcer(StoreChangedMeanwhile([4, 5]), publisher).announce()
    assert publisher.sent == [4, 5]


async def test_an_unchanged_schedule_is_sent_once() -> None:
    publisher = RecordingPublisher()
    assert await _announcer(StoreChangedMeanwhile([4]), publisher).announce()
    assert publisher.sent == [4]
