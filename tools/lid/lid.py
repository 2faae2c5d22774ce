#!/usr/bin/env python3
"""`npm run lid:train`: train (or fine-tune the shipped) acoustic language model on public corpora and on
your own calls, export it in the format src/detect loads, evaluate it on the product's code path against the
shipped model, and write the report.

usage: npm run lid:train -- --corpus commonvoice:DIR [--corpus calls:DIR ...] [--test-corpus calls:DIR]
           [--languages en-US,es-ES,...] [--unknown ru] [--from-shipped] [--steps N] [--out MODEL_DIR]

Stages (each prints progress on stderr): 1 prepare (read, split by speaker, telephone conditioning, write
8 kHz mu-law clips), 2 features (tools/lid/extract.ts: the product's own front end), 3 train (numpy),
4 export (weights.json + parity fixture), 5 evaluate (tools/lid/evaluate.ts, new and shipped model),
6 report (MODEL_DIR/report.md, report.json). Then `npm run lid:install -- MODEL_DIR`.

Dependencies: tools/lid/requirements.lock pins the Python packages. Before importing them this script
compares the installed versions with the lock; on a mismatch it builds a virtual environment under the
cache directory and installs the lock there with pip (needs a package index), then re-runs itself in it.
Debian packages: tools/lid/apt-packages.txt (mpg123 decodes Common Voice's mp3).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
LOCK = os.path.join(HERE, "requirements.lock")
sys.path.insert(0, HERE)

from cache import cache_dir  # noqa: E402  (stdlib only: safe before the lock check)


def locked() -> dict[str, str]:
    out = {}
    for line in open(LOCK):
        line = line.split("#")[0].strip()
        if "==" in line:
            name, ver = line.split("==", 1)
            out[name.strip().lower()] = ver.split(";")[0].split()[0].strip()
    return out


def lock_mismatches() -> list[str]:
    from importlib import metadata

    bad = []
    for name, ver in locked().items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            have = None
        if have != ver:
            bad.append(f"{name} {have or 'missing'} (lock: {ver})")
    return bad


def ensure_environment() -> None:
    """Run under exactly the locked Python packages: this interpreter's if they match, else a cached venv."""
    if os.environ.get("LANGHOOK_LID_SKIP_LOCK") == "1":
        return
    bad = lock_mismatches()
    if not bad:
        return
    import hashlib
    import subprocess
    import venv

    tag = hashlib.sha1(open(LOCK, "rb").read()).hexdigest()[:10]
    env = cache_dir(f"venv-{tag}")
    py = os.path.join(env, "bin", "python")
    if os.path.realpath(sys.prefix) == os.path.realpath(env):
        sys.exit(f"lid: the environment {env} does not match {LOCK}: {', '.join(bad)}")
    if not os.path.exists(py):
        print(f"lid: installed packages differ from the lock ({', '.join(bad)}); installing the lock into {env}",
              file=sys.stderr)
        venv.create(env, with_pip=True)
        r = subprocess.run([py, "-m", "pip", "install", "--disable-pip-version-check", "-r", LOCK])
        if r.returncode != 0:
            import shutil

            shutil.rmtree(env, ignore_errors=True)
            sys.exit("lid: pip could not install tools/lid/requirements.lock (no package index reachable?). Install "
                     "those exact versions into this Python, or set LANGHOOK_LID_SKIP_LOCK=1 to run with what is "
                     "installed (the report then records the versions used).")
    os.execv(py, [py, os.path.abspath(__file__), *sys.argv[1:]])


if __name__ == "__main__":
    ensure_environment()

import argparse  # noqa: E402
import base64  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import corpora  # noqa: E402
import train as T  # noqa: E402
from telephone import mulaw_encode, telephone  # noqa: E402

SHIPPED = os.path.join(ROOT, "src", "detect", "model", "weights.json")
FEW_SPEAKERS = 10  # per language, below which train() warns


def cpu() -> float:
    """CPU seconds of this process and of the children it waited for (the TypeScript stages, decoders)."""
    import resource

    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


