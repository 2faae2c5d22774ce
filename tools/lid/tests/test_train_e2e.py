"""`lid:train` end to end on a tiny generated calls corpus (seconds), and `lid:install` of what it wrote, into
a temporary place: never over the shipped weights."""

import json
import os
import subprocess
import sys

import numpy as np
from conftest import LID, ROOT, TSX, needs_tsx, speech, write_wav

import lid


def tiny_calls(d, speakers: int, seed: int) -> None:
    """es/fr calls: the unit-test fixtures at another level, with noise, per caller; speakers.csv names them."""
    rng = np.random.default_rng(seed)
    rows = []
    for lang, tag in (("es", "es-MX"), ("fr", "fr-FR")):
        for s in range(speakers):
            for k in range(2):
                x = speech(lang) * rng.uniform(0.3, 1.5) + rng.standard_normal(len(speech(lang))) * 30
                rel = f"{tag}/s{s}-{k}.wav"
                write_wav(str(d / rel), x, 8000, "mulaw" if k else "pcm16")
                rows.append(f"{rel},{lang}-{seed}-{s}")
    (d / "speakers.csv").write_text("file,speaker\n" + "\n".join(rows) + "\n")


@needs_tsx
def test_train_then_install_into_a_temporary_place(tmp_path):
    tiny_calls(tmp_path / "train", 3, 1)
    tiny_calls(tmp_path / "test", 1, 2)
    out = tmp_path / "model"
    env = {**os.environ, "LANGHOOK_LID_SKIP_LOCK": "1", "OPENBLAS_NUM_THREADS": "1"}
    r = subprocess.run([sys.executable, os.path.join(LID, "lid.py"), "--corpus", f"calls:{tmp_path / 'train'}",
                        "--test-corpus", f"calls:{tmp_path / 'test'}", "--languages", "es-ES,fr-FR", "--from-shipped",
                        "--steps", "20", "--batch", "8", "--val", "0", "--test", "0", "--work", str(tmp_path / "run"),
                        "--out", str(out)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "[5/6] evaluate" in r.stderr and "train: 20/20" in r.stderr  # stages and progress were shown
    model = json.load(open(out / "weights.json"))
    assert model["format"] == "langhook-xvector-lite/1" and model["labels"] == ["es-ES", "fr-FR", "other"]
    rep = json.load(open(out / "report.json"))
    assert set(rep["new"]["accuracy"]) >= {"es-ES", "fr-FR", "all ours"} and rep["shipped"] is not None
    assert set(rep["new"]["accuracy"]["es-ES"]["at"]) == {"1", "2", "3", "5"}
    assert {row["split"] for row in rep["meta"]["data"]} == {"train", "test"}
    assert "Full detector" in (out / "report.md").read_text()
    shipped = os.path.join(ROOT, "src", "detect", "model", "weights.json")
    before = open(shipped, "rb").read()
    inst = subprocess.run([TSX, os.path.join(LID, "install.ts"), str(out), "--weights", str(tmp_path / "w.json"),
                           "--fixture", str(tmp_path / "f.json")], cwd=ROOT, capture_output=True, text=True)
    assert inst.returncode == 0, inst.stderr
    assert "reproduces the trainer" in inst.stdout
    assert json.load(open(tmp_path / "w.json")) == model
    assert open(shipped, "rb").read() == before  # the shipped weights are untouched
    # A model whose fixture the TypeScript inference does not reproduce is refused.
    fx = json.load(open(out / "fixture.json"))
    fx["logits"][0] += 0.01
    json.dump(fx, open(out / "fixture.json", "w"))
    bad = subprocess.run([TSX, os.path.join(LID, "install.ts"), str(out), "--weights", str(tmp_path / "w2.json"),
                          "--fixture", str(tmp_path / "f2.json")], cwd=ROOT, capture_output=True, text=True)
    assert bad.returncode == 1 and "differs from the trainer" in bad.stderr
    assert not (tmp_path / "w2.json").exists()


def test_lock_check_names_what_differs(tmp_path, monkeypatch):
    lock = tmp_path / "requirements.lock"
    lock.write_text("# comment\nnumpy==0.0.1\nscipy==%s\n" % __import__("scipy").__version__)
    monkeypatch.setattr(lid, "LOCK", str(lock))
    assert lid.locked() == {"numpy": "0.0.1", "scipy": __import__("scipy").__version__}
    assert lid.lock_mismatches() == [f"numpy {np.__version__} (lock: 0.0.1)"]


def test_fine_tuning_keeps_shipped_label_columns_and_starts_new_ones_small():
    import argparse

    args = argparse.Namespace(from_shipped=True, shipped=lid.SHIPPED)
    labels = ["fr-FR", "es-ES", "ja-JP", "other"]  # reordered, one label the shipped model lacks
    p, anchor = lid.initial_params(args, labels, 24, np.random.default_rng(0))
    shipped_json, shipped = lid.load_weights_json(lid.SHIPPED)
    for j, lab in enumerate(labels):
        if lab in shipped_json["labels"]:
            k = shipped_json["labels"].index(lab)
            assert np.array_equal(p["W4"][:, j], shipped["W4"][:, k]) and p["b4"][j] == shipped["b4"][k]
    new = p["W4"][:, labels.index("ja-JP")]
    assert 0 < np.abs(new).max() < 0.5 * np.abs(shipped["W4"]).max()
    assert np.array_equal(p["W1"], shipped["W1"]) and anchor is not None and np.array_equal(anchor["W4"], p["W4"])
    scratch, none = lid.initial_params(argparse.Namespace(from_shipped=False), labels, 24, np.random.default_rng(0))
    assert none is None and scratch["W4"].shape == (64, 4) and not np.array_equal(scratch["W1"], shipped["W1"])
