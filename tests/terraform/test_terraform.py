"""terraform/: formatted, valid offline, clean under checkov, consistent with the code, and
applied for real against moto on loopback, whose state machine then runs a happy path.

Terraform is required (CI installs it and sets TF_PLUGIN_DIR to the provider mirror); so is
checkov, from .venv-tools (`make tools`) or the CHECKOV environment variable.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import time
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.core.responses import ActionResult
from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser
from moto.stepfunctions.responses import StepFunctionResponse

from manga2video.local import asl
from manga2video.local.emulator import ACCOUNT_ID, FUNCTION_PREFIX, LocalAws, entered_states
from manga2video.local.mock_config import load_cases
from tests.terraform import code_calls

pytestmark = pytest.mark.terraform

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "terraform"
MOCK_CONFIG = ROOT / "tests" / "statemachine" / "mock_config.json"
NAME_PREFIX = FUNCTION_PREFIX.rstrip("-")  # the emulator's dispatcher maps m2v-<folder> to lambdas/<folder>
# What the Lambda service needs for every function, whatever its code does: its log stream,
# X-Ray segments (tracing is Active) and the key that encrypts its environment.
LAMBDA_RUNTIME_ACTIONS = {
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "kms:Decrypt",
}
# What the CloudWatch agent on the worker AMI needs to ship the workers' logs.
WORKER_RUNTIME_ACTIONS = {"logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"}
# Services the module creates resources in; each gets the moto endpoint in the override file.
PROVIDER_ENDPOINTS = (
    "cloudwatch",
    "cloudwatchlogs",
    "dynamodb",
    "ec2",
    "iam",
    "kms",
    "lambda",
    "s3",
    "scheduler",
    "sfn",
    "sns",
    "ssm",
    "sts",
)
REQUIRED_VARIABLES = {"worker_ami_id": "ami-0123456789abcdef0", "source_base_url": "http://127.0.0.1:8765"}


# --- running terraform ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def terraform() -> str:
    path = shutil.which("terraform")
    if path is None:
        pytest.fail("terraform is not on PATH: install Terraform >= 1.5 (CI images have it)")
    return path


def run(command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 600) -> str:
    """Run a command; on failure, fail the test with its output."""
    result = subprocess.run(
        command, cwd=cwd, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout
    )
    if result.returncode != 0:
        shown = " ".join(command[:3])
        pytest.fail(f"{shown} ... failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result.stdout


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory, terraform: str) -> Path:
    """A copy of the module beside links to lambdas/ and statemachine/, initialised offline when
    TF_PLUGIN_DIR is set, so tests never touch terraform/.terraform or leave state behind."""
    base = tmp_path_factory.mktemp("tf")
    module = base / "terraform"
    module.mkdir()
    for path in MODULE.glob("*.tf"):
        if path.name != "backend.tf" and not path.name.endswith("_override.tf"):  # a user's own state and overrides
            shutil.copy2(path, module / path.name)
    for linked in ("lambdas", "statemachine"):
        (base / linked).symlink_to(ROOT / linked)
    plugin_dir = os.environ.get("TF_PLUGIN_DIR")
    run(
        [terraform, "init", "-input=false", "-no-color", *([f"-plugin-dir={plugin_dir}"] if plugin_dir else [])], module
    )
    return module


def var_flags(values: dict[str, Any]) -> list[str]:
    return [f"-var={name}={value}" for name, value in values.items()]


def console(terraform: str, module: Path, expression: str) -> Any:
    """Evaluate one expression against the configuration, without credentials or state."""
    env = {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [terraform, "console", "-no-color", *var_flags(REQUIRED_VARIABLES)],
        cwd=module,
        input=f"jsonencode({expression})\n",
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if result.returncode != 0:
        pytest.fail(f"terraform console failed:\n{result.stderr[-3000:]}")
    return json.loads(json.loads(result.stdout.strip().splitlines()[-1]))


@pytest.fixture(scope="module")
def module_facts(terraform: str, workspace: Path) -> dict[str, Any]:
    return console(
        terraform,
        workspace,
        "{folders = local.lambda_folders, lambda_actions = local.lambda_actions,"
        " runtime_actions = local.lambda_runtime_actions, worker_actions = local.worker_actions,"
        " worker_runtime_actions = local.worker_runtime_actions,"
        " lambda_tables = local.lambda_tables, worker_tables = local.worker_tables,"
        " asl_variables = keys(local.asl_variables)}",
    )


# --- static checks --------------------------------------------------------------------------------------
def test_terraform_files_are_formatted(terraform: str) -> None:
    run([terraform, "fmt", "-check", "-recursive", "-diff", "-no-color", str(MODULE)], ROOT)


def test_module_validates_offline(terraform: str, workspace: Path) -> None:
    output = run([terraform, "validate", "-json", "-no-color"], workspace)
    report = json.loads(output)
    assert report["valid"], report["diagnostics"]
    assert report["warning_count"] == 0, report["diagnostics"]


def checkov_binary() -> str:
    configured = os.environ.get("CHECKOV")
    if configured:
        return configured
    tools = ROOT / ".venv-tools" / "bin" / "checkov"
    if not tools.exists():
        pytest.fail(
            "checkov is missing: run `make tools` (installs it into .venv-tools) or set CHECKOV=/path/to/checkov"
        )
    return str(tools)


def test_checkov_finds_nothing_and_every_skip_says_why() -> None:
    result = subprocess.run(
        [checkov_binary(), "-d", str(MODULE), "--framework", "terraform", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if not result.stdout.lstrip().startswith("{"):
        pytest.fail(f"checkov gave no report ({result.returncode}):\n{result.stderr[-3000:]}")
    report = json.loads(result.stdout)
    failed = report["results"]["failed_checks"]
    assert not failed, "\n".join(
        f"{c['check_id']} {c['resource']} ({c['file_path']}): {c['check_name']}" for c in failed
    )
    assert report["summary"]["parsing_errors"] == 0
    for check in report["results"].get("skipped_checks", []):
        reason = (check["check_result"].get("suppress_comment") or "").strip()
        where = f"{check['check_id']} on {check['resource']}"
        assert len(reason) > 20, f"{where} is skipped without a reason"
        inline = f"#checkov:skip={check['check_id']}:{reason}"
        assert inline in Path(check["file_abs_path"]).read_text(), f"{where}: skip it inline, with its reason"


# --- consistency with the code ----------------------------------------------------------------------------
def test_one_function_per_lambdas_folder(module_facts: dict[str, Any]) -> None:
    folders = sorted(path.name for path in (ROOT / "lambdas").iterdir() if path.is_dir() and path.name != "__pycache__")
    assert sorted(module_facts["folders"]) == folders
    declarations = re.findall(
        r'^resource\s+"aws_lambda_function"', "".join(p.read_text() for p in MODULE.glob("*.tf")), re.M
    )
    assert len(declarations) == 1, "one aws_lambda_function resource, one instance per lambdas/ folder"
    assert sorted(module_facts["lambda_actions"]) == folders, "every function needs its own action list"


def test_asl_placeholders_are_exactly_the_templatefile_variables(module_facts: dict[str, Any]) -> None:
    placeholders = asl.placeholders(asl.read_raw())
    variables = set(module_facts["asl_variables"])
    assert placeholders - variables == set(), "placeholders without a templatefile() variable"
    assert variables - placeholders == set(), "templatefile() variables the ASL does not use"
    assert set(asl.AWS_NUMBERS) <= placeholders


@pytest.fixture(scope="module")
def code_index() -> code_calls.CodeIndex:
    return code_calls.CodeIndex()


@pytest.mark.parametrize("folder", code_calls.lambda_folders())
def test_each_function_role_allows_exactly_the_calls_its_code_makes(
    module_facts: dict[str, Any], code_index: code_calls.CodeIndex, folder: str
) -> None:
    reach = code_calls.lambda_reach(folder, code_index)
    derived = code_calls.actions_of(reach)
    granted = set(module_facts["lambda_actions"][folder])
    assert granted == derived, (
        f"{folder}: terraform/lambdas.tf grants {sorted(granted - derived)} the code doesn't call, "
        f"and misses {sorted(derived - granted)} it does (python -m tests.terraform.code_calls prints the lists)"
    )
    assert set(module_facts["lambda_tables"].get(folder, [])) == code_calls.tables_of(reach, code_index)


def test_every_aws_call_written_in_the_packages_is_reached_from_an_entry_point(
    code_index: code_calls.CodeIndex,
) -> None:
    """A call the walk cannot reach from any handler or worker would be granted to no role."""
    folders = code_calls.lambda_folders()
    reached = set().union(*(code_calls.lambda_actions(folder, code_index) for folder in folders))
    reached |= code_calls.worker_actions(code_index)
    assert code_calls.every_call_in_the_packages(code_index) - reached == set()


def test_runtime_actions_are_only_what_the_services_need(module_facts: dict[str, Any]) -> None:
    assert set(module_facts["runtime_actions"]) == LAMBDA_RUNTIME_ACTIONS
    assert set(module_facts["worker_runtime_actions"]) == WORKER_RUNTIME_ACTIONS


def test_worker_instance_profile_allows_exactly_the_calls_the_workers_make(
    module_facts: dict[str, Any], code_index: code_calls.CodeIndex
) -> None:
    derived = code_calls.worker_actions(code_index)
    granted = set(module_facts["worker_actions"])
    assert granted == derived, f"extra: {sorted(granted - derived)}; missing: {sorted(derived - granted)}"
    assert set(module_facts["worker_tables"]) == code_calls.worker_tables(code_index)


def config_environment_names() -> set[str]:
    return set(re.findall(r'"((?:M2V|AWS)_[A-Z0-9_]+)"', (ROOT / "manga2video" / "config.py").read_text()))


def test_every_setting_terraform_passes_is_one_config_reads() -> None:
    passed = set(re.findall(r"\b(M2V_[A-Z0-9_]+)\s*=", (MODULE / "lambdas.tf").read_text()))
    assert passed, "lambdas.tf sets the pipeline's M2V_* settings"
    assert passed - config_environment_names() == set(), "settings manga2video/config.py does not read"


# --- the module code finds what it must, on a small sample -------------------------------------------------------
def test_call_derivation_follows_types_through_the_services(tmp_path: Path) -> None:
    """A store reached through an annotated property, a client by name, and a helper: nothing else."""
    package = tmp_path / "manga2video"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text(
        "class Store:\n"
        "    def __init__(self, s3):\n        self.s3 = s3\n"
        "    def read(self, key):\n        return self.s3.get_object(Bucket='b', Key=key)\n"
        "    def drop(self, key):\n        self.s3.delete_object(Bucket='b', Key=key)\n"
    )
    (package / "services.py").write_text(
        "import functools\nimport boto3\nfrom manga2video.store import Store\n"
        "class Services:\n"
        "    def client(self, name):\n        return boto3.client(name)\n"
        "    @functools.cached_property\n"
        "    def store(self) -> Store:\n        return Store(self.client('s3'))\n"
    )
    (package / "steps.py").write_text(
        "from manga2video.services import Services\n"
        "def step(event, services: Services):\n"
        "    services.client('sns').publish(TopicArn='t', Message='m')\n"
        "    return services.store.read(event['key'])\n"
        "def unused(services: Services):\n    services.store.drop('k')\n"
    )
    handler = tmp_path / "handler.py"
    handler.write_text("from manga2video.steps import step\nhandler = step\n")
    index = code_calls.CodeIndex(tmp_path, ["manga2video"])
    index.add_entry_module("handler", handler)
    actions = code_calls.actions_of(code_calls.Walker(index).run("handler"))
    assert actions == {"s3:GetObject", "s3:ListBucket", "kms:Decrypt", "sns:Publish", "kms:GenerateDataKey"}


def test_call_derivation_follows_context_managers_threads_and_transactions(tmp_path: Path) -> None:
    """A client handed to a class, used from a `with` block and a thread target; a transaction's items."""
    package = tmp_path / "workers"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "callback.py").write_text(
        "import threading\n"
        "class Callback:\n"
        "    def __init__(self, sfn):\n        self._sfn = sfn\n"
        "    def __enter__(self):\n        threading.Thread(target=self._beat).start()\n        return self\n"
        "    def __exit__(self, *exc):\n        return None\n"
        "    def _beat(self):\n        self._sfn.send_task_heartbeat(taskToken='t')\n"
        "    def succeed(self):\n        self._sfn.send_task_success(taskToken='t', output='{}')\n"
        "    def fail(self):\n        self._sfn.send_task_failure(taskToken='t')\n"
    )
    (package / "main.py").write_text(
        "import boto3\nfrom workers.callback import Callback\n"
        "def main():\n"
        "    with Callback(boto3.client('stepfunctions')) as callback:\n        callback.succeed()\n"
        "    boto3.client('dynamodb').transact_write_items(TransactItems=[{'Update': {}}, {'ConditionCheck': {}}])\n"
        "if __name__ == '__main__':\n    main()\n"
    )
    index = code_calls.CodeIndex(tmp_path, ["workers"])
    actions = code_calls.actions_of(code_calls.Walker(index).run("workers.main"))
    assert actions == {
        "states:SendTaskHeartbeat",
        "states:SendTaskSuccess",
        "dynamodb:UpdateItem",
        "dynamodb:ConditionCheckItem",
    }


