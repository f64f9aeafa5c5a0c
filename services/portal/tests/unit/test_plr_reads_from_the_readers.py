"""The portal reads learners' records from the PLR's readers when it is given their URL (`LRS_PLR_READER_URL`), so a
page's reads of a large PLR never hold up the projection of every AO's results; operator actions stay with the
projector that writes. Without it (`make up`) both go to the projector."""

from __future__ import annotations

import uuid

import httpx
import pytest

from portal.backend import Services
from portal.config import PortalSettings

ULN = "1000000043"


def _calls(reader_url: str | None, monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], Services]:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.url.host} {request.url.path}")
        if request.url.path == "/v1/admin/projector":
            return httpx.Response(200, json={})
        return httpx.Response(200, json={"achievements": [], "consistency": {}})

    monkeypatch.setenv("LRS_PLR_PROJECTOR_URL", "http://plr-projector")
    if reader_url is None:
        monkeypatch.delenv("LRS_PLR_READER_URL", raising=False)
    else:
        monkeypatch.setenv("LRS_PLR_READER_URL", reader_url)
    settings = PortalSettings()
    client = httpx.AsyncClient(transport=httpx.MockTransport(answer))
    return seen, Services.live(settings, client)


@pytest.mark.parametrize(("reader_url", "reads_from"), [("http://plr-reader", "plr-reader"), (None, "plr-projector")])
async def test_reads_go_to_the_readers_and_operator_actions_to_the_projector(
    reader_url: str | None, reads_from: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen, services = _calls(reader_url, monkeypatch)
    calls = services.as_principal("lrs_k_s")

    await calls.operator_plr(ULN)
    await calls.ao_achievements(ULN)
    await calls.batch_on_the_plr(uuid.uuid4(), wait_ms=10)
    await calls.projector_status()

    assert [call.split()[0] for call in seen] == [reads_from] * 3 + ["plr-projector"]
