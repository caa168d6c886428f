"""Model metamers: synthesis, validity checks, cross-model recognizability and a human experiment.

A *model metamer* of a natural image ``x0`` at layer ``l`` of a model ``f`` is an image ``x``
whose activations at that layer match, ``f_l(x) ≈ f_l(x0)``, although ``x`` was synthesised from
noise. Whether the metamers of one model are recognisable to other models (or to people) tells
how much the model's invariances are shared (Feather et al. 2023).

=======================  ==================================================================
module (private)         what
=======================  ==================================================================
``_synthesis``           :class:`MetamerSynthesis`, :func:`synthesize_metamers`
``_loss``                :func:`relative_error` (the objective)
``_config``              :class:`MetamerConfig` (settings), the Feather, Adam and adaptive
                         update rules
``_state``               the resumable synthesis state (plain arrays, no pickle)
``_fold``                eval batch norms folded into their convolutions while synthesising
``_validity``            :func:`check_validity`, :func:`predict_labels`, :func:`spearman_rows`
``_recognizability``     :func:`recognizability` (generator × judge × stage accuracy table)
``_io``                  :func:`save_metamers`, :func:`load_metamers` (NetCDF + JSON; resumable
                         synthesis states are ``MetamerSynthesis.save_state`` / ``load_state``)
``_psychophysics``       :func:`export_experiment`, :func:`export_metamer_experiment` (one static
                         web page), :func:`read_responses`, :func:`summarize_responses`
``_listening``           :func:`export_listening_experiment`,
                         :func:`export_metamer_listening_experiment` (the same page with audio
                         players and a word filter box; WAVs embedded), :func:`wav_bytes`
``_page``                the page template and writer shared by both experiments
=======================  ==================================================================

Audio metamers use the same machinery: pass waveforms (n_clips, samples) as ``images`` to a model
whose front end (e.g. a cochleagram) sits inside it, with ``pixel_range=None`` and initial noise
at the clips' level (``init_mean=0``, ``init_std`` = the clips' RMS); the Dataset then has
``metamer (layer, image, sample)`` and ``original (image, sample)`` (store the rate as
``ds.attrs['sample_rate']``).

Four steps:

- :func:`synthesize_metamers` (or the stateful :class:`MetamerSynthesis`) drives the relative
  error ``‖f_l(x) − f_l(x0)‖ / ‖f_l(x0)‖`` toward zero for many images *and* many layers in one
  batch, on CPU or GPU, and returns a plain :class:`xarray.Dataset`::

      <xarray.Dataset>
      Dimensions:         (layer: 3, image: 16, channel: 1, height: 28, width: 28, iteration: 2400)
      Coordinates:
        * layer           (layer) <U11 'block1.relu' 'block2.relu' 'avgpool'
          stage           (layer) <U6 'early' 'middle' 'late'
          image_id        (image) <U9 'img_0000' ...
          label           (image) int64 7 2 1 ...                       optional
      Data variables:
          metamer         (layer, image, channel, height, width) float32
          original        (image, channel, height, width) float32
          loss            (layer, image, iteration) float32   relative error at each step
          relative_error  (layer, image) float32              after the last step
          stopped         (layer, image) bool                 a stopping rule was met
      Attributes:  model, method, config (JSON), seed, n_iter, neurocompare_version, created

- :func:`check_validity` keeps a metamer only if (a) the Spearman correlation between its
  activations and the original's at the generating layer exceeds the largest correlation among
  random pairs of natural images (the null distribution) and (b) the generating model gives it the
  same predicted label as the original.
- :func:`recognizability` classifies every model's metamers with every judge model and returns a
  (generator, judge, stage) table: ``accuracy``, ``error`` (bootstrap s.d.), ``ci_low`` /
  ``ci_high`` and chance level.
- :func:`export_metamer_experiment` writes the metamers as a self-contained web experiment for
  people (:func:`export_metamer_listening_experiment` for audio metamers);
  :func:`summarize_responses` reads the answers back into the same kind of table.

Save and load results with :func:`save_metamers` / :func:`load_metamers` (NetCDF + a JSON
provenance file; no pickle). Figures: ``neurocompare.plotting.metamers``.

References
----------
.. [1] Feather, J., Leclerc, G., Mądry, A. & McDermott, J. H. (2023). Model metamers reveal
   divergent invariances between biological and artificial neural networks. Nature
   Neuroscience 26, 2017–2034.
.. [2] Portilla, J. & Simoncelli, E. P. (2000). A parametric texture model based on joint
   statistics of complex wavelet coefficients. IJCV 40, 49–70 (metamer synthesis from noise).

Examples
--------
>>> import torch
>>> from torch import nn
>>> _ = torch.manual_seed(0)  # an unlucky draw leaves every ReLU unit off for the noise: no gradient
>>> model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
>>> images = torch.rand(2, 1, 8, 8)
>>> ds = synthesize_metamers(model, ["1", "3"], images, steps_per_round=20, n_rounds=3,
...                          seed=0, progress=False)
>>> ds["metamer"].dims
('layer', 'image', 'channel', 'height', 'width')
>>> bool((ds["relative_error"] < ds["loss"].isel(iteration=0)).all())
True
"""

from neurocompare.metamers._config import METHODS, MetamerConfig
from neurocompare.metamers._io import load_metamers, save_metamers
from neurocompare.metamers._listening import (
    export_listening_experiment,
    export_metamer_listening_experiment,
    wav_bytes,
)
from neurocompare.metamers._psychophysics import (
    CSV_COLUMNS,
    export_experiment,
    export_metamer_experiment,
    read_responses,
    summarize_responses,
)
from neurocompare.metamers._recognizability import recognizability
from neurocompare.metamers._loss import relative_error
from neurocompare.metamers._synthesis import MetamerSynthesis, synthesize_metamers
from neurocompare.metamers._validity import check_validity, predict_labels, spearman_rows

__all__ = [
    "MetamerConfig",
    "MetamerSynthesis",
    "synthesize_metamers",
    "relative_error",
    "check_validity",
    "spearman_rows",
    "predict_labels",
    "recognizability",
    "save_metamers",
    "load_metamers",
    "export_experiment",
    "export_metamer_experiment",
    "export_listening_experiment",
    "export_metamer_listening_experiment",
    "wav_bytes",
    "read_responses",
    "summarize_responses",
    "CSV_COLUMNS",
    "METHODS",
]
