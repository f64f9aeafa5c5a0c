"""Inline code in a page's text (a field's, an element's or an attribute's name, a command) breaks where it must
rather than stretch the page sideways on a phone (WCAG 1.4.10): `xsi:noNamespaceSchemaLocation` once made the batch
files' help 367 px wide on a 360 px screen. `break-word`, not `anywhere`: the one would let a table's column shrink
below its longest name (and break the names of the help's tables mid-word, where their region scrolls instead), and
a template's `pre` keeps its lines either way."""

from __future__ import annotations

import re
from pathlib import Path

from services.portal.tests.unit.stubbed_portal import stubbed_portal

import portal

CSS = Path(portal.__file__).parent / "static" / "portal.css"


def rules() -> dict[str, str]:
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(), flags=re.DOTALL)
    return {selector.strip(): body for selector, body in re.findall(r"([^{}]+)\{([^}]*)\}", text)}


def test_inline_code_in_a_page_breaks_rather_than_stretch_it_and_a_template_keeps_its_lines() -> None:
    found = rules()

    assert "overflow-wrap: break-word" in found["main :not(pre) > code"]
    assert "white-space" not in found["main :not(pre) > code"]  # wraps only where the text around it may


def test_the_attribute_that_stretched_the_help_is_inline_code_in_the_page() -> None:
    client, _ = stubbed_portal().signed_in()

    page = client.get("/help/batch-files").text

    main = page.split("<main", 1)[1].split("</main>", 1)[0]
    assert "<code>xsi:noNamespaceSchemaLocation</code>" in main
