"""Ratios to the baselines, the issue's targets, and the printed table."""

from __future__ import annotations

from typing import Any

TARGETS = {
    "latency_p50_s": ("<=", 2.0),
    "sustained_records_per_s": (">=", 10_000),
    "replay_events_per_s": (">=", 50_000),
    "pipeline_vs_kafka_round_trip": (">=", 0.40),
    "max_service_rss_mb": ("<=", 300),
}


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ratio(numerator: float | None, denominator: float | None) -> float | None:
    return round(numerator / denominator, 3) if numerator and denominator else None


def stage_rates(result: dict[str, Any]) -> dict[str, Any]:
    """Records per second of the pipeline and of each stage: from the sustained run when there is
    one, else from the latency batches (records / median stage time)."""
    if "sustained" in result:
        sustained = result["sustained"]
        stages = sustained["stages"]
        return {
            "source": "sustained",
            "pipeline": sustained["records_per_s"],
            "ingest": stages["ingest"]["records_per_s"],
            "validation": stages["validation"]["records_per_s"],
            "projection": stages["projection"]["records_per_s"],
        }
    latency = result.get("latency")
    if not latency:
        return {"source": None}
    records = latency["runs"][0]["records"]
    stages = latency["stages"]

    def per_s(stage: str) -> float | None:
        seconds = _get(stages, stage, "p50")
        return round(records / seconds) if seconds else None

    return {
        "source": "latency",
        "pipeline": per_s("end_to_end_s"),
        "ingest": per_s("ingest_s"),
        "validation": per_s("validation_s"),
        "projection": per_s("projection_s"),
    }


def ratios(result: dict[str, Any]) -> dict[str, Any]:
    rates = stage_rates(result)
    kafka = _get(result, "baselines", "kafka") or {}
    copy = _get(result, "baselines", "postgres_copy") or {}
    replay = result.get("replay") or {}
    return {
        "source": rates.get("source"),
        "pipeline_vs_kafka_round_trip": _ratio(rates.get("pipeline"), kafka.get("round_trip_per_s")),
        "ingest_vs_kafka_produce": _ratio(rates.get("ingest"), kafka.get("produce_per_s")),
        "validation_vs_kafka_round_trip": _ratio(rates.get("validation"), kafka.get("round_trip_per_s")),
        "projection_vs_postgres_copy": _ratio(rates.get("projection"), copy.get("records_per_s")),
        "projection_vs_kafka_consume": _ratio(rates.get("projection"), kafka.get("consume_per_s")),
        "replay_vs_kafka_consume": _ratio(
            replay.get("events_per_s"), _get(replay, "baseline_consume", "consume_per_s")
        ),
        "replay_vs_postgres_copy": _ratio(replay.get("events_per_s"), copy.get("records_per_s")),
    }


def _max_rss(result: dict[str, Any]) -> float | None:
    peaks = [mb for phase in result.get("memory_peak_mb", {}).values() for mb in phase.values()]
    return max(peaks) if peaks else None


def targets(result: dict[str, Any]) -> dict[str, Any]:
    measured = {
        "latency_p50_s": _get(result, "latency", "p50"),
        "sustained_records_per_s": _get(result, "sustained", "records_per_s"),
        "replay_events_per_s": _get(result, "replay", "events_per_s"),
        "pipeline_vs_kafka_round_trip": _get(result, "ratios", "pipeline_vs_kafka_round_trip"),
        "max_service_rss_mb": _max_rss(result),
    }
    out: dict[str, Any] = {}
    for name, (operator, goal) in TARGETS.items():
        value = measured[name]
        met = None if value is None else (value <= goal if operator == "<=" else value >= goal)
        out[name] = {"target": f"{operator} {goal:g}", "measured": value, "met": met}
    return out


# --- the table ----------------------------------------------------------------------------------


