"""The renderer worker: `python -m workers.renderer.main --job-id ID --task-token TOKEN`.

Renders the job's manifest under heartbeats, with the Spot notice watched on its own
thread, then moves the job to `rendered` and reports the keys to Step Functions.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from manga2video.config import get_settings
from manga2video.errors import RenderError, SpotInterrupted
from manga2video.render import render_job
from manga2video.render.ffmpeg import FfmpegRunner
from manga2video.render.spot import SpotWatcher, spot_watch_enabled
from manga2video.services import Services
from workers.callback import TaskCallback, run_task, spot_time_recorder, worker_arguments

STATE = "WaitForRender"


def _stop_when_task_gone(callback: TaskCallback, runner: FfmpegRunner) -> None:
    """Once Step Functions stops waiting (TaskTimedOut), rendering on is wasted Spot time."""
    callback.task_gone.wait()
    runner.interrupt(RenderError("Step Functions no longer waits for this render"))


def render(job_id: str, services: Services, callback: TaskCallback) -> dict[str, Any]:
    """The work: render, record on the job, return the success output for $.render."""
    runner = FfmpegRunner()
    threading.Thread(target=_stop_when_task_gone, args=(callback, runner), name="task-gone", daemon=True).start()
    watcher = (
        SpotWatcher(services.settings, on_notice=lambda notice: runner.interrupt(SpotInterrupted(notice)))
        if spot_watch_enabled(services.settings)
        else None
    )
    with tempfile.TemporaryDirectory(prefix=f"render-{job_id}-") as workdir, watcher or contextlib.nullcontext():
        try:
            output = render_job(job_id, services, runner, Path(workdir))
        except Exception:
            if watcher is not None:
                watcher.raise_if_noticed()  # whatever broke, the instance is going away: retry on a new one
            raise
    services.jobs.transition(
        job_id,
        "rendered",
        video_key=output["video_key"],
        thumbnail_key=output["thumbnail_key"],
        video_duration_s=output["duration_s"],
    )
    return output


def run_renderer(job_id: str, token: str, services: Services, sfn: Any = None) -> int:
    return run_task(
        state=STATE,
        job_id=job_id,
        token=token,
        sfn=sfn or services.client("stepfunctions"),
        heartbeat_seconds=services.settings.worker_heartbeat_seconds,
        work=lambda callback: render(job_id, services, callback),
        record_seconds=spot_time_recorder(services, job_id, "renderer"),
    )


def main() -> int:
    args = worker_arguments("Render a job's video from its manifest and report to Step Functions.")
    return run_renderer(args.job_id, args.task_token, Services(get_settings()))


if __name__ == "__main__":
    sys.exit(main())
