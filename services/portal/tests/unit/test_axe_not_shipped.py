"""axe-core is test-only (the browser tests inject it): it is not package data of the portal, so no image ships it
and /static never serves it, while the portal's own assets are still served."""

from __future__ import annotations

from pathlib import Path

from services.portal.tests.unit.stubbed_portal import stubbed_portal

import portal

STATIC = Path(portal.__file__).parent / "static"
TESTS_AXE = Path(__file__).resolve().parents[4] / "tests" / "portal" / "vendor" / "axe-core"


def test_the_portal_package_holds_no_axe_core() -> None:
    assert not [path for path in STATIC.rglob("*") if "axe" in path.name.lower()]


def test_static_serves_no_axe_core_but_still_serves_govuk_frontend() -> None:
    client = stubbed_portal().client()

    assert client.get("/static/vendor/axe-core/axe.min.js").status_code == 404
    assert client.get("/static/vendor/govuk-frontend/govuk-frontend.min.js").status_code == 200


def test_the_browser_tests_copy_keeps_its_licence() -> None:
    assert (TESTS_AXE / "axe.min.js").stat().st_size > 0
    assert "Mozilla Public License" in (TESTS_AXE / "LICENSE").read_text()
