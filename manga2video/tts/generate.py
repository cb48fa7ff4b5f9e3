"""GenerateTTS: one frame-exact WAV per scene, narration.json with word and line timings, the ASS file.

One engine and one voice speak the whole chapter: when a voice fails on any scene, the
next candidate starts again from scene 1, so a video never switches voice halfway.
Candidates, in order: edge-tts with tts_voice, with tts_fallback_voice, espeak-ng, then
silence with estimated timings; settings.tts_engine can force one engine.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from manga2video.config import Settings
from manga2video.errors import JobStateError, VoiceUnavailableError
from manga2video.fallbacks import record_fallback
from manga2video.observability import logger
from manga2video.services import Services
from manga2video.storage import JobKeys
from manga2video.tts.audio import SAMPLE_RATE, AudioError, pad_to_frames, to_normalised_wav
from manga2video.tts.engines import EdgeVoice, EngineFailed, ServiceUnreachable, Speech, espeak_speak, silent_speak
from manga2video.tts.subtitles import Cue, Word, ass_document, group_cues, shifted

# A breath between scenes, so one scene's last word doesn't run into the next one's first.
SCENE_TAIL_S = 0.4
ENGINES = ("edge", "espeak", "silence")


@dataclass(frozen=True)
class Candidate:
    engine: str
    voice: str

    @property
    def label(self) -> str:
        return {"edge": f"edge-tts voice {self.voice}", "espeak": "espeak-ng voice", "silence": "silent narration"}[
            self.engine
        ]


@dataclass(frozen=True)
class SceneAudio:
    index: int
    pages: list[int]
    path: Path
    duration_s: float
    words: list[Word]
    cues: list[Cue]


def candidates(settings: Settings) -> list[Candidate]:
    """The voices to try, best first; a forced engine keeps only its own, so a misconfiguration fails loudly."""
    if settings.tts_engine not in {"auto", *ENGINES}:
        raise ValueError(f"tts_engine must be auto, edge, espeak or silence, got {settings.tts_engine!r}")
    edge_voices = dict.fromkeys(voice for voice in (settings.tts_voice, settings.tts_fallback_voice) if voice)
    every = [Candidate("edge", voice) for voice in edge_voices] + [
        Candidate("espeak", "vi"),
        Candidate("silence", "none"),
    ]
    return [candidate for candidate in every if settings.tts_engine in {"auto", candidate.engine}]


def _speak(candidate: Candidate, edge: EdgeVoice, text: str, rate: str, target: Path) -> Speech:
    if candidate.engine == "edge":
        return edge.speak(text, voice=candidate.voice, rate=rate, target=target.with_suffix(".mp3"))
    if candidate.engine == "espeak":
        return espeak_speak(text, rate=rate, target=target.with_suffix(".espeak.wav"))
    return silent_speak(text, rate=rate, target=target.with_suffix(".silence.wav"))


def voice_scenes(
    candidate: Candidate, scenes: list[Mapping[str, Any]], settings: Settings, edge: EdgeVoice, workdir: Path
) -> list[SceneAudio]:
    """Every scene in this one voice, or EngineFailed."""
    voiced = []
    for scene in scenes:
        index = int(scene["index"])
        wav = workdir / f"{index:03d}.wav"
        speech = _speak(candidate, edge, scene["narration"], settings.tts_rate, workdir / f"{index:03d}")
        try:
            to_normalised_wav(speech.audio, wav)
        except AudioError as exc:
            raise EngineFailed(f"{candidate.label}: audio of scene {index} unusable: {exc}") from exc
        duration = pad_to_frames(wav, fps=settings.video_fps, tail_s=SCENE_TAIL_S)
        voiced.append(
            SceneAudio(
                index, list(scene["pages"]), wav, duration, speech.words, group_cues(speech.words, scene["narration"])
            )
        )
    return voiced


def voice_chapter(
    scenes: list[Mapping[str, Any]], settings: Settings, edge: EdgeVoice, workdir: Path
) -> tuple[Candidate, list[SceneAudio], list[str]]:
    """The first candidate that voices every scene, and why the ones before it did not."""
    reasons: list[str] = []
    edge_unreachable = False
    for candidate in candidates(settings):
        if candidate.engine == "edge" and edge_unreachable:
            continue
        try:
            return candidate, voice_scenes(candidate, scenes, settings, edge, workdir), reasons
        except ServiceUnreachable as exc:
            edge_unreachable = True
            reasons.append(str(exc))
        except EngineFailed as exc:
            reasons.append(str(exc))
    raise VoiceUnavailableError(f"no voice engine could speak the narration ({settings.tts_engine}): {reasons}")


def _timed(items: list[Word] | list[Cue]) -> list[dict[str, Any]]:
    return [{"text": item.text, "start_s": item.start_s, "end_s": item.end_s} for item in items]


def generate_tts(event: Mapping[str, Any], services: Services, *, edge: EdgeVoice | None = None) -> dict[str, Any]:
    """The GenerateTTS state; `edge` is the seam tests fill, since edge-tts's service is out of their reach."""
    job_id = event["job_id"]
    settings = services.settings
    keys = JobKeys(job_id)
    services.jobs.get_in(job_id, {"scripted", "voiced"}, why="it is voiced right after its script is written")
    script = services.storage.get_json(keys.script)
    scenes = script.get("scenes") or []
    if not scenes:
        raise JobStateError(f"job {job_id} has a script without scenes")

    with tempfile.TemporaryDirectory(prefix="m2v-tts-") as tmp:
        chosen, voiced, reasons = voice_chapter(scenes, settings, edge or EdgeVoice(), Path(tmp))
        for scene in voiced:
            services.storage.upload_file(scene.path, keys.audio(scene.index))

    preferred = candidates(settings)[0]
    fallback_reason = "; ".join(reasons) or None
    if chosen != preferred or chosen.engine != "edge":
        why = fallback_reason or f"M2V_TTS_ENGINE={settings.tts_engine}"
        record_fallback(services.jobs, job_id, chosen.label, reason=why)
        fallback_reason = why

    offset = 0.0
    scene_records: list[dict[str, Any]] = []
    all_cues: list[Cue] = []
    for scene in voiced:
        scene_records.append(
            {
                "index": scene.index,
                "pages": scene.pages,
                "audio_key": keys.audio(scene.index),
                "duration_s": scene.duration_s,
                "words": _timed(scene.words),
                "cues": _timed(scene.cues),
            }
        )
        all_cues += shifted(scene.cues, offset)
        offset += scene.duration_s
    total = round(offset, 6)
    narration = {
        "engine": chosen.engine,
        "voice": chosen.voice,
        "fallback_reason": fallback_reason,
        "sample_rate": SAMPLE_RATE,
        "fps": settings.video_fps,
        "scenes": scene_records,
        "total_duration_s": total,
    }
    services.storage.put_json(keys.narration, narration)
    subtitles = ass_document(
        all_cues, width=settings.video_width, height=settings.video_height, font=settings.subtitle_font
    )
    services.storage.put_bytes(keys.subtitles, subtitles.encode("utf-8"), "text/x-ssa; charset=utf-8")
    services.jobs.transition(
        job_id,
        "voiced",
        narration_duration_s=total,
        voice_engine=chosen.engine,
        voice=chosen.voice,
        narration_key=keys.narration,
        subtitles_key=keys.subtitles,
    )
    logger.info("narration voiced", extra={"engine": chosen.engine, "voice": chosen.voice, "duration_s": total})
    return {
        "key": keys.narration,
        "duration_s": total,
        "engine": chosen.engine,
        "voice": chosen.voice,
        "scene_count": len(voiced),
    }
