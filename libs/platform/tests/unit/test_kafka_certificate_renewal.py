"""A renewed Kafka client certificate (or cluster CA) is used at the next connection, without a restart.

Strimzi renews a KafkaUser's certificate before it expires and the kubelet swaps the mounted Secret's files; a
process that kept the certificate it read at start was refused by every broker once that one expired, for good.
Here a broker's TLS listener (client certificates required) runs in a thread, the certificate files sit in a
directory laid out like a Secret volume (`user.crt` -> `..data/user.crt`, `..data` swapped atomically), and each
connection is made by aiokafka's own connection code with the context every client of the process shares."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import os
import queue
import shutil
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client import REGISTRY
from structlog.testing import capture_logs

from lrs_platform import kafka
from lrs_platform.kafka import KafkaSecurity, RenewableTlsContext

NOW = datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Issued:
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    @property
    def serial(self) -> int:
        return self.certificate.serial_number


def authority(name: str) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - datetime.timedelta(days=1))
        .not_valid_after(NOW + datetime.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(key, certificate)


def issue(
    ca: Issued,
    name: str,
    *,
    server: bool = False,
    valid_from: datetime.timedelta = datetime.timedelta(minutes=-5),
    valid_until: datetime.timedelta = datetime.timedelta(minutes=10),
) -> Issued:
    """A short-lived certificate `ca` signs: a broker's (for 127.0.0.1) or a KafkaUser's."""
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW + valid_from)
        .not_valid_after(NOW + valid_until)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [x509.oid.ExtendedKeyUsageOID.SERVER_AUTH if server else x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
    return Issued(key, builder.sign(ca.key, hashes.SHA256()))


class SecretVolume:
    """A directory as the kubelet keeps a mounted Secret: each visible file is a symlink into `..data`, itself a
    symlink to the current generation's directory, swapped with one rename when the Secret changes."""

    def __init__(self, root: Path) -> None:
        root.mkdir()
        self.root = root
        self._generation = 0

    def path(self, name: str) -> str:
        return str(self.root / name)

    def publish(self, files: dict[str, bytes]) -> None:
        self._generation += 1
        generation = self.root / f"..{self._generation}"
        generation.mkdir()
        for name, content in files.items():
            (generation / name).write_bytes(content)
        staged = self.root / "..data_tmp"
        staged.symlink_to(generation.name)
        data = self.root / "..data"
        previous = data.resolve() if data.is_symlink() else None
        os.replace(staged, data)
        for name in files:
            visible = self.root / name
            if not visible.is_symlink():
                visible.symlink_to(Path("..data") / name)
        if previous is not None:
            shutil.rmtree(previous)  # as the kubelet does: the old files are gone

    def overwrite(self, name: str, content: bytes) -> None:
        """Writes over one file where it is, not atomically (what a reader may catch half way)."""
        (self.root / "..data" / name).write_bytes(content)


class Broker:
    """A broker's TLS listener: it requires a client certificate that `clients_ca` signed and records, for each
    connection, the serial number of the certificate the client presented, or why the handshake failed."""

    def __init__(self, directory: Path, server: Issued, clients_ca: Issued) -> None:
        directory.mkdir()
        (directory / "broker.crt").write_bytes(server.certificate_pem)
        (directory / "broker.key").write_bytes(server.key_pem)
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._context.load_cert_chain(directory / "broker.crt", directory / "broker.key")
        self._context.verify_mode = ssl.CERT_REQUIRED
        self._context.load_verify_locations(cadata=clients_ca.certificate_pem.decode())
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.outcomes: queue.Queue[int | str] = queue.Queue()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(10)
                try:
                    with self._context.wrap_socket(connection, server_side=True) as tls:
                        presented = tls.getpeercert(binary_form=True)
                        assert presented is not None
                        self.outcomes.put(x509.load_der_x509_certificate(presented).serial_number)
                except OSError as error:  # ssl.SSLError among them
                    self.outcomes.put(f"refused: {error}")

    def connect(self, context: ssl.SSLContext) -> int | str:
        """One connection as every Kafka client of the process makes it (aiokafka's), then what the broker saw."""

        async def connect() -> None:
            connection = await create_conn(
                "127.0.0.1", self.port, ssl_context=context, security_protocol="SSL", request_timeout_ms=10_000
            )
            connection.close()

        with contextlib.suppress(KafkaError, OSError, TimeoutError):  # no broker: past the handshake nothing answers
            asyncio.run(connect())
        return self.outcomes.get(timeout=10)

    def close(self) -> None:
        self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(10)


