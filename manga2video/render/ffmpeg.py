"""ffmpeg command lines for the renderer, and a runner that a Spot notice can stop.

All per-frame work happens inside ffmpeg: each shot feeds a single decoded page into its
motion filter (zoompan for a zoom, loop + crop for a strip pan), drawn at twice the output
size and scaled down so sub-pixel motion does not jitter. Only the page moves; the backdrop
is still, which keeps x264 (the renderer's real cost) fast. Python only builds commands.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from manga2video.errors import PipelineError, RenderError
from manga2video.render.manifest import strip_view_width

STDERR_TAIL = 600
# Bumped whenever the filtergraphs change what a segment looks like: old checkpoints are not reused.
LOOK_VERSION = 2
AUDIO_BITRATE = "160k"
TITLE_FONT_SHARE = 0.075  # of the frame height, for the comic's name; the chapter line is smaller


FILTERGRAPH_SPECIAL = frozenset("'\\:[],;")


def filter_value(value: Path | str) -> str:
    """A path or font name quoted for a filtergraph option.

    The renderer's own paths and font names never need ffmpeg's two-level escaping, so a
    value that would is refused rather than escaped.
    """
    text = str(value)
    if FILTERGRAPH_SPECIAL & set(text):
        raise RenderError(f"{text!r} cannot be used in an ffmpeg filtergraph (it holds one of ' \\ : [ ] , ;)")
    return f"'{text}'"


class FfmpegRunner:
    """Runs ffmpeg processes; `interrupt` kills the running ones and fails every later step with its error."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: set[subprocess.Popen] = set()
        self.interruption: PipelineError | None = None

    def interrupt(self, error: PipelineError) -> None:
        with self._lock:
            self.interruption = error
            for process in self._running:
                if process.poll() is None:
                    process.kill()

    def check(self) -> None:
        if self.interruption is not None:  # a fresh instance per raise: several threads may raise it
            raise type(self.interruption)(str(self.interruption))

    def run(self, args: Sequence[str], *, what: str) -> None:
        """Run one ffmpeg/ffprobe command; RenderError with stderr's tail if it fails."""
        with self._lock:
            self.check()
            # in the worker's process group: whoever kills the worker's group kills its ffmpeg too
            process = subprocess.Popen(
                list(args), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            self._running.add(process)
        try:
            _, stderr = process.communicate()
        finally:
            with self._lock:
                self._running.discard(process)
        self.check()
        if process.returncode != 0:
            tail = stderr.decode("utf-8", "replace").strip()[-STDERR_TAIL:]
            raise RenderError(f"{what} failed (ffmpeg exit {process.returncode}): {tail}")


def _base() -> list[str]:
    return ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]


def _encoder(manifest: Mapping[str, Any], threads: int) -> list[str]:
    return [
        "-c:v", "libx264", "-preset", str(manifest["preset"]), "-crf", str(manifest["crf"]),
        "-pix_fmt", "yuv420p", "-threads", str(threads), "-r", str(manifest["fps"]),
    ]  # fmt: skip


def _held(frames: int, timebase: str) -> str:
    """Filters repeating one decoded still for a shot's `frames` frames, on the video's clock."""
    return f"format=yuv420p,loop=loop={frames - 1}:size=1,{timebase}"


def _backdrop(index: int, width: int, height: int, frames: int, timebase: str) -> str:
    """A darkened, blurred copy of the page filling the frame, still for the whole shot: labelled bg{index}.

    It is blurred small (cheap) and never moves, so x264 spends almost nothing on it.
    """
    small_w, small_h = width // 8 // 2 * 2, height // 8 // 2 * 2
    return (
        f"[b{index}]scale={small_w}:{small_h}:force_original_aspect_ratio=increase,crop={small_w}:{small_h},"
        f"boxblur=10:2,eq=brightness=-0.3:saturation=0.7,scale={width}:{height},setsar=1,"
        f"{_held(frames, timebase)}[bg{index}]"
    )


def fitted_box(page_width: int, page_height: int, width: int, height: int) -> tuple[int, int]:
    """The page's size when fitted inside the frame, aspect kept, both sides even (for yuv420p)."""
    scale = min(width / page_width, height / page_height)
    return max(2, 2 * round(page_width * scale / 2)), max(2, 2 * round(page_height * scale / 2))


