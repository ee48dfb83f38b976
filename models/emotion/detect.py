"""Emotion of an utterance over time, from three modalities fused on valence (unpleasant .. pleasant) and arousal
(calm .. excited), each -1..1:

- voice: pitch movement, loudness, speaking rate and pauses -> arousal (flat, quiet, slow, halting speech reads low);
- words: VADER sentiment -> valence; "!", "?" and cue words -> arousal, and cue words separate anger from sadness;
- face: the photo's resting expression (mouth-corner lift -> valence, brows and eyes -> arousal), weighted low: it is
  how the face looks, not what is being said.

The clip is cut into phrases (sentences of the transcript, placed on the speech between pauses; pause-delimited
phrases without one), each with its own reading, so the face can change with what is said.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import cache

import numpy as np
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from models.audio.prosody import Prosody
from models.emotion.face import Expression
from models.types import EMOTIONS, Phone

ANGER_WORDS = frozenset(
    [
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
    ]
)
SADNESS_WORDS = frozenset(
    [
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
    ]
)
SURPRISE_WORDS = frozenset(
    ["wow", "whoa", "really", "unbelievable", "amazing", "incredible", "surprise", "seriously", "omg", "suddenly"]
)
TYPICAL = {"pitch_range_semitones": 6.0, "loudness_mean_db": -24.0, "speaking_rate_sps": 4.0}

# where each emotion sits on (valence, arousal); a reading scores each by its distance to these
CIRCUMPLEX = {
    "neutral": (0.0, 0.0),
    "happy": (0.65, 0.35),
    "sad": (-0.55, -0.5),
    "angry": (-0.6, 0.6),
    "surprised": (0.15, 0.8),
}
SPREAD = 0.35
# (valence weight, arousal weight) of each modality
WEIGHTS = {"text": (1.0, 0.5), "voice": (0.3, 1.0), "face": (0.25, 0.15)}
CUE_WEIGHT = 0.6  # the words' cue scores next to the circumplex scores
CUE_WORD = 0.4  # the least a sad or angry cue word scores its emotion
PAUSE_S = 0.25  # silence that ends a phrase
MIN_PHRASE_S = 0.8  # shorter phrases join their neighbour


@dataclass
class Reading:
    """One modality's (or the fused) estimate."""

    valence: float
    arousal: float
    cues: dict[str, float] = field(default_factory=dict)  # the words' own label scores

    def rounded(self) -> dict[str, float]:
        return {"valence": round(self.valence, 3), "arousal": round(self.arousal, 3)}


@dataclass
class Segment:
    start: float
    end: float
    text: str
    primary: str
    confidence: float
    valence: float
    arousal: float
    question: bool
    scores: dict[str, float]


@dataclass
class EmotionResult:
    primary: str
    confidence: float  # the primary's share of the scores
    valence: float
    arousal: float
    scores: dict[str, float]  # every emotion of EMOTIONS, summing to 1
    modalities: dict[str, dict[str, float]]  # "text" / "voice" / "face" -> valence, arousal
    track: list[Segment]

    @property
    def source(self) -> str:
        return "+".join(self.modalities) or "default"

    def detail(self) -> dict:
        return {
            "confidence": self.confidence,
            "valence": self.valence,
            "arousal": self.arousal,
            "modalities": self.modalities,
        }

    def track_dicts(self) -> list[dict]:
        return [asdict(s) for s in self.track]


