"""Analysts' own consumers (docs/analyst-quickstart.md): the KafkaUser lrs-analysts reads the MI topics
(lrs.reporting.*.v1) and nothing else, Kafka admits it only from its own namespace's labelled pods, and the
quickstart reaches the brokers with that user's certificate, told by the settings every service reads."""

from __future__ import annotations

import asyncio
import datetime
import importlib.util
import ipaddress
import os
import ssl
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from deploy.k8s import generate
from deploy.k8s.tests.kube import ROOT, Doc, named, render

from lrs_contracts.topics import ALL_TOPICS

ANALYSTS = "lrs-analysts"
REPORTING_TOPICS = {topic.name for topic in ALL_TOPICS if topic.name.startswith("lrs.reporting.")}


def reader_problems(user: Doc, topics: set[str], group_prefix: str) -> list[str]:
    """Every way the user may do more than read `topics` in consumer groups named `group_prefix`..., and every
    one of `topics` it may not read."""
    problems = []
    read: set[str] = set()
    for acl in user["spec"]["authorization"]["acls"]:
        resource, operations = acl["resource"], set(acl["operations"])
        where = f"{resource['type']} {resource['name']} ({resource['patternType']})"
        if operations - {"Read", "Describe"}:
            problems.append(f"{where}: {sorted(operations - {'Read', 'Describe'})}")
        if resource["type"] == "topic":
            if resource["patternType"] != "literal" or resource["name"] not in topics:
                problems.append(f"{where}: not a topic it may read")
            read |= {resource["name"]} if "Read" in operations else set()
        elif resource["type"] == "group":
            if (resource["patternType"], resource["name"]) != ("prefix", group_prefix):
                problems.append(f"{where}: not its own groups")
        else:
            problems.append(f"{where}: not a topic or a consumer group")
    problems += [f"topic {topic}: not readable" for topic in sorted(topics - read)]
    return problems


def analysts_user() -> Doc:
    return named(render("overlays/prod"), "KafkaUser", ANALYSTS)


def test_the_analysts_read_the_reporting_topics_and_nothing_else() -> None:
    user = analysts_user()
    assert user["spec"]["authentication"] == {"type": "tls"}
    assert reader_problems(user, REPORTING_TOPICS, "analysts.") == []
    # exactly what reporting publishes: a new MI topic is given to analysts on purpose, or the test says so
    assert set(generate.access()["services"]["reporting"]["produces"]) == REPORTING_TOPICS


def test_the_reader_check_finds_the_plr_log_a_write_and_a_services_group() -> None:
    user = analysts_user()
    acls = user["spec"]["authorization"]["acls"]
    acls.append({"resource": {"type": "topic", "name": "lrs.", "patternType": "prefix"}, "operations": ["Read"]})
    acls[0]["operations"].append("Write")
    acls.append(
        {"resource": {"type": "group", "name": "lrs-reporting", "patternType": "literal"}, "operations": ["Read"]}
    )
    del acls[1]

    assert reader_problems(user, REPORTING_TOPICS, "analysts.") == [
        "topic lrs.reporting.submissions.v1 (literal): ['Write']",
        "topic lrs. (prefix): not a topic it may read",
        "group lrs-reporting (literal): not its own groups",
        "topic lrs.reporting.timeliness.v1: not readable",
    ]


def test_a_reader_given_a_prefix_is_refused_by_the_generator() -> None:
    with pytest.raises(ValueError, match="by name"):
        generate.reader_acls({"topics": ["lrs.reporting.*"], "groups": []})


def test_kafka_admits_the_analysts_only_from_their_namespaces_labelled_pods() -> None:
    docs = render("overlays/prod")
    [listener] = named(docs, "Kafka", "lrs")["spec"]["kafka"]["listeners"]
    [namespace] = [doc for doc in render("analysts") if doc["kind"] == "Namespace"]
    name = namespace["metadata"]["name"]
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    admitting = [
        peer
        for peer in listener["networkPolicyPeers"]
        if peer.get("namespaceSelector", {}).get("matchLabels") == {"kubernetes.io/metadata.name": name}
    ]
    assert admitting == [
        {
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": name}},
            "podSelector": {"matchLabels": {"lrs.io/kafka-client": "true"}},
        }
    ]


def test_the_analysts_namespace_is_told_how_to_reach_kafka_as_the_services_are() -> None:
    services = named(render("overlays/prod"), "ConfigMap", "lrs-kafka")["data"]
    analysts = named(render("analysts"), "ConfigMap", "lrs-kafka")["data"]
    platform_namespace = named(render("overlays/prod"), "Deployment", "reporting")["metadata"]["namespace"]
    assert analysts == {**services, "KAFKA_BOOTSTRAP_SERVERS": f"lrs-kafka-bootstrap.{platform_namespace}.svc:9093"}
    copy = (ROOT / "deploy" / "k8s" / "analysts" / "copy-certificate.sh").read_text()
    assert f"copy {ANALYSTS} user.crt user.key" in copy and "copy lrs-cluster-ca-cert ca.crt" in copy


# --- the quickstart over TLS ----------------------------------------------------------------------


