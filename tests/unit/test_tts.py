"""GenerateTTS: edge-tts driven by a stream double (its service is out of reach here), espeak-ng for real."""

from __future__ import annotations

import io
import itertools
import re
import socket
import subprocess
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import edge_tts.communicate
import pytest
from edge_tts.exceptions import NoAudioReceived
from PIL import Image

from manga2video.errors import VoiceUnavailableError
from manga2video.services import Services
from manga2video.storage import JobKeys
from manga2video.tts import generate_tts
from manga2video.tts.engines import EdgeVoice, open_edge_stream
from manga2video.tts.subtitles import Cue, Word, ass_document, group_cues
from tests.unit.test_script import seed_job, with_settings

SCENES = [
    {"index": 1, "pages": [1], "narration": "Miyo bước vào, căn phòng lạnh lẽo. Kiyoka im lặng nhìn cô."},
    {"index": 2, "pages": [2], "narration": "Anh nói: “Đừng sợ.” Cô gật đầu."},
]
TICKS = 10_000_000
FFMPEG = ["ffmpeg", "-hide_banner", "-loglevel", "error"]
MP3_48K = ["-c:a", "libmp3lame", "-b:a", "48k", "-f", "mp3", "-"]


@pytest.fixture(scope="module")
def mp3() -> bytes:
    """1.5 s of tone as edge-tts sends it: MP3, 24 kHz mono, 48 kbit/s CBR."""
    return subprocess.run(
        [*FFMPEG, "-f", "lavfi", "-i", "sine=frequency=330:duration=1.5", "-ar", "24000", "-ac", "1", *MP3_48K],
        capture_output=True,
        check=True,
    ).stdout


def boundaries(text: str) -> list[dict[str, Any]]:
    """WordBoundary events as edge-tts 7 yields them: bare words, offset and duration in 100-ns ticks."""
    words = [word for word in re.findall(r"[^\W_]+", text)]
    return [
        {"type": "WordBoundary", "offset": 500_000 + index * 1_150_000, "duration": 987_500, "text": word}
        for index, word in enumerate(words)
    ]


class StreamDouble:
    """Stands in for edge_tts.Communicate(...).stream(); records each call.

    `fail(voice, earlier_calls_with_that_voice)` may return an exception for the stream to raise.
    """

    def __init__(self, mp3: bytes, fail: Callable[[str, int], Exception | None] = lambda voice, calls: None) -> None:
        self.mp3 = mp3
        self.fail = fail
        self.calls: list[tuple[str, str, str]] = []

    def __call__(self, text: str, voice: str, rate: str) -> AsyncIterator[dict[str, Any]]:
        failure = self.fail(voice, sum(1 for call in self.calls if call[1] == voice))
        self.calls.append((text, voice, rate))
        return self._stream(text, failure)

    async def _stream(self, text: str, failure: Exception | None) -> AsyncIterator[dict[str, Any]]:
        if failure:
            raise failure
        events = boundaries(text)
        chunks = [self.mp3[start : start + 2048] for start in range(0, len(self.mp3), 2048)]
        for position in range(max(len(events), len(chunks))):
            if position < len(events):
                yield events[position]
            if position < len(chunks):
                yield {"type": "audio", "data": chunks[position]}


def scripted_job(services: Services, scenes: list[dict[str, Any]] = SCENES) -> str:
    job_id = seed_job(services, [(300, 450, 1)] * len(scenes))
    services.storage.put_json(JobKeys(job_id).script, {"title": "t", "language": "vi", "scenes": scenes})
    services.jobs.transition(job_id, "scripted", script_title="t")
    return job_id


def read_wav(services: Services, key: str, tmp_path: Path) -> wave.Wave_read:
    path = tmp_path / Path(key).name
    services.storage.download_file(key, path)
    return wave.open(str(path), "rb")


def integrated_loudness(path: Path) -> float:
    stderr = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostdin", "-i", str(path), "-af", "ebur128", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return float(re.findall(r"I:\s+(-?[\d.]+) LUFS", stderr)[-1])


