"""The ASL checks behind `make validate`: every way the definition can be wrong before AWS sees it."""

from __future__ import annotations

import json
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser

from manga2video import errors
from manga2video.local import asl

VALIDATOR = asl.ROOT / "node_modules" / ".bin" / "asl-validator"
SOURCE_DIRS = ("manga2video", "workers", "lambdas")


def error_names(definition: Mapping[str, Any]) -> set[str]:
    """Every name in every Retry and Catch ErrorEquals."""
    names: set[str] = set()
    for _, state in asl.states(definition):
        for rule in [*state.get("Retry", []), *state.get("Catch", [])]:
            names.update(rule["ErrorEquals"])
    return names


def raised_error_names(root: Path = asl.ROOT) -> set[str]:
    """Custom errors that some code outside errors.py raises."""
    pattern = re.compile(r"\braise\s+(?:errors\.)?([A-Z][A-Za-z]+)\b")
    found: set[str] = set()
    for folder in SOURCE_DIRS:
        for path in (root / folder).rglob("*.py"):
            if path.name != "errors.py":
                found.update(pattern.findall(path.read_text(encoding="utf-8")))
    return found & set(errors.custom_error_names())


def check(raw: str, *, use_node: bool = True) -> Iterator[str]:
    """Yield one line per problem; none means the definition is good."""
    try:
        json.loads(raw)
    except json.JSONDecodeError as exc:
        yield f"the raw definition is not valid JSON: {exc}"
        return
    try:
        rendered = asl.render(
            raw, asl.local_values(lambda folder: f"arn:aws:lambda:us-east-1:123456789012:function:{folder}")
        )
    except KeyError as exc:
        yield str(exc.args[0])
        return
    if "${" in rendered:
        yield "a '${' is left after rendering"
    definition = json.loads(rendered)
    try:
        AmazonStateLanguageParser.parse(rendered)
    except Exception as exc:  # the parser raises several kinds; all mean "invalid"
        yield f"moto's ASL parser refused the definition: {exc!r}"[:2000]
    if use_node:
        yield from _node_validator(rendered)
    named = error_names(definition) - errors.AWS_ERROR_NAMES
    declared = set(errors.custom_error_names())
    for name in sorted(named - declared):
        yield f"ErrorEquals names {name}, which manga2video/errors.py does not define"
    for name in sorted(declared - raised_error_names()):
        yield f"manga2video/errors.py defines {name}, but no code raises it"
    for name, state in asl.states(definition):
        for field in ("Catch", "Retry"):
            for index, rule in enumerate(state.get(field, [])[:-1]):
                if "States.ALL" in rule["ErrorEquals"]:
                    yield f"{name}: States.ALL must be the last {field} (found at position {index})"


def _node_validator(rendered: str) -> Iterator[str]:
    if not VALIDATOR.exists():
        yield f"{VALIDATOR} is missing: run `make setup` (npm ci)"
        return
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        handle.write(rendered)
    try:
        result = subprocess.run(
            [str(VALIDATOR), "--json-path", handle.name], capture_output=True, text=True, timeout=60, check=False
        )
    finally:
        Path(handle.name).unlink(missing_ok=True)
    if result.returncode != 0:
        yield f"asl-validator: {(result.stdout + result.stderr).strip()}"
