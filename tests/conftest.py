"""Shared fixtures: one moto server on loopback for the session, reset before each test."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Manga2Video")
logging.getLogger("werkzeug").setLevel(logging.ERROR)

from manga2video.config import Settings, get_settings  # noqa: E402
from manga2video.lambda_runtime import default_services  # noqa: E402
from manga2video.local.emulator import LocalAws  # noqa: E402
from manga2video.services import Services  # noqa: E402

SHARED_FIXTURES = ROOT.parent / "shared" / "fixtures"


@pytest.fixture(scope="session")
def local_aws() -> Iterator[LocalAws]:
    emulator = LocalAws.from_settings(get_settings()).start()
    yield emulator
    emulator.stop()


@pytest.fixture
def aws(local_aws: LocalAws) -> Iterator[LocalAws]:
    """A clean emulator with the bucket, the tables and the state machine."""
    local_aws.reset()
    local_aws.create_storage()
    local_aws.create_state_machine()
    yield local_aws
    local_aws.reset()


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def services(aws: LocalAws, settings: Settings) -> Services:
    """Services over the emulator (boto3 reaches it through AWS_ENDPOINT_URL)."""
    default_services.cache_clear()
    return Services(settings)
