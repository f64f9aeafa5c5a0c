"""The Sandpit's database roles (report "sandpit", findings 3 and 5): each Sandpit service logs in to `lrs_sandpit` as
a role of its own that owns only its own schemas, as live's do, so that only the Sandpit's validation reads its clear
copy of the live registry (`validation.learners`); the live portal reaches the Sandpit's `identity` and nothing else
there; and the Sandpit's projector seals its signing keys under a key-encryption key of its own, not live's."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from deploy.k8s.tests.kube import OVERLAYS, Doc, containers, env_of, named, of_kind, render
from deploy.k8s.tests.test_keyring import _create_secrets

SANDPIT_SERVICES = {"ingest", "validation", "plr-projector", "notifier"}
# The schemas each Sandpit service's role owns (its migrations' and the key store's), made when the cluster is.
OWNED = {
    "lrs_sandpit_ingest": {"ingest"},
    "lrs_sandpit_validation": {"validation", "learner_keys"},
    "lrs_sandpit_plr_projector": {"plr", "plr_ops"},
    "lrs_sandpit_notifier": {"notifier"},
    "lrs_sandpit_identity_owner": {"identity"},
}


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return [" ".join(statement.split()) for statement in code.split(";") if statement.strip()]


def _roles_sql(docs: list[Doc]) -> list[str]:
    return _statements(named(docs, "ConfigMap", "lrs-db-roles")["data"]["roles.sql"])


def _in_lrs_sandpit(docs: list[Doc]) -> list[str]:
    """The statements sandpit.sql runs in the database lrs_sandpit (the body it hands to dblink)."""
    sql = named(docs, "ConfigMap", "lrs-db-roles")["data"]["sandpit.sql"]
    match = re.search(r"dblink_exec\('dbname=lrs_sandpit', \$lrs_sandpit\$(.*)\$lrs_sandpit\$\)", sql, re.DOTALL)
    assert match, sql
    return _statements(match.group(1))


def _image(deployment: Doc) -> str:
    return str(containers(deployment)[0]["image"]).rsplit("/", 1)[-1].split(":")[0]


def _secret(env: dict[str, object], variable: str) -> str:
    value = env[variable]
    assert isinstance(value, dict), variable
    return str(value["secretKeyRef"]["name"])


def _sandpit_deployments(docs: list[Doc]) -> list[Doc]:
    return [
        doc for doc in of_kind(docs, "Deployment") if doc["metadata"]["labels"].get("lrs.io/environment") == "sandpit"
    ]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_sandpit_service_logs_in_as_its_own_role_which_owns_only_its_schemas(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    roles = {role["name"]: role for role in named(docs, "Cluster", "lrs-db")["spec"]["managed"]["roles"]}
    in_lrs, in_sandpit = _roles_sql(docs), _in_lrs_sandpit(docs)
    seen = set()
    for deployment in _sandpit_deployments(docs):
        env = env_of(containers(deployment)[0])
        image = _image(deployment)
        role, secret = f"lrs_sandpit_{image.replace('-', '_')}", f"lrs-db-sandpit-{image}"
        assert _secret(env, "DB_USER") == _secret(env, "DB_PASSWORD") == secret, deployment["metadata"]["name"]
        assert roles[role]["passwordSecret"]["name"] == secret
        assert roles[role]["inRoles"] == ["lrs_sandpit_services"]
        assert f"CREATE ROLE {role} NOLOGIN IN ROLE lrs_sandpit_services" in in_lrs
        seen.add(image)
    assert seen == SANDPIT_SERVICES
    created = {
        match.group(1): match.group(2)
        for statement in in_sandpit
        if (match := re.fullmatch(r"CREATE SCHEMA (\w+) AUTHORIZATION (\w+)", statement))
    }
    assert {owner: {s for s, o in created.items() if o == owner} for owner in OWNED} == OWNED
    # the database's owner stays the operators' (lrs --sandpit credentials), no service's
    assert "lrs_sandpit" not in created.values()
    assert "GRANT CREATE, CONNECT ON DATABASE lrs_sandpit TO lrs_sandpit_services" in in_lrs
    assert not any("lrs_services" in statement for statement in in_sandpit)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_only_the_sandpit_validation_reaches_the_registry_copy(overlay: str) -> None:
    """Nothing is granted on the Sandpit's `validation` (where the live registry's copy is) but the schema's use to
    the projector, which validation's migration 0134 then grants the one function it asks (validation.learner_erased,
    decision 0184) by name: no table, and no function by default privilege (learner_registered answers whether a ULN
    is in the registry copy), to no one (report "review2" finding 1)."""
    in_sandpit = _in_lrs_sandpit(render(f"overlays/{overlay}"))
    on_validation = [statement for statement in in_sandpit if "SCHEMA validation" in statement]
    assert on_validation == [
        "CREATE SCHEMA validation AUTHORIZATION lrs_sandpit_validation",
        "GRANT USAGE ON SCHEMA validation TO lrs_sandpit_plr_projector",
    ]
    assert not any(" ON ALL TABLES " in statement for statement in in_sandpit)
    assert not any(" ON FUNCTIONS " in statement or " ON ROUTINES " in statement for statement in in_sandpit)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_portal_reaches_the_sandpit_identity_as_a_role_of_its_own(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    env = env_of(containers(named(docs, "Deployment", "portal"))[0])
    assert _secret(env, "SANDPIT_DB_USER") == _secret(env, "SANDPIT_DB_PASSWORD") == "lrs-db-sandpit-portal"
    roles = {role["name"]: role for role in named(docs, "Cluster", "lrs-db")["spec"]["managed"]["roles"]}
    assert roles["lrs_sandpit_portal"]["passwordSecret"]["name"] == "lrs-db-sandpit-portal"
    assert roles["lrs_sandpit_portal"]["inRoles"] == ["lrs_sandpit_services"]
    # what the portal's role reaches: the services' group role's, which is `identity` (and making a schema)
    group = [statement for statement in _in_lrs_sandpit(docs) if "lrs_sandpit_services" in statement]
    assert group == [
        "GRANT USAGE, CREATE ON SCHEMA identity TO lrs_sandpit_services",
        "ALTER DEFAULT PRIVILEGES FOR ROLE lrs_sandpit_ingest, lrs_sandpit_validation, lrs_sandpit_plr_projector,"
        " lrs_sandpit_notifier, lrs_sandpit_portal IN SCHEMA identity"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO lrs_sandpit_services",
    ]
    assert not any("lrs_sandpit_portal" in statement for statement in _in_lrs_sandpit(docs) if statement not in group)
    keyring = [statement for statement in _roles_sql(docs) if "TO lrs_sandpit" in statement and "keyring" in statement]
    assert keyring == ["GRANT lrs_sandpit_keyring_users TO lrs_sandpit_ingest, lrs_sandpit_notifier"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_identity_is_owned_by_a_role_no_service_logs_in_as_or_inherits(overlay: str) -> None:
    """A schema's owner may drop anything in it: were `identity` the services' group role's, any service could drop
    the key store's audit triggers (with their function) or its tables and un-revoke a key (decision 0200; report
    "review3" finding 1). Live's and the Sandpit's each have a NOLOGIN owner; the services make and use their tables
    by a grant on the schema."""
    docs = render(f"overlays/{overlay}")
    in_lrs, in_sandpit = _roles_sql(docs), _in_lrs_sandpit(docs)
    managed = {role["name"] for role in named(docs, "Cluster", "lrs-db")["spec"]["managed"]["roles"]}
    for statements, owner, group in (
        (in_lrs, "lrs_identity_owner", "lrs_services"),
        (in_sandpit, "lrs_sandpit_identity_owner", "lrs_sandpit_services"),
    ):
        assert f"CREATE SCHEMA identity AUTHORIZATION {owner}" in statements
        assert f"GRANT USAGE, CREATE ON SCHEMA identity TO {group}" in statements
        assert f"CREATE ROLE {owner} NOLOGIN" in in_lrs
        assert owner not in managed  # CloudNativePG would give it LOGIN and a password
        assert not any(  # no role is made in it or granted it
            re.search(rf"\bIN ROLE {owner}\b|\bGRANT {owner}\b", statement) for statement in in_lrs + in_sandpit
        )
    assert sum("AUTHORIZATION lrs_services" in statement for statement in in_lrs) == 0
    assert sum("AUTHORIZATION lrs_sandpit_services" in statement for statement in in_sandpit) == 0


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_sandpit_projector_seals_its_signing_keys_under_a_key_of_its_own(overlay: str) -> None:
    docs = render(f"overlays/{overlay}")
    kek = {
        doc["metadata"]["name"]: _secret(env, "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY")
        for doc in of_kind(docs, "Deployment")
        if "PROJECTOR_CREDENTIAL_KEY_ENCRYPTION_KEY" in (env := env_of(containers(doc)[0]))
    }
    assert kek == {
        "plr-projector": "lrs-credential-signing",
        "plr-reader": "lrs-credential-signing",
        "sandpit-plr-projector": "lrs-sandpit-credential-signing",
        "sandpit-plr-reader": "lrs-sandpit-credential-signing",
    }


def test_create_secrets_makes_every_secret_a_workload_reads(tmp_path: Path) -> None:
    """Every Secret a Deployment reads a key of (not optional, not a Kafka user's, which Strimzi makes) is one
    create-secrets.sh makes."""
    status, created = _create_secrets("lrs-dev", tmp_path / "dev")
    assert status == 0
    read = {
        item["valueFrom"]["secretKeyRef"]["name"]
        for doc in of_kind(render("overlays/dev"), "Deployment")
        for container in containers(doc)
        for item in container.get("env", [])
        if "secretKeyRef" in item.get("valueFrom", {}) and not item["valueFrom"]["secretKeyRef"].get("optional")
    }
    assert {"lrs-sandpit-credential-signing", "lrs-db-sandpit-portal", "lrs-db-sandpit-ingest"} <= read
    assert read - set(created) == set()