def quickstart() -> ModuleType:
    spec = importlib.util.spec_from_file_location("analyst_quickstart", ROOT / "docs" / "analyst_quickstart.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _certificate(
    subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[str, ec.EllipticCurvePrivateKey] | None = None
) -> x509.Certificate:
    issuer_name, issuer_key = issuer or (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def _write(path: Path, certificate: x509.Certificate, key: ec.EllipticCurvePrivateKey | None = None) -> None:
    path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    if key is not None:
        path.with_suffix(".key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )


def strimzi_like_certificates(directory: Path) -> dict[str, Path]:
    """A cluster CA and a broker certificate it signs; a clients CA and the user's certificate it signs."""
    keys = {name: ec.generate_private_key(ec.SECP256R1()) for name in ("cluster", "clients", "broker", "user")}
    cluster_ca = _certificate("cluster-ca", keys["cluster"])
    clients_ca = _certificate("clients-ca", keys["clients"])
    _write(directory / "ca.crt", cluster_ca)
    _write(directory / "clients-ca.crt", clients_ca)
    _write(
        directory / "broker.crt",
        _certificate("lrs-kafka", keys["broker"], ("cluster-ca", keys["cluster"])),
        keys["broker"],
    )
    _write(directory / "user.crt", _certificate(ANALYSTS, keys["user"], ("clients-ca", keys["clients"])), keys["user"])
    return {
        name: directory / name
        for name in ("ca.crt", "clients-ca.crt", "broker.crt", "broker.key", "user.crt", "user.key")
    }


async def _client_seen_by_a_broker(files: dict[str, Path], client: ssl.SSLContext) -> str:
    """Opens a TLS connection with `client` to a listener that, like Strimzi's, demands a client certificate
    signed by the clients CA: answers the common name it saw."""
    broker = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=files["clients-ca.crt"])
    broker.load_cert_chain(files["broker.crt"], files["broker.key"])
    broker.verify_mode = ssl.CERT_REQUIRED
    seen: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer: Any = writer.get_extra_info("peercert")
        seen.set_result(dict(item[0] for item in peer["subject"])["commonName"])
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0, ssl=broker)
    port = server.sockets[0].getsockname()[1]
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port, ssl=client, server_hostname="localhost")
        common_name = await asyncio.wait_for(seen, timeout=10)
        writer.close()
        return common_name
    finally:
        server.close()
        await server.wait_closed()


def test_the_quickstart_reaches_a_plain_text_broker_with_no_settings() -> None:
    assert quickstart().kafka_security({}) == {}


def test_the_quickstart_presents_the_analysts_certificate_with_the_settings_their_namespace_gives(
    tmp_path: Path,
) -> None:
    files = strimzi_like_certificates(tmp_path)
    settings = named(render("analysts"), "ConfigMap", "lrs-kafka")["data"]
    # the Secrets mounted where the settings say, here in one directory
    environment = {
        name: value.replace("/etc/lrs/kafka-ca", str(tmp_path)).replace("/etc/lrs/kafka-user", str(tmp_path))
        for name, value in settings.items()
    }

    security = quickstart().kafka_security(environment)

    assert security["security_protocol"] == "SSL"
    assert asyncio.run(_client_seen_by_a_broker(files, security["ssl_context"])) == ANALYSTS


# --- copy-certificate.sh, against a kubectl that answers from a dictionary -------------------------

FAKE_KUBECTL = r"""#!/usr/bin/env bash
# get: a secret's key from $SECRETS/<namespace>/<secret>/<key>; create --dry-run: the object; apply: record it
echo "$*" >>"$CALLS"
namespace=$2
case $3 in
  get)
    key=${7#jsonpath=\{.data.}; key=${key%\}}; key=${key//\\./.}
    base64 -w0 <"$SECRETS/$namespace/$5/$key" 2>/dev/null || true ;;
  create)
    echo "secret $namespace/$6"
    for source in "${@:7}"; do
      [[ $source == --from-file=* ]] || continue
      source=${source#--from-file=}
      echo "  ${source%%=*}: $(cat "${source#*=}")"
    done ;;
  apply) cat >>"$APPLIED" ;;
esac
"""


def copy_certificate(tmp_path: Path, secrets: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], Path]:
    bin_dir, store = tmp_path / "bin", tmp_path / "secrets"
    bin_dir.mkdir()
    (bin_dir / "kubectl").write_text(FAKE_KUBECTL)
    (bin_dir / "kubectl").chmod(0o755)
    for path, value in secrets.items():
        (store / path).parent.mkdir(parents=True, exist_ok=True)
        (store / path).write_text(value)
    environment = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "SECRETS": str(store),
        "CALLS": str(tmp_path / "calls"),
        "APPLIED": str(tmp_path / "applied"),
    }
    script = ROOT / "deploy" / "k8s" / "analysts" / "copy-certificate.sh"
    done = subprocess.run(["bash", str(script), "lrs"], capture_output=True, text=True, env=environment, check=False)
    return done, tmp_path


def test_copy_certificate_brings_the_analysts_certificate_and_the_cluster_ca_into_their_namespace(
    tmp_path: Path,
) -> None:
    done, work = copy_certificate(
        tmp_path,
        {
            "lrs/lrs-analysts/user.crt": "ANALYSTS-CERT",
            "lrs/lrs-analysts/user.key": "ANALYSTS-KEY",
            "lrs/lrs-cluster-ca-cert/ca.crt": "CLUSTER-CA",
            "lrs/lrs-reporting/user.key": "REPORTING-KEY",
        },
    )

    assert done.returncode == 0, done.stderr
    assert (work / "applied").read_text() == (
        "secret lrs-analysts/lrs-analysts\n  user.crt: ANALYSTS-CERT\n  user.key: ANALYSTS-KEY\n"
        "secret lrs-analysts/lrs-cluster-ca-cert\n  ca.crt: CLUSTER-CA\n"
    )
    assert "ANALYSTS-KEY" not in (work / "calls").read_text()  # never on a command line


def test_copy_certificate_refuses_before_the_user_operator_has_made_the_certificate(tmp_path: Path) -> None:
    done, work = copy_certificate(tmp_path, {"lrs/lrs-cluster-ca-cert/ca.crt": "CLUSTER-CA"})

    assert done.returncode == 1
    assert "lrs/lrs-analysts has no user.crt" in done.stderr
    assert not (work / "applied").exists()
