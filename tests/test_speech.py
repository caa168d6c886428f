"""The synthesized-speech word task: espeak-ng binding, determinism, voice split, SNR, cache checksums."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

pytest.importorskip("espeakng_loader")

from neurocompare.audio import _espeak  # noqa: E402
from neurocompare.audio._speech import (  # noqa: E402
    WORDS,
    SpeechDataset,
    load_backgrounds,
    mix_at_snr,
    pink_noise,
    speech_dataset,
)

VOICES = ["en-US+m1", "en+m1", "en-US+f2", "en+f2", "en-US+m3", "en-GB-x-rp+f3", "en-US+klatt"]
SMALL = dict(n_words=4, clips_per_word=5, voices=VOICES, test_fraction=0.4, progress=False)


def _digest(ds: SpeechDataset) -> str:
    h = hashlib.sha256(ds.waveforms.tobytes())
    for name in ("label", "word", "voice", "rate", "pitch", "noise", "snr_db", "split", "clip_id"):
        h.update(np.ascontiguousarray(getattr(ds, name)).tobytes())
    return h.hexdigest()


@pytest.fixture(scope="module")
def small():
    return speech_dataset(**SMALL, seed=0, cache_dir=False)


def test_espeak_binding_speaks_at_its_rate():
    x = _espeak.synthesize("water", "en-US+m3")
    assert x.dtype == np.int16 and x.ndim == 1
    # a spoken two-syllable word at 175 wpm lasts between 0.2 s and 1.5 s with its padding
    assert 0.2 * _espeak.ESPEAK_RATE < x.shape[0] < 1.5 * _espeak.ESPEAK_RATE
    assert np.abs(x).max() > 1000
    assert _espeak.espeak_version().count(".") >= 1
    assert "en-US" in _espeak.english_accents() and "f2" in _espeak.voice_variants()


def test_espeak_output_depends_only_on_its_arguments():
    """espeak-ng keeps pitch-flutter and resonator state between utterances; the binding reloads it."""
    first = _espeak.synthesize("water", "en-US+m1")
    _espeak.synthesize("yesterday", "en+klatt", rate=300, pitch=10)
    _espeak.synthesize("water", "en-GB-x-rp+whisper")
    np.testing.assert_array_equal(_espeak.synthesize("water", "en-US+m1"), first)


def test_espeak_faster_rate_is_shorter():
    slow = _espeak.synthesize("yesterday", "en-US", rate=100).shape[0]
    fast = _espeak.synthesize("yesterday", "en-US", rate=400).shape[0]
    assert fast < 0.6 * slow


@pytest.mark.parametrize("kwargs, match", [
    (dict(text=""), "non-empty"),
    (dict(text="a", voice="zz-nothing"), "no voice"),
    (dict(text="a", rate=10), "rate"),
    (dict(text="a", pitch=120), "pitch"),
])
def test_espeak_bad_input(kwargs, match):
    text = kwargs.pop("text")
    with pytest.raises(ValueError, match=match):
        _espeak.synthesize(text, **kwargs)


def test_missing_loader_gives_install_hint(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "espeakng_loader":
            raise ImportError("no")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(ImportError, match=r"neurocompare\[audio\]"):
        _espeak._loader()


def test_words_are_distinct():
    assert len(WORDS) == 200 and len(set(WORDS)) == 200


def test_shapes_labels_and_split_by_voice(small):
    ds = small
    assert ds.waveforms.shape == (20, 16000) and ds.waveforms.dtype == np.float32
    assert np.isfinite(ds.waveforms).all()
    assert [ds.vocabulary[i] for i in ds.label] == ds.word.tolist()
    assert ds.vocabulary == WORDS[:4]
    assert len(set(ds.clip_id.tolist())) == len(ds)
    train, test = set(ds.voice[ds.split == "train"]), set(ds.voice[ds.split == "test"])
    assert train and test and not train & test
    speakers = lambda vs: {v.split("+")[1] for v in vs}  # noqa: E731
    assert not speakers(train) & speakers(test)  # a held-out speaker is unseen in every accent
    assert (ds.split == "test").sum() == 4 * round(5 * 0.4)
    assert set(ds.noise) <= {"white", "pink"}
    assert ((ds.snr_db >= 0) & (ds.snr_db <= 20)).all()
    x, y = ds.tensors("test")
    assert tuple(x.shape) == (8, 16000) and y.tolist() == ds.label[ds.split == "test"].tolist()


def test_same_seed_identical_bytes_and_different_seed_differs(small):
    again = speech_dataset(**SMALL, seed=0, cache_dir=False)
    assert _digest(again) == _digest(small)
    other = speech_dataset(**SMALL, seed=1, cache_dir=False)
    assert _digest(other) != _digest(small)
    assert not np.array_equal(other.waveforms, small.waveforms)


def test_added_noise_has_the_requested_snr():
    """clean and noisy sets share every speech draw, so noisy - clean is exactly the noise added."""
    clean = speech_dataset(**SMALL, snr_db=None, cache_dir=False)
    noisy = speech_dataset(**SMALL, snr_db=(-5.0, 15.0), cache_dir=False)
    assert (clean.noise == "none").all() and np.isinf(clean.snr_db).all()
    s = clean.waveforms.astype(np.float64)
    n = noisy.waveforms.astype(np.float64) - s
    measured = 10 * np.log10((s**2).mean(1) / (n**2).mean(1))
    # float32 storage: relative error of the noise power ~ 2·eps32·10^(snr/20)·(clip RMS / noise RMS)
    tol = 10 / np.log(10) * 4 * np.finfo(np.float32).eps * 10 ** (noisy.snr_db / 10) * 10
    np.testing.assert_array_less(np.abs(measured - noisy.snr_db), tol + 1e-6)
    assert np.abs(measured - noisy.snr_db).max() < 1e-3
    # speech RMS over the window is the requested level
    np.testing.assert_allclose(np.sqrt((s**2).mean(1)), 0.1, rtol=1e-6)


def test_mix_at_snr_known_answer_and_errors():
    rng = np.random.default_rng(0)
    s, n = rng.standard_normal(1000), 3.0 * rng.standard_normal(1000)
    mix, scaled = mix_at_snr(s, n, 6.0)
    assert 10 * np.log10(np.mean(s**2) / np.mean(scaled**2)) == pytest.approx(6.0, abs=1e-12)
    np.testing.assert_allclose(mix - s, scaled, atol=1e-15)
    with pytest.raises(ValueError, match="same shape"):
        mix_at_snr(s, n[:10], 0.0)
    with pytest.raises(ValueError, match="non-zero power"):
        mix_at_snr(np.zeros(10), np.ones(10), 0.0)
    with pytest.raises(ValueError, match="finite"):
        mix_at_snr(s, n, np.nan)


def test_pink_noise_has_a_one_over_f_spectrum():
    x = np.mean([np.abs(np.fft.rfft(pink_noise(8192, np.random.default_rng(i)))) ** 2 for i in range(40)], axis=0)
    f = np.arange(x.shape[0])
    bands = [(16, 32), (256, 512)]  # 4 octaves apart: 1/f power -> 16x less power per bin
    ratio = x[bands[0][0]:bands[0][1]].mean() / x[bands[1][0]:bands[1][1]].mean()
    expected = f[bands[1][0]:bands[1][1]].mean() / f[bands[0][0]:bands[0][1]].mean()
    assert ratio == pytest.approx(expected, rel=0.15)
    assert np.sqrt(np.mean(pink_noise(1000, np.random.default_rng(0)) ** 2)) == pytest.approx(1.0)


def test_cache_hit_is_identical_and_corruption_is_detected(tmp_path, small):
    first = speech_dataset(**SMALL, seed=0, cache_dir=tmp_path)
    files = sorted(tmp_path.glob("*.npz"))
    assert len(files) == 1 and files[0].with_suffix(".sha256").is_file()
    assert _digest(first) == _digest(small)
    hit = speech_dataset(**SMALL, seed=0, cache_dir=tmp_path)
    assert _digest(hit) == _digest(small) and hit.attrs == first.attrs
    raw = bytearray(files[0].read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    files[0].write_bytes(bytes(raw))
    with pytest.warns(RuntimeWarning, match="checksum"):
        regenerated = speech_dataset(**SMALL, seed=0, cache_dir=tmp_path)
    assert _digest(regenerated) == _digest(small)
    assert hashlib.sha256(files[0].read_bytes()).hexdigest() == files[0].with_suffix(".sha256").read_text()


def test_cache_key_depends_on_arguments(tmp_path):
    speech_dataset(**SMALL, seed=0, cache_dir=tmp_path)
    speech_dataset(**SMALL, seed=0, cache_dir=tmp_path, snr_db=3.0)
    assert len(list(tmp_path.glob("*.npz"))) == 2


def test_natural_backgrounds(tmp_path):
    from scipy.io import wavfile

    rng = np.random.default_rng(0)
    for i in range(2):
        wavfile.write(tmp_path / f"s{i}.wav", 44100, (rng.standard_normal(44100 * 2) * 3000).astype(np.int16))
    bgs = load_backgrounds(tmp_path, 16000)
    assert len(bgs) == 2 and all(b.shape == (32000,) for b in bgs)
    ds = speech_dataset(**SMALL, backgrounds=tmp_path, cache_dir=False)
    assert set(ds.noise) == {"natural"}
    clean = speech_dataset(**SMALL, snr_db=None, cache_dir=False)
    n = ds.waveforms.astype(np.float64) - clean.waveforms
    measured = 10 * np.log10((clean.waveforms.astype(np.float64) ** 2).mean(1) / (n**2).mean(1))
    assert np.abs(measured - ds.snr_db).max() < 1e-3


@pytest.mark.requires_data
def test_natsound_backgrounds(data_root):
    bgs = load_backgrounds(data_root / "natsound165_nh2015" / "sounds" / "wav", 16000)
    assert len(bgs) == 165
    assert all(abs(np.sqrt(np.mean(b**2)) - 1) < 1e-9 for b in bgs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(n_words=0), "n_words"),
    (dict(n_words=201), "n_words"),
    (dict(words=["a", "a"]), "distinct"),
    (dict(clips_per_word=0), "clips_per_word"),
    (dict(test_fraction=1.0), "test_fraction"),
    (dict(rates=(10,)), "rates"),
    (dict(pitches=()), "pitches"),
    (dict(snr_db=(10, 0)), "snr_db"),
    (dict(noise=("brown",)), "noise"),
    (dict(noise=("natural",)), "backgrounds"),
    (dict(voices=["en-US+m1", "en+m1"]), "split without voices"),
    (dict(duration_s=0), "positive"),
])
def test_bad_arguments(kwargs, match):
    args = {**SMALL, "cache_dir": False, **kwargs}
    with pytest.raises(ValueError, match=match):
        speech_dataset(**args)


def test_missing_background_folder(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_backgrounds(tmp_path / "nope")
    with pytest.raises(ValueError, match="No background"):
        load_backgrounds(tmp_path)


def test_subset_refuses_unknown_split(small):
    with pytest.raises(ValueError, match="split"):
        small.subset("validation")
    assert len(small.subset("train")) + len(small.subset("test")) == len(small)
