"""The uploader worker: `python -m workers.uploader.main --job-id ID --task-token TOKEN`.

Started by WaitForUpload's launch (a Spot instance's user-data, or a local process); it
uploads the rendered video, resuming a session an interrupted instance left in S3, and
answers the task token: the upload result, or the error class the ASL catches.
"""

from __future__ import annotations

import sys

from manga2video.config import get_settings
from manga2video.services import Services
from manga2video.youtube import upload_job
from workers.callback import TaskCallback, run_task, worker_arguments


def main() -> int:
    args = worker_arguments("Upload a rendered job's video to YouTube, resuming an interrupted upload.")
    settings = get_settings()
    services = Services(settings)

    def work(callback: TaskCallback) -> dict:
        result = upload_job(args.job_id, services, cancelled=callback.task_gone)
        services.jobs.transition(
            args.job_id,
            "uploaded",
            video_id=result["video_id"],
            video_url=result["url"],
            upload_channel=result["channel"],
        )
        return result

    return run_task(
        state="WaitForUpload",
        job_id=args.job_id,
        token=args.task_token,
        sfn=services.client("stepfunctions"),
        heartbeat_seconds=settings.worker_heartbeat_seconds,
        work=work,
    )


if __name__ == "__main__":
    sys.exit(main())
