"""`make validate` and the invariants between the ASL, errors.py, the lambdas/ folders and the seam."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from moto.awslambda_simple.models import LambdaSimpleBackend

from manga2video import errors
from manga2video.local import asl, validation
from manga2video.local.emulator import LocalAws, function_arn

ROOT = Path(__file__).resolve().parents[2]
VALIDATE = [sys.executable, str(ROOT / "scripts" / "validate_asl.py")]


def run_validate(path: Path | None = None) -> subprocess.CompletedProcess[str]:
    args = VALIDATE + (["--definition", str(path)] if path else [])
    return subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)


def test_make_validate_accepts_the_pipeline() -> None:
    result = run_validate()
    assert result.returncode == 0, result.stderr


def broken_copies() -> dict[str, str]:
    raw = asl.read_raw()
    definition = asl.load_raw_definition()
    dangling = json.loads(raw)
    dangling["States"]["GenerateScript"]["Next"] = "NoSuchState"
    unknown_error = json.loads(raw)
    unknown_error["States"]["Cleanup"]["Retry"][0]["ErrorEquals"].append("MadeUpError")
    all_first = json.loads(raw)
    all_first["States"]["Cleanup"]["Catch"].insert(0, {"ErrorEquals": ["States.ALL"], "Next": "HandleError"})
    unknown_placeholder = json.loads(raw)
    unknown_placeholder["States"]["Cleanup"]["Resource"] = "${no_such_function_arn}"
    return {
        "dangling Next": json.dumps(dangling),
        "unknown error name": json.dumps(unknown_error),
        "States.ALL before a specific catch": json.dumps(all_first),
        "placeholder without a value": json.dumps(unknown_placeholder),
        "unquoted placeholder (invalid JSON)": raw.replace(
            '"${renderer_heartbeat_seconds}"', "${renderer_heartbeat_seconds}"
        ),
        "no StartAt": json.dumps({key: value for key, value in definition.items() if key != "StartAt"}),
    }


@pytest.mark.parametrize("breakage", sorted(broken_copies()))
def test_make_validate_fails_on_a_deliberately_broken_definition(tmp_path: Path, breakage: str) -> None:
    path = tmp_path / "broken.asl.json"
    path.write_text(broken_copies()[breakage], encoding="utf-8")
    result = run_validate(path)
    assert result.returncode == 1, f"{breakage} was accepted"
    assert "ASL problem" in result.stderr


def test_error_names_in_the_asl_and_in_errors_py_are_the_same() -> None:
    named = validation.error_names(asl.load_raw_definition()) - errors.AWS_ERROR_NAMES
    assert named == set(errors.custom_error_names())


def test_every_custom_error_is_raised_somewhere() -> None:
    assert validation.raised_error_names() == set(errors.custom_error_names())


def test_every_placeholder_is_quoted_and_has_a_value() -> None:
    raw = asl.read_raw()
    json.loads(raw)  # placeholders sit inside strings, so the raw file is JSON
    values = asl.local_values(lambda folder: function_arn("us-east-1", folder))
    assert asl.placeholders(raw) == set(values)
    rendered = json.loads(asl.render(raw, values))
    assert rendered["States"]["WaitForRender"]["HeartbeatSeconds"] == 300
    assert rendered["States"]["WaitForRender"]["TimeoutSeconds"] == 4 * 3600


def test_only_placeholders_become_numbers() -> None:
    """The number rule must not touch a literal string of digits in the hand-written file."""
    assert not asl.NUMERIC_STRING.search(asl.read_raw())


def test_each_task_state_has_its_own_lambda_folder_with_a_handler() -> None:
    folders = asl.task_state_folders(asl.load_raw_definition())
    on_disk = {path.parent.name for path in (ROOT / "lambdas").glob("*/handler.py")}
    assert set(folders.values()) == on_disk
    assert len(set(folders.values())) == len(folders), "one folder per state"


def test_lambda_tasks_retry_and_catch_as_the_design_says() -> None:
    for name, state in asl.states(asl.load_raw_definition()):
        if state["Type"] != "Task":
            continue
        assert state["Catch"][-1]["ErrorEquals"] == ["States.ALL"], name
        assert state["Catch"][-1]["Next"] in {"HandleError", "CheckMoreVideos"}, name
        transient = [rule for rule in state["Retry"] if "States.TaskFailed" in rule["ErrorEquals"]]
        assert len(transient) == 1, name
        assert transient[0]["MaxAttempts"] == 2 and transient[0]["BackoffRate"] == 2.0, name
        assert transient[0]["IntervalSeconds"] == "${lambda_retry_interval_seconds}", name
    upload_catches = asl.load_raw_definition()["States"]["WaitForUpload"]["Catch"]
    assert upload_catches[0] == {"ErrorEquals": ["YouTubeQuotaError"], "ResultPath": "$.error", "Next": "QuotaReached"}


def test_moto_is_pinned_and_the_lambda_seam_is_ours(local_aws: LocalAws) -> None:
    requirements = (ROOT / "requirements.txt").read_text()
    import moto

    assert f"moto[server,stepfunctions]=={moto.__version__}" in requirements
    assert LambdaSimpleBackend.invoke.__qualname__.startswith("LambdaDispatcher.install")


def test_a_raising_handler_fails_like_a_lambda_with_its_class_name(aws: LocalAws) -> None:
    def broken(event: dict, context: object) -> dict:
        raise errors.NoImagesError("chapter 12 has no images")

    aws.dispatcher.overrides["prepare_script_input"] = broken
    response = aws.client("lambda").invoke(FunctionName=function_arn(aws.region, "prepare_script_input"), Payload=b"{}")
    assert response["FunctionError"] == "Unhandled"
    body = json.loads(response["Payload"].read())
    assert body["errorType"] == "NoImagesError"
    assert body["errorMessage"] == "chapter 12 has no images"
