"""The direct-entry reference, made and recognised in one place for the portal and the notifier (decision 0152)."""

from __future__ import annotations

from lrs_domain.direct_entry import direct_entry_reference, is_direct_entry_reference


def test_the_form_makes_a_reference_it_then_recognises() -> None:
    made = direct_entry_reference("c23b9543-0d1e-4f5a-8b6c-7d8e9f0a1b2c")
    assert made == "PORTAL-C23B9543"
    assert is_direct_entry_reference(made)


def test_no_other_reference_is_a_direct_entrys() -> None:
    for reference in (None, "", "PORTAL-c23b9543", "PORTAL-C23B954", "PORTAL-C23B9543X", "XPORTAL-C23B9543", "SUMMER"):
        assert not is_direct_entry_reference(reference), reference
