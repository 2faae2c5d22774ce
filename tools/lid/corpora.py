"""Readers for the speech corpora `lid.py train` learns from, and the speaker-disjoint split.

Every reader returns `Item`s (an audio file, its language as the corpus names it, the speaker or call it
belongs to); nothing is decoded until `load_audio`. Layouts:

- commonvoice:DIR  Mozilla Common Voice: DIR/validated.tsv (columns client_id, path, sentence, ..., locale)
                   and DIR/clips/*.mp3. DIR may also hold one such folder per locale (DIR/en, DIR/es, ...),
                   as the downloads unpack. Speaker = client_id. The language is the tsv's `locale` column,
                   or the folder's name where the tsv has none.
- voxlingua:DIR    VoxLingua107: DIR/<iso code>/*.wav. Speaker = the YouTube video id the file name starts with
                   (`<video>__U__S<n>---<start>-<end>.wav`): segments of one video are one speaker.
- fleurs:DIR       Google FLEURS: DIR/<code>/{train,dev,test}.tsv (no header; id, file name, ...) and
                   DIR/<code>/audio/{train,dev,test}/*.wav, or DIR is one such <code> folder. FLEURS names
                   no speakers, so its own train/dev/test split is kept (dev -> val); the grouping key is the
                   sentence id, so no sentence is in two of our splits either.
- calls:DIR        Your recorded calls: DIR/<BCP-47 tag>/**/*.wav (PCM 8/16/24/32-bit, float, mu-law or A-law;
                   mono, or stereo with the customer on the left channel, which is the one read). An optional
                   DIR/speakers.csv with columns `file,speaker` (file relative to DIR, e.g.
                   `es-MX/2026-01-02/call-17.wav`) names the caller or call of each file; without it every file
                   is its own call, so splits are call-disjoint but a caller who rang twice may be on both sides.

Splits (`split_of`): a SHA-1 of "<corpus>:<speaker>" picks train / val / test for the speaker as a whole, so
no speaker (call) is ever in two splits, and the same speaker lands in the same split on every machine and
every run. Only FLEURS keeps its published split.
"""

import csv
import glob
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass

import numpy as np

KINDS = ("commonvoice", "voxlingua", "fleurs", "calls")


@dataclass(frozen=True)
class Item:
    path: str
    language: str  # as the corpus names it: "es", "es-MX", "es_419"...
    speaker: str  # speaker, caller or call: the split key
    corpus: str  # one of KINDS
    split: str | None = None  # a published split (FLEURS); None: split_of decides


def parse_spec(spec: str) -> tuple[str, str]:
    """'commonvoice:/data/cv/es' -> ('commonvoice', '/data/cv/es')."""
    kind, sep, path = spec.partition(":")
    if not sep or kind not in KINDS or not path:
        raise ValueError(f"--corpus wants KIND:DIR with KIND one of {', '.join(KINDS)}; got {spec!r}")
    return kind, os.path.expanduser(path)


def read_corpus(spec: str) -> list[Item]:
    kind, path = parse_spec(spec)
    if not os.path.isdir(path):
        raise FileNotFoundError(f"{spec}: {path} is not a folder")
    items = {"commonvoice": read_commonvoice, "voxlingua": read_voxlingua, "fleurs": read_fleurs,
             "calls": read_calls}[kind](path)
    if not items:
        raise ValueError(f"{spec}: no audio found in the {kind} layout (see tools/lid/corpora.py)")
    return items


