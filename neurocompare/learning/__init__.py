"""What training does to a network: neural collapse, rank of the weights, and related measures.

Features are arrays of dims ``(sample, feature)`` (or :class:`neurocompare.Responses` with a
``label`` coordinate); classifier weights are arrays of dims ``(class, feature)`` as
``torch.nn.Linear`` stores them.

Modules are added here one concept each; the public names of every module are listed in
``__all__`` below.

========================  ==================================================================
module                    what
========================  ==================================================================
``_collapse``             :func:`neural_collapse` (NC1 in four named variants, NC2-NC4),
                          :class:`CollapseResult`, :class:`CollapseAccumulator` (streamed)
``_layerwise``            :func:`layerwise_collapse` (NC1 over depth through ``extract``,
                          alignment of weights with their input's class means)
``_rank``                 :func:`effective_rank`, :func:`singular_values`,
                          :func:`weight_spectra`, :func:`weight_ranks`
``_callbacks``            :class:`CollapseTracker` (a ``train`` callback at log-spaced epochs)
========================  ==================================================================
"""

from __future__ import annotations

from neurocompare.learning._callbacks import CollapseTracker, log_spaced_epochs
from neurocompare.learning._collapse import NC1_VARIANTS, CollapseAccumulator, CollapseResult, neural_collapse
from neurocompare.learning._layerwise import LayerwiseCollapse, layer_inputs, layerwise_collapse
from neurocompare.learning._rank import (
    RANK_METHODS,
    effective_rank,
    singular_values,
    weight_layers,
    weight_ranks,
    weight_spectra,
)

__all__: list[str] = [
    # neural collapse (issue 16)
    "neural_collapse", "NC1_VARIANTS", "CollapseResult", "CollapseAccumulator",
    "layerwise_collapse", "LayerwiseCollapse", "layer_inputs",
    "effective_rank", "RANK_METHODS", "singular_values", "weight_spectra", "weight_ranks", "weight_layers",
    "CollapseTracker", "log_spaced_epochs",
]
