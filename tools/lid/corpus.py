#!/usr/bin/env python3
"""Generate the language-ID corpus: espeak-ng voices, real telephone prompts, held-out synthesizer.

Every clip goes through the telephone channel (8 kHz, 300-3400 Hz, level, noise, G.711 mu-law) and is
written as raw mu-law bytes under OUT/clips/, with one JSON line per clip in OUT/manifest.jsonl.
Splits are by voice AND by sentence (see README.md). Run under `nice -n 15`; single process.

usage: nice -n 15 python3 tools/lid/corpus.py [--out ~/.cache/langhook/lid/corpus] [--scale 1.0]
"""

import argparse
import gettext
import glob
import hashlib
import io
import json
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from cache import cache_dir
from telephone import mulaw_decode, mulaw_encode, telephone

TARGETS = {
    # label: (espeak voices (dialects), locale dirs for sentences)
    # "en" and "fr", not "en-gb" and "fr-fr": espeak-ng 1.51 resolves those two names through the MBROLA
    # entries and silently drops a "+variant", so every clip of them was the default voice (measured: same
    # bytes with and without +m3). "en" and "fr" are the same default voices and do take variants.
    "en-US": (["en-us", "en", "en-us-nyc", "en-gb-x-rp", "en-029"], None),
    "es-ES": (["es", "es-419"], ["es"]),
    "fr-FR": (["fr", "fr-be", "fr-ch"], ["fr"]),
    "de-DE": (["de"], ["de"]),
    "it-IT": (["it"], ["it"]),
    "pt-BR": (["pt-br", "pt"], ["pt_BR", "pt"]),
    "nl-NL": (["nl"], ["nl"]),
}
# Languages for the "other" class: teach the model what "none of the candidates" sounds like.
OTHER = ["pl", "cs", "sv", "da", "ro", "tr", "hu", "fi", "id", "ca", "el", "hr", "sk", "bg", "nb"]
# Never trained: the honest test of unknown-language rejection.
UNKNOWN = ["ru"]

SND = "/usr/share/asterisk/sounds"
ESPEAK_DATA = "/usr/lib/x86_64-linux-gnu/espeak-ng-data"


