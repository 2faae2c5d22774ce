#!/usr/bin/env python3
"""Train the acoustic language classifier (an x-vector-lite) on features from tools/lid/extract.ts.

Model: context-stacked CMN log-mel (7 active frames at offsets -9..9 step 3, every 2nd active frame)
-> dense 160 ReLU -> dense 112 ReLU -> mean+std pooling -> dense 64 ReLU -> softmax over LABELS.
Numpy only, hand-written backprop, Adam. Writes the float16 weights the TypeScript model loads, and a
fixture of inputs/outputs so the TS inference can be checked against numpy to 1e-4.

usage: nice -n 15 python3 tools/lid/train.py --data ~/.cache/langhook/lid/corpus [--exclude-human] [--no-perturb]
                                            [--exclude-source ktuberling-data] [--out src/detect/model]
"""

import argparse
import base64
import json
import os
import time

import numpy as np

from cache import cache_dir

LABELS = ["en-US", "es-ES", "fr-FR", "de-DE", "it-IT", "pt-BR", "nl-NL", "other"]
OFFSETS = np.array([-9, -6, -3, 0, 3, 6, 9])
STRIDE = 2
H1, H2, H3 = 160, 112, 64
EPS = 1e-5
# The front end's mel bands (src/detect/features.ts): 24 over 300-3400 Hz, HTK mel.
_mel = lambda hz: 2595 * np.log10(1 + hz / 700)  # noqa: E731
_MLO, _MHI, _NB = _mel(300.0), _mel(3400.0), 24
BAND_HZ = 700 * (10 ** ((_MLO + (_MHI - _MLO) * np.arange(1, _NB + 1) / (_NB + 1)) / 2595) - 1)


def mel_index(hz: np.ndarray) -> np.ndarray:
    """Fractional band index of a frequency (band b is centred at BAND_HZ[b])."""
    return (_mel(hz) - _MLO) / (_MHI - _MLO) * (_NB + 1) - 1

def read_bands(z: np.ndarray, src: np.ndarray) -> np.ndarray:
    """z[..., b] replaced by z read at fractional band src[b] (linear interpolation, clamped to the edges)."""
    src = np.clip(src, 0, z.shape[-1] - 1)
    lo = np.floor(src).astype(int)
    hi = np.minimum(lo + 1, z.shape[-1] - 1)
    fr = (src - lo).astype(np.float32)
    return z[..., lo] * (1 - fr) + z[..., hi] * fr


FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "unit", "detect", "model-fixture.json")


CVN_PRIOR, CVN_PRIOR_FRAMES, CVN_SPAN = 6.0, 30, 300


def streaming_cvn(y: np.ndarray) -> np.ndarray:
    """Experimental (--cvn): divide one clip's CMN features by a streaming per-band standard deviation:
    a prior variance worth CVN_PRIOR_FRAMES frames, a cumulative mean of y^2 until CVN_SPAN, then an
    exponential mean with that span (as StreamingCmn does for the mean)."""
    from scipy.signal import lfilter

    n = len(y)
    if n == 0:
        return y
    sq = y.astype(np.float64) ** 2
    v = np.empty_like(sq)
    k = min(n, CVN_SPAN - CVN_PRIOR_FRAMES)
    t = np.arange(1, k + 1)[:, None]
    v[:k] = (CVN_PRIOR * CVN_PRIOR_FRAMES + np.cumsum(sq[:k], axis=0)) / (CVN_PRIOR_FRAMES + t)
    if n > k:
        a = 1 / CVN_SPAN
        v[k:] = lfilter([a], [1, -(1 - a)], sq[k:], axis=0, zi=((1 - a) * v[k - 1])[None, :])[0]
    return (y / np.sqrt(v)).astype(np.float32)


