"""A password chosen by its person holds none of their own words (NCSC, NIST SP 800-63B: refuse the words specific
to the service and the user): no word of it (a run of letters, in any case) is or holds their username or a part
of their name of four letters or more, or is a part of three letters; it does not hold their AO's recognition number;
it is not their AO's name or words of it alone, and does not hold that name whole (a name of three letters only as a
word). A passphrase whose words only share letters with them ("spam yogurt" for Amy) is taken. The obvious guesses
are refused with the common words (the season and year, "P@ssw0rd", the service's own names, a run of the alphabet).
Said in plain words, through a forgotten-password (or first-password) link and on the change-password page alike."""

from __future__ import annotations

import asyncio
import re
from html import unescape

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from services.portal.tests.unit.stubbed_portal import RESET_LINKS, StubbedPortal, form, stubbed_portal

from portal.accounts import Account, InvalidAccount, PasswordOwner, Role, check_new_password
from portal.csrf import FIELD

VICTIM = PasswordOwner("victim.lock", "Victim Lock", "RN9093", None)
AO_DEMO = PasswordOwner("ao.demo", "Demo User", "RN9093", None)
SIAN = PasswordOwner("sian.jones", "Siân Jones-Pryce", None, None)
PEARSON = PasswordOwner("kim.b", "Kim B", "RN9099", "Pearson Education Ltd")
GUILDS = PasswordOwner("kim.b", "Kim B", "RN9037", "City and Guilds of London Institute")
AMY = PasswordOwner("amy.lee", "Amy Lee", "RN9093", "Pearson Education Ltd")
IAN = PasswordOwner("ian.roe", "Ian Roe", None, None)
OPS = PasswordOwner("ops2", "Operations Desk", None, None)
OCR = PasswordOwner("kim.b", "Kim B", "RN9088", "OCR")
ABE = PasswordOwner("kim.b", "Kim B", "RN9002", "ABE")
LINK = re.compile(re.escape(RESET_LINKS.public_url) + r"/account/reset/([A-Za-z0-9_-]+)")


@pytest.mark.parametrize(
    ("owner", "password"),
    [
        (VICTIM, "victim.lock2026"),
        (VICTIM, "VICTIM-horse-battery"),
        (VICTIM, "padlock & key 2026"),  # "lock", inside another word
        (AO_DEMO, "ao.demo12345"),
        (AO_DEMO, "my demonstration key"),
        (SIAN, "Siân-Jones-1990!"),
        (SIAN, "pryce is right 99"),
        (PEARSON, "Pearson2026!"),
        (PEARSON, "rn9099 horse battery"),
        (GUILDS, "CityAndGuilds1!"),
        (GUILDS, "city & guilds 2026"),
        (GUILDS, "London 2026 !!!"),
        (GUILDS, "City and Guilds of London Institute 1"),  # the whole name, among other words
        (PEARSON, "Pearson Education Ltd rocks"),
        (PEARSON, "mypearsoneducationltd!"),
        (AMY, "amylee123456"),  # the username's letters, inside a word
        (AMY, "Amy's horse battery"),  # a part of three letters, as a word
        (AMY, "battery LEE 2026 horse"),
        (AO_DEMO, "myaodemo-2026"),
        (IAN, "ianroe-horse-2026"),
        (IAN, "Ian pedestrian heroes"),
        (OPS, "ops banana cloud lantern"),
        (OPS, "cloud operations lantern"),
        (OCR, "OCR2026!!!!!"),  # the AO's name as the whole password
        (OCR, "photo ocr marble lamp"),  # a name of three letters, as a word
        (ABE, "label ABE purple owl"),
    ],
)
def test_a_password_holding_the_persons_own_words_is_refused(owner: PasswordOwner, password: str) -> None:
    with pytest.raises(InvalidAccount) as refused:
        check_new_password(password, owner=owner)

    said = str(refused.value)
    assert said.startswith("A password must not contain your username or name")
    assert ("organisation's name or number" in said) == (owner.ao_id is not None)


