"""Tests for the static HTML recognition experiment (neurocompare.metamers: the web experiment).

The browser test drives the page in headless Chromium with Selenium; it skips when either is
missing. Install (Debian, as root): ``apt-get install -y chromium chromium-driver`` and
``pip install selenium``.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from neurocompare.metamers import (
    CSV_COLUMNS,
    export_experiment,
    export_metamer_experiment,
    read_responses,
    summarize_responses,
)

CLASSES = ["zero", "one", "two"]


def _images(n=5, seed=0):
    return np.random.default_rng(seed).random((n, 1, 8, 8))


def _embedded(page: str, name: str):
    m = re.search(rf"const {name} = (.*?);\n", page)
    return json.loads(m.group(1).replace("<\\/", "</"))


def test_page_is_self_contained_and_complete(tmp_path):
    labels = [0, 1, 2, 1, 0]
    path = export_experiment(_images(), tmp_path / "exp", class_names=CLASSES, labels=labels,
                             conditions={"generator": list("aabbc")}, title="Digits <test>")
    assert path.suffix == ".html"
    page = path.read_text()
    # no external resources: everything is inline
    assert not re.search(r"""(src|href)\s*=\s*["']https?:""", page)
    assert "<title>Digits &lt;test&gt;</title>" in page
    stimuli = _embedded(page, "STIMULI")
    exp = _embedded(page, "EXPERIMENT")
    assert [s["label"] for s in stimuli] == labels
    assert all(s["src"].startswith("data:image/png;base64,") for s in stimuli)
    assert [s["conditions"]["generator"] for s in stimuli] == list("aabbc")
    assert exp["class_names"] == CLASSES and exp["columns"] == list(CSV_COLUMNS)


def test_png_encoding_round_trips_pixels(tmp_path):
    import base64
    import io

    from PIL import Image

    img = np.linspace(0, 1, 64).reshape(1, 1, 8, 8)
    page = export_experiment(np.concatenate([img, img]), tmp_path / "e.html", class_names=CLASSES).read_text()
    src = _embedded(page, "STIMULI")[0]["src"]
    arr = np.asarray(Image.open(io.BytesIO(base64.b64decode(src.split(",", 1)[1]))))
    np.testing.assert_array_equal(arr, np.round(img[0, 0] * 255).astype(np.uint8))


def test_export_errors(tmp_path):
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        export_experiment(_images() * 255, tmp_path / "e.html", class_names=CLASSES)
    with pytest.raises(ValueError, match="shape"):
        export_experiment(np.zeros((3, 8)), tmp_path / "e.html", class_names=CLASSES)
    with pytest.raises(ValueError, match="channels"):
        export_experiment(np.zeros((3, 2, 8, 8)), tmp_path / "e.html", class_names=CLASSES)
    with pytest.raises(TypeError, match="numeric"):
        export_experiment(np.array([["a"]]), tmp_path / "e.html", class_names=CLASSES)
    with pytest.raises(ValueError, match="class_names"):
        export_experiment(_images(), tmp_path / "e.html", class_names=["only"])
    with pytest.raises(ValueError, match="labels"):
        export_experiment(_images(), tmp_path / "e.html", class_names=CLASSES, labels=[0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="stimulus_ids"):
        export_experiment(_images(), tmp_path / "e.html", class_names=CLASSES, stimulus_ids=["a"] * 5)
    with pytest.raises(ValueError, match="reserved"):
        export_experiment(_images(), tmp_path / "e.html", class_names=CLASSES, conditions={"trial": [1] * 5})
    with pytest.raises(ValueError, match="one per image"):
        export_experiment(_images(), tmp_path / "e.html", class_names=CLASSES, conditions={"g": [1]})
    with pytest.raises(ValueError, match="display_size"):
        export_experiment(_images(), tmp_path / "e.html", class_names=CLASSES, display_size=2)


def _write_csv(path: Path, rows):
    cols = list(CSV_COLUMNS) + ["kind"]
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, cols)
        w.writeheader()
        for r in rows:
            w.writerow(r)


