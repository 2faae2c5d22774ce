#!/usr/bin/env python3
"""Train the transcript-text language identifier: character n-gram naive Bayes over our 7 languages + other.

Training text is the train split of the machine's gettext catalogs (the same sentence split as the audio
corpus: a test sentence is never trained on, in any language). `other` is the catalogs of 15 further
languages (corpus.OTHER); Russian (corpus.UNKNOWN) stays out to test refusal. A second, genre-held-out
test set comes from Debian's fortune cookies (quotes, jokes, anecdotes: closer to speech than UI strings;
en, de, es, it, pt only: Debian has no French or Dutch fortunes).

Exports src/detect/model/text-ngrams.json (see src/detect/text.ts for the format) and a parity fixture
for the TS test. Writes the evaluation sets to OUT (for tools/lid/eval.ts) and prints accuracies.

usage: python3 tools/lid/text_train.py [--out ~/.cache/langhook/lid/corpus] [--model src/detect/model]
                                       [--orders 1,2,3,4] [--top 800]
"""

import argparse
import collections
import glob
import json
import math
import os
import random
import re
import sys
import unicodedata

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402  (same catalogs, same sentence split as the audio)
from cache import cache_dir  # noqa: E402

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
STEP = 0.25  # nats per quantisation level: 64 levels cover log-probabilities in [LOW, LOW + 16)
LOW = -18.0
OTHER = "other"
FORTUNES = "/usr/share/games/fortunes"
# Languages in neither our 7 nor `other`: refusal of text the model never saw a word of (Galician and
# Afrikaans are close kin of Portuguese/Spanish and Dutch, so most of theirs will be named as those).
UNSEEN = ["lt", "lv", "sl", "et", "eu", "gl", "vi", "af", "eo", "ga", "is", "sq", "ms", "uk", "sr"]


def normalize(s: str) -> str:
    """Lower case, letters (and marks, apostrophes) only, one space between words and at both ends.
    src/detect/text.ts `normalize` must match this exactly."""
    s = unicodedata.normalize("NFC", s.replace("’", "'")).lower()
    chars = [c if (unicodedata.category(c)[0] in "LM" or c == "'") and ord(c) <= 0xFFFF else " " for c in s]
    return " " + " ".join("".join(chars).split()) + " "


def grams(s: str, orders: list[int]) -> list[str]:
    t = normalize(s)
    return [t[i : i + n] for n in orders for i in range(len(t) - n + 1) if t[i : i + n].strip()]


def label_sentences() -> dict[str, dict[str, str]]:
    """{label: {msgid: text}} for the 7 languages (as corpus.py builds sentences.json) plus `other`."""
    sents = corpus.load_sentences()
    out = corpus.sentences_by_label(sents)
    # `other`: key by locale too, so one msgid in 15 languages does not collapse to one sentence.
    out[OTHER] = {f"{loc}\t{k}": v for loc in corpus.OTHER for k, v in sents[loc].items()}
    out["und"] = {f"{loc}\t{k}": v for loc in corpus.UNKNOWN for k, v in sents[loc].items()}
    return out


def unseen_sentences(per_locale: int = 300) -> list[str]:
    out: list[str] = []
    for loc in UNSEEN:
        found = [dst for _, dst in corpus.catalog_pairs(sorted(glob.glob(f"/usr/share/locale/{loc}/LC_MESSAGES/*.mo")))]
        random.Random(1).shuffle(found)
        out += found[:per_locale]
    return out


def split_of(key: str) -> str:
    return corpus.sentence_split(key.split("\t")[-1])


