"""PrepareScriptInput: Pages chosen and downscaled for the model, plus the previous chapter's summary."""

from manga2video.lambda_runtime import state_handler
from manga2video.script import prepare_script_input

handler = state_handler("PrepareScriptInput")(prepare_script_input)
