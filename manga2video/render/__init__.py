"""Rendering: the manifest (StartRenderer) and the ffmpeg core the renderer worker runs."""

from manga2video.render.manifest import build_manifest, start_renderer
from manga2video.render.renderer import render_job

__all__ = ["build_manifest", "render_job", "start_renderer"]
