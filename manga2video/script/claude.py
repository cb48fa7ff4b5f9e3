"""The script from Claude: page images in, one forced tool call out, checked and repaired once.

The SDK retries 429, 529 (overloaded), 5xx and dropped connections itself (max_retries,
with backoff that honours retry-after); whatever is left after that, and an answer that is
refused, empty or still malformed after one repair round, becomes ScriptGenerationError.
Every call's tokens are priced and added to the job, failed calls included.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anthropic

from manga2video.config import Settings
from manga2video.errors import ScriptGenerationError
from manga2video.observability import logger
from manga2video.script.schema import TOOL_NAME, script_problems, tool_definition

# A chapter's narration takes a few thousand tokens; models that think by default (Sonnet 5
# and later) spend some of the budget on thinking first. 16k stays under the SDK's limit for
# requests without streaming, except on Opus 4.0/4.1, which allow 8192.
MAX_OUTPUT_TOKENS = 16_000
SMALL_OUTPUT_MODELS = ("claude-opus-4-0", "claude-opus-4-1", "claude-opus-4-2")
SMALL_OUTPUT_TOKENS = 8192
REQUEST_TIMEOUT_S = 300.0

# USD per million tokens (input, output), Anthropic's list prices as of late 2026; the
# longest prefix of the model id that matches wins.
PRICES_PER_MTOK: dict[str, tuple[float, float]] = {
    "claude-fable-5-2": (8.0, 40.0),
    "claude-fable-5-1": (10.0, 50.0),
    "claude-opus-5-5": (4.0, 20.0),
    "claude-opus-5": (5.0, 25.0),
    "claude-opus-4-5": (5.0, 25.0),
    "claude-opus-4-6": (5.0, 25.0),
    "claude-opus-4-7": (5.0, 25.0),
    "claude-opus-4": (15.0, 75.0),
    "claude-sonnet-5": (2.0, 10.0),
    "claude-sonnet-4": (3.0, 15.0),
    "claude-haiku-4-5": (1.0, 5.0),
}
# Models that answer a forced tool_choice with a 400; they get tool_choice "auto", the
# system prompt's instruction to answer with the tool, and the repair round if they don't.
FORCED_TOOL_UNSUPPORTED = ("claude-sonnet-5-5", "claude-opus-5-5", "claude-fable-5-1", "claude-fable-5-2")
UNKNOWN_MODEL_PRICE = PRICES_PER_MTOK["claude-sonnet-4"]
CACHE_WRITE_FACTOR = 1.25
CACHE_READ_FACTOR = 0.1

LANGUAGE_NAMES = {
    "vi": "Vietnamese (tiếng Việt)",
    "en": "English",
    "ja": "Japanese",
    "ko": "Korean",
    "zh": "Chinese",
    "th": "Thai",
    "id": "Indonesian",
}


@dataclass
class Usage:
    """Tokens and their price over every call made for one script."""

    model: str
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    usd: float = 0.0

    def add(self, usage: Any) -> float:
        """Count one response's usage; returns that call's price."""
        fresh_in = int(getattr(usage, "input_tokens", 0) or 0)
        out = int(getattr(usage, "output_tokens", 0) or 0)
        cache_write = int(getattr(usage, "cache_creation_input_tokens", 0) or 0)
        cache_read = int(getattr(usage, "cache_read_input_tokens", 0) or 0)
        price_in, price_out = model_price(self.model)
        usd = (
            fresh_in * price_in
            + cache_write * price_in * CACHE_WRITE_FACTOR
            + cache_read * price_in * CACHE_READ_FACTOR
            + out * price_out
        ) / 1_000_000
        self.calls += 1
        self.input_tokens += fresh_in
        self.output_tokens += out
        self.cache_creation_input_tokens += cache_write
        self.cache_read_input_tokens += cache_read
        self.usd += usd
        return usd

    def as_record(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "calls": self.calls,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "usd": round(self.usd, 6),
        }


def model_price(model: str) -> tuple[float, float]:
    """USD per million tokens (input, output); an unknown model is still costed, with a warning, never free."""
    matches = [prefix for prefix in PRICES_PER_MTOK if model.startswith(prefix)]
    if not matches:
        logger.warning("no price known for this model; costing it at Sonnet rates", extra={"model": model})
        return UNKNOWN_MODEL_PRICE
    return PRICES_PER_MTOK[max(matches, key=len)]


def system_prompt(settings: Settings) -> str:
    language = LANGUAGE_NAMES.get(settings.script_language, settings.script_language)
    return (
        "You narrate manga chapters for a YouTube channel that retells each chapter as a narrated video.\n"
        f"Write everything you hand in (title, description, tags, narration, summary) in {language}.\n"
        f"Tone: {settings.script_tone}.\n"
        "Follow what actually happens on the pages you are shown: who is there, what they do and what the "
        "speech bubbles say. Retell dialogue in your own words. Never invent events you cannot see; when a "
        "page is unclear, stay general.\n"
        "Split the chapter into scenes in reading order. Each scene lists the page numbers it covers (the "
        "numbers in the image labels) and its narration: 2 to 5 sentences, about 10 to 25 seconds read aloud. "
        "The narration goes straight to a text-to-speech voice: no markdown, emoji, lists, stage directions "
        "or sound-effect spellings; write numbers as words.\n"
        "Title: at most 90 characters, with the comic's name and the chapter. Description: 2 to 4 sentences "
        "without links. Tags: 5 to 12 short keywords. Summary: 2 to 3 sentences recapping this chapter so the "
        "next chapter's narration can continue the story.\n"
        f"Answer only by calling the {TOOL_NAME} tool."
    )


def user_content(index: Mapping[str, Any], load_image: Callable[[str], bytes]) -> list[dict[str, Any]]:
    """The chapter's facts, the previous recap, then each image after its page label."""
    lines = [
        f"Comic: {index.get('comic_title', '')}",
        f"Chapter: {index.get('chapter_title', '')}",
        f"Pages in the chapter: {index['page_count']}",
        f"Images below: {len(index['images'])} (pages not shown belong to the scene around them)",
    ]
    previous = index.get("previous")
    if previous:
        lines.append(f"Summary of the previous chapter ({previous.get('chapter_title', '')}): {previous['summary']}")
    content: list[dict[str, Any]] = [{"type": "text", "text": "\n".join(lines)}]
    for image in index["images"]:
        content.append({"type": "text", "text": f"Image {image['index']}: {image['label']}"})
        content.append(
            {
                "type": "image",
                "source": {
                    "type": "base64",
                    "media_type": "image/jpeg",
                    "data": base64.b64encode(load_image(image["key"])).decode("ascii"),
                },
            }
        )
    content.append({"type": "text", "text": f"Write the script now with the {TOOL_NAME} tool."})
    return content


