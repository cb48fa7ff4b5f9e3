"""The voices: edge-tts (Microsoft's neural voices), espeak-ng offline, and silence as the last resort.

Each engine turns one scene's narration into an audio file ffmpeg can read and the
words' times in it. edge-tts reports them itself (WordBoundary events, in 100-ns ticks);
for espeak-ng and silence they are estimated from the words' lengths and punctuation.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import edge_tts
from edge_tts.exceptions import NoAudioReceived, UnexpectedResponse, UnknownResponse, WebSocketError

from manga2video.observability import logger
from manga2video.tts.audio import duration_s, write_silence
from manga2video.tts.subtitles import SENTENCE_END, Word

TICKS_PER_SECOND = 10_000_000
ESPEAK_VOICE = "vi"
ESPEAK_BASE_WPM = 175
ESPEAK_TIMEOUT_S = 120
# Estimated speech: Vietnamese narration runs at about 4 syllables (space-separated words) a second.
SECONDS_PER_WORD = 0.16
SECONDS_PER_CHAR = 0.02
SENTENCE_PAUSE_S = 0.35
CLAUSE_PAUSE_S = 0.18

EdgeStream = Callable[[str, str, str], AsyncIterator[dict[str, Any]]]


class EngineFailed(Exception):
    """This engine could not speak the narration; the next one may."""


class ServiceUnreachable(EngineFailed):
    """The edge-tts service cannot be reached at all: no other edge voice will fare better."""


@dataclass(frozen=True)
class Speech:
    audio: Path
    words: list[Word]


def rate_percent(rate: str) -> int:
    """'+10%' -> 10: edge-tts's rate syntax, which the offline voices follow too."""
    match = re.fullmatch(r"([+-])(\d+)%", rate.strip())
    if not match:
        raise ValueError(f"tts_rate must look like +0% or -10%, got {rate!r}")
    return int(match.group(2)) * (-1 if match.group(1) == "-" else 1)


def estimated_words(text: str, *, rate: str, total_s: float | None = None) -> list[Word]:
    """Word times from lengths and punctuation; scaled to total_s when the audio's length is known."""
    speed = 1 + rate_percent(rate) / 100
    words: list[Word] = []
    clock = 0.0
    for token in text.split():
        core = token.strip(".,;:!?…\"'“”‘’()[]-–—")
        if not core:
            continue
        spoken = (SECONDS_PER_WORD + SECONDS_PER_CHAR * len(core)) / speed
        words.append(Word(core, clock, clock + spoken))
        clock += spoken
        if token.endswith(SENTENCE_END):
            clock += SENTENCE_PAUSE_S / speed
        elif token.endswith((",", ";", ":")):
            clock += CLAUSE_PAUSE_S / speed
    if total_s is None or not words:
        return [Word(word.text, round(word.start_s, 3), round(word.end_s, 3)) for word in words]
    scale = total_s / max(clock, words[-1].end_s)
    return [Word(word.text, round(word.start_s * scale, 3), round(word.end_s * scale, 3)) for word in words]


def open_edge_stream(text: str, voice: str, rate: str) -> AsyncIterator[dict[str, Any]]:
    return edge_tts.Communicate(text, voice, rate=rate, boundary="WordBoundary").stream()


async def _collect(stream: AsyncIterator[dict[str, Any]]) -> tuple[bytes, list[Word]]:
    audio = bytearray()
    words: list[Word] = []
    async for chunk in stream:
        if chunk["type"] == "audio":
            audio += chunk["data"]
        elif chunk["type"] == "WordBoundary":
            start = chunk["offset"] / TICKS_PER_SECOND
            end = (chunk["offset"] + chunk["duration"]) / TICKS_PER_SECOND
            words.append(Word(chunk["text"], round(start, 3), round(end, 3)))
    if not audio:
        raise NoAudioReceived("the stream ended without audio")
    return bytes(audio), words


# The voice or the text is the problem: try again, then the other voice.
VOICE_ERRORS = (NoAudioReceived, UnexpectedResponse, UnknownResponse)
# The way to the service is the problem (offline, aiohttp's ClientConnectorError is an OSError).
CONNECTION_ERRORS = (WebSocketError, aiohttp.ClientError, OSError, asyncio.TimeoutError)


@dataclass(frozen=True)
class EdgeVoice:
    """edge-tts with retries; `stream` is the seam tests replace, since the service is out of reach there."""

    stream: EdgeStream = open_edge_stream
    attempts: int = 2
    backoff_s: float = 1.0

    def speak(self, text: str, *, voice: str, rate: str, target: Path) -> Speech:
        """One scene in one voice; the failure's kind tells the caller whether another edge voice is worth trying."""
        failure: Exception | None = None
        for attempt in range(1, self.attempts + 1):
            try:
                audio, words = asyncio.run(_collect(self.stream(text, voice, rate)))
            except (*VOICE_ERRORS, *CONNECTION_ERRORS) as exc:
                failure = exc
                logger.warning(
                    "edge-tts attempt failed",
                    extra={"voice": voice, "attempt": attempt, "error": f"{type(exc).__name__}: {exc}"},
                )
                if attempt < self.attempts:
                    time.sleep(self.backoff_s * attempt)
                continue
            target.write_bytes(audio)
            return Speech(target, words)
        reason = f"{type(failure).__name__}: {failure}"
        if isinstance(failure, CONNECTION_ERRORS):
            raise ServiceUnreachable(f"edge-tts service unreachable ({reason})") from failure
        raise EngineFailed(f"edge-tts voice {voice} gave no audio ({reason})") from failure


def espeak_speak(text: str, *, rate: str, target: Path) -> Speech:
    """espeak-ng's Vietnamese voice to WAV; its word times are estimated over the real duration."""
    if shutil.which("espeak-ng") is None:
        raise EngineFailed("espeak-ng is not installed")
    words_per_minute = max(80, round(ESPEAK_BASE_WPM * (1 + rate_percent(rate) / 100)))
    text_file = target.with_suffix(".txt")
    text_file.write_text(text, encoding="utf-8")
    try:
        subprocess.run(
            ["espeak-ng", "-v", ESPEAK_VOICE, "-s", str(words_per_minute), "-w", str(target), "-f", str(text_file)],
            capture_output=True,
            check=True,
            timeout=ESPEAK_TIMEOUT_S,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineFailed(f"espeak-ng failed: {exc}") from exc
    return Speech(target, estimated_words(text, rate=rate, total_s=duration_s(target)))


def silent_speak(text: str, *, rate: str, target: Path) -> Speech:
    """No voice at all: silence as long as the narration would take, so the video keeps its pace."""
    words = estimated_words(text, rate=rate)
    write_silence(target, words[-1].end_s if words else 1.0)
    return Speech(target, words)
