"""A worker's side of a waitForTaskToken task: heartbeats, then exactly one result.

Heartbeats go out on their own thread every `heartbeat_seconds`; once a result is sent,
or Step Functions says the task timed out, nothing more is sent. A failure is reported
with the exception's class name as the error, which is what the ASL's Retry and Catch
match, and a short cause.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from manga2video.observability import bind, logger
from manga2video.services import Services

GONE = frozenset({"TaskTimedOut", "TaskDoesNotExist", "InvalidToken"})
CAUSE_LIMIT = 1000


class TaskCallback:
    def __init__(self, sfn: Any, token: str, *, heartbeat_seconds: float = 60.0) -> None:
        self._sfn = sfn
        self._token = token
        self._interval = heartbeat_seconds
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._finished = False
        self.heartbeats_sent = 0
        self.task_gone = threading.Event()  # set when Step Functions no longer waits for us
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def __enter__(self) -> TaskCallback:
        self._thread.start()
        return self

    def __exit__(self, exc_type: Any, exc: BaseException | None, tb: Any) -> None:
        if exc is not None and not self._finished:
            self.fail(exc)
        self.stop_heartbeats()

    def stop_heartbeats(self) -> None:
        self._stopped.set()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5)

    def _beat(self) -> None:
        while not self._stopped.wait(self._interval):
            with self._lock:
                if self._finished:
                    return
                try:
                    self._sfn.send_task_heartbeat(taskToken=self._token)
                    self.heartbeats_sent += 1
                except ClientError as exc:
                    if exc.response["Error"]["Code"] in GONE:
                        logger.warning("task no longer waits for this worker; stopping heartbeats")
                        self.task_gone.set()
                        return
                    logger.warning("heartbeat failed, will try again", extra={"error": str(exc)})

    def succeed(self, output: dict[str, Any]) -> None:
        self._send(lambda: self._sfn.send_task_success(taskToken=self._token, output=json.dumps(output)))

    def fail(self, exc: BaseException) -> None:
        error = type(exc).__name__
        cause = (str(exc) or error)[:CAUSE_LIMIT]
        logger.error("task failed", extra={"error": error, "error_message": cause})
        self._send(lambda: self._sfn.send_task_failure(taskToken=self._token, error=error[:256], cause=cause))

    def _send(self, call: Callable[[], Any]) -> None:
        """Send the one result; later calls and calls after the task is gone do nothing."""
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._stopped.set()
            if self.task_gone.is_set():
                return
            try:
                call()
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in GONE:
                    raise
                logger.warning("result not delivered: the task is gone", extra={"error": str(exc)})


def worker_arguments(description: str) -> argparse.Namespace:
    """The command line every worker takes, locally and in EC2 user-data."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--job-id", required=True)
    parser.add_argument("--task-token", required=True)
    return parser.parse_args()


def spot_time_recorder(services: Services, job_id: str, kind: str) -> Callable[[float], None]:
    """run_task's `record_seconds` for a worker of this kind: its run as Spot cost on the job."""
    usd_per_hour = services.settings.worker_usd_per_hour(kind)
    return lambda seconds: services.jobs.add_worker_time(job_id, seconds, usd_per_hour)


def run_task(
    *,
    state: str,
    job_id: str,
    token: str,
    sfn: Any,
    heartbeat_seconds: float,
    work: Callable[[TaskCallback], dict],
    record_seconds: Callable[[float], None] | None = None,
) -> int:
    """Run `work` under heartbeats and report its result; the exit code says if it succeeded.

    `record_seconds` gets the run's wall time afterwards, whatever the outcome (the job's
    Spot cost); if recording fails, that is logged and the result stands.
    """
    bind(state=state, job_id=job_id)
    started = time.monotonic()
    try:
        with TaskCallback(sfn, token, heartbeat_seconds=heartbeat_seconds) as callback:
            try:
                output = work(callback)
            except Exception as exc:  # every failure is reported by its class name, then the worker exits
                callback.fail(exc)
                return 1
            callback.succeed(output)
        return 0
    finally:
        if record_seconds is not None:
            try:
                record_seconds(time.monotonic() - started)
            except Exception as exc:  # bookkeeping only: the result is already with Step Functions
                logger.warning("could not record the worker's time on the job", extra={"error": repr(exc)})
