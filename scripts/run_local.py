"""`make run`: the whole pipeline on this machine (see the README). ARGS="--quota 2 --keep"."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from manga2video.local.asl import AWS_NUMBERS
from manga2video.local.runner import LocalRun, RunOptions


def asl_override(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    if not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, got {text!r}")
    number = float(value)
    return name, int(number) if number.is_integer() else number


def parse(argv: list[str]) -> RunOptions:
    parser = argparse.ArgumentParser(description="Run the manga2video state machine locally and make real videos.")
    parser.add_argument("--quota", type=int, help="videos to publish in this run (default: M2V_DAILY_QUOTA)")
    parser.add_argument("--source", metavar="URL", help="a real NetTruyen-like site instead of the fixture site")
    parser.add_argument("--keep", action="store_true", help="copy each job's S3 working files to <state>/kept/")
    parser.add_argument("--reset", action="store_true", help="forget the local state (jobs, counters, S3) first")
    parser.add_argument(
        "--asl",
        action="append",
        type=asl_override,
        default=[],
        metavar="NAME=NUMBER",
        help="replace an ASL number, e.g. renderer_heartbeat_seconds=20 (no longer AWS's numbers)",
    )
    parser.add_argument(
        "--retry-sleep-scale",
        type=float,
        default=1.0,
        help="sleep this fraction of each Retry interval (default 1: AWS's real 60 s)",
    )
    parser.add_argument("--no-live", action="store_true", help="plain progress lines instead of the live view")
    args = parser.parse_args(argv)
    if args.quota is not None and args.quota < 1:
        parser.error("--quota must be at least 1")
    unknown = sorted({name for name, _ in args.asl} - set(AWS_NUMBERS))
    if unknown:
        parser.error(f"--asl: no ASL number named {', '.join(unknown)}; known: {', '.join(sorted(AWS_NUMBERS))}")
    return RunOptions(
        quota=args.quota,
        source=args.source,
        keep=args.keep,
        reset=args.reset,
        asl_overrides=dict(args.asl),
        retry_sleep_scale=args.retry_sleep_scale,
        live=False if args.no_live else None,
    )


def main(argv: list[str] | None = None) -> int:
    return LocalRun(parse(sys.argv[1:] if argv is None else argv)).run()


if __name__ == "__main__":
    sys.exit(main())
