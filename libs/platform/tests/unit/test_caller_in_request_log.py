"""A request's log line says which key called and of what kind of caller, or why it was refused: an operator can
follow a revoked key still in use, or one caller's requests, with no secret and no personal data in the log."""

from __future__ import annotations

import httpx
import pytest
import structlog
from libs.platform.tests.unit.test_identity_environments import KEY_ID, SECRET, OneKeyPool

from lrs_contracts.environments import Environment
from lrs_platform.authentication import CurrentPrincipal
from lrs_platform.credential_store import CredentialStore, key_id_of
from lrs_platform.http import build_app, noop_lifespan


def _client() -> httpx.AsyncClient:
    app = build_app("test", title="Test", description="", lifespan=noop_lifespan)
    app.state.credentials = CredentialStore(OneKeyPool(), environment=Environment.LIVE)

    @app.get("/whoami")
    async def whoami(principal: CurrentPrincipal) -> dict[str, str]:
        return {"principal": str(principal)}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


@pytest.mark.parametrize(
    ("authorization", "seen"),
    [
        (f"Bearer lrs_{KEY_ID}_{SECRET}", {"key_id": KEY_ID, "caller": "ao"}),
        (f"Bearer lrs_{KEY_ID}_wrong", {"key_id": KEY_ID, "refused": "key_not_accepted"}),
        ("Bearer lrs_feedbeeffeedbeef_s3cret", {"key_id": "feedbeeffeedbeef", "refused": "key_not_accepted"}),
        (f"Bearer lrs_sbx_{KEY_ID}_{SECRET}", {"key_id": KEY_ID, "refused": "other_environment"}),
        ("Bearer garbage", {"key_id": "not_ours", "refused": "key_not_accepted"}),
        ("Basic dXNlcjpwYXNz", {"refused": "no_key"}),
    ],
)
async def test_the_log_line_names_the_key_and_the_caller_or_why_it_was_refused(
    authorization: str, seen: dict[str, str]
) -> None:
    async with _client() as client:
        with structlog.testing.capture_logs() as logs:
            await client.get("/whoami", headers={"Authorization": authorization})

    [line] = [entry for entry in logs if entry["event"] == "http_request"]
    assert {key: line[key] for key in ("key_id", "caller", "refused") if key in line} == seen
    assert SECRET not in str(line) and "wrong" not in str(line)


@pytest.mark.parametrize("token", ["lrs_<script>_x", "lrs_1000000043_y", "lrs_feedbeef_y", "lrs_", "nothing"])
def test_only_a_key_id_shaped_as_ours_is_named(token: str) -> None:
    assert key_id_of(token) is None