class Progress:
    """One status line on stderr: rewritten in place on a terminal, every 10 % otherwise (logs, CI)."""

    def __init__(self, what: str, total: int):
        self.what, self.total, self.t0, self.last = what, max(1, total), time.time(), -1
        self.tty = sys.stderr.isatty()

    def update(self, done: int, extra: str = "") -> None:
        pct = int(100 * done / self.total)
        if not self.tty and pct // 10 == self.last // 10 and done < self.total:
            return
        self.last = pct
        el = time.time() - self.t0
        eta = el / done * (self.total - done) if done else 0
        line = f"{self.what}: {done}/{self.total} ({pct} %) {el:.0f} s, ~{eta:.0f} s left {extra}"
        print(("\r" + line + "\033[K") if self.tty else line, end="" if self.tty else "\n", file=sys.stderr,
              flush=True)

    def done(self) -> None:
        if self.tty:
            print(file=sys.stderr)


# ---- stage 1: prepare ------------------------------------------------------------------------------------


def select(items: list[corpora.Item], labels: list[str], unknown: set[str], test_only: bool, val: float,
           test: float, max_per_speaker: int, max_per_language: int) -> list[tuple[corpora.Item, str, str]]:
    """(item, label, split) for the items a run uses. label: a model label, 'other', or 'und' (a language held
    out as never trained: evaluation only). Caps keep a few talkative speakers from filling a language."""
    chosen: list[tuple[corpora.Item, str, str]] = []
    per_speaker: dict[tuple[str, str], int] = {}
    per_lang: dict[tuple[str, str], int] = {}
    # Deterministic but not alphabetical: a cap keeps a hash-ordered sample, not the first speakers by name.
    for it in sorted(items, key=lambda x: corpora.h01(x.path)):
        lab = corpora.label_for(it.language, labels)
        if corpora.primary(it.language) in unknown:
            lab, split = "und", "unknown"
        else:
            if lab is None:
                if "other" not in labels:
                    continue
                lab = "other"
            split = "test" if test_only else corpora.split_of(it, val, test)
        k = (it.corpus + ":" + it.speaker, split)
        if per_speaker.get(k, 0) >= max_per_speaker:
            continue
        kl = (lab, split)
        if per_lang.get(kl, 0) >= max_per_language:
            continue
        per_speaker[k] = per_speaker.get(k, 0) + 1
        per_lang[kl] = per_lang.get(kl, 0) + 1
        chosen.append((it, lab, split))
    return chosen


def condition(x: np.ndarray, sr: int, rng: np.random.Generator, augment: bool, corpus: str) -> np.ndarray:
    """Samples -> 8 kHz mu-law bytes. Training audio always goes through the telephone channel with random
    band, level and noise (telephone.py). Evaluation audio of calls that are already 8 kHz is only mu-law
    coded (lossless for G.711 recordings): it is what Genesys sends; wideband evaluation audio takes the fixed
    telephone channel (300-3400 Hz, -20 dBFS)."""
    if not augment and corpus == "calls" and sr == 8000:
        return mulaw_encode(np.clip(np.round(x), -32768, 32767))
    return telephone(x, sr, rng, augment=augment)


def prepare(selected: list[tuple[corpora.Item, str, str]], work: str, copies: int, seed: int) -> dict:
    os.makedirs(os.path.join(work, "clips"), exist_ok=True)
    rng = np.random.default_rng(seed)
    prog = Progress("prepare", len(selected))
    n, secs_in, failed = 0, 0.0, []
    with open(os.path.join(work, "manifest.jsonl"), "w") as man:
        for i, (it, lab, split) in enumerate(selected):
            try:
                x, sr = corpora.load_audio(it.path)
            except Exception as e:  # one unreadable file must not sink an hour's run: count and report it
                failed.append(f"{it.path}: {e}")
                continue
            if len(x) < 0.3 * sr:  # empty or a click: nothing to learn or test a language on
                failed.append(f"{it.path}: shorter than 0.3 s")
                continue
            secs_in += len(x) / sr
            for _ in range(copies if split == "train" else 1):
                ul = condition(x, sr, rng, augment=split == "train", corpus=it.corpus)
                cid = f"{n:07d}"
                path = os.path.join("clips", cid + ".ul")
                ul.tofile(os.path.join(work, path))
                man.write(json.dumps({"id": cid, "path": path, "seconds": round(len(ul) / 8000, 3), "label": lab,
                                      "language": it.language, "split": split, "source": it.corpus,
                                      "voice": f"{it.corpus}:{it.speaker}", "variant": f"{it.corpus}:{it.speaker}",
                                      "file": it.path}, ensure_ascii=False) + "\n")
                n += 1
            prog.update(i + 1, f"{secs_in / 3600:.2f} h read")
    prog.done()
    if failed:
        print(f"prepare: {len(failed)} files skipped (unreadable or < 0.3 s), first: {failed[0]}", file=sys.stderr)
    return {"clips": n, "source_hours": secs_in / 3600, "unreadable": len(failed), "unreadable_first": failed[:5]}


