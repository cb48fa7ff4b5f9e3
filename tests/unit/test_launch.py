"""The worker launch: a local OS process with its pid file, or a Spot instance via RunInstances (moto)."""

from __future__ import annotations

import base64
import dataclasses
import os
import uuid
from typing import Any

import pytest

from manga2video.errors import WorkerLaunchError
from manga2video.jobs import Chapter
from manga2video.launch import launch_worker, local_paths
from manga2video.services import Services


def claimed_job(services: Services) -> str:
    chapter = Chapter(
        chapter_key=f"truyen-thu/{uuid.uuid4().hex[:8]}",
        comic_key="truyen-thu",
        comic_title="Truyện Thử",
        chapter_title="Chương 1",
        chapter_url="http://127.0.0.1/truyen-thu/chap-1",
    )
    return services.jobs.claim_chapter(chapter, owner="test", lease_seconds=3600, max_failures=3)["job_id"]


def with_settings(services: Services, **overrides: Any) -> Services:
    return Services(dataclasses.replace(services.settings, **overrides))


def event(job_id: str, kind: str = "renderer") -> dict[str, str]:
    return {"kind": kind, "job_id": job_id, "task_token": "token-" + "x" * 600, "execution_name": "day-1"}


def test_local_backend_starts_the_worker_process_and_writes_its_pid(services: Services, tmp_path):
    job_id = claimed_job(services)
    local = with_settings(services, launch_backend="local", local_state_dir=str(tmp_path / "state"))

    result = launch_worker(event(job_id), local)

    log_path, pid_path = local_paths(local.settings, job_id, "renderer")
    assert result == {"launched": "renderer", "backend": "local", "pid": int(pid_path.read_text())}
    _, status = os.waitpid(result["pid"], 0)  # it has no manifest, so it reports a failure and ends
    assert os.waitstatus_to_exitcode(status) == 1
    log = log_path.read_text()
    assert '"state":"WaitForRender"' in log and f'"job_id":"{job_id}"' in log and "task failed" in log
    assert services.jobs.get(job_id)["current_worker"]["pid"] == result["pid"]


@pytest.fixture
def launch_template(aws: Any) -> str:
    ec2 = aws.client("ec2")
    image = ec2.describe_images()["Images"][0]["ImageId"]
    ec2.create_launch_template(
        LaunchTemplateName="m2v-renderer", LaunchTemplateData={"ImageId": image, "InstanceType": "c7i.large"}
    )
    return "m2v-renderer"


def test_ec2_backend_runs_a_spot_instance_from_the_template(services: Services, launch_template: str, aws: Any):
    job_id = claimed_job(services)
    ec2_services = with_settings(services, launch_backend="ec2", renderer_launch_template=launch_template)
    ec2 = ec2_services.client("ec2")
    sent: dict[str, Any] = {}
    ec2.meta.events.register("provide-client-params.ec2.RunInstances", lambda params, **_: sent.update(params))

    result = launch_worker(event(job_id), ec2_services)

    assert result["launched"] == "renderer" and result["backend"] == "ec2"
    assert sent["LaunchTemplate"]["LaunchTemplateName"] == launch_template
    assert sent["InstanceMarketOptions"]["MarketType"] == "spot"
    script = sent["UserData"]
    assert f"python3 -m workers.renderer.main --job-id {job_id} --task-token token-xxx" in script
    assert f"export AWS_REGION={services.settings.region}" in script
    instance = aws.client("ec2").describe_instances(InstanceIds=[result["instance_id"]])["Reservations"][0]
    tags = {tag["Key"]: tag["Value"] for tag in instance["Instances"][0]["Tags"]}
    assert tags["manga2video:job_id"] == job_id
    stored = aws.client("ec2").describe_instance_attribute(InstanceId=result["instance_id"], Attribute="userData")
    assert base64.b64decode(stored["UserData"]["Value"]).decode() == script
    assert services.jobs.get(job_id)["current_worker"]["instance_id"] == result["instance_id"]


def test_ec2_launch_failure_is_a_worker_launch_error(services: Services, aws: Any):
    job_id = claimed_job(services)
    missing = with_settings(services, launch_backend="ec2", renderer_launch_template="m2v-no-such-template")
    with pytest.raises(WorkerLaunchError, match="m2v-no-such-template"):
        launch_worker(event(job_id), missing)
    unset = with_settings(services, launch_backend="ec2", uploader_launch_template="")
    with pytest.raises(WorkerLaunchError, match="no launch template"):
        launch_worker(event(job_id, "uploader"), unset)
    assert "current_worker" not in services.jobs.get(job_id)


def test_unknown_kind_is_refused(services: Services):
    with pytest.raises(WorkerLaunchError, match="unknown worker kind"):
        launch_worker({"kind": "painter", "job_id": "j", "task_token": "t"}, services)
