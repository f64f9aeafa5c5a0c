"""Every latency alert the docs suggest can fire: `histogram_quantile(…) > N` on a histogram whose highest finite
bucket is N or less is never true. A quantile that falls in the +Inf bucket is answered as the highest finite bound,
so the "decisions slow" alert (`… lrs_validation_decision_seconds_bucket … > 10`, on prometheus_client's default
buckets, whose top is 10 s) could not fire however slow the decider was."""

from __future__ import annotations

import importlib
import math
import re
from pathlib import Path
from typing import NamedTuple

import pytest
from prometheus_client import REGISTRY, Histogram

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted([*ROOT.glob("docs/**/*.md"), *ROOT.glob("services/*/README.md")])
METRIC_MODULES = ("lrs_platform.http", "validation.decider", "ingest.metrics", "plr_projector.metrics")
"""The modules that define the services' histograms: imported, each registers its metrics in `REGISTRY`."""

_FENCED = re.compile(r"```.*?```", re.DOTALL)
_SPAN = re.compile(r"`([^`]+)`")
_BUCKET = re.compile(r"\b(lrs_\w+)_bucket\b")
_THRESHOLD = re.compile(r">\s*([0-9]+(?:\.[0-9]+)?)\s*$")


class QuantileAlert(NamedTuple):
    page: str
    expression: str
    metric: str
    threshold: float


def _expressions(text: str) -> list[str]:
    """The inline code spans (which may run over lines) and the lines of fenced blocks."""
    fenced = [line for block in _FENCED.findall(text) for line in block.splitlines()]
    return [*_SPAN.findall(_FENCED.sub("", text)), *fenced]


def quantile_alerts() -> list[QuantileAlert]:
    alerts = []
    for page in PAGES:
        for expression in _expressions(page.read_text(encoding="utf-8")):
            if "histogram_quantile" not in expression:
                continue
            threshold = _THRESHOLD.search(expression.strip())
            if threshold is None:  # a quantile shown, not compared: nothing to fire
                continue
            for metric in sorted(set(_BUCKET.findall(expression))):
                alerts.append(
                    QuantileAlert(
                        str(page.relative_to(ROOT)), " ".join(expression.split()), metric, float(threshold.group(1))
                    )
                )
    return alerts


def highest_finite_bucket(metric: str) -> float:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    collector = REGISTRY._names_to_collectors.get(f"{metric}_bucket")
    assert isinstance(collector, Histogram), f"{metric}: no histogram of that name in {METRIC_MODULES}"
    return max(bound for bound in collector._upper_bounds if not math.isinf(bound))


ALERTS = quantile_alerts()


def test_the_docs_suggest_a_latency_alert_at_all() -> None:
    """The scan finds what it checks (the "decisions slow" alert of docs/operations.md): not vacuous."""
    assert any(alert.metric == "lrs_validation_decision_seconds" for alert in ALERTS)


@pytest.mark.parametrize("alert", ALERTS, ids=lambda alert: f"{alert.page}:{alert.metric}>{alert.threshold:g}")
def test_every_quantile_alert_has_buckets_above_its_threshold(alert: QuantileAlert) -> None:
    top = highest_finite_bucket(alert.metric)
    assert top > alert.threshold, (
        f"{alert.page}: `{alert.expression}` can never fire: {alert.metric}'s highest finite bucket is {top:g},"
        f" and a quantile beyond it is answered as {top:g}: give the histogram buckets past {alert.threshold:g}"
    )


def test_the_http_latency_reaches_a_minute() -> None:
    """No alert uses it yet; a submission answered 503 after ingest's 30 s publish timeout must be measurable."""
    assert highest_finite_bucket("lrs_http_request_seconds") >= 60