def test_read_and_summarize_responses(tmp_path):
    base = dict(participant="p", session_seed=1, true_class="", response_class="", rt_ms=500, timestamp="t")
    rows = [dict(base, trial=i, stimulus_id=f"s{i}", true_label=0, response_label=r, correct=int(r == 0),
                 kind=k) for i, (r, k) in enumerate([(0, "natural"), (0, "natural"), (1, "metamer"),
                                                     (0, "metamer"), (2, "metamer"), (1, "metamer")])]
    _write_csv(tmp_path / "a.csv", rows)
    got = read_responses(tmp_path / "a.csv")
    assert len(got) == 6 and got[2]["response_label"] == 1 and got[2]["correct"] == 0
    s = summarize_responses(got, by=["kind"], n_boot=500)
    acc = dict(zip(s["kind"].values, s["accuracy"].values))
    assert acc == {"metamer": 0.25, "natural": 1.0}
    assert (s["ci_low"] <= s["accuracy"]).all() and (s["ci_high"] >= s["accuracy"]).all()
    assert s["n"].values.tolist() == [4, 2]
    # error: s.d. of the bootstrap accuracies; 0 for all-correct trials, near the binomial
    # sqrt(p (1 - p) / n) = sqrt(0.25 * 0.75 / 4) = 0.217 for the metamers (sd of the estimate
    # from 500 resamples is ~0.217 / sqrt(1000) = 0.007: 5 of those)
    err = dict(zip(s["kind"].values, s["error"].values))
    assert err["natural"] == 0.0 and err["metamer"] == pytest.approx(np.sqrt(0.25 * 0.75 / 4), abs=0.035)
    assert s.attrs["error_kind"] == "bootstrap sd (500 resamples of trials)"
    with pytest.raises(FileNotFoundError):
        read_responses(tmp_path / "none.csv")
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="missing"):
        read_responses(tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="Column 'stage'"):
        summarize_responses(got, by=["stage"])
    with pytest.raises(ValueError, match="no rows"):
        summarize_responses([])


def test_export_metamer_experiment(tmp_path):
    import torch

    from neurocompare.metamers import MetamerSynthesis

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 3))
    x0 = torch.from_numpy(_images(3)).float()
    ds = MetamerSynthesis(model, {"late": "1"}, x0, labels=[0, 1, 2], progress=False).to_dataset()
    valid = {"m": np.array([[True, False, True]])}
    path = export_metamer_experiment({"m": ds}, tmp_path / "m.html", class_names=CLASSES, valid=valid)
    stimuli = _embedded(path.read_text(), "STIMULI")
    kinds = [s["conditions"]["kind"] for s in stimuli]
    assert kinds.count("metamer") == 2 and kinds.count("natural") == 3
    assert {s["stimulus_id"] for s in stimuli if s["conditions"]["kind"] == "metamer"} == {
        "m|1|img_0000", "m|1|img_0002"}
    with pytest.raises(ValueError, match="label"):
        export_metamer_experiment({"m": ds.drop_vars("label")}, tmp_path / "x.html", class_names=CLASSES)
    with pytest.raises(ValueError, match="invalid"):
        export_metamer_experiment({"m": ds}, tmp_path / "x.html", class_names=CLASSES,
                                  valid={"m": np.zeros((1, 3), bool)}, include_originals=False)


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
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(download_dir), "download.prompt_for_download": False}
    )
    try:
        return webdriver.Chrome(service=Service(driver_path), options=opts)
    except Exception as err:  # a broken browser install must not fail the suite
        pytest.skip(f"could not start headless Chromium: {err}")


def test_experiment_in_headless_chromium(tmp_path):
    from selenium.webdriver.common.by import By

    labels = [0, 1, 2, 1, 0]
    ids = [f"img{i}" for i in range(5)]
    path = export_experiment(_images(), tmp_path / "exp.html", class_names=CLASSES, labels=labels,
                             stimulus_ids=ids, conditions={"generator": list("aabbc")})
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = _chrome(downloads)
    try:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.get(path.as_uri() + "?seed=7")
        driver.find_element(By.ID, "participant").send_keys("P01")
        driver.find_element(By.ID, "start-button").click()
        shown, answers = [], []
        for k in range(5):
            sid = driver.find_element(By.ID, "stimulus").get_attribute("data-stimulus-id")
            shown.append(sid)
            truth = labels[ids.index(sid)]
            answer = truth if k % 2 == 0 else (truth + 1) % 3  # right, wrong, right, wrong, right
            answers.append(answer)
            driver.find_element(By.ID, f"choice-{answer}").click()
        assert driver.find_element(By.ID, "done").is_displayed()
        driver.find_element(By.ID, "download-button").click()
        target = downloads / "responses_P01.csv"
        for _ in range(100):
            if target.is_file() and not list(downloads.glob("*.crdownload")):
                break
            time.sleep(0.1)
        assert target.is_file(), f"no CSV downloaded; found {list(downloads.iterdir())}"
        # the same seed gives the same order
        driver.get(path.as_uri() + "?seed=7")
        driver.find_element(By.ID, "start-button").click()
        assert driver.find_element(By.ID, "stimulus").get_attribute("data-stimulus-id") == shown[0]
    finally:
        driver.quit()
    rows = read_responses(target)
    assert [r["stimulus_id"] for r in rows] == shown
    assert sorted(shown) == ids and shown != ids  # every image once, shuffled
    assert [r["response_label"] for r in rows] == answers
    assert [r["correct"] for r in rows] == [1, 0, 1, 0, 1]
    assert [r["true_label"] for r in rows] == [labels[ids.index(s)] for s in shown]
    assert {r["participant"] for r in rows} == {"P01"} and {r["session_seed"] for r in rows} == {"7"}
    assert [r["generator"] for r in rows] == [list("aabbc")[ids.index(s)] for s in shown]
    assert all(r["rt_ms"] >= 0 for r in rows) and rows[0]["response_class"] == CLASSES[answers[0]]
