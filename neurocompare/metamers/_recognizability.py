"""Cross-model recognizability: every judge model classifies every generator's metamers.

The table is lined up by *stage* (e.g. early / middle / late), so generators of different
architectures can be compared; chance level and bootstrap confidence intervals come with it
(Feather et al. 2023, Fig. 2).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from neurocompare._seeding import numpy_rng
from neurocompare.metamers._checks import check_dataset, check_model, default_device, eval_mode
from neurocompare.metamers._validity import predict_labels

__all__ = ["recognizability"]


def _stages(ds: xr.Dataset) -> list[str]:
    return [str(s) for s in (ds["stage"].values if "stage" in ds.coords else ds["layer"].values)]


def _check_inputs(metamers: Any, judge_models: Any, ci: float, n_boot: Any) -> list[str]:
    """Validate the arguments; return the stage names shared by every generator."""
    if not isinstance(metamers, Mapping) or not metamers:
        raise TypeError(
            "recognizability() needs a non-empty dict {generator name: metamer Dataset}; got "
            f"{type(metamers).__name__}."
        )
    if not isinstance(judge_models, Mapping) or not judge_models:
        raise TypeError(
            "recognizability() needs a non-empty dict {judge name: nn.Module}; got "
            f"{type(judge_models).__name__}."
        )
    for name, m in judge_models.items():
        check_model(m, f"recognizability() judge {name!r}")
    if not 0 < ci < 1:
        raise ValueError(f"ci must lie in (0, 1); got {ci!r}.")
    if not isinstance(n_boot, int) or n_boot < 0:
        raise ValueError(f"n_boot must be a non-negative integer; got {n_boot!r}.")
    gens = list(metamers)
    stages: list[str] | None = None
    for g in gens:
        ds = check_dataset(metamers[g], f"recognizability() generator {g!r}")
        if "label" not in ds.coords:
            raise ValueError(
                f"recognizability(): metamers of {g!r} carry no 'label' coordinate; pass labels= to "
                "synthesize_metamers()."
            )
        st = _stages(ds)
        if stages is None:
            stages = st
        elif set(st) != set(stages):
            raise ValueError(
                f"recognizability(): generator {g!r} has stages {st} but {gens[0]!r} has {stages}. "
                "Pass layers as {stage: module name} to synthesize_metamers() so they line up."
            )
    return stages


def _infer_n_classes(judge: nn.Module, ds: xr.Dataset, device: Any) -> int:
    with eval_mode(judge), torch.no_grad():
        x = torch.from_numpy(ds["original"].values[:1])
        return int(judge(x.to(default_device(judge, device))).shape[-1])


def recognizability(
    metamers: Mapping[str, xr.Dataset],
    judge_models: Mapping[str, nn.Module],
    *,
    valid: Mapping[str, Any] | None = None,
    n_classes: int | None = None,
    n_boot: int = 1000,
    ci: float = 0.95,
    seed: int = 0,
    batch_size: int = 256,
    device: Any = None,
    per_image: bool = False,
) -> xr.Dataset:
    """Classify every generator's metamers with every judge: accuracy by (generator, judge, stage).

    Parameters
    ----------
    metamers : dict {generator name: metamer Dataset}
        Each from :func:`synthesize_metamers`, with a ``label`` coordinate (true classes). Layers
        are lined up across generators by their ``stage`` coordinate (pass layers as
        ``{stage: module}`` when architectures differ).
    judge_models : dict {judge name: nn.Module}
        Classifiers returning logits (batch, n_classes); generators may be judges too.
    valid : dict {generator name: bool array (layer, image)}, optional
        Only these metamers are scored (e.g. ``check_validity(...)['valid']``).
    n_classes : int, optional
        For the chance level; default inferred from the first judge's output width.
    n_boot : int
        Bootstrap resamples of the images (the same resamples for every cell); 0 skips CIs.
    ci : float
        Confidence level of the percentile interval.
    seed : int
        Seeds the bootstrap (``neurocompare._seeding.numpy_rng(seed)``).
    per_image : bool
        Also return ``correct`` (generator, judge, stage, image): 1.0 / 0.0 per metamer, NaN where
        not scored; needs the same number of images for every generator. Use it for paired
        bootstraps across generators (same images).

    Returns
    -------
    xarray.Dataset
        dims (generator, judge, stage): ``accuracy``, ``error`` (s.d. of the bootstrap
        accuracies; NaN without bootstrap), ``ci_low``, ``ci_high`` (percentile interval), ``n``
        (metamers scored); dims (generator, judge): ``accuracy_natural`` (judge on the original
        images); attrs ``chance`` = 1 / n_classes, ``ci``, ``n_boot``, ``seed``, ``error_kind``.

    Raises
    ------
    TypeError
        Empty or non-dict ``metamers`` / ``judge_models``, a judge that is not an ``nn.Module``.
    ValueError
        Generators without labels or with stages that do not line up, a ``valid`` mask of the
        wrong shape, ``ci`` outside (0, 1), negative ``n_boot``, ``n_classes`` < 2.

    See Also
    --------
    neurocompare.metamers.synthesize_metamers, neurocompare.metamers.check_validity
    """
    stages = _check_inputs(metamers, judge_models, ci, n_boot)
    gens, judges = list(metamers), list(judge_models)
    if n_classes is None:
        n_classes = _infer_n_classes(judge_models[judges[0]], metamers[gens[0]], device)
    if not isinstance(n_classes, int) or n_classes < 2:
        raise ValueError(f"n_classes must be an integer >= 2; got {n_classes!r}.")
    rng = numpy_rng(seed)  # the stream of np.random.default_rng(seed)
    alpha = (1 - ci) / 2
    shape = (len(gens), len(judges), len(stages))
    acc, err, lo, hi = (np.full(shape, np.nan) for _ in range(4))
    count = np.zeros(shape, dtype=np.int64)
    nat = np.full((len(gens), len(judges)), np.nan)
    n_imgs = {metamers[g].sizes["image"] for g in gens}
    if per_image and len(n_imgs) != 1:
        raise ValueError(
            f"recognizability(per_image=True) needs the same number of images for every generator; got "
            f"{sorted(n_imgs)}."
        )
    per = np.full(shape + (max(n_imgs),), np.nan) if per_image else None
    for gi, g in enumerate(gens):
        ds = metamers[g]
        labels = ds["label"].values
        st = _stages(ds)
        n_img = ds.sizes["image"]
        mask = np.ones((ds.sizes["layer"], n_img), dtype=bool)
        if valid is not None and g in valid:
            mask = np.asarray(valid[g], dtype=bool)
            if mask.shape != (ds.sizes["layer"], n_img):
                raise ValueError(
                    f"recognizability(): valid[{g!r}] has shape {mask.shape}; expected (layer, image) = "
                    f"{(ds.sizes['layer'], n_img)}."
                )
        boot = rng.integers(0, n_img, (n_boot, n_img)) if n_boot else None
        for ji, j in enumerate(judges):
            judge = judge_models[j]
            nat[gi, ji] = float(
                np.mean(predict_labels(judge, ds["original"].values, batch_size=batch_size, device=device) == labels)
            )
            for li in range(ds.sizes["layer"]):
                si = stages.index(st[li])
                pred = predict_labels(judge, ds["metamer"].values[li], batch_size=batch_size, device=device)
                correct = (pred == labels).astype(float)
                m = mask[li]
                if per is not None:
                    per[gi, ji, si] = np.where(m, correct, np.nan)
                count[gi, ji, si] = int(m.sum())
                if not m.any():
                    continue
                acc[gi, ji, si] = correct[m].mean()
                if boot is not None:
                    num = (correct * m)[boot].sum(1)
                    den = m[boot].sum(1)
                    vals = num[den > 0] / den[den > 0]
                    lo[gi, ji, si], hi[gi, ji, si] = np.quantile(vals, [alpha, 1 - alpha])
                    err[gi, ji, si] = vals.std(ddof=1) if vals.size > 1 else np.nan
    dims = ("generator", "judge", "stage")
    data = {
        "accuracy": (dims, acc),
        "error": (dims, err),
        "ci_low": (dims, lo),
        "ci_high": (dims, hi),
        "n": (dims, count),
        "accuracy_natural": (("generator", "judge"), nat),
    }
    if per is not None:
        data["correct"] = (dims + ("image",), per)
    return xr.Dataset(
        data,
        coords={"generator": gens, "judge": judges, "stage": stages},
        attrs={
            "chance": 1.0 / n_classes,
            "ci": ci,
            "n_boot": n_boot,
            "seed": seed,
            "error_kind": f"bootstrap sd ({n_boot} resamples of images)" if n_boot else "none",
        },
    )
