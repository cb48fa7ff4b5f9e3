"""The narration's voice: edge-tts (or espeak-ng, or silence) per scene, with word-timed subtitles."""

from manga2video.tts.generate import generate_tts

__all__ = ["generate_tts"]
