"""Your qualifications: an AO user sees their own AO's rows of the catalogue the upload check judges with (the
portal's `catalogue`), each grade spelt exactly as the check wants it, the pathways of a qualification that has
several, live and in the Sandpit; never another AO's rows (onboarding walk, finding 5)."""

from __future__ import annotations

import dataclasses
import html
import re

import pytest
from markupsafe import escape
from services.portal.tests.unit.stubbed_portal import AO_ID, StubbedPortal, stubbed_portal, with_a_sandpit

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.identifiers import parse_qan
from lrs_domain.reference import Catalogue, Qualification
from lrs_domain.rules import check_grade, find_catalogue_row
from portal.accounts import Role
from portal.web.qualification_pages import catalogue_linked, own_qualifications

OTHER_AO = "RN9081"


def row(number: str, title: str, ao_id: str, grades: tuple[str, ...], pathway: str | None = None) -> Qualification:
    return Qualification(
        qualification_number=number,
        pathway=pathway,
        title=title,
        awarding_organisation_id=ao_id,
        awarding_organisation_name="Pearson Education Ltd" if ao_id == AO_ID else "NCTJ Training",
        level="Level 3",
        qualification_type="Vocationally-Related Qualification",
        framework=Framework.RQF,
        kind=QualificationKind.QUALIFICATION,
        grade_set=grades,
    )


CATALOGUE = Catalogue.of(
    [
        row("60331689", "NCTJ Level 6 National Qualification in Journalism", OTHER_AO, ("Pass", "Fail")),
        row("60336511", "Zebra Diploma", AO_ID, ("Pass", "Merit", "Distinction", "Distinction*", "Fail")),
        row("10050061", "Award in Sport", AO_ID, ("Pass", "Merit"), pathway="Sports Development"),
        row("10050061", "Award in Sport", AO_ID, ("Pass", "Merit"), pathway="Sport and Exercise Science"),
        row("6036435X", "award in music", AO_ID, ("A*", "A", "B")),
    ]
)


def with_catalogue(portal: StubbedPortal, catalogue: Catalogue) -> StubbedPortal:
    portal.app.state.portal = dataclasses.replace(portal.app.state.portal, catalogue=catalogue)
    return portal


def table(page: str) -> str:
    found = re.search(r'<table class="govuk-table" data-table="qualifications">.*?</table>', page, re.S)
    assert found, "the page has its table of qualifications"
    return found.group(0)


def rows_shown(page: str) -> list[str]:
    return re.findall(r'data-qualification="([^"]+)"', page)


def grades_shown(page: str, number: str) -> list[str]:
    found = re.search(rf'data-qualification="{number}".*?</tr>', page, re.S)
    assert found
    return [html.unescape(grade) for grade in re.findall(r"<code data-grade>([^<]*)</code>", found.group(0))]


def test_only_the_ao_s_own_rows_are_listed_by_title() -> None:
    client, _ = with_catalogue(stubbed_portal(), CATALOGUE).signed_in()

    page = client.get("/qualifications")

    assert page.status_code == 200
    assert '<h1 class="govuk-heading-l">Your qualifications</h1>' in page.text
    assert rows_shown(page.text) == ["6036435X", "10050061", "60336511"]  # by title, whatever its case
    assert "60331689" not in page.text and "NCTJ" not in page.text  # another AO's row is never shown
    assert "Pearson Education Ltd (RN9093)" in page.text
    assert "<code>603/3651/1</code> or <code>60336511</code>" in page.text  # both forms a file may use
    assert "RV009" in page.text and "RV005" in page.text


def test_each_grade_is_spelt_as_the_check_wants_it() -> None:
    client, _ = with_catalogue(stubbed_portal(), CATALOGUE).signed_in()

    page = client.get("/qualifications").text

    shown = grades_shown(page, "60336511")
    assert shown == ["Pass", "Merit", "Distinction", "Distinction*", "Fail"]
    qan = parse_qan("603/3651/1")
    assert qan is not None
    qualification, _ = find_catalogue_row(qan, None, CATALOGUE)
    assert all(check_grade(grade, qan, qualification, qcf=False) == () for grade in shown)
    assert check_grade("PASS", qan, qualification, qcf=False)  # any other spelling is RV009


def test_a_qualification_with_several_pathways_lists_them_and_one_grade_set() -> None:
    client, _ = with_catalogue(stubbed_portal(), CATALOGUE).signed_in()

    page = client.get("/qualifications").text

    found = re.search(r'data-qualification="10050061".*?</tr>', page, re.S)
    assert found
    assert "One of: <code>Sports Development</code>, <code>Sport and Exercise Science</code>" in found.group(0)
    assert grades_shown(page, "10050061") == ["Pass", "Merit"]  # the same set for both: said once
    assert "None needed" in re.search(r'data-qualification="60336511".*?</tr>', page, re.S).group(0)  # type: ignore[union-attr]


