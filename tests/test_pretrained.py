"""The shipped natural-image model ``convnet_small_simclr`` (neurocompare/models/pretrained.py).

Its weights are checked against their sha256, its untrained twin is the seeded ``convnet_small``,
its preprocessing turns any RGB stimulus into a 40x40 luminance image, and (on the real data) it is
closer to held-out V4 than its untrained twins.
"""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest
import torch

from neurocompare.models import build_model, resolve_model
from neurocompare.models import pretrained as pt

NAME = "convnet_small_simclr"


def test_shipped_file_matches_its_recorded_sha256():
    path = pt.weights_path(NAME)
    assert path.stat().st_size < 5 * 2**20  # "a few MB at most"
    # independent digest of the bytes (hashlib over the whole file, not the chunked reader)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == pt.PRETRAINED[NAME].sha256
    assert pt.file_sha256(path) == pt.PRETRAINED[NAME].sha256


def test_pretrained_loads_the_file_and_the_twin_is_the_seeded_convnet_small():
    trained = build_model(NAME)
    state = torch.load(pt.weights_path(NAME), map_location="cpu", weights_only=True)
    assert not any(k.startswith("fc.") for k in state)  # SimCLR does not train the classifier
    for k, v in state.items():
        assert torch.equal(trained.state_dict()[k], v), k
    for seed in (0, 3):
        twin = build_model(NAME, pretrained=False, seed=seed)
        ref = build_model("convnet_small", in_channels=1, seed=seed)
        for k, v in ref.state_dict().items():
            assert torch.equal(twin.state_dict()[k], v), k
    twin0 = build_model(NAME, pretrained=False, seed=0)
    # trained differs from its twin in every conv layer, and shares the seeded fc
    for k in ("block1.conv.weight", "block2.conv.weight"):
        assert not torch.allclose(trained.state_dict()[k], twin0.state_dict()[k])
    assert torch.equal(trained.fc.weight, twin0.fc.weight)
    assert build_model(NAME, num_classes=92).fc.out_features == 92


def test_preprocessing_gives_40px_luminance():
    rm = resolve_model(NAME)
    x = torch.rand(3, 3, 112, 112)
    y = rm.preprocessing(x)
    assert y.shape == (3, 1, 40, 40)
    # a uniform image stays uniform: luminance with BT.601 weights (sum 1), resizing preserves constants
    c = torch.tensor([0.2, 0.5, 0.9]).view(1, 3, 1, 1).expand(1, 3, 112, 112)
    expected = 0.299 * 0.2 + 0.587 * 0.5 + 0.114 * 0.9
    assert torch.allclose(rm.preprocessing(c), torch.full((1, 1, 40, 40), expected), atol=1e-6)
    out = rm.model(y)
    assert out.shape == (3, 10) and torch.isfinite(out).all()


def test_damaged_or_missing_weights_are_refused(tmp_path):
    bad = tmp_path / "w.pt"
    shutil.copy(pt.weights_path(NAME), bad)
    with open(bad, "r+b") as fh:  # flip one byte in the middle
        fh.seek(bad.stat().st_size // 2)
        b = fh.read(1)
        fh.seek(-1, 1)
        fh.write(bytes([b[0] ^ 0xFF]))
    with pytest.raises(ValueError, match="sha256"):
        pt.load_state_dict(NAME, path=bad)
    # the same file is accepted with its own digest (the check is what refused it)
    state = pt.load_state_dict(NAME, path=pt.weights_path(NAME), sha256=pt.file_sha256(pt.weights_path(NAME)))
    assert "block1.conv.weight" in state
    with pytest.raises(ValueError, match="Unknown pretrained model 'nope'. Available: convnet_small_simclr"):
        pt.weights_path("nope")
    with pytest.raises(ValueError, match="1 \\(luminance\\) channel"):
        build_model(NAME, in_channels=3)


def test_missing_file_says_how_to_regenerate(monkeypatch, tmp_path):
    monkeypatch.setattr(pt, "WEIGHTS_DIR", tmp_path)
    with pytest.raises(FileNotFoundError, match="analyses.natural_image_model"):
        build_model(NAME)


@pytest.mark.requires_data
def test_trained_beats_untrained_twins_on_a_held_out_v4_session():
    """Held-out session 210325 (never trained on): linear CKA of block2 with the repeat-averaged
    responses is higher for the shipped weights than for each of three untrained twins."""
    v4 = pytest.importorskip("data_loaders.cowley2023_v4")
    from data_loaders import get_root

    try:
        resp, stim = v4.load("210325", root=get_root(), images=True)
    except FileNotFoundError as err:
        pytest.skip(f"Cowley 2023 data not available: {err}")
    import neurocompare as nc

    x = torch.from_numpy(np.asarray(stim.values, dtype=np.float32) / 255.0).permute(0, 3, 1, 2)
    r = np.asarray(resp.values, dtype=np.float64)

    def cka(model):
        feats = nc.extract(model, x, layers=["block2"], preprocessing=resolve_model(NAME).preprocessing)
        f = np.asarray(feats["block2"].values, dtype=np.float64)
        return float(nc.cka(f, r))

    trained = cka(build_model(NAME))
    twins = [cka(build_model(NAME, pretrained=False, seed=s)) for s in range(3)]
    assert trained > max(twins), (trained, twins)
