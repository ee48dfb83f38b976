"""espeak-ng's shared library through ctypes: speech plus the exact time of every phoneme it spoke.

The CLI (models.audio.tts) is enough to make speech; this binding exists because only the library reports
*when* each phoneme starts (espeakEVENT_PHONEME), which is ground truth for training and testing lip timing.
Also maps espeak-ng phoneme mnemonics to ARPAbet, for those labels and the aligner's letter-to-sound fallback.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import cache

import numpy as np

from core.errors import BackendUnavailable

LIBRARY = "libespeak-ng.so.1"
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
CHARS_UTF8 = 1
EVENT_LIST_TERMINATED, EVENT_PHONEME, EVENT_MSG_TERMINATED = 0, 7, 6
PARAM_RATE, PARAM_PITCH, PARAM_RANGE = 1, 3, 4


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):  # espeak_EVENT in speak_lib.h
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),  # ms from the start of the output
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event)
)


@dataclass
class TimedSpeech:
    audio: np.ndarray  # int16 mono at sample_rate
    sample_rate: int
    phonemes: list[
        tuple[str, float]
    ]  # (espeak mnemonic, start seconds); the phoneme lasts until the next one

    def arpabet_segments(self) -> list[tuple[str, float, float]]:
        """(ARPAbet, start, end) for every phoneme; pauses and unmapped symbols become SIL."""
        end_of_audio = len(self.audio) / self.sample_rate
        ends = [t for _, t in self.phonemes[1:]] + [end_of_audio]
        return [(espeak_to_arpabet(p), s, e) for (p, s), e in zip(self.phonemes, ends, strict=True) if e > s]


class _Engine:
    """The library keeps global state, so one engine per process, one synthesis at a time."""

    def __init__(self) -> None:
        try:
            self.lib = ctypes.CDLL(LIBRARY)
        except OSError as exc:
            raise BackendUnavailable(
                f"{LIBRARY} not found ({exc}); install it with `apt-get install espeak-ng`"
            ) from exc
        self.sample_rate = self.lib.espeak_Initialize(
            AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS
        )
        if self.sample_rate <= 0:
            raise BackendUnavailable("espeak-ng failed to initialise (is espeak-ng-data installed?)")
        self.lock = threading.Lock()
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[str, float]] = []
        self._callback = _CALLBACK(self._on_synth)  # keep a reference: the library holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)
        self.lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        self.lib.espeak_Synth.argtypes = [
            ctypes.c_char_p,
            ctypes.c_size_t,
            ctypes.c_uint,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.c_uint,
            ctypes.c_void_p,
            ctypes.c_void_p,
        ]

    def _on_synth(self, wav, n, events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            ev = events[i]
            if ev.type == EVENT_PHONEME:
                name = bytes(ev.id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                self._events.append((name, ev.audio_position / 1000.0))
            i += 1
        return 0

    def speak(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> TimedSpeech:
        with self.lock:
            self._chunks, self._events = [], []
            if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
                raise ValueError(f"espeak-ng has no voice {voice!r}")
            for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch), (PARAM_RANGE, pitch_range)):
                self.lib.espeak_SetParameter(param, int(value), 0)
            data = text.encode() + b"\0"
            if self.lib.espeak_Synth(data, len(data), 0, 1, 0, CHARS_UTF8, None, None) != 0:
                raise RuntimeError("espeak_Synth failed")
            self.lib.espeak_Synchronize()
            audio = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
            return TimedSpeech(audio, self.sample_rate, self._events)


@cache
def _engine() -> _Engine:
    return _Engine()


def speak_with_phonemes(
    text: str, voice: str = "en-us", rate: int = 165, pitch: int = 50, pitch_range: int = 50
) -> TimedSpeech:
    """Synthesize `text` and return the audio with espeak-ng's own phoneme start times."""
    return _engine().speak(text, voice, rate, pitch, pitch_range)


# espeak-ng English phoneme mnemonics (phsource/ph_english*) -> ARPAbet. Stress marks and length marks are
# stripped before lookup; unknown symbols fall back on their first letter's class, then SIL.
ESPEAK_TO_ARPABET = {
    "_": "SIL",
    "": "SIL",
    "p": "P",
    "b": "B",
    "m": "M",
    "f": "F",
    "v": "V",
    "T": "TH",
    "D": "DH",
    "t": "T",
    "d": "D",
    "n": "N",
    "s": "S",
    "z": "Z",
    "l": "L",
    "r": "R",
    "t#": "T",
    "d#": "D",
    "S": "SH",
    "Z": "ZH",
    "tS": "CH",
    "dZ": "JH",
    "j": "Y",
    "k": "K",
    "g": "G",
    "N": "NG",
    "h": "HH",
    "w": "W",
    "W": "W",
    "x": "HH",
    "?": "T",
    "n-": "N",
    "l/": "L",
    "l-": "L",
    "r-": "R",
    "m-": "M",
    "i": "IY",
    "i:": "IY",
    "I": "IH",
    "I2": "IH",
    "I#": "IH",
    "e": "EH",
    "E": "EH",
    "E2": "EH",
    "E3": "EH",
    "a": "AE",
    "a#": "AE",
    "A:": "AA",
    "A@": "AA",
    "0": "AA",
    "O": "AO",
    "O:": "AO",
    "O@": "AO",
    "o@": "AO",
    "V": "AH",
    "@": "AH",
    "@2": "AH",
    "@5": "AH",
    "a2": "AH",
    "3": "ER",
    "3:": "ER",
    "@L": "L",
    "U": "UH",
    "u": "UW",
    "u:": "UW",
    "U@": "UH",
    "eI": "EY",
    "aI": "AY",
    "aI@": "AY",
    "aI3": "AY",
    "OI": "OY",
    "oU": "OW",
    "aU": "AW",
    "aU@": "AW",
    "i@": "IY",
    "i@3": "IY",
    "e@": "EH",
    "A": "AA",
    "o": "OW",
    "O2": "AO",
    "0#": "AA",
}


def espeak_to_arpabet(symbol: str) -> str:
    """One espeak-ng phoneme mnemonic (as in phoneme events or `espeak-ng -x`) to ARPAbet."""
    s = symbol.strip().lstrip("',%=").replace(";", "")
    if s in ESPEAK_TO_ARPABET:
        return ESPEAK_TO_ARPABET[s]
    s = s.rstrip(":")
    return ESPEAK_TO_ARPABET.get(s) or ESPEAK_TO_ARPABET.get(s[:1], "SIL")
