"""Similarity measures as functions: RDMs and RSA, CKA, CCA, shape metrics, predictivity, ceilings, statistics.

Every measure is a function ``(x, y, **params) -> float`` on (stimulus, feature) Responses,
arrays or tensors (aligned by ``stimulus_id`` when both sides carry it), registered in
``METRICS`` with its family and direction (:func:`get_metric`, :func:`register_metric`):

- *representational* (computed within a stimulus subset): ``rsa`` and ``rsa_<compare>``,
  ``cka_linear``, ``cka_unbiased``, ``cka_rbf``, ``cca_mean``, ``svcca``, ``pwcca``,
  ``procrustes``, ``shape``, ``shape_cca``;
- *mapped* (a fitted mapping scored on held-out stimuli): ``ridge``, ``pls``,
  ``reverse_ridge``, ``reverse_pls``, ``one_to_one`` — estimators :class:`RidgeMapping`,
  :class:`PLSMapping`, :class:`OneToOneMapping`; the protocol wrappers
  :func:`ridge_predictivity`, :func:`pls_predictivity`, :func:`reverse_predictivity` run the
  benchmark procedure (:func:`make_splits`, the one split generator) on one layer.

Any registered metric, a :class:`Metric` or a plain callable can be the metric of a
:class:`neurocompare.benchmarks.Benchmark`.

Numerics (issue 12; ``docs/numerics.md``): float64 on CPU by default; float32 on request with
inputs centred before the cast and rescaled by an exact power of two; complex input refused;
CCA-family measures refuse ``rank_x + rank_y >= n_stimuli``; duplicated stimuli stay exactly tied
in every RDM; O(n^2) measures warn (:class:`MemoryWarning`) before they exhaust memory.

Examples
--------
>>> import numpy as np
>>> import neurocompare.similarity as sim
>>> x = np.random.default_rng(0).standard_normal((30, 8))
>>> round(sim.cka_linear(x, x), 6), round(sim.rsa(x, x), 6)
(1.0, 1.0)
"""

from __future__ import annotations

from neurocompare.similarity._cca import basis, canonical_correlations, cca_mean, pwcca, svcca
from neurocompare.similarity._ceiling import (
    CeilingResult,
    noise_correct,
    noise_corrected_consistency,
    rsa_noise_ceiling,
    spearman_brown,
    split_half_correlations,
    split_half_reliability,
)
from neurocompare.similarity._common import MemoryWarning
from neurocompare.similarity._cka import cka, cka_linear, cka_linear_torch, cka_rbf, cka_unbiased, hsic_linear, rbf_kernel
from neurocompare.similarity._metrics import (
    METRICS,
    Metric,
    as_metric,
    get_metric,
    list_metrics,
    register_metric,
)
from neurocompare.similarity._pls import PLSMapping
from neurocompare.similarity._predictivity import (
    OneToOneMapping,
    PredictivityResult,
    one_to_one,
    one_to_one_predictivity,
    pls,
    pls_predictivity,
    reverse_pls,
    reverse_predictivity,
    reverse_ridge,
    ridge,
    ridge_predictivity,
)
from neurocompare.similarity._rdm import RDM_METHODS, condense, crossnobis_rdm, noise_precision, rdm, rdm_torch, rdm_vector
from neurocompare.similarity._ridge import DEFAULT_ALPHAS, RidgeMapping, pearson_per_column
from neurocompare.similarity._rsa import (
    COMPARE_METHODS,
    compare_rdms,
    rsa,
    rsa_cosine,
    rsa_pearson,
    rsa_rho_a,
    rsa_spearman,
    rsa_tau_a,
    rsa_tau_b,
    rsa_wuc,
)
from neurocompare.similarity._shape import pairwise_shape_distances, procrustes, shape_cca, shape_distance
from neurocompare.similarity._splits import make_splits
from neurocompare.similarity._stats import (
    BootstrapResult,
    PermutationResult,
    bootstrap,
    bootstrap_rdm,
    permutation_test,
    permutation_test_rdm,
)

__all__ = [
    # registry
    "METRICS",
    "Metric",
    "as_metric",
    "get_metric",
    "list_metrics",
    "register_metric",
    # RDMs and RSA
    "RDM_METHODS",
    "COMPARE_METHODS",
    "rdm",
    "rdm_torch",
    "rdm_vector",
    "condense",
    "crossnobis_rdm",
    "noise_precision",
    "compare_rdms",
    "rsa",
    "rsa_spearman",
    "rsa_pearson",
    "rsa_tau_a",
    "rsa_tau_b",
    "rsa_rho_a",
    "rsa_cosine",
    "rsa_wuc",
    # CKA
    "cka",
    "cka_linear",
    "cka_unbiased",
    "cka_rbf",
    "cka_linear_torch",
    "hsic_linear",
    "rbf_kernel",
    # CCA and shape
    "basis",
    "canonical_correlations",
    "cca_mean",
    "svcca",
    "pwcca",
    "procrustes",
    "shape_cca",
    "shape_distance",
    "pairwise_shape_distances",
    # mappings and predictivity
    "DEFAULT_ALPHAS",
    "RidgeMapping",
    "PLSMapping",
    "OneToOneMapping",
    "PredictivityResult",
    "make_splits",
    "pearson_per_column",
    "ridge",
    "pls",
    "reverse_ridge",
    "reverse_pls",
    "one_to_one",
    "ridge_predictivity",
    "pls_predictivity",
    "reverse_predictivity",
    "one_to_one_predictivity",
    # ceilings
    "CeilingResult",
    "spearman_brown",
    "split_half_correlations",
    "split_half_reliability",
    "rsa_noise_ceiling",
    "noise_correct",
    "noise_corrected_consistency",
    # resources
    "MemoryWarning",
    # statistics
    "BootstrapResult",
    "PermutationResult",
    "bootstrap",
    "bootstrap_rdm",
    "permutation_test",
    "permutation_test_rdm",
]


def __dir__() -> list[str]:
    return sorted(__all__)
