"""AWS on loopback: a moto server whose ASL interpreter runs statemachine/pipeline.asl.json.

Lambda tasks reach moto's LambdaSimpleBackend.invoke; the LambdaDispatcher replaces that
one method and runs lambdas/<folder>/handler.py in this process. A handler that raises is
answered as AWS answers it (x-amz-function-error plus errorType/errorMessage), so Retry and
Catch match on the exception's class name. Workers are separate processes that reach the
same server through AWS_ENDPOINT_URL and call SendTaskHeartbeat/Success/Failure.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import boto3
import requests
from botocore.exceptions import ClientError
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
from moto.stepfunctions.parser.asl.component.common.retry import retrier_decl
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from manga2video.config import Settings
from manga2video.jobs import STATUS_INDEX
from manga2video.local import asl
from manga2video.local.mock_config import MockCase

ACCOUNT_ID = "123456789012"
FUNCTION_PREFIX = "m2v-"
STATE_MACHINE_NAME = "pipeline"
MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}

Handler = Callable[[dict[str, Any], Any], Any]


def function_arn(region: str, folder: str) -> str:
    return f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{FUNCTION_PREFIX}{folder.replace('_', '-')}"


def folder_of(function_name: str) -> str:
    """`arn:...:function:m2v-check-quota` or `m2v-check-quota` -> `check_quota`."""
    name = function_name.rsplit(":function:", 1)[-1].split(":", 1)[0]
    return name.removeprefix(FUNCTION_PREFIX).replace("-", "_")


def load_handler(folder: str) -> Handler:
    """Import lambdas/<folder>/handler.py as its own module, as Lambda would."""
    path = asl.LAMBDAS_DIR / folder / "handler.py"
    spec = importlib.util.spec_from_file_location(f"lambdas_{folder}_handler", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(f"no Lambda handler at {path}")
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def error_payload(exc: BaseException) -> dict[str, Any]:
    """The body Lambda returns for an unhandled exception."""
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc)[-5:],
    }


@dataclass
class Invocation:
    folder: str
    state: str
    event: dict[str, Any]
    error: str | None = None


@dataclass
class LambdaDispatcher:
    """Runs each Lambda task in-process; tests can override a folder or mock a state."""

    region: str
    state_of_folder: dict[str, str]
    overrides: dict[str, Handler] = field(default_factory=dict)
    mock_case: MockCase | None = None
    invocations: list[Invocation] = field(default_factory=list)
    _handlers: dict[str, Handler] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def handler(self, folder: str) -> Handler:
        if folder in self.overrides:
            return self.overrides[folder]
        with self._lock:
            if folder not in self._handlers:
                self._handlers[folder] = load_handler(folder)
            return self._handlers[folder]

    def calls(self, state: str) -> list[Invocation]:
        return [call for call in self.invocations if call.state == state]

    def invoke(self, function_name: str, body: Any, response_headers: dict[str, str]) -> bytes:
        folder = folder_of(function_name)
        state = self.state_of_folder.get(folder, folder)
        event = json.loads(body or "{}") if isinstance(body, str | bytes) else dict(body or {})
        call = Invocation(folder=folder, state=state, event=event)
        if event.get("task_token"):
            forget_previous_attempt(event["task_token"])
        with self._lock:
            self.invocations.append(call)
        mocked = self.mock_case.next_response(state) if self.mock_case else None
        try:
            result = self._answer_mocked(event, mocked) if mocked is not None else self.handler(folder)(event, None)
        except Exception as exc:  # a Lambda reports every unhandled exception the same way
            call.error = type(exc).__name__
            response_headers["x-amz-function-error"] = "Unhandled"
            return json.dumps(error_payload(exc)).encode("utf-8")
        return json.dumps(result).encode("utf-8")

    def _answer_mocked(self, event: Mapping[str, Any], mocked: Mapping[str, Any]) -> Any:
        """A mocked Return/Throw; for a callback task, it is sent with the task token instead.

        A mocked States.* error on a callback task (a heartbeat timeout) cannot be sent by a
        worker: the mocked worker stays silent, so the task really times out.
        """
        token = event.get("task_token")
        if token and mocked.get("Throw", {}).get("Error", "").startswith("States."):
            return {"mocked": True, "silent": True}
        if token:
            threading.Thread(target=send_callback, args=(self.region, token, mocked), daemon=True).start()
            return {"mocked": True}
        if "Throw" in mocked:
            raise MockedLambdaError.named(mocked["Throw"]["Error"], mocked["Throw"].get("Cause", ""))
        return mocked.get("Return")

    def install(self) -> None:
        dispatcher = self

        def invoke(_backend: Any, function_name: str, qualifier: Any, body: Any, headers: Any, response_headers: Any):
            return dispatcher.invoke(function_name, body, response_headers)

        LambdaSimpleBackend.invoke = invoke  # the seam the design names


class MockedLambdaError(Exception):
    """Stands for an error a mocked response throws; its class name is the mocked error name."""

    @classmethod
    def named(cls, name: str, cause: str) -> Exception:
        return type(name, (cls,), {})(cause)


def forget_previous_attempt(token: str) -> None:
    """Give a retried callback task a clean slate, as AWS does with a fresh token per attempt.

    moto keeps one task token across a callback task's retries, and with it the previous
    attempt's result: the new worker's first heartbeat would wake the task to that stale
    failure. Called when the launch Lambda starts an attempt, before any worker exists.
    """
    for regions in stepfunctions_parser_backends.values():
        for backend in regions.values():
            for machine in backend.state_machines:
                for execution in machine.executions:
                    worker = getattr(execution, "exec_worker", None)
                    endpoint = worker.env.callback_pool_manager.get(token) if worker else None
                    if endpoint is not None:
                        endpoint._outcome = None
                        endpoint._notify_event.clear()


def send_callback(region: str, token: str, mocked: Mapping[str, Any], patience: float = 60.0) -> None:
    """Answer a task token as a worker would, once the task is really waiting for it.

    moto sets up a task's heartbeat watch only after the launch Lambda returns, and a
    result that arrives before that is missed until the heartbeat times out (AWS has no such
    gap). A heartbeat is accepted only once the watch exists, so the mocked worker sends
    heartbeats until one is, then its result.
    """
    sfn = boto3.client("stepfunctions", region_name=region)
    deadline = time.monotonic() + patience
    while True:
        try:
            sfn.send_task_heartbeat(taskToken=token)
            break
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in {"InvalidToken", "TaskDoesNotExist"}:
                raise
            if time.monotonic() > deadline:
                raise TimeoutError(f"task token not accepted within {patience:.0f} s") from exc
            time.sleep(0.05)
    if "Throw" in mocked:
        sfn.send_task_failure(taskToken=token, error=mocked["Throw"]["Error"], cause=mocked["Throw"].get("Cause", ""))
    else:
        sfn.send_task_success(taskToken=token, output=json.dumps(mocked.get("Return", {})))


class RetrySleeps:
    """Stands in for the interpreter's time module in its retrier: records each Retry interval."""

    def __init__(self, scale: float = 0.0) -> None:
        self.scale = scale
        self.intervals: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.intervals.append(seconds)
        time.sleep(seconds * self.scale)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


