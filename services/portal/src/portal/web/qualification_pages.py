"""Your qualifications: an AO user's own rows of the qualification catalogue, live and in the Sandpit, read-only.

The rows are those of `Portal.catalogue`, the catalogue the upload check and direct entry judge with: the reference
files the portal reads as it starts (PORTAL_REFERENCE_DIR, by default the ones shipped in lrs_domain, which `lrs
reference load` loads into validation too, and the Sandpit keeps equal to live's). So the page cannot disagree with
the check: a grade spelt as here passes RV009, and a qualification listed with several pathways needs one (RV005).
Only the signed-in person's own AO's rows are shown, whatever the address; another AO's never are (RV022 refuses
them anyway). Operators have no such page (an AO user's page, like the Sandpit's): they have the reference files.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from lrs_contracts.reference import Framework, QualificationKind
from lrs_domain.grades import FAILED_QCF_GRADES
from lrs_domain.identifiers import display_qan
from lrs_domain.reference import Catalogue, Qualification
from portal.web.common import SANDPIT, TEMPLATES, AoUser, portal_of, render

router = APIRouter(include_in_schema=False)

QUALIFICATIONS_PATH = "/qualifications"
CATALOGUE_WORDS = "the qualification catalogue"  # as the batch file fields' help says it (batch_files._RULE_NOTES)


@dataclass(frozen=True)
class PathwayGrades:
    """A grade set, spelt as the catalogue spells it, and the pathways that have it (none: the qualification has
    no pathways)."""

    pathways: tuple[str, ...]
    grades: tuple[str, ...]


@dataclass(frozen=True)
class OwnQualification:
    """One qualification number of the AO's, with every catalogue row it has (one a pathway)."""

    number: str  # as the catalogue keys it: 60331689, or a QCF unit reference L/NNN/NNNN
    title: str
    level: str | None
    qualification_type: str
    framework: str
    unit: bool  # a QCF unit, not a whole qualification
    pathways: tuple[str, ...]  # the pathways a record must name one of (RV005), when it has several rows
    grade_sets: tuple[PathwayGrades, ...]  # one when every pathway has the same grades
    failed_not_uploaded: tuple[str, ...]  # QCF: grades of its set that are failed results, never uploaded (RV010)

    @property
    def forms(self) -> tuple[str, ...]:
        """The number as a file may give it: with obliques and without (a unit reference has one form)."""
        shown = display_qan(self.number)
        return (shown,) if shown == self.number else (shown, self.number)


def _grade_sets(rows: tuple[Qualification, ...]) -> tuple[PathwayGrades, ...]:
    """The grade sets of a number's rows in the catalogue's order, each with the pathways that have it."""
    by_set: dict[tuple[str, ...], list[str]] = {}
    for row in rows:
        by_set.setdefault(row.grade_set, []).extend([row.pathway] if row.pathway else [])
    return tuple(PathwayGrades(tuple(pathways), grades) for grades, pathways in by_set.items())


def own_qualifications(catalogue: Catalogue, ao_id: str) -> tuple[OwnQualification, ...]:
    """The qualifications `ao_id` awards in `catalogue`, by title, then number, with units after whole
    qualifications; none of another AO's."""
    found = []
    for number, rows in catalogue.rows.items():
        own = tuple(row for row in rows if row.awarding_organisation_id == ao_id)
        if not own:
            continue
        first = own[0]
        qcf = any(row.framework is Framework.QCF for row in own)
        grades = dict.fromkeys(grade for row in own for grade in row.grade_set)
        found.append(
            OwnQualification(
                number=number,
                title=first.title,
                level=first.level,
                qualification_type=first.qualification_type,
                framework=first.framework.value,
                unit=first.kind is QualificationKind.UNIT,
                pathways=tuple(row.pathway for row in own if row.pathway) if len(rows) > 1 else (),
                grade_sets=_grade_sets(own),
                failed_not_uploaded=tuple(grade for grade in grades if grade in FAILED_QCF_GRADES) if qcf else (),
            )
        )
    return tuple(sorted(found, key=lambda shown: (shown.unit, shown.title.casefold(), shown.number)))


@router.get(QUALIFICATIONS_PATH)
@router.get(f"{SANDPIT}{QUALIFICATIONS_PATH}")
async def qualifications(request: Request, user: AoUser) -> HTMLResponse:
    ao_id = user.account.ao_id or ""
    catalogue = portal_of(request).catalogue
    own = own_qualifications(catalogue, ao_id)
    context = {"qualifications": own, "caption": caption(own), "ao_id": ao_id, "ao_name": _ao_name(catalogue, ao_id)}
    return render(request, "qualifications.html", context, user=user)


def caption(own: tuple[OwnQualification, ...]) -> str:
    """What the table is: how many, in which order."""
    said = f"{len(own):,} qualification{'' if len(own) == 1 else 's'}, by title"
    return f"{said}, QCF units after whole qualifications" if any(shown.unit for shown in own) else said


def _ao_name(catalogue: Catalogue, ao_id: str) -> str | None:
    """The AO's name as its catalogue rows give it (None: it has none)."""
    rows = (row for rows in catalogue.rows.values() for row in rows if row.awarding_organisation_id == ao_id)
    return next((row.awarding_organisation_name for row in rows), None)


def catalogue_linked(text: str, href: str | None) -> Markup:
    """`text`, escaped, with "the qualification catalogue" a link to `href` (this page) when there is one: for the
    Grade and Pathway help of Batch file formats, whose words are docs/batch-files.md's too, so plain text there."""
    escaped = str(escape(text))
    if href:
        escaped = escaped.replace(CATALOGUE_WORDS, f'<a class="govuk-link" href="{escape(href)}">{CATALOGUE_WORDS}</a>')
    return Markup(escaped)  # noqa: S704 - the text escaped above, the link's address too


TEMPLATES.filters["catalogue_linked"] = catalogue_linked