# --- apply against moto ----------------------------------------------------------------------------------------
def override_file(endpoint: str, region: str) -> str:
    endpoints = "\n".join(f'    {service} = "{endpoint}"' for service in PROVIDER_ENDPOINTS)
    return (
        'provider "aws" {\n'
        f'  region                      = "{region}"\n'
        '  access_key                  = "testing"\n'
        '  secret_key                  = "testing"\n'
        "  skip_credentials_validation = true\n"
        "  skip_metadata_api_check     = true\n"
        "  skip_region_validation      = true\n"
        "  s3_use_path_style           = true\n"
        "  max_retries                 = 1\n"
        f"  endpoints {{\n{endpoints}\n  }}\n"
        "}\n"
        "\n"
        "# moto enforces the TLS-only bucket policy against its plain-HTTP endpoint: upload the layer\n"
        "# first (an identity replace() that names the object orders the policy after it).\n"
        'resource "aws_s3_bucket_policy" "media" {\n'
        "  policy = replace(\n"
        "    data.aws_iam_policy_document.media_bucket.json, aws_s3_object.layer.key, aws_s3_object.layer.key\n"
        "  )\n"
        "}\n"
    )


def build_artifacts(build_dir: Path) -> None:
    """The function zips as `make package` builds them; a tiny stand-in for the layer (no registry here)."""
    run([sys.executable, str(ROOT / "scripts" / "package_lambdas.py"), "--skip-layer", "--out", str(build_dir)], ROOT)
    with zipfile.ZipFile(build_dir / "layer.zip", "w") as layer:
        layer.writestr("python/README.txt", "stand-in for the dependency layer in tests\n")