def test_edge_voice_gives_frame_exact_wavs_and_subtitles_on_the_word_offsets(
    services: Services, mp3: bytes, tmp_path: Path
) -> None:
    services = with_settings(services, video_fps=30, tts_engine="auto")
    job_id = scripted_job(services)
    double = StreamDouble(mp3)

    result = generate_tts({"job_id": job_id}, services, edge=EdgeVoice(stream=double, backoff_s=0))

    keys = JobKeys(job_id)
    narration = services.storage.get_json(keys.narration)
    voice = services.settings.tts_voice
    assert result == {
        "key": keys.narration,
        "duration_s": narration["total_duration_s"],
        "engine": "edge",
        "voice": voice,
        "scene_count": 2,
    }
    assert [call[1:] for call in double.calls] == [(voice, services.settings.tts_rate)] * 2
    assert narration["engine"] == "edge" and narration["fallback_reason"] is None
    assert (narration["sample_rate"], narration["fps"]) == (48000, 30)

    for scene, spec in zip(narration["scenes"], SCENES, strict=True):
        events = boundaries(spec["narration"])
        # words are the WordBoundary offsets, to the millisecond
        assert [(w["text"], w["start_s"], w["end_s"]) for w in scene["words"]] == [
            (e["text"], round(e["offset"] / TICKS, 3), round((e["offset"] + e["duration"]) / TICKS, 3)) for e in events
        ]
        # each line starts on its first word and ends on its last
        starts = {w["start_s"] for w in scene["words"]}
        ends = {w["end_s"] for w in scene["words"]}
        assert all(cue["start_s"] in starts and cue["end_s"] in ends for cue in scene["cues"])
        assert " ".join(cue["text"] for cue in scene["cues"]) == spec["narration"]
        # the WAV is PCM s16le mono 48 kHz, a whole number of 1/30 s frames, and as long as recorded
        with read_wav(services, scene["audio_key"], tmp_path) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (48000, 1, 2)
            assert wav.getnframes() % 1600 == 0
            assert scene["duration_s"] == wav.getnframes() / 48000
            assert scene["duration_s"] >= 1.5
    # lines break after sentences: "Miyo bước vào, căn phòng lạnh lẽo." is one line, the next sentence another
    assert [cue["text"] for cue in narration["scenes"][0]["cues"]] == [
        "Miyo bước vào, căn phòng lạnh lẽo.",
        "Kiyoka im lặng nhìn cô.",
    ]
    first_cue_of_scene_2 = narration["scenes"][1]["cues"][0]
    assert first_cue_of_scene_2["start_s"] == 0.05
    assert narration["total_duration_s"] == pytest.approx(sum(s["duration_s"] for s in narration["scenes"]))

    path = tmp_path / "001.wav"
    assert integrated_loudness(path) == pytest.approx(-16.0, abs=1.0)

    # the whole file: scene 2's lines shifted by scene 1's duration, in centiseconds
    ass = services.storage.get_bytes(keys.subtitles).decode("utf-8")
    dialogue = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    assert len(dialogue) == sum(len(scene["cues"]) for scene in narration["scenes"])
    shift = narration["scenes"][0]["duration_s"] + 0.05
    assert dialogue[2].split(",")[1] == f"0:00:{shift:05.2f}"
    assert "Style: Default,DejaVu Sans," in ass

    job = services.jobs.get(job_id)
    assert job["status"] == "voiced" and job["voice_engine"] == "edge"
    assert job["narration_duration_s"] == pytest.approx(narration["total_duration_s"])
    assert "fallbacks" not in job


