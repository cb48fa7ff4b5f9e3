"""Step Functions Local's MockConfigFile, read by the local harness.

The same file drives moto here and, when SFN_LOCAL_ENDPOINT is set, Step Functions Local
itself: StateMachines.<name>.TestCases.<case> maps a state to a MockedResponses entry, whose
keys are attempt numbers or ranges ("0", "1-2") and whose values are Return or Throw.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _attempt_range(key: str) -> range:
    start, _, end = key.partition("-")
    return range(int(start), int(end or start) + 1)


@dataclass
class MockCase:
    """One test case: per state, the responses for its 0th, 1st, ... invocation."""

    name: str
    responses: dict[str, list[dict[str, Any]]]
    _served: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def next_response(self, state: str) -> dict[str, Any] | None:
        """The next mocked response of `state`; None if the state is not mocked (runs for real).

        Past the last numbered response, the last one repeats, as Step Functions Local does.
        """
        if state not in self.responses:
            return None
        with self._lock:
            index = self._served.get(state, 0)
            self._served[state] = index + 1
        answers = self.responses[state]
        return answers[min(index, len(answers) - 1)]


def load_cases(path: Path, state_machine: str) -> dict[str, MockCase]:
    """Every test case of `state_machine` in the file, its responses expanded by attempt."""
    document = json.loads(path.read_text(encoding="utf-8"))
    library = document["MockedResponses"]
    cases: dict[str, MockCase] = {}
    for case_name, mapping in document["StateMachines"][state_machine]["TestCases"].items():
        responses: dict[str, list[dict[str, Any]]] = {}
        for state, response_name in mapping.items():
            by_attempt: dict[int, dict[str, Any]] = {}
            for key, answer in library[response_name].items():
                for attempt in _attempt_range(key):
                    by_attempt[attempt] = answer
            if sorted(by_attempt) != list(range(len(by_attempt))):
                raise ValueError(f"{response_name}: attempt numbers must run 0, 1, 2, ... without gaps")
            responses[state] = [by_attempt[attempt] for attempt in sorted(by_attempt)]
        cases[case_name] = MockCase(name=case_name, responses=responses)
    return cases
