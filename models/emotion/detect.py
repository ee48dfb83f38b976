"""Emotion of an utterance from its words (VADER sentiment + cue words/punctuation) and how it was spoken.

Text is the stronger signal. The voice adds arousal: wide pitch movement, loudness and fast speech push toward
the aroused emotions (happy, angry, surprised), flat quiet slow speech toward sad. "Typical" values below are
for conversational speech normalised to around -24 dBFS; recording level varies, so loudness counts little.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from models.types import EMOTIONS

ANGER_WORDS = {
    "hate",
    "angry",
    "furious",
    "mad",
    "rage",
    "stupid",
    "damn",
    "idiot",
    "annoying",
    "sick",
    "outrageous",
    "unacceptable",
    "disgusting",
    "shut",
    "enough",
    "ridiculous",
}
SADNESS_WORDS = {
    "sad",
    "miss",
    "lonely",
    "alone",
    "cry",
    "crying",
    "sorry",
    "lost",
    "grief",
    "tired",
    "hurt",
    "unfortunately",
    "died",
    "depressed",
    "unhappy",
    "regret",
    "tears",
}
SURPRISE_WORDS = {
    "wow",
    "whoa",
    "really",
    "unbelievable",
    "amazing",
    "incredible",
    "surprise",
    "what",
    "seriously",
    "omg",
    "oh",
    "suddenly",
}
TYPICAL = {"pitch_std_semitones": 2.5, "loudness_mean_db": -24.0, "speaking_rate_sps": 4.0}
TEXT_WEIGHT, AUDIO_WEIGHT = 1.0, 0.5


@dataclass
class EmotionResult:
    label: str
    scores: dict[str, float] = field(default_factory=dict)
    source: str = "default"  # "text+audio", "text", "audio" or "default"


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def text_scores(text: str) -> dict[str, float]:
    words = set(re.findall(r"[a-z']+", text.lower()))
    compound = _vader().polarity_scores(text)["compound"]
    exclaim = "!" in text
    question = "?" in text
    anger_cue = bool(words & ANGER_WORDS) or (exclaim and compound < -0.3)
    sadness_cue = bool(words & SADNESS_WORDS)
    negative = max(-compound, 0.0)
    surprise = 0.35 * len(words & SURPRISE_WORDS) + (
        0.3 if question and exclaim else 0.15 if question else 0.0
    )
    return {
        "neutral": max(0.6 - abs(compound) - surprise, 0.0),
        "happy": max(compound, 0.0) * (1.2 if exclaim else 1.0),
        "sad": negative * (1.0 if sadness_cue or not anger_cue else 0.3),
        "angry": negative * (1.2 if anger_cue and not sadness_cue else 0.3),
        "surprised": min(surprise, 1.0),
    }


def audio_scores(summary: dict) -> dict[str, float]:
    """Arousal from pitch movement, loudness and rate relative to TYPICAL; 0 arousal -> neutral."""
    if not summary.get("pitch_mean_hz"):
        return {}
    pitch_var = (
        summary.get("pitch_std_semitones", TYPICAL["pitch_std_semitones"]) / TYPICAL["pitch_std_semitones"]
    )
    loud = (summary.get("loudness_mean_db", TYPICAL["loudness_mean_db"]) - TYPICAL["loudness_mean_db"]) / 10.0
    rate = summary.get("speaking_rate_sps", TYPICAL["speaking_rate_sps"]) / TYPICAL["speaking_rate_sps"]
    arousal = max(-1.0, min(1.0, 0.6 * (pitch_var - 1.0) + 0.2 * loud + 0.4 * (rate - 1.0)))
    high, low = max(arousal, 0.0), max(-arousal, 0.0)
    return {
        "neutral": 0.6 * (1.0 - abs(arousal)),
        "happy": 0.5 * high * min(pitch_var, 2.0) / 2.0 + 0.2 * high,
        "angry": 0.5 * high * max(loud, 0.0),
        "surprised": 0.4 * high * max(pitch_var - 1.5, 0.0),
        "sad": low,
    }


def detect_emotion(text: str | None, prosody_summary: dict) -> EmotionResult:
    """The most likely of EMOTIONS, with normalised scores and which evidence was used."""
    parts = []
    if text and text.strip():
        parts.append(("text", TEXT_WEIGHT, text_scores(text)))
    audio = audio_scores(prosody_summary or {})
    if audio:
        parts.append(("audio", AUDIO_WEIGHT, audio))
    if not parts:
        return EmotionResult("neutral", {label: float(label == "neutral") for label in EMOTIONS}, "default")
    totals = {label: sum(w * s.get(label, 0.0) for _, w, s in parts) for label in EMOTIONS}
    norm = sum(totals.values()) or 1.0
    scores = {label: round(v / norm, 3) for label, v in totals.items()}
    return EmotionResult(max(scores, key=scores.__getitem__), scores, "+".join(name for name, _, _ in parts))
