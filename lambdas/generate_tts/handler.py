"""GenerateTTS: One narration audio per scene with word-timed subtitles."""

from manga2video.lambda_runtime import state_handler
from manga2video.tts import generate_tts

handler = state_handler("GenerateTTS")(generate_tts)
