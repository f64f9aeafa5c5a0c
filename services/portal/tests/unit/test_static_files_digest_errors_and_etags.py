"""The static files' version, errors and validators (review 2 of session 61, findings 2, 3, 8b and 8c). Their
version's digest changes with any byte of any file, and is taken as the portal starts, not as its module is imported.
An error under /static/ is kept by no cache and is nobody's page (no session read, no CSRF token in it, though the
browser sends its cookie). A gzipped file has an ETag of its own (weak: its bytes are not the file's), and a 304 says
Vary: Accept-Encoding as the 200 did."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest
from services.portal.tests.unit.stubbed_portal import StubbedPortal, stubbed_portal

from portal import bootstrap

STATIC = Path(str(resources.files("portal").joinpath("static")))


@pytest.fixture
def portal() -> StubbedPortal:
    return stubbed_portal()


def test_the_static_version_changes_with_one_byte_of_one_file(tmp_path: Path) -> None:
    copy = tmp_path / "static"
    shutil.copytree(STATIC, copy)
    before = bootstrap._static_version(copy)
    style = copy / "portal.css"
    content = bytearray(style.read_bytes())
    content[len(content) // 2] ^= 0x01

    assert bootstrap._static_version(copy) == before  # the same files: the same version, on every replica
    style.write_bytes(bytes(content))
    assert bootstrap._static_version(copy) != before
    assert len(bootstrap._static_version(copy)) == 12


def test_the_static_version_is_taken_as_the_portal_starts(
    portal: StubbedPortal, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not as its module is imported: a portal started again on edited files (`make up`) names them anew."""
    assert portal.app.state.static_root == f"/static/v/{bootstrap._static_version(STATIC)}"
    monkeypatch.setattr(bootstrap, "_static_version", lambda _: "0123456789ab")

    started = stubbed_portal()
    page = started.client().get("/sign-in")
    style = started.client().get("/static/v/0123456789ab/portal.css")

    assert started.app.state.static_root == "/static/v/0123456789ab"
    assert 'href="/static/v/0123456789ab/portal.css"' in page.text
    assert style.headers["cache-control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/static/v/x/nope.css", "/static/nope.css", "/static/vendor/nope.js"])
def test_an_error_under_static_is_kept_by_no_cache_and_is_nobodys_page(portal: StubbedPortal, path: str) -> None:
    client, session = portal.signed_in()

    missing = client.get(path, headers={"Accept-Encoding": "gzip"})

    assert missing.status_code == 404
    assert missing.headers["cache-control"] == "no-store"
    assert "Page not found" in missing.text
    assert "Signed in as" not in missing.text and session.csrf_token not in missing.text
    assert client.get("/account/password").status_code == 200  # the session is still there for the pages


def test_a_gzipped_file_has_its_own_etag_and_a_304_varies_as_the_200(portal: StubbedPortal) -> None:
    client = portal.client()
    address = f"{portal.app.state.static_root}/portal.css"

    gzipped = client.get(address, headers={"Accept-Encoding": "gzip"})
    plain = client.get(address, headers={"Accept-Encoding": "identity"})
    gzipped_again = client.get(address, headers={"Accept-Encoding": "gzip", "If-None-Match": gzipped.headers["etag"]})
    plain_again = client.get(address, headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]})

    assert gzipped.headers["content-encoding"] == "gzip" and "content-encoding" not in plain.headers
    assert gzipped.headers["etag"] == f"W/{plain.headers['etag']}"
    assert not plain.headers["etag"].startswith("W/")
    assert gzipped.headers["vary"] == "Accept-Encoding"
    assert gzipped_again.status_code == 304
    assert gzipped_again.headers["etag"] == gzipped.headers["etag"]
    assert gzipped_again.headers["vary"] == "Accept-Encoding"
    assert plain_again.status_code == 304
    assert plain_again.headers["etag"] == plain.headers["etag"]
    assert plain_again.headers["vary"] == "Accept-Encoding"
    assert gzipped_again.headers["cache-control"] == "public, max-age=31536000, immutable"