# ---- stage 3: train --------------------------------------------------------------------------------------


def load_weights_json(path: str) -> tuple[dict, dict[str, np.ndarray]]:
    model = json.load(open(path))
    p = {k: np.frombuffer(base64.b64decode(v["f16"]), dtype="<f2").astype(np.float32).reshape(v["shape"])
         for k, v in model["layers"].items()}
    return model, p


def configure(labels: list[str], offsets: list[int], hidden: tuple[int, int, int]) -> None:
    """train.py keeps the architecture in module globals (its CLI sets them the same way)."""
    T.LABELS = labels
    T.OFFSETS = np.array(offsets)
    T.H1, T.H2, T.H3 = hidden


def initial_params(args: argparse.Namespace, labels: list[str], dim: int, rng: np.random.Generator) -> tuple[dict, dict | None]:
    if not args.from_shipped:
        configure(labels, [int(x) for x in "-9,-6,-3,0,3,6,9".split(",")], (160, 112, 64))
        return T.init(rng, dim), None
    model, p = load_weights_json(args.shipped)
    configure(labels, model["offsets"], (p["W1"].shape[1], p["W2"].shape[1], p["W3"].shape[1]))
    if model["dim"] != dim or model.get("normalization", "cmn") != "cmn":
        sys.exit(f"lid: {args.shipped} was trained on other features (dim {model['dim']}, "
                 f"{model.get('normalization')}); train without --from-shipped")
    # The output layer follows the requested labels: a shipped label keeps its column, a new one starts small.
    fresh = T.init(rng, dim)
    W4, b4 = fresh["W4"] * 0.1, np.zeros(len(labels), np.float32)
    for j, lab in enumerate(labels):
        if lab in model["labels"]:
            W4[:, j] = p["W4"][:, model["labels"].index(lab)]
            b4[j] = p["b4"][model["labels"].index(lab)]
    p["W4"], p["b4"] = W4.astype(np.float32), b4
    return p, {k: v.copy() for k, v in p.items()}


