"""Training: one loop for any ``nn.Module``, objectives, losses, PGD, data, configs, checkpoints.

Quick reference
---------------
``train(model, objective, data, optimizer=OptimizerConfig(...), steps=..., out_dir=..., checkpoint_every=..., resume=..., overwrite=...)``
    The loop (``loop.py``): ``objective(model, batch) -> loss`` or ``(loss, metrics)``; ``data``
    an iterable of batches or ``data(step) -> batch``. Writes ``OUT/checkpoint.pt`` (atomic;
    exact resume) and ``OUT/metrics.jsonl``; refuses a folder that already holds a run unless
    ``resume`` or ``overwrite``.
``run_config(cfg_or_path, resume=False, overwrite=False, out_dir=None)`` / ``neurocompare train CONFIG [--resume | --overwrite] [--out DIR]``
    Config-driven runs (``run.py``; :class:`TrainConfig`, YAML/JSON, field types checked).
``pgd_attack(model, x, y, eps=..., norm='linf'|'l2', steps=...)``, ``robust_accuracy(model, (x, y), eps_list, norm=...)``
    Adversarial examples and evaluation (``adversarial.py``).

Objectives (``OBJECTIVES``): ``Supervised``, ``SimCLR``, ``VICReg``, ``Adversarial``, ``IRM``, plus
``NeuralAlignment``; ``layer_output(model, layer, x)`` reads a hidden layer with gradients.
Losses: ``nt_xent``, ``vicreg_loss``, ``irm_penalty``, ``linear_cka``, ``cka_alignment_loss``, ``rdm_alignment_loss``.
Data (``DATASETS``): ``Batches``, ``read_mnist`` (the one MNIST reader), ``load_mnist``,
``colored_mnist``, ``colored_mnist_environments``, ``load_image_folder``, ``synthetic_images``.
Augmentations: ``SimCLRAugment``.
"""

from __future__ import annotations

from neurocompare.training.adversarial import default_loss, pgd_attack, predict_labels, robust_accuracy
from neurocompare.training.augment import SimCLRAugment
from neurocompare.training.checkpoint import RunFolderError, load_checkpoint, save_checkpoint
from neurocompare.training.config import (
    DataConfig,
    OptimizerConfig,
    TrainConfig,
    config_from_dict,
    config_to_dict,
    load_config,
    save_config,
)
from neurocompare.training.data import (
    DATASETS,
    Batches,
    colored_mnist,
    colored_mnist_environments,
    load_image_folder,
    load_mnist,
    mnist_tensors,
    read_mnist,
    synthetic_images,
)
from neurocompare.training.loop import NonFiniteLossError, TrainResult, build_optimizer, train
from neurocompare.training.losses import (
    NTXentLoss,
    VICRegLoss,
    cka_alignment_loss,
    irm_penalty,
    linear_cka,
    nt_xent,
    rdm_alignment_loss,
    vicreg_loss,
)
from neurocompare.training.objectives import (
    IRM,
    OBJECTIVES,
    Adversarial,
    NeuralAlignment,
    SimCLR,
    Supervised,
    VICReg,
    layer_output,
    projection_head,
)
from neurocompare.training.run import run_config

__all__ = [
    # the loop and config-driven runs
    "train", "run_config", "TrainResult", "NonFiniteLossError", "RunFolderError", "build_optimizer",
    "TrainConfig", "OptimizerConfig", "DataConfig", "load_config", "save_config", "config_to_dict", "config_from_dict",
    "save_checkpoint", "load_checkpoint",
    # adversarial examples
    "pgd_attack", "robust_accuracy", "default_loss", "predict_labels",
    # objectives
    "OBJECTIVES", "Supervised", "SimCLR", "VICReg", "Adversarial", "IRM", "NeuralAlignment", "layer_output",
    "projection_head", "SimCLRAugment",
    # losses
    "nt_xent", "NTXentLoss", "vicreg_loss", "VICRegLoss", "irm_penalty", "linear_cka", "cka_alignment_loss",
    "rdm_alignment_loss",
    # data
    "DATASETS", "Batches", "read_mnist", "mnist_tensors", "load_mnist", "colored_mnist", "colored_mnist_environments",
    "load_image_folder", "synthetic_images",
]
