"""WaitForRender / WaitForUpload: start a worker that carries this task's token.

On AWS the worker is a one-time Spot instance from the kind's launch template; its
user-data exports the pipeline's settings and runs `python3 -m workers.<kind>.main`, then
powers the instance off (the template terminates it on shutdown). Locally it is a
separate OS process, logged and with a pid file, so a runner can watch or stop it.
The Lambda returns at once; the worker answers Step Functions with the token itself.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from manga2video.config import Settings
from manga2video.errors import WorkerLaunchError
from manga2video.observability import logger
from manga2video.services import Services

REPO_ROOT = Path(__file__).resolve().parents[1]
# where the AMI keeps this repository (see scripts/build_ami.sh and the README)
WORKER_HOME = "/opt/manga2video"
TEMPLATE_SETTING = {"renderer": "renderer_launch_template", "uploader": "uploader_launch_template"}
# what a worker needs from the Lambda's environment: every pipeline setting and the log setup
EXPORTED_PREFIXES = ("M2V_", "POWERTOOLS_")


def worker_command(kind: str, job_id: str, token: str, python: str) -> list[str]:
    return [python, "-m", f"workers.{kind}.main", "--job-id", job_id, "--task-token", token]


def user_data(kind: str, job_id: str, token: str, settings: Settings, env: Mapping[str, str]) -> str:
    """The instance's boot script: the pipeline's environment, the worker, then power off."""
    exported = {name: value for name, value in sorted(env.items()) if name.startswith(EXPORTED_PREFIXES)}
    exported |= {"AWS_REGION": settings.region, "AWS_DEFAULT_REGION": settings.region, "M2V_LAUNCH_BACKEND": "ec2"}
    lines = [
        "#!/bin/bash",
        f"# manga2video {kind} for job {job_id}",
        "set -uo pipefail",
        *(f"export {name}={shlex.quote(value)}" for name, value in exported.items()),
        f"export PATH={WORKER_HOME}/.venv/bin:$PATH",
        f"cd {WORKER_HOME}",
        f"{shlex.join(worker_command(kind, job_id, token, 'python3'))} 2>&1 | tee -a /var/log/manga2video-{kind}.log",
        "shutdown -h now",  # the launch asks for terminate-on-shutdown: a finished worker costs nothing
    ]
    return "\n".join(lines) + "\n"


def _launch_ec2(kind: str, job_id: str, token: str, execution: str, services: Services) -> dict[str, Any]:
    settings = services.settings
    template = getattr(settings, TEMPLATE_SETTING[kind])
    if not template:
        raise WorkerLaunchError(f"no launch template configured for the {kind} (M2V_{kind.upper()}_LAUNCH_TEMPLATE)")
    template_ref = {"LaunchTemplateId" if template.startswith("lt-") else "LaunchTemplateName": template}
    tags = {"Name": f"manga2video-{kind}", "manga2video:job_id": job_id, "manga2video:kind": kind}
    if execution:
        tags["manga2video:execution"] = execution
    try:
        response = services.client("ec2").run_instances(
            LaunchTemplate={**template_ref, "Version": "$Latest"},
            MinCount=1,
            MaxCount=1,
            InstanceMarketOptions={
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
            },
            InstanceInitiatedShutdownBehavior="terminate",
            UserData=user_data(kind, job_id, token, settings, os.environ),
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}
            ],
            # a retried Lambda invocation for the same task must not start a second instance
            ClientToken=hashlib.sha256(f"{kind}:{job_id}:{token}".encode()).hexdigest()[:64],
        )
    except (ClientError, BotoCoreError) as exc:
        raise WorkerLaunchError(f"could not start a Spot {kind} from {template}: {exc}") from exc
    instances = response.get("Instances") or []
    if not instances:
        raise WorkerLaunchError(f"RunInstances started no {kind} instance from {template}")
    return {"launched": kind, "backend": "ec2", "instance_id": instances[0]["InstanceId"]}


def local_paths(settings: Settings, job_id: str, kind: str) -> tuple[Path, Path]:
    """The local worker's log and pid files."""
    folder = Path(settings.local_state_dir).resolve() / "workers"
    return folder / f"{job_id}-{kind}.log", folder / f"{job_id}-{kind}.pid"


def _launch_local(kind: str, job_id: str, token: str, services: Services) -> dict[str, Any]:
    log_path, pid_path = local_paths(services.settings, job_id, kind)
    try:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                worker_command(kind, job_id, token, sys.executable),
                cwd=REPO_ROOT,
                env=dict(os.environ),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a runner stops it and its ffmpeg with one killpg
            )
        pid_path.write_text(f"{process.pid}\n", encoding="utf-8")
    except OSError as exc:
        raise WorkerLaunchError(f"could not start the local {kind}: {exc}") from exc
    return {"launched": kind, "backend": "local", "pid": process.pid}


def launch_worker(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """Start the worker for this callback task and record it on the job."""
    kind = str(event.get("kind", ""))
    if kind not in TEMPLATE_SETTING:
        raise WorkerLaunchError(f"unknown worker kind {kind!r}; expected one of {sorted(TEMPLATE_SETTING)}")
    job_id, token = str(event["job_id"]), str(event["task_token"])
    execution = str(event.get("execution_name") or "")
    backend = services.settings.launch_backend
    if backend == "ec2":
        launched = _launch_ec2(kind, job_id, token, execution, services)
    elif backend == "local":
        launched = _launch_local(kind, job_id, token, services)
    else:
        raise WorkerLaunchError(f"unknown launch backend {backend!r}; expected ec2 or local")
    worker = {key: value for key, value in launched.items() if key != "launched"}
    services.jobs.update_fields(
        job_id, current_worker={"kind": kind, **worker, "execution": execution, "launched_at": int(time.time())}
    )
    logger.info("worker launched", extra=launched)
    return launched
