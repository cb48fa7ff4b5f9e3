"""The narration script: page images prepared for the model, then Claude (or the offline narrator)."""

from manga2video.script.generate import generate_script
from manga2video.script.prepare import prepare_script_input

__all__ = ["generate_script", "prepare_script_input"]