def managed_addresses(resources: list[dict[str, Any]]) -> set[str]:
    return {resource["address"] for resource in resources if resource["mode"] == "managed"}


def all_resources(module: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(module.get("resources", []))
    for child in module.get("child_modules", []):
        found.extend(all_resources(child))
    return found


def validate_definition(response: StepFunctionResponse) -> ActionResult:
    """ValidateStateMachineDefinition, which the provider calls at plan time and moto lacks: moto's own parser."""
    try:
        AmazonStateLanguageParser.parse(response._get_param("definition"))
    except Exception as exc:  # the parser raises several kinds; all mean "invalid"
        diagnostic = {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(exc)[:1000]}
        return ActionResult({"result": "FAIL", "diagnostics": [diagnostic]})
    return ActionResult({"result": "OK", "diagnostics": []})


def list_versions(response: StepFunctionResponse) -> ActionResult:
    """ListStateMachineVersions, which the provider reads after creating and moto lacks: none published."""
    return ActionResult({"stateMachineVersions": []})


# Step Functions calls the provider makes that moto 5.2 does not implement, answered as AWS would.
MOTO_MISSING_ACTIONS = {
    "validate_state_machine_definition": validate_definition,
    "list_state_machine_versions": list_versions,
}


@pytest.fixture(scope="module")
def applied(terraform: str, workspace: Path, local_aws: LocalAws) -> Iterator[dict[str, Any]]:
    """`terraform apply` on the emulator: the planned resources and the state afterwards."""
    local_aws.reset()
    patch = pytest.MonkeyPatch()
    for action, answer in MOTO_MISSING_ACTIONS.items():
        patch.setattr(StepFunctionResponse, action, answer, raising=False)
    (workspace / "moto_override.tf").write_text(override_file(local_aws.endpoint, local_aws.region))
    build_dir = workspace.parent / "build"
    build_artifacts(build_dir)
    variables = {
        **REQUIRED_VARIABLES,
        "name_prefix": NAME_PREFIX,
        "build_dir": str(build_dir),
        "alert_email": "alerts@example.com",
        "force_destroy_bucket": "true",
    }
    env = {"AWS_EC2_METADATA_DISABLED": "true", "TF_IN_AUTOMATION": "1"}
    try:
        run([terraform, "plan", "-input=false", "-no-color", "-out=moto.tfplan", *var_flags(variables)], workspace, env)
        plan = json.loads(run([terraform, "show", "-json", "moto.tfplan"], workspace, env))
        run([terraform, "apply", "-input=false", "-no-color", "-auto-approve", "moto.tfplan"], workspace, env, 400)
        state = json.loads(run([terraform, "show", "-json"], workspace, env))
    finally:
        patch.undo()
    yield {
        "planned": managed_addresses(all_resources(plan["planned_values"]["root_module"])),
        "state": all_resources(state["values"]["root_module"]),
        "outputs": {name: value["value"] for name, value in state["values"].get("outputs", {}).items()},
    }
    local_aws.reset()


def test_apply_on_moto_creates_every_planned_resource(applied: dict[str, Any]) -> None:
    created = managed_addresses(applied["state"])
    assert applied["planned"] - created == set(), "planned but not created"
    kinds = {address.split("[")[0].split(".")[0] for address in created}
    assert {"aws_lambda_function", "aws_sfn_state_machine", "aws_scheduler_schedule", "aws_launch_template"} <= kinds


def test_deployed_functions_roles_and_environment(
    applied: dict[str, Any], local_aws: LocalAws, module_facts: dict[str, Any]
) -> None:
    functions = {r["index"]: r["values"] for r in applied["state"] if r["type"] == "aws_lambda_function"}
    assert sorted(functions) == code_calls.lambda_folders()
    iam = local_aws.client("iam")
    for folder, function in functions.items():
        assert function["function_name"] == f"{NAME_PREFIX}-{folder.replace('_', '-')}"
        assert (function["handler"], function["runtime"]) == ("handler.handler", "python3.12")
        assert set(function["environment"][0]["variables"]) - config_environment_names() <= {
            "POWERTOOLS_SERVICE_NAME",
            "POWERTOOLS_METRICS_NAMESPACE",
        }
        statements = role_statements(iam, function["role"].rsplit("/", 1)[-1])
        actions = {action for statement in statements for action in _as_list(statement["Action"])}
        assert actions == set(module_facts["lambda_actions"][folder]) | LAMBDA_RUNTIME_ACTIONS
        tables = {
            arn.split(":table/", 1)[1].split("/")[0].removeprefix(f"{NAME_PREFIX}-")
            for statement in statements
            if str(statement["Action"]).startswith("dynamodb:")
            for arn in _as_list(statement["Resource"])
        }
        uses_dynamodb = any(action.startswith("dynamodb:") for action in actions)
        assert tables == (set(module_facts["lambda_tables"][folder]) if uses_dynamodb else set())


def role_statements(iam: Any, role: str) -> list[dict[str, Any]]:
    """The statements of the role's one inline policy; every one allows, on named resources."""
    (policy_name,) = iam.list_role_policies(RoleName=role)["PolicyNames"]
    document = iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
    statements = (json.loads(document) if isinstance(document, str) else document)["Statement"]
    assert all(statement["Effect"] == "Allow" and statement["Resource"] for statement in statements)
    return statements


def test_spot_workers_templates_profile_and_security_group(
    applied: dict[str, Any], local_aws: LocalAws, module_facts: dict[str, Any]
) -> None:
    templates = {r["index"]: r["values"] for r in applied["state"] if r["type"] == "aws_launch_template"}
    assert sorted(templates) == ["renderer", "uploader"]
    for template in templates.values():
        assert template["instance_market_options"][0]["market_type"] == "spot"
        assert template["metadata_options"][0]["http_tokens"] == "required"
        assert template["block_device_mappings"][0]["ebs"][0]["encrypted"] == "true"
        assert template["instance_initiated_shutdown_behavior"] == "terminate"
    statements = role_statements(local_aws.client("iam"), f"{NAME_PREFIX}-worker")
    actions = {action for statement in statements for action in _as_list(statement["Action"])}
    assert actions == set(module_facts["worker_actions"]) | WORKER_RUNTIME_ACTIONS
    bucket = applied["outputs"]["media_bucket"]
    for statement in statements:
        resources = _as_list(statement["Resource"])
        if statement["Action"] == "s3:ListBucket":
            assert resources == [f"arn:aws:s3:::{bucket}"]
        elif str(statement["Action"]).startswith("s3:"):
            assert resources == [f"arn:aws:s3:::{bucket}/jobs/*"]
        elif str(statement["Action"]).startswith("ssm:"):
            assert [arn.rsplit(":parameter", 1)[-1] for arn in resources] == [f"/{NAME_PREFIX}/youtube-token"]
    (group,) = [r["values"] for r in applied["state"] if r["type"] == "aws_security_group"]
    assert group["ingress"] == []
    assert [(rule["from_port"], rule["to_port"]) for rule in group["egress"]] == [(443, 443)]


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def test_state_machine_read_back_from_moto_runs_a_happy_path(applied: dict[str, Any], local_aws: LocalAws) -> None:
    arn = applied["outputs"]["state_machine_arn"]
    sfn = local_aws.client("stepfunctions")
    definition = json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])
    wait = definition["States"]["WaitForRender"]
    assert (wait["TimeoutSeconds"], wait["HeartbeatSeconds"]) == (
        asl.AWS_NUMBERS["renderer_timeout_seconds"],
        asl.AWS_NUMBERS["renderer_heartbeat_seconds"],
    )
    prefix = f"arn:aws:lambda:{local_aws.region}:{ACCOUNT_ID}:function:{NAME_PREFIX}-"
    assert wait["Parameters"]["FunctionName"] == f"{prefix}wait-for-render"
    assert definition["States"]["CheckQuota"]["Resource"] == f"{prefix}check-quota"

    described, states = run_happy_path(local_aws, arn)
    assert described["status"] == "SUCCEEDED", described
    assert states[-1] == "Done"
    assert states.count("WaitForUpload") == 3 and "HandleError" not in states


