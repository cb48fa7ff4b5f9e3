"""WaitForRender: Launch a Spot renderer carrying this task's token; it calls back when done."""

from manga2video.launch import launch_worker

from manga2video.lambda_runtime import state_handler

handler = state_handler("WaitForRender")(launch_worker)
