"""The Sandpit's notifier keeps no challenge contact (`live_only`): its OpenAPI document does not offer the routes
that would only answer 403 there, while live's does."""

from __future__ import annotations

from notifier.bootstrap import create_app
from notifier.config import NotifierSettings

CONTACT_ROUTES = {"/v1/ao/{ao_id}/challenge-contact", "/v1/challenge-contacts/missing"}


def _paths(settings: NotifierSettings) -> set[str]:
    return set(create_app(settings).openapi()["paths"])


def test_the_sandpits_document_names_no_challenge_contact_route() -> None:
    live = _paths(NotifierSettings())
    sandpit = _paths(NotifierSettings(LRS_ENVIRONMENT="sandpit", DATABASE_URL="postgresql://127.0.0.1/lrs_sandpit"))

    assert live >= CONTACT_ROUTES
    assert not {path for path in sandpit if "challenge-contact" in path}
    assert sandpit == {path for path in live if "challenge-contact" not in path}
