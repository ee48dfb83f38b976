"""Phone timings of speech: forced alignment when the transcript is known, acoustic visemes when it is not.

- Transcript known: pocketsphinx's bundled en-US acoustic model and dictionary align the words, then a second
  pass aligns phones. Words missing from the dictionary get a pronunciation from espeak-ng's letter-to-sound
  rules (`espeak-ng -x`, mapped to ARPAbet). If alignment fails, the classifier below is used and the reason
  is kept in `notes`.
- No transcript: the viseme classifier (models.audio.viseme_classifier) labels every 10 ms frame; runs of one
  class become Phone segments labelled with that class's representative ARPAbet phone ("M" for p/b/m).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
from dataclasses import asdict, dataclass, field
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pocketsphinx import Decoder

from models.audio.espeak_lib import espeak_to_arpabet
from models.audio.viseme_classifier import FRAME_RATE, load_classifier
from models.audio.visemes import SHAPES, VISEME_CLASSES
from models.types import Phone

Source = Literal["alignment", "classifier", "espeak"]  # espeak: the synthesizer's own phoneme times
PS_FRAME_RATE = 100  # pocketsphinx's default frames per second
DITHER = 3e-3  # rms, of full scale
_decoder_lock = threading.Lock()
_added_words: dict[str, str] = {}  # words this process added to the decoder's dictionary, with their phones


@dataclass
class PhoneTrack:
    phones: list[Phone]
    source: Source
    transcript: str | None = None
    notes: list[str] = field(default_factory=list)

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> PhoneTrack:
        data = json.loads(Path(path).read_text())
        return cls([Phone(**p) for p in data["phones"]], data["source"], data["transcript"], data.get("notes", []))

    def times_of(self, label: str) -> list[tuple[float, float]]:
        return [(p.start, p.end) for p in self.phones if p.label == label]


def phone_track(audio: np.ndarray, sample_rate: int = 16_000, transcript: str | None = None) -> PhoneTrack:
    """Phone segments covering 16 kHz mono `audio`; aligned to `transcript` when one is given."""
    if sample_rate != 16_000:
        raise ValueError("phone_track expects 16 kHz audio (load_audio resamples to it)")
    notes: list[str] = []
    if transcript and transcript.strip():
        try:
            phones, notes = align(audio, transcript)
            return PhoneTrack(phones, "alignment", transcript, notes)
        except AlignmentFailed as exc:
            notes = [f"alignment failed ({exc}); used the acoustic viseme classifier"]
    return PhoneTrack(classify(audio), "classifier", transcript or None, notes)


class AlignmentFailed(Exception):
    pass


@cache
def _decoder() -> Decoder:
    return Decoder(lm=None, samprate=16_000, loglevel="FATAL")


def _words(transcript: str) -> list[str]:
    return re.findall(r"[a-z]+(?:'[a-z]+)?", transcript.lower())


def _espeak_pronunciation(word: str) -> str | None:
    """ARPAbet for `word` from espeak-ng's letter-to-sound rules, or None without espeak-ng."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    out = subprocess.run([exe, "-q", "-x", "--sep= ", "-v", "en-us"], input=word, capture_output=True, text=True).stdout
    phones = [espeak_to_arpabet(s) for s in out.split()]
    return " ".join(p for p in phones if p != "SIL") or None


def align(audio: np.ndarray, transcript: str) -> tuple[list[Phone], list[str]]:
    """Phone-level forced alignment of `transcript` to `audio` (pocketsphinx: words, then phones)."""
    words = _words(transcript)
    if not words:
        raise AlignmentFailed("the transcript has no words")
    notes: list[str] = []
    # Digitally silent stretches (TTS output, gated recordings) derail pocketsphinx's search; a fixed noise
    # floor like a quiet room's (about -50 dBFS) keeps the features finite and the pauses like the silence its
    # model knows. At -70 dBFS it matched a word across a pause (espeak's "the bay. My mom" put "my" inside
    # "bay") and left the last words unaligned ("... by May" read as silence).
    dither = np.random.default_rng(0).standard_normal(len(audio)).astype(np.float32) * DITHER
    pcm = (np.clip(audio + dither, -1, 1) * 32767).astype(np.int16).tobytes()
    with _decoder_lock:
        decoder = _decoder()
        kept = []
        for word in words:
            if word not in _added_words and decoder.lookup_word(word) is None:
                pron = _espeak_pronunciation(word)
                if pron is None:
                    notes.append(f"skipped {word!r}: not in the dictionary and espeak-ng is unavailable")
                    continue
                decoder.add_word(word, pron, True)
                _added_words[word] = pron
            if word in _added_words:
                notes.append(f"{word!r} is not in the dictionary: pronounced by espeak-ng as {_added_words[word]}")
            kept.append(word)
        if not kept:
            raise AlignmentFailed("no transcript word could be pronounced")
        try:
            decoder.set_align_text(" ".join(kept))
            _decode(decoder, pcm)  # word-level alignment
            decoder.set_alignment()
            _decode(decoder, pcm)  # phone-level pass within those words
            alignment = decoder.get_alignment()
            entries = [(p.name, p.start, p.duration) for p in alignment.phones()] if alignment else []
        except RuntimeError as exc:
            raise AlignmentFailed(str(exc)) from exc
    if not entries:
        raise AlignmentFailed("the speech did not match the transcript")
    phones = [
        Phone(_arpabet(name), start / PS_FRAME_RATE, (start + dur) / PS_FRAME_RATE) for name, start, dur in entries
    ]
    return fill_gaps(phones, len(audio) / 16_000), notes


def _decode(decoder: Decoder, pcm: bytes) -> None:
    decoder.start_utt()
    decoder.process_raw(pcm, full_utt=True)
    decoder.end_utt()


def _arpabet(name: str) -> str:
    """pocketsphinx phone names are ARPAbet; its noise/filler units (+NSN+, +SPN+ ...) count as silence."""
    return name if name in SHAPES else "SIL"


def fill_gaps(phones: list[Phone], duration: float) -> list[Phone]:
    out: list[Phone] = []
    t = 0.0
    for p in phones:
        if p.start > t + 1e-6:
            out.append(Phone("SIL", t, p.start))
        out.append(p)
        t = p.end
    if duration > t + 1e-6:
        out.append(Phone("SIL", t, duration))
    return out


def classify(audio: np.ndarray) -> list[Phone]:
    """Viseme classes per 10 ms frame from the audio alone, as segments of representative ARPAbet phones."""
    model = load_classifier()
    return class_segments(model.decode(audio), model.classes, len(audio) / 16_000)


def class_segments(path: np.ndarray, classes: tuple[str, ...], duration: float) -> list[Phone]:
    """Runs of one class in a per-frame class path (FRAME_RATE Hz from time 0), as Phone segments."""
    representative = [VISEME_CLASSES[c][0] for c in classes]
    change = np.flatnonzero(np.diff(path)) + 1
    bounds = np.concatenate([[0], change, [len(path)]])
    return [
        Phone(representative[path[a]], a / FRAME_RATE, min(b / FRAME_RATE, duration))
        for a, b in zip(bounds[:-1], bounds[1:], strict=True)
    ]
