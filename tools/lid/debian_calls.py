#!/usr/bin/env python3
"""Lay out the human speech Debian packages carry as two `calls:` corpora, for a small-scale measurement of
what `lid:train` does with a user's own recordings (tools/lid/README.md, "Measured here"):

  OUT/train  the speakers the shipped model also trained on: Asterisk core prompts (Allison en-US and es-MX,
             June fr-CA, Menardi it-IT) and the big fish of Fish Fillets NG (nl-NL)
  OUT/test   speakers no model here has heard: Asterisk es-CO, fr Armelle, Carlo it-IT, the small fish
             (nl-NL), and the Russian core prompts (ru: a language the model has no label for)
  OUT/ktuberling  (--ktuberling) KTuberling's spoken words, one speaker per language: en, de, fr, es, it, pt,
             nl, and 13 languages the model has no label for (they train `other`); also in the shipped model

The same speaker roles as corpus.py, so the held-out figure is comparable with eval-release.md's. Files are
converted to 8 kHz 16-bit WAV with sox (the packages ship WAV, GSM and Ogg); speakers.csv names each file's
speaker. Needs the packages in tools/lid/apt-packages.txt.

usage: python3 tools/lid/debian_calls.py [--out ~/.cache/langhook/lid/debian-calls] [--ktuberling]
"""

import argparse
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cache import cache_dir  # noqa: E402

SND = "/usr/share/asterisk/sounds"
KT = "/usr/share/ktuberling/sounds"


def package_files(pkg: str) -> list[str]:
    r = subprocess.run(["dpkg", "-L", pkg], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"debian_calls: {pkg} is not installed (apt-get install $(cat tools/lid/apt-packages.txt))")
    return sorted(x for x in r.stdout.split() if os.path.isfile(x))


def sources(include_ktuberling: bool = False) -> list[tuple[str, str, str, str]]:
    """(role, language, speaker, file)."""
    out = []
    for role, lang, speaker, pattern in (
        ("train", "en-US", "allison-en", f"{SND}/en_US_f_Allison/**/*.wav"),
        ("train", "es-MX", "allison-es", f"{SND}/es_MX_f_Allison/**/*.wav"),
        ("train", "fr-CA", "june", f"{SND}/fr_CA_f_June/**/*.wav"),
        ("train", "it-IT", "menardi", f"{SND}/it_IT_f_Menardi/**/*.wav"),
        ("test", "it-IT", "carlo", f"{SND}/it_IT_m_Carlo/**/*.wav"),
        ("test", "ru-RU", "ivrvoice-ru", f"{SND}/ru_RU_f_IvrvoiceRU/**/*.wav"),
    ):
        out += [(role, lang, speaker, f) for f in sorted(glob.glob(pattern, recursive=True))]
    for lang, speaker, pkg in (("es-CO", "es-co", "asterisk-prompt-es-co"), ("fr-FR", "armelle", "asterisk-prompt-fr-armelle")):
        out += [("test", lang, speaker, f) for f in package_files(pkg) if f.startswith(SND)]
    # KTuberling's spoken stamp names, one speaker per language: our seven languages, and 13 more that train
    # `other` (nn is Opus, which sox does not read; ru stays out, it is the never-trained language). Only with
    # --ktuberling: its own folder, so a run can add it or not.
    if include_ktuberling:
        for d in sorted(glob.glob(f"{KT}/*/")):
            code = os.path.basename(os.path.normpath(d))
            if code in ("nn", "ru"):
                continue
            out += [("ktuberling", code, f"ktuberling-{code}", f) for f in sorted(glob.glob(f"{d}*.*"))
                    if f.endswith((".ogg", ".wav", ".flac"))]
    for f in package_files("fillets-ng-data-nl"):
        who = re.match(r"^[a-z0-9]+-([a-z]+)-", os.path.basename(f))
        if f.endswith(".ogg") and who and who.group(1) in ("m", "v"):
            big = who.group(1) == "v"
            out.append(("train" if big else "test", "nl-NL", "big-fish" if big else "small-fish", f))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=cache_dir("debian-calls"))
    ap.add_argument("--ktuberling", action="store_true", help="also OUT/ktuberling (package ktuberling-data)")
    args = ap.parse_args()
    src = sources(args.ktuberling)
    rows: dict[str, list[str]] = {"train": [], "test": [], "ktuberling": []}
    # Rebuilt from scratch every time: a file left from another selection would be read as a call of its own.
    for role in rows:
        shutil.rmtree(os.path.join(args.out, role), ignore_errors=True)
    for i, (role, lang, speaker, f) in enumerate(src):
        # Named by a hash of the source path (prompt names repeat across a package's folders), not by position.
        tag = hashlib.sha1(f.encode()).hexdigest()[:8]
        rel = os.path.join(lang, speaker, f"{os.path.splitext(os.path.basename(f))[0]}-{tag}.wav")
        dst = os.path.join(args.out, role, rel)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        subprocess.run(["sox", f, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", dst], check=True)
        rows[role].append(f"{rel},{speaker}")
        if (i + 1) % 500 == 0:
            print(f"debian_calls {i + 1}/{len(src)}", file=sys.stderr, flush=True)
    for role, lines in rows.items():
        if not lines:
            continue
        with open(os.path.join(args.out, role, "speakers.csv"), "w") as fh:
            fh.write("file,speaker\n" + "\n".join(lines) + "\n")
        print(f"{os.path.join(args.out, role)}: {len(lines)} files")


if __name__ == "__main__":
    main()
