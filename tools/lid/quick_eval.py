#!/usr/bin/env python3
"""Fast numpy comparison of saved models (train.py --save), for ablations: seconds, not the minutes of eval.ts.

Not the product's figures: it pools the first 3 s of VAD speech in numpy, without the streaming detector or
its hysteresis (tools/lid/eval.ts is the release evaluation). Real speech is chained per speaker to 3 s of
speech, as eval.ts chains prompts.

usage: OPENBLAS_NUM_THREADS=1 python3 tools/lid/quick_eval.py [--data DIR] [--variants] MODEL.npz [...]
"""

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import train as T  # noqa: E402
from cache import cache_dir  # noqa: E402

STEPS_3S = 150  # encoder steps (2 speech frames each) in 3 s of speech


def chains(data: "T.Data", split: str) -> list[tuple[str, str, np.ndarray]]:
    by: dict[str, list[dict]] = {}
    for c in data.clips:
        if c["split"] == split and "perturb" not in c and "codec" not in c:
            by.setdefault(c["voice"], []).append(c)
    out = []
    for voice, cs in by.items():
        rows: list[int] = []
        for c in cs:
            rows.extend(data.centers(c).tolist())
            if len(rows) >= STEPS_3S:
                out.append((c["label"], voice, np.array(rows[:STEPS_3S])))
                rows = []
    return out


def singles(data: "T.Data", split: str, key: str) -> list[tuple[str, str, np.ndarray]]:
    return [(c["label"], c[key], data.centers(c)[:STEPS_3S]) for c in data.clips
            if c["split"] == split and len(data.centers(c))]


def accuracy(p: dict, data: "T.Data", items: list[tuple[str, str, np.ndarray]]) -> dict[str, list[bool]]:
    """Right/wrong per trial, grouped by the item's second field (voice or variant)."""
    res: dict[str, list[bool]] = {}
    for s in range(0, len(items), 64):
        ch = items[s : s + 64]
        L = max(len(r) for _, _, r in ch)
        R = np.zeros((len(ch), L), np.int64)
        M = np.zeros((len(ch), L), np.float32)
        for i, (_, _, r) in enumerate(ch):
            R[i, : len(r)] = r
            M[i, : len(r)] = 1
        *_, H = T.encode(p, data.stack(R))
        P, *_ = T.pool(H, M)
        pred = T.softmax(T.head(p, P)[2]).argmax(1)
        for (label, group, _), k in zip(ch, pred):
            want = label if label in T.LABELS else "other"  # an unknown language is right when refused
            res.setdefault(group, []).append(T.LABELS[k] == want)
    return res


def pct(x: list[bool]) -> str:
    return f"{100 * np.mean(x):.1f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=cache_dir("corpus"))
    ap.add_argument("--variants", action="store_true", help="also print test accuracy per espeak-ng variant")
    ap.add_argument("--cvn", action="store_true", help="models trained with train.py --cvn")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    data = T.Data(args.data, cvn=args.cvn)
    print("| model | held-out espeak-ng voices | held-out synthesizer | held-out humans (per speaker) "
          "| seen humans | unknown language refused (per speaker) |")
    print("|---|---|---|---|---|---|")
    for path in args.models:
        p = dict(np.load(path))
        cells = [os.path.basename(path)]
        for split in ("test", "heldout_synth"):
            r = accuracy(p, data, singles(data, split, "variant"))
            cells.append(pct([x for v in r.values() for x in v]))
        for split in ("human_test", "human_seen", "human_unknown"):
            r = accuracy(p, data, chains(data, split))
            per = ", ".join(f"{v} {pct(x)}" for v, x in sorted(r.items()))
            cells.append(f"{pct([x for v in r.values() for x in v])} ({per})" if split != "human_seen"
                         else pct([x for v in r.values() for x in v]))
        print("| " + " | ".join(cells) + " |", flush=True)
        if args.variants:
            r = accuracy(p, data, singles(data, "test", "variant"))
            print("  per variant, worst first: " + ", ".join(
                f"{v} {pct(x)}" for v, x in sorted(r.items(), key=lambda kv: np.mean(kv[1]))))


if __name__ == "__main__":
    main()
