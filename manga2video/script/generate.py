"""GenerateScript: script.json from Claude when a key is configured, else from the offline narrator."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from manga2video.errors import JobStateError, ScriptGenerationError
from manga2video.fallbacks import record_fallback
from manga2video.observability import logger
from manga2video.script.claude import Usage, ask_claude, make_client
from manga2video.script.offline import offline_answer
from manga2video.script.schema import build_script
from manga2video.services import Services
from manga2video.storage import JobKeys

OFFLINE_FALLBACK = "offline narrator"


def anthropic_api_key(services: Services) -> str:
    """ANTHROPIC_API_KEY, else the SSM SecureString named in settings; empty when neither is configured.

    A configured parameter that cannot be read is an error, not a reason to go offline:
    a silent fallback would publish machine-narrated videos because of an IAM slip.
    """
    settings = services.settings
    if settings.anthropic_api_key:
        return settings.anthropic_api_key
    if not settings.anthropic_ssm_parameter:
        return ""
    try:
        response = services.client("ssm").get_parameter(Name=settings.anthropic_ssm_parameter, WithDecryption=True)
    except (ClientError, BotoCoreError) as exc:
        raise ScriptGenerationError(
            f"cannot read the Anthropic key from SSM parameter {settings.anthropic_ssm_parameter}: {exc}"
        ) from exc
    key = response["Parameter"]["Value"].strip()
    if not key:
        raise ScriptGenerationError(f"SSM parameter {settings.anthropic_ssm_parameter} is empty")
    return key


def generate_script(event: Mapping[str, Any], services: Services) -> dict[str, Any]:
    """The GenerateScript state; also safe to re-run on a scripted job (a Retry after the write)."""
    job_id = event["job_id"]
    settings = services.settings
    keys = JobKeys(job_id)
    services.jobs.get_in(job_id, {"fetched", "scripted"}, why="a script is written right after fetching")
    if not services.storage.exists(keys.script_input):
        raise JobStateError(f"job {job_id} has no script input at {keys.script_input}; run PrepareScriptInput first")
    index = services.storage.get_json(keys.script_input)
    page_count = int(index["page_count"])

    api_key = anthropic_api_key(services)
    if api_key:

        def charge(usage: Usage, usd: float) -> None:
            services.jobs.add_cost(job_id, "claude", usd)
            services.jobs.update_fields(job_id, script_usage=usage.as_record())

        answer, usage = ask_claude(make_client(settings, api_key), settings, index, services.storage.get_bytes, charge)
        narrator, model = "claude", settings.anthropic_model
        logger.info("script written by Claude", extra={"usage": usage.as_record()})
    else:
        record_fallback(
            services.jobs, job_id, OFFLINE_FALLBACK, reason="no ANTHROPIC_API_KEY or SSM parameter is configured"
        )
        answer, narrator, model = offline_answer(index), "offline", ""

    script = build_script(
        answer, page_count=page_count, language=settings.script_language, narrator=narrator, model=model
    )
    services.storage.put_json(keys.script, script)
    continuity = {"script_summary": script["summary"]} if narrator == "claude" else {}
    services.jobs.transition(
        job_id, "scripted", script_title=script["title"], script_key=keys.script, script_narrator=narrator, **continuity
    )
    return {"key": keys.script, "scene_count": len(script["scenes"]), "title": script["title"], "narrator": narrator}
