"""The layout the code keeps: services never import each other, the domain core does no I/O (no file but the
reference data it ships), and every Kafka client is built by `lrs_platform.kafka` (so each connects as the
environment says: TLS in a cluster)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICE_PACKAGES = {
    path.name: path.parent.parent.name
    for path in ROOT.glob("services/*/src/*")
    if path.is_dir() and (path / "__init__.py").exists()
}
SOURCE_TREES = [
    *ROOT.glob("services/*/src"),
    *ROOT.glob("libs/*/src"),
    ROOT / "contracts" / "src",
    ROOT / "tools/cli/src",
]
IO_LIBRARIES = {"asyncio", "asyncpg", "aiokafka", "faust", "fastapi", "starlette", "httpx", "socket", "aiosmtpd"}
KAFKA_CLIENTS = {"AIOKafkaAdminClient", "AIOKafkaConsumer", "AIOKafkaProducer"}
KAFKA_CLIENT_MODULE = ROOT / "libs/platform/src/lrs_platform/kafka.py"


def modules(tree: Path) -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(tree.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def imported(module: ast.Module) -> Iterator[str]:
    """The top-level package of every import in the module, local ones included."""
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_the_service_packages_are_found() -> None:
    assert set(SERVICE_PACKAGES) >= {"ingest", "validation", "plr_projector", "challenges", "notifier", "reporting"}


def imports_of(tree: Path, packages: set[str]) -> list[str]:
    """`file: package` for each import in `tree` of one of `packages`."""
    return [
        f"{path.relative_to(ROOT)}: {name}"
        for path, module in modules(tree)
        for name in imported(module)
        if name in packages
    ]


@pytest.mark.parametrize("package", sorted(SERVICE_PACKAGES))
def test_a_service_imports_no_other_service(package: str) -> None:
    others = set(SERVICE_PACKAGES) - {package}
    assert imports_of(ROOT / "services" / SERVICE_PACKAGES[package] / "src", others) == []


def test_the_domain_core_imports_no_io_library() -> None:
    assert imports_of(ROOT / "libs/domain/src", IO_LIBRARIES) == []


# The domain reads no file but its own package data, the reference files it ships (read once a process), in one
# module; a path may be named (the XSD beside the XML reader), not opened.
FILE_LIBRARIES = {"os", "shutil", "tempfile", "subprocess", "importlib"}  # io: its StringIO reads text in memory
FILE_READERS = {"open", "read_text", "read_bytes", "write_text", "write_bytes"}
PACKAGE_DATA_MODULE = ROOT / "libs/domain/src/lrs_domain/reference_files/__init__.py"


def test_the_domain_core_reads_files_only_in_its_package_data_module() -> None:
    found = []
    for path, module in modules(ROOT / "libs/domain/src"):
        if path == PACKAGE_DATA_MODULE:
            continue
        found += [f"{path.relative_to(ROOT)}: import {name}" for name in imported(module) if name in FILE_LIBRARIES]
        for node in ast.walk(module):
            if isinstance(node, ast.Call):
                called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if called in FILE_READERS:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {called}()")
    assert found == []


def test_every_kafka_client_is_built_by_lrs_platform_kafka() -> None:
    found = []
    for tree in SOURCE_TREES:
        for path, module in modules(tree):
            if path == KAFKA_CLIENT_MODULE:
                continue
            for node in ast.walk(module):
                if isinstance(node, ast.Call):
                    called = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                    if called in KAFKA_CLIENTS:
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {called}")
    assert found == []