def fortunes(per_label: int = 500) -> dict[str, list[str]]:
    """Sentences of 4-25 words from the fortune cookies, one set per language Debian has."""
    files = {
        "en-US": [f"{FORTUNES}/{n}" for n in (
            "art computers cookie education food humorists kids law love medicine men-women miscellaneous "
            "people pets platitudes politics science sports wisdom work").split()],
        "de-DE": glob.glob(f"{FORTUNES}/de/*"),
        "es-ES": glob.glob(f"{FORTUNES}/es/*"),
        "it-IT": glob.glob(f"{FORTUNES}/it/*")
        + [f"{FORTUNES}/{n}" for n in "definizioni formiche italia leggi luttazzi paolotedeschi".split()],
        "pt-BR": [f"{FORTUNES}/brasil"],
    }
    out = {}
    for lab, paths in files.items():
        found: list[str] = []
        for p in sorted(set(paths)):
            if p.endswith(".dat") or os.path.islink(p) or os.path.isdir(p) or not os.path.exists(p):
                continue
            raw = open(p, "rb").read()
            try:
                text = raw.decode("utf8")
            except UnicodeDecodeError:
                text = raw.decode("latin1")
            for cookie in text.split("\n%\n"):
                body = " ".join(re.split(r"\n\s*--", cookie)[0].split())  # drop the attribution
                for s in re.split(r"(?<=[.!?])\s+", body):
                    s = s.strip(" -\"'«»")
                    if 4 <= len(s.split()) <= 25 and not re.search(r"[0-9@/\\|<>{}=_#*]", s):
                        found.append(s)
        found = list(dict.fromkeys(found))
        random.Random(5).shuffle(found)
        if found:
            out[lab] = found[:per_label]
    return out


class NaiveBayes:
    def __init__(self, labels: list[str], orders: list[int], top: int, k: float = 0.5):
        self.labels, self.orders, self.top, self.k = labels, orders, top, k

    def fit(self, data: dict[str, list[str]]) -> "NaiveBayes":
        counts = {lab: collections.Counter() for lab in self.labels}
        for lab in self.labels:
            for s in data[lab]:
                counts[lab].update(grams(s, self.orders))
        vocab: set[str] = set()
        for lab in self.labels:
            # The top grams of each order, so short orders are not crowded out; ties by the gram itself, so
            # the export does not depend on the order the catalogs were read in.
            ranked = sorted(counts[lab].items(), key=lambda gc: (-gc[1], gc[0]))
            for n in self.orders:
                vocab.update([g for g, _ in ranked if len(g) == n][: self.top])
        self.vocab = sorted(vocab, key=lambda g: (len(g), g))
        self.index = {g: i for i, g in enumerate(self.vocab)}
        self.logp: dict[str, list[float]] = {}
        for lab in self.labels:
            total = sum(counts[lab][g] for g in self.vocab) + self.k * len(self.vocab)
            self.logp[lab] = [self.quantize(math.log((counts[lab][g] + self.k) / total)) for g in self.vocab]
        self.temperature = 1.0
        return self

    @staticmethod
    def quantize(x: float) -> float:
        return LOW + STEP * min(63, max(0, round((x - LOW) / STEP)))

    def loglik(self, s: str) -> tuple[dict[str, float], int]:
        ids = [self.index[g] for g in grams(s, self.orders) if g in self.index]
        return {lab: sum(self.logp[lab][i] for i in ids) for lab in self.labels}, len(ids)

    def posteriors(self, s: str, labels: list[str] | None = None) -> dict[str, float]:
        ll, n = self.loglik(s)
        labs = labels or self.labels
        if n == 0:
            return {lab: 1 / len(labs) for lab in labs}
        m = max(ll[lab] for lab in labs)
        e = {lab: math.exp((ll[lab] - m) / self.temperature) for lab in labs}
        z = sum(e.values())
        return {lab: v / z for lab, v in e.items()}

    def fit_temperature(self, data: dict[str, list[str]]) -> None:
        """Scale log-likelihoods so posteriors are calibrated (minimum NLL on validation sentences)."""
        pairs = [(lab, self.loglik(s)[0]) for lab in self.labels for s in data[lab]]

        def nll(t: float) -> float:
            out = 0.0
            for lab, ll in pairs:
                m = max(ll.values())
                z = sum(math.exp((v - m) / t) for v in ll.values())
                out -= (ll[lab] - m) / t - math.log(z)
            return out / len(pairs)

        self.temperature = min((nll(t), t) for t in [1, 1.5, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40])[1]

    def export(self) -> dict:
        by_order = [[g for g in self.vocab if len(g) == n] for n in self.orders]
        assert [g for grp in by_order for g in grp] == self.vocab
        code = lambda x: ALPHABET[round((x - LOW) / STEP)]  # noqa: E731
        return {
            "about": "Character n-gram naive Bayes over transcript text (tools/lid/text_train.py).",
            "orders": self.orders,
            "labels": self.labels,
            "low": LOW,
            "step": STEP,
            "temperature": self.temperature,
            # Every gram of order n concatenated (n characters each); the log-probability tables follow
            # the same order, one base64 character per gram.
            "grams": ["".join(grp) for grp in by_order],
            "logp": {lab: "".join(code(x) for x in self.logp[lab]) for lab in self.labels},
        }


