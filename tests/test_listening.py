"""Tests for the listening experiment (neurocompare.metamers: audio players instead of images).

The browser test drives the page in headless Chromium with Selenium (the pattern of
``tests/test_psychophysics.py``) and skips when either is missing.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import time
import wave
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurocompare.metamers import (
    CSV_COLUMNS,
    export_listening_experiment,
    export_metamer_listening_experiment,
    read_responses,
    summarize_responses,
    wav_bytes,
)

SR = 8000
WORDS = ["apple", "banana", "cherry", "date", "elder", "fig", "grape", "kiwi", "lemon", "mango", "melon", "nut"]


def _clips(n=4, samples=800, seed=0):
    return 0.2 * np.random.default_rng(seed).standard_normal((n, samples)).clip(-4, 4)


def _embedded(page: str, name: str):
    m = re.search(rf"const {name} = (.*?);\n", page)
    return json.loads(m.group(1))


def _decode(src: str) -> tuple[np.ndarray, int, int, int]:
    assert src.startswith("data:audio/wav;base64,")
    with wave.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))) as w:
        frames = w.readframes(w.getnframes())
        return np.frombuffer(frames, "<i2"), w.getframerate(), w.getnchannels(), w.getsampwidth()


def test_wav_bytes_is_16_bit_pcm_of_the_samples():
    x = np.array([0.0, 0.5, -0.5, 1.0, -1.0, 2.0, -3.0, 1 / 32767, 0.49999 / 32767])
    with wave.open(io.BytesIO(wav_bytes(x, 16000))) as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate(), w.getnframes()) == (1, 2, 16000, 9)
        pcm = np.frombuffer(w.readframes(9), "<i2")
    # 0.5 * 32767 = 16383.5 rounds half to even: 16384; values beyond full scale are clipped
    assert pcm.tolist() == [0, 16384, -16384, 32767, -32767, 32767, -32767, 1, 0]


def test_page_embeds_every_sound_exactly(tmp_path):
    clips = _clips()
    labels = [0, 3, 5, 11]
    path = export_listening_experiment(clips, tmp_path / "listen", sample_rate=SR, class_names=WORDS, labels=labels,
                                       level=None, conditions={"stage": ["a", "b", "c", "d"]}, title="Words <1>")
    assert path.suffix == ".html"
    page = path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", page)  # nothing from the network
    assert "<title>Words &lt;1&gt;</title>" in page and '<audio id="stimulus"' in page and 'id="filter"' in page
    exp, stimuli = _embedded(page, "EXPERIMENT"), _embedded(page, "STIMULI")
    assert exp["kind"] == "audio" and exp["columns"] == list(CSV_COLUMNS) and exp["class_names"] == WORDS
    assert exp["require_listen"] is True and exp["sample_rate"] == SR
    assert [s["label"] for s in stimuli] == labels
    assert [s["conditions"]["stage"] for s in stimuli] == list("abcd")
    for s, clip in zip(stimuli, clips):
        pcm, rate, channels, width = _decode(s["src"])
        assert (rate, channels, width) == (SR, 1, 2)
        np.testing.assert_array_equal(pcm, np.round(np.clip(clip, -1, 1) * 32767).astype(np.int16))


def test_levels_scale_each_sound(tmp_path):
    clips = _clips() * np.array([[0.1], [1.0], [2.0], [0.5]])
    for level, target, measure in (("rms", 0.05, lambda a: np.sqrt((a**2).mean())), ("peak", 0.5, lambda a: np.abs(a).max())):
        page = export_listening_experiment(clips, tmp_path / f"{level}.html", sample_rate=SR, class_names=WORDS,
                                           level=level, target=target).read_text()
        for s in _embedded(page, "STIMULI"):
            pcm = _decode(s["src"])[0] / 32767
            # quantisation to 1/32767 moves the level by at most half a step
            assert measure(pcm) == pytest.approx(target, abs=0.5 / 32767)


def test_listening_errors(tmp_path):
    out = tmp_path / "e.html"
    with pytest.raises(TypeError, match="numeric"):
        export_listening_experiment(np.array([["a", "b"]]), out, sample_rate=SR, class_names=WORDS)
    with pytest.raises(ValueError, match="shape"):
        export_listening_experiment(np.zeros((2, 3, 4)), out, sample_rate=SR, class_names=WORDS)
    with pytest.raises(ValueError, match="shape"):
        export_listening_experiment(np.zeros(5), out, sample_rate=SR, class_names=WORDS)
    with pytest.raises(ValueError, match="NaN"):
        export_listening_experiment(np.full((2, 8), np.nan), out, sample_rate=SR, class_names=WORDS)
    with pytest.raises(ValueError, match="silent"):
        export_listening_experiment(np.zeros((2, 8)), out, sample_rate=SR, class_names=WORDS)
    with pytest.raises(ValueError, match="level"):
        export_listening_experiment(_clips(), out, sample_rate=SR, class_names=WORDS, level="loud")
    with pytest.raises(ValueError, match="target"):
        export_listening_experiment(_clips(), out, sample_rate=SR, class_names=WORDS, target=1.5)
    with pytest.raises(ValueError, match="sample_rate"):
        export_listening_experiment(_clips(), out, sample_rate=100, class_names=WORDS)
    with pytest.raises(ValueError, match="class_names"):
        export_listening_experiment(_clips(), out, sample_rate=SR, class_names=["one"])
    with pytest.raises(ValueError, match="labels"):
        export_listening_experiment(_clips(), out, sample_rate=SR, class_names=WORDS, labels=[0, 1, 2, 99])
    with pytest.raises(ValueError, match="one per sound"):
        export_listening_experiment(_clips(), out, sample_rate=SR, class_names=WORDS, conditions={"g": [1]})
    assert not out.exists()  # nothing half-written by a refused call


def _audio_metamers(sr=SR):
    clips = _clips(3)
    mets = np.stack([clips * 0.5, clips[::-1]])
    ds = xr.Dataset(
        {"metamer": (("layer", "image", "sample"), mets), "original": (("image", "sample"), clips)},
        coords={"layer": ["block1", "fc"], "stage": ("layer", ["early", "final"]),
                "image_id": ("image", ["c0", "c1", "c2"]), "label": ("image", [2, 0, 1])},
        attrs={} if sr is None else {"sample_rate": sr},
    )
    return ds


def test_metamer_listening_experiment(tmp_path):
    ds = _audio_metamers()
    valid = np.array([[True, False, True], [True, True, True]])
    page = export_metamer_listening_experiment({"std": ds}, tmp_path / "m.html", class_names=WORDS, valid={"std": valid},
                                               level=None).read_text()
    stimuli = _embedded(page, "STIMULI")
    ids = [s["stimulus_id"] for s in stimuli]
    assert ids == ["std|block1|c0", "std|block1|c2", "std|fc|c0", "std|fc|c1", "std|fc|c2",
                   "natural|c0", "natural|c1", "natural|c2"]
    assert [s["conditions"]["stage"] for s in stimuli] == ["early"] * 2 + ["final"] * 3 + ["natural"] * 3
    np.testing.assert_array_equal(_decode(stimuli[1]["src"])[0], np.round(ds["metamer"].values[0, 2] * 32767))
    with pytest.raises(ValueError, match="sample_rate"):
        export_metamer_listening_experiment({"a": _audio_metamers(None)}, tmp_path / "x.html", class_names=WORDS)
    with pytest.raises(ValueError, match="sample_rate"):
        export_metamer_listening_experiment({"a": _audio_metamers(8000), "b": _audio_metamers(16000)},
                                            tmp_path / "x.html", class_names=WORDS)
    with pytest.raises(TypeError, match="generator name"):
        export_metamer_listening_experiment({}, tmp_path / "x.html", class_names=WORDS)


# ----------------------------------------------------------------------------- in a real browser
def _chrome(download_dir: Path):
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium not installed (pip install selenium)")
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver_path = shutil.which("chromedriver")
    if not binary or not driver_path:
        pytest.skip("headless Chromium not found (apt-get install -y chromium chromium-driver)")
    opts = Options()
    opts.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--autoplay-policy=no-user-gesture-required", "--mute-audio"):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    try:
        return webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as err:  # a broken browser install must not fail the suite
        pytest.skip(f"could not start headless Chromium: {err}")


def _wait(pred, what, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_listening_page_in_headless_chromium(tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    labels = [0, 5, 9, 11]
    ids = [f"clip{i}" for i in range(4)]
    clips = _clips(4, samples=SR // 10)  # 0.1 s each
    path = export_listening_experiment(clips, tmp_path / "listen.html", sample_rate=SR, class_names=WORDS, labels=labels,
                                       stimulus_ids=ids, conditions={"kind": ["natural", "metamer", "metamer", "natural"]})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _chrome(downloads)
    try:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.get(path.as_uri() + "?seed=3")
        driver.find_element(By.ID, "participant").send_keys("L1")
        driver.find_element(By.ID, "start-button").click()
        shown, answers = [], []
        for k in range(4):
            player = driver.find_element(By.ID, "stimulus")
            sid = player.get_attribute("data-stimulus-id")
            shown.append(sid)
            truth = labels[ids.index(sid)]
            # the words unlock once the sound has played to its end
            _wait(lambda: driver.find_element(By.ID, f"choice-{truth}").is_enabled(), "the sound to end")
            assert player.get_attribute("src").startswith("data:audio/wav;base64,")
            if k % 2 == 0:  # answer by clicking the right word
                answers.append(truth)
                driver.find_element(By.ID, f"choice-{truth}").click()
            else:  # type a unique prefix of a wrong word into the filter box and press Enter
                wrong = (truth + 1) % len(WORDS)
                answers.append(wrong)
                box = driver.find_element(By.ID, "filter")
                box.send_keys(WORDS[wrong])
                visible = [b.get_attribute("data-label") for b in driver.find_elements(By.CSS_SELECTOR, "#choices button")
                           if b.is_displayed()]
                assert str(wrong) in visible and len(visible) < len(WORDS)
                box.send_keys(Keys.ENTER)
            _wait(lambda: len(driver.execute_script("return window.neurocompareExperiment.state.rows")) == k + 1,
                  "the answer to be logged")
        assert driver.find_element(By.ID, "done").is_displayed()
        backup = driver.execute_script("return window.localStorage.getItem('neurocompare-Wordrecognition')")
        driver.find_element(By.ID, "download-button").click()
        target = downloads / "responses_L1.csv"
        _wait(lambda: target.is_file() and not list(downloads.glob("*.crdownload")), "the CSV download")
    finally:
        driver.quit()
    assert backup == target.read_text()  # the localStorage copy is the downloaded file
    rows = read_responses(target)
    assert [r["stimulus_id"] for r in rows] == shown and sorted(shown) == ids
    assert [r["response_label"] for r in rows] == answers
    assert [r["correct"] for r in rows] == [1, 0, 1, 0]
    assert [r["response_class"] for r in rows] == [WORDS[a] for a in answers]
    assert {r["session_seed"] for r in rows} == {"3"}
    s = summarize_responses(rows, by=["kind"], n_boot=0)
    assert int(s["n"].sum()) == 4
