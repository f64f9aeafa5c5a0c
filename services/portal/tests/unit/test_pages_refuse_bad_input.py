"""Bad input at the portal's door: a NUL or another control character never reaches PostgreSQL or a header
sent to a service; the person gets the page's own error instead. The web layer runs with stubbed backends."""

from __future__ import annotations

import html
import json
import uuid
from pathlib import Path

import httpx
import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, form, problem, stubbed_portal

from lrs_contracts.environments import Environment
from lrs_platform.identity import Principal
from portal.accounts import Role
from portal.auth import utc_now
from portal.store import PendingUpload

ROOT = Path(__file__).resolve().parents[4]
SAMPLE = (ROOT / "samples" / "sample-100.csv").read_bytes()


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def error_text(html: str) -> str:
    return html.split('class="govuk-error-summary"', 1)[1] if 'class="govuk-error-summary"' in html else ""


# --- sign-in -------------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice\x00", "al\x01ice", "alice\nbob", "a"])
def test_a_username_no_account_can_have_gets_the_usual_sign_in_error(portal: StubbedPortal, username: str) -> None:
    client = portal.client()
    client.cookies.set(portal.cookies.sign_in_cookie, "form-token")

    answer = client.post("/sign-in", data={"username": username, "password": "whatever", "csrf_token": "form-token"})

    assert answer.status_code == 400
    assert "The username or password is not right" in error_text(answer.text)


# --- operators' accounts and keys ----------------------------------------------------------------


