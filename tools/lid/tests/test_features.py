"""Feature parity with the TypeScript front end: the trainer's view of the product's features.

The model trains on features the TS front end computes (extract.ts); these tests hold the Python side to the
same definition: a numpy log-mel written from features.ts's constants matches the TS output on conditioned
speech, train.py's band centres (used by its frequency warp) are the TS filterbank's, and the feature files
extract.ts writes read back in train.py row for row."""

import json
import os
import subprocess

import numpy as np
from conftest import LID, ROOT, TSX, needs_tsx, speech, write_wav

import lid
import train as T
from telephone import mulaw_decode

SR, WINDOW, HOP, FFT, BANDS = 8000, 200, 80, 256, 24
LOG_FLOOR = np.log(1e-2)


def mel_filters() -> np.ndarray:
    mel = lambda hz: 2595 * np.log10(1 + hz / 700)  # noqa: E731
    edges = 700 * (10 ** (np.linspace(mel(300), mel(3400), BANDS + 2) / 2595) - 1)
    f = np.arange(FFT // 2 + 1) * SR / FFT
    W = np.zeros((BANDS, len(f)))
    for b in range(BANDS):
        lo, c, hi = edges[b : b + 3]
        W[b] = np.clip(np.minimum((f - lo) / (c - lo), (hi - f) / (hi - c)), 0, None)
    return W


def logmel(x: np.ndarray) -> np.ndarray:
    n = 1 + (len(x) - WINDOW) // HOP
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WINDOW) / WINDOW)
    frames = np.stack([x[i * HOP : i * HOP + WINDOW] for i in range(n)])
    frames = (frames - frames.mean(1, keepdims=True)) * win
    power = np.abs(np.fft.rfft(frames, FFT)) ** 2 / WINDOW
    return np.maximum(LOG_FLOOR, np.log(np.maximum(power @ mel_filters().T, 1e-300)))


@needs_tsx
def test_numpy_logmel_matches_the_typescript_front_end(tmp_path):
    ul = lid.condition(speech("es"), 8000, np.random.default_rng(3), augment=True, corpus="calls")
    x = mulaw_decode(ul)
    (tmp_path / "x.raw").write_bytes(x.astype("<i2").tobytes())
    r = subprocess.run([TSX, os.path.join(LID, "tests", "logmel.ts"), str(tmp_path / "x.raw")], cwd=ROOT,
                       capture_output=True, text=True, check=True)
    ts = json.loads(r.stdout)
    got, want = np.array(ts["frames"]), logmel(x.astype(np.float64))
    assert got.shape == want.shape and got.shape[0] > 200
    assert np.max(np.abs(got - want)) < 1e-3  # float32 buffers on the TS side
    # train.py's band centres (its frequency warp reads bands there) are the TS filters' peaks.
    peaks = [f["start"] + int(np.argmax(f["weights"])) for f in ts["filters"]]
    assert np.all(np.abs(np.array(peaks) * SR / FFT - T.BAND_HZ) <= SR / FFT)


@needs_tsx
def test_extract_writes_what_train_reads(tmp_path):
    calls = tmp_path / "calls"
    for k, lang in enumerate(("es", "fr")):
        write_wav(str(calls / f"{lang}-XX" / f"c{k}.wav"), speech(lang), 8000, "mulaw")
    selected = lid.select(lid.corpora.read_corpus(f"calls:{calls}"), ["es-ES", "fr-FR", "other"], set(), False, 0, 0, 9, 9)
    lid.prepare(selected, str(tmp_path / "run"), copies=1, seed=0)
    subprocess.run([TSX, os.path.join(LID, "extract.ts"), str(tmp_path / "run")], cwd=ROOT, check=True,
                   capture_output=True)
    data = T.Data(str(tmp_path / "run"))
    assert data.dim == BANDS and sum(c["rows"] for c in data.clips) == len(data.X) == len(data.frames)
    for c in data.clips:
        rows = data.X[c["row"] : c["row"] + c["rows"]]
        assert c["rows"] > 50 and np.all(np.isfinite(rows))
        assert np.all(np.diff(data.frames[c["row"] : c["row"] + c["rows"]]) > 0)  # frame indices in order
        assert abs(float(rows.mean())) < 1.5  # CMN-normalised, not raw log energies (~10-20)
