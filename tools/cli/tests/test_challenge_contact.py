"""`lrs challenges contact`: "has none" only where it is true, the caller's own AO (or an operator's read); another
AO's contact is not theirs to see or set, whether or not it exists (offline, against a notifier that answers as the
real one does)."""

from __future__ import annotations

import httpx
import pytest

from lrs_cli.challenge_commands import NO_CONTACT, challenge_contact, waiting_for_contacts, waiting_rows
from lrs_cli.client import CommandError

OWN = "RN9037"
NOTHING_NEW = {"given_name": None, "family_name": None, "telephone": None, "email": None}


class _Notifier:
    """The notifier for an AO key of RN9037, holding no contact for any AO."""

    sandpit = False

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "notifier"
        return httpx.Client(base_url="http://notifier", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        if request.url.path != f"/v1/ao/{OWN}/challenge-contact":
            detail = "An awarding organisation sees and sets only its own challenge contact."
            return httpx.Response(403, json={"title": "Forbidden", "detail": detail, "code": "FORBIDDEN"})
        return httpx.Response(404, json={"title": "Not found", "detail": "No challenge contact for this AO."})


def test_another_aos_contact_is_said_to_be_not_the_callers_not_missing() -> None:
    with pytest.raises(CommandError) as refused:
        challenge_contact(_Notifier(), "RN9093", NOTHING_NEW)  # type: ignore[arg-type]

    assert (
        str(refused.value)
        == "HTTP 403: Forbidden: an awarding organisation sees and sets only its own challenge contact."
    )
    assert "no challenge contact" not in str(refused.value)


def test_the_callers_own_ao_without_a_contact_is_told_how_to_set_one() -> None:
    with pytest.raises(CommandError) as missing:
        challenge_contact(_Notifier(), OWN, NOTHING_NEW)  # type: ignore[arg-type]

    assert str(missing.value).startswith(
        f"{OWN} has no challenge contact: challenges against its achievements wait, emailed to nobody until one is set"
    )
    assert "Set one with --given-name" in str(missing.value)


class _OperatorsNotifier:
    """The notifier's list of AOs whose challenge emails wait for a contact (decision 0155)."""

    sandpit = False
    WAITING = [{"ao_id": "RN9008", "notices": 1204, "waiting_since": "2026-11-30T09:15:42.123456Z"}]

    def client(self, service: str, timeout: float = 60.0) -> httpx.Client:
        assert service == "notifier"
        return httpx.Client(base_url="http://notifier", transport=httpx.MockTransport(self._answer))

    def _answer(self, request: httpx.Request) -> httpx.Response:
        assert (request.method, request.url.path) == ("GET", "/v1/challenge-contacts/missing")
        return httpx.Response(200, json=self.WAITING)


def test_the_aos_whose_challenge_emails_wait_for_a_contact_are_listed_with_how_many_and_since_when() -> None:
    waiting = waiting_for_contacts(_OperatorsNotifier())  # type: ignore[arg-type]

    assert waiting_rows(waiting) == [("RN9008", "1,204", "30 Nov 2026, 09:15", NO_CONTACT)]


def test_the_sandpit_has_no_challenge_emails_to_wait() -> None:
    class Sandpit(_OperatorsNotifier):
        sandpit = True

    with pytest.raises(CommandError, match="the Sandpit has no challenges service"):
        waiting_for_contacts(Sandpit())  # type: ignore[arg-type]
