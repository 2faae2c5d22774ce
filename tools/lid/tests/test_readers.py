"""Every corpus reader on a tiny corpus written in its layout, the speaker-disjoint split and label mapping."""

import os
import subprocess
from collections import defaultdict

import numpy as np
import pytest
from conftest import needs_lame, needs_mp3, tone, write_wav

import corpora
import lid


def test_commonvoice_reads_validated_tsv_speakers_and_locale(tmp_path):
    root = tmp_path / "cv" / "es"
    (root / "clips").mkdir(parents=True)
    rows = [("spk-a", "a1.mp3", "es"), ("spk-a", "a2.mp3", "es"), ("spk-b", "b1.mp3", "es"), ("spk-c", "gone.mp3", "es")]
    (root / "validated.tsv").write_text(
        "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccents\tlocale\tsegment\n"
        + "".join(f"{c}\t{p}\tUna frase \"entre comillas\".\t2\t0\t\t\t\t{loc}\t\n" for c, p, loc in rows))
    for _, p, _ in rows[:3]:
        (root / "clips" / p).write_bytes(b"")  # existence is what the reader checks; decoding is tested below
    for d in (str(root), str(tmp_path / "cv")):  # one locale folder, or the folder above several
        items = corpora.read_corpus(f"commonvoice:{d}")
        assert sorted((i.speaker, os.path.basename(i.path)) for i in items) == [
            ("spk-a", "a1.mp3"), ("spk-a", "a2.mp3"), ("spk-b", "b1.mp3")]  # the missing clip is skipped
        assert {i.language for i in items} == {"es"} and {i.corpus for i in items} == {"commonvoice"}


@needs_lame
@needs_mp3
def test_commonvoice_mp3_decodes_to_the_same_sound(tmp_path):
    x = tone(440, 1.0, 16000)
    write_wav(str(tmp_path / "t.wav"), x, 16000)
    subprocess.run(["lame", "--quiet", str(tmp_path / "t.wav"), str(tmp_path / "t.mp3")], check=True)
    y, sr = corpora.load_audio(str(tmp_path / "t.mp3"))
    assert sr == 16000 and abs(len(y) - len(x)) < 3000  # mp3 adds encoder delay and padding
    spec = np.abs(np.fft.rfft(y[2000:14000]))
    assert abs(np.argmax(spec) * 16000 / 12000 - 440) < 5  # still a 440 Hz tone
    assert 0.5 < np.sqrt(np.mean(y[2000:14000] ** 2)) / np.sqrt(np.mean(x**2)) < 1.5


def test_voxlingua_speaker_is_the_video(tmp_path):
    for lang, names in {"en": ["vidA__U__S0---0001.000-0004.000", "vidA__U__S1---0010.000-0012.000",
                               "vidB__U__S0---0001.000-0004.000"], "nl": ["vidC__U__S0---0000.500-0003.000"]}.items():
        for n in names:
            write_wav(str(tmp_path / lang / f"{n}.wav"), tone(300, 0.5, 16000), 16000)
    items = corpora.read_corpus(f"voxlingua:{tmp_path}")
    assert sorted((i.language, i.speaker) for i in items) == [("en", "vidA"), ("en", "vidA"), ("en", "vidB"), ("nl", "vidC")]


def test_fleurs_keeps_its_published_split(tmp_path):
    lang = tmp_path / "es_419"
    for theirs, ids in {"train": [1, 2], "dev": [3], "test": [4]}.items():
        lines = []
        for i in ids:
            name = f"{1000 + i}.wav"
            write_wav(str(lang / "audio" / theirs / name), tone(200, 0.5, 16000), 16000)
            lines.append(f"{i}\t{name}\tHola.\thola\th o l a |\t8000\tFEMALE")
        (lang / f"{theirs}.tsv").write_text("\n".join(lines) + "\n")
    for d in (tmp_path, lang):
        items = corpora.read_corpus(f"fleurs:{d}")
        assert sorted((i.speaker, corpora.split_of(i)) for i in items) == [
            ("sentence-1", "train"), ("sentence-2", "train"), ("sentence-3", "val"), ("sentence-4", "test")]
        assert {i.language for i in items} == {"es-419"}
        assert corpora.label_for("es-419", ["en-US", "es-ES", "other"]) == "es-ES"


