"""Ratios to the baselines, the issue's targets, and the printed table."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Issue #10's bars. The benchmark's first targets (10,000 records/s, 0.40 of the round trip) were its
# founding aims; the issue that governs it since set these, and the pages measure against them.
TARGETS = {
    "latency_p50_s": ("<=", 2.0),
    "latency_p95_s": ("<=", 2.5),
    "sustained_records_per_s": (">=", 8_000),
    "replay_events_per_s": (">=", 50_000),
    "replay_rate_1m_vs_100k": (">=", 0.80),
    "pipeline_vs_kafka_round_trip": (">=", 0.30),
    "max_service_rss_mb": ("<=", 300),
}


def _target(name: str, unit: str = "") -> str:
    operator, goal = TARGETS[name]
    return f"{operator} {goal:,g}{unit}"


def lookup(document: dict[str, Any], *path: str) -> Any:
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
        seconds = lookup(stages, stage, "p50")
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
    kafka = lookup(result, "baselines", "kafka") or {}
    copy = lookup(result, "baselines", "postgres_copy") or {}
    replay = result.get("replay") or {}
    return {
        "source": rates.get("source"),
        "pipeline_vs_kafka_round_trip": _ratio(rates.get("pipeline"), kafka.get("round_trip_per_s")),
        "ingest_vs_kafka_produce": _ratio(rates.get("ingest"), kafka.get("produce_per_s")),
        "validation_vs_kafka_round_trip": _ratio(rates.get("validation"), kafka.get("round_trip_per_s")),
        "projection_vs_postgres_copy": _ratio(rates.get("projection"), copy.get("records_per_s")),
        "projection_vs_kafka_consume": _ratio(rates.get("projection"), kafka.get("consume_per_s")),
        "replay_vs_kafka_consume": _ratio(
            replay.get("events_per_s"), lookup(replay, "baseline_consume", "consume_per_s")
        ),
        "replay_vs_postgres_copy": _ratio(replay.get("events_per_s"), copy.get("records_per_s")),
    }


def _replay_scaling(result: dict[str, Any]) -> float | None:
    """The headline worker count's rate at the largest log over its rate at the smallest, when the
    ladder spans at least 100,000 to 1,000,000 events."""
    replay = result.get("replay") or {}
    entry = lookup(replay, "scaling", str(replay.get("headline_workers")))
    if not entry or entry["smallest"] > 100_000 or entry["largest"] < 1_000_000:
        return None
    ratio: float | None = entry["rate_ratio"]
    return ratio


def _max_rss(result: dict[str, Any]) -> float | None:
    peaks = [mb for phase in result.get("memory_peak_mb", {}).values() for mb in phase.values()]
    return max(peaks) if peaks else None


def targets(result: dict[str, Any]) -> dict[str, Any]:
    measured = {
        "latency_p50_s": lookup(result, "latency", "p50"),
        "latency_p95_s": lookup(result, "latency", "p95"),
        "sustained_records_per_s": lookup(result, "sustained", "records_per_s"),
        "replay_events_per_s": lookup(result, "replay", "events_per_s"),
        "replay_rate_1m_vs_100k": _replay_scaling(result),
        "pipeline_vs_kafka_round_trip": lookup(result, "ratios", "pipeline_vs_kafka_round_trip"),
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


def _heading(result: dict[str, Any]) -> str:
    m = result["machine"]
    return (
        f"LRS benchmark ({result['mode']}) {result['started_at']}, {result['duration_s']:.0f} s"
        f" | {m['cpus']} CPUs {m['cpu_model']}, {m['memory_gb']} GB, PostgreSQL {m.get('postgresql')}"
    )


def _rows(result: dict[str, Any]) -> list[list[str]]:
    """measure, measured, target, baseline, ratio: one list per line of the table."""
    rows: list[list[str]] = []

    def add(measure: str, measured: str, target: str = "", baseline: str = "", ratio: str = "") -> None:
        rows.append([measure, measured, target, baseline, ratio])

    latency = result.get("latency") or {}
    if latency:
        records = latency["runs"][0]["records"]
        add(
            f"batch latency p50 / p95 ({records:,} records, {len(latency['runs'])} run{'s' * (len(latency['runs']) > 1)})",
            f"{_n(latency.get('p50'), ' s')} / {_n(latency.get('p95'), ' s')}",
            f"p50 {_target('latency_p50_s', ' s')}, p95 {_target('latency_p95_s', ' s')}",
        )
        for stage in ("ingest_s", "validation_s", "projection_s", "batch_view_s"):
            if stage in latency["stages"]:
                times = latency["stages"][stage]
                add(
                    f"  {stage[:-2].replace('_', ' ')} p50 / p95",
                    f"{_n(times['p50'], ' s')} / {_n(times['p95'], ' s')}",
                )
    kafka = lookup(result, "baselines", "kafka") or {}
    copy = lookup(result, "baselines", "postgres_copy") or {}
    ratio = result.get("ratios") or {}
    rates = stage_rates(result)
    round_trip = f"kafka round trip {_n(kafka.get('round_trip_per_s'))}/s"
    if rates.get("source"):
        sustained = rates["source"] == "sustained"
        add(
            f"{'sustained' if sustained else 'single batch'}: end to end (records/s)",
            _n(rates["pipeline"]),
            f"{_target('sustained_records_per_s')}; {_target('pipeline_vs_kafka_round_trip')} of baseline"
            if sustained
            else f"{_target('pipeline_vs_kafka_round_trip')} of baseline",
            round_trip,
            _n(ratio.get("pipeline_vs_kafka_round_trip")),
        )
        add(
            "  ingest (records/s)",
            _n(rates["ingest"]),
            "",
            f"kafka produce {_n(kafka.get('produce_per_s'))}/s",
            _n(ratio.get("ingest_vs_kafka_produce")),
        )
        add(
            "  validation (records/s)",
            _n(rates["validation"]),
            "",
            round_trip,
            _n(ratio.get("validation_vs_kafka_round_trip")),
        )
        add(
            "  projection (records/s)",
            _n(rates["projection"]),
            "",
            f"PG COPY {_n(copy.get('records_per_s'))}/s",
            _n(ratio.get("projection_vs_postgres_copy")),
        )
    for stage, data in (lookup(result, "sustained", "stages") or {}).items():
        note = ", incl. lock wait" if stage == "ingest" else ""
        add(f"  {stage} by its own time{note} (records/s)", _n(data.get("busy_records_per_s")))
    replay = result.get("replay")
    if replay:
        _replay_rows(replay, ratio, copy, add)
    for phase, peaks in (result.get("memory_peak_mb") or {}).items():
        add(
            f"peak RSS during {phase} (MB)",
            ", ".join(f"{name} {mb:.0f}" for name, mb in peaks.items()),
            f"{_target('max_service_rss_mb')} each",
        )
    if replay:
        largest = replay.get("largest_process_rss_mb")
        alone = f", its largest process {largest:.0f}" if largest else ""
        add(
            "peak RSS during replay (MB)",
            f"plr-projector with its workers {replay['peak_rss_mb']:.0f} together{alone}",
            f"{_target('max_service_rss_mb')} a process",
        )
    for phase, seconds in (result.get("cpu_s") or {}).items():
        add(f"CPU seconds during {phase}", ", ".join(f"{name} {cpu:.1f}" for name, cpu in seconds.items()))
    return rows


def _replay_rows(replay: dict[str, Any], ratio: dict[str, Any], copy: dict[str, Any], add: Callable[..., None]) -> None:
    consume = f"kafka consume {_n(lookup(replay, 'baseline_consume', 'consume_per_s'))}/s"
    runs = replay.get("runs")
    if not runs:  # a result from before the ladder: one rebuild through the projector's own runner
        add(
            f"replay: rebuild from {replay['events']:,} events (events/s)",
            _n(replay["events_per_s"]),
            _target("replay_events_per_s"),
        )
        add("", "", "", consume, _n(ratio.get("replay_vs_kafka_consume")))
        return
    sizes = sorted({run["events"] for run in runs})
    for workers in sorted({run["workers"] for run in runs}):
        rates = {run["events"]: run["events_per_s"] for run in runs if run["workers"] == workers}
        largest = rates.get(max(sizes))
        consume_rate = lookup(replay, "baseline_consume", "consume_per_s")
        add(
            f"rebuild, {workers} worker{'s' * (workers > 1)}: {' / '.join(f'{size:,}' for size in sizes)} events"
            " (events/s)",
            " / ".join(_n(rates.get(size)) for size in sizes),
            _target("replay_events_per_s"),
            consume,
            _n(_ratio(largest, consume_rate)),
        )
    cpu = {run["workers"]: run.get("worker_cpu_us_per_event") for run in runs if run["events"] == max(sizes)}
    if any(cpu.values()):
        add(
            f"  workers' CPU per event at {max(sizes):,} events (us)",
            ", ".join(f"{workers} worker{'s' * (workers > 1)} {_n(value)}" for workers, value in sorted(cpu.items())),
        )
    scaling = replay.get("scaling") or {}
    headline = scaling.get(str(replay.get("headline_workers"))) or {}
    if headline.get("rate_ratio") is not None:
        add(
            f"  rate at {headline['largest']:,} / at {headline['smallest']:,} events"
            f" ({replay['headline_workers']} workers)",
            _n(headline["rate_ratio"]),
            _target("replay_rate_1m_vs_100k"),
        )
    lines = {workers: entry for workers, entry in scaling.items() if entry.get("hours_for_1e8") is not None}
    if lines:
        add(
            "  hours to rebuild 10^8 events (line through the sizes)",
            ", ".join(
                f"{workers} worker{'s' * (int(workers) > 1)} {entry['hours_for_1e8']:.1f} h"
                f" ({entry['us_per_event']:.1f} us/event + {entry['fixed_s']:.0f} s)"
                for workers, entry in sorted(lines.items())
            ),
        )
    if copy.get("records_per_s"):
        add("", "", "", f"PG COPY {_n(copy.get('records_per_s'))}/s", _n(ratio.get("replay_vs_postgres_copy")))


_HEADER = ["measure", "measured", "target", "baseline (same run)", "ratio"]


def _missed(result: dict[str, Any]) -> list[str]:
    return [name for name, target in (result.get("targets") or {}).items() if target["met"] is False]


def table(result: dict[str, Any]) -> str:
    """The plain-text table `bench.run` prints."""
    rows = [_HEADER, *_rows(result)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths, strict=True)).rstrip()

    lines = [_heading(result), line(_HEADER), line(["-" * w for w in widths]), *(line(row) for row in rows[1:])]
    if _missed(result):
        lines.append(f"targets not reached: {', '.join(_missed(result))}")
    return "\n".join(lines)


def _md(cell: str) -> str:
    return "· " + cell.strip() if cell.startswith("  ") else cell or " "


def markdown(result: dict[str, Any]) -> str:
    """The same table in Markdown, for docs/performance.md: `python -m bench.report RESULT.json`."""
    lines = [_heading(result), "", "| " + " | ".join(_HEADER) + " |", "|" + "---|" * len(_HEADER)]
    lines += ["| " + " | ".join(_md(cell) for cell in row) + " |" for row in _rows(result)]
    if _missed(result):
        lines += ["", f"Targets not reached: {', '.join(_missed(result))}."]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown(json.loads(Path(sys.argv[1]).read_text())))
