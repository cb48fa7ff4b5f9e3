"""Structured JSON logs and CloudWatch metrics, through aws-lambda-powertools.

Every log line carries job_id and state once `bind` has been called; the local runner
sends these lines to a file so the terminal can show a human progress display instead.
"""

from __future__ import annotations

import logging
import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit

SERVICE = "manga2video"
NAMESPACE = "Manga2Video"

logger = Logger(service=SERVICE, level=os.environ.get("POWERTOOLS_LOG_LEVEL", "INFO"))
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)

__all__ = ["NAMESPACE", "MetricUnit", "bind", "count_by", "logger", "metrics", "send_logs_to"]


def bind(*, state: str, job_id: str | None) -> None:
    """Put job_id and state on every following log line of this invocation."""
    logger.append_keys(state=state, job_id=job_id or "-")


def send_logs_to(path: str) -> None:
    """Write the JSON log lines to a file instead of stdout (local runs)."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logger.registered_formatter)
    for existing in list(logger.handlers):  # Logger passes these through to its logging.Logger
        logger.removeHandler(existing)
    logger.addHandler(handler)


def count_by(name: str, *, dimension: str, value: str) -> None:
    """Emit one Count with its own dimension now, apart from the shared metric set.

    powertools' single_metric ignores POWERTOOLS_METRICS_DISABLED (the local run sets it);
    EphemeralMetrics shares no state and honours it.
    """
    one = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    one.add_dimension(name=dimension, value=value)
    one.add_metric(name=name, unit=MetricUnit.Count, value=1)
    one.flush_metrics()
