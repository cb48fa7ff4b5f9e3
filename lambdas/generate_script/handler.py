"""GenerateScript: The narration script from the page images (Claude, or the offline narrator)."""

from manga2video.lambda_runtime import state_handler
from manga2video.script import generate_script

handler = state_handler("GenerateScript")(generate_script)
