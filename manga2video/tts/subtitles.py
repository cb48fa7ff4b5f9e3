"""Word-timed subtitles: spoken words grouped into short lines, written as ASS.

Cue times come straight from the words' own start and end times (edge-tts WordBoundary
offsets, or estimates for the offline voices), never from a reading-speed guess, so a
line appears exactly when its first word is spoken. The renderer reuses `ass_document`
to burn one segment's lines.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_LINE_CHARS = 42
# Vietnamese writes every syllable as its own word, so a line holds more of them than in English.
MAX_LINE_WORDS = 10
# A silence this long between two words starts a new line.
PAUSE_BREAK_S = 0.6
SENTENCE_END = (".", "!", "?", "…")
CLAUSE_END = (",", ";", ":")
CLOSING_QUOTES = "\"'”’»)]"
# A long clause is cut into lines this much longer than an even share, to end on a word.
BALANCE_SLACK_CHARS = 4


@dataclass(frozen=True)
class Word:
    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Cue:
    start_s: float
    end_s: float
    text: str


def shown_texts(words: Sequence[Word], narration: str) -> list[str]:
    """What each word looks like on screen, punctuation included.

    Speech engines report bare words ("chào"), the narration has "chào,". Each word is
    found in the narration in order and shown as the whitespace-separated token it
    starts; a second word inside the same token shows nothing, and tokens no word was
    found in (a dash, an ellipsis) stick to the next word, or the last one.
    """
    tokens = [(match.start(), match.end(), match.group()) for match in re.finditer(r"\S+", narration)]
    shown: list[str] = []
    cursor = 0
    last_token = -1
    for word in words:
        position = narration.find(word.text, cursor) if word.text else -1
        if position < 0:
            shown.append(word.text)
            continue
        cursor = position + len(word.text)
        token = next(index for index, (start, end, _) in enumerate(tokens) if start <= position < end)
        if token <= last_token:
            shown.append("")
            continue
        shown.append(" ".join(text for _, _, text in tokens[last_token + 1 : token + 1]))
        last_token = token
    trailing = " ".join(text for _, _, text in tokens[last_token + 1 :])
    visible = [index for index, text in enumerate(shown) if text]
    if trailing and visible:
        shown[visible[-1]] += f" {trailing}"
    return shown


def _ends(text: str, marks: tuple[str, ...]) -> bool:
    return text.rstrip(CLOSING_QUOTES).endswith(marks)


def _cue(line: list[tuple[Word, str]]) -> Cue:
    return Cue(line[0][0].start_s, line[-1][0].end_s, " ".join(text for _, text in line if text))


def _clause_chars(pairs: Sequence[tuple[Word, str]], start: int) -> int:
    """How long the text is from word `start` to the end of its clause (next punctuation mark)."""
    texts = []
    for _, text in pairs[start:]:
        if text:
            texts.append(text)
            if _ends(text, SENTENCE_END + CLAUSE_END):
                break
    return len(" ".join(texts))


def group_cues(words: Sequence[Word], narration: str) -> list[Cue]:
    """Short readable lines: at most 42 characters or 10 words, broken at punctuation and pauses.

    A sentence always ends its line; a comma ends it only when the next clause would not
    fit beside it; a clause too long for one line is cut into lines of even length.
    """
    pairs = list(zip(words, shown_texts(words, narration), strict=True))
    cues: list[Cue] = []
    line: list[tuple[Word, str]] = []
    limit = MAX_LINE_CHARS
    for position, (word, shown) in enumerate(pairs):
        if line and shown:
            text = _cue(line).text
            last = next(text for _, text in reversed(line) if text) if text else ""
            needed = len(text) + 1 + _clause_chars(pairs, position)
            if (
                _ends(last, SENTENCE_END)
                or (_ends(last, CLAUSE_END) and needed > MAX_LINE_CHARS)
                or len(text) + 1 + len(shown) > limit
                or sum(1 for _, seen in line if seen) >= MAX_LINE_WORDS
                or word.start_s - line[-1][0].end_s > PAUSE_BREAK_S
            ):
                cues.append(_cue(line))
                line = []
        if not line:
            clause = _clause_chars(pairs, position)
            parts = math.ceil(clause / MAX_LINE_CHARS)
            limit = MAX_LINE_CHARS if parts <= 1 else min(MAX_LINE_CHARS, clause // parts + BALANCE_SLACK_CHARS)
        line.append((word, shown))
    if line:
        cues.append(_cue(line))
    return [cue for cue in cues if cue.text]


def shifted(cues: Iterable[Cue], offset_s: float) -> list[Cue]:
    return [Cue(round(cue.start_s + offset_s, 3), round(cue.end_s + offset_s, 3), cue.text) for cue in cues]


def ass_time(seconds: float) -> str:
    """ASS clock time, h:mm:ss.cc (centiseconds)."""
    centis = max(0, round(seconds * 100))
    hours, rest = divmod(centis, 360_000)
    minutes, rest = divmod(rest, 6_000)
    secs, centis = divmod(rest, 100)
    return f"{hours}:{minutes:02d}:{secs:02d}.{centis:02d}"


def _ass_text(text: str) -> str:
    """Braces open override blocks and backslashes start escapes in ASS; neither may reach libass raw."""
    return " ".join(text.replace("\\", "＼").replace("{", "(").replace("}", ")").split())


def ass_document(cues: Iterable[Cue], *, width: int, height: int, font: str) -> str:
    """A complete ASS file: white text with a dark outline, bottom centre, sized for the frame."""
    font_size = round(height * 0.055)
    outline = max(1, round(height / 360))
    margin_v = round(height * 0.06)
    margin_h = round(width * 0.05)
    lines = [
        "[Script Info]",
        "ScriptType: v4.00+",
        f"PlayResX: {width}",
        f"PlayResY: {height}",
        "WrapStyle: 0",
        "ScaledBorderAndShadow: yes",
        "YCbCr Matrix: TV.709",
        "",
        "[V4+ Styles]",
        "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, "
        "Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, "
        "MarginR, MarginV, Encoding",
        f"Style: Default,{font},{font_size},&H00FFFFFF,&H000000FF,&H00000000,&H80000000,-1,0,0,0,100,100,0,0,1,"
        f"{outline},1,2,{margin_h},{margin_h},{margin_v},1",
        "",
        "[Events]",
        "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    ]
    lines += [
        f"Dialogue: 0,{ass_time(cue.start_s)},{ass_time(cue.end_s)},Default,,0,0,0,,{_ass_text(cue.text)}"
        for cue in cues
    ]
    return "\n".join(lines) + "\n"
