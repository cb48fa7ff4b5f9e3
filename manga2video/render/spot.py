"""Watch for the Spot two-minute notice through IMDSv2 and stop the work cleanly.

EC2 publishes `spot/instance-action` about two minutes before it reclaims the instance.
On that notice the watcher calls `on_notice` (the renderer kills its ffmpeg processes;
finished segments are already in S3), and the work raises SpotInterrupted, which the
state machine retries at once on a new instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import requests

from manga2video.config import Settings
from manga2video.errors import SpotInterrupted
from manga2video.observability import logger

TOKEN_PATH = "/latest/api/token"
NOTICE_PATH = "/latest/meta-data/spot/instance-action"
TOKEN_TTL_SECONDS = 21600
REQUEST_TIMEOUT = 2.0


def spot_watch_enabled(settings: Settings) -> bool:
    """Only on EC2, or against an IMDS set on purpose (a test's fake): never probe link-local at home."""
    return settings.launch_backend == "ec2" or settings.imds_endpoint != Settings.imds_endpoint


class SpotWatcher:
    """Polls the Spot notice on its own thread every `spot_poll_seconds`."""

    def __init__(self, settings: Settings, on_notice: Callable[[str], None]) -> None:
        self._endpoint = settings.imds_endpoint.rstrip("/")
        self._interval = settings.spot_poll_seconds
        self._on_notice = on_notice
        self._stop = threading.Event()
        self._session = requests.Session()
        self._reported_unreachable = False
        self.notice = ""
        self._thread = threading.Thread(target=self._watch, name="spot-watcher", daemon=True)

    def __enter__(self) -> SpotWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=REQUEST_TIMEOUT * 2 + self._interval)

    def raise_if_noticed(self) -> None:
        if self.notice:
            raise SpotInterrupted(self.notice)

    def poll(self) -> str:
        """The notice's text, or '' while there is none (IMDSv2: a token PUT, then the GET)."""
        token = self._session.put(
            self._endpoint + TOKEN_PATH,
            headers={"X-aws-ec2-metadata-token-ttl-seconds": str(TOKEN_TTL_SECONDS)},
            timeout=REQUEST_TIMEOUT,
        )
        token.raise_for_status()
        answer = self._session.get(
            self._endpoint + NOTICE_PATH, headers={"X-aws-ec2-metadata-token": token.text}, timeout=REQUEST_TIMEOUT
        )
        if answer.status_code == 404:
            return ""
        answer.raise_for_status()
        return f"Spot instance-action notice: {answer.text.strip()[:200]}"

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                notice = self.poll()
            except requests.RequestException as exc:
                if not self._reported_unreachable:
                    logger.warning("IMDS not reachable; will keep trying", extra={"error": str(exc)[:200]})
                    self._reported_unreachable = True
                notice = ""
            if notice:
                logger.warning("Spot interruption notice: stopping", extra={"notice": notice})
                self.notice = notice
                self._on_notice(notice)
                return
            self._stop.wait(self._interval)
