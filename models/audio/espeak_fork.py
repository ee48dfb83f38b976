"""espeak-ng's library in a helper process that forks a fresh copy of itself for every synthesis.

The library keeps state between utterances that no call resets: the glottal wave's phase, the pitch flutter's
position, its gain control, live in function statics of its wave generator, and a clause pause differs between
the first and later utterances. Neither srand, espeak_Initialize again, nor re-setting voice, rate, pitch and
range changes that (measured on 1.51): in one process the same text came out 38831, then 39305, 39298, ...
samples long. So this process initialises the library and never speaks itself; each request is spoken by a
fork of it, which starts from the same state every time and exits, and the same text gives the same audio.

Standard library only, run as `python -I -S espeak_fork.py`: it starts in a few tens of milliseconds.
Protocol: one JSON line per request on stdin; per answer one JSON line on stdout (the sample count, the
phoneme events, or an error), followed by the int16 samples.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
from typing import Any

LIBRARY = "libespeak-ng.so.1"
AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
CHARS_UTF8 = 1
EVENT_LIST_TERMINATED, EVENT_PHONEME = 0, 7
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


_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _Library:
    def __init__(self) -> None:
        self.lib = ctypes.CDLL(LIBRARY)
        self.sample_rate = self.lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, None, INITIALIZE_PHONEME_EVENTS)
        self.pcm: list[bytes] = []
        self.phonemes: list[tuple[str, float]] = []
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

    def _on_synth(self, wav: Any, n: int, events: Any) -> int:
        if wav and n > 0:
            self.pcm.append(ctypes.string_at(wav, 2 * n))
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_PHONEME:
                name = bytes(events[i].id.string).split(b"\0", 1)[0].decode("utf-8", "replace")
                self.phonemes.append((name, events[i].audio_position / 1000.0))
            i += 1
        return 0

    def speak(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int) -> dict[str, Any]:
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            return {"error": f"espeak-ng has no voice {voice!r}"}
        for param, value in ((PARAM_RATE, rate), (PARAM_PITCH, pitch), (PARAM_RANGE, pitch_range)):
            self.lib.espeak_SetParameter(param, int(value), 0)
        data = text.encode() + b"\0"
        if self.lib.espeak_Synth(data, len(data), 0, 1, 0, CHARS_UTF8, None, None) != 0:
            return {"error": "espeak_Synth failed"}
        self.lib.espeak_Synchronize()
        return {"phonemes": self.phonemes}


def _answer(out: Any, header: dict[str, Any], pcm: bytes = b"") -> None:
    out.write(json.dumps(header | {"bytes": len(pcm)}).encode() + b"\n" + pcm)
    out.flush()


def serve() -> None:
    out = sys.stdout.buffer
    try:
        library = _Library()
    except OSError as exc:
        _answer(out, {"error": f"{LIBRARY} not found ({exc})"})
        return
    _answer(out, {"sample_rate": library.sample_rate})
    if library.sample_rate <= 0:
        return
    for line in sys.stdin.buffer:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the fresh copy: speak, answer, leave
            try:
                try:
                    header = library.speak(**request)
                    pcm = b"".join(library.pcm) if "error" not in header else b""
                except Exception as exc:  # noqa: BLE001 - the asking process raises it
                    header, pcm = {"error": f"espeak-ng failed: {exc}"}, b""
                _answer(out, header, pcm)
            finally:
                os._exit(0)
        _, status = os.waitpid(pid, 0)
        if status != 0:
            _answer(out, {"error": f"the espeak-ng process ended with status {status}"})


if __name__ == "__main__":
    serve()