def read_commonvoice(d: str) -> list[Item]:
    tsvs = [os.path.join(d, "validated.tsv")] if os.path.isfile(os.path.join(d, "validated.tsv")) else sorted(
        glob.glob(os.path.join(d, "*", "validated.tsv")))
    out: list[Item] = []
    for tsv in tsvs:
        root = os.path.dirname(tsv)
        with open(tsv, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                clip = os.path.join(root, "clips", row["path"])
                if os.path.isfile(clip):
                    lang = row.get("locale") or os.path.basename(os.path.normpath(root))
                    out.append(Item(clip, lang, row["client_id"], "commonvoice"))
    return out


def read_voxlingua(d: str) -> list[Item]:
    out: list[Item] = []
    for lang in sorted(os.listdir(d)):
        for f in sorted(glob.glob(os.path.join(d, lang, "*.wav"))):
            stem = os.path.splitext(os.path.basename(f))[0]
            out.append(Item(f, lang, stem.split("__")[0], "voxlingua"))
    return out


FLEURS_SPLITS = {"train": "train", "dev": "val", "test": "test"}


def read_fleurs(d: str) -> list[Item]:
    langs = [d] if any(os.path.isfile(os.path.join(d, f"{s}.tsv")) for s in FLEURS_SPLITS) else sorted(
        os.path.join(d, x) for x in os.listdir(d) if os.path.isdir(os.path.join(d, x)))
    out: list[Item] = []
    for ld in langs:
        code = os.path.basename(os.path.normpath(ld))
        lang = code.replace("_", "-")  # es_419 -> es-419, cmn_hans_cn -> cmn-hans-cn
        for theirs, ours in FLEURS_SPLITS.items():
            tsv = os.path.join(ld, f"{theirs}.tsv")
            if not os.path.isfile(tsv):
                continue
            with open(tsv, newline="", encoding="utf-8") as f:
                for row in csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE):
                    if len(row) < 2:
                        continue
                    wav = os.path.join(ld, "audio", theirs, row[1])
                    if os.path.isfile(wav):
                        out.append(Item(wav, lang, f"sentence-{row[0]}", "fleurs", ours))
    return out


