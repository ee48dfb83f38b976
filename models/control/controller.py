"""The controller step: the detected emotion (and its track) -> a Performance, by the configured controller.

`rules` (the default) maps the detection deterministically (performance.rules_performance). `llm` asks a language
model (models/control/llm.py) and falls back to `rules` on any failure, saying why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from core.settings import get_settings
from models.control.performance import Performance, rules_performance


@dataclass
class Decision:
    performance: Performance
    controller: str  # "rules", "llm (openai-compatible qwen at http://...)", "rules (llm failed: ...)"
    warnings: list[str] = field(default_factory=list)


def decide(emotion: str, detail: dict, track: list[dict], transcript: str | None) -> Decision:
    """The performance for a clip whose detected (or requested) `emotion`, `detail` (valence, arousal,
    modalities) and phrase `track` are given."""
    rules = rules_performance(emotion, detail.get("arousal", 0.0), track)
    settings = get_settings()
    if settings.controller == "rules":
        return Decision(rules, "rules")
    from models.control.llm import LLMError, llm_performance

    try:
        performance, how = llm_performance(emotion, detail, track, transcript, settings)
    except LLMError as err:
        return Decision(rules, f"rules (llm failed: {err})", [f"llm controller failed, rules used: {err}"])
    return Decision(performance, how)
