"""The advice a code gives fits every file it can be given for."""

from __future__ import annotations

from lrs_contracts.codes import CODE_EXPLANATIONS, BatchCode


def test_rs001_advice_speaks_to_xml_and_json_files_as_well_as_csv() -> None:
    """A truncated JSON file is RS001 too: advice about headings and rows alone would not help its sender."""
    fix = CODE_EXPLANATIONS[BatchCode.MALFORMED].fix
    for fits in ("CSV", "XML or JSON", "well-formed", "UTF-8"):
        assert fits in fix
    # the portal keeps this sentence only when the message names a line and a column
    assert fix.endswith("The line and column in the message point at the first fault.")
