"""`make validate`: check statemachine/pipeline.asl.json (or --definition FILE); exit 1 on any problem."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manga2video.local import asl, validation


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--definition", type=Path, default=asl.ASL_PATH, help="raw ASL file to check")
    args = parser.parse_args()
    problems = list(validation.check(args.definition.read_text(encoding="utf-8")))
    for problem in problems:
        print(f"ASL problem: {problem}", file=sys.stderr)
    if problems:
        print(f"{args.definition}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"{args.definition}: valid (asl-validator, moto's parser, placeholders, error names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