class Data:
    def __init__(self, d: str, cvn: bool = False):
        idx = json.load(open(os.path.join(d, "features", "index.json")))
        self.dim = idx["dim"]
        # Mapped, not read: a corpus of many hours is gigabytes (96 bytes per speech frame, 100 frames a
        # second), and a batch touches a few thousand rows. Copy-on-write, so --cvn can rewrite rows.
        self.X = np.memmap(os.path.join(d, "features", "feats.f32"), dtype=np.float32, mode="c").reshape(-1, self.dim)
        self.frames = np.fromfile(os.path.join(d, "features", "frames.i32"), dtype=np.int32)
        self.clips = idx["clips"]
        if cvn:
            for c in self.clips:
                sl = slice(c["row"], c["row"] + c["rows"])
                self.X[sl] = streaming_cvn(self.X[sl])

    def centers(self, c: dict) -> np.ndarray:
        """Row indices of the frames the encoder is evaluated at (full context, every STRIDE-th)."""
        n = c["rows"]
        if n < 2 * OFFSETS[-1] + 1:
            return np.zeros(0, dtype=np.int64)
        return c["row"] + np.arange(OFFSETS[-1], n - OFFSETS[-1], STRIDE)

    def stack(self, rows: np.ndarray) -> np.ndarray:
        return self.X[rows[..., None] + OFFSETS].reshape(*rows.shape, -1)


def init(rng: np.random.Generator, dim: int) -> dict[str, np.ndarray]:
    def he(i: int, o: int) -> np.ndarray:
        return (rng.standard_normal((i, o)) * np.sqrt(2 / i)).astype(np.float32)

    d0 = dim * len(OFFSETS)
    return {
        "W1": he(d0, H1), "b1": np.zeros(H1, np.float32),
        "W2": he(H1, H2), "b2": np.zeros(H2, np.float32),
        "W3": he(2 * H2, H3), "b3": np.zeros(H3, np.float32),
        "W4": (he(H3, len(LABELS)) * 0.5), "b4": np.zeros(len(LABELS), np.float32),
    }


def encode(p: dict, Z: np.ndarray) -> tuple[np.ndarray, ...]:
    A1 = Z @ p["W1"] + p["b1"]
    Hh1 = np.maximum(A1, 0)
    A2 = Hh1 @ p["W2"] + p["b2"]
    Hh2 = np.maximum(A2, 0)
    return A1, Hh1, A2, Hh2


