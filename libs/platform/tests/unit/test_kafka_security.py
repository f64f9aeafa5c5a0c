"""Every Kafka client of a service connects the way the environment says: plain text or mutual TLS."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lrs_platform.kafka import KafkaSecurity


def write_self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "validation")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certificate_file = directory / "user.crt"
    key_file = directory / "user.key"
    certificate_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_file, key_file


def use_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """TLS settings with a self-signed certificate that serves as its own authority."""
    certificate, key = write_self_signed(tmp_path)
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(certificate))
    monkeypatch.setenv("KAFKA_SSL_CERTFILE", str(certificate))
    monkeypatch.setenv("KAFKA_SSL_KEYFILE", str(key))


def test_plain_text_adds_nothing_to_the_clients_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL", raising=False)
    assert KafkaSecurity().client_options() == {}


def test_tls_gives_every_client_a_context_with_the_service_certificate(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    use_tls(monkeypatch, tmp_path)

    options = KafkaSecurity().client_options()

    assert options["security_protocol"] == "SSL"
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_a_missing_certificate_fails_at_start_not_at_the_first_message(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(tmp_path / "absent.crt"))
    with pytest.raises(FileNotFoundError):
        KafkaSecurity().client_options()


def test_clients_built_outside_lrs_platform_get_the_same_context(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from lrs_platform import kafka

    use_tls(monkeypatch, tmp_path)
    kafka.connection_options.cache_clear()
    try:
        assert isinstance(kafka.tls_context(), ssl.SSLContext)
    finally:
        kafka.connection_options.cache_clear()
    monkeypatch.delenv("KAFKA_SECURITY_PROTOCOL")
    assert kafka.tls_context() is None
    kafka.connection_options.cache_clear()
