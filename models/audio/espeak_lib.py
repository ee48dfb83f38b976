"""espeak-ng's shared library: speech plus the exact time of every phoneme it spoke.

The CLI (models.audio.tts) is enough to make speech; the library is used because only it reports *when* each
phoneme starts (espeakEVENT_PHONEME), which is ground truth for training and testing lip timing. It runs in a
helper process that forks a fresh copy of itself per synthesis (models.audio.espeak_fork says why): the same
text, voice and settings give the same audio every time. Also maps espeak-ng phoneme mnemonics to ARPAbet,
for those labels and the aligner's letter-to-sound fallback.
"""

from __future__ import annotations

import atexit
import json
import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import BackendUnavailable

HELPER = Path(__file__).with_name("espeak_fork.py")


@dataclass
class TimedSpeech:
    audio: np.ndarray  # int16 mono at sample_rate
    sample_rate: int
    phonemes: list[tuple[str, float]]  # (espeak mnemonic, start seconds); the phoneme lasts until the next one

    def arpabet_segments(self) -> list[tuple[str, float, float]]:
        """(ARPAbet, start, end) for every phoneme; pauses and unmapped symbols become SIL."""
        end_of_audio = len(self.audio) / self.sample_rate
        ends = [t for _, t in self.phonemes[1:]] + [end_of_audio]
        return [(espeak_to_arpabet(p), s, e) for (p, s), e in zip(self.phonemes, ends, strict=True) if e > s]


class _Speaker:
    """The helper process (started once per process, on first use); one synthesis at a time."""

    def __init__(self) -> None:
        # -I -S: the standard library only, no site packages to scan; it starts in a few tens of milliseconds
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(HELPER)], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        atexit.register(self.close)
        self.lock = threading.Lock()
        header, _ = self._read()
        if "error" in header or header["sample_rate"] <= 0:
            self.close()
            raise BackendUnavailable(
                f"espeak-ng's library could not start ({header.get('error', 'no sample rate')}); install it with "
                "`apt-get install espeak-ng` (and espeak-ng-data)"
            )
        self.sample_rate: int = header["sample_rate"]

    def _read(self) -> tuple[dict[str, Any], bytes]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the espeak-ng helper process ended (status {self.process.poll()})")
        header = json.loads(line)
        return header, self.process.stdout.read(header["bytes"])

    def speak(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> TimedSpeech:
        request = {"text": text, "voice": voice, "rate": rate, "pitch": pitch, "pitch_range": pitch_range}
        assert self.process.stdin is not None
        with self.lock:
            self.process.stdin.write(json.dumps(request).encode() + b"\n")
            self.process.stdin.flush()
            header, pcm = self._read()
        if "error" in header:
            raise (ValueError if "no voice" in header["error"] else RuntimeError)(header["error"])
        phonemes = [(name, float(start)) for name, start in header["phonemes"]]
        return TimedSpeech(np.frombuffer(pcm, np.int16).copy(), self.sample_rate, phonemes)

    def close(self) -> None:
        if self.process.stdin and not self.process.stdin.closed:
            self.process.stdin.close()  # the helper reads its end of input and exits
        self.process.wait(timeout=10)


def _speaker() -> _Speaker:
    """This process's helper, started on first use, and again if it ended; a process forked after starting one
    (a prefork worker) starts its own."""
    with _SPEAKERS_LOCK:
        speaker = _SPEAKERS.get(os.getpid())
        if speaker is None or speaker.process.poll() is not None:
            speaker = _SPEAKERS[os.getpid()] = _Speaker()
        return speaker


_SPEAKERS: dict[int, _Speaker] = {}
_SPEAKERS_LOCK = threading.Lock()


def speak_with_phonemes(
    text: str, voice: str = "en-us", rate: int = 165, pitch: int = 50, pitch_range: int = 50
) -> TimedSpeech:
    """Synthesize `text` and return the audio with espeak-ng's own phoneme start times; the same arguments
    give the same result every time."""
    return _speaker().speak(text, voice, rate, pitch, pitch_range)


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