WORKER_STATES = {"renderer": "WaitForRender", "uploader": "WaitForUpload"}


def run_happy_path(local_aws: LocalAws, arn: str, timeout: float = 90) -> tuple[dict[str, Any], list[str]]:
    """The shared three-video case; the workers' callbacks are sent here, as a worker would send
    them, once Step Functions has registered the task (TaskSubmitted), so no callback can race it."""
    case = load_cases(MOCK_CONFIG, "pipeline")["FullLoopThreeVideos"]
    worker_output = {kind: case.responses.pop(state)[0]["Return"] for kind, state in WORKER_STATES.items()}
    launched: queue.Queue[dict[str, Any]] = queue.Queue()

    def launch(event: dict[str, Any], context: Any) -> dict[str, Any]:
        launched.put(event)
        return {"launched": event["kind"]}

    dispatcher = local_aws.dispatcher
    dispatcher.install()  # another emulator in this session may have taken moto's Lambda seam
    dispatcher.mock_case = case
    dispatcher.overrides.update({folder: launch for folder in ("wait_for_render", "wait_for_upload")})
    sfn = local_aws.client("stepfunctions")
    try:
        execution = sfn.start_execution(
            stateMachineArn=arn, name=f"tf-{uuid.uuid4().hex[:8]}", input=json.dumps({"daily_quota": 3})
        )["executionArn"]
        answered, deadline = 0, time.monotonic() + timeout
        while sfn.describe_execution(executionArn=execution)["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"still running after {timeout:.0f} s"
            submitted = [e for e in local_aws.history(execution) if e["type"] == "TaskSubmitted"]
            for _ in range(len(submitted) - answered):
                event = launched.get(timeout=10)
                sfn.send_task_success(taskToken=event["task_token"], output=json.dumps(worker_output[event["kind"]]))
                answered += 1
            time.sleep(0.05)
    finally:
        dispatcher.mock_case = None
        dispatcher.overrides.clear()
    return sfn.describe_execution(executionArn=execution), entered_states(local_aws.history(execution))


def test_schedule_starts_the_pipeline_with_the_daily_quota(applied: dict[str, Any], local_aws: LocalAws) -> None:
    (schedule,) = [r["values"] for r in applied["state"] if r["type"] == "aws_scheduler_schedule"]
    target = schedule["target"][0]
    assert target["arn"] == applied["outputs"]["state_machine_arn"]
    assert json.loads(target["input"]) == {"daily_quota": 3}
    assert schedule["schedule_expression_timezone"] and schedule["schedule_expression"].startswith("cron(")
    assert (
        boto3.client("scheduler", endpoint_url=local_aws.endpoint, region_name=local_aws.region).get_schedule(
            Name=schedule["name"]
        )["State"]
        == "ENABLED"
    )