def h01(s: str) -> float:
    return int(hashlib.sha1(s.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF


def sentence_split(key: str) -> str:
    x = h01("sent:" + key)
    return "train" if x < 0.8 else ("val" if x < 0.88 else "test")


GOOD = re.compile(r"^[^\W\d_][\w\s,.;:!?'’\-()«»\"¿¡]*$", re.UNICODE)


def clean(s: str) -> str | None:
    s = s.replace("_", "").replace("&", "").replace("\n", " ").strip()
    if not GOOD.match(s) or re.search(r"\d", s):
        return None
    n = len(s.split())
    if n < 4 or n > 25 or len(s) > 170:
        return None
    return s


def catalog_pairs(mo_files: list[str]):
    """(English msgid, translation) pairs from gettext catalogs, both cleaned, where they differ."""
    for mo in mo_files:
        try:
            cat = gettext.GNUTranslations(open(mo, "rb"))._catalog  # noqa: SLF001
        except Exception:
            continue
        for k, v in cat.items():
            if not isinstance(k, str) or not isinstance(v, str) or not k:
                continue
            src, dst = clean(k), clean(v)
            if src and dst and dst != src:
                yield src, dst


def load_sentences() -> dict[str, dict[str, str]]:
    """Parallel sentences from the system's gettext catalogs: {locale: {msgid: text}}; 'en' = msgid."""
    locales = {"en"}
    for lab, (_, locs) in TARGETS.items():
        locales.update(locs or [])
    locales.update(OTHER + UNKNOWN)
    out: dict[str, dict[str, str]] = {loc: {} for loc in locales}
    for loc in locales - {"en"}:
        for src, dst in catalog_pairs(glob.glob(f"/usr/share/locale/{loc}/LC_MESSAGES/*.mo")):
            out[loc].setdefault(src, dst)
            out["en"].setdefault(src, src)
    return out


def sentences_by_label(sents: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """{label: {msgid: text}} for our languages: a label's locales merged, the first listed winning."""
    by_label: dict[str, dict[str, str]] = {lab: {} for lab in TARGETS}
    for lab, (_, locs) in TARGETS.items():
        for loc in reversed(locs or ["en"]):
            by_label[lab].update(sents[loc])
    return by_label


def sentence_pool(sents: dict[str, dict[str, str]], locs: list[str], split: str) -> list[tuple[str, str]]:
    """(key, text) of the split's sentences in the first of locs that has each, in key order."""
    items: dict[str, str] = {}
    for loc in locs:
        for k, t in sents[loc].items():
            if sentence_split(k) == split:
                items.setdefault(k, t)
    return sorted(items.items())


def variants() -> list[str]:
    # The file name after "!v/", whole: one ("Mr serious") holds a space, and its first word alone names no
    # variant, so espeak-ng would quietly speak the default voice.
    r = subprocess.run(["espeak-ng", "--voices=variant"], capture_output=True, text=True, check=True)
    return sorted(m.group(1) for line in r.stdout.splitlines()[1:] if (m := re.search(r"!v/(.+?)(?:\s{2,}.*)?$", line)))


def check_variants_apply(voices: list[str]) -> None:
    """Fail loudly if espeak-ng ignores a variant on one of our voices (as it does on fr-fr and en-gb):
    those clips would be the default, training-only voice whatever split they claim."""
    def say(v: str) -> bytes:
        return subprocess.run(["espeak-ng", "-v", v, "--stdout", "one two three"], capture_output=True).stdout
    deaf = [v for v in voices if len({say(v), say(v + "+m3"), say(v + "+zac")}) < 3]
    if deaf:
        raise RuntimeError(f"espeak-ng ignores variants on {deaf}: use a voice name that takes them")


def variant_family(v: str, data_dir: str = ESPEAK_DATA) -> str:
    """Variants that share their formant settings are one vocal tract with another pitch or source (Henrique,
    Hugo, michel, miguel, Diogo; max, RicishayMax1-3, robosoft7-8; klatt1-6, ...): the split keeps each
    family whole, or a "held-out" voice would be a training voice at another pitch. Named by its formant
    lines, or for a variant without them (a Klatt source on the default tract) by its name less digits."""
    with open(os.path.join(data_dir, "voices", "!v", v), errors="replace") as f:
        formants = [" ".join(line.split()[:3]) for line in f if line.startswith("formant")]
    return "|".join(formants) if formants else re.sub(r"\d+$", "", v)


def voice_split(v: str) -> str:
    if v == "":
        return "train"
    x = h01("voice:" + variant_family(v))
    return "train" if x < 0.65 else ("val" if x < 0.75 else "test")


def read_wav_bytes(b: bytes) -> tuple[np.ndarray, int]:
    # espeak-ng --stdout writes a header with a placeholder length: find 'data' and read to the end.
    sr = int.from_bytes(b[24:28], "little")
    i = b.find(b"data") + 8
    n = (len(b) - i) // 2
    return np.frombuffer(b[i : i + 2 * n], dtype="<i2").astype(np.float64), sr


# sox arguments for 8 kHz mono 16-bit raw PCM, the corpus's working format.
RAW8K = ["-t", "raw", "-r", "8000", "-c", "1", "-e", "signed", "-b", "16"]


def decode_file(path: str, *effects: str) -> np.ndarray:
    """Any audio file sox reads -> 8 kHz mono samples, after optional sox effects (e.g. "speed", "0.9")."""
    r = subprocess.run(["sox", path, *RAW8K, "-", *effects], capture_output=True, check=True)
    return np.frombuffer(r.stdout, dtype="<i2").astype(np.float64)


def human_sources() -> list[tuple[str, str, str, str, str, str]]:
    """Real speech: (label, file, Debian package, speaker, sentence key, split). Asterisk prompts and the
    Fish Fillets dialogue; KTuberling's spoken words come from ktuberling_sources() (a later addition)."""
    out: list[tuple[str, str, str, str, str, str]] = []
    prompt_pkgs = set()
    for pkg in ("asterisk-prompt-es-co", "asterisk-prompt-fr-armelle", "asterisk-prompt-it-menardi-wav"):
        r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
        prompt_pkgs.update(x for x in r.stdout.split() if os.path.isfile(x))
    human = [
        ("en-US", "en_US_f_Allison", "asterisk-core-sounds-en", "train"),
        ("es-ES", "es_MX_f_Allison", "asterisk-core-sounds-es", "train"),
        ("fr-FR", "fr_CA_f_June", "asterisk-core-sounds-fr", "train"),
        ("it-IT", "it_IT_f_Menardi", "asterisk-core-sounds-it", "train"),
        ("it-IT", "it_IT_m_Carlo", "asterisk-core-sounds-it", "test"),
        ("und", "ru_RU_f_IvrvoiceRU", "asterisk-core-sounds-ru", "unknown"),
        ("es-ES", "es", "asterisk-prompt-es-co", "test"),
        ("fr-FR", "fr", "asterisk-prompt-fr-armelle", "test"),
    ]
    for label, d, src, role in human:
        files = sorted(glob.glob(f"{SND}/{d}/**/*.*", recursive=True))
        if src.startswith("asterisk-core"):
            files = [f for f in files if f.endswith(".wav")]
        else:
            files = [f for f in files if f in prompt_pkgs]
        for f in files:
            name = os.path.splitext(os.path.basename(f))[0]
            if role == "train":
                split = "human_train" if sentence_split(name) != "test" else "human_seen"
            else:
                split = "human_test" if role == "test" else "human_unknown"
            out.append((label, f, src, d, name, split))
    # Dutch game dialogue (fillets-ng): the big fish ('v') trains, the small fish ('m') is held out.
    r = subprocess.run(["dpkg", "-L", "fillets-ng-data-nl"], capture_output=True, text=True)
    for f in sorted(x for x in r.stdout.split() if x.endswith(".ogg")):
        who = re.match(r"^[a-z0-9]+-([a-z]+)-", os.path.basename(f))
        if not who or who.group(1) not in ("m", "v"):
            continue
        split = "human_train" if who.group(1) == "v" else "human_test"
        out.append(("nl-NL", f, "fillets-ng-data-nl", "fish-" + who.group(1), os.path.basename(f), split))
    return out


EXTRAS = {"ktuberling", "speed", "codec", "randvoice"}
KT = "/usr/share/ktuberling/sounds"
# KTuberling's sound themes: one speaker per language saying the names of the toy's stamps (GPL-2+).
KT_TARGETS = {"en": "en-US", "de": "de-DE", "fr": "fr-FR", "es": "es-ES", "it": "it-IT", "pt": "pt-BR", "nl": "nl-NL"}
KT_UNKNOWN = {"ru"}  # never trained, like the Asterisk Russian prompts


def ktuberling_sources() -> list[tuple[str, str, str, str, str, str]]:
    """Spoken words, one speaker per language. Our languages train (a word hashed to test is human_seen);
    the other languages train the `other` class; Russian is an unknown-language test. The word's theme name
    (shared by every language) is the sentence key, so a test word is never trained in any language."""
    out: list[tuple[str, str, str, str, str, str]] = []
    for theme in sorted(glob.glob(f"{KT}/*.soundtheme")):
        code = os.path.basename(theme)[: -len(".soundtheme")]
        if "@" in code:  # script/dialect variants of sr by the same speaker
            continue
        for name, rel in re.findall(r'<sound name="([^"]+)" file="([^"]+)"', open(theme, encoding="utf-8").read()):
            f = os.path.join(KT, rel)
            # .opus (Norwegian Nynorsk only): Debian's sox cannot read it
            if not os.path.isfile(f) or not rel.startswith(code + "/") or f.endswith(".opus"):
                continue
            if code in KT_TARGETS:
                label = KT_TARGETS[code]
                split = "human_train" if sentence_split(name) != "test" else "human_seen"
            elif code in KT_UNKNOWN:
                label, split = "und", "human_unknown"
            else:
                label, split = "other", "human_train"
            out.append((label, f, "ktuberling-data", "ktuberling-" + code, name, split))
    return out


def extras(w: "Writer", stages: set[str] = EXTRAS) -> None:
    """Later additions with seeds of their own, so that `--extras-only` appends what a full run makes:
    KTuberling's speakers, and speed-perturbed copies (x0.85-0.93 or x1.07-1.15) of all real training speech
    (marked `perturb`, so training can leave them out), which share a seed (run them together);
    mobile-codec copies (`codec`), seeded apart; and clips in random voices (`randvoice`), seeded apart."""
    rng = np.random.default_rng(11)
    kt = ktuberling_sources()
    for label, f, src, voice, name, split in kt if "ktuberling" in stages else []:
        x = decode_file(f)
        if len(x) < 4000:  # under 0.5 s: a syllable, not a word
            continue
        for _ in range(2 if split == "human_train" else 1):
            w.add(telephone(x, 8000, rng, augment=split == "human_train"),
                  {"label": label, "split": split, "source": src, "voice": voice, "variant": voice,
                   "sentences": [name]})
    print("ktuberling", w.n, file=sys.stderr, flush=True)
    for label, f, src, voice, name, split in human_sources() + kt if "speed" in stages else []:
        if split != "human_train":
            continue
        factor = float(rng.uniform(0.85, 0.93) if rng.random() < 0.5 else rng.uniform(1.07, 1.15))
        # Kaldi-style speed perturbation: tempo, pitch and formants move together, a new "speaker".
        x = decode_file(f, "speed", f"{factor:.3f}")
        if len(x) < 4000:
            continue
        w.add(telephone(x, 8000, rng, augment=True),
              {"label": label, "split": split, "source": src, "voice": voice, "variant": voice,
               "sentences": [name], "perturb": f"speed {factor:.3f}"})
    print("speed-perturbed", w.n, file=sys.stderr, flush=True)
    if "codec" in stages:
        codec_copies(w, kt)
    if "randvoice" in stages:
        random_voice_clips(w)


def codec(x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Round trip through a mobile network's speech codec, as a caller on a mobile phone reaches the contact
    centre: GSM 06.10 full rate, or AMR-NB at one of its 8 rates (4.75-12.2 kbit/s)."""
    x = x.astype(np.float64)
    x = x / (np.sqrt(np.mean(x**2)) + 1e-9) * 32768 * 10 ** (-20 / 20)
    pcm = np.clip(np.round(x), -32768, 32767).astype("<i2").tobytes()
    kind = "gsm" if rng.random() < 0.4 else "amr-nb"
    opts = [] if kind == "gsm" else ["-C", str(int(rng.integers(0, 8)))]
    with tempfile.NamedTemporaryFile(suffix="." + kind) as tmp:
        subprocess.run(["sox", *RAW8K, "-", *opts, tmp.name], input=pcm, check=True, capture_output=True)
        return decode_file(tmp.name), kind if kind == "gsm" else f"amr-nb {opts[1]}"


def codec_copies(w: "Writer", kt: list[tuple[str, str, str, str, str, str]]) -> None:
    """A codec copy (marked `codec`) of every real training recording and of 30 % of the synthetic training
    clips (taken from their telephone-channel mu-law, so noise and level are already in)."""
    rng = np.random.default_rng(13)
    w.man.flush()
    base = [json.loads(line) for line in open(os.path.join(w.out, "manifest.jsonl"))]
    for label, f, src, voice, name, split in human_sources() + kt:
        if split != "human_train":
            continue
        x = decode_file(f)
        if len(x) < 4000:
            continue
        y, kind = codec(x, rng)
        w.add(telephone(y, 8000, rng, augment=True),
              {"label": label, "split": split, "source": src, "voice": voice, "variant": voice,
               "sentences": [name], "codec": kind})
    print("codec human", w.n, file=sys.stderr, flush=True)
    for c in base:
        if c["split"] not in ("train", "other_train") or "codec" in c or rng.random() >= 0.3:
            continue
        x = mulaw_decode(np.fromfile(os.path.join(w.out, c["path"]), dtype=np.uint8)).astype(np.float64)
        y, kind = codec(x, rng)
        y *= np.sqrt(np.mean(x**2) / (np.mean(y**2) + 1e-9))  # keep the clip's level augmentation
        meta = {k: v for k, v in c.items() if k not in ("id", "path", "seconds")}
        w.add(mulaw_encode(np.clip(np.round(y), -32768, 32767)), {**meta, "codec": kind})
    print("codec synthetic", w.n, file=sys.stderr, flush=True)


def random_variant(rng: random.Random, name: str) -> str:
    """An espeak-ng voice variant file drawn at random from the space the stock variants span: a global
    formant scale (x0.8-1.4; the training variants reach 1.35) with per-formant jitter, pitch 50-230 Hz,
    and sometimes a Klatt source, flutter, roughness, breath, tone shaping or echo. Training-only "voices"
    beyond the 63 stock training variants, so the model meets more vocal tracts than it can memorise."""
    scale = math.exp(rng.uniform(math.log(0.8), math.log(1.4)))
    lines = ["language variant", f"name {name}"]
    base = rng.uniform(50, 230)
    lines.append(f"pitch {int(base)} {int(base + rng.uniform(20, 150))}")
    for n in range(9):
        f = min(170, max(40, scale * 100 * rng.uniform(0.88, 1.12)))
        lines.append(f"formant {n} {int(f)} {int(rng.uniform(60, 150))} {int(rng.uniform(70, 150))}")
    if rng.random() < 0.25:
        lines.append(f"klatt {rng.randint(1, 6)}")
    if rng.random() < 0.4:
        lines.append(f"flutter {rng.randint(0, 10)}")
    if rng.random() < 0.4:
        lines.append(f"roughness {rng.randint(0, 4)}")
    if rng.random() < 0.5:
        lines.append(f"voicing {rng.randint(40, 200)}")
    if rng.random() < 0.4:
        lines.append(f"consonants {rng.randint(60, 150)} {rng.randint(20, 190)}")
    if rng.random() < 0.15:
        lines.append("breath " + " ".join(str(rng.randint(0, 10)) for _ in range(8)))
    if rng.random() < 0.3:
        pts = sorted(rng.sample(range(300, 3400, 100), 3))
        lines.append("tone " + " ".join(f"{f} {rng.randint(40, 400)}" for f in pts))
    if rng.random() < 0.15:
        lines.append(f"echo {rng.randint(10, 60)} {rng.randint(10, 40)}")
    return "\n".join(lines) + "\n"


# espeak-ng lists at most 349 voices, so the random voices are made and spoken in batches of this many.
RANDOM_VOICES = 200
RANDOM_VOICE_BATCHES = 2


def random_voice_clips(w: "Writer") -> None:
    """Training clips (source `espeak-ng-random`) spoken by RANDOM_VOICE_BATCHES x RANDOM_VOICES generated
    espeak-ng variants, in a private copy of espeak-ng-data (OUT/espeak/espeak-ng-data) so the system's voices
    stay as Debian ships them. Train-split sentences only. Per batch, as many clips per language as the stock
    variants give, `other` included: a smaller `other` share was measured to make an unfamiliar voice lean to
    our languages (docs/history.md, the ablation record of 2026-11-28, night)."""
    root = os.path.join(w.out, "espeak")
    vdir = os.path.join(root, "espeak-ng-data", "voices", "!v")
    shutil.rmtree(root, ignore_errors=True)
    src = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    data = re.search(r"Data at: (\S+)", src)
    shutil.copytree(data.group(1) if data else ESPEAK_DATA, os.path.join(root, "espeak-ng-data"))
    # Make room under the listing limit by dropping the stock variants and the MBROLA entries, which this
    # copy never speaks.
    shutil.rmtree(os.path.join(root, "espeak-ng-data", "voices", "mb"), ignore_errors=True)
    sents = load_sentences()
    jobs = [(label, voices, sentence_pool(sents, locs or ["en"], "train"), "train", 420)
            for label, (voices, locs) in TARGETS.items()]
    jobs += [("other", [loc], sentence_pool(sents, [loc], "train"), "other_train", 70) for loc in OTHER]
    failed = 0
    for batch in range(RANDOM_VOICE_BATCHES):
        prng = random.Random(17 + batch)
        rng = np.random.default_rng(17 + batch)
        shutil.rmtree(vdir, ignore_errors=True)
        os.makedirs(vdir)
        names = [f"rv{batch * RANDOM_VOICES + i:03d}" for i in range(RANDOM_VOICES)]
        for n in names:
            with open(os.path.join(vdir, n), "w") as f:
                f.write(random_variant(prng, n))
        for label, voices, p, split, n in jobs:
            for _ in range(n):
                picks = [p[prng.randrange(len(p))] for _ in range(2)]
                voice, variant = prng.choice(voices), prng.choice(names)
                got = espeak(voice, variant, ". ".join(t.rstrip(".") for _, t in picks) + ".", rng, path=root)
                if got is None:
                    failed += 1
                    continue
                x, sr = got
                w.add(telephone(x, sr, rng, augment=True),
                      {"label": label, "split": split, "source": "espeak-ng-random", "voice": f"{voice}+{variant}",
                       "variant": variant, "sentences": [k for k, _ in picks]})
            print("random voices", batch, label, w.n, file=sys.stderr, flush=True)
    if failed > 0.02 * RANDOM_VOICE_BATCHES * sum(n for *_, n in jobs):
        raise RuntimeError(f"espeak-ng failed on {failed} random-voice clips: is every variant found?")


class Writer:
    def __init__(self, out: str, append: bool = False):
        self.out = out
        os.makedirs(os.path.join(out, "clips"), exist_ok=True)
        man = os.path.join(out, "manifest.jsonl")
        self.n = sum(1 for _ in open(man)) if append else 0
        self.man = open(man, "a" if append else "w")
        self.stats: dict[str, list[float]] = {}

    def add(self, ul: np.ndarray, meta: dict) -> None:
        cid = f"{self.n:06d}"
        self.n += 1
        path = os.path.join("clips", cid + ".ul")
        ul.tofile(os.path.join(self.out, path))
        meta = {"id": cid, "path": path, "seconds": round(len(ul) / 8000, 3), **meta}
        self.man.write(json.dumps(meta, ensure_ascii=False) + "\n")


def espeak(voice: str, variant: str, text: str, rng: np.random.Generator,
           path: str | None = None) -> tuple[np.ndarray, int] | None:
    v = voice + ("+" + variant if variant else "")
    speed, pitch = int(rng.uniform(130, 200)), int(rng.uniform(20, 80))
    where = [f"--path={path}"] if path else []
    r = subprocess.run(
        ["espeak-ng", *where, "-v", v, "-s", str(speed), "-p", str(pitch), "--stdout", text], capture_output=True
    )
    if r.returncode != 0 or len(r.stdout) < 2000:
        return None
    return read_wav_bytes(r.stdout)


def festival(voice: str, text: str, tmp: str) -> tuple[np.ndarray, int] | None:
    with open(tmp + ".txt", "w", encoding="latin-1", errors="replace") as f:
        f.write(text)
    r = subprocess.run(
        ["text2wave", "-eval", f"(voice_{voice})", tmp + ".txt", "-o", tmp + ".wav"], capture_output=True
    )
    if r.returncode != 0:
        return None
    x = decode_file(tmp + ".wav")
    return (x, 8000) if len(x) >= 4000 else None  # text2wave writes an empty file for text it cannot say


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=cache_dir("corpus"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--extras-only", default=None, metavar="STAGES",
                    help="append only these extras() stages (comma-separated: ktuberling,speed,codec,randvoice) to a corpus")
    args = ap.parse_args()
    if args.extras_only:
        w = Writer(args.out, append=True)
        extras(w, set(args.extras_only.split(",")))
        w.man.close()
        return
    rng = np.random.default_rng(7)
    prng = random.Random(7)
    w = Writer(args.out)
    sents = load_sentences()
    # The text of every sentence by label, for the scripted transcript evaluation (tools/lid/eval.ts).
    by_label = sentences_by_label(sents)
    with open(os.path.join(args.out, "sentences.json"), "w") as f:
        json.dump(by_label, f, ensure_ascii=False)
    print({k: len(v) for k, v in sents.items()}, file=sys.stderr)
    check_variants_apply([v for voices, _ in TARGETS.values() for v in voices] + OTHER + UNKNOWN)
    vars_all = variants()
    by_split = {s: [v for v in [""] + vars_all if voice_split(v) == s] for s in ("train", "val", "test")}
    print({k: len(v) for k, v in by_split.items()}, "test voices:", by_split["test"], file=sys.stderr)

    counts = {"train": 420, "val": 40, "test": 100}
    nsent = {"train": 2, "val": 3, "test": 3}

    def synth_clips(label: str, voices: list[str], locs: list[str], split: str, n: int, kind: str) -> None:
        p = sentence_pool(sents, locs, split)
        if not p:
            return
        for _ in range(int(n * args.scale)):
            picks = [p[prng.randrange(len(p))] for _ in range(nsent[split] if kind != "other" else 2)]
            text = ". ".join(t.rstrip(".") for _, t in picks) + "."
            voice, variant = prng.choice(voices), prng.choice(by_split[split])
            got = espeak(voice, variant, text, rng)
            if got is None:
                continue
            x, sr = got
            meta = {
                "label": label,
                "split": f"{kind}_{split}" if kind != "target" else split,
                "source": "espeak-ng",
                "voice": f"{voice}+{variant}" if variant else voice,
                "variant": variant or "default",
                "sentences": [k for k, _ in picks],
            }
            w.add(telephone(x, sr, rng, augment=split == "train" or prng.random() < 0.5), meta)

    for split in ("train", "val", "test"):
        for label, (voices, locs) in TARGETS.items():
            synth_clips(label, voices, locs or ["en"], split, counts[split], "target")
            print(split, label, w.n, file=sys.stderr, flush=True)
        per_other = {"train": 70, "val": 6, "test": 10}[split]
        for loc in OTHER:
            synth_clips("other", [loc], [loc], split, per_other, "other")
        for loc in UNKNOWN:
            synth_clips("und", [loc], [loc], split, {"train": 0, "val": 0, "test": 100}[split], "unknown")

    # Held-out synthesizer (Festival): never in training.
    tmp = os.path.join(args.out, "tmp_fest")
    for label, voices, loc in (("en-US", ["kal_diphone", "cmu_us_slt_arctic_hts"], "en"),
                               ("it-IT", ["lp_diphone", "pc_diphone"], "it")):
        p = sentence_pool(sents, [loc], "test")
        for i in range(int(60 * args.scale)):
            picks = [p[prng.randrange(len(p))] for _ in range(3)]
            voice = voices[i % len(voices)]
            got = festival(voice, ". ".join(t.rstrip(".") for _, t in picks) + ".", tmp)
            if got is None:
                continue
            x, sr = got
            w.add(telephone(x, sr, rng, augment=False),
                  {"label": label, "split": "heldout_synth", "source": "festival", "voice": voice,
                   "variant": voice, "sentences": [k for k, _ in picks]})
        print("festival", label, w.n, file=sys.stderr, flush=True)

    for label, f, src, voice, name, split in human_sources():
        x = decode_file(f)
        if len(x) < 8000:  # prompts under 1 s are digits and letters: too short to judge
            continue
        reps = 2 if split == "human_train" else 1
        for _ in range(reps):
            w.add(telephone(x, 8000, rng, augment=split == "human_train"),
                  {"label": label, "split": split, "source": src, "voice": voice, "variant": voice,
                   "sentences": [name]})
    print("human", w.n, file=sys.stderr, flush=True)
    extras(w)
    w.man.close()


if __name__ == "__main__":
    main()
