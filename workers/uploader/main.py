"""The uploader worker: `python -m workers.uploader.main --job-id ID --task-token TOKEN`.

Started by WaitForUpload's launch (a Spot instance's user-data, or a local process); it
uploads the rendered video, resuming a session an interrupted instance left in S3, and
answers the task token: the upload result, or the error class the ASL catches. On a Spot
notice it stops between two chunks with SpotInterrupted, which the ASL retries at once.
"""

from __future__ import annotations

import contextlib
import sys

from manga2video.config import get_settings
from manga2video.errors import UploadError
from manga2video.render.spot import SpotWatcher, spot_watch_enabled
from manga2video.services import Services
from manga2video.youtube.upload import upload_job
from workers.callback import TaskCallback, run_task, spot_time_recorder, worker_arguments

STATE = "WaitForUpload"


def upload(job_id: str, services: Services, callback: TaskCallback) -> dict:
    """The work: upload, record on the job, return the success output for $.upload."""
    watcher = SpotWatcher(services.settings, on_notice=lambda _notice: None)

    def check_stop() -> None:
        if callback.task_gone.is_set():
            raise UploadError("Step Functions no longer waits for this worker; its retry owns the upload now")
        watcher.raise_if_noticed()

    with watcher if spot_watch_enabled(services.settings) else contextlib.nullcontext():
        result = upload_job(job_id, services, check_stop=check_stop)
    services.jobs.transition(
        job_id, "uploaded", video_id=result["video_id"], video_url=result["url"], upload_channel=result["channel"]
    )
    return result


def main() -> int:
    args = worker_arguments("Upload a rendered job's video to YouTube, resuming an interrupted upload.")
    services = Services(get_settings())
    return run_task(
        state=STATE,
        job_id=args.job_id,
        token=args.task_token,
        sfn=services.client("stepfunctions"),
        heartbeat_seconds=services.settings.worker_heartbeat_seconds,
        work=lambda callback: upload(args.job_id, services, callback),
        record_seconds=spot_time_recorder(services, args.job_id, "uploader"),
    )


if __name__ == "__main__":
    sys.exit(main())
