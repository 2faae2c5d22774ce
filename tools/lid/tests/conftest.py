"""Shared helpers for the tools/lid tests: tiny corpora written in each layout, in a temporary folder."""

import os
import shutil
import struct
import sys

import numpy as np
import pytest

LID = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROOT = os.path.dirname(os.path.dirname(LID))
sys.path.insert(0, LID)

from telephone import mulaw_decode, mulaw_encode  # noqa: E402

TSX = os.path.join(ROOT, "node_modules", ".bin", "tsx")
FIXTURES = os.path.join(ROOT, "test", "unit", "detect", "fixtures")


def write_wav(path: str, x: np.ndarray, sr: int, fmt: str = "pcm16") -> None:
    """x: (n,) or (n, channels) samples on the int16 scale. fmt: pcm16 | mulaw | float32."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    x = x if x.ndim == 2 else x[:, None]
    ch = x.shape[1]
    if fmt == "pcm16":
        tag, width, data = 1, 2, np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()
    elif fmt == "mulaw":
        tag, width, data = 7, 1, mulaw_encode(np.clip(np.round(x), -32768, 32767).ravel()).tobytes()
    elif fmt == "float32":
        tag, width, data = 3, 4, (x / 32768).astype("<f4").tobytes()
    else:
        raise ValueError(fmt)
    fmt_chunk = struct.pack("<HHIIHH", tag, ch, sr, sr * ch * width, ch * width, 8 * width)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt_chunk)) + fmt_chunk
    body += b"data" + struct.pack("<I", len(data)) + data + (b"\0" if len(data) & 1 else b"")
    with open(path, "wb") as f:
        f.write(b"RIFF" + struct.pack("<I", len(body)) + body)


def speech(lang: str) -> np.ndarray:
    """Real (espeak-ng) speech at 8 kHz from the detector's unit-test fixtures: es or fr."""
    return mulaw_decode(np.fromfile(os.path.join(FIXTURES, f"speech-{lang}.ul"), dtype=np.uint8)).astype(np.float64)


def tone(hz: float, seconds: float, sr: int, level: float = 8000.0) -> np.ndarray:
    return level * np.sin(2 * np.pi * hz * np.arange(int(seconds * sr)) / sr)


needs_tsx = pytest.mark.skipif(not os.path.exists(TSX), reason="node_modules/.bin/tsx missing (run npm ci)")
needs_lame = pytest.mark.skipif(not shutil.which("lame"), reason="lame (Debian package) is not installed")
needs_mp3 = pytest.mark.skipif(not (shutil.which("mpg123") or shutil.which("ffmpeg")),
                               reason="no mp3 decoder (mpg123 or ffmpeg) installed")
