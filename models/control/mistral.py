"""High-level performance directions from the Mistral API (settings.controller = "mistral").

The model is asked for a small JSON object; anything that does not match the schema is rejected, so the
rule-based controller always has well-formed input or nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from core.settings import get_settings
from models.types import EMOTIONS

log = logging.getLogger(__name__)

TIMEOUT_MS = 20_000

PROMPT = """You direct a talking-head avatar that will speak the text below. Reply with one JSON object only:
{{"emotion": one of {emotions},
 "intensity": number 0..1 (how strongly the emotion shows),
 "nod_rate": number 0..2 (head nods per second at emphasis),
 "brow_emphasis_words": list of words from the text (at most 8) to stress with raised brows}}
The detected emotion is "{emotion}"; keep it unless the text clearly says otherwise.
Text: {text}"""


def parse_directions(reply: str) -> dict[str, Any]:
    """The reply as a checked directions dict; ValueError says what is wrong with it."""
    try:
        data = json.loads(reply)
    except json.JSONDecodeError as err:
        raise ValueError(f"not JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    required = {"emotion", "intensity", "nod_rate", "brow_emphasis_words"}
    if missing := required - data.keys():
        raise ValueError(f"missing {sorted(missing)}")
    if extra := data.keys() - required:
        raise ValueError(f"unexpected {sorted(extra)}")
    if data["emotion"] not in EMOTIONS:
        raise ValueError(f"emotion {data['emotion']!r} is not one of {EMOTIONS}")
    for key, high in (("intensity", 1.0), ("nod_rate", 2.0)):
        value = data[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= high:
            raise ValueError(f"{key} {value!r} is not a number in 0..{high:g}")
    words = data["brow_emphasis_words"]
    if not isinstance(words, list) or not all(isinstance(w, str) for w in words) or len(words) > 8:
        raise ValueError("brow_emphasis_words is not a list of at most 8 strings")
    return {
        "emotion": data["emotion"],
        "intensity": float(data["intensity"]),
        "nod_rate": float(data["nod_rate"]),
        "brow_emphasis_words": words,
    }


def mistral_directions(text: str, emotion: str, notes: list[str] | None = None) -> dict[str, Any] | None:
    """Directions for speaking `text`, or None (no API key, network or API error, malformed reply).

    Why it returned None is appended to `notes` when given, for the job's record.
    """

    def fail(reason: str) -> None:
        log.warning("mistral directions: %s", reason)
        if notes is not None:
            notes.append(f"mistral: {reason}")

    settings = get_settings()
    if not settings.mistral_api_key:
        fail("no MISTRAL_API_KEY set; using the rule-based controller")
        return None
    from mistralai.client import Mistral

    client = Mistral(api_key=settings.mistral_api_key, timeout_ms=TIMEOUT_MS)
    prompt = PROMPT.format(emotions=list(EMOTIONS), emotion=emotion, text=text)
    try:
        response = client.chat.complete(
            model=settings.mistral_model,
            temperature=0.2,
            messages=[{"role": "user", "content": prompt}],
            response_format={"type": "json_object"},
        )
        reply = response.choices[0].message.content
    except Exception as err:  # the SDK raises httpx and its own error types; all mean "no directions"
        fail(f"request failed: {type(err).__name__}: {err}")
        return None
    try:
        return parse_directions(reply if isinstance(reply, str) else "")
    except ValueError as err:
        fail(f"reply rejected: {err}")
        return None
