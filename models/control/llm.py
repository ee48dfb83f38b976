"""The `llm` controller: a language model decides the Performance from the detected emotion and the words.

Two providers, chosen by settings.llm_provider:
- `mistral`: Mistral's API through the official `mistralai` client (MISTRAL_API_KEY; llm_base_url for another server
  speaking the same API);
- `openai`: any OpenAI-compatible chat completions server by base URL (Ollama, vLLM, llama.cpp's server, ...).

The reply is asked for as JSON constrained to the Performance schema (settings.llm_response_format: OpenAI's
`json_schema`, llama-cpp-python's `json_object` with a `schema`, or plain JSON mode) and always validated here:
ranges, the emotion vocabulary, one direction per phrase. Each request has a timeout; a failed or rejected attempt
is retried settings.llm_retries times, then LLMError says why (the caller falls back to the rules). Accepted replies
are cached by a hash of everything that went into the request. Each attempt is a `model.llm` span (a generation with
the prompt and the reply in Langfuse).
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from core.settings import REPO_ROOT, Settings
from core.tracing import generation
from models.control.performance import Performance
from models.types import EMOTIONS

log = logging.getLogger(__name__)

PROMPT_VERSION = "v1"
PROMPT_FILE = REPO_ROOT / "prompts" / "controller" / f"{PROMPT_VERSION}.md"
MISTRAL_URL = "https://api.mistral.ai"
TEMPERATURE = 0.2


class LLMError(Exception):
    """No usable performance from the model; the message says why."""


def prompt(emotion: str, detail: dict, track: list[dict], transcript: str | None) -> str:
    detection = {"emotion": emotion} | {k: detail[k] for k in ("valence", "arousal", "modalities") if k in detail}
    phrases = [{k: p[k] for k in ("start", "end", "text", "primary", "valence", "arousal", "question")} for p in track]
    return PROMPT_FILE.read_text().format(
        emotions=", ".join(EMOTIONS),
        n_phrases=len(track),
        detection=json.dumps(detection),
        phrases="\n".join(json.dumps(p) for p in phrases) or "(none)",
        transcript=transcript or "(not known)",
    )


def schema(n_phrases: int) -> dict[str, Any]:
    """Performance's JSON schema with every property required (strict structured output asks for that; the
    defaults are for the rules controller) and exactly `n_phrases` phrase directions. Servers that turn it into a
    grammar (llama.cpp) enforce the structure, not the numbers' ranges: the reply is validated all the same."""
    out = Performance.model_json_schema()
    out["required"] = list(out["properties"])
    out["properties"]["phrases"] |= {"minItems": n_phrases, "maxItems": n_phrases}
    return out


def parse(reply: str, n_phrases: int) -> Performance:
    """The reply as a Performance; LLMError naming what is wrong with it."""
    try:
        performance = Performance.model_validate_json(reply)
    except ValidationError as err:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'reply'}: {e['msg']}" for e in err.errors()[:3])
        raise LLMError(f"reply does not match the schema ({problems})") from None
    if len(performance.phrases) != n_phrases:
        raise LLMError(f"reply has {len(performance.phrases)} phrase directions for {n_phrases} phrases")
    return performance


def llm_performance(
    emotion: str, detail: dict, track: list[dict], transcript: str | None, settings: Settings
) -> tuple[Performance, str]:
    """The model's Performance and a description of where it came from; LLMError when there is none."""
    text = prompt(emotion, detail, track, transcript)
    provider, model = settings.llm_provider, settings.llm_model
    base_url = settings.llm_base_url or (MISTRAL_URL if provider == "mistral" else None)
    if base_url is None:
        raise LLMError("llm_provider openai needs AVATAR_LLM_BASE_URL (the server's /v1 URL)")
    how = f"llm ({provider} {model} at {base_url}, prompt {PROMPT_VERSION})"
    request = {
        "provider": provider,
        "model": model,
        "url": base_url,
        "prompt": text,
        "format": settings.llm_response_format,
    }
    cache = _cache_path(settings.data_dir, request)
    if cache.exists():
        return Performance.model_validate_json(cache.read_text()), f"{how}, cached"

    ask = _mistral if provider == "mistral" else _openai_compatible
    failures = []
    for attempt in range(1, settings.llm_retries + 2):
        attributes = {"gen_ai.system": provider, "llm.attempt": attempt, "llm.prompt_version": PROMPT_VERSION}
        with generation("model.llm", model, text, attributes) as call:
            try:
                reply = ask(text, base_url, len(track), settings)
                call.reply(reply)
                performance = parse(reply, len(track))
            except (LLMError, httpx.HTTPError, OSError) as err:
                failures.append(f"attempt {attempt}: {err}")
                call.failed(str(err))
                log.warning("llm controller, attempt %d: %s", attempt, err)
                continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(performance.model_dump_json())
        return performance, how
    raise LLMError("; ".join(failures))


def _cache_path(data_dir: Path, request: dict) -> Path:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return data_dir / "cache" / "llm" / f"{digest[:40]}.json"


def _openai_compatible(text: str, base_url: str, n_phrases: int, settings: Settings) -> str:
    response_format: dict[str, Any] = {
        "json_schema": {
            "type": "json_schema",
            "json_schema": {"name": "performance", "schema": schema(n_phrases), "strict": True},
        },
        "json_object_schema": {"type": "json_object", "schema": schema(n_phrases)},
        "json_object": {"type": "json_object"},
    }[settings.llm_response_format]
    headers = {"Authorization": f"Bearer {settings.llm_api_key}"} if settings.llm_api_key else {}
    response = httpx.post(
        f"{base_url.rstrip('/')}/chat/completions",
        json={
            "model": settings.llm_model,
            "temperature": TEMPERATURE,
            "messages": [{"role": "user", "content": text}],
            "response_format": response_format,
        },
        headers=headers,
        timeout=settings.llm_timeout_seconds,
    )
    response.raise_for_status()
    try:
        content = response.json()["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as err:
        raise LLMError(f"not a chat completion: {response.text[:200]!r}") from err
    if not isinstance(content, str):
        raise LLMError("the reply has no text content")
    return content


def _mistral(text: str, base_url: str, n_phrases: int, settings: Settings) -> str:
    if not settings.mistral_api_key:
        raise LLMError("no MISTRAL_API_KEY set")
    from mistralai.client import Mistral
    from mistralai.client.models import JSONSchema, ResponseFormat

    if settings.llm_response_format == "json_object":
        response_format = ResponseFormat(type="json_object")
    else:  # Mistral's API takes OpenAI's form
        response_format = ResponseFormat(
            type="json_schema",
            json_schema=JSONSchema(name="performance", schema_definition=schema(n_phrases), strict=True),
        )
    client = Mistral(
        api_key=settings.mistral_api_key, server_url=base_url, timeout_ms=int(settings.llm_timeout_seconds * 1000)
    )
    try:
        response = client.chat.complete(
            model=settings.llm_model,
            temperature=TEMPERATURE,
            messages=[{"role": "user", "content": text}],
            response_format=response_format,
        )
    except Exception as err:  # the SDK raises httpx errors and its own; every one means "no reply"
        raise LLMError(f"request failed: {type(err).__name__}: {err}") from err
    content = response.choices[0].message.content if response.choices else None
    if not isinstance(content, str):
        raise LLMError("the reply has no text content")
    return content
