"""Dataclass configurations for training, loadable from YAML or JSON.

A run is described by a :class:`TrainConfig` that names a registered model, a registered
objective and a registered dataset, plus an :class:`OptimizerConfig`. The same file drives
``neurocompare train CONFIG`` and :func:`neurocompare.training.run_config`.

Example YAML::

    model: convnet_small
    model_kwargs: {in_channels: 1, num_classes: 10}
    objective: supervised
    data:
      name: mnist
      batch_size: 128
    optimizer: {name: adam, lr: 0.001, schedule: cosine, warmup_steps: 50}
    steps: 500
    seed: 0
    checkpoint_every: 100

Examples
--------
>>> cfg = TrainConfig(model="convnet_small", steps=10)
>>> config_from_dict(config_to_dict(cfg)) == cfg
True
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

__all__ = [
    "OptimizerConfig",
    "DataConfig",
    "TrainConfig",
    "config_to_dict",
    "config_from_dict",
    "load_config",
    "save_config",
]

T = TypeVar("T")

_OPTIMIZERS = ("sgd", "adam", "adamw")
_SCHEDULES = ("constant", "cosine", "step")
_AMP = ("auto", "none", "bf16", "fp16")


@dataclass
class OptimizerConfig:
    """Optimizer and learning-rate schedule.

    Parameters
    ----------
    name : {'sgd', 'adam', 'adamw'}
    lr : float
        Peak learning rate.
    weight_decay : float
    momentum : float
        SGD momentum (ignored by Adam/AdamW).
    betas : tuple of float
        Adam/AdamW betas.
    schedule : {'constant', 'cosine', 'step'}
        ``cosine`` decays to ``min_lr_ratio * lr`` at the last step; ``step`` multiplies the
        rate by ``gamma`` every ``step_size`` steps.
    warmup_steps : int
        Linear warm-up from 0 to ``lr`` over the first steps.
    min_lr_ratio, step_size, gamma : float, int, float
        Schedule parameters.
    grad_clip : float or None
        Clip the global gradient norm to this value when set.
    """

    name: str = "adam"
    lr: float = 1e-3
    weight_decay: float = 0.0
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0
    step_size: int = 1000
    gamma: float = 0.1
    grad_clip: float | None = None

    def __post_init__(self) -> None:
        if self.name not in _OPTIMIZERS:
            raise ValueError(f"OptimizerConfig.name must be one of {_OPTIMIZERS}. Got {self.name!r} instead.")
        if self.schedule not in _SCHEDULES:
            raise ValueError(
                f"OptimizerConfig.schedule must be one of {_SCHEDULES}. Got {self.schedule!r} instead."
            )
        if not self.lr > 0:
            raise ValueError(f"OptimizerConfig.lr must be > 0. Got {self.lr!r} instead.")
        if self.warmup_steps < 0:
            raise ValueError(f"OptimizerConfig.warmup_steps must be >= 0. Got {self.warmup_steps!r}.")
        self.betas = tuple(float(b) for b in self.betas)  # YAML/JSON give lists


@dataclass
class DataConfig:
    """Which registered dataset to train on and how to batch it.

    Parameters
    ----------
    name : str
        A name from ``neurocompare.training.DATASETS.names()`` (``mnist``, ``colored_mnist``,
        ``image_folder``, ``synthetic_images``, ...).
    root : str or None
        Data directory; ``None`` uses ``$NEUROCOMPARE_DATA`` where the dataset needs one.
    batch_size : int
    shuffle : bool
    drop_last : bool
    kwargs : dict
        Passed to the dataset builder.
    """

    name: str = "synthetic_images"
    root: str | None = None
    batch_size: int = 64
    shuffle: bool = True
    drop_last: bool = True
    kwargs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if int(self.batch_size) < 1:
            raise ValueError(f"DataConfig.batch_size must be >= 1. Got {self.batch_size!r} instead.")


@dataclass
class TrainConfig:
    """A complete training run.

    Parameters
    ----------
    model : str
        A name from ``neurocompare.models.MODELS.names()``.
    model_kwargs : dict
        Builder keyword arguments (``in_channels``, ``num_classes``, ``seed``...).
    objective : str
        A name from ``neurocompare.training.OBJECTIVES.names()`` (``supervised``, ``simclr``,
        ``vicreg``, ``adversarial``, ``irm``...).
    objective_kwargs : dict
        Objective keyword arguments (e.g. ``temperature``, ``eps``, ``penalty_weight``).
    data : DataConfig
    optimizer : OptimizerConfig
    steps : int
        Number of optimizer steps.
    seed : int
        Seeds torch, numpy and python ``random`` at the start of the run.
    checkpoint_every : int
        Write ``checkpoint.pt`` every this many steps (and at the end); 0 = only at the end.
    log_every : int
        Append a metrics line to ``metrics.jsonl`` every this many steps.
    amp : {'auto', 'none', 'bf16', 'fp16'}
        Mixed precision on GPU; ``auto`` = bf16 where supported, else fp16; always ``none`` on CPU.
    device : str
        ``auto`` (CUDA when available), ``cpu``, ``cuda``, ``cuda:1``...
    out_dir : str
        Output folder for checkpoints, metrics and the resolved config.
    progress : bool
        Show a tqdm bar (also silenced by ``NEUROCOMPARE_QUIET=1``).
    """

    model: str = "convnet_small"
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    objective: str = "supervised"
    objective_kwargs: dict[str, Any] = field(default_factory=dict)
    data: DataConfig = field(default_factory=DataConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    steps: int = 100
    seed: int = 0
    checkpoint_every: int = 0
    log_every: int = 10
    amp: str = "auto"
    device: str = "auto"
    out_dir: str = "runs/train"
    progress: bool = True

    def __post_init__(self) -> None:
        if int(self.steps) < 1:
            raise ValueError(f"TrainConfig.steps must be >= 1. Got {self.steps!r} instead.")
        if self.amp not in _AMP:
            raise ValueError(f"TrainConfig.amp must be one of {_AMP}. Got {self.amp!r} instead.")
        if int(self.checkpoint_every) < 0 or int(self.log_every) < 1:
            raise ValueError(
                "TrainConfig.checkpoint_every must be >= 0 and log_every >= 1. "
                f"Got checkpoint_every={self.checkpoint_every!r}, log_every={self.log_every!r}."
            )


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, JSON-serialisable dict of a (nested) config dataclass."""
    if not dataclasses.is_dataclass(cfg):
        raise TypeError(f"config_to_dict expects a dataclass instance; got {type(cfg).__name__}.")
    out = dataclasses.asdict(cfg)
    return json.loads(json.dumps(out))  # tuples -> lists, so YAML and JSON agree


