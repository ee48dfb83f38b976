"""Text to speech with espeak-ng (its library; the command line tool lists the voices)."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

import numpy as np

from core.errors import BackendUnavailable, InputError
from models.audio.espeak_lib import TimedSpeech, speak_with_phonemes
from models.audio.io import write_wav

ESPEAK = "espeak-ng"
MAX_TEXT_CHARS = 5_000
INSTALL_HINT = "install it with `apt-get install espeak-ng` (or your system's package manager)"


def _espeak() -> str:
    exe = shutil.which(ESPEAK)
    if exe is None:
        raise BackendUnavailable(f"{ESPEAK} is not installed; {INSTALL_HINT}")
    return exe


def _voice_table(kind: str) -> list[list[str]]:
    out = subprocess.run([_espeak(), f"--voices{kind}"], capture_output=True, text=True, check=True).stdout
    return [line.split() for line in out.splitlines()[1:] if line.strip()]


@cache
def _voices() -> tuple[frozenset[str], frozenset[str]]:
    """(languages and voice files, variant names) that espeak-ng accepts as `-v lang[+variant]`."""
    languages = {word for row in _voice_table("") for word in (row[1], row[4])}
    variants = {row[4].removeprefix("!v/") for row in _voice_table("=variant")}
    return frozenset(languages), frozenset(variants)


def list_voices() -> list[str]:
    """Languages/voices for `voice=`; add `+variant` (e.g. `en-us+f3`) for another speaker."""
    languages, variants = _voices()
    return sorted(languages) + [f"+{v}" for v in sorted(variants)]


def speak(text: str, voice: str = "en-us", words_per_minute: int = 165) -> TimedSpeech:
    """Speak `text` with espeak-ng's library: the audio and the start time of every phoneme in it (the engine
    that made the speech knows them exactly, so text input needs neither recognition nor alignment)."""
    text = text.strip()
    if not text:
        raise InputError("empty_text", "The text to speak is empty; type what the avatar should say.")
    if len(text) > MAX_TEXT_CHARS:
        raise InputError("text_too_long", f"The text is over {MAX_TEXT_CHARS} characters; shorten it.")
    languages, variants = _voices()
    language, _, variant = voice.partition("+")
    if language not in languages or (variant and variant not in variants):
        raise InputError(
            "unknown_voice",
            f"Unknown voice {voice!r}; use a language such as 'en-us' or 'en-gb-x-rp', optionally with a "
            f"variant such as 'en-us+f3' (see `espeak-ng --voices` and `espeak-ng --voices=variant`).",
        )
    if not 80 <= words_per_minute <= 450:
        raise InputError("bad_speech_rate", "words_per_minute must be between 80 and 450.")
    return speak_with_phonemes(text, voice, rate=words_per_minute)


def synthesize(text: str, out_wav: Path, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """Speak `text` into the WAV file `out_wav` (espeak-ng's 22.05 kHz mono) and return its path."""
    speech = speak(text, voice, words_per_minute)
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    write_wav(out_wav, speech.audio.astype(np.float32) / 32768, speech.sample_rate)
    return out_wav
