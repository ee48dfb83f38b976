"""Text to speech with the espeak-ng command line tool."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from core.errors import BackendUnavailable, InputError

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


def synthesize(text: str, out_wav: Path, voice: str = "en-us", words_per_minute: int = 165) -> Path:
    """Speak `text` into the WAV file `out_wav` (espeak-ng's 22.05 kHz mono) and return its path."""
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
    out_wav = Path(out_wav)
    out_wav.parent.mkdir(parents=True, exist_ok=True)
    # Text goes through stdin, so nothing in it is read as an option.
    proc = subprocess.run(
        [_espeak(), "-v", voice, "-s", str(words_per_minute), "-w", str(out_wav), "--stdin"],
        input=text,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0 or not out_wav.exists():
        raise RuntimeError(f"espeak-ng failed (exit {proc.returncode}): {proc.stderr.strip()}")
    return out_wav
