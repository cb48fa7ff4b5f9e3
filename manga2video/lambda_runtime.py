"""What every Lambda handler shares: services built once per container, log context, metrics.

A handler is `handler = state_handler("CheckQuota")(steps.check_quota)`: it parses nothing
itself beyond the event dict, calls the core and returns the core's small dict. An
exception propagates unchanged, so Lambda reports its class name as the errorType and
the ASL's Retry and Catch match on it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from manga2video.config import get_settings
from manga2video.observability import bind, logger, metrics
from manga2video.services import Services

Step = Callable[[Mapping[str, Any], Services], dict[str, Any]]


@functools.cache
def default_services() -> Services:
    """One Services per Lambda container (clients are reused across warm invocations)."""
    return Services(get_settings())


def job_id_of(event: Mapping[str, Any]) -> str | None:
    job = event.get("job")
    if isinstance(job, Mapping) and job.get("job_id"):
        return str(job["job_id"])
    return str(event["job_id"]) if event.get("job_id") else None


def state_handler(state: str, services: Callable[[], Services] = default_services) -> Callable[[Step], Callable]:
    def wrap(step: Step) -> Callable[[Mapping[str, Any], Any], dict[str, Any]]:
        @functools.wraps(step)
        def handler(event: Mapping[str, Any], context: Any = None) -> dict[str, Any]:
            bind(state=state, job_id=job_id_of(event))
            logger.info("state started")
            try:
                result = step(event, services())
            except Exception as exc:
                logger.warning("state failed", extra={"error": type(exc).__name__, "error_message": str(exc)[:500]})
                raise
            finally:
                if metrics.metric_set:
                    metrics.flush_metrics()
            logger.info("state finished", extra={"result": result})
            return result

        return handler

    return wrap
