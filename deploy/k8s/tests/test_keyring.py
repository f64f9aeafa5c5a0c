"""The learners' data keys on Kubernetes (decision 0080): every service that builds a `Keyring` gets the
keyring key (and the wrapping settings of a rotation, decision 0116) from one Secret, no other service gets it, the key store is validation's schema, and the
Sandpit's validation reads live's key store as a role that may use nothing else in the live database."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from deploy.k8s.tests.kube import OVERLAYS, ROOT, Doc, containers, env_of, named, of_kind, render
from deploy.k8s.tests.test_policies import _image_name, in_sandpit

KEYRING_SECRET = {"name": "lrs-keyring", "key": "keyring-key"}
# Set only while an operator rotates the wrapping key (decision 0116): optional keys of the same Secret.
WRAPPING_SETTINGS = {
    "LRS_KEYRING_WRAPPING_KEYS": {"name": "lrs-keyring", "key": "wrapping-keys", "optional": True},
    "LRS_KEYRING_WRAP_WITH": {"name": "lrs-keyring", "key": "wrap-with", "optional": True},
}
LIVE_KEYS_URL = "postgresql://$(LIVE_KEYS_USER):$(LIVE_KEYS_PASSWORD)@$(DB_HOST):5432/lrs?"


def services_with_a_keyring() -> set[str]:
    """The services whose code builds a `Keyring`: they seal or open learners' personal data."""
    return {
        path.parts[-4]
        for path in (ROOT / "services").glob("*/src/*/*.py")
        if "Keyring(" in path.read_text(encoding="utf-8")
    }


def _env_items(deployment: Doc) -> list[dict[str, Any]]:
    [container] = containers(deployment)
    items: list[dict[str, Any]] = container.get("env", [])
    return items


def keyring_problems(docs: list[Doc], needing: set[str]) -> list[str]:
    problems = []
    for deployment in of_kind(docs, "Deployment"):
        name = deployment["metadata"]["name"]
        image = _image_name(containers(deployment)[0])
        [*given] = [item for item in _env_items(deployment) if item["name"] == "LRS_KEYRING_KEY"]
        if image in needing and [item.get("valueFrom") for item in given] != [{"secretKeyRef": KEYRING_SECRET}]:
            problems.append(f"{name}: LRS_KEYRING_KEY is not read from the Secret {KEYRING_SECRET}")
        if image not in needing and given:
            problems.append(f"{name}: holds LRS_KEYRING_KEY without sealing or opening anything")
        for variable, reference in WRAPPING_SETTINGS.items():
            read = [item.get("valueFrom") for item in _env_items(deployment) if item["name"] == variable]
            if image in needing and read != [{"secretKeyRef": reference}]:
                problems.append(f"{name}: {variable} is not read from the Secret {reference}")
            if image not in needing and read:
                problems.append(f"{name}: holds {variable} without sealing or opening anything")
    return problems