def _tool_call(message: Any) -> Any | None:
    return next(
        (block for block in message.content if block.type == "tool_use" and block.name == TOOL_NAME),
        None,
    )


def max_output_tokens(model: str) -> int:
    return SMALL_OUTPUT_TOKENS if model.startswith(SMALL_OUTPUT_MODELS) else MAX_OUTPUT_TOKENS


def tool_choice(model: str) -> dict[str, Any]:
    if model.startswith(FORCED_TOOL_UNSUPPORTED):
        return {"type": "auto"}
    return {"type": "tool", "name": TOOL_NAME}


def _echo(message: Any) -> dict[str, Any]:
    """The model's answer as the assistant turn of the repair conversation.

    Thinking blocks go back unchanged (with their signatures), as the API requires
    before a tool_result; anything else a model may add is left out.
    """
    content = []
    for block in message.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
        elif block.type == "tool_use":
            content.append({"type": "tool_use", "id": block.id, "name": block.name, "input": block.input})
        elif block.type in {"thinking", "redacted_thinking"}:
            content.append(block.model_dump(exclude_none=True))
    return {"role": "assistant", "content": content}


def _repair_turn(message: Any, problems: list[str]) -> dict[str, Any]:
    """The user turn that sends the model back to fix its answer."""
    feedback = (
        "The script could not be used:\n- "
        + "\n- ".join(problems)
        + f"\nCall {TOOL_NAME} again with the whole corrected script."
    )
    call = _tool_call(message)
    if call is None:
        return {"role": "user", "content": [{"type": "text", "text": feedback}]}
    return {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": call.id, "is_error": True, "content": feedback}],
    }


def _answer_problems(message: Any, page_count: int) -> tuple[dict[str, Any] | None, list[str]]:
    """(the tool input, what is wrong with it); refusals and empty answers end it at once."""
    if message.stop_reason == "refusal":
        raise ScriptGenerationError("the model refused to write a script for this chapter")
    if not message.content:
        raise ScriptGenerationError(f"the model answered with nothing (stop_reason={message.stop_reason})")
    call = _tool_call(message)
    if call is None:
        return None, [f"no {TOOL_NAME} tool call in the answer"]
    problems = script_problems(call.input, page_count)
    if message.stop_reason == "max_tokens":
        problems.append("the answer was cut off at the output limit: keep the narration shorter")
    return call.input, problems


def ask_claude(
    client: anthropic.Anthropic,
    settings: Settings,
    index: Mapping[str, Any],
    load_image: Callable[[str], bytes],
    on_usage: Callable[[Usage, float], None],
) -> tuple[dict[str, Any], Usage]:
    """The model's valid tool input and the usage of every call it took."""
    page_count = int(index["page_count"])
    usage = Usage(model=settings.anthropic_model)
    messages: list[dict[str, Any]] = [{"role": "user", "content": user_content(index, load_image)}]
    for attempt in ("first answer", "repair"):
        try:
            message = client.messages.create(
                model=settings.anthropic_model,
                max_tokens=max_output_tokens(settings.anthropic_model),
                system=system_prompt(settings),
                messages=messages,
                tools=[tool_definition(page_count)],
                tool_choice=tool_choice(settings.anthropic_model),
                timeout=REQUEST_TIMEOUT_S,
            )
        except anthropic.APIStatusError as exc:
            raise ScriptGenerationError(f"Anthropic API error {exc.status_code} after retries: {exc.message}") from exc
        except anthropic.APIConnectionError as exc:
            raise ScriptGenerationError(f"Anthropic API unreachable after retries: {exc}") from exc
        on_usage(usage, usage.add(message.usage))
        answer, problems = _answer_problems(message, page_count)
        if not problems:
            return dict(answer or {}), usage
        logger.warning("script answer malformed", extra={"attempt": attempt, "problems": problems[:10]})
        messages += [_echo(message), _repair_turn(message, problems)]
    raise ScriptGenerationError(f"the script was still malformed after one repair round: {'; '.join(problems[:5])}")


def make_client(settings: Settings, api_key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(
        api_key=api_key,
        base_url=settings.anthropic_base_url or None,
        max_retries=settings.anthropic_max_retries,
    )