class LocalAws:
    """A moto server on loopback with the pipeline's bucket, tables and state machine."""

    def __init__(self, *, region: str, jobs_table: str, counters_table: str, bucket: str, port: int = 0) -> None:
        self.region = region
        self.jobs_table = jobs_table
        self.counters_table = counters_table
        self.bucket = bucket
        self._port = port
        self._server: ThreadedMotoServer | None = None
        raw = asl.load_raw_definition()
        self.dispatcher = LambdaDispatcher(
            region=region, state_of_folder={folder: state for state, folder in asl.task_state_folders(raw).items()}
        )
        self.retry_sleeps = RetrySleeps()
        self.endpoint = ""
        self.state_machine_arn = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalAws:
        """An emulator holding the bucket and tables that these settings name."""
        return cls(
            region=settings.region,
            jobs_table=settings.jobs_table,
            counters_table=settings.counters_table,
            bucket=settings.media_bucket,
        )

    # --- lifecycle -----------------------------------------------------------------
    def start(self) -> LocalAws:
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self._port, verbose=False)
        self._server.start()
        port = self._server._server.server_port  # type: ignore[union-attr]
        self.endpoint = f"http://127.0.0.1:{port}"
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.endpoint,
                "MOTO_PORT": str(port),
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_REGION": self.region,
                "AWS_DEFAULT_REGION": self.region,
            }
        )
        self.configure_moto()
        self.dispatcher.install()
        retrier_decl.time = self.retry_sleeps  # type: ignore[assignment]
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> LocalAws:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configure_moto(self) -> None:
        requests.post(f"{self.endpoint}/moto-api/config", json=MOTO_CONFIG, timeout=10).raise_for_status()

    def reset(self) -> None:
        """Forget every resource and execution (between tests)."""
        requests.post(f"{self.endpoint}/moto-api/reset", timeout=10).raise_for_status()
        self.configure_moto()
        self.dispatcher.invocations.clear()
        self.dispatcher.overrides.clear()
        self.dispatcher.mock_case = None
        self.retry_sleeps.intervals.clear()

    # --- clients and resources ---------------------------------------------------------
    def client(self, name: str) -> Any:
        return boto3.client(name, region_name=self.region, endpoint_url=self.endpoint)

    def create_storage(self) -> None:
        """The bucket and the two tables, shaped as terraform/ shapes them."""
        s3 = self.client("s3")
        if self.region == "us-east-1":
            s3.create_bucket(Bucket=self.bucket)
        else:
            s3.create_bucket(Bucket=self.bucket, CreateBucketConfiguration={"LocationConstraint": self.region})
        dynamodb = self.client("dynamodb")
        dynamodb.create_table(
            TableName=self.jobs_table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[
                {"AttributeName": "job_id", "AttributeType": "S"},
                {"AttributeName": "status", "AttributeType": "S"},
                {"AttributeName": "updated_at", "AttributeType": "S"},
            ],
            KeySchema=[{"AttributeName": "job_id", "KeyType": "HASH"}],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": STATUS_INDEX,
                    "KeySchema": [
                        {"AttributeName": "status", "KeyType": "HASH"},
                        {"AttributeName": "updated_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
        )
        dynamodb.create_table(
            TableName=self.counters_table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": "date", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "date", "KeyType": "HASH"}],
        )

    def render_definition(self, overrides: Mapping[str, Any] | None = None) -> str:
        return asl.render(asl.read_raw(), asl.local_values(lambda folder: function_arn(self.region, folder), overrides))

    def create_state_machine(self, definition: str | None = None, name: str = STATE_MACHINE_NAME) -> str:
        sfn = self.client("stepfunctions")
        response = sfn.create_state_machine(
            name=name,
            definition=definition or self.render_definition(),
            roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}-sfn",
        )
        self.state_machine_arn = response["stateMachineArn"]
        return self.state_machine_arn

    # --- executions -----------------------------------------------------------------------
    def start_execution(self, payload: Mapping[str, Any] | None = None, *, name: str) -> str:
        """Always with a name: moto needs one (see the design's known differences)."""
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.state_machine_arn, name=name, input=json.dumps(payload or {})
        )
        return response["executionArn"]

    def wait(self, execution_arn: str, timeout: float = 120.0, poll: float = 0.05) -> dict[str, Any]:
        sfn = self.client("stepfunctions")
        deadline = time.monotonic() + timeout
        while True:
            described = sfn.describe_execution(executionArn=execution_arn)
            if described["status"] != "RUNNING":
                return described
            if time.monotonic() > deadline:
                last = entered_states(self.history(execution_arn))[-3:]
                raise TimeoutError(f"execution {execution_arn} still running after {timeout:.0f} s, in {last}")
            time.sleep(poll)

    def history(self, execution_arn: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page["events"])
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]


def entered_states(events: list[dict[str, Any]]) -> list[str]:
    """The states an execution entered, in order."""
    return [event["stateEnteredEventDetails"]["name"] for event in events if "stateEnteredEventDetails" in event]
