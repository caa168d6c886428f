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
``_path_kernel``          :func:`tangent_kernel`, :class:`PathKernelRecorder` (Domingos's path
                          kernel, first-order or exact)
``_information``          :func:`binned_mutual_information` (named bin range),
                          :func:`kde_mutual_information` (Kolchinsky-Tracey bounds)
``_fisher``               :func:`fisher_trace` (true Fisher: labels drawn from the model)
``_tasks``                :func:`twelve_bit_task` (Shwartz-Ziv & Tishby's task, regenerated)
========================  ==================================================================
"""

from __future__ import annotations

from neurocompare.learning._callbacks import CollapseTracker, log_spaced_epochs
from neurocompare.learning._fisher import FISHER_LABELS, FisherTrace, fisher_trace
from neurocompare.learning._information import (
    VALUE_RANGES,
    BinnedInformation,
    KDEInformation,
    binned_mutual_information,
    kde_mutual_information,
)
from neurocompare.learning._path_kernel import PATH_KERNEL_MODES, PathKernelRecorder, tangent_kernel
from neurocompare.learning._tasks import icosahedron_vertices, twelve_bit_task
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
    # learning theory (issue 17)
    "tangent_kernel", "PathKernelRecorder", "PATH_KERNEL_MODES",
    "binned_mutual_information", "kde_mutual_information", "BinnedInformation", "KDEInformation", "VALUE_RANGES",
    "fisher_trace", "FisherTrace", "FISHER_LABELS",
    "twelve_bit_task", "icosahedron_vertices",
]