def train(args: argparse.Namespace, data: "T.Data", labels: list[str]) -> tuple[dict, list[dict]]:
    rng = np.random.default_rng(args.seed)
    p, anchor = initial_params(args, labels, data.dim, rng)
    # Training pools by label, then by speaker: a batch draws a label uniformly among those with data, then a
    # speaker, then a clip, so a language's most talkative speakers do not become the language.
    pools: dict[int, dict[str, list[dict]]] = {}
    for c in data.clips:
        if c["split"] == "train" and c["label"] in labels and len(data.centers(c)) >= 10:
            pools.setdefault(labels.index(c["label"]), {}).setdefault(c["voice"], []).append(c)
    if not pools:
        sys.exit("lid: no training clip has enough speech (10 encoder steps); check --corpus and --languages")
    missing = [lab for j, lab in enumerate(labels) if j not in pools]
    if missing:
        print(f"train: no training data for {', '.join(missing)}"
              + (" (kept from the shipped model by the pull toward it)" if anchor else ""), file=sys.stderr)
    few = [f"{labels[y]} ({len(pools[y])})" for y in sorted(pools) if len(pools[y]) < FEW_SPEAKERS]
    if few:
        # What every run on this project's few real speakers showed: a model learns speakers, not languages.
        print(f"train: under {FEW_SPEAKERS} training speakers for {', '.join(few)}: expect it to learn those "
              "speakers more than their language (tools/lid/README.md, 'What to expect')", file=sys.stderr)
    ys_avail = sorted(pools)
    by_speaker = {y: list(pools[y].values()) for y in ys_avail}  # indexable: a corpus may have thousands
    val = [c for c in data.clips if c["split"] == "val" and c["label"] in labels and len(data.centers(c)) > 0]
    yval = np.array([labels.index(c["label"]) for c in val])
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v2 = {k: np.zeros_like(v) for k, v in p.items()}
    lr0 = args.lr if args.lr else (5e-4 if anchor else 2e-3)
    best, best_p, log = -1.0, {k: v.copy() for k, v in p.items()}, []
    prog = Progress("train", args.steps)
    t0 = time.process_time()
    every = max(1, min(250, args.steps // 10))
    for it in range(1, args.steps + 1):
        ys, rows = [], []
        for _ in range(args.batch):
            y = ys_avail[int(rng.integers(len(ys_avail)))]
            clips = by_speaker[y][int(rng.integers(len(by_speaker[y])))]
            c = clips[int(rng.integers(len(clips)))]
            ys.append(y)
            rows.append(T.random_crop(data.centers(c), rng))
        R, M = T.padded(rows)
        Z = data.stack(R)
        T.augment(Z, rng, 1, 3, 0.0, 1.25)
        loss, g = T.step(p, Z, M, np.array(ys), 0.05)
        lr = lr0 * 0.5 * (1 + np.cos(np.pi * it / args.steps))
        T.adam(p, g, m, v2, it, lr, anchor, args.anchor)
        if it % every == 0 or it == args.steps:
            acc = {h: float((T.predict(p, data, val, 50 * h).argmax(1) == yval).mean()) if len(val) else None
                   for h in (1, 3)}
            log.append({"step": it, "loss": round(loss, 4), "val_1s": acc[1], "val_3s": acc[3],
                        "cpu_s": round(time.process_time() - t0, 1)})
            score = (acc[1] or 0) + (acc[3] or 0) if len(val) else it  # no val speakers: keep the last
            if score > best:
                best, best_p = score, {k: v.copy() for k, v in p.items()}
            v3 = f"val@3s {acc[3]:.3f}" if acc[3] is not None else "no val speakers"
            prog.update(it, f"loss {loss:.3f} {v3}")
    prog.done()
    return best_p, log


# ---- stages 2, 5: the TypeScript tools -------------------------------------------------------------------


def tsx(*args: str) -> None:
    exe = os.path.join(ROOT, "node_modules", ".bin", "tsx")
    r = subprocess.run([exe if os.path.exists(exe) else "npx", *([] if os.path.exists(exe) else ["tsx"]), *args],
                       cwd=ROOT)
    if r.returncode != 0:
        sys.exit(f"lid: tsx {' '.join(args)} failed ({r.returncode})")


# ---- stage 6: report -------------------------------------------------------------------------------------


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f} %"


def speaker_mean(r: dict) -> float | None:
    """Accuracy at 3 s averaged over test speakers (unknown-language ones aside): the trial-weighted figure
    is led by whoever has the most audio."""
    acc = [v["accuracy"] for v in r["perSpeaker3s"].values() if v["label"] != "und"]
    return sum(acc) / len(acc) if acc else None


def report(out: str, meta: dict, new: dict, shipped: dict | None) -> str:
    L = [f"# Language-ID training run {meta['started']}", "",
         f"Command: `{meta['command']}`", "",
         f"Corpora: {', '.join(meta['corpora'])}; test-only: {', '.join(meta['test_corpora']) or 'none'}; "
         f"labels: {', '.join(meta['labels'])}; never-trained (refusal test): {', '.join(meta['unknown']) or 'none'}; "
         f"{'fine-tuned from the shipped model' if meta['from_shipped'] else 'trained from scratch'}, "
         f"{meta['steps']} steps, seed {meta['seed']}.", "",
         "Splits are speaker- (call-) disjoint: a SHA-1 of each speaker id picks its split (FLEURS keeps its own).", "",
         "| split | label | speakers | clips | minutes |", "| --- | --- | --- | --- | --- |"]
    for row in meta["data"]:
        L.append(f"| {row['split']} | {row['label']} | {row['speakers']} | {row['clips']} | {row['minutes']:.1f} |")
    L += ["", "## Accuracy after N s of speech (argmax; an unknown language is right when answered `other`)", "",
          "| model | language | trials | 1 s | 2 s | 3 s | 5 s |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in (("new", new), ("shipped", shipped)):
        if not r:
            continue
        for lang, acc in r["accuracy"].items():
            cells = [pct(acc["at"].get(str(h))) for h in (1, 2, 3, 5)]
            L.append(f"| {name} | {lang} | {acc['trials']} | " + " | ".join(cells) + " |")
    L += ["", "## Per speaker at 3 s", "", "| speaker | label | new | shipped |", "| --- | --- | --- | --- |"]
    for spk, v in new["perSpeaker3s"].items():
        old = shipped["perSpeaker3s"].get(spk, {}).get("accuracy") if shipped else None
        L.append(f"| {spk} | {v['label']} | {pct(v['accuracy'])} | {pct(old)} |")
    L += ["", "Mean over the test speakers of the model's languages (each speaker counts once, however long): "
          f"new {pct(speaker_mean(new))}, shipped {pct(speaker_mean(shipped) if shipped else None)}."]
    L += ["", "## Full detector (VAD, hysteresis, commit at 0.9): time to the first confident tag", "",
          "| model | language | trials | committed | right when committed | median speech s | median audio s | tagged as one of ours (unknown) |",
          "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, r in (("new", new), ("shipped", shipped)):
        if not r:
            continue
        for lang, d in r["detector"].items():
            fa = pct(d["taggedOurs"]) if lang == "und" else ""
            L.append(f"| {name} | {lang} | {d['trials']} | {pct(d['committed'])} | {pct(d['rightWhenCommitted'])} | "
                     f"{d['medianSpeechSeconds'] if d['medianSpeechSeconds'] is not None else '-'} | "
                     f"{d['medianAudioSeconds'] if d['medianAudioSeconds'] is not None else '-'} | {fa} |")
    L += ["", "## Confusion at 3 s (new model; rows: truth, columns: answer)", ""]
    cols = meta["labels"]
    L += ["| truth | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for truth, row in new["confusion3s"].items():
        L.append(f"| {truth} | " + " | ".join(str(row.get(c, 0)) for c in cols) + " |")
    t = meta["timing"]
    L += ["", "## Cost", "",
          f"Source audio read: {meta['prepare']['source_hours']:.2f} h ({meta['prepare']['unreadable']} files skipped: unreadable or under 0.3 s). "
          f"CPU seconds: prepare {t['prepare']:.0f}, features {t['features']:.0f}, train {t['train']:.0f}, "
          f"evaluate {t['evaluate']:.0f} (CPU of this process and its children; machine: {meta['machine']}).", ""]
    text = "\n".join(L) + "\n"
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write(text)
    return text


def data_table(work: str) -> list[dict]:
    rows: dict[tuple[str, str], dict] = {}
    for line in open(os.path.join(work, "manifest.jsonl")):
        c = json.loads(line)
        r = rows.setdefault((c["split"], c["label"]), {"split": c["split"], "label": c["label"], "speakers": set(),
                                                        "clips": 0, "minutes": 0.0})
        r["speakers"].add(c["voice"])
        r["clips"] += 1
        r["minutes"] += c["seconds"] / 60
    order = {"train": 0, "val": 1, "test": 2, "unknown": 3}
    return [{**r, "speakers": len(r["speakers"])} for _, r in sorted(rows.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1]))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", action="append", default=[], help="KIND:DIR (commonvoice, voxlingua, fleurs, calls); repeatable")
    ap.add_argument("--test-corpus", action="append", default=[], help="KIND:DIR used whole as held-out test speakers")
    ap.add_argument("--languages", default=None, help="model labels, comma-separated (default: the shipped model's)")
    ap.add_argument("--unknown", default="", help="languages (primary subtags) kept out of training: the refusal test")
    ap.add_argument("--from-shipped", action="store_true", help="fine-tune the shipped model instead of starting afresh")
    ap.add_argument("--shipped", default=SHIPPED, help=argparse.SUPPRESS)
    ap.add_argument("--steps", type=int, default=None, help="default 3000 fine-tuning, 16000 from scratch")
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=None, help="peak learning rate (default 5e-4 fine-tuning, 2e-3 afresh)")
    ap.add_argument("--anchor", type=float, default=0.01, help="fine-tuning: pull toward the shipped weights (L2-SP)")
    ap.add_argument("--copies", type=int, default=2, help="telephone-conditioned copies of each training file")
    ap.add_argument("--val", type=float, default=0.1, help="share of speakers for validation")
    ap.add_argument("--test", type=float, default=0.1, help="share of speakers for test")
    ap.add_argument("--max-per-speaker", type=int, default=50)
    ap.add_argument("--max-per-language", type=int, default=3000, help="files per language and split")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default=None, help="clips and features (default: the cache dir, per run)")
    ap.add_argument("--out", default=None, help="model directory (default: WORK/model)")
    ap.add_argument("--no-shipped-eval", action="store_true", help="skip evaluating the shipped model for comparison")
    args = ap.parse_args()
    if not args.corpus:
        ap.error("at least one --corpus KIND:DIR")
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    shipped_labels = json.load(open(args.shipped))["labels"]
    labels = ([x.strip() for x in args.languages.split(",") if x.strip()] if args.languages
              else [lab for lab in shipped_labels if lab != "other"])
    labels = [lab for lab in labels if lab != "other"] + ["other"]
    unknown = {corpora.primary(x) for x in args.unknown.split(",") if x.strip()}
    if args.steps is None:
        args.steps = 3000 if args.from_shipped else 16000
    work = args.work or cache_dir("runs", started.replace(":", ""))
    out = args.out or os.path.join(work, "model")
    os.makedirs(out, exist_ok=True)
    timing: dict[str, float] = {}

    print(f"[1/6] prepare -> {work}", file=sys.stderr)
    t = cpu()
    selected = []
    for spec in args.corpus + args.test_corpus:
        items = corpora.read_corpus(spec)
        sel = select(items, labels, unknown, spec in args.test_corpus, args.val, args.test, args.max_per_speaker,
                     args.max_per_language)
        print(f"  {spec}: {len(items)} files, {len({i.speaker for i in items})} speakers; {len(sel)} used",
              file=sys.stderr)
        selected += sel
    prep = prepare(selected, work, args.copies, args.seed)
    timing["prepare"] = cpu() - t

    print("[2/6] features (tools/lid/extract.ts)", file=sys.stderr)
    t = cpu()
    tsx("tools/lid/extract.ts", work)
    timing["features"] = cpu() - t

    print(f"[3/6] train ({args.steps} steps)", file=sys.stderr)
    t = cpu()
    data = T.Data(work)
    p, log = train(args, data, labels)
    np.savez(os.path.join(out, "model.npz"), **p)
    timing["train"] = cpu() - t

    print(f"[4/6] export -> {out}", file=sys.stderr)
    T.export(p, data, out, os.path.join(out, "fixture.json"))

    print("[5/6] evaluate (tools/lid/evaluate.ts: the product's detector)", file=sys.stderr)
    t = cpu()
    tsx("tools/lid/evaluate.ts", "--corpus", work, "--model", os.path.join(out, "weights.json"),
        "--out", os.path.join(out, "eval-new.json"))
    shipped = None
    if not args.no_shipped_eval:
        tsx("tools/lid/evaluate.ts", "--corpus", work, "--model", args.shipped, "--out", os.path.join(out, "eval-shipped.json"))
        shipped = json.load(open(os.path.join(out, "eval-shipped.json")))
    timing["evaluate"] = cpu() - t
    new = json.load(open(os.path.join(out, "eval-new.json")))

    print("[6/6] report", file=sys.stderr)
    from importlib import metadata

    meta = {"started": started, "command": "npm run lid:train -- " + " ".join(sys.argv[1:]), "corpora": args.corpus,
            "test_corpora": args.test_corpus, "labels": labels, "unknown": sorted(unknown),
            "from_shipped": args.from_shipped, "steps": args.steps, "seed": args.seed, "data": data_table(work),
            "prepare": prep, "timing": timing, "train_log": log,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
            "packages": {n: metadata.version(n) for n in locked() if n in ("numpy", "scipy")}}
    json.dump({"meta": meta, "new": new, "shipped": shipped}, open(os.path.join(out, "report.json"), "w"), indent=1)
    text = report(out, meta, new, shipped)
    print(text)
    print(f"model: {out}\ninstall it with: npm run lid:install -- {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