@dataclass
class Cluster:
    cluster_ca: Issued
    clients_ca: Issued
    broker: Broker
    user: SecretVolume
    ca: SecretVolume

    def client(
        self,
        name: str,
        valid_from: datetime.timedelta = datetime.timedelta(minutes=-5),
        valid_until: datetime.timedelta = datetime.timedelta(minutes=10),
    ) -> Issued:
        return issue(self.clients_ca, name, valid_from=valid_from, valid_until=valid_until)

    def publish_user(self, user: Issued, *, key: Issued | None = None) -> None:
        self.user.publish({"user.crt": user.certificate_pem, "user.key": (key or user).key_pem})


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    cluster_ca, clients_ca = authority("cluster-ca"), authority("clients-ca")
    broker = Broker(tmp_path / "broker", issue(cluster_ca, "broker", server=True), clients_ca)
    user, ca = SecretVolume(tmp_path / "kafka-user"), SecretVolume(tmp_path / "kafka-ca")
    ca.publish({"ca.crt": cluster_ca.certificate_pem})
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", ca.path("ca.crt"))
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", user.path("user.crt"))
    monkeypatch.setenv("KAFKA_SSL_KEYFILE", user.path("user.key"))
    try:
        yield Cluster(cluster_ca, clients_ca, broker, user, ca)
    finally:
        broker.close()


def shared_context() -> ssl.SSLContext:
    context = KafkaSecurity().client_options()["ssl_context"]
    assert isinstance(context, ssl.SSLContext)
    return context


def expires_gauge() -> float | None:
    return REGISTRY.get_sample_value("lrs_kafka_certificate_expires_seconds")


def test_a_renewed_client_certificate_is_presented_at_the_next_connection(cluster: Cluster) -> None:
    first, renewed = cluster.client("ingest"), cluster.client("ingest")
    cluster.publish_user(first)
    context = shared_context()
    assert cluster.broker.connect(context) == first.serial

    cluster.publish_user(renewed)

    assert cluster.broker.connect(context) == renewed.serial


def test_once_the_old_certificate_has_expired_the_renewed_one_connects(cluster: Cluster) -> None:
    # what happened on the cluster: the old certificate expired, every reconnect was refused, readiness failed for good
    expired = cluster.client(
        "ingest", valid_from=datetime.timedelta(days=-2), valid_until=datetime.timedelta(minutes=-1)
    )
    cluster.publish_user(expired)
    context = shared_context()
    assert str(cluster.broker.connect(context)).startswith("refused")

    renewed = cluster.client("ingest")
    cluster.publish_user(renewed)

    assert cluster.broker.connect(context) == renewed.serial


def test_a_renewed_cluster_ca_is_trusted_at_the_next_connection(cluster: Cluster, tmp_path: Path) -> None:
    user = cluster.client("ingest")
    cluster.publish_user(user)
    context = shared_context()
    # the brokers now show certificates of a new cluster CA, which the mounted ca.crt does not hold yet
    new_ca = authority("cluster-ca")
    rolled = Broker(tmp_path / "rolled", issue(new_ca, "broker", server=True), cluster.clients_ca)
    try:
        assert str(rolled.connect(context)).startswith("refused")

        cluster.ca.publish({"ca.crt": new_ca.certificate_pem + cluster.cluster_ca.certificate_pem})

        assert rolled.connect(context) == user.serial
    finally:
        rolled.close()


