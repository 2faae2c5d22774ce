"""The telephone conditioning that wideband corpora go through before training (telephone.py, lid.condition)."""

import numpy as np
from conftest import tone

import lid
from telephone import mulaw_decode, mulaw_encode, telephone


def band_energy(x: np.ndarray, sr: int, hz: float) -> float:
    spec = np.abs(np.fft.rfft(x)) ** 2
    f = np.fft.rfftfreq(len(x), 1 / sr)
    return float(spec[np.abs(f - hz) < 20].sum())


def test_mulaw_round_trip_is_g711():
    x = np.arange(-32768, 32768, 7)
    y = mulaw_decode(mulaw_encode(x)).astype(np.int64)
    err = np.abs(y - np.clip(x, -32635, 32635))
    assert np.all(err <= np.maximum(4, np.abs(x) / 16))  # a segment's quantisation step, no more
    codes = np.arange(256, dtype=np.uint8)
    assert np.array_equal(mulaw_encode(mulaw_decode(codes)), np.where(codes == 0x7F, 0xFF, codes))  # only -0 maps to +0


def test_wideband_audio_comes_out_8k_telephone_band_at_the_fixed_level():
    sr = 16000
    x = tone(1000, 2, sr) + tone(100, 2, sr) + tone(3900, 2, sr)  # in band, below it, above it
    y = mulaw_decode(telephone(x, sr, np.random.default_rng(0), augment=False)).astype(np.float64)
    assert 2 * 8000 + 0.2 * 8000 <= len(y) <= 2 * 8000 + 1.0 * 8000  # resampled, plus 0.1-0.5 s pads each side
    mid = y[len(y) // 2 - 4000 : len(y) // 2 + 4000]
    assert band_energy(mid, 8000, 100) < 1e-3 * band_energy(mid, 8000, 1000)  # below 300 Hz: gone
    assert band_energy(mid, 8000, 3900) < 1e-2 * band_energy(mid, 8000, 1000)  # above 3400 Hz: gone
    speech = y[np.abs(y) > 0]
    level = 20 * np.log10(np.sqrt(np.mean(y**2)) / 32768)
    assert len(speech) and -24 < level < -18  # -20 dBFS over the clip (pads dilute it a little)


def test_augmented_copies_vary_level_band_and_noise():
    x = tone(700, 1, 8000) * (1 + 0.5 * np.sin(np.arange(8000) / 300))
    levels, noisy = [], 0
    for seed in range(12):
        y = mulaw_decode(telephone(x, 8000, np.random.default_rng(seed), augment=True)).astype(np.float64)
        levels.append(20 * np.log10(np.sqrt(np.mean(y**2)) / 32768))
        noisy += np.sqrt(np.mean(y[:400] ** 2)) > 4  # the leading pad is silent unless noise was added
    assert max(levels) - min(levels) > 6  # levels drawn from -34..-12 dBFS
    assert 2 <= noisy <= 11  # noise on about 60 % of copies


def test_calls_keep_their_audio_for_evaluation_and_wideband_is_conditioned():
    rng = np.random.default_rng(0)
    x = np.round(tone(440, 0.5, 8000, 3000))
    out = lid.condition(x, 8000, rng, augment=False, corpus="calls")
    assert len(out) == len(x) and np.array_equal(out, mulaw_encode(x))  # 8 kHz calls: mu-law only
    out = lid.condition(x, 8000, rng, augment=False, corpus="commonvoice")
    assert len(out) > len(x)  # the telephone channel (with its pads)
