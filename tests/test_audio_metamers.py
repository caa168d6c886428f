"""Audio metamers through neurocompare.metamers: waveforms (n_clips, samples) as model inputs.

Known answer: a layer that computes the magnitude spectrum |rfft(x)| is blind to phase, so its
metamers match the original's magnitude spectrum while the waveform itself stays unrelated to
the original (white-noise start, no [0, 1] clamp). Validity, recognizability and the files work
on waveforms exactly as on images.
"""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pytest
import torch
from torch import nn

from neurocompare.metamers import (
    MetamerSynthesis,
    check_validity,
    load_metamers,
    recognizability,
    save_metamers,
    synthesize_metamers,
)

N_SAMPLES = 64


@pytest.fixture(autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


class Magnitude(nn.Module):
    """|rfft(x)| of waveforms (batch, samples) -> (batch, samples // 2 + 1)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.fft.rfft(x, dim=-1).abs()


def spectrum_classifier(seed: int = 0, n_classes: int = 3) -> nn.Module:
    g = torch.Generator().manual_seed(seed)
    model = nn.Sequential(OrderedDict(spectrum=Magnitude(), fc=nn.Linear(N_SAMPLES // 2 + 1, n_classes)))
    with torch.no_grad():
        model.fc.weight.copy_(torch.randn(model.fc.weight.shape, generator=g))
        model.fc.bias.zero_()
    return model


def clips(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Broadband noise clips, each with its own random spectral envelope (RMS ~0.1).

    Every one of the 33 frequency bins carries energy with a random phase, so a waveform with the
    same magnitude spectrum but other phases is nearly uncorrelated with the clip.
    """
    g = torch.Generator().manual_seed(seed)
    n_freq = N_SAMPLES // 2 + 1
    envelope = torch.exp(torch.randn(n, n_freq, generator=g))
    phase = 2 * torch.pi * torch.rand(n, n_freq, generator=g)
    x = torch.fft.irfft(envelope * torch.exp(1j * phase), n=N_SAMPLES, dim=-1)
    return 0.1 * x / x.pow(2).mean(1, keepdim=True).sqrt()


AUDIO = dict(pixel_range=None, init_mean=0.0, init_std=0.1, n_rounds=8, steps_per_round=50, step_size=0.3,
             progress=False)


def test_waveform_metamers_match_the_spectrum_not_the_waveform():
    x0 = clips()
    ds = synthesize_metamers(spectrum_classifier(), {"early": "spectrum"}, x0, seed=1, **AUDIO)
    assert ds["metamer"].dims == ("layer", "image", "sample") and ds["original"].dims == ("image", "sample")
    assert ds.sizes["sample"] == N_SAMPLES
    met = torch.from_numpy(ds["metamer"].values[0])
    spec_m, spec_0 = Magnitude()(met), Magnitude()(x0)
    rel = ((spec_m - spec_0).norm(dim=1) / spec_0.norm(dim=1)).numpy()
    # 400 normalised steps from white noise (last step 0.3 / 128): the spectrum matches to 2 percent ...
    assert (rel < 0.02).all(), rel
    np.testing.assert_allclose(ds["relative_error"].values[0], rel, rtol=1e-4, atol=1e-6)
    # ... while the waveform is not the original: its phases come from the noise, so the correlation
    # with the original is that of ~33 random phase differences, sd ~ 1 / sqrt(33) = 0.17 (bound: 4 sd)
    r = [np.corrcoef(met[i].numpy(), x0[i].numpy())[0, 1] for i in range(len(x0))]
    assert max(abs(v) for v in r) < 0.7, r
    assert float(met.min()) < 0  # no [0, 1] clamp for waveforms


def test_initial_noise_is_scaled_to_the_clip_level_and_seeded():
    x0 = clips(3)
    rms = float(x0.pow(2).mean().sqrt())
    syn = MetamerSynthesis(spectrum_classifier(), "spectrum", x0, **dict(AUDIO, init_std=rms), seed=5)
    noise = syn.metamers[0]
    # N(0, rms^2) noise: sample sd within 5 standard errors (sd of a sample sd ~ rms / sqrt(2 n))
    n = noise.numel()
    assert float(noise.std()) == pytest.approx(rms, abs=5 * rms / np.sqrt(2 * n))
    assert abs(float(noise.mean())) < 5 * rms / np.sqrt(n)
    again = MetamerSynthesis(spectrum_classifier(), "spectrum", x0, **dict(AUDIO, init_std=rms), seed=5).metamers
    assert torch.equal(noise, again[0])


def test_default_pixel_range_refuses_waveforms_and_says_what_to_do():
    with pytest.raises(ValueError, match="None for unconstrained, as for waveforms"):
        synthesize_metamers(spectrum_classifier(), "spectrum", clips(), progress=False)


def test_input_errors_name_waveform_shapes():
    with pytest.raises(ValueError, match=r"\(n_clips, samples\) for waveforms"):
        synthesize_metamers(spectrum_classifier(), "spectrum", torch.zeros(N_SAMPLES), pixel_range=None)
    with pytest.raises(TypeError, match=r"\(n_clips, samples\) for waveforms"):
        synthesize_metamers(spectrum_classifier(), "spectrum", [0.0] * N_SAMPLES, pixel_range=None)


def test_validity_and_recognizability_on_waveforms():
    x0 = clips(4, seed=0)
    gen = spectrum_classifier(0)
    labels = gen(x0).argmax(1).detach().numpy()
    ds = synthesize_metamers(gen, {"early": "spectrum", "final": "fc"}, x0, labels=labels, seed=1, **AUDIO)
    null = clips(12, seed=3)
    val = check_validity(gen, ds, null, n_null_pairs=200, seed=0)
    # spectrum metamers: rank correlation with the original's spectrum near 1, far above natural pairs
    assert (val["spearman"].sel(layer="spectrum") > 0.95).all()
    assert bool(val["valid"].sel(layer="spectrum").all())
    # a different judge (another readout of the same spectrum) agrees with its own labels of the originals
    judge = spectrum_classifier(7)
    table = recognizability({"gen": ds}, {"gen": gen, "judge": judge}, n_boot=50, seed=0)
    own = judge(x0).argmax(1).numpy()
    met_pred = judge(torch.from_numpy(ds["metamer"].values[0])).argmax(1).numpy()
    assert table["accuracy"].sel(generator="gen", judge="judge", stage="early") == pytest.approx(
        float(np.mean(met_pred == labels))
    )
    assert table["accuracy"].sel(generator="gen", judge="gen", stage="early") == 1.0
    assert table["accuracy_natural"].sel(generator="gen", judge="judge") == pytest.approx(float(np.mean(own == labels)))
    with pytest.raises(ValueError, match="same shape"):
        check_validity(gen, ds, torch.zeros(5, N_SAMPLES + 1), n_null_pairs=10)


def test_audio_metamer_files_keep_samples_and_rate(tmp_path):
    ds = synthesize_metamers(spectrum_classifier(), "spectrum", clips(2), labels=[0, 1], seed=0,
                             **dict(AUDIO, n_rounds=1, steps_per_round=3))
    ds.attrs["sample_rate"] = 16000
    path = save_metamers(ds, tmp_path / "audio_metamers")
    back = load_metamers(path)
    assert back["metamer"].dims == ("layer", "image", "sample") and back.attrs["sample_rate"] == 16000
    np.testing.assert_array_equal(back["metamer"].values, ds["metamer"].values)


# ----------------------------------------------------------------------------- the study (analyses/audio_metamers.py)
def _table(correct: np.ndarray, gens: list[str]):
    """A recognizability-like table: correct (generator, judge, stage, image), judges = generators."""
    import xarray as xr

    return xr.Dataset({"correct": (("generator", "judge", "stage", "image"), correct)},
                      coords={"generator": gens, "judge": gens, "stage": ["early", "late"]}, attrs={"chance": 0.1})


def test_study_summary_averages_the_other_models_and_pairs_the_bootstrap():
    from analyses.audio_metamers import Config, summarize

    gens = ["standard_s0", "l2_s0"]
    info = {"standard_s0": {"kind": "standard", "seed": 0}, "l2_s0": {"kind": "l2", "seed": 0}}
    c = np.zeros((2, 2, 2, 4))
    c[0, 1, 0] = [1, 1, 1, 0]  # l2 judging standard's early metamers: 3 of 4
    c[0, 0] = 1.0              # the standard generator on its own metamers: all right
    c[1, 0, 1] = [1, 1, 1, 1]  # standard judging l2's late metamers: 4 of 4
    c[1, 0, 0, 3] = np.nan     # one invalid l2 early metamer
    cfg = Config(kinds=("standard", "l2"), seeds=(0,), n_boot=500)
    s = summarize(_table(c, gens), info, cfg)
    assert s["standard"]["early"]["other_models"] == 0.75 and s["standard"]["early"]["generator_itself"] == 1.0
    assert s["standard"]["late"]["other_models"] == 0.0
    assert s["l2"]["late"]["other_models"] == 1.0 and s["l2"]["early"]["n_valid"] == 3
    assert s["l2_minus_standard"]["late"]["difference"] == 1.0
    assert s["l2_minus_standard"]["late"]["ci95"] == [1.0, 1.0] and s["l2_minus_standard"]["late"]["excludes_zero"]
    assert s["l2_minus_standard"]["early"]["difference"] == pytest.approx(0.0 - 0.75)
    lo, hi = s["standard"]["early"]["ci95"]
    assert 0.0 <= lo <= 0.75 <= hi <= 1.0 and s["chance"] == 0.1
    # only standard judges: the standard generator has none but itself (NaN), l2 is judged by standard_s0
    st = summarize(_table(c, gens), info, cfg, judge_kind="standard")
    assert np.isnan(st["standard"]["late"]["other_models"]) and st["standard"]["late"]["n_valid"] == 0
    assert st["l2"]["late"]["other_models"] == 1.0 and st["l2"]["early"]["other_models"] == 0.0


def test_study_ac_summary_pairs_trained_and_untrained_splits():
    from analyses.audio_metamers import summarize_ac

    scores = {"standard_s0": {"block1": {"per_split": [0.5, 0.7]}},
              "untrained_standard_s0": {"block1": {"per_split": [0.4, 0.4]}},
              "standard_s1": {"block1": {"per_split": [0.6, 0.6]}},
              "untrained_standard_s1": {"block1": {"per_split": [0.5, 0.7]}}}
    info = {"standard_s0": {"kind": "standard", "seed": 0}, "standard_s1": {"kind": "standard", "seed": 1}}
    row = summarize_ac(scores, info)["standard"]["block1"]
    assert row["trained"] == pytest.approx(0.6) and row["untrained"] == pytest.approx(0.5)
    # differences per split: 0.1, 0.3, 0.1, -0.1 -> mean 0.1, sd sqrt(((0)^2 + 0.2^2 + 0 + 0.2^2) / 3)
    assert row["difference"] == pytest.approx(0.1)
    assert row["difference_sd_splits"] == pytest.approx(np.sqrt(0.08 / 3))
    assert row["per_seed_difference"] == pytest.approx([0.2, 0.0])


@pytest.mark.slow
def test_study_small_runs_end_to_end_and_reuses_its_work(tmp_path, data_root):
    pytest.importorskip("espeakng_loader")
    from analyses.audio_metamers import Config, run

    cfg = Config(out=str(tmp_path), small=True, kinds=("standard", "l2"), data=str(data_root), n_boot=50).shrink()
    res = run(cfg)
    assert set(res["models"]) == {"standard_s0", "l2_s0"}
    assert res["layers"]["early"] == "cochleagram" and res["layers"]["final"] == "logits"
    for name in res["models"]:
        ds = load_metamers(tmp_path / f"metamers_{name}.nc")
        assert ds["metamer"].dims == ("layer", "image", "sample") and ds.attrs["sample_rate"] == 16000
        assert list(ds["image_id"].values) == res["clip_ids"]
        assert not (tmp_path / f"state_{name}.npz").exists()  # finished: the state is gone
    assert set(res["auditory_cortex_summary"]["standard"]) >= {"cochleagram", "block1", "logits"}
    for f in ("recognizability.png", "auditory_cortex.png", "cochleagrams.png", "listening.html", "results.jsonl"):
        assert (tmp_path / f).is_file()
    again = run(cfg)  # the models and metamers are reused, so the numbers repeat exactly
    assert again["relative_error_median"] == res["relative_error_median"]
    # (compared as JSON text: NaN cells, e.g. a stage without valid metamers, are equal there)
    assert json.dumps(again["summary_valid"], sort_keys=True) == json.dumps(res["summary_valid"], sort_keys=True)
    assert all(t < 5 for t in again["synthesis_seconds"].values())
