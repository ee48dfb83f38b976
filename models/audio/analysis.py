"""Everything the pipeline needs to know about the speech, from an audio file or from text to speak.

- Audio: decoded once (at the output's rate; resampled for analysis), voice activity, loudness and pitch, and
  phone timings by forced alignment when the words are known (given, or recognised by Whisper when its
  weights are configured), else by the acoustic viseme classifier.
- Text alone: espeak-ng speaks it and reports when every phoneme starts; those times are the phone track.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.audio.io import check_length, check_speech, decode_audio, resample, write_wav
from models.audio.phones import PhoneTrack, fill_gaps, phone_track
from models.audio.prosody import Prosody, prosody
from models.audio.transcribe import transcribe
from models.audio.tts import speak
from models.audio.vad import SpeechActivity
from models.audio.visemes import mouth_curves
from models.threads import single_threaded_blas
from models.types import MouthCurves, Phone

OUTPUT_RATE = 48_000  # the speech track muxed into the output
RATE = 16_000  # analysis
FEW_SPEECH = 0.2  # warn when less than this share of the audio is speech
ARTIFACTS = {"speech": "speech.wav", "mouth": "mouth.npz", "phones": "phones.json", "prosody": "prosody.npz"}
_ANALYSIS = ThreadPoolExecutor(2, thread_name_prefix="speech analysis")  # voice activity and prosody


@dataclass
class SpeechAnalysis:
    track: np.ndarray  # float32 mono at OUTPUT_RATE: the sound of the output
    activity: SpeechActivity
    prosody: Prosody
    phones: PhoneTrack
    curves: MouthCurves
    transcript: str | None
    transcript_source: str  # "given", "whisper", or why there is none
    warnings: list[str] = field(default_factory=list)

    @property
    def duration(self) -> float:
        return self.activity.duration

    def features(self) -> dict:
        """Voice activity, prosody and the phones' source, as numbers and names (for emotion and the job row)."""
        return self.activity.summary() | self.prosody.summary() | {"phone_source": self.phones.source}

    def save(self, directory: Path) -> dict[str, Path]:
        """The artifacts later steps read: speech.wav (the output's sound), mouth.npz, phones.json, prosody.npz."""
        paths = {name: Path(directory) / file for name, file in ARTIFACTS.items()}
        write_wav(paths["speech"], self.track, OUTPUT_RATE)
        self.curves.save(paths["mouth"])
        self.phones.save(paths["phones"])
        self.prosody.save(paths["prosody"])
        return paths


def analyze_speech(
    audio: Path | None,
    text: str | None = None,
    voice: str = "en-us",
    max_seconds: float | None = None,
    on_track: Callable[[np.ndarray, float], None] | None = None,
) -> SpeechAnalysis:
    """Analyse the speech in the file `audio`, or, without one, `text` spoken by espeak-ng in `voice`.

    With an audio file, `text` is its transcript. `on_track(track, duration)` is called with the output's sound
    as soon as it is decoded (the pipeline encodes it for the output meanwhile). Raises InputError for
    unreadable, empty, silent or too long audio and for unusable text or voice."""
    text = (text or "").strip() or None
    if audio is None:
        spoken = speak(text or "", voice)
        track = resample(spoken.audio.astype(np.float32) / 32768, spoken.sample_rate, OUTPUT_RATE)
        check_length(track, OUTPUT_RATE, "the spoken text", max_seconds)
        name = "the spoken text"
    else:
        track = decode_audio(audio, OUTPUT_RATE, max_seconds=max_seconds)
        name = Path(audio).name
    samples = resample(track, OUTPUT_RATE, RATE)  # decoded once: analysis at 16 kHz, the output at 48
    duration = len(samples) / RATE
    if on_track is not None:
        on_track(track, duration)
    # Voice activity (onnxruntime) and prosody release the GIL for most of their work: on threads they share
    # the cores with the phone track, whose classifier's products stay on one BLAS thread (models.threads)
    with single_threaded_blas():
        activity_job = _ANALYSIS.submit(check_speech, samples, RATE, name)
        prosody_job = _ANALYSIS.submit(prosody, samples, RATE)
        try:
            if audio is None:
                phones = PhoneTrack(_espeak_phones(spoken.arpabet_segments(), duration), "espeak", text)
                transcript, source = text, "given"
            else:
                transcript, source = text, "given" if text else "none"
                if transcript is None:
                    transcript = transcribe(samples, RATE)
                    source = "whisper" if transcript else "none (no whisper model configured: acoustic visemes)"
                phones = phone_track(samples, RATE, transcript=transcript)
        except Exception:
            activity_job.result()  # silent audio is the error to report
            raise
        activity, pros = activity_job.result(), prosody_job.result()
    warnings = []
    if activity.speech_seconds < FEW_SPEECH * duration:
        warnings.append(f"only {activity.speech_seconds:.1f} s of speech detected in {duration:.1f} s of audio")
    return SpeechAnalysis(
        track, activity, pros, phones, mouth_curves(phones, pros, duration), transcript, source, warnings
    )


def _espeak_phones(segments: list[tuple[str, float, float]], duration: float) -> list[Phone]:
    """espeak-ng's phoneme segments (ARPAbet) as Phones within `duration`, silence between and after."""
    phones = [Phone(label, start, min(end, duration)) for label, start, end in segments if start < duration]
    return fill_gaps([p for p in phones if p.label != "SIL"], duration)
