"""Training: one loop for any ``nn.Module``, objectives, losses, PGD, data, configs, checkpoints.

Quick reference
---------------
``train(model, objective, data, optimizer=OptimizerConfig(...), steps=..., out_dir=..., checkpoint_every=..., resume=...)``
    The loop (:mod:`~neurocompare.training.loop`): ``objective(model, batch) -> loss`` or
    ``(loss, metrics)``; ``data`` an iterable of batches or ``data(step) -> batch``. Writes
    ``OUT/checkpoint.pt`` (atomic; exact resume) and ``OUT/metrics.jsonl``.
``run_config(cfg_or_path, resume=False, out_dir=None)`` / ``neurocompare train CONFIG [--resume] [--out DIR]``
    Config-driven runs (:class:`TrainConfig`, YAML/JSON).
``pgd_attack(model, x, y, eps=..., norm='linf'|'l2', steps=...)``, ``robust_accuracy(model, (x, y), eps_list, norm=...)``
    Adversarial examples and evaluation (:mod:`~neurocompare.training.adversarial`).
Objectives (``OBJECTIVES``): ``Supervised``, ``SimCLR``, ``VICReg``, ``Adversarial``, ``IRM``, plus ``NeuralAlignment``.
Losses: ``nt_xent``, ``vicreg_loss``, ``irm_penalty``, ``linear_cka``, ``cka_alignment_loss``, ``rdm_alignment_loss``.
Data (``DATASETS``): ``Batches``, ``load_mnist``, ``colored_mnist``, ``colored_mnist_environments``, ``load_image_folder``.
"""

from __future__ import annotations

from neurocompare.training.adversarial import pgd_attack, robust_accuracy
from neurocompare.training.augment import SimCLRAugment
from neurocompare.training.checkpoint import load_checkpoint, save_checkpoint, seed_everything
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
)
from neurocompare.training.losses import (
    cka_alignment_loss,
    irm_penalty,
    linear_cka,
    nt_xent,
    rdm_alignment_loss,
    vicreg_loss,
)
from neurocompare.training.loop import (
    NonFiniteLossError,
    TrainResult,
    build_optimizer,
    register_cli,
    run_config,
    train,
    unwrap_model,
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
)

__all__ = [
    "train", "run_config", "register_cli", "TrainResult", "NonFiniteLossError", "build_optimizer", "unwrap_model",
    "TrainConfig", "OptimizerConfig", "DataConfig", "load_config", "save_config", "config_to_dict", "config_from_dict",
    "save_checkpoint", "load_checkpoint", "seed_everything",
    "pgd_attack", "robust_accuracy",
    "OBJECTIVES", "Supervised", "SimCLR", "VICReg", "Adversarial", "IRM", "NeuralAlignment", "layer_output",
    "SimCLRAugment",
    "nt_xent", "vicreg_loss", "irm_penalty", "linear_cka", "cka_alignment_loss", "rdm_alignment_loss",
    "DATASETS", "Batches", "load_mnist", "colored_mnist", "colored_mnist_environments", "load_image_folder",
]
