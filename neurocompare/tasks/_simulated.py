"""Simulated dorsomedial frontal cortex (DMFC) for Mental-Pong: neurons whose answer is known.

No DMFC recordings of Mental-Pong are public, so scoring is validated on simulated units that
track the ball the way Rajalingham et al. (2025) report DMFC does — also while it is hidden.
Each unit's rate is a random linear mixture of the true ball state, and spike counts are
Poisson; a model that carries the true state should therefore reach the noise ceiling, and one
that loses the ball behind the occluder should not.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from neurocompare._seeding import numpy_rng

__all__ = ["simulated_dmfc", "STATE_VARIABLES"]

STATE_VARIABLES = ("x", "y", "vx", "vy")


def simulated_dmfc(
    conditions: xr.Dataset,
    n_units: int = 100,
    n_repeats: int = 10,
    seed: int = 0,
    *,
    baseline: float = 10.0,
    gain: float = 3.0,
    variables: tuple[str, ...] = STATE_VARIABLES,
) -> xr.DataArray:
    """Poisson units tuned to random linear mixtures of the ball's true state.

    ``rate[c, u, t] = max(0, baseline + gain * sum_k W[u, k] z_k[c, t])`` spikes per frame,
    where ``z_k`` is state variable ``k`` (x, y, vx, vy by default, also during occlusion)
    z-scored over all valid frames and ``W[u] ~ N(0, I / K)``; each repetition draws
    ``Poisson(rate)`` counts independently.

    Parameters
    ----------
    conditions : xarray.Dataset
        From :func:`neurocompare.tasks.mental_pong_conditions`.
    n_units, n_repeats : int
        Units and repetitions (>= 2, for split-half reliabilities).
    seed : int
        Seeds the mixing weights and the spikes (``numpy_rng(seed, "simulated_dmfc", ...)``).
    baseline, gain : float
        Mean rate and modulation depth (spikes per frame). With the defaults a rate falls below
        zero (and is rectified) for fewer than 0.1% of samples.
    variables : tuple of str
        Per-frame variables of ``conditions`` that the units mix.

    Returns
    -------
    Responses with dims ('stimulus', 'unit', 'time', 'repetition')
        ``stimulus`` = condition (``stimulus_id`` = ``condition_id``), ``time`` = frame; NaN
        after each condition's ``t_end``. Attrs: ``source='simulated'``, ``units``, the seed;
        the mixing weights are the unit coords ``w_<variable>``.

    Examples
    --------
    >>> from neurocompare.tasks import mental_pong_conditions
    >>> sim = simulated_dmfc(mental_pong_conditions(5, seed=0), n_units=4, n_repeats=3)
    >>> sim.dims
    ('stimulus', 'unit', 'time', 'repetition')
    """
    for name, v in (("n_units", n_units), ("n_repeats", n_repeats)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < (1 if name == "n_units" else 2):
            raise ValueError(f"{name} must be an int >= {1 if name == 'n_units' else 2}; got {v!r}.")
    missing = [v for v in variables if v not in conditions.data_vars]
    if missing:
        raise ValueError(f"Variables {missing} are not in the conditions; available: {sorted(map(str, conditions.data_vars))}.")
    valid = np.asarray(conditions.valid.transpose("condition", "frame").values)
    z = np.stack([np.asarray(conditions[v].transpose("condition", "frame").values, dtype=float) for v in variables], -1)
    mu, sd = z[valid].mean(0), z[valid].std(0)
    z = (z - mu) / np.where(sd > 0, sd, 1.0)
    w = numpy_rng(seed, "simulated_dmfc", "weights").standard_normal((int(n_units), len(variables))) / np.sqrt(len(variables))
    rate = np.maximum(baseline + gain * np.einsum("ctk,uk->cut", np.where(valid[..., None], z, 0.0), w), 0.0)
    counts = numpy_rng(seed, "simulated_dmfc", "spikes").poisson(rate[..., None], size=rate.shape + (int(n_repeats),)).astype(float)
    counts[np.broadcast_to(~valid[:, None, :, None], counts.shape)] = np.nan
    coords = {
        "stimulus_id": ("stimulus", np.asarray(conditions.condition_id.values).astype(str)),
        "unit_id": ("unit", np.array([f"dmfc_{u:03d}" for u in range(int(n_units))])),
        "time": ("time", np.asarray(conditions.frame.values)),
        **{f"w_{v}": ("unit", w[:, k]) for k, v in enumerate(variables)},
    }
    return xr.DataArray(
        counts,
        dims=("stimulus", "unit", "time", "repetition"),
        coords=coords,
        attrs={"source": "simulated", "units": "spikes/frame", "seed": int(seed), "baseline": float(baseline),
               "gain": float(gain), "variables": ",".join(variables)},
    )
