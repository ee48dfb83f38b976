"""The `llm` controller: a language model decides the Performance from the detected emotion and the words.

Two providers, chosen by settings.llm_provider:
- `mistral`: Mistral's API through the official `mistralai` client (MISTRAL_API_KEY; llm_base_url for another server
  speaking the same API);
- `openai`: any OpenAI-compatible chat completions server by base URL (Ollama, vLLM, llama.cpp's server, ...).

The reply is asked for as JSON constrained to the Performance schema (settings.llm_json_schema; else plain JSON
mode) and always validated here: ranges, the emotion vocabulary, one direction per phrase. Each request has a
timeout; a failed or rejected attempt is retried settings.llm_retries times, then LLMError says why (the caller falls
back to the rules). Accepted replies are cached by a hash of everything that went into the request.
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
from core.tracing import span
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


def schema() -> dict[str, Any]:
    """Performance's JSON schema, every property required (strict structured output asks for that; the
    defaults are for the rules controller)."""
    out = Performance.model_json_schema()
    out["required"] = list(out["properties"])
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
        "schema": settings.llm_json_schema,
    }
    cache = _cache_path(settings.data_dir, request)
    if cache.exists():
        return Performance.model_validate_json(cache.read_text()), f"{how}, cached"

    ask = _mistral if provider == "mistral" else _openai_compatible
    failures = []
    for attempt in range(1, settings.llm_retries + 2):
        attributes = {
            "gen_ai.system": provider,
            "gen_ai.request.model": model,
            "llm.attempt": attempt,
            "langfuse.observation.type": "generation",
            "langfuse.observation.input": text,
        }
        with span("model.llm", attributes) as current:
            try:
                reply = ask(text, base_url, settings)
                current.set_attribute("langfuse.observation.output", reply)
                performance = parse(reply, len(track))
            except (LLMError, httpx.HTTPError, OSError) as err:
                failures.append(f"attempt {attempt}: {err}")
                current.set_attribute("error", str(err))
                log.warning("llm controller, attempt %d: %s", attempt, err)
                continue
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(performance.model_dump_json())
        return performance, how
    raise LLMError("; ".join(failures))


def _cache_path(data_dir: Path, request: dict) -> Path:
    digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()
    return data_dir / "cache" / "llm" / f"{digest[:40]}.json"


def _openai_compatible(text: str, base_url: str, settings: Settings) -> str:
    if settings.llm_json_schema:
        response_format = {
            "type": "json_schema",
            "json_schema": {"name": "performance", "schema": schema(), "strict": True},
        }
    else:
        response_format = {"type": "json_object"}
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


def _mistral(text: str, base_url: str, settings: Settings) -> str:
    if not settings.mistral_api_key:
        raise LLMError("no MISTRAL_API_KEY set")
    from mistralai.client import Mistral
    from mistralai.client.models import JSONSchema, ResponseFormat

    if settings.llm_json_schema:
        response_format = ResponseFormat(
            type="json_schema", json_schema=JSONSchema(name="performance", schema_definition=schema(), strict=True)
        )
    else:
        response_format = ResponseFormat(type="json_object")
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