@pytest.mark.parametrize(
    ("owner", "password"),
    [
        (VICTIM, "correct horse battery staple"),
        (AO_DEMO, "ao pen ink 123456"),  # "ao" alone is too short to be theirs
        (SIAN, "jon's horse battery"),
        (GUILDS, "electricity horse battery"),  # "city", but not as the AO's name
        (PEARSON, "educational horse battery"),
        (PEARSON, "Pearson horse battery"),  # a word of the AO's name, but not alone nor the whole name
        (AMY, "spam yogurt kettle river"),  # "amy", but inside a word: a part of three letters is matched as a word
        (AMY, "sleeve tractor harbour"),  # "lee"
        (AMY, "am yellow kettle river"),  # "amy" only across words
        (IAN, "giant pedestrian heroes"),  # "ian" and "roe", inside words
        (OPS, "stops banana cloud lantern"),  # "ops"
        (OCR, "photo crane marble lamp"),  # "ocr" only across words
        (OCR, "democracy is lovely"),
        (ABE, "label maker purple owl"),
        (ABE, "alphabet soup river"),
    ],
)
def test_a_password_that_only_shares_letters_with_them_is_taken(owner: PasswordOwner, password: str) -> None:
    check_new_password(password, owner=owner)


@pytest.mark.parametrize(
    "password", ["Summer2026!!", "2026winter!!", "P@ssw0rd2026", "abcdefghijkl", "lrs123456789", "Portal2026!!"]
)
def test_the_obvious_guesses_are_refused_as_common(password: str) -> None:
    with pytest.raises(InvalidAccount, match="among the first an attacker tries"):
        check_new_password(password)


def test_a_generated_password_is_checked_without_the_persons_words() -> None:
    """An operator's reset generates the password (nobody chose it): its letters may hold "lock" by chance."""
    check_new_password("qf3lock7-df6vv-mwx46")


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal(sends_reset_links=True)


def _form_token(page: Response) -> str:
    found = re.search(rf'name="{FIELD}" value="([^"]+)"', page.text)
    assert found, "the page has no form token"
    return found.group(1)


def _choose_by_link(portal: StubbedPortal, client: TestClient, username: str, new: str) -> Response:
    token = _form_token(client.get("/account/forgotten-password"))
    client.post("/account/forgotten-password", data={FIELD: token, "username": username})
    found = LINK.search(portal.mailer.sent[-1].get_content())
    assert found, "no link was emailed"
    link = found.group(1)
    page = client.get(f"/account/reset/{link}")
    assert "without your username or name in it, or your organisation's name or number." in unescape(page.text)
    values = {FIELD: _form_token(page), "new_password": new, "new_password_again": new}
    answer: Response = client.post(f"/account/reset/{link}", data=values)
    return answer


def test_a_link_will_not_set_a_password_holding_the_username(portal: StubbedPortal) -> None:
    portal.account("victim.lock", email="victim@ao.example")

    refused = _choose_by_link(portal, portal.client(), "victim.lock", "victim.lock2026")

    assert refused.status_code == 400
    assert "A password must not contain your username or name" in refused.text
    assert asyncio.run(portal.auth.sign_in("victim.lock", "victim.lock2026")).session is None


def test_the_change_password_page_will_not_take_one_holding_the_name(portal: StubbedPortal) -> None:
    account, password = portal.account("nia.jones", Role.AO)
    session = asyncio.run(portal.auth.sign_in(account.username, password)).session
    assert session is not None
    client = portal.client()
    client.cookies.set(portal.cookies.session_cookie, session.token)
    hint = unescape(client.get("/account/password").text)
    assert "without your username or name in it, or your organisation's name or number." in hint
    values = {
        "current_password": password,
        "new_password": "Jones family 2026",
        "new_password_again": "Jones family 2026",
    }

    refused = client.post("/account/password", data=form(session, **values))

    assert refused.status_code == 400
    assert "A password must not contain your username or name, or your organisation" in refused.text
    assert asyncio.run(portal.auth.sign_in(account.username, "Jones family 2026")).session is None


def test_an_operators_hint_names_no_organisation(portal: StubbedPortal) -> None:
    """An operator belongs to no AO: their password's hint speaks of their username and name only."""
    client, _ = portal.signed_in(Role.OPERATOR)

    hint = unescape(client.get("/account/password").text)

    assert "without your username or name in it. A few unrelated words make a good one." in hint
    assert "organisation's name" not in hint


def test_the_aos_name_comes_from_the_register(portal: StubbedPortal) -> None:
    """The portal's register names the AO (bootstrap gives Authentication the register itself)."""
    from lrs_domain.reference_files import load_register

    register = load_register()
    ao_id, organisation = next(iter(register.items()))
    auth = portal.auth
    auth._register = register  # as bootstrap builds it: the register's AOs with their names
    account = Account("kim.b", "Kim B", Role.AO, ao_id)

    owner = auth._password_owner(account)

    assert owner == PasswordOwner("kim.b", "Kim B", ao_id, organisation.name)
