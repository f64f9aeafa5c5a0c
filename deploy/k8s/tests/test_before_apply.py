"""Before the first apply: production's hosts, mail relay, senders, registry and release come from one file,
overlays/prod/site/kustomization.yaml, and check-before-apply.sh refuses a render that still holds one of the
placeholders this repository ships (a credential issued under a placeholder issuer would be issued again)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from deploy.k8s.tests.kube import K8S, Doc, containers, env_of, named, render_directory

CHECK = "check-before-apply.sh"
SITE = Path("overlays/prod/site/kustomization.yaml")
PLACEHOLDERS = {
    "portal.lrs.example",
    "api.lrs.example",
    "sandpit.api.lrs.example",
    "smtp.example.invalid",
    "lrs-notifications@lrs.example",
    "lrs-portal@lrs.example",
    "registry.example.invalid",
}
# What an operator writes over the placeholders, in the one file only.
SITE_EDITS = {
    "registry.example.invalid": "registry.lrs.gov.test",
    "smtp.example.invalid": "relay.lrs.gov.test",
    "lrs.example": "lrs.gov.test",
    'newTag: "1.0.0"': 'newTag: "1.1.0"',
}


def check(manifests: Path, kustomization: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("kubectl") is None and shutil.which("kustomize") is None:
        pytest.skip("neither kubectl nor kustomize is installed: the manifests cannot be rendered")
    return subprocess.run(
        ["bash", str(manifests / CHECK), kustomization], capture_output=True, text=True, check=False, cwd=manifests
    )


@pytest.fixture
def edited(tmp_path: Path) -> Path:
    """A copy of the manifests whose site file an operator has filled in, and nothing else changed."""
    manifests = tmp_path / "k8s"
    for part in ("base", "jobs", "overlays"):
        shutil.copytree(K8S / part, manifests / part)
    shutil.copy2(K8S / CHECK, manifests / CHECK)
    site = (manifests / SITE).read_text()
    for placeholder, value in SITE_EDITS.items():
        site = site.replace(placeholder, value)
    (manifests / SITE).write_text(site)
    return manifests


def test_the_check_refuses_the_repositorys_own_production_render_naming_each_placeholder() -> None:
    refused = check(K8S, "overlays/prod")

    assert refused.returncode == 1
    named_placeholders = {line.strip() for line in refused.stderr.splitlines()[1:]}
    assert named_placeholders == PLACEHOLDERS
    assert str(SITE) in refused.stderr.splitlines()[0]


def test_the_check_refuses_the_rebuild_job_of_the_placeholder_registry() -> None:
    refused = check(K8S, "overlays/prod/rebuild")

    assert refused.returncode == 1
    assert {line.strip() for line in refused.stderr.splitlines()[1:]} == {"registry.example.invalid"}


def test_filling_in_the_one_site_file_passes_the_check_and_names_the_issuers(edited: Path) -> None:
    for kustomization in ("overlays/prod", "overlays/prod/rebuild"):
        passed = check(edited, kustomization)
        assert passed.returncode == 0, passed.stderr
    issuers = check(edited, "overlays/prod").stdout
    assert "https://api.lrs.gov.test\n" in issuers and "https://sandpit.api.lrs.gov.test\n" in issuers


def _env(docs: list[Doc], deployment: str) -> dict[str, object]:
    return env_of(containers(named(docs, "Deployment", deployment))[0])


def test_the_site_file_sets_every_host_relay_and_sender_where_it_is_used(edited: Path) -> None:
    docs = render_directory(edited / "overlays/prod")

    for name in ("lrs", "lrs-password-links"):  # the portal's pages, and its password-setting links
        portal = named(docs, "Ingress", name)["spec"]
        assert portal["tls"][0]["hosts"] == [portal["rules"][0]["host"]] == ["portal.lrs.gov.test"], name
    api = named(docs, "Ingress", "lrs-api")["spec"]
    assert api["tls"][0]["hosts"] == [rule["host"] for rule in api["rules"]]
    assert api["tls"][0]["hosts"] == ["api.lrs.gov.test", "sandpit.api.lrs.gov.test"]
    for writer, reader, host in (
        ("plr-projector", "plr-reader", "api.lrs.gov.test"),
        ("sandpit-plr-projector", "sandpit-plr-reader", "sandpit.api.lrs.gov.test"),
    ):
        issued_by = {_env(docs, name)["PROJECTOR_CREDENTIAL_ISSUER_URL"] for name in (writer, reader)}
        assert issued_by == {f"https://{host}"}
    portal_mail = named(docs, "ConfigMap", "lrs-portal")["data"]
    assert portal_mail["PORTAL_PUBLIC_URL"] == "https://portal.lrs.gov.test"
    assert portal_mail["PORTAL_SMTP_HOST"] == "relay.lrs.gov.test"
    assert portal_mail["PORTAL_MAIL_FROM"] == "lrs-portal@lrs.gov.test"
    notifier = named(docs, "ConfigMap", "lrs-notifier")["data"]
    assert notifier["NOTIFIER_PUBLIC_BASE_URL"] == "https://portal.lrs.gov.test"
    assert notifier["NOTIFIER_SMTP_HOST"] == "relay.lrs.gov.test"
    assert notifier["NOTIFIER_MAIL_FROM"] == "lrs-notifications@lrs.gov.test"
    assert _env(docs, "sandpit-notifier")["NOTIFIER_PUBLIC_BASE_URL"] == "https://portal.lrs.gov.test/sandpit"
    assert "lrs-site" not in {doc["metadata"]["name"] for doc in docs}  # read at render, never applied


def test_the_services_and_the_rebuild_job_run_the_release_the_site_file_names(edited: Path) -> None:
    docs = render_directory(edited / "overlays/prod")
    [job] = render_directory(edited / "overlays/prod/rebuild")

    images = {container["image"] for doc in docs if doc["kind"] == "Deployment" for container in containers(doc)}
    assert {image.rsplit(":", 1)[1] for image in images} == {"1.1.0"}
    assert {image.split("/", 1)[0] for image in images} == {"registry.lrs.gov.test"}
    assert containers(job)[0]["image"] == containers(named(docs, "Deployment", "plr-projector"))[0]["image"]
