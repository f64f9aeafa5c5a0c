"""`lrs batch submit|status`: the AO's side of Submit and View Achievement Batch."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from lrs_cli.client import CommandError, Connection, expect_ok
from lrs_domain.formats import detect_format

FINAL_STATES = {"completed", "failed", "refused"}


def submit(connection: Connection, file: str, idempotency_key: str | None) -> str:
    path = Path(file)
    content = path.read_bytes()
    fmt = detect_format(None, path.name, content[:512])
    if fmt is None:
        raise CommandError(f"cannot tell the format of {path.name}: use .csv, .xml or .json")
    headers = {"Content-Type": {"csv": "text/csv", "xml": "application/xml", "json": "application/json"}[fmt.value]}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    with connection.client("ingest") as client:
        accepted = expect_ok(client.post("/v1/batches", content=content, headers=headers))
    return str(accepted["batch_id"])


def status(connection: Connection, batch_id: str, wait: float, show_records: bool) -> str:
    deadline = time.monotonic() + wait
    with connection.client("ingest") as client:
        while True:
            batch = expect_ok(client.get(f"/v1/batches/{batch_id}"))
            if batch["status"] in FINAL_STATES or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
        lines = [_summary(batch)]
        if show_records:
            page = expect_ok(client.get(f"/v1/batches/{batch_id}/records", params={"page_size": 1000}))
            lines.extend(_record_line(record) for record in page["records"])
    return "\n".join(lines)


def _summary(batch: dict[str, Any]) -> str:
    counts = batch.get("counts") or {}
    text = f"batch {batch['batch_id']}: {batch['status']}"
    if counts:
        text += (
            f" - {counts.get('total', 0)} records, {counts.get('accepted', 0)} accepted,"
            f" {counts.get('rejected', 0)} rejected, {counts.get('no_ops', 0)} unchanged,"
            f" {counts.get('warnings', 0)} warnings"
        )
    if batch.get("failure_code"):
        text += f"\n  {batch['failure_code']}: {batch.get('failure_reason', '')}"
    return text


def _record_line(record: dict[str, Any]) -> str:
    codes = ", ".join(finding["code"] for finding in [*record.get("errors", []), *record.get("warnings", [])])
    return f"  line {record['line']:>5}  {record['status']:<8} {record.get('mis_identifier') or '':<20} {codes}"