def _title_text(segment: Mapping[str, Any], text_files: Mapping[str, Path], font: str, height: int) -> str:
    """drawtext reads the titles from files, so no title needs filtergraph escaping."""
    big = round(height * TITLE_FONT_SHARE)
    lines = []
    for name, size, offset in (("comic", big, -0.6), ("chapter", round(big * 0.62), 0.9)):
        if not segment["text"].get(name):
            continue
        lines.append(
            f"drawtext=font={filter_value(font)}:textfile={filter_value(text_files[name])}:fontsize={size}"
            f":fontcolor=white:borderw={max(2, size // 14)}:bordercolor=black@0.8"
            f":x=(w-text_w)/2:y=h/2+({offset})*{big}-text_h/2"
        )
    return ",".join(lines)


def _shot_graph(shot: Mapping[str, Any], index: int, manifest: Mapping[str, Any], text: str) -> str:
    """One shot: input `index` (a single still) -> `frames` frames at the output size, labelled s{index}.

    Only the page moves, over a still backdrop: a zoom inside the page's fitted box, or a pan
    down a strip. The moving page is drawn at twice its size and sampled down, so sub-pixel
    motion does not jitter. `text` (drawtext filters, for the title card) goes on top.
    """
    width, height, fps, frames = manifest["width"], manifest["height"], manifest["fps"], shot["frames"]
    tb = f"settb=expr=1/{fps},setpts=N"
    span = max(frames - 1, 1)
    if shot["motion"] == "zoom":
        box_w, box_h = fitted_box(int(shot["width"]), int(shot["height"]), width, height)
        start, end = shot["zoom"]
        page = (
            f"[f{index}]scale={2 * box_w}:{2 * box_h}:flags=lanczos,format=yuv420p,"
            f"zoompan=z='{start}+({end}-{start})*on/{span}':x='iw/2-iw/zoom/2':y='ih/2-ih/zoom/2'"
            f":d={frames}:s={box_w}x{box_h}:fps={fps},{tb}[fg{index}]"
        )
        place = "(W-w)/2:(H-h)/2"
    else:
        view_w = strip_view_width(width)
        big_view_w, big_h = 2 * view_w, 2 * height
        # the strip at twice the view width, its height following its own aspect: never squashed
        page = (
            f"[f{index}]scale={big_view_w}:-2:flags=lanczos,{_held(frames, tb)},"
            f"crop={big_view_w}:{big_h}:0:'(ih-{big_h})*n/{span}',scale={view_w}:{height}[fg{index}]"
        )
        place = "(W-w)/2:0"
    compose = f"[bg{index}][fg{index}]overlay={place}"
    if text:  # dimmed, so the titles read well over any page
        compose += f",drawbox=color=black@0.5:t=fill,{text}"
    return ";".join(
        [
            f"[{index}:v]format=yuv420p,setsar=1,split[b{index}][f{index}]",
            _backdrop(index, width, height, frames, tb),
            page,
            f"{compose},{tb}[s{index}]",
        ]
    )


def segment_command(
    manifest: Mapping[str, Any],
    segment: Mapping[str, Any],
    page_paths: Mapping[int, Path],
    out: Path,
    *,
    subtitles: Path | None,
    text_files: Mapping[str, Path],
    threads: int,
) -> list[str]:
    """ffmpeg arguments rendering one video-only, frame-exact segment."""
    shots = segment["shots"]
    inputs: list[str] = []
    for shot in shots:
        inputs += ["-framerate", str(manifest["fps"]), "-i", str(page_paths[shot["page"]])]
    title = segment["kind"] == "title"
    text = _title_text(segment, text_files, manifest["font"], manifest["height"]) if title else ""
    graphs = [_shot_graph(shot, index, manifest, text) for index, shot in enumerate(shots)]
    labels = "".join(f"[s{index}]" for index in range(len(shots)))
    frames, fade = segment["frames"], segment["fade_frames"]
    finish = [f"{labels}concat=n={len(shots)}:v=1:a=0" if len(shots) > 1 else f"{labels}null"]
    if fade:
        finish.append(f"fade=t=in:s=0:n={fade},fade=t=out:s={frames - fade}:n={fade}")
    if subtitles is not None:
        finish.append(f"ass=filename={filter_value(subtitles)}")
    finish.append("format=yuv420p[v]")
    graph = ";".join([*graphs, ",".join(finish)])
    return [
        *_base(), *inputs, "-filter_complex", graph, "-map", "[v]", "-frames:v", str(frames), "-an",
        *_encoder(manifest, threads), str(out),
    ]  # fmt: skip


