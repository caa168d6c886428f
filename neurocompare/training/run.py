"""Config-driven runs: a :class:`~neurocompare.training.config.TrainConfig` → the registries → :func:`train`.

``run_config`` is what ``neurocompare train CONFIG`` calls. It resolves the three names of the
config in their registries (``neurocompare.models.MODELS``, :data:`OBJECTIVES`,
:data:`DATASETS`), writes the resolved config to ``OUT/config.yaml`` and trains (the config is
also stored in the checkpoint, from which ``neurocompare.models`` can rebuild the model).

The output folder rules are those of :func:`~neurocompare.training.loop.train`: a folder that
already holds a run (``checkpoint.pt`` or ``metrics.jsonl``) is refused unless ``resume=True``
(continue it; the config must match the checkpoint's) or ``overwrite=True`` (replace it). The
check happens before anything is built or written.

Example
-------
>>> from neurocompare.training import TrainConfig, DataConfig
>>> cfg = TrainConfig(model="convnet_small", model_kwargs={"in_channels": 1, "num_classes": 4},
...                   data=DataConfig(batch_size=8, kwargs={"n": 16, "channels": 1, "size": 16,
...                                                         "num_classes": 4}),
...                   steps=2, progress=False)
>>> import tempfile; out = tempfile.mkdtemp()
>>> run_config(cfg, out_dir=out).step
2
"""

from __future__ import annotations

from pathlib import Path

from neurocompare._seeding import seed_everything
from neurocompare.training.checkpoint import CHECKPOINT_NAME, check_run_folder
from neurocompare.training.config import TrainConfig, config_from_dict, load_config, save_config
from neurocompare.training.data import DATASETS
from neurocompare.training.loop import TrainResult, train
from neurocompare.training.objectives import OBJECTIVES

__all__ = ["run_config"]

CONFIG_NAME = "config.yaml"


def run_config(
    cfg: TrainConfig | dict | str | Path,
    *,
    resume: bool = False,
    overwrite: bool = False,
    out_dir: str | Path | None = None,
) -> TrainResult:
    """Build model, objective and data from a :class:`TrainConfig` (or its file) and train.

    Parameters
    ----------
    cfg : TrainConfig, dict, or path to a YAML/JSON file
    resume : bool
        Continue the run in the output folder from its ``checkpoint.pt`` (if it has one).
    overwrite : bool
        Replace a run already in the output folder.
    out_dir : str or Path, optional
        Overrides ``cfg.out_dir``.

    Returns
    -------
    TrainResult

    Raises
    ------
    RunFolderError
        The output folder holds a run and neither ``resume`` nor ``overwrite`` is set.
    ValueError
        ``resume`` with a config that differs from the checkpoint's; unknown registry names
        (the message lists the registered ones).
    TypeError
        ``cfg`` of the wrong kind, or config fields of the wrong type.
    """
    from neurocompare.models import build_model

    if isinstance(cfg, (str, Path)):
        cfg = load_config(cfg)
    elif isinstance(cfg, dict):
        cfg = config_from_dict(cfg)
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig, a dict or a config file path; got {type(cfg).__name__}.")
    if out_dir is not None:
        cfg.out_dir = str(out_dir)
    out = Path(cfg.out_dir)
    check_run_folder(out, resume=resume, overwrite=overwrite, remove=False)  # before building anything
    objective_cls = OBJECTIVES.get(cfg.objective)
    dataset = DATASETS.get(cfg.data.name)
    seed_everything(cfg.seed)
    model_kwargs = dict(cfg.model_kwargs)
    model_kwargs.setdefault("seed", cfg.seed)
    try:
        model = build_model(cfg.model, **model_kwargs)
    except TypeError:
        model_kwargs.pop("seed")
        model = build_model(cfg.model, **model_kwargs)
    objective = objective_cls(**cfg.objective_kwargs)
    data = dataset(cfg.data, seed=cfg.seed)
    # a resumed run's config is checked against its checkpoint inside train(): record it after
    resuming = resume and (out / CHECKPOINT_NAME).is_file()
    if not resuming:
        save_config(cfg, out / CONFIG_NAME)
    result = train(
        model,
        objective,
        data,
        optimizer=cfg.optimizer,
        steps=cfg.steps,
        out_dir=out,
        checkpoint_every=cfg.checkpoint_every,
        log_every=cfg.log_every,
        resume=resume,
        overwrite=overwrite,
        seed=cfg.seed,
        amp=cfg.amp,
        device=cfg.device,
        progress=cfg.progress,
        config=cfg,
    )
    if resuming:
        save_config(cfg, out / CONFIG_NAME)
    return result