def pool(Hh2: np.ndarray, M: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = M.sum(1, keepdims=True)  # (B,1)
    mu = (Hh2 * M[..., None]).sum(1) / n
    ex2 = (Hh2 * Hh2 * M[..., None]).sum(1) / n
    sd = np.sqrt(np.maximum(ex2 - mu * mu, 0) + EPS)
    return np.concatenate([mu, sd], 1), mu, sd, n


def head(p: dict, P: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    A3 = P @ p["W3"] + p["b3"]
    Hh3 = np.maximum(A3, 0)
    return A3, Hh3, Hh3 @ p["W4"] + p["b4"]


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def step(p: dict, Z: np.ndarray, M: np.ndarray, y: np.ndarray, smooth: float) -> tuple[float, dict]:
    B = Z.shape[0]
    A1, Hh1, A2, Hh2 = encode(p, Z)
    P, mu, sd, n = pool(Hh2, M)
    A3, Hh3, logits = head(p, P)
    pr = softmax(logits)
    K = len(LABELS)
    T = np.full((B, K), smooth / K, np.float32)
    T[np.arange(B), y] += 1 - smooth
    loss = float(-(T * np.log(pr + 1e-9)).sum() / B)
    g: dict[str, np.ndarray] = {}
    dL = (pr - T) / B
    g["W4"], g["b4"] = Hh3.T @ dL, dL.sum(0)
    dA3 = (dL @ p["W4"].T) * (A3 > 0)
    g["W3"], g["b3"] = P.T @ dA3, dA3.sum(0)
    dP = dA3 @ p["W3"].T
    dmu, dsd = dP[:, :H2], dP[:, H2:]
    dvar = dsd / (2 * sd)
    dH2 = (M[..., None] / n[:, :, None]) * (dmu[:, None, :] + 2 * dvar[:, None, :] * (Hh2 - mu[:, None, :]))
    dA2 = dH2 * (A2 > 0)
    g["W2"], g["b2"] = np.einsum("bli,blo->io", Hh1, dA2), dA2.sum((0, 1))
    dA1 = (dA2 @ p["W2"].T) * (A1 > 0)
    g["W1"], g["b1"] = np.einsum("bli,blo->io", Z, dA1), dA1.sum((0, 1))
    return loss, g


def predict(p: dict, data: Data, clips: list[dict], max_centers: int | None, batch: int = 128) -> np.ndarray:
    """Posteriors for the first `max_centers` encoder steps of each clip (None: all)."""
    out = np.zeros((len(clips), len(LABELS)), np.float32)
    for s in range(0, len(clips), batch):
        chunk = clips[s : s + batch]
        rows = [data.centers(c)[:max_centers] for c in chunk]
        L = max(1, max(len(r) for r in rows))
        R = np.zeros((len(chunk), L), np.int64)
        M = np.zeros((len(chunk), L), np.float32)
        for i, r in enumerate(rows):
            R[i, : len(r)] = r if len(r) else 0
            M[i, : len(r)] = 1
        M[M.sum(1) == 0, 0] = 1  # a clip without speech still gets a (meaningless) answer
        *_, Hh2 = encode(p, data.stack(R))
        P, *_ = pool(Hh2, M)
        out[s : s + batch] = softmax(head(p, P)[2])
    return out


def label_of(c: dict) -> int:
    return LABELS.index(c["label"]) if c["label"] in LABELS else -1


def random_crop(cen, rng):
    """A random stretch of 25-300 encoder steps of one clip, from its start 30 % of the time."""
    L = int(min(len(cen), rng.integers(25, 301)))
    st = 0 if rng.random() < 0.3 else int(rng.integers(0, len(cen) - L + 1))
    return cen[st : st + L]


def padded(rows):
    """Rows of frame indices as one zero-padded batch, with the mask of real frames."""
    L = max(len(r) for r in rows)
    R = np.zeros((len(rows), L), np.int64)
    M = np.zeros((len(rows), L), np.float32)
    for i, r in enumerate(rows):
        R[i, : len(r)] = r
        M[i, : len(r)] = 1
    return R, M


def augment(Z: np.ndarray, rng: np.random.Generator, masks: int, mask_width: int, warp: float,
            fwarp: float) -> None:
    """The training perturbations, in place on a batch of stacked frames Z (batch, L, offsets * dim)."""
    B, L = Z.shape[:2]
    dim = Z.shape[2] // len(OFFSETS)
    # Band masking: hide 0..mask_width adjacent mel bands per segment (masks times) so no single band
    # carries the decision.
    for i in range(B):
        for _ in range(masks):
            w = int(rng.integers(0, mask_width + 1))
            if w:
                b0 = int(rng.integers(0, dim - w))
                Z[i].reshape(L, len(OFFSETS), dim)[:, :, b0 : b0 + w] = 0
    if warp > 0:
        # Vocal-tract-length perturbation in the mel domain: stretch/squeeze the band axis per segment,
        # so the model cannot key on one speaker's formant positions.
        Zr = Z.reshape(B, L, len(OFFSETS), dim)
        grid = np.arange(dim, dtype=np.float32)
        for i in range(B):
            a = float(rng.uniform(1 - warp, 1 + warp))
            Zr[i] = read_bands(Zr[i], (grid - dim / 2) * a + dim / 2)
    if fwarp > 1:
        # Vocal-tract / voice-variant perturbation: scale every frequency by a (formants move together, as in
        # espeak-ng's variant files that scale formants by up to 1.45). Band b then reads the energy that
        # was at f_b / a; a shift on the mel axis, growing with frequency, not a stretch about the middle.
        Zr = Z.reshape(B, L, len(OFFSETS), dim)
        for i in range(B):
            a = float(np.exp(rng.uniform(-np.log(fwarp), np.log(fwarp))))
            Zr[i] = read_bands(Zr[i], mel_index(BAND_HZ / a))
    Z += rng.standard_normal(Z.shape).astype(np.float32) * 0.05


def adam(p: dict, g: dict, m: dict, v2: dict, it: int, lr: float, anchor: dict | None = None,
         anchor_weight: float = 0.0) -> None:
    """One Adam step with weight decay on the matrices; with `anchor`, also a pull toward those weights
    (L2-SP: fine-tuning stays near the model it started from, so classes the new data lacks are kept)."""
    for k in p:
        if k.startswith("W"):
            g[k] = g[k] + 1e-4 * p[k]
        if anchor is not None and anchor_weight > 0:
            g[k] = g[k] + anchor_weight * (p[k] - anchor[k])
        m[k] = 0.9 * m[k] + 0.1 * g[k]
        v2[k] = 0.999 * v2[k] + 0.001 * g[k] ** 2
        mh = m[k] / (1 - 0.9**it)
        vh = v2[k] / (1 - 0.999**it)
        p[k] = (p[k] - lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=cache_dir("corpus"))
    ap.add_argument("--out", default=None, help="directory for weights.json (+ fixture)")
    ap.add_argument("--save", default=cache_dir("model.npz"))
    ap.add_argument("--steps", type=int, default=16000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--human-share", type=float, default=0.35)
    ap.add_argument("--exclude-human", action="store_true")
    ap.add_argument("--no-perturb", action="store_true", help="leave out the speed-perturbed copies of real speech")
    ap.add_argument("--exclude-source", default="", help="comma-separated corpus sources to leave out (ablations)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--offsets", default="-9,-6,-3,0,3,6,9", help="context frames (symmetric)")
    ap.add_argument("--hidden", default="160,112,64")
    ap.add_argument("--fwarp", type=float, default=1.25,
                    help="frequency-scale warp: per segment, formants x a, a log-uniform in [1/A, A] (e.g. 1.4)")
    ap.add_argument("--warp", type=float, default=0.0, help="VTLP warp range, e.g. 0.12")
    ap.add_argument("--ema", type=float, default=0.0,
                    help="also keep an exponential moving average of the weights with this decay (e.g. 0.999) and "
                         "save it beside --save as NAME-ema.npz")
    ap.add_argument("--masks", type=int, default=1, help="band masks per training segment")
    ap.add_argument("--mask-width", type=int, default=3, help="widest band mask, in mel bands (of 24)")
    ap.add_argument("--cvn", action="store_true", help="streaming variance normalisation; the exported model then asks the front end for it (cmvn)")
    ap.add_argument("--export-from", default=None, help="skip training: export this saved .npz to --out")
    ap.add_argument("--fixture", default=FIXTURE, help="where export writes the numpy reference fixture")
    args = ap.parse_args()
    global OFFSETS, H1, H2, H3
    OFFSETS = np.array([int(x) for x in args.offsets.split(",")])
    H1, H2, H3 = (int(x) for x in args.hidden.split(","))
    rng = np.random.default_rng(args.seed)
    data = Data(args.data, cvn=args.cvn)
    if args.export_from:
        export(dict(np.load(args.export_from)), data, args.out, args.fixture, args.cvn)
        return
    train_splits = {"train", "other_train"} | (set() if args.exclude_human else {"human_train"})
    excluded = set(filter(None, args.exclude_source.split(",")))
    pools: dict[tuple[int, bool], list[dict]] = {}
    for c in data.clips:
        if args.no_perturb and "perturb" in c or c["source"] in excluded:
            continue
        if c["split"] in train_splits and label_of(c) >= 0 and len(data.centers(c)) >= 10:
            pools.setdefault((label_of(c), c["split"] == "human_train"), []).append(c)
    for k, v in sorted(pools.items()):
        print(LABELS[k[0]], "human" if k[1] else "synth", len(v), "clips")
    val = [c for c in data.clips if c["split"] in ("val", "other_val") and len(data.centers(c)) > 0]
    yval = np.array([label_of(c) for c in val])

    def val_acc(params: dict, max_centers: int) -> float:
        return float((predict(params, data, val, max_centers).argmax(1) == yval).mean())

    p = init(rng, data.dim)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    best, best_p = -1.0, p
    ema = {k: v.copy() for k, v in p.items()} if args.ema else None
    t0 = time.process_time()
    for it in range(1, args.steps + 1):
        ys, rows = [], []
        for _ in range(args.batch):
            y = int(rng.integers(len(LABELS)))
            human = (y, True) in pools and rng.random() < args.human_share
            src = pools.get((y, human)) or pools[(y, False)]
            c = src[int(rng.integers(len(src)))]
            ys.append(y)
            rows.append(random_crop(data.centers(c), rng))
        R, M = padded(rows)
        Z = data.stack(R)
        augment(Z, rng, args.masks, args.mask_width, args.warp, args.fwarp)
        loss, g = step(p, Z, M, np.array(ys), 0.05)
        lr = 2e-3 * 0.5 * (1 + np.cos(np.pi * it / args.steps))
        adam(p, g, m, v2, it, lr)
        if ema is not None:
            for k in p:
                # The decay ramps up to --ema, so the early average is not pulled toward the random init.
                d = min(args.ema, (1 + it) / (10 + it))
                ema[k] = (d * ema[k] + (1 - d) * p[k]).astype(np.float32)
        if it % 250 == 0 or it == args.steps:
            acc1, acc3 = val_acc(p, 50), val_acc(p, 150)
            line = f"step {it} loss {loss:.3f} val@1s {acc1:.3f} val@3s {acc3:.3f}"
            if ema is not None:
                line += f" ema val@1s {val_acc(ema, 50):.3f} val@3s {val_acc(ema, 150):.3f}"
            print(f"{line} cpu {time.process_time() - t0:.0f}s", flush=True)
            if acc3 + acc1 > best:
                best, best_p = acc3 + acc1, {k: v.copy() for k, v in p.items()}
    p = best_p
    np.savez(args.save, **p)
    print("saved", args.save)
    if ema is not None:
        ema_path = args.save.removesuffix(".npz") + "-ema.npz"
        np.savez(ema_path, **ema)
        print("saved", ema_path)
    if args.out:
        export(p, data, args.out, args.fixture, args.cvn)


def f16_b64(a: np.ndarray) -> str:
    return base64.b64encode(a.astype("<f2").tobytes()).decode()


def export(p: dict, data: Data, out: str, fixture_path: str, cvn: bool = False) -> None:
    os.makedirs(out, exist_ok=True)
    q = {k: v.astype(np.float16).astype(np.float64) for k, v in p.items()}  # what TS will compute with
    model = {
        "format": "langhook-xvector-lite/1",
        "labels": LABELS,
        "dim": data.dim,
        "offsets": OFFSETS.tolist(),
        "stride": STRIDE,
        "normalization": "cmvn" if cvn else "cmn",  # the front end src/detect must build for it
        "layers": {k: {"shape": list(v.shape), "f16": f16_b64(v)} for k, v in p.items()},
    }
    with open(os.path.join(out, "weights.json"), "w") as f:
        json.dump(model, f, separators=(",", ":"))
    # Fixture: a short fixed input sequence and the float64 numpy outputs of the float16 weights.
    rng = np.random.default_rng(123)
    T = 40
    X = np.round(rng.standard_normal((T, data.dim)) * 2, 4)
    cen = np.arange(OFFSETS[-1], T - OFFSETS[-1], STRIDE)
    Z = X[cen[:, None] + OFFSETS].reshape(len(cen), -1)
    *_, Hh2 = encode(q, Z[None])
    P, *_ = pool(Hh2, np.ones((1, len(cen))))
    logits = head(q, P)[2][0]
    fixture = {"frames": X.tolist(), "logits": logits.tolist(), "posteriors": softmax(logits).tolist()}
    with open(fixture_path, "w") as f:
        json.dump(fixture, f)
    print("exported", os.path.getsize(os.path.join(out, "weights.json")), "bytes")


if __name__ == "__main__":
    main()
