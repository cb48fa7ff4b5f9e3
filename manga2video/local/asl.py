"""The ASL file and its rendering, exactly as Terraform's templatefile() does it.

Placeholders are `${snake_case}` and always sit inside a JSON string, so the raw file
is valid JSON. After substitution, a string that is now only a number becomes a JSON
number; terraform/statemachine.tf applies the same regex (NUMERIC_STRING) with replace().
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
ASL_PATH = ROOT / "statemachine" / "pipeline.asl.json"
LAMBDAS_DIR = ROOT / "lambdas"

PLACEHOLDER = re.compile(r"\$\{([a-z][a-z0-9_]*)\}")
# Terraform: replace(templatefile(...), "/\"(-?[0-9]+(?:\\.[0-9]+)?)\"/", "$1")
NUMERIC_STRING = re.compile(r'"(-?[0-9]+(?:\.[0-9]+)?)"')
FUNCTION_ARN = re.compile(r"^([a-z0-9_]+)_function_arn$")

# Values AWS runs with; Terraform passes the same numbers from its variables' defaults.
AWS_NUMBERS: dict[str, int] = {
    "lambda_retry_interval_seconds": 60,
    "worker_retry_interval_seconds": 60,
    "spot_retry_interval_seconds": 5,
    "renderer_timeout_seconds": 4 * 3600,
    "renderer_heartbeat_seconds": 300,
    "uploader_timeout_seconds": 2 * 3600,
    "uploader_heartbeat_seconds": 300,
}


def read_raw(path: Path = ASL_PATH) -> str:
    return path.read_text(encoding="utf-8")


def placeholders(raw: str) -> set[str]:
    return set(PLACEHOLDER.findall(raw))


def function_folders(raw: str) -> list[str]:
    """The Lambda folders the definition calls, from its `${<folder>_function_arn}` placeholders."""
    return sorted(match.group(1) for name in placeholders(raw) if (match := FUNCTION_ARN.match(name)))


def render(raw: str, values: Mapping[str, Any]) -> str:
    """Substitute every placeholder (a missing value is an error, as in Terraform)."""
    missing = placeholders(raw) - set(values)
    if missing:
        raise KeyError(f"no value for ASL placeholder(s): {', '.join(sorted(missing))}")
    substituted = PLACEHOLDER.sub(lambda match: str(values[match.group(1)]), raw)
    return NUMERIC_STRING.sub(r"\1", substituted)


def local_values(function_arn: Any, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Placeholder values for a local run: function ARNs from `function_arn(folder)`."""
    raw = read_raw()
    values: dict[str, Any] = dict(AWS_NUMBERS)
    values.update({f"{folder}_function_arn": function_arn(folder) for folder in function_folders(raw)})
    values.update(overrides or {})
    return values


def states(definition: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every (name, state) of a parsed definition."""
    yield from definition["States"].items()


def task_state_folders(definition: Mapping[str, Any]) -> dict[str, str]:
    """Task state name -> Lambda folder, read from the raw (unrendered) definition."""
    found: dict[str, str] = {}
    for name, state in states(definition):
        if state.get("Type") != "Task":
            continue
        target = state.get("Parameters", {}).get("FunctionName") or state.get("Resource", "")
        match = PLACEHOLDER.fullmatch(str(target))
        if match and (folder := FUNCTION_ARN.match(match.group(1))):
            found[name] = folder.group(1)
    return found


def load_raw_definition() -> dict[str, Any]:
    return json.loads(read_raw())
