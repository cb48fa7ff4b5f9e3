"""`make package`: one zip per lambdas/<folder> and the dependency layer, byte-for-byte reproducible.

build/lambdas/<folder>.zip holds the folder's handler.py at the root and the manga2video
package (without manga2video/local, which only the local mode uses). build/layer.zip holds
requirements.txt without its "local-only" lines, installed for Lambda's platform under
python/. Entries are sorted and carry a fixed timestamp and fixed permissions, so the same
sources give the same bytes and Terraform's source_code_hash changes only with the code.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAMBDAS_DIR = ROOT / "lambdas"
CORE_PACKAGE = "manga2video"
LOCAL_ONLY_PARTS = {("manga2video", "local")}
LOCAL_ONLY_MARKER = "local-only"
SKIPPED_NAMES = {"__pycache__", ".pytest_cache", ".ruff_cache"}
SKIPPED_SUFFIXES = {".pyc", ".pyo"}
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o644
# google-api-python-client ships ~110 MB of discovery documents; Lambda allows 250 MB unzipped
# for a function and its layers, and the pipeline only talks to YouTube.
DISCOVERY_DOCUMENTS = "python/googleapiclient/discovery_cache/documents/"
KEPT_DISCOVERY_DOCUMENTS = {"youtube.v3.json"}
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"


def runtime_requirements(requirements: Path = ROOT / "requirements.txt") -> list[str]:
    """requirements.txt without comments, blank lines and the lines marked local-only."""
    kept = []
    for line in requirements.read_text(encoding="utf-8").splitlines():
        requirement, _, comment = line.partition("#")
        if requirement.strip() and LOCAL_ONLY_MARKER not in comment:
            kept.append(requirement.strip())
    return kept


def _files_under(directory: Path, prefix: str) -> Iterator[tuple[str, Path]]:
    """(archive name, path) of every file to ship under directory, skipping caches and local-only code."""
    for path in directory.rglob("*"):
        relative = path.relative_to(directory)
        if not path.is_file() or SKIPPED_NAMES & set(relative.parts) or path.suffix in SKIPPED_SUFFIXES:
            continue
        name = f"{prefix}{relative.as_posix()}" if prefix else relative.as_posix()
        if any(tuple(name.split("/")[: len(parts)]) == parts for parts in LOCAL_ONLY_PARTS):
            continue
        yield name, path


def write_zip(target: Path, entries: Iterable[tuple[str, Path]]) -> int:
    """Write entries sorted by name with a fixed time and mode; replace target only when done."""
    target.parent.mkdir(parents=True, exist_ok=True)
    ordered = sorted(entries)
    names = [name for name, _ in ordered]
    if len(names) != len(set(names)):
        raise ValueError(f"{target.name}: two files would share an archive name")
    with tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False) as handle:
        temporary = Path(handle.name)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
            for name, path in ordered:
                info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
                info.create_system = 3  # unix, so the mode below is what Lambda sees
                info.external_attr = (0o100000 | FILE_MODE) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes(), compresslevel=9)
        temporary.chmod(FILE_MODE)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return len(ordered)


def lambda_folders() -> list[str]:
    return sorted(path.parent.name for path in LAMBDAS_DIR.glob("*/handler.py"))


def package_function(folder: str, out_dir: Path) -> Path:
    """handler.py at the root (Lambda's handler is "handler.handler"), the core package beside it."""
    target = out_dir / "lambdas" / f"{folder}.zip"
    entries = [("handler.py", LAMBDAS_DIR / folder / "handler.py")]
    entries.extend(_files_under(ROOT / CORE_PACKAGE, f"{CORE_PACKAGE}/"))
    write_zip(target, entries)
    return target


def _needed_in_layer(name: str) -> bool:
    if name.startswith(DISCOVERY_DOCUMENTS):
        return name.removeprefix(DISCOVERY_DOCUMENTS) in KEPT_DISCOVERY_DOCUMENTS
    return True


def package_layer(out_dir: Path, *, pip: list[str] | None = None) -> Path:
    """The runtime requirements installed for Lambda's Python and platform, under python/."""
    target = out_dir / "layer.zip"
    with tempfile.TemporaryDirectory() as work:
        requirements = Path(work) / "requirements.txt"
        requirements.write_text("\n".join(runtime_requirements()) + "\n", encoding="utf-8")
        site = Path(work) / "python"
        command = [
            *(pip or [sys.executable, "-m", "pip"]),
            "install",
            "--quiet",
            "--no-compile",
            "--disable-pip-version-check",
            "--platform",
            LAMBDA_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            LAMBDA_PYTHON,
            "--only-binary=:all:",
            "--target",
            str(site),
            "-r",
            str(requirements),
        ]
        subprocess.run(command, check=True)
        write_zip(target, (entry for entry in _files_under(site, "python/") if _needed_in_layer(entry[0])))
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "build", help="output directory (default: build/)")
    parser.add_argument("--skip-layer", action="store_true", help="only the function zips (no registry needed)")
    args = parser.parse_args(argv)
    for folder in lambda_folders():
        path = package_function(folder, args.out)
        print(f"{path.relative_to(args.out)}: {path.stat().st_size:,} bytes")
    if not args.skip_layer:
        path = package_layer(args.out)
        print(f"{path.relative_to(args.out)}: {path.stat().st_size:,} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