@cache
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def text_reading(text: str) -> Reading:
    words = set(re.findall(r"[a-z']+", text.lower()))
    compound = _vader().polarity_scores(text)["compound"]
    exclaim, question = "!" in text, "?" in text
    anger_cue = bool(words & ANGER_WORDS) or (exclaim and compound < -0.3)
    sadness_cue = bool(words & SADNESS_WORDS)
    negative = max(-compound, 0.0)
    surprise = 0.35 * len(words & SURPRISE_WORDS) + (0.3 if question and exclaim else 0.15 if question else 0.0)
    # a cue word is evidence of its own: "I miss her" is sad although VADER finds it only a little negative
    sad, angry = max(negative, CUE_WORD * sadness_cue), max(negative, CUE_WORD * anger_cue)
    cues = {
        "neutral": max(0.6 - abs(compound) - surprise - CUE_WORD * (sadness_cue or anger_cue), 0.0),
        "happy": max(compound, 0.0) * (1.2 if exclaim else 1.0),
        "sad": sad * (1.0 if sadness_cue or not anger_cue else 0.3),
        "angry": angry * (1.2 if anger_cue and not sadness_cue else 0.3),
        "surprised": min(surprise, 1.0),
    }
    arousal = 0.4 * exclaim + 0.2 * question + min(surprise, 0.6) + (0.3 if anger_cue else -0.3 if sadness_cue else 0)
    return Reading(compound, float(np.clip(arousal, -1, 1)), cues)


def voice_reading(summary: dict) -> Reading | None:
    """Arousal from pitch range, loudness and rate relative to TYPICAL (None without voiced speech). The pitch
    range (5th to 95th percentile) rather than its deviation: octave errors of the tracker on low voices inflate
    the deviation of flat speech."""
    if not summary.get("pitch_mean_hz"):
        return None
    pitch_var = (
        summary.get("pitch_range_semitones", TYPICAL["pitch_range_semitones"]) / TYPICAL["pitch_range_semitones"]
    )
    loud = (summary.get("loudness_mean_db", TYPICAL["loudness_mean_db"]) - TYPICAL["loudness_mean_db"]) / 10.0
    rate = summary.get("speaking_rate_sps", TYPICAL["speaking_rate_sps"]) / TYPICAL["speaking_rate_sps"]
    arousal = float(np.clip(0.6 * (pitch_var - 1.0) + 0.2 * loud + 0.5 * (rate - 1.0), -1, 1))
    return Reading(0.5 * arousal, arousal)  # lively speech sounds a little pleased, flat speech a little low


def face_reading(face: Expression) -> Reading:
    return Reading(**face.scores())


def fuse(readings: dict[str, Reading]) -> tuple[Reading, dict[str, float]]:
    """The weighted valence and arousal of the readings, and each emotion's normalised score."""
    if not readings:
        return Reading(0.0, 0.0), {e: float(e == "neutral") for e in EMOTIONS}
    w_v = np.array([WEIGHTS[name][0] for name in readings])
    w_a = np.array([WEIGHTS[name][1] for name in readings])
    valence = float(np.dot(w_v, [r.valence for r in readings.values()]) / w_v.sum())
    arousal = float(np.dot(w_a, [r.arousal for r in readings.values()]) / w_a.sum())
    raw = {
        e: float(np.exp(-((valence - v) ** 2 + (arousal - a) ** 2) / (2 * SPREAD**2)))
        for e, (v, a) in CIRCUMPLEX.items()
    }
    if cues := next((r.cues for r in readings.values() if r.cues), None):
        total = sum(cues.values()) or 1.0
        raw = {e: raw[e] + CUE_WEIGHT * cues[e] / total for e in EMOTIONS}
    norm = sum(raw.values()) or 1.0
    return Reading(valence, arousal), {e: round(raw[e] / norm, 3) for e in EMOTIONS}


