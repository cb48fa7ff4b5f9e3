"""IncrementCounter: Count the published video once on today's Pacific date."""

from manga2video.lambda_runtime import state_handler
from manga2video.steps import increment_counter

handler = state_handler("IncrementCounter")(increment_counter)
