"""The telephone channel Genesys AudioHook delivers, for wideband training audio: 8 kHz, a telephone band,
a speaking level, optional noise, and the G.711 mu-law round trip. Shared by corpus.py (the synthetic
corpus) and lid.py (public corpora and recorded calls), so both train on the same channel.
"""

import numpy as np
from scipy import signal


def mulaw_encode(x: np.ndarray) -> np.ndarray:
    """G.711 mu-law (the standard segment coder), Int16 -> bytes."""
    bias, clip = 0x84, 32635
    s = x.astype(np.int32)
    sign = (s < 0).astype(np.int32) * 0x80
    m = np.minimum(np.abs(s), clip) + bias
    exp = np.floor(np.log2(m)).astype(np.int32) - 7
    exp = np.clip(exp, 0, 7)
    mant = (m >> (exp + 3)) & 0x0F
    return (~(sign | (exp << 4) | mant) & 0xFF).astype(np.uint8)


def mulaw_decode(u: np.ndarray) -> np.ndarray:
    u = (~u.astype(np.int32)) & 0xFF
    sign, exp, mant = u & 0x80, (u >> 4) & 7, u & 0x0F
    mag = (((mant << 3) + 0x84) << exp) - 0x84
    return np.where(sign != 0, -mag, mag).astype(np.int16)


def pink(n: int, rng: np.random.Generator) -> np.ndarray:
    w = rng.standard_normal(n)
    b, a = [0.049922035, -0.095993537, 0.050612699, -0.004408786], [1, -2.494956002, 2.017265875, -0.522189400]
    return signal.lfilter(b, a, w)


def telephone(x: np.ndarray, sr: int, rng: np.random.Generator, augment: bool) -> np.ndarray:
    """Float samples at sr -> mu-law bytes at 8 kHz, through band limit, level and noise."""
    x = x.astype(np.float64)
    if sr != 8000:
        g = np.gcd(8000, sr)
        x = signal.resample_poly(x, 8000 // g, sr // g)
    lo, hi = (rng.uniform(200, 400), rng.uniform(3200, 3500)) if augment else (300, 3400)
    x = signal.sosfilt(signal.butter(4, [lo, hi], btype="band", fs=8000, output="sos"), x)
    pad = lambda: np.zeros(int(rng.uniform(0.1, 0.5) * 8000))  # noqa: E731
    x = np.concatenate([pad(), x, pad()])
    rms = np.sqrt(np.mean(x**2)) + 1e-9
    level = rng.uniform(-34, -12) if augment else -20.0
    x = x / rms * 32768 * 10 ** (level / 20)
    if augment and rng.random() < 0.6:
        n = rng.standard_normal(len(x)) if rng.random() < 0.5 else pink(len(x), rng)
        n = signal.sosfilt(signal.butter(2, [300, 3400], btype="band", fs=8000, output="sos"), n)
        snr = rng.uniform(8, 35)
        x = x + n / (np.sqrt(np.mean(n**2)) + 1e-9) * 32768 * 10 ** ((level - snr) / 20)
    return mulaw_encode(np.clip(np.round(x), -32768, 32767))
