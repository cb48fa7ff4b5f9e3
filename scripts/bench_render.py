"""Render benchmark: this renderer against an idiomatic MoviePy 2.x rendering of the same chapter.

A fixture chapter (generated manga pages, tone narration) goes into a local S3 (moto);
then, alternating in one run, each round renders it with the renderer (render_job, the
worker's core, S3 and all), with MoviePy (per-scene zoom by a resize over time,
concatenate, write_videofile with libx264 veryfast CRF 23), and measures the encode-only
ceiling (x264 fed the renderer's decoded frames, raw, same settings). Each runs in its
own child process; peak memory is the largest summed RSS of that child and every process
under it (ffmpeg included), sampled from /proc. Prints the figures of every round, then
one JSON line of medians: speed, moviepy_speed, ratio, ceiling_speed, peak_mb.

    python scripts/bench_render.py [--rounds 3] [--pages 12] [--seconds 64]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WIDTH, HEIGHT, FPS = 1920, 1080, 30
PAGE_SIZE = (1000, 1500)
TITLE_SECONDS = 4.0
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
BUBBLE_LINES = ["Anh đi đâu vậy?", "Đợi em với!", "Không thể nào...", "Chuyện gì thế này?!", "Đi thôi."]


# --- the fixture chapter ---------------------------------------------------------------------
def manga_page(seed: int, path: Path) -> None:
    """A page shaped like a manga page: panels, line art, screentone and speech bubbles."""
    from PIL import Image, ImageDraw, ImageFont

    rng = random.Random(seed)
    font = ImageFont.truetype(FONT, 30)
    width, height = PAGE_SIZE
    image = Image.new("L", PAGE_SIZE, 255)
    draw = ImageDraw.Draw(image)
    top = 30
    while top < height - 200:
        bottom = min(top + rng.randint(320, 520), height - 30)
        draw.rectangle([30, top, width - 30, bottom], outline=0, width=5)
        left = rng.randint(40, width // 2)
        for y in range(top + 10, top + (bottom - top) // 2, 9):  # a patch of screentone
            for x in range(left, min(left + 260, width - 40), 9):
                draw.ellipse([x, y, x + 3, y + 3], fill=110)
        for _ in range(7):  # line art
            x, y = rng.randint(60, width - 280), rng.randint(top + 20, max(top + 21, bottom - 220))
            draw.ellipse([x, y, x + rng.randint(60, 220), y + rng.randint(60, 200)], outline=0, width=4)
            draw.line([x, y, x + rng.randint(-150, 150), y + rng.randint(40, 160)], fill=0, width=3)
        x, y = rng.randint(60, width - 380), top + 20
        draw.ellipse([x, y, x + 320, y + 130], fill=255, outline=0, width=3)
        draw.text((x + 45, y + 45), rng.choice(BUBBLE_LINES), fill=0, font=font)
        top = bottom + 25
    image.convert("RGB").save(path, quality=88)


def tone_wav(seconds: float, pitch: int, path: Path) -> None:
    frames = round(seconds * FPS)
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", f"sine=f={pitch}:sample_rate=48000",
         "-af", f"volume=0.3,atrim=end_sample={frames * 48000 // FPS}", "-ac", "1", "-c:a", "pcm_s16le", str(path)],
        check=True,
    )  # fmt: skip


def chapter_fixture(folder: Path, pages: int, seconds: float) -> list[dict[str, Any]]:
    """Pages and scene WAVs on disk; one scene per page, durations varied, about `seconds` in all."""
    rng = random.Random(7)
    weights = [rng.uniform(0.8, 1.2) for _ in range(pages)]
    scenes = []
    for number, weight in enumerate(weights, start=1):
        duration = round(seconds * weight / sum(weights) * FPS) / FPS
        page, audio = folder / f"page-{number:03d}.jpg", folder / f"scene-{number:03d}.wav"
        manga_page(number, page)
        tone_wav(duration, 180 + 20 * number, audio)
        words = ["Một", "cảnh", "trong", "chương", "này"]
        cues = [{"start_s": 0.2, "end_s": duration / 2, "text": " ".join(words[:3])},
                {"start_s": duration / 2, "end_s": duration - 0.2, "text": " ".join(words[3:])}]  # fmt: skip
        scenes.append({"index": number, "page": page, "audio": audio, "duration_s": duration, "cues": cues})
    return scenes


def stage_job(services: Any, scenes: list[dict[str, Any]], chapter_key: str) -> str:
    """The job as GenerateTTS leaves it, in the local S3 and jobs table, with its manifest; returns its id."""
    from manga2video.jobs import Chapter
    from manga2video.render import start_renderer
    from manga2video.storage import JobKeys

    chapter = Chapter(chapter_key, "bench-comic", "Truyện Mẫu: Hôn Nhân Hạnh Phúc", "Chương 20", "http://127.0.0.1/")
    job_id = services.jobs.claim_chapter(chapter, owner="bench", lease_seconds=3600, max_failures=3)["job_id"]
    keys = JobKeys(job_id)
    pages = []
    for scene in scenes:
        services.storage.upload_file(scene["page"], keys.page(scene["index"]))
        services.storage.upload_file(scene["audio"], keys.audio(scene["index"]))
        pages.append(
            {"index": scene["index"], "key": keys.page(scene["index"]), "width": PAGE_SIZE[0], "height": PAGE_SIZE[1]}
        )
    services.jobs.transition(job_id, "fetched", pages=pages, page_count=len(pages))
    services.jobs.transition(job_id, "scripted")
    narration = [
        {"index": s["index"], "pages": [s["index"]], "audio_key": keys.audio(s["index"]), "duration_s": s["duration_s"],
         "words": [], "cues": s["cues"]}
        for s in scenes
    ]  # fmt: skip
    services.storage.put_json(
        keys.narration,
        {"engine": "bench", "sample_rate": 48000, "fps": FPS, "scenes": narration,
         "total_duration_s": sum(s["duration_s"] for s in scenes)},
    )  # fmt: skip
    services.jobs.transition(job_id, "voiced")
    start_renderer({"job_id": job_id}, services)
    return job_id


# --- the contenders, each run as a child process ----------------------------------------------------
def run_ours(job_id: str, out: Path) -> float:
    from manga2video.config import get_settings
    from manga2video.render import render_job
    from manga2video.render.ffmpeg import FfmpegRunner
    from manga2video.services import Services
    from manga2video.storage import JobKeys

    services = Services(get_settings())
    services.storage.delete_prefix(JobKeys(job_id).prefix + "render/segments/")  # no checkpoints: a full render
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ours-") as workdir:
        result = render_job(job_id, services, FfmpegRunner(), Path(workdir))
    elapsed = time.perf_counter() - started
    stages = ", ".join(f"{name.removesuffix('_s')} {seconds:.1f} s" for name, seconds in result["timings"].items())
    print(f"  renderer stages: {stages}", file=sys.stderr, flush=True)
    services.storage.download_file(result["video_key"], out)
    return elapsed


def cover_and_page(page: Path) -> tuple[Any, Any]:
    """The same look as the renderer: a blurred, dimmed cover behind the page fitted to the frame height."""
    from PIL import Image, ImageEnhance, ImageFilter, ImageOps

    image = Image.open(page).convert("RGB")
    cover = ImageOps.fit(image, (WIDTH // 8, HEIGHT // 8)).filter(ImageFilter.BoxBlur(10)).resize((WIDTH, HEIGHT))
    cover = ImageEnhance.Brightness(cover).enhance(0.7)
    fitted = image.resize((round(image.width * HEIGHT / image.height), HEIGHT), Image.LANCZOS)
    return cover, fitted


def run_moviepy(scenes_json: Path, out: Path) -> float:
    import numpy as np
    from moviepy import AudioFileClip, CompositeVideoClip, ImageClip, concatenate_audioclips, concatenate_videoclips

    scenes = json.loads(scenes_json.read_text())
    started = time.perf_counter()
    clips, audio = [], []
    title_cover, _ = cover_and_page(Path(scenes[0]["page"]))
    clips.append(ImageClip(np.array(title_cover), duration=TITLE_SECONDS))
    audio.append(AudioFileClip(scenes_json.parent / "title-silence.wav"))
    for scene in scenes:
        duration = scene["duration_s"]
        cover, fitted = cover_and_page(Path(scene["page"]))
        page = (
            ImageClip(np.array(fitted), duration=duration)
            .resized(lambda t, d=duration: 1 + 0.08 * t / d)
            .with_position("center")
        )
        clips.append(CompositeVideoClip([ImageClip(np.array(cover), duration=duration), page], size=(WIDTH, HEIGHT)))
        audio.append(AudioFileClip(scene["audio"]))
    video = concatenate_videoclips(clips).with_audio(concatenate_audioclips(audio))
    video.write_videofile(
        str(out), fps=FPS, codec="libx264", preset="veryfast", ffmpeg_params=["-crf", "23"],
        audio_codec="aac", threads=os.cpu_count(), logger=None,
    )  # fmt: skip
    return time.perf_counter() - started


def run_ceiling(frames: Path, out: Path) -> float:
    """x264 alone, fed the renderer's exact frames as raw video (from the page cache)."""
    started = time.perf_counter()
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{WIDTH}x{HEIGHT}",
         "-r", str(FPS), "-i", str(frames), "-c:v", "libx264", "-preset", "veryfast", "-crf", "23", str(out)],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - started