def test_no_audio_is_retried_then_the_other_voice_speaks_every_scene(services: Services, mp3: bytes) -> None:
    services = with_settings(services, tts_engine="auto")
    voice, other = services.settings.tts_voice, services.settings.tts_fallback_voice
    job_id = scripted_job(services)
    # the first voice speaks scene 1, then gives no audio for scene 2, twice
    double = StreamDouble(
        mp3, lambda name, calls: NoAudioReceived("No audio was received.") if name == voice and calls else None
    )

    result = generate_tts({"job_id": job_id}, services, edge=EdgeVoice(stream=double, attempts=2, backoff_s=0))

    # the other voice starts again from scene 1: one voice for the whole video
    assert [(call[0], call[1]) for call in double.calls] == [
        (SCENES[0]["narration"], voice),
        (SCENES[1]["narration"], voice),
        (SCENES[1]["narration"], voice),
        (SCENES[0]["narration"], other),
        (SCENES[1]["narration"], other),
    ]
    assert result["engine"] == "edge" and result["voice"] == other
    narration = services.storage.get_json(JobKeys(job_id).narration)
    assert "NoAudioReceived" in narration["fallback_reason"]
    assert services.jobs.get(job_id)["fallbacks"] == [f"edge-tts voice {other}"]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_unreachable_service_falls_back_to_espeak_ng_for_real(
    services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the real edge-tts client, pointed at a loopback port nobody listens on: aiohttp's ClientConnectorError
    monkeypatch.setattr(edge_tts.communicate, "WSS_URL", f"wss://127.0.0.1:{closed_port()}/tts?x=1")
    services = with_settings(services, tts_engine="auto", video_fps=25)
    job_id = scripted_job(services, SCENES[:1])
    voices_tried: list[str] = []

    def real_stream(text: str, voice: str, rate: str) -> AsyncIterator[dict[str, Any]]:
        voices_tried.append(voice)
        return open_edge_stream(text, voice, rate)

    result = generate_tts({"job_id": job_id}, services, edge=EdgeVoice(stream=real_stream, attempts=2, backoff_s=0))

    assert result["engine"] == "espeak" and result["voice"] == "vi"
    narration = services.storage.get_json(JobKeys(job_id).narration)
    assert "unreachable" in narration["fallback_reason"] and "ClientConnectorError" in narration["fallback_reason"]
    # once the service is unreachable, the second edge voice is not tried
    assert voices_tried == [services.settings.tts_voice] * 2
    (scene,) = narration["scenes"]
    with read_wav(services, scene["audio_key"], tmp_path) as wav:
        assert wav.getframerate() == 48000 and wav.getnframes() % (48000 // 25) == 0
        pcm = wav.readframes(wav.getnframes())
    assert max(abs(int.from_bytes(pcm[i : i + 2], "little", signed=True)) for i in range(0, len(pcm), 2)) > 1000
    words = scene["words"]
    assert [w["text"] for w in words] == re.findall(r"[^\W_]+", SCENES[0]["narration"])
    assert all(a["end_s"] <= b["start_s"] for a, b in itertools.pairwise(words))
    assert words[-1]["end_s"] <= scene["duration_s"]
    job = services.jobs.get(job_id)
    assert job["status"] == "voiced" and job["voice_engine"] == "espeak"
    assert job["fallbacks"] == ["espeak-ng voice"]


def test_edge_tts_is_asked_for_word_boundaries(monkeypatch: pytest.MonkeyPatch) -> None:
    """edge-tts 7.2+ reports sentence boundaries unless asked: the stream double cannot see that."""
    made: list[tuple[tuple[Any, ...], dict[str, Any]]] = []

    class Communicate:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            made.append((args, kwargs))

        def stream(self) -> str:
            return "the stream"

    monkeypatch.setattr(edge_tts, "Communicate", Communicate)

    assert open_edge_stream("Xin chào", "vi-VN-HoaiMyNeural", "+5%") == "the stream"
    assert made == [(("Xin chào", "vi-VN-HoaiMyNeural"), {"rate": "+5%", "boundary": "WordBoundary"})]


def test_forced_silence_keeps_the_pace_of_estimated_speech(services: Services, tmp_path: Path) -> None:
    services = with_settings(services, tts_engine="silence")
    job_id = scripted_job(services, SCENES[:1])

    result = generate_tts({"job_id": job_id}, services)

    assert result["engine"] == "silence"
    narration = services.storage.get_json(JobKeys(job_id).narration)
    (scene,) = narration["scenes"]
    assert [w["text"] for w in scene["words"]] == re.findall(r"[^\W_]+", SCENES[0]["narration"])
    assert scene["words"][-1]["end_s"] > 2.0
    with read_wav(services, scene["audio_key"], tmp_path) as wav:
        assert set(wav.readframes(wav.getnframes())) == {0}
    assert services.jobs.get(job_id)["fallbacks"] == ["silent narration"]


def test_a_forced_engine_that_cannot_speak_is_voice_unavailable(services: Services, mp3: bytes) -> None:
    services = with_settings(services, tts_engine="edge")
    job_id = scripted_job(services, SCENES[:1])
    dead = StreamDouble(mp3, lambda voice, calls: NoAudioReceived("No audio was received."))

    with pytest.raises(VoiceUnavailableError, match="NoAudioReceived"):
        generate_tts({"job_id": job_id}, services, edge=EdgeVoice(stream=dead, attempts=2, backoff_s=0))

    assert len(dead.calls) == 4
    assert services.jobs.get(job_id)["status"] == "scripted"


# --- subtitles ---------------------------------------------------------------------


def test_long_sentences_break_into_short_lines_at_punctuation() -> None:
    text = (
        "Trong đêm mưa lạnh giá, Miyo lặng lẽ rời khỏi căn nhà cũ của gia đình Saimori, "
        "mang theo chiếc túi nhỏ và một trái tim đầy lo âu."
    )
    tokens = text.split()
    words = [Word(token.strip(".,"), index * 0.3, index * 0.3 + 0.25) for index, token in enumerate(tokens)]

    cues = group_cues(words, text)

    assert " ".join(cue.text for cue in cues) == text
    assert all(len(cue.text) <= 42 and len(cue.text.split()) <= 10 for cue in cues)
    assert cues[0].text == "Trong đêm mưa lạnh giá,"
    assert [cue.start_s for cue in cues] == [words[tokens.index(cue.text.split()[0])].start_s for cue in cues]


def png_of(ass: Path) -> list[str]:
    return ["-vf", f"ass={ass}", "-frames:v", "1", "-f", "image2", "-c:v", "png", "-"]


def test_the_ass_document_renders_with_libass_where_the_cue_is(tmp_path: Path) -> None:
    cues = [Cue(0.5, 1.0, "Tiếng Việt có dấu: ắ ữ ệ {không} \\N")]
    path = tmp_path / "subs.ass"
    path.write_text(ass_document(cues, width=320, height=180, font="DejaVu Sans"), encoding="utf-8")

    def frame_at(seconds: float) -> Image.Image:
        png = subprocess.run(
            [*FFMPEG, "-f", "lavfi", "-i", "color=black:size=320x180:rate=10", "-ss", str(seconds), *png_of(path)],
            capture_output=True,
            check=True,
        ).stdout
        return Image.open(io.BytesIO(png)).convert("L")

    assert frame_at(0.7).getextrema()[1] > 200  # white text drawn
    assert frame_at(1.5).getextrema()[1] < 20  # nothing after the cue ends
    assert "{" not in path.read_text(encoding="utf-8").split("Dialogue:")[1]
