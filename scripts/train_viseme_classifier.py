"""Train the audio-only viseme classifier (models/audio/viseme_classifier.npz) on espeak-ng speech.

Labels are exact: espeak-ng's library reports when each phoneme starts (models.audio.espeak_lib).
Training speech varies voice (language x variant), pitch, pitch range, rate, level, noise, echo, tilt, MP3
coding and leading/trailing silence.
Evaluation uses voices (variants and one accent) and words never seen in training, clean and degraded
(low-bitrate MP3 + noise + echo), and prints frame accuracy. About 5 minutes on one core:

    OMP_NUM_THREADS=1 python scripts/train_viseme_classifier.py [--out PATH] [--utterances 3000]
"""

from __future__ import annotations

import argparse
import io
import random
import tempfile
import time
import zlib
from pathlib import Path

import av
import numpy as np

from models.audio.espeak_lib import speak_with_phonemes
from models.audio.io import decode_audio, resample
from models.audio.viseme_classifier import FRAME_RATE, WEIGHTS, VisemeClassifier, frame_features
from models.audio.visemes import CLASS_NAMES, PHONE_TO_CLASS

ESPEAK_DATA = Path("/usr/lib/x86_64-linux-gnu/espeak-ng-data")
LANGUAGES = ["en-us", "en", "en-gb-x-rp", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc"]
HELD_OUT_LANGUAGE = "en-029"
FUNCTION_WORDS = [
    "the",
    "a",
    "of",
    "to",
    "and",
    "in",
    "is",
    "you",
    "that",
    "it",
    "he",
    "was",
    "for",
    "on",
    "are",
    "with",
    "as",
    "I",
    "his",
    "they",
    "be",
    "at",
    "one",
    "have",
    "this",
    "from",
    "or",
    "had",
    "by",
    "but",
    "what",
    "some",
    "we",
    "can",
    "out",
    "other",
    "were",
    "all",
    "there",
    "when",
    "up",
    "use",
    "your",
    "how",
    "said",
    "an",
    "each",
    "she",
    "which",
    "do",
    "their",
    "if",
    "will",
    "way",
    "about",
    "many",
    "then",
    "them",
    "would",
    "so",
    "these",
    "her",
    "him",
    "has",
    "two",
    "more",
    "my",
    "no",
    "not",
]


def vocabulary(held_out: bool) -> list[str]:
    """Words from VADER's lexicon and the CMU dictionary, split by hash so test words are never trained on."""
    import pocketsphinx
    import vaderSentiment

    vader = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt").read_text(encoding="utf-8")
    words = {line.split("\t")[0] for line in vader.splitlines()}
    cmu = Path(pocketsphinx.get_model_path("en-us/cmudict-en-us.dict")).read_text().splitlines()
    rng = random.Random(0)
    words |= set(rng.sample([ln.split()[0] for ln in cmu if ln.split()[0].isalpha()], 6000))
    words = {w for w in words if w.isalpha() and 2 <= len(w) <= 12}
    return sorted(w for w in words if (zlib.crc32(w.encode()) % 5 == 0) == held_out)


def variants() -> tuple[list[str], list[str]]:
    names = sorted(p.name for p in (ESPEAK_DATA / "voices" / "!v").iterdir())
    return [v for i, v in enumerate(names) if i % 5], [v for i, v in enumerate(names) if not i % 5]


def sentence(rng: random.Random, words: list[str]) -> str:
    picked = [
        rng.choice(FUNCTION_WORDS) if rng.random() < 0.35 else rng.choice(words) for _ in range(rng.randint(3, 12))
    ]
    text = " ".join(picked)
    if rng.random() < 0.3:
        cut = rng.randint(1, len(picked) - 1)
        text = " ".join(picked[:cut]) + ", " + " ".join(picked[cut:])
    return text + rng.choice([".", ".", "?", "!"])


def labelled_utterance(rng: random.Random, words: list[str], languages: list[str], variant_names: list[str]):
    """(16 kHz audio, class index per 10 ms frame) for one random sentence and voice."""
    voice = rng.choice(languages) + (f"+{rng.choice(variant_names)}" if rng.random() < 0.85 else "")
    speech = speak_with_phonemes(
        sentence(rng, words),
        voice,
        rate=rng.randint(110, 300),
        pitch=rng.randint(5, 95),
        pitch_range=rng.randint(5, 100),
    )
    audio = resample(speech.audio.astype(np.float32) / 32768.0, speech.sample_rate)
    lead, trail = rng.uniform(0, 0.5), rng.uniform(0, 0.5)
    audio = np.concatenate([np.zeros(int(lead * 16000), np.float32), audio, np.zeros(int(trail * 16000), np.float32)])
    n = int(np.ceil(len(audio) / 160))
    labels = np.zeros(n, dtype=np.int64)  # SIL
    t = (np.arange(n) + 0.5) / FRAME_RATE
    for phone, start, end in speech.arpabet_segments():
        labels[(t >= start + lead) & (t < end + lead)] = CLASS_NAMES.index(PHONE_TO_CLASS.get(phone, "SIL"))
    return audio, labels


def add_echo(rng: random.Random, audio: np.ndarray) -> np.ndarray:
    out = audio.copy()
    for _ in range(3):
        d = int(rng.uniform(0.005, 0.06) * 16000)
        out[d:] += rng.uniform(0.1, 0.5) * audio[:-d]
    return out


def add_noise(rng: random.Random, audio: np.ndarray, snr_db: float) -> np.ndarray:
    noise = np.random.default_rng(rng.randrange(1 << 30)).standard_normal(len(audio))
    return audio + noise * np.sqrt(np.mean(audio**2)) * 10 ** (-snr_db / 20)


def augment(rng: random.Random, audio: np.ndarray) -> np.ndarray:
    if rng.random() < 0.15:
        return degrade(rng, audio)
    if rng.random() < 0.5:  # spectral tilt: one-pole low or high emphasis
        a = rng.uniform(-0.7, 0.9)
        audio = audio - a * np.concatenate([[0.0], audio[:-1]])
    if rng.random() < 0.3:
        audio = add_echo(rng, audio)
    audio = audio / (np.abs(audio).max() + 1e-9) * 10 ** (rng.uniform(-30, -1) / 20)
    if rng.random() < 0.6:
        audio = add_noise(rng, audio, rng.uniform(10, 45))
    return audio.astype(np.float32)


def degrade(rng: random.Random, audio: np.ndarray) -> np.ndarray:
    """A 'natural-ish' condition: room echo, background noise at 20 dB SNR, 24 kbps MP3 round trip."""
    mixed = add_noise(rng, add_echo(rng, audio), 20)
    mixed = mixed / (np.abs(mixed).max() + 1e-9) * 0.7
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp3") as out:
        stream = out.add_stream("mp3", rate=16000, layout="mono")
        stream.bit_rate = 24_000
        frame = av.AudioFrame.from_ndarray((mixed * 32767).astype(np.int16)[None, :], format="s16", layout="mono")
        frame.sample_rate = 16000
        for packet in stream.encode(frame):
            out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "degraded.mp3"
        path.write_bytes(buf.getvalue())
        decoded = decode_audio(path)
    return np.pad(decoded, (0, max(0, len(audio) - len(decoded))))[: len(audio)]


def dataset(n: int, seed: int, held_out: bool, degrade_audio: bool = False):
    rng = random.Random(seed)
    words = vocabulary(held_out)
    train_variants, test_variants = variants()
    languages = [HELD_OUT_LANGUAGE] if held_out else LANGUAGES
    variant_names = test_variants if held_out else train_variants
    xs, ys = [], []
    for _ in range(n):
        audio, labels = labelled_utterance(rng, words, languages, variant_names)
        audio = degrade(rng, audio) if degrade_audio else (audio if held_out else augment(rng, audio))
        xs.append(frame_features(audio))
        ys.append(labels[: len(xs[-1])])
    return np.vstack(xs), np.concatenate(ys)


def train(x: np.ndarray, y: np.ndarray, hidden: int, epochs: int, seed: int = 0) -> VisemeClassifier:
    """A two-hidden-layer ReLU MLP, softmax cross-entropy with class-balanced weights, Adam."""
    rng = np.random.default_rng(seed)
    mean, std = x.mean(axis=0), x.std(axis=0) + 1e-3
    x = ((x - mean) / std).astype(np.float32)
    k = len(CLASS_NAMES)
    sizes = [x.shape[1], hidden, hidden, k]
    params = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        params += [(rng.standard_normal((a, b)) * np.sqrt(2 / a)).astype(np.float32), np.zeros(b, np.float32)]
    counts = np.bincount(y, minlength=k).astype(np.float64)
    class_w = (counts.sum() / (k * np.maximum(counts, 1))) ** 0.5  # soften imbalance (SIL dominates)
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    step, batch = 0, 256
    for epoch in range(epochs):
        lr = 2e-3 * (0.5 ** (epoch // 4))
        order = rng.permutation(len(x))
        for s in range(0, len(x), batch):
            ib = order[s : s + batch]
            xb, yb = x[ib], y[ib]
            w0, b0, w1, b1, w2, b2 = params
            h0 = np.maximum(xb @ w0 + b0, 0)
            h1 = np.maximum(h0 @ w1 + b1, 0)
            logits = h1 @ w2 + b2
            p = np.exp(logits - logits.max(axis=1, keepdims=True))
            p /= p.sum(axis=1, keepdims=True)
            sw = class_w[yb].astype(np.float32)
            g = p
            g[np.arange(len(yb)), yb] -= 1
            g *= (sw / sw.sum())[:, None]
            gw2, gb2 = h1.T @ g, g.sum(0)
            g1 = (g @ w2.T) * (h1 > 0)
            gw1, gb1 = h0.T @ g1, g1.sum(0)
            g0 = (g1 @ w1.T) * (h0 > 0)
            gw0, gb0 = xb.T @ g0, g0.sum(0)
            step += 1
            for i, grad in enumerate((gw0, gb0, gw1, gb1, gw2, gb2)):
                if i % 2 == 0:
                    grad = grad + 1e-5 * params[i]
                m[i] = 0.9 * m[i] + 0.1 * grad
                v[i] = 0.999 * v[i] + 0.001 * grad**2
                params[i] -= lr * (m[i] / (1 - 0.9**step)) / (np.sqrt(v[i] / (1 - 0.999**step)) + 1e-8)
        print(f"epoch {epoch + 1}/{epochs} done", flush=True)
    layers = [(params[i], params[i + 1]) for i in range(0, len(params), 2)]
    return VisemeClassifier(mean.astype(np.float32), std.astype(np.float32), layers, CLASS_NAMES)


def report(name: str, model: VisemeClassifier, x: np.ndarray, y: np.ndarray) -> None:
    pred = model.log_probs(x).argmax(axis=1)
    pbm = CLASS_NAMES.index("PBM")
    recall = np.mean(pred[y == pbm] == pbm)
    precision = np.mean(y[pred == pbm] == pbm) if (pred == pbm).any() else 0.0
    per_class = " ".join(f"{c}={np.mean(pred[y == i] == i):.2f}" for i, c in enumerate(CLASS_NAMES) if (y == i).any())
    print(
        f"{name}: frame accuracy {np.mean(pred == y):.3f} on {len(y)} frames; PBM recall {recall:.2f} "
        f"precision {precision:.2f}\n  per class: {per_class}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=WEIGHTS)
    ap.add_argument("--utterances", type=int, default=3000)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--epochs", type=int, default=12)
    args = ap.parse_args()
    t0 = time.time()
    x, y = dataset(args.utterances, seed=1, held_out=False)
    print(f"train: {len(y)} frames from {args.utterances} utterances in {time.time() - t0:.0f}s", flush=True)
    model = train(x, y, args.hidden, args.epochs)
    print(f"trained in {time.time() - t0:.0f}s")
    report("train", model, x[:200_000], y[:200_000])
    report("held-out voices and words", model, *dataset(150, seed=2, held_out=True))
    report(
        "held-out, degraded (echo + noise + 24 kbps MP3)",
        model,
        *dataset(60, seed=3, held_out=True, degrade_audio=True),
    )
    model.save(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB) in {time.time() - t0:.0f}s total")


if __name__ == "__main__":
    main()