def config_from_dict(data: dict[str, Any], cls: type[T] = TrainConfig) -> T:  # type: ignore[assignment]
    """Build the dataclass ``cls`` from a dict, recursing into nested dataclass fields.

    Raises
    ------
    ValueError
        When the dict has keys that are not fields of ``cls`` (the message lists the fields).
    """
    if not isinstance(data, dict):
        raise TypeError(f"A {cls.__name__} must be given as a mapping; got {type(data).__name__}.")
    hints = get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ValueError(
            f"Unknown {cls.__name__} key(s) {unknown}. Valid keys: {', '.join(names)}."
        )
    kwargs = {}
    for key, value in data.items():
        hint = hints.get(key)
        if isinstance(hint, type) and dataclasses.is_dataclass(hint) and isinstance(value, dict):
            value = config_from_dict(value, hint)
        kwargs[key] = value
    return cls(**kwargs)


def load_config(path: str | Path, cls: type[T] = TrainConfig) -> T:  # type: ignore[assignment]
    """Read a config from a ``.yaml``/``.yml`` or ``.json`` file.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        For an unsupported extension or unknown keys.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"Config file {str(path)!r} does not exist.")
    text = path.read_text()
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    elif suffix == ".json":
        data = json.loads(text)
    else:
        raise ValueError(f"Config files must end in .yaml, .yml or .json. Got {path.name!r} instead.")
    return config_from_dict(data, cls)


def save_config(cfg: Any, path: str | Path) -> Path:
    """Write ``cfg`` to ``path`` as YAML or JSON (by extension); returns the path."""
    path = Path(path)
    data = config_to_dict(cfg)
    suffix = path.suffix.lower()
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix in (".yaml", ".yml"):
        import yaml

        path.write_text(yaml.safe_dump(data, sort_keys=False))
    elif suffix == ".json":
        path.write_text(json.dumps(data, indent=2))
    else:
        raise ValueError(f"Config files must end in .yaml, .yml or .json. Got {path.name!r} instead.")
    return path