def raw_frames(services: Any, scenes: list[dict[str, Any]], folder: Path) -> Path:
    """The frames the renderer's filters make, bit-exact: the same manifest rendered lossless, decoded."""
    from manga2video.render import render_job
    from manga2video.render.ffmpeg import FfmpegRunner
    from manga2video.storage import JobKeys

    job_id = stage_job(services, scenes, "bench-comic/lossless")
    keys = JobKeys(job_id)
    manifest = services.storage.get_json(keys.render_manifest)
    services.storage.put_json(keys.render_manifest, {**manifest, "crf": 0, "preset": "ultrafast"})  # x264 lossless
    lossless = folder / "lossless.mp4"
    with tempfile.TemporaryDirectory(prefix="bench-lossless-") as workdir:
        render_job(job_id, services, FfmpegRunner(), Path(workdir))
    services.storage.download_file(keys.video, lossless)
    frames = folder / "frames.yuv"
    subprocess.run(
        [
            "ffmpeg",
            "-v",
            "error",
            "-y",
            "-i",
            str(lossless),
            "-an",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "yuv420p",
            str(frames),
        ],
        check=True,
    )
    return frames


def child_main(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if args.child == "ours":
        elapsed = run_ours(args.job_id, out)
    elif args.child == "moviepy":
        elapsed = run_moviepy(Path(args.scenes), out)
    else:
        elapsed = run_ceiling(Path(args.frames), out)
    print(json.dumps({"elapsed_s": elapsed}))


# --- measuring ------------------------------------------------------------------------------------
def tree_rss_mb(root_pid: int) -> tuple[float, float]:
    """(summed, largest single) resident memory of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    members, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in members]
        members.update(children)
        frontier.extend(children)
    sizes = [rss.get(pid, 0) / 2**20 for pid in members]
    return sum(sizes), max(sizes)


def measured_child(argv: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run one contender as a child: the elapsed seconds it reports, the CPU seconds of its whole
    process tree (from wait4, which counts every waited-for descendant) and its peak memory in MB
    (summed over the tree, and the largest single process)."""
    process = subprocess.Popen([sys.executable, __file__, *argv], env=env, stdout=subprocess.PIPE, text=True)
    peak = largest = 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, largest
        while not done.is_set():
            summed, single = tree_rss_mb(process.pid)
            peak, largest = max(peak, summed), max(largest, single)
            done.wait(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"benchmark child {argv[:2]} failed with exit {process.returncode}")
    elapsed = json.loads(stdout.strip().splitlines()[-1])["elapsed_s"]
    return {"elapsed_s": elapsed, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mb": peak, "largest_mb": largest}


def video_stream(path: Path) -> tuple[float, float]:
    """(seconds, MB) of the file's video stream: sizes compare without the audio track."""
    from manga2video.render.ffmpeg import probe

    video = next(stream for stream in probe(path)["streams"] if stream["codec_type"] == "video")
    seconds = float(video["duration"])
    return seconds, int(video["bit_rate"]) * seconds / 8 / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=64.0, help="narration length, title card not included")
    parser.add_argument("--contenders", type=lambda text: text.split(","), default=["ours", "moviepy", "ceiling"])
    parser.add_argument("--child", choices=["ours", "moviepy", "ceiling"], help=argparse.SUPPRESS)
    parser.add_argument("--job-id", help=argparse.SUPPRESS)
    parser.add_argument("--scenes", help=argparse.SUPPRESS)
    parser.add_argument("--frames", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args)
        return

    from manga2video.config import get_settings
    from manga2video.local.emulator import LocalAws
    from manga2video.services import Services

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the local S3's request log
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    settings = get_settings()
    if (settings.video_width, settings.video_height, settings.video_fps) != (WIDTH, HEIGHT, FPS):
        raise SystemExit("the benchmark renders 1080p30: unset M2V_VIDEO_WIDTH/HEIGHT/FPS")
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp, LocalAws(
        region=settings.region, jobs_table=settings.jobs_table, counters_table=settings.counters_table,
        bucket=settings.media_bucket,
    ) as aws:  # fmt: skip
        folder = Path(tmp)
        aws.create_storage()
        scenes = chapter_fixture(folder, args.pages, args.seconds)
        tone_wav(TITLE_SECONDS, 0, folder / "title-silence.wav")
        scenes_json = folder / "scenes.json"
        scenes_json.write_text(json.dumps([{**s, "page": str(s["page"]), "audio": str(s["audio"])} for s in scenes]))
        services = Services(settings)
        job_id = stage_job(services, scenes, "bench-comic/1")
        frames = raw_frames(services, scenes, folder)
        env = dict(os.environ)  # LocalAws has put AWS_ENDPOINT_URL there: the children reach the same S3
        cpus = os.cpu_count() or 1
        print(f"fixture: {args.pages} pages, {args.seconds:.0f} s narration + {TITLE_SECONDS:.0f} s title, "
              f"{WIDTH}x{HEIGHT}@{FPS}, x264 {settings.render_preset} CRF {settings.render_crf}, {cpus} CPUs, "
              f"{settings.render_parallel_segments} segments at a time")  # fmt: skip
        figures: dict[str, list[dict[str, float]]] = {"ours": [], "moviepy": [], "ceiling": []}
        ours_video = folder / "ours.mp4"
        for round_number in range(1, args.rounds + 1):
            runs = {
                "ours": ["--child", "ours", "--job-id", job_id, "--out", str(ours_video)],
                "moviepy": ["--child", "moviepy", "--scenes", str(scenes_json), "--out", str(folder / "moviepy.mp4")],
                "ceiling": ["--child", "ceiling", "--frames", str(frames), "--out", str(folder / "ceiling.mp4")],
            }
            for name, argv in runs.items():
                if name not in args.contenders:
                    continue
                run = measured_child(argv, env)
                length, video_mb = video_stream(Path(argv[-1]))
                # what the CPU time would take with the machine's cores to itself (perfect parallelism)
                cpu_speed = length / (run["cpu_s"] / cpus)
                entry = {**run, "speed": length / run["elapsed_s"], "cpu_speed": cpu_speed, "size_mb": video_mb}
                figures[name].append(entry)
                print(f"round {round_number} {name:8s} {length:5.1f} s of video in {run['elapsed_s']:6.1f} s = "
                      f"{entry['speed']:5.2f}x real time ({run['cpu_s']:6.1f} CPU s: {cpu_speed:5.2f}x on {cpus} "
                      f"idle cores), peak {run['peak_mb']:4.0f} MB (largest process {run['largest_mb']:4.0f} MB), "
                      f"video {video_mb:6.2f} MB", flush=True)  # fmt: skip

    def median(name: str, key: str) -> float:
        return statistics.median(entry[key] for entry in figures[name]) if figures[name] else float("nan")

    speed, moviepy_speed, ceiling_speed = (
        median("ours", "speed"),
        median("moviepy", "speed"),
        median("ceiling", "speed"),
    )
    size_vs_reference = median("ours", "size_mb") / median("ceiling", "size_mb")
    print(
        f"renderer {speed:.2f}x real time, MoviePy {moviepy_speed:.2f}x, ratio {speed / moviepy_speed:.2f}; "
        f"encode-only ceiling {ceiling_speed:.2f}x (renderer at {speed / ceiling_speed:.0%} of it)"
    )
    print(f"from CPU time, on {cpus} idle cores: renderer {median('ours', 'cpu_speed'):.2f}x, "
          f"MoviePy {median('moviepy', 'cpu_speed'):.2f}x, ceiling {median('ceiling', 'cpu_speed'):.2f}x "
          f"(wall-clock figures suffer when other work shares the machine)")  # fmt: skip
    print(f"peak memory, all processes together (largest single process): "
          f"renderer {median('ours', 'peak_mb'):.0f} MB ({median('ours', 'largest_mb'):.0f} MB), "
          f"MoviePy {median('moviepy', 'peak_mb'):.0f} MB ({median('moviepy', 'largest_mb'):.0f} MB), "
          f"encoder alone {median('ceiling', 'peak_mb'):.0f} MB")  # fmt: skip
    print(f"video stream size: renderer {median('ours', 'size_mb'):.2f} MB = {size_vs_reference:.0%} of x264 veryfast "
          f"CRF 23 on the same frames ({median('ceiling', 'size_mb'):.2f} MB); "
          f"MoviePy {median('moviepy', 'size_mb'):.2f} MB")  # fmt: skip
    print(json.dumps({
        "speed": round(speed, 3), "moviepy_speed": round(moviepy_speed, 3), "ratio": round(speed / moviepy_speed, 3),
        "ceiling_speed": round(ceiling_speed, 3), "peak_mb": round(median("ours", "peak_mb"), 1),
        "cpu_speed": round(median("ours", "cpu_speed"), 3),
        "moviepy_cpu_speed": round(median("moviepy", "cpu_speed"), 3),
        "ceiling_cpu_speed": round(median("ceiling", "cpu_speed"), 3),
    }))  # fmt: skip


if __name__ == "__main__":
    main()