def detect_emotion(
    text: str | None,
    voice: Prosody | None = None,
    phones: list[Phone] | None = None,
    face: Expression | None = None,
    duration: float | None = None,
) -> EmotionResult:
    """The clip's emotion and its track over phrases. Any modality may be missing; with none, neutral."""
    text = (text or "").strip()
    overall: dict[str, Reading] = {}
    if text:
        overall["text"] = text_reading(text)
    if voice is not None and (reading := voice_reading(voice.summary())):
        overall["voice"] = reading
    if face is not None:
        overall["face"] = face_reading(face)
    fused, scores = fuse(overall)
    primary = max(scores, key=scores.__getitem__)

    end = duration if duration is not None else (voice.loudness.size / voice.rate if voice is not None else 0.0)
    track = []
    for start, stop, words in phrases(text, phones or [], end):
        parts = {"face": overall["face"]} if "face" in overall else {}
        if words:
            parts["text"] = text_reading(words)
        part_voice = _voice_slice(voice, start, stop) if voice is not None else None
        if part_voice is not None and (reading := voice_reading(part_voice.summary())):
            parts["voice"] = reading
        seg, seg_scores = fuse(parts)
        label = max(seg_scores, key=seg_scores.__getitem__)
        question = words.rstrip().endswith("?")
        track.append(
            Segment(
                round(start, 3),
                round(stop, 3),
                words,
                label,
                seg_scores[label],
                round(seg.valence, 3),
                round(seg.arousal, 3),
                bool(question),
                seg_scores,
            )
        )
    return EmotionResult(
        primary,
        scores[primary],
        round(fused.valence, 3),
        round(fused.arousal, 3),
        scores,
        {name: r.rounded() for name, r in overall.items()},
        track,
    )


def speech_spans(phones: list[Phone], duration: float) -> list[tuple[float, float]]:
    """Stretches of speech between pauses of at least PAUSE_S, short ones joined to the previous one."""
    spans: list[list[float]] = []
    for p in phones:
        if p.label == "SIL" and p.end - p.start >= PAUSE_S:
            continue
        if spans and p.start - spans[-1][1] < PAUSE_S:
            spans[-1][1] = p.end
        else:
            spans.append([p.start, p.end])
    merged: list[list[float]] = []
    for span in spans:
        if merged and (span[1] - span[0] < MIN_PHRASE_S or merged[-1][1] - merged[-1][0] < MIN_PHRASE_S):
            merged[-1][1] = span[1]
        else:
            merged.append(span)
    return [(a, b) for a, b in merged] or ([(0.0, duration)] if duration > 0 else [])


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.findall(r"[^.!?;]+[.!?;]*", text) if s.strip(" .!?;")]


def phrases(text: str, phones: list[Phone], duration: float) -> list[tuple[float, float, str]]:
    """(start, end, words) per phrase. Sentences are laid on the speech in proportion to their length, and each
    boundary moves to the nearest pause when one is close (the words have no times of their own here)."""
    spans = speech_spans(phones, duration)
    said = sentences(text)
    if not spans:
        return []
    if len(said) <= 1:
        if said:
            return [(spans[0][0], spans[-1][1], said[0])]
        return [(a, b, "") for a, b in spans]
    speech = np.array([b - a for a, b in spans])
    clock = np.concatenate([[0.0], np.cumsum(speech)])
    lengths = np.array([len(s) for s in said], float)
    marks = clock[-1] * np.cumsum(lengths)[:-1] / lengths.sum()
    pauses = np.array([(spans[i][1] + spans[i + 1][0]) / 2 for i in range(len(spans) - 1)])

    def at(speech_time: float) -> float:
        i = min(int(np.searchsorted(clock, speech_time, side="right")) - 1, len(spans) - 1)
        t = spans[i][0] + speech_time - clock[i]
        if len(pauses) and abs(pauses - t).min() < 0.6:
            return float(pauses[np.abs(pauses - t).argmin()])
        return float(t)

    bounds = [spans[0][0], *(at(m) for m in marks), spans[-1][1]]
    return [(bounds[i], bounds[i + 1], s) for i, s in enumerate(said) if bounds[i + 1] > bounds[i]]


def _voice_slice(voice: Prosody, start: float, end: float) -> Prosody | None:
    a, b = int(start * voice.rate), int(np.ceil(end * voice.rate))
    if b - a < voice.rate // 4:
        return None
    return Prosody(voice.rate, voice.loudness_db[a:b], voice.loudness[a:b], voice.pitch_hz[a:b])