def test_the_services_that_build_a_keyring_are_the_ones_given_the_key() -> None:
    assert {"ingest", "validation", "challenges"} <= services_with_a_keyring()


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_with_a_keyring_and_no_other_reads_the_key_from_its_secret(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    assert keyring_problems(docs, services_with_a_keyring()) == []
    assert any(
        in_sandpit(doc) for doc in of_kind(docs, "Deployment") if "LRS_KEYRING_KEY" in env_of(containers(doc)[0])
    )


def test_the_key_check_finds_a_missing_key_and_one_given_where_it_is_not_needed() -> None:
    docs = render("overlays/prod")
    [ingest] = containers(named(docs, "Deployment", "ingest"))
    ingest["env"] = [item for item in ingest["env"] if item["name"] != "LRS_KEYRING_KEY"]
    [reporting] = containers(named(docs, "Deployment", "reporting"))
    reporting["env"].append({"name": "LRS_KEYRING_KEY", "valueFrom": {"secretKeyRef": KEYRING_SECRET}})
    [notifier] = containers(named(docs, "Deployment", "notifier"))
    notifier["env"] = [item for item in notifier["env"] if item["name"] != "LRS_KEYRING_WRAP_WITH"]

    assert keyring_problems(docs, {"ingest", "validation", "challenges", "notifier"}) == [
        f"ingest: LRS_KEYRING_KEY is not read from the Secret {KEYRING_SECRET}",
        f"notifier: LRS_KEYRING_WRAP_WITH is not read from the Secret {WRAPPING_SETTINGS['LRS_KEYRING_WRAP_WITH']}",
        "reporting: holds LRS_KEYRING_KEY without sealing or opening anything",
    ]


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [" ".join(statement.split()) for statement in code.split(";") if statement.strip()]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_validation_owns_the_key_store_the_services_may_only_find_and_add_keys_and_the_sandpit_only_find(
    overlay: str,
) -> None:
    statements = _statements(named(render(f"overlays/{overlay}"), "ConfigMap", "lrs-db-roles")["data"]["roles.sql"])
    on_the_store = [statement for statement in statements if "learner_keys" in statement]
    assert on_the_store == [
        "CREATE SCHEMA learner_keys AUTHORIZATION lrs_validation",
        "GRANT USAGE ON SCHEMA learner_keys TO lrs_keyring_users",
        "ALTER DEFAULT PRIVILEGES FOR ROLE lrs_validation IN SCHEMA learner_keys"
        " GRANT SELECT, INSERT ON TABLES TO lrs_keyring_users",
        "GRANT USAGE ON SCHEMA learner_keys TO lrs_sandpit_keys",
        "ALTER DEFAULT PRIVILEGES FOR ROLE lrs_validation IN SCHEMA learner_keys GRANT SELECT ON TABLES TO lrs_sandpit_keys",
    ]
    assert "GRANT lrs_keyring_users TO lrs_ingest, lrs_challenges, lrs_notifier" in statements


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_validation_reads_the_live_key_store_as_a_role_of_its_own(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    env = {item["name"]: item for item in _env_items(named(docs, "Deployment", "sandpit-validation"))}
    names = list(env)
    assert env["VALIDATION_LIVE_DATABASE_URL"]["value"].startswith(LIVE_KEYS_URL)
    for variable in ("LIVE_KEYS_USER", "LIVE_KEYS_PASSWORD"):
        assert env[variable]["valueFrom"]["secretKeyRef"]["name"] == "lrs-db-sandpit-keys"
        assert names.index(variable) < names.index("VALIDATION_LIVE_DATABASE_URL"), "defined before it is used"
    assert [
        doc["metadata"]["name"]
        for doc in of_kind(docs, "Deployment")
        if any(item["name"] == "VALIDATION_LIVE_DATABASE_URL" for item in _env_items(doc))
    ] == ["sandpit-validation"]
    roles = {role["name"]: role for role in named(docs, "Cluster", "lrs-db")["spec"]["managed"]["roles"]}
    assert roles["lrs_sandpit_keys"]["passwordSecret"]["name"] == "lrs-db-sandpit-keys"
    assert "inRoles" not in roles["lrs_sandpit_keys"], "no member of the live services' role"
    granted = [
        statement
        for statement in _statements(named(docs, "ConfigMap", "lrs-db-roles")["data"]["roles.sql"])
        if "TO lrs_sandpit_keys" in statement
    ]
    assert granted == [
        "GRANT CONNECT ON DATABASE lrs TO lrs_sandpit_keys",
        "GRANT USAGE ON SCHEMA learner_keys TO lrs_sandpit_keys",
        "ALTER DEFAULT PRIVILEGES FOR ROLE lrs_validation IN SCHEMA learner_keys GRANT SELECT ON TABLES TO lrs_sandpit_keys",
    ]


def test_create_secrets_makes_the_keyring_key_and_the_sandpit_key_readers_password() -> None:
    script = (ROOT / "deploy" / "k8s" / "create-secrets.sh").read_text()
    assert "create secret generic lrs-keyring" in script
    assert "--from-literal=keyring-key=" in script
    assert "sandpit-keys" in script.split("for service in", 1)[1].split(";", 1)[0]


def _create_secrets(namespace: str, tmp_path: Path, **environment: str) -> tuple[int, list[str]]:
    """Runs create-secrets.sh against a kubectl that knows no Secret; returns its exit status and the Secrets
    it created."""
    tmp_path.mkdir()
    created = tmp_path / "created"
    kubectl = tmp_path / "kubectl"
    kubectl.write_text(
        '#!/bin/sh\n[ "$3" = get ] && exit 1\n[ "$3" = create ] && echo "$6" >> "' + str(created) + '"\nexit 0\n'
    )
    kubectl.chmod(0o755)
    script = ROOT / "deploy" / "k8s" / "create-secrets.sh"
    env = {"PATH": f"{tmp_path}:{os.environ['PATH']}", **environment}
    finished = subprocess.run(["bash", str(script), namespace], env=env, capture_output=True, text=True, check=False)
    return finished.returncode, created.read_text().split() if created.exists() else []


def test_create_secrets_makes_up_backup_credentials_only_in_a_dev_namespace(tmp_path: Path) -> None:
    refused, nothing = _create_secrets("lrs", tmp_path / "prod-without")
    given, with_backup = _create_secrets(
        "lrs", tmp_path / "prod-with", BACKUP_ACCESS_KEY_ID="id", BACKUP_SECRET_ACCESS_KEY="secret"
    )
    dev, made_up = _create_secrets("lrs-dev", tmp_path / "dev")

    assert (refused, nothing) == (1, [])
    assert given == 0 and "lrs-db-backup" in with_backup
    assert dev == 0 and "lrs-db-backup" in made_up
