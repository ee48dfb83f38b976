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


def decide(emotion: str, detail: dict, track: list[dict], transcript: str | None, requested: bool = False) -> Decision:
    """The performance for a clip whose detected `emotion`, `detail` (valence, arousal, modalities) and phrase
    `track` are given; `requested`: the emotion was asked for, and the model may not change it."""
    rules = rules_performance(emotion, detail.get("arousal", 0.0), track)
    settings = get_settings()
    if settings.controller == "rules":
        return Decision(rules, "rules")
    from models.control.llm import LLMError, llm_performance

    try:
        performance, how = llm_performance(emotion, detail, track, transcript, settings)
    except LLMError as err:
        return Decision(rules, f"rules (llm failed: {err})", [f"llm controller failed, rules used: {err}"])
    if requested:
        phrases = [d.model_copy(update={"emotion": emotion}) for d in performance.phrases]
        performance = performance.model_copy(update={"emotion": emotion, "phrases": phrases})
    return Decision(performance, how)