def mux_command(
    manifest: Mapping[str, Any], segment_list: Path, scene_audio: Sequence[tuple[Path, int]], out: Path
) -> list[str]:
    """Join the segments without re-encoding and lay the narration under them, once.

    Each scene WAV is padded or trimmed to its segment's exact sample count, so the audio
    cannot drift from the picture at a join; the title card gets silence.
    """
    fps, rate = manifest["fps"], manifest["sample_rate"]
    samples = [manifest["segments"][0]["frames"] * rate // fps]
    inputs: list[str] = []
    parts = [f"anullsrc=r={rate}:cl=mono,atrim=end_sample={samples[0]}[a0]"]
    for number, (path, frames) in enumerate(scene_audio, start=1):
        count = frames * rate // fps
        inputs += ["-i", str(path)]
        parts.append(
            f"[{number}:a]aresample={rate},aformat=channel_layouts=mono,"
            f"apad=whole_len={count},atrim=end_sample={count}[a{number}]"
        )
    labels = "".join(f"[a{number}]" for number in range(len(scene_audio) + 1))
    parts.append(f"{labels}concat=n={len(scene_audio) + 1}:v=0:a=1[aout]")
    return [
        *_base(), "-f", "concat", "-safe", "0", "-i", str(segment_list), *inputs,
        "-filter_complex", ";".join(parts), "-map", "0:v", "-map", "[aout]",
        "-c:v", "copy", "-c:a", "aac", "-b:a", AUDIO_BITRATE, "-ar", str(rate),
        "-movflags", "+faststart", str(out),
    ]  # fmt: skip


def thumbnail_command(video: Path, time_s: float, out: Path) -> list[str]:
    """A 1280x720 JPEG, YouTube's recommended thumbnail size, from the chosen frame."""
    return [
        *_base(), "-ss", f"{time_s:.3f}", "-i", str(video), "-frames:v", "1",
        "-vf", "scale=1280:720:force_original_aspect_ratio=decrease,pad=1280:720:(ow-iw)/2:(oh-ih)/2",
        "-q:v", "3", str(out),
    ]  # fmt: skip


def probe(path: Path) -> dict[str, Any]:
    """ffprobe's view of a media file (streams and format)."""
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-print_format", "json", "-show_streams", "-show_format", str(path)],
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        raise RenderError(f"ffprobe could not read {path.name}: {result.stderr.decode('utf-8', 'replace')[-300:]}")
    return json.loads(result.stdout)


def check_video(path: Path, *, width: int, height: int, fps: int, expected_s: float) -> float:
    """The published video's checks: size, codecs, and duration within one frame; returns its duration."""
    info = probe(path)
    video = [stream for stream in info["streams"] if stream["codec_type"] == "video"]
    audio = [stream for stream in info["streams"] if stream["codec_type"] == "audio"]
    problems = []
    if len(video) != 1 or video[0]["codec_name"] != "h264":
        problems.append(f"video streams {[s['codec_name'] for s in video]}, want one h264")
    elif (video[0]["width"], video[0]["height"]) != (width, height):
        problems.append(f"size {video[0]['width']}x{video[0]['height']}, want {width}x{height}")
    if len(audio) != 1 or audio[0]["codec_name"] != "aac":
        problems.append(f"audio streams {[s['codec_name'] for s in audio]}, want one aac")
    durations = {"container": float(info["format"].get("duration", 0.0))}
    for name, streams in (("video", video), ("audio", audio)):
        if streams:
            durations[name] = float(streams[0].get("duration", 0.0))
    for name, seconds in durations.items():
        if abs(seconds - expected_s) > 1.0 / fps + 1e-3:
            problems.append(f"{name} lasts {seconds:.3f} s, want {expected_s:.3f} s within one frame")
    if problems:
        raise RenderError(f"{path.name} failed its checks: " + "; ".join(problems))
    return durations["video"]
