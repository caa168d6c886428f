"""Tests for analyses/model_metamers.py: the standard-vs-adversarial summary on constructed tables,
model caching, and (slow) the whole study in its small setting on real MNIST."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import xarray as xr

from analyses.model_metamers import Config, _load_model, _save_model, build, summarize


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread avoids thread hand-off costs on a shared CPU."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _table(correct: np.ndarray, gens, judges, stages=("early", "late")):
    return xr.Dataset(
        {"correct": (("generator", "judge", "stage", "image"), correct)},
        coords={"generator": list(gens), "judge": list(judges), "stage": list(stages)},
        attrs={"chance": 0.1},
    )


def test_summary_on_constructed_table():
    gens = ["a_standard", "a_l2"]
    judges = gens + ["other"]
    c = np.zeros((2, 3, 2, 10))
    c[1, :, 1, :] = 1.0  # every judge recognises every late-stage metamer of the adversarial model
    c[0, 0, :, :] = 1.0  # the standard model recognises its own metamers (excluded from the summary)
    c[0, 2, 0, :5] = np.nan  # five early metamers of the standard model were invalid
    s = summarize(_table(c, gens, judges), {"a_standard": {"kind": "standard"}, "a_l2": {"kind": "l2"}},
                  Config(n_boot=200))
    assert s["standard"]["late"]["accuracy"] == 0.0 and s["l2"]["late"]["accuracy"] == 1.0
    assert s["l2_minus_standard"]["late"]["difference"] == 1.0
    assert s["l2_minus_standard"]["late"]["excludes_zero"]
    assert s["l2_minus_standard"]["early"]["difference"] == 0.0
    assert not s["l2_minus_standard"]["early"]["excludes_zero"]
    assert s["standard"]["early"]["n_valid"] == 10  # mean over the other judges: image valid if any judge scored it
    assert s["chance"] == 0.1
    # only judges of another architecture ('other'): it sees all adversarial late metamers, no others
    x = summarize(_table(c, gens, judges), {"a_standard": {"kind": "standard"}, "a_l2": {"kind": "l2"}},
                  Config(n_boot=50), cross_arch=True)
    assert x["l2"]["late"]["accuracy"] == 1.0 and x["standard"]["early"]["n_valid"] == 5


def test_model_cache_round_trip(tmp_path):
    model = build("cnn", seed=3)
    meta = {"train": {"arch": "cnn", "seed": 3}, "clean_accuracy": 0.5}
    _save_model(model, tmp_path / "m", meta)
    other = build("cnn", seed=4)
    assert _load_model(other, tmp_path / "m", {"train": {"arch": "cnn", "seed": 3}})
    for p, q in zip(model.state_dict().values(), other.state_dict().values()):
        assert np.array_equal(p.numpy(), q.numpy())
    assert not _load_model(other, tmp_path / "m", {"train": {"arch": "cnn", "seed": 5}})  # other settings: retrain
    assert json.loads((tmp_path / "m.json").read_text())["clean_accuracy"] == 0.5
    with pytest.raises(ValueError, match="Unknown architecture"):
        build("vit", 0)


@pytest.mark.slow
@pytest.mark.requires_data
def test_small_study_runs_end_to_end(tmp_path, data_root):
    from analyses.model_metamers import run

    cfg = Config(out=str(tmp_path), small=True, data=str(data_root), threads=1).shrink()
    res = run(cfg)
    line = json.loads((tmp_path / "results.jsonl").read_text().splitlines()[-1])
    assert line["seed"] == 0 and set(line["fraction_valid"]) == {"cnn_standard", "cnn_l2", "mlp_standard", "mlp_l2"}
    for name in ("recognizability.png", "std_vs_adv.png", "experiment.html", "metamers_cnn_l2.nc"):
        assert (tmp_path / name).is_file()
    assert set(res["summary_other_judges"]["l2_minus_standard"]) == {"early", "middle", "late", "final"}
    # a rerun loads the cached models and metamers instead of training and synthesising again
    res2 = run(cfg)
    assert all(m["cached"] for m in res2["models"].values())
    assert res2["fraction_valid"] == res["fraction_valid"]
    assert max(res2["synthesis_seconds"].values()) < 5
