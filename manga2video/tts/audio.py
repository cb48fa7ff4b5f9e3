"""Scene audio as the renderer needs it: PCM s16le mono 48 kHz WAV, -16 LUFS, whole video frames long.

Loudness is normalised in two ffmpeg passes (measure, then a linear gain with the
measured values), which keeps the voice's dynamics and never shifts it in time, so the
word timings stay true. Each file is padded with silence to a whole number of video
frames: the renderer can then cut segments at frame boundaries and the summed scene
durations equal the video's audio exactly.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
import wave
from pathlib import Path

SAMPLE_RATE = 48_000
SAMPLE_WIDTH = 2
LOUDNESS_LUFS = -16.0  # YouTube plays back at about -14; -16 leaves headroom for its own normalisation
TRUE_PEAK_DB = -1.5
LOUDNESS_RANGE = 11.0
# Below this the input is silence (or nearly), and there is nothing to normalise.
QUIETEST_LUFS = -70.0
FFMPEG_TIMEOUT_S = 300


class AudioError(RuntimeError):
    """ffmpeg could not decode or normalise an engine's audio."""


def _ffmpeg(args: list[str]) -> str:
    """Run ffmpeg; returns its stderr (where filters print what they measured)."""
    try:
        done = subprocess.run(
            ["ffmpeg", "-hide_banner", "-nostdin", "-y", *args],
            capture_output=True,
            text=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise AudioError(f"ffmpeg could not run: {exc}") from exc
    if done.returncode != 0:
        raise AudioError(f"ffmpeg failed ({done.returncode}): {done.stderr[-800:]}")
    return done.stderr


def measure_loudness(source: Path) -> dict[str, str] | None:
    """loudnorm's first-pass measurements, or None when the input is (close to) silent."""
    stderr = _ffmpeg(
        [
            "-i",
            str(source),
            "-af",
            f"loudnorm=I={LOUDNESS_LUFS}:TP={TRUE_PEAK_DB}:LRA={LOUDNESS_RANGE}:print_format=json",
            "-f",
            "null",
            "-",
        ]
    )
    found = re.search(r"\{[^{}]*\"input_i\"[^{}]*\}", stderr)
    if not found:
        raise AudioError(f"ffmpeg printed no loudness measurement for {source.name}")
    measured = json.loads(found.group())
    try:
        integrated = float(measured["input_i"])
    except ValueError:
        return None
    return measured if math.isfinite(integrated) and integrated > QUIETEST_LUFS else None


def to_normalised_wav(source: Path, target: Path) -> None:
    """Decode anything ffmpeg reads (edge-tts MP3, espeak WAV) to loudness-normalised 48 kHz mono s16le."""
    measured = measure_loudness(source)
    filters = []
    if measured:
        filters = [
            "-af",
            f"loudnorm=I={LOUDNESS_LUFS}:TP={TRUE_PEAK_DB}:LRA={LOUDNESS_RANGE}"
            f":measured_I={measured['input_i']}:measured_TP={measured['input_tp']}"
            f":measured_LRA={measured['input_lra']}:measured_thresh={measured['input_thresh']}"
            f":offset={measured['target_offset']}:linear=true",
        ]
    _ffmpeg(
        [
            "-i",
            str(source),
            *filters,
            "-ar",
            str(SAMPLE_RATE),
            "-ac",
            "1",
            "-c:a",
            "pcm_s16le",
            "-map_metadata",
            "-1",
            "-bitexact",
            str(target),
        ]
    )


def samples_per_frame(fps: int) -> int:
    if fps < 1 or SAMPLE_RATE % fps:
        raise ValueError(f"video_fps must divide {SAMPLE_RATE} for frame-exact audio, got {fps}")
    return SAMPLE_RATE // fps


def write_silence(target: Path, seconds: float) -> None:
    with wave.open(str(target), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(b"\x00" * SAMPLE_WIDTH * round(seconds * SAMPLE_RATE))


def pad_to_frames(path: Path, *, fps: int, tail_s: float) -> float:
    """Add `tail_s` of silence, then round up to a whole video frame; returns the exact duration."""
    with wave.open(str(path), "rb") as source:
        if (source.getframerate(), source.getnchannels(), source.getsampwidth()) != (SAMPLE_RATE, 1, SAMPLE_WIDTH):
            raise AudioError(f"{path.name} is not 48 kHz mono 16-bit")
        pcm = source.readframes(source.getnframes())
    samples = len(pcm) // SAMPLE_WIDTH
    frame = samples_per_frame(fps)
    total = math.ceil((samples + round(tail_s * SAMPLE_RATE)) / frame) * frame
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(pcm + b"\x00" * SAMPLE_WIDTH * (total - samples))
    return total / SAMPLE_RATE


def duration_s(path: Path) -> float:
    """A WAV file's length, read from its header."""
    with wave.open(str(path), "rb") as source:
        return source.getnframes() / source.getframerate()
