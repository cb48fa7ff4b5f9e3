"""scripts/package_lambdas.py: the zips Terraform deploys are reproducible and self-contained."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SPEC = importlib.util.spec_from_file_location("package_lambdas", ROOT / "scripts" / "package_lambdas.py")
assert SPEC and SPEC.loader
package_lambdas = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(package_lambdas)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    first, second = tmp_path_factory.mktemp("build1"), tmp_path_factory.mktemp("build2")
    package_lambdas.main(["--skip-layer", "--out", str(first)])
    # a touched source must not change the bytes: timestamps never reach the archive
    os.utime(ROOT / "manga2video" / "config.py")
    package_lambdas.main(["--skip-layer", "--out", str(second)])
    return first, second


def test_two_builds_give_identical_bytes(two_builds: tuple[Path, Path]) -> None:
    first, second = two_builds
    names = sorted(path.name for path in (first / "lambdas").glob("*.zip"))
    assert names == [f"{folder}.zip" for folder in package_lambdas.lambda_folders()]
    for name in names:
        assert (first / "lambdas" / name).read_bytes() == (second / "lambdas" / name).read_bytes(), name
    assert not (first / "layer.zip").exists(), "--skip-layer builds no layer"


def test_zip_has_handler_at_root_and_the_core_without_local_only_code(two_builds: tuple[Path, Path]) -> None:
    with zipfile.ZipFile(two_builds[0] / "lambdas" / "cleanup.zip") as archive:
        infos = archive.infolist()
        names = [info.filename for info in infos]
        assert archive.read("handler.py") == (ROOT / "lambdas" / "cleanup" / "handler.py").read_bytes()
    assert names == sorted(names)
    assert "manga2video/steps.py" in names and "manga2video/config.py" in names
    assert not [name for name in names if name.startswith("manga2video/local/") or name.endswith(".pyc")]
    assert {info.date_time for info in infos} == {package_lambdas.ZIP_EPOCH}
    assert {info.external_attr >> 16 for info in infos} == {0o100644}


def test_zip_imports_its_handler_without_the_repository(two_builds: tuple[Path, Path], tmp_path: Path) -> None:
    """Only the zip and the installed dependencies on sys.path, as in Lambda with its layer."""
    archive = two_builds[0] / "lambdas" / "check_quota.zip"
    script = (
        f"import sys; sys.path.insert(0, {str(archive)!r})\nimport handler, manga2video\nprint(manga2video.__file__)"
    )
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(archive))


def test_layer_requirements_leave_out_local_only_lines(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    lines = ["# comment", "boto3==1.0  ", "moto[server]==5.2.5  # local-only", "", "rich==15.0.0 # local-only tool"]
    requirements.write_text("\n".join(lines) + "\n")
    assert package_lambdas.runtime_requirements(requirements) == ["boto3==1.0"]
    real = package_lambdas.runtime_requirements()
    assert not [line for line in real if line.startswith(("moto", "rich"))] and any("boto3" in line for line in real)


def test_layer_keeps_only_the_youtube_discovery_document() -> None:
    documents = package_lambdas.DISCOVERY_DOCUMENTS
    assert package_lambdas._needed_in_layer(f"{documents}youtube.v3.json")
    assert not package_lambdas._needed_in_layer(f"{documents}drive.v3.json")
    assert package_lambdas._needed_in_layer("python/boto3/__init__.py")