def read_calls(d: str) -> list[Item]:
    speakers: dict[str, str] = {}
    csv_path = os.path.join(d, "speakers.csv")
    if os.path.isfile(csv_path):
        with open(csv_path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                speakers[os.path.normpath(row["file"])] = row["speaker"]
    out: list[Item] = []
    for lang in sorted(os.listdir(d)):
        if not os.path.isdir(os.path.join(d, lang)):
            continue
        for f in sorted(glob.glob(os.path.join(d, lang, "**", "*.wav"), recursive=True)):
            rel = os.path.normpath(os.path.relpath(f, d))
            out.append(Item(f, lang, speakers.get(rel, "call:" + rel), "calls"))
    return out


def h01(s: str) -> float:
    return int(hashlib.sha1(s.encode()).hexdigest()[:12], 16) / 16**12


def split_of(item: Item, val: float = 0.1, test: float = 0.1) -> str:
    """train / val / test for the item's speaker as a whole (see the module docstring)."""
    if item.split:
        return item.split
    u = h01(f"{item.corpus}:{item.speaker}")
    return "test" if u < test else "val" if u < test + val else "train"


def primary(tag: str) -> str:
    return tag.replace("_", "-").split("-")[0].lower()


def label_for(language: str, labels: list[str]) -> str | None:
    """The model label for a corpus language: the same tag, else the same primary subtag ("es-MX" and
    Common Voice's "es" -> "es-ES", as the detector matches candidates); None when the model has no such
    language."""
    for lab in labels:
        if lab.lower() == language.replace("_", "-").lower():
            return lab
    return next((lab for lab in labels if lab != "other" and primary(lab) == primary(language)), None)


# ---- audio -----------------------------------------------------------------------------------------------


def _alaw_decode(u: np.ndarray) -> np.ndarray:
    a = u.astype(np.int32) ^ 0x55
    sign, exp, mant = a & 0x80, (a >> 4) & 7, a & 0x0F
    mag = np.where(exp == 0, (mant << 4) + 8, ((mant << 4) + 0x108) << np.maximum(exp - 1, 0))
    return np.where(sign != 0, mag, -mag).astype(np.float64)


def read_wav(path: str) -> tuple[np.ndarray, int]:
    """RIFF WAV -> (first channel as float samples on the int16 scale, rate). PCM 8/16/24/32, float 32/64,
    mu-law and A-law: Python's `wave` reads PCM only, and call recordings are often G.711."""
    from telephone import mulaw_decode

    b = open(path, "rb").read()
    if b[:4] != b"RIFF" or b[8:12] != b"WAVE":
        raise ValueError(f"{path}: not a RIFF WAVE file")
    i, fmt, data = 12, None, None
    while i + 8 <= len(b):
        cid, size = b[i : i + 4], int.from_bytes(b[i + 4 : i + 8], "little")
        body = b[i + 8 : i + 8 + size]
        if cid == b"fmt ":
            fmt = body
        elif cid == b"data":
            data = body
            break
        i += 8 + size + (size & 1)
    if fmt is None or data is None:
        raise ValueError(f"{path}: no fmt or data chunk")
    tag, ch, sr = int.from_bytes(fmt[0:2], "little"), int.from_bytes(fmt[2:4], "little"), int.from_bytes(fmt[4:8], "little")
    bits = int.from_bytes(fmt[14:16], "little")
    if tag == 0xFFFE and len(fmt) >= 26:  # WAVE_FORMAT_EXTENSIBLE: the real tag opens the sub-format GUID
        tag = int.from_bytes(fmt[24:26], "little")
    width = bits // 8
    n = len(data) // (width * ch) * width * ch
    raw = np.frombuffer(data[:n], dtype=np.uint8).reshape(-1, ch, width)[:, 0, :]  # left channel: the customer
    if tag == 7:
        x = mulaw_decode(raw[:, 0]).astype(np.float64)
    elif tag == 6:
        x = _alaw_decode(raw[:, 0])
    elif tag == 3:
        x = np.frombuffer(raw.tobytes(), dtype=f"<f{width}").astype(np.float64) * 32768
    elif tag == 1 and width == 1:
        x = (raw[:, 0].astype(np.float64) - 128) * 256
    elif tag == 1 and width in (2, 3, 4):
        padded = np.zeros((len(raw), 4), np.uint8)
        padded[:, 4 - width :] = raw
        x = padded.view("<i4")[:, 0].astype(np.float64) / 65536
    else:
        raise ValueError(f"{path}: WAV format {tag} with {bits} bits is not read (PCM, float, mu-law, A-law are)")
    return x, sr


def decoder() -> list[str] | None:
    """The first command on PATH that decodes compressed audio (mp3) to raw 16 kHz mono s16le on stdout."""
    if shutil.which("mpg123"):
        return ["mpg123", "-q", "-m", "-r", "16000", "-e", "s16", "-s"]
    if shutil.which("ffmpeg"):
        return ["ffmpeg", "-v", "error", "-f", "s16le", "-ac", "1", "-ar", "16000", "-", "-i"]
    if shutil.which("sox"):
        return ["sox", "-t", "raw", "-r", "16000", "-c", "1", "-e", "signed", "-b", "16", "-", "--"]
    return None


def load_audio(path: str) -> tuple[np.ndarray, int]:
    """Any corpus file -> (mono float samples on the int16 scale, sample rate)."""
    if path.lower().endswith(".wav"):
        return read_wav(path)
    cmd = decoder()
    if cmd is None:
        raise RuntimeError(f"{path}: decoding it needs mpg123, ffmpeg or sox "
                           "(Debian: apt-get install mpg123; tools/lid/apt-packages.txt)")
    if cmd[0] == "ffmpeg":  # ffmpeg takes its input before the output options
        args = ["ffmpeg", "-v", "error", "-i", path, "-f", "s16le", "-ac", "1", "-ar", "16000", "-"]
    elif cmd[0] == "sox":
        args = ["sox", path, *cmd[1:-2], "-"]
    else:
        args = [*cmd, path]
    r = subprocess.run(args, capture_output=True, check=True)
    return np.frombuffer(r.stdout[: len(r.stdout) // 2 * 2], dtype="<i2").astype(np.float64), 16000