def accuracy(nb: NaiveBayes, data: dict[str, list[str]], labels: list[str]) -> dict[str, float]:
    out = {}
    for lab, ss in data.items():
        if ss:
            out[lab] = sum(max(p := nb.posteriors(s, labels), key=p.get) == lab for s in ss) / len(ss)
    return out


def source_files() -> list[str]:
    """Every file the identifier's build reads: the gettext catalogs of its training/eval locales (corpus.py's
    and UNSEEN) and the fortune files."""
    locales = {loc for _, locs in corpus.TARGETS.values() for loc in (locs or [])} | set(corpus.OTHER)
    locales |= set(corpus.UNKNOWN) | set(UNSEEN)
    files = [f for loc in sorted(locales) for f in sorted(glob.glob(f"/usr/share/locale/{loc}/LC_MESSAGES/*.mo"))]
    return files + sorted(f for f in glob.glob(f"{FORTUNES}/**/*", recursive=True)
                          if os.path.isfile(f) and not os.path.islink(f) and not f.endswith(".dat"))


def record_sources() -> dict:
    """What the build read, so it can be repeated: a digest over (path, sha256) of every source file, and the
    Debian packages (with versions) that own them. Text from a machine whose digest differs gives a different
    identifier (other catalogs, other translations)."""
    import hashlib
    import subprocess

    files = source_files()
    h = hashlib.sha256()
    for f in files:
        h.update(f.encode() + b"\0" + hashlib.sha256(open(f, "rb").read()).digest())
    owners: dict[str, int] = {}
    for i in range(0, len(files), 500):
        r = subprocess.run(["dpkg", "-S", *files[i : i + 500]], capture_output=True, text=True)
        for line in r.stdout.splitlines():
            for pkg in line.split(": ", 1)[0].split(", "):
                owners[pkg.split(":")[0]] = owners.get(pkg.split(":")[0], 0) + 1
    versions = {}
    if owners:
        r = subprocess.run(["dpkg-query", "-W", "-f", "${Package}\t${Version}\n", *sorted(owners)], capture_output=True,
                           text=True)
        versions = dict(line.split("\t", 1) for line in r.stdout.splitlines() if "\t" in line)
    return {"files": len(files), "digest": h.hexdigest(),
            "packages": {p: {"version": versions.get(p), "files": n} for p, n in sorted(owners.items())}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=cache_dir("corpus"))
    ap.add_argument("--model", default="src/detect/model")
    ap.add_argument("--fixture", default="test/unit/detect/text-fixture.json")
    ap.add_argument("--orders", default="1,2,3,4")
    ap.add_argument("--top", type=int, default=800, help="most frequent grams kept per label and order")
    ap.add_argument("--no-export", action="store_true")
    ap.add_argument("--sources", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "text-sources.json"),
                    help="where an export records what it was built from (the Debian packages and a digest)")
    ap.add_argument("--check-sources", action="store_true",
                    help="only compare this machine's sources with --sources and exit (1 when they differ)")
    args = ap.parse_args()
    if args.check_sources:
        want, have = json.load(open(args.sources)), record_sources()
        diff = [f"{p}: {want['packages'].get(p, {}).get('version')} -> {have['packages'].get(p, {}).get('version')}"
                for p in sorted(set(want["packages"]) | set(have["packages"]))
                if want["packages"].get(p) != have["packages"].get(p)]
        print("same sources" if want["digest"] == have["digest"] else "sources differ: " + ("; ".join(diff) or
              "same packages, other file contents"))
        sys.exit(0 if want["digest"] == have["digest"] else 1)
    orders = [int(x) for x in args.orders.split(",")]

    by_label = label_sentences()
    labels = [*corpus.TARGETS, OTHER]
    # Sorted by key: corpus.load_sentences reads catalogs in set order, which varies between runs.
    split = {sp: {lab: [t for k, t in sorted(by_label[lab].items()) if split_of(k) == sp] for lab in by_label}
             for sp in ("train", "val", "test")}
    print({lab: len(v) for lab, v in split["train"].items()}, "train sentences", file=sys.stderr)
    nb = NaiveBayes(labels, orders, args.top).fit(split["train"])
    nb.fit_temperature({lab: split["val"][lab][:400] for lab in labels})
    fort = fortunes()
    targets = list(corpus.TARGETS)
    report = {
        "vocabulary": len(nb.vocab),
        "temperature": nb.temperature,
        "val_targets": accuracy(nb, {lab: split["val"][lab] for lab in targets}, targets),
        "test_targets": accuracy(nb, {lab: split["test"][lab] for lab in targets}, targets),
        "fortunes": accuracy(nb, fort, targets),
        "test_with_other": accuracy(nb, {lab: split["test"][lab] for lab in labels}, labels),
    }
    for k, v in report.items():
        if isinstance(v, dict):
            print(f"{k:16s} mean {100 * sum(v.values()) / len(v):.1f}", {a: round(100 * b, 1) for a, b in v.items()})
        else:
            print(k, v)
    with open(os.path.join(args.out, "text-eval.json"), "w") as f:
        json.dump({"gettext_test": {lab: split["test"][lab] for lab in [*labels, "und"]}, "fortunes": fort,
                   "unseen_languages": {"und": unseen_sentences()}}, f, ensure_ascii=False)
    # The text of the other/unknown-language test clips' sentences, by locale, for the fused refusal test.
    foreign = {}
    for lab in (OTHER, "und"):
        for key, text in by_label[lab].items():
            loc, msgid = key.split("\t", 1)
            if split_of(key) == "test":
                foreign.setdefault(loc, {})[msgid] = text
    with open(os.path.join(args.out, "sentences-foreign.json"), "w") as f:
        json.dump(foreign, f, ensure_ascii=False)
    if args.no_export:
        return
    art = nb.export()
    with open(os.path.join(args.model, "text-ngrams.json"), "w") as f:
        json.dump(art, f, ensure_ascii=False)
    rng = random.Random(3)
    probe = [rng.choice(split["test"][lab]) for lab in labels for _ in range(2)] + ["", "OK", "¿Dónde está?"]
    fixture = [{"text": s, "loglik": nb.loglik(s)[0], "grams": nb.loglik(s)[1]} for s in probe]
    with open(args.fixture, "w") as f:
        json.dump({"temperature": nb.temperature, "cases": fixture}, f, ensure_ascii=False)
    print("wrote", os.path.join(args.model, "text-ngrams.json"), os.path.getsize(os.path.join(args.model, "text-ngrams.json")), "bytes")
    with open(args.sources, "w") as f:
        json.dump({"model_sha256": __import__("hashlib").sha256(open(os.path.join(args.model, "text-ngrams.json"), "rb").read()).hexdigest(),
                   **record_sources()}, f, indent=2)
        f.write("\n")
    print("wrote", args.sources)


if __name__ == "__main__":
    main()
