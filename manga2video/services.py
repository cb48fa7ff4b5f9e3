"""The AWS clients and stores one invocation works with, built from settings.

Handlers and workers build one Services and pass it to the core; tests build one over
moto, so the core never creates a client itself.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import boto3

from manga2video.config import Settings
from manga2video.jobs import CounterStore, JobsStore
from manga2video.storage import Storage


@dataclass
class Services:
    settings: Settings
    session: Any = field(default=None)

    _clients: dict[str, Any] = field(default_factory=dict, repr=False)

    @functools.cached_property
    def _session(self) -> Any:
        return self.session or boto3.session.Session()

    def client(self, name: str) -> Any:
        """One client per service, made on first use (a Lambda container keeps it warm)."""
        if name not in self._clients:
            self._clients[name] = self._session.client(name, region_name=self.settings.region)
        return self._clients[name]

    @functools.cached_property
    def dynamodb(self) -> Any:
        return self._session.resource("dynamodb", region_name=self.settings.region)

    @functools.cached_property
    def jobs(self) -> JobsStore:
        return JobsStore(self.dynamodb.Table(self.settings.jobs_table))

    @functools.cached_property
    def counters(self) -> CounterStore:
        return CounterStore(self.dynamodb.Table(self.settings.counters_table), ttl_days=self.settings.counter_ttl_days)

    @functools.cached_property
    def storage(self) -> Storage:
        return Storage(self.client("s3"), self.settings.media_bucket)