def test_calls_folders_csv_speakers_and_formats(tmp_path):
    left, right = tone(500, 0.5, 8000), tone(1500, 0.5, 8000)
    write_wav(str(tmp_path / "es-MX" / "day1" / "c1.wav"), np.stack([left, right], 1), 8000)  # stereo PCM
    write_wav(str(tmp_path / "es-MX" / "c2.wav"), left, 8000, "mulaw")
    write_wav(str(tmp_path / "fr-CA" / "c3.wav"), left, 16000, "float32")
    (tmp_path / "speakers.csv").write_text("file,speaker\nes-MX/day1/c1.wav,caller-7\n")
    items = {os.path.basename(i.path): i for i in corpora.read_corpus(f"calls:{tmp_path}")}
    assert items["c1.wav"].speaker == "caller-7" and items["c1.wav"].language == "es-MX"
    assert items["c2.wav"].speaker == "call:es-MX/c2.wav"  # no CSV row: the file is its own call
    assert items["c3.wav"].language == "fr-CA"
    # Stereo: the customer's (left) channel only, not a mix.
    x, sr = corpora.load_audio(items["c1.wav"].path)
    assert sr == 8000 and np.allclose(x, np.round(left))
    # mu-law and float WAVs decode (Python's `wave` module reads neither).
    x, sr = corpora.load_audio(items["c2.wav"].path)
    assert sr == 8000 and np.max(np.abs(x - left)) < 0.05 * 8000
    x, sr = corpora.load_audio(items["c3.wav"].path)
    assert sr == 16000 and np.max(np.abs(x - left)) < 1


def test_split_is_speaker_disjoint_deterministic_and_near_its_shares():
    items = [corpora.Item(f"/x/{s}/{k}.wav", "en", f"speaker-{s}", "commonvoice") for s in range(2000) for k in range(3)]
    by_speaker = defaultdict(set)
    for it in items:
        by_speaker[it.speaker].add(corpora.split_of(it))
    assert all(len(v) == 1 for v in by_speaker.values())  # no speaker on two sides
    shares = defaultdict(int)
    for v in by_speaker.values():
        shares[next(iter(v))] += 1
    assert 0.07 < shares["test"] / 2000 < 0.13 and 0.07 < shares["val"] / 2000 < 0.13
    assert [corpora.split_of(i) for i in items[:50]] == [corpora.split_of(i) for i in items[:50]]
    assert corpora.split_of(items[0], val=0, test=0) == "train"


def test_labels_unknown_languages_and_caps():
    labels = ["en-US", "es-ES", "other"]
    assert corpora.label_for("es", labels) == "es-ES" and corpora.label_for("EN-gb", labels) == "en-US"
    assert corpora.label_for("ja", labels) is None
    items = [corpora.Item(f"/c/{lang}/{k}.wav", lang, f"{lang}-caller", "calls") for lang in ("es-MX", "ja", "ru")
             for k in range(5)]
    sel = lid.select(items, labels, {"ru"}, test_only=False, val=0, test=0, max_per_speaker=3, max_per_language=100)
    got = {(it.language, lab, split) for it, lab, split in sel}
    assert got == {("es-MX", "es-ES", "train"), ("ja", "other", "train"), ("ru", "und", "unknown")}
    assert sum(1 for it, *_ in sel if it.language == "es-MX") == 3  # capped per speaker
    test_only = lid.select(items, labels, set(), test_only=True, val=0.5, test=0, max_per_speaker=9, max_per_language=9)
    assert {split for *_, split in test_only} == {"test"}


def test_bad_specs_are_refused(tmp_path):
    with pytest.raises(ValueError):
        corpora.parse_spec("librispeech:/x")
    with pytest.raises(FileNotFoundError):
        corpora.read_corpus(f"calls:{tmp_path / 'absent'}")
    with pytest.raises(ValueError):
        corpora.read_corpus(f"calls:{tmp_path}")  # empty