@pytest.mark.parametrize(("name", "value"), [("display_name", "Nia\x00"), ("email", "nia\x00@ao.example")])
def test_an_account_with_a_control_character_in_its_name_or_email_is_refused_on_that_field(
    portal: StubbedPortal, name: str, value: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    values = {"username": "nia.example", "display_name": "Nia", "role": "ao", "ao_id": "RN5133", "email": ""}

    answer = client.post("/ops/accounts", data=form(operator, **{**values, name: value}))

    assert answer.status_code == 400
    assert f'href="#{name}">' in error_text(answer.text)
    assert "U+0000" in error_text(answer.text)
    assert "nia.example" not in portal.accounts.rows


@pytest.mark.parametrize("action", ["disable", "reset-password"])
def test_an_account_action_on_a_username_no_account_can_have_is_page_not_found(
    portal: StubbedPortal, action: str
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post(f"/ops/accounts/%00x/{action}", data=form(operator))

    assert answer.status_code == 404
    assert "Page not found" in answer.text


def test_revoking_a_key_id_holding_a_control_character_is_page_not_found(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)

    answer = client.post("/ops/keys/%00/revoke", data=form(operator))

    assert answer.status_code == 404


def test_a_key_label_with_a_control_character_is_refused_on_the_label(portal: StubbedPortal) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    keys_before = set(portal.keys.live)

    answer = client.post("/ops/keys", data=form(operator, key_ao_id="RN5133", label="results\x00system"))

    assert answer.status_code == 400
    assert 'href="#label">The label holds the control character U+0000' in error_text(answer.text)
    assert set(portal.keys.live) == keys_before


def test_an_erasure_reason_with_a_control_character_is_refused_before_validation_is_asked(
    portal: StubbedPortal,
) -> None:
    client, operator = portal.signed_in(Role.OPERATOR)
    portal.on("GET", "validation/v1/admin/erasures", lambda _: httpx.Response(200, json={"erasures": [], "next": None}))

    answer = client.post("/ops/erasures", data=form(operator, uln="1000000043", reason="asked\x00by them"))

    assert answer.status_code == 400
    assert "The reason holds the control character U+0000" in answer.text
    assert not portal.sent_to("POST", "validation/v1/admin/learners/1000000043/erasure")


# --- the admin API -------------------------------------------------------------------------------


class OperatorKeys:
    """The admin API's credentials: every key is an operator's."""

    environment = Environment.LIVE

    async def authenticate(self, token: str) -> Principal:
        return Principal.parse("operator:ops")


@pytest.mark.parametrize("path", ["/v1/admin/users/%00x/disable", "/v1/admin/users/x%0A/reset-password"])
def test_the_admin_api_answers_422_for_a_username_no_account_can_have(portal: StubbedPortal, path: str) -> None:
    portal.app.state.credentials = OperatorKeys()

    answer = portal.client().post(path, headers={"Authorization": "Bearer lrs_k_s"})

    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("name", ["username", "display_name", "email"])
def test_the_admin_api_refuses_a_new_account_with_a_control_character(portal: StubbedPortal, name: str) -> None:
    portal.app.state.credentials = OperatorKeys()
    body = {"username": "nia.example", "display_name": "Nia", "role": "ao", "ao_id": "RN5133", "email": None}

    answer = portal.client().post(
        "/v1/admin/users", json={**body, name: "ni\x00a@ao.example"}, headers={"Authorization": "Bearer lrs_k_s"}
    )

    assert answer.status_code == 422
    assert name in answer.json()["detail"]
    assert portal.accounts.rows.keys() == set()


# --- uploads and direct entry --------------------------------------------------------------------


def upload(fields: dict[str, str], filename: str, content_type: str, content: bytes) -> tuple[bytes, str]:
    """A multipart body written byte by byte, as a hand-made client may send it: the part's headers raw
    (httpx would escape a control character in the file name)."""
    boundary = "portal-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    ]
    file_headers = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="batch_file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    )
    body = b"".join(parts) + file_headers.encode("latin-1") + content + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_file_name_holding_a_control_character_is_refused_on_the_upload_page(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body, content_type = upload(form(person), "sample\x00.csv", "text/csv", SAMPLE)

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert answer.status_code == 400
    assert "The file name holds the control character U+0000 at character 7" in answer.text
    assert portal.uploads.kept == {}


@pytest.mark.parametrize("characters", [256, 5_000])
def test_a_file_name_too_long_to_keep_is_said_to_be_so_on_the_upload_page(
    portal: StubbedPortal, characters: int
) -> None:
    client, person = portal.signed_in()
    # 5,000 characters pass the multipart parser's 4 KB a part header: refused by the parser, not by the page
    body, content_type = upload(form(person), "a" * (characters - 4) + ".csv", "text/csv", SAMPLE)

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert answer.status_code == 400
    assert "The file name is longer than 255 characters: rename the file and upload it again" in answer.text
    assert portal.uploads.kept == {}


def test_only_a_content_type_the_portal_knows_is_kept_and_sent_on(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    batch_id = str(uuid.uuid4())
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": batch_id}))
    body, content_type = upload(form(person), "sample.csv", "text/csv\xe9", SAMPLE)

    checked = client.post("/batches/check", content=body, headers={"Content-Type": content_type})
    ((upload_id, kept),) = portal.uploads.kept.items()
    submitted = client.post("/batches/submit", data=form(person, upload_id=str(upload_id), upload_key="key"))

    assert checked.status_code == 200
    assert kept.content_type == "text/csv"
    assert submitted.status_code == 303
    (sent,) = portal.sent_to("POST", "ingest/v1/batches")
    assert sent.headers["content-type"] == "text/csv"


def test_an_upload_kept_with_a_type_the_portal_does_not_know_is_sent_as_octet_stream(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": str(uuid.uuid4())}))
    upload_id = uuid.uuid4()
    portal.uploads.kept[upload_id] = PendingUpload(upload_id, "s.csv", "text/csv\x01", SAMPLE, utc_now())

    submitted = client.post("/batches/submit", data=form(person, upload_id=str(upload_id), upload_key="key"))

    assert submitted.status_code == 303
    (sent,) = portal.sent_to("POST", "ingest/v1/batches")
    assert sent.headers["content-type"] == "application/octet-stream"


ENTRY = {
    "action": "Create",
    "job_type": "Final",
    "uln": "1000000043",
    "given_name": "Lily",
    "family_name": "McCarthy",
    "qualification_number": "500/0002/0",
    "award_date": "2021-06-30",
    "grade": "Distinction",
    "notification_email": "results@ao.example",
}


@pytest.mark.parametrize("entry_id", ["not-a-uuid", "0b6f3c1e-8f4a-4d52-9a0e-2f9c6a1d7e3\xe9", "a b"])
def test_a_direct_entry_whose_entry_id_is_not_a_uuid_is_refused_and_nothing_is_sent(
    portal: StubbedPortal, entry_id: str
) -> None:
    client, person = portal.signed_in()

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert answer.status_code == 400
    assert "The form could not be accepted" in answer.text
    assert not portal.sent_to("POST", "ingest/v1/batches")


def test_a_direct_entry_with_a_uuid_is_sent_under_its_idempotency_key(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    entry_id = str(uuid.uuid4())
    portal.on("POST", "ingest/v1/batches", lambda _: httpx.Response(202, json={"batch_id": str(uuid.uuid4())}))

    answer = client.post("/direct-entry", data=form(person, **ENTRY, entry_id=entry_id))

    assert answer.status_code == 303
    (sent,) = portal.sent_to("POST", "ingest/v1/batches")
    assert sent.headers["idempotency-key"] == f"portal-entry-{entry_id}"


def test_a_direct_entry_value_with_a_control_character_is_an_error_on_its_field(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()

    answer = client.post(
        "/direct-entry", data=form(person, **{**ENTRY, "given_name": "Li\x00ly"}, entry_id=str(uuid.uuid4()))
    )

    assert answer.status_code == 400
    assert 'href="#given_name">The value holds the control character U+0000 at character 3' in error_text(answer.text)
    assert not portal.sent_to("POST", "ingest/v1/batches")


# --- challenges, the challenge contact, learners -------------------------------------------------

CHALLENGE_ID = uuid.UUID("5d3f1a2b-0c4e-4f6a-9b8c-7d6e5f4a3b2c")
LISTED = str(uuid.uuid4())


def challenge(state: str = "acknowledged") -> dict[str, object]:
    return {
        "challenge_id": str(CHALLENGE_ID),
        "achievement_id": str(uuid.uuid4()),
        "ao_id": "RN9093",
        "uln": "1000000043",
        "reason": "The grade is wrong.",
        "state": state,
        "raised_at": "2026-11-30T10:00:00Z",
        "acknowledged_at": None,
        "resolved_at": None,
        "resolution": None,
        "note": None,
    }


def batch(batch_id: str, received_at: str = "2026-11-30T11:00:00Z") -> dict[str, object]:
    """A completed batch, sent after the challenge was raised unless `received_at` says otherwise."""
    return {
        "batch_id": batch_id,
        "status": "completed",
        "batch_reference": "REF",
        "received_at": received_at,
        "decided_at": "2026-11-30T11:00:05Z",
    }


def with_a_challenge(portal: StubbedPortal) -> None:
    """The challenge, and the AO's one completed batch that corrected it: the challenges service takes no other."""
    portal.on("GET", f"challenges/v1/challenges/{CHALLENGE_ID}", lambda _: httpx.Response(200, json=challenge()))
    listed = {"items": [batch(LISTED)], "total": 1, "page": 1, "page_size": 50}
    portal.on("GET", "ingest/v1/batches", lambda _: httpx.Response(200, json=listed))
    correcting = {"items": [{"batch_id": LISTED, "decided_at": "2026-11-30T11:00:05Z"}]}
    portal.on(
        "GET",
        f"challenges/v1/challenges/{CHALLENGE_ID}/correcting-batches",
        lambda _: httpx.Response(200, json=correcting),
    )

    def resolve(request: httpx.Request) -> httpx.Response:
        sent = json.loads(request.content)
        named = sent.get("correcting_batch_id")
        if sent.get("resolution") in ("upheld", "rejected") and not (sent.get("note") or "").strip("\u200b "):
            return problem(422, "Resolution note required", code="RESOLUTION_NOTE_REQUIRED")
        if named not in (None, LISTED):
            return problem(
                422,
                "That batch is not one of yours that was completed with an accepted record of this learner's achievement",
                code="CORRECTING_BATCH_DOES_NOT_FIT",
                reason="not_for_this_achievement",
            )
        return httpx.Response(200, json={})

    portal.on("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve", resolve)


@pytest.mark.parametrize(
    ("chosen", "says"),
    [
        ("made up", "Choose a batch from the list"),
        ("x" * 2_000, "Choose a batch from the list"),
    ],
)
def test_a_correcting_batch_chosen_from_the_list_is_checked_like_a_typed_one(
    portal: StubbedPortal, chosen: str, says: str
) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="corrected", batch_id=chosen)
    )

    assert answer.status_code == 400
    assert f'href="#batch_id">{says}' in error_text(answer.text)
    assert not portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve")


def test_a_correcting_batch_the_challenges_service_refuses_is_an_error_on_its_field(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="corrected", batch_id=str(uuid.uuid4()))
    )

    assert answer.status_code == 400
    assert 'href="#batch_id">That batch is not one of yours that was completed with an accepted record' in error_text(
        answer.text
    )


def test_a_listed_correcting_batch_is_named_as_the_correction_not_in_the_note(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="corrected", batch_id=LISTED.upper())
    )

    assert answer.status_code == 303
    (sent,) = portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve")
    assert json.loads(sent.content) == {
        "resolution": "corrected",
        "note": None,
        "correcting_batch_id": LISTED,
    }


def test_a_resolve_reason_the_service_finds_nothing_visible_in_is_asked_for_again_on_the_reason(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="rejected", reason="\u200b\u200b")
    )

    assert answer.status_code == 400
    assert 'href="#reason">Give the reason, in words the learner will understand' in error_text(answer.text)


def test_a_resolve_reason_with_a_control_character_is_refused_on_the_reason(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    with_a_challenge(portal)

    answer = client.post(
        f"/challenges/{CHALLENGE_ID}/resolve", data=form(person, resolution="upheld", reason="It is\x00right")
    )

    assert answer.status_code == 400
    assert 'href="#reason">The reason holds the control character U+0000' in error_text(answer.text)
    assert not portal.sent_to("POST", f"challenges/v1/challenges/{CHALLENGE_ID}/resolve")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("given_name", "Sam\x00"),
        ("family_name", "Jones\x1b"),
        ("telephone", "01632 960 001\x00"),
        ("email", "sam\x00@ao.example"),
    ],
)
def test_a_challenge_contact_with_a_control_character_is_refused_on_that_field(
    portal: StubbedPortal, name: str, value: str
) -> None:
    client, person = portal.signed_in()
    contact = {"given_name": "Sam", "family_name": "Jones", "telephone": "01632 960 001", "email": "sam@ao.example"}

    answer = client.post("/contact", data=form(person, **{**contact, name: value}))

    assert answer.status_code == 400
    assert f'href="#{name}">This holds the control character' in error_text(answer.text)
    assert not portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")


def test_a_ten_digit_uln_starting_with_0_is_a_field_error_on_the_learners_page(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()

    answer = client.post("/learners", data=form(person, uln="0123456789"))

    assert answer.status_code == 400
    assert 'href="#uln">Enter a ULN of 10 digits, the first not 0' in error_text(answer.text)
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


@pytest.mark.parametrize(("uln", "code"), [("1000000042", "RV002"), ("1000000063", "RV002"), ("9999999999", "RV003")])
def test_a_uln_no_learner_can_have_is_a_field_error_in_the_rules_words_before_the_projector_is_asked(
    portal: StubbedPortal, uln: str, code: str
) -> None:
    client, person = portal.signed_in()

    answer = client.post("/learners", data=form(person, uln=uln))

    assert answer.status_code == 400
    assert f"({code})" in error_text(answer.text).split('href="#uln">', 1)[1].split("</a>", 1)[0]
    assert "You have recorded no achievement" not in answer.text
    assert not portal.sent_to("GET", "plr-projector/v1/ao/achievements")


def test_a_refused_file_is_explained_once_in_one_sentence(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body, content_type = upload(form(person), "notes.txt", "text/plain", b"not a batch")

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert "The file is malformed: it is not a batch file (CSV, XML or JSON text)." in answer.text
    assert "name it .csv" not in answer.text  # renaming a picture would not make it a batch
    assert "<title>Error: Check of notes.txt \u2013" in answer.text


@pytest.mark.parametrize(
    "raw", [b"given_name=Sa%ff%femm", b"given_name=Sa%C3mm", b"given_name=Sa\xc3\xa9mm"], ids=["ff", "cut", "raw"]
)
def test_a_form_whose_bytes_are_not_utf8_text_is_refused_not_stored_with_replacement_characters(
    portal: StubbedPortal, raw: bytes
) -> None:
    client, person = portal.signed_in()
    body = (
        raw
        + b"&family_name=Jones&telephone=01632+960+001&email=sam%40ao.example&csrf_token="
        + person.csrf_token.encode()
    )

    answer = client.post("/contact", content=body, headers={"content-type": "application/x-www-form-urlencoded"})

    assert answer.status_code == 400
    assert "not UTF-8 text" in answer.text
    assert not portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")


def multipart(fields: dict[str, bytes]) -> tuple[bytes, str]:
    """A multipart body of text fields whose bytes are exactly `fields`' (a browser sends a field's text as bytes
    without saying how they are encoded)."""
    boundary = "portal-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode() + value + b"\r\n"
        for name, value in fields.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "given_name", [b"Sa\xff\xfem", b"Sa\xed\xa0\x80m", b"Sa\xc3m"], ids=["ff-fe", "surrogate", "cut"]
)
def test_a_multipart_text_field_whose_bytes_are_not_utf8_is_refused_as_a_url_encoded_one_is(
    portal: StubbedPortal, given_name: bytes
) -> None:
    client, person = portal.signed_in()
    contact = {"family_name": b"Jones", "telephone": b"01632 960 001", "email": b"sam@ao.example"}
    body, content_type = multipart({"given_name": given_name, **contact, "csrf_token": person.csrf_token.encode()})

    answer = client.post("/contact", content=body, headers={"content-type": content_type})

    assert answer.status_code == 400
    assert "not UTF-8 text" in answer.text
    assert not portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")


def test_a_multipart_text_field_in_utf8_reaches_the_service_as_typed(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    contact = {
        "given_name": "Siân",
        "family_name": "Ó Súilleabháin",
        "telephone": "01632 960 001",
        "email": "s@ao.example",
    }
    fields = {name: value.encode() for name, value in contact.items()}
    body, content_type = multipart({**fields, "csrf_token": person.csrf_token.encode()})

    client.post("/contact", content=body, headers={"content-type": content_type})

    [sent] = portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")
    assert json.loads(sent.content)["family_name"] == "Ó Súilleabháin"


def test_a_url_encoded_form_is_checked_whatever_the_case_of_its_content_type(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body = b"given_name=Sa%ff%fem&family_name=Jones&telephone=01632+960+001&email=sam%40ao.example&csrf_token="

    answer = client.post(
        "/contact",
        content=body + person.csrf_token.encode(),
        headers={"content-type": "Application/X-WWW-Form-URLEncoded"},
    )

    assert answer.status_code == 400
    assert "not UTF-8 text" in answer.text
    assert not portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")


def test_a_batch_files_bytes_are_its_own_not_held_to_utf8_as_a_text_field_is(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    latin1 = SAMPLE.replace(b"McCarthy", b"M\xe9\xff\xfeCarthy", 1)
    assert b"\xff\xfe" in latin1
    body, content_type = upload(form(person), "sample.csv", "text/csv", latin1)

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert answer.status_code == 200
    assert "not UTF-8 text" not in answer.text and "The form could not be accepted" not in answer.text


def test_a_batch_file_sent_as_a_text_field_larger_than_a_field_takes_is_said_to_be_too_large(
    portal: StubbedPortal,
) -> None:
    client, person = portal.signed_in()
    body, content_type = multipart({"csrf_token": person.csrf_token.encode(), "batch_file": SAMPLE * 200})
    assert len(body) > 1_048_576

    answer = client.post("/batches/check", content=iter([body]), headers={"Content-Type": content_type})

    assert answer.status_code == 413
    assert 'href="#batch_file">The file was sent as text rather than as a file' in error_text(answer.text)
    assert "(at most 6 MB, RS002)" in answer.text
    assert portal.uploads.kept == {}


def test_any_other_field_larger_than_a_field_takes_is_a_form_not_accepted(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body, content_type = multipart({"csrf_token": person.csrf_token.encode(), "notes": b"A" * 1_048_577})

    answer = client.post("/batches/check", content=iter([body]), headers={"Content-Type": content_type})

    assert answer.status_code == 400
    assert "A field of the form is larger than 1,048,576 bytes" in answer.text


def test_a_multipart_body_that_does_not_parse_gets_the_portals_own_page(portal: StubbedPortal) -> None:
    client, _ = portal.signed_in()

    answer = client.post("/batches/check", content=b"--x\r\ngarbage", headers={"content-type": "multipart/form-data"})

    assert answer.status_code == 400
    assert "The form could not be accepted" in answer.text


def test_a_form_in_utf8_reaches_the_service_as_typed(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    contact = {
        "given_name": "Siân",
        "family_name": "Ó Súilleabháin",
        "telephone": "01632 960 001",
        "email": "s@ao.example",
    }

    client.post("/contact", data=form(person, **contact))

    [sent] = portal.sent_to("PUT", "notifier/v1/ao/RN9093/challenge-contact")
    assert (json.loads(sent.content)["given_name"], json.loads(sent.content)["family_name"]) == (
        "Siân",
        "Ó Súilleabháin",
    )


def test_a_file_just_over_6_mb_is_refused_with_its_own_size_not_the_bytes_read(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    size = 6_296_483
    body, content_type = upload(form(person), "big.csv", "text/csv", SAMPLE + b"\r\n" * ((size - len(SAMPLE)) // 2))
    assert len(body) - size < 1_000

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert "RS002" in answer.text
    assert "it is 6,296,483 bytes, and a batch is at most 6,291,456 bytes (6 MB)" in answer.text
    assert "6,291,457" not in answer.text
    assert "Split the file" in answer.text


def test_an_empty_file_is_refused_at_the_field_with_rs001_as_ingest_refuses_it(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body, content_type = upload(form(person), "empty.csv", "text/csv", b"")

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    assert answer.status_code == 400
    assert 'href="#batch_file">The selected file is empty (RS001)' in error_text(answer.text)


def test_a_refusal_without_a_line_gets_no_advice_about_its_line_and_column(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    body, content_type = upload(form(person), "notes.txt", "text/plain", b"not a batch")

    wrong_type = client.post("/batches/check", content=body, headers={"Content-Type": content_type}).text
    body, content_type = upload(form(person), "semicolons.csv", "text/csv", SAMPLE.replace(b",", b";", 5))
    on_a_line = client.post("/batches/check", content=body, headers={"Content-Type": content_type}).text

    assert "RS001" in wrong_type and "line and column" not in wrong_type and "Check the file against" in wrong_type
    assert "(line 1)." in on_a_line and "The line or record in the message points at the first fault." in on_a_line


def test_a_json_file_refused_for_a_records_key_names_the_record_not_a_line(portal: StubbedPortal) -> None:
    client, person = portal.signed_in()
    batch = {
        "header": {"awardingOrganisation": "RN9093", "notificationEmail": "r@ao.example", "jobType": "Final"},
        "records": [{"uln": "1000000043", "centreName": "x"}],
    }
    body, content_type = upload(form(person), "unk.json", "application/json", json.dumps(batch).encode())

    answer = client.post("/batches/check", content=body, headers={"Content-Type": content_type})

    shown = html.unescape(answer.text)
    assert "record 1 has" in shown and "(line 1)" not in shown, shown[:3000]
    assert "(record 1)" not in shown  # the detail names the record: said once