def test_the_shipped_catalogue_gives_each_ao_only_its_own_rows_with_their_grade_sets() -> None:
    """The page's rows are the check's catalogue's own: every row of the AO, exactly, and no other AO's."""
    catalogue = stubbed_portal().app.state.portal.catalogue
    own = own_qualifications(catalogue, "RN9081")

    assert [qualification.number for qualification in own] == ["60336511", "6036435X", "60331689"]
    for qualification in own:
        (row,) = catalogue.rows_for(qualification.number)
        assert row.awarding_organisation_id == "RN9081"
        assert qualification.grade_sets[0].grades == row.grade_set
    every_own = {number for number, rows in catalogue.rows.items() if rows[0].awarding_organisation_id == AO_ID}
    assert {qualification.number for qualification in own_qualifications(catalogue, AO_ID)} == every_own


def test_an_ao_with_no_row_is_told_to_contact_the_service_desk() -> None:
    client, _ = with_catalogue(stubbed_portal(), Catalogue()).signed_in()

    page = client.get("/qualifications").text

    assert 'data-qualifications="none"' in page and "contact the lrs service desk" in page.lower()
    assert 'data-table="qualifications"' not in page


def test_the_menu_offers_the_page_live_and_in_the_sandpit(monkeypatch: pytest.MonkeyPatch) -> None:
    client, _ = with_a_sandpit(with_catalogue(stubbed_portal(), CATALOGUE), monkeypatch).signed_in()

    live = client.get("/qualifications").text
    sandpit = client.get("/sandpit/qualifications")

    assert 'href="/qualifications" aria-current="page">Qualifications</a>' in live
    assert sandpit.status_code == 200
    assert 'href="/sandpit/qualifications" aria-current="page">Qualifications</a>' in sandpit.text
    assert "<title>SANDPIT: Your qualifications" in sandpit.text
    assert "the Sandpit checks against the same catalogue as live" in sandpit.text
    assert rows_shown(sandpit.text) == rows_shown(live) == ["6036435X", "10050061", "60336511"]
    assert 'href="/sandpit/help/contact"' in sandpit.text


def test_an_operator_is_not_shown_the_page() -> None:
    client, _ = with_catalogue(stubbed_portal(), CATALOGUE).signed_in(Role.OPERATOR)

    page = client.get("/qualifications")

    assert page.status_code == 403 and "This page is for awarding organisation users." in page.text


def test_pathways_with_their_own_grades_each_say_theirs_and_a_qcf_fail_is_said_never_uploaded() -> None:
    written = row("10050103", "Statistics", AO_ID, ("Pass", "Fail"), pathway="Written")
    practical = row("10050103", "Statistics", AO_ID, ("Distinction", "Merit", "U"), pathway="Practical")
    qcf = dataclasses.replace(row("50000020", "Care (QCF)", AO_ID, ("Pass", "Fail")), framework=Framework.QCF)
    client, _ = with_catalogue(stubbed_portal(), Catalogue.of([written, practical, qcf])).signed_in()

    page = client.get("/qualifications").text

    found = re.search(r'data-qualification="10050103".*?</tr>', page, re.S)
    assert found
    assert "Written: <code data-grade>Pass</code>, <code data-grade>Fail</code>" in found.group(0)
    assert "Practical: <code data-grade>Distinction</code>" in found.group(0)
    care = re.search(r'data-qualification="50000020".*?</tr>', page, re.S)
    assert care and "Fail: a failed result of a QCF qualification or unit is never uploaded (RV010)" in care.group(0)


def test_the_catalogue_named_in_a_fields_help_links_to_the_page_and_nothing_else_is_taken_as_markup() -> None:
    text = "One of the qualification's grades in the qualification catalogue, spelt exactly (RV009) <b>."

    linked = catalogue_linked(text, "/sandpit/qualifications")

    assert str(linked) == (
        "One of the qualification&#39;s grades in"
        ' <a class="govuk-link" href="/sandpit/qualifications">the qualification catalogue</a>,'
        " spelt exactly (RV009) &lt;b&gt;."
    )
    assert str(catalogue_linked(text, None)) == str(escape(text))  # an operator's help: no page to link to


def test_a_qcf_unit_comes_after_whole_qualifications_under_its_one_reference() -> None:
    unit = dataclasses.replace(row("F/601/0001", "Aardvark care (QCF unit)", AO_ID, ("Pass",)), framework=Framework.QCF)
    unit = dataclasses.replace(unit, kind=QualificationKind.UNIT)
    own = own_qualifications(Catalogue.of([unit, *CATALOGUE.rows_for("60336511")]), AO_ID)

    assert [(shown.number, shown.forms) for shown in own] == [
        ("60336511", ("603/3651/1", "60336511")),
        ("F/601/0001", ("F/601/0001",)),
    ]


def test_batch_file_formats_links_the_catalogue_to_the_page_for_an_ao_user_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    portal = with_a_sandpit(with_catalogue(stubbed_portal(), CATALOGUE), monkeypatch)
    ao_client, _ = portal.signed_in()
    operator_client, _ = portal.signed_in(Role.OPERATOR)

    live, sandpit = ao_client.get("/help/batch-files").text, ao_client.get("/sandpit/help/batch-files").text
    operators = operator_client.get("/help/batch-files").text

    link = '<a class="govuk-link" href="{}">the qualification catalogue</a>'
    assert link.format("/qualifications") in live
    assert link.format("/sandpit/qualifications") in sandpit
    assert "the qualification catalogue" in operators and 'href="/qualifications"' not in operators
