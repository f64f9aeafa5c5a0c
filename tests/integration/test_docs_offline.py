"""Every service's API documentation works with the network unplugged: /docs (Swagger UI), /redoc and the
problem-type pages are served, with every asset they reference, by the service itself."""

from __future__ import annotations

import os
import re
import uuid
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from asgi_lifespan import LifespanManager
from playwright.async_api import Page, Route, async_playwright
from scripts.dev.export_openapi import APPS
from tests.support.databases import create_key_store
from tests.support.serving import served

from ingest.bootstrap import create_app as create_ingest
from ingest.config import IngestSettings
from lrs_contracts.codes import CODE_EXPLANATIONS, PROBLEM_CODE_EXPLANATIONS, BatchCode
from lrs_platform.credential_store import CredentialStore
from lrs_platform.identity import Principal
from lrs_platform.kafka import ensure_topics
from lrs_platform.problems import Problem

pytestmark = pytest.mark.integration

CHROMIUM = Path(os.environ.get("LRS_CHROMIUM", "/usr/bin/chromium"))
BASE = "http://service.local"


class Assets(HTMLParser):
    """Every URL a page makes the browser load: scripts, stylesheets, icons, images, ReDoc's spec (a `data:`
    URL is in the page itself: nothing is loaded for it)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src", "redoc": "spec-url"}.get(tag)
        self.urls += [value for name, value in attrs if name == wanted and value and not value.startswith("data:")]
        self.urls += [value for name, value in attrs if name == "data-openapi-url" and value]


def assets_of(page: str) -> list[str]:
    parser = Assets()
    parser.feed(page)
    return parser.urls


@pytest.mark.parametrize("service", sorted(APPS))
async def test_every_asset_of_the_docs_pages_comes_from_the_service_itself(service: str) -> None:
    app = APPS[service]()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        for page_path in ("/docs", "/redoc"):
            page = await client.get(page_path)
            assert page.status_code == 200, (service, page_path)
            urls = assets_of(page.text)
            assert len(urls) >= 2, (service, page_path, urls)
            for url in urls:
                absolute = urljoin(BASE + page_path, url)
                assert urlsplit(absolute).netloc == "service.local", f"{service} {page_path} loads {url} from elsewhere"
                asset = await client.get(absolute)
                assert asset.status_code == 200 and asset.content, (service, page_path, url, asset.status_code)


class Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def text_of(page: str) -> str:
    parser = Text()
    parser.feed(page)
    return "".join(parser.parts)


def as_read(markdown: str) -> str:
    return re.sub(r"\[([^\]]+)\]\([^)]+\)", r"\1", markdown).replace("`", "")


async def test_each_code_has_a_page_with_the_catalogue_text_and_problems_name_it_as_their_type() -> None:
    app = APPS["ingest"]()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as client:
        for code, explanation in {**CODE_EXPLANATIONS, **PROBLEM_CODE_EXPLANATIONS}.items():
            page = await client.get(f"/problems/{code}")
            assert (page.status_code, page.headers["content-type"]) == (200, "text/html; charset=utf-8"), code
            assert assets_of(page.text) == [], code
            text = text_of(page.text)
            for part in (explanation.meaning, explanation.example, explanation.fix, explanation.source):
                assert as_read(part) in text, (code, part)
        unknown = await client.get("/problems/RV999")
        assert (unknown.status_code, unknown.headers["content-type"]) == (404, "application/problem+json")

        refusal = Problem(status=422, title="Malformed file", code=BatchCode.MALFORMED.value)
        assert refusal.type == "/problems/RS001"
        assert (await client.get(urljoin(BASE + "/v1/batches", refusal.type))).status_code == 200
        assert Problem(status=404, title="Not found").type == "/problems/NOT_FOUND"
        assert (await client.get(urljoin(BASE + "/v1/batches", "/problems/NOT_FOUND"))).status_code == 200


async def test_a_refusal_at_ingests_door_names_its_codes_page_and_the_page_is_there(
    kafka_bootstrap: str, fresh_database_url: str
) -> None:
    await ensure_topics(kafka_bootstrap)
    settings = IngestSettings(KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap, DATABASE_URL=fresh_database_url, log_json=True)
    await create_key_store(fresh_database_url)
    app = create_ingest(settings)
    async with (
        LifespanManager(app, startup_timeout=120, shutdown_timeout=60) as manager,
        httpx.AsyncClient(transport=httpx.ASGITransport(manager.app), base_url="http://ingest") as client,
    ):
        store: CredentialStore = app.state.credentials
        issued = await store.issue(Principal.parse(f"ao:RN{uuid.uuid4().int % 10**8:08d}"))
        refused = await client.post(
            "/v1/batches",
            content=b"not,a,batch\n",
            headers={"Authorization": f"Bearer {issued.token}", "Content-Type": "text/csv"},
        )
        assert refused.status_code == 422, refused.text
        problem = refused.json()
        assert (problem["code"], problem["type"]) == ("RS001", "/problems/RS001")
        page = await client.get(urljoin(str(refused.url), problem["type"]))
        assert page.status_code == 200
        assert "RS001: The file is malformed" in text_of(page.text)


async def unplugged(page: Page, origin: str) -> list[str]:
    """Aborts every request that is not to the service; returns the list of those it aborted."""
    elsewhere: list[str] = []

    async def only_the_service(route: Route) -> None:
        if route.request.url.startswith(origin + "/"):
            await route.continue_()
        else:
            elsewhere.append(route.request.url)
            await route.abort()

    await page.route("**/*", only_the_service)
    return elsewhere


async def test_swagger_ui_and_redoc_render_in_a_browser_with_the_network_unplugged() -> None:
    app = APPS["ingest"]()
    title = app.title
    async with (
        served(app, lifespan="off") as origin,
        async_playwright() as playwright,
    ):
        browser = await playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = await browser.new_page()
            elsewhere = await unplugged(page, origin)
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

            await page.goto(origin + "/docs")
            await page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
            assert title in await page.inner_text(".swagger-ui .info .title")
            await page.wait_for_selector(".opblock", timeout=30_000)
            assert await page.locator(".opblock").count() >= 3

            await page.goto(origin + "/redoc")
            await page.wait_for_selector("h1", timeout=30_000)
            assert title in await page.inner_text("h1")
            assert await page.locator("[role=menuitem]").count() >= 3

            await page.goto(origin + "/problems/RV004")
            assert "ULN, names and date of birth" in await page.inner_text("h1")

            assert elsewhere == [], f"the pages asked for {elsewhere}"
            assert errors == []
        finally:
            await browser.close()