def _n(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and value < 100:
        return f"{value:.2f}{unit}"
    return f"{value:,.0f}{unit}"


def _row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()


def table(result: dict[str, Any]) -> str:
    m = result["machine"]
    plan = result["plan"]
    lines = [
        f"LRS benchmark ({result['mode']}) {result['started_at']}, {result['duration_s']:.0f} s"
        f" | {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB, PostgreSQL {m.get('postgresql')}",
    ]
    rows: list[list[str]] = [["measure", "measured", "target", "baseline (same run)", "ratio"]]
    latency = result.get("latency") or {}
    stages = latency.get("stages", {})
    if latency:
        rows.append(
            [
                f"batch latency p50 / p95 ({plan['records']:,} rec, {len(latency['runs'])} runs)",
                f"{_n(latency.get('p50'), ' s')} / {_n(latency.get('p95'), ' s')}",
                "p50 <= 2 s",
                "",
                "",
            ]
        )
        for stage in ("ingest_s", "validation_s", "projection_s", "batch_view_s"):
            if stage in stages:
                rows.append(
                    [f"  {stage[:-2].replace('_', ' ')} p50 / p95", f"{_n(stages[stage]['p50'], ' s')} / {_n(stages[stage]['p95'], ' s')}", "", "", ""]
                )  # fmt: skip
    kafka = _get(result, "baselines", "kafka") or {}
    copy = _get(result, "baselines", "postgres_copy") or {}
    r = result.get("ratios") or {}
    rates = stage_rates(result)
    label = "sustained" if rates.get("source") == "sustained" else "single batch"
    if rates.get("source"):
        rows.append(
            [f"{label}: end to end (rec/s)", _n(rates["pipeline"]), ">= 10,000" if label == "sustained" else "",
             f"kafka round trip {_n(kafka.get('round_trip_per_s'))}/s", f"{_n(r.get('pipeline_vs_kafka_round_trip'))} (>= 0.40)"]
        )  # fmt: skip
        rows.append(
            ["  ingest (rec/s)", _n(rates["ingest"]), "", f"kafka produce {_n(kafka.get('produce_per_s'))}/s",
             _n(r.get("ingest_vs_kafka_produce"))]
        )  # fmt: skip
        rows.append(
            ["  validation (rec/s)", _n(rates["validation"]), "", f"kafka round trip {_n(kafka.get('round_trip_per_s'))}/s",
             _n(r.get("validation_vs_kafka_round_trip"))]
        )  # fmt: skip
        rows.append(
            ["  projection (rec/s)", _n(rates["projection"]), "", f"PG COPY {_n(copy.get('records_per_s'))}/s",
             _n(r.get("projection_vs_postgres_copy"))]
        )  # fmt: skip
    sustained = result.get("sustained")
    if sustained:
        for stage, data in sustained["stages"].items():
            rows.append([f"  {stage} busy (rec/s of service time)", _n(data.get("busy_records_per_s")), "", "", ""])
    replay = result.get("replay")
    if replay:
        rows.append(
            [f"replay: rebuild of {replay['events']:,} events (ev/s)", _n(replay["events_per_s"]), ">= 50,000",
             f"kafka consume {_n(_get(replay, 'baseline_consume', 'consume_per_s'))}/s", _n(r.get("replay_vs_kafka_consume"))]
        )  # fmt: skip
        rows.append(["", "", "", f"PG COPY {_n(copy.get('records_per_s'))}/s", _n(r.get("replay_vs_postgres_copy"))])
    for phase, peaks in (result.get("memory_peak_mb") or {}).items():
        rows.append(
            [f"peak RSS during {phase} (MB)", ", ".join(f"{name} {mb:.0f}" for name, mb in peaks.items()), "<= 300 each", "", ""]
        )  # fmt: skip
    if replay:
        rows.append(["peak RSS during replay (MB)", f"plr-projector {replay['peak_rss_mb']:.0f}", "<= 300", "", ""])
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines += [_row(rows[0], widths), _row(["-" * w for w in widths], widths), *(_row(row, widths) for row in rows[1:])]
    missed = [name for name, t in (result.get("targets") or {}).items() if t["met"] is False]
    if missed:
        lines.append(f"targets not reached: {', '.join(missed)}")
    return "\n".join(lines)