def test_files_that_do_not_load_leave_the_certificate_in_use(cluster: Cluster) -> None:
    first, renewed = cluster.client("ingest"), cluster.client("ingest")
    cluster.publish_user(first)
    context = shared_context()
    assert cluster.broker.connect(context) == first.serial

    with capture_logs() as logs:
        cluster.user.overwrite("user.crt", renewed.certificate_pem[:200])  # caught half written
        half_written = cluster.broker.connect(context)
        cluster.publish_user(renewed, key=first)  # the new certificate beside the old key
        key_not_matching = cluster.broker.connect(context)
        cluster.user.overwrite("user.crt", b"")
        emptied = cluster.broker.connect(context)
        cluster.publish_user(renewed)
        whole = cluster.broker.connect(context)

    assert (half_written, key_not_matching, emptied) == (first.serial, first.serial, first.serial)
    assert whole == renewed.serial
    events = [entry["event"] for entry in logs]
    assert events == ["kafka_tls_reload_failed"] * 3 + ["kafka_tls_reloaded"]
    failed = logs[0]
    assert failed["log_level"] == "warning"
    assert failed["files"] == [cluster.ca.path("ca.crt"), cluster.user.path("user.crt"), cluster.user.path("user.key")]
    assert failed["still_presenting_certificate_expiring"] == first.certificate.not_valid_after_utc.isoformat()
    assert logs[-1]["certificate_expires"] == renewed.certificate.not_valid_after_utc.isoformat()
    said = repr(logs)
    for key in (first, renewed):
        assert key.key_pem.decode().splitlines()[1] not in said


def test_files_that_failed_are_not_loaded_again_at_every_connection(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = cluster.client("ingest")
    cluster.publish_user(first)
    context = shared_context()
    cluster.user.overwrite("user.crt", b"-----BEGIN CERTIFICATE-----\n")
    loads: list[KafkaSecurity] = []
    load = KafkaSecurity.new_context

    def counted(self: KafkaSecurity) -> ssl.SSLContext:
        loads.append(self)
        return load(self)

    monkeypatch.setattr(KafkaSecurity, "new_context", counted)

    with capture_logs() as logs:
        outcomes = [cluster.broker.connect(context) for _ in range(3)]

    assert outcomes == [first.serial] * 3
    assert len(loads) == 1
    assert [entry["event"] for entry in logs] == ["kafka_tls_reload_failed"]


def test_the_gauge_shows_the_renewed_certificates_expiry_without_a_connection(cluster: Cluster) -> None:
    first = cluster.client("ingest", valid_until=datetime.timedelta(minutes=10))
    renewed = cluster.client("ingest", valid_until=datetime.timedelta(days=1))
    cluster.publish_user(first)
    context = shared_context()
    assert isinstance(context, RenewableTlsContext)
    assert expires_gauge() == first.certificate.not_valid_after_utc.timestamp()

    cluster.publish_user(renewed)

    assert expires_gauge() == renewed.certificate.not_valid_after_utc.timestamp()
    assert cluster.broker.connect(context) == renewed.serial


def test_clients_built_elsewhere_get_the_renewing_context(cluster: Cluster) -> None:
    """faust (reporting) is handed `tls_context()` and gives aiokafka that very object."""
    first, renewed = cluster.client("reporting"), cluster.client("reporting")
    cluster.publish_user(first)
    kafka.connection_options.cache_clear()
    try:
        context = kafka.tls_context()
        assert context is not None
        assert context is kafka.connection_options()["ssl_context"]
        assert cluster.broker.connect(context) == first.serial
        cluster.publish_user(renewed)
        assert cluster.broker.connect(context) == renewed.serial
    finally:
        kafka.connection_options.cache_clear()
