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

Field types are checked against the annotations when a config is built, from Python or from a
file. YAML 1.1 (``yaml.safe_load``) reads ``lr: 1e-3`` as the *string* ``'1e-3'``; such numeric
strings are converted to numbers for number fields, and any other mismatch (``steps: ten``,
``shuffle: 3``) raises a ``TypeError`` that names the field, the expected type and the value.

Examples
--------
>>> OptimizerConfig(lr="1e-3").lr
0.001
>>> cfg = TrainConfig(model="convnet_small", steps=10)
>>> config_from_dict(config_to_dict(cfg)) == cfg
True
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
import types
import typing
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


def _type_name(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if hint is type(None):
        return "None"
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join('...' if a is Ellipsis else _type_name(a) for a in args)}]" if args else name
    return getattr(hint, "__name__", str(hint))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    """``value`` converted to the annotated type ``hint``; a clear ``TypeError`` when it cannot be.

    Numbers written as strings (YAML 1.1 reads ``1e-3`` as a string) become numbers; ints are
    accepted for floats and integral floats for ints; booleans are never taken for numbers.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, where)
            except TypeError:
                pass
        raise _type_error(value, hint, where)
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        if isinstance(value, dict):
            return config_from_dict(value, hint)
        raise _type_error(value, hint, where)
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise _type_error(value, hint, where)
    if hint in (int, float):
        number = value
        if isinstance(value, str):
            try:
                number = float(value.strip()) if hint is float else _int_from_text(value)
            except ValueError:
                raise _type_error(value, hint, where) from None
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            raise _type_error(value, hint, where)
        if hint is int:
            if isinstance(number, float) and not number.is_integer():
                raise _type_error(value, hint, where)
            return int(number)
        return float(number)
    if hint is str:
        if isinstance(value, str):
            return value
        raise _type_error(value, hint, where)
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or (args and args[-1] is not Ellipsis and len(value) != len(args)):
            raise _type_error(value, hint, where)
        item_hints = [args[0]] * len(value) if args and args[-1] is Ellipsis else list(args)
        return tuple(_coerce(v, h, f"{where}[{i}]") for i, (v, h) in enumerate(zip(value, item_hints)))
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _type_error(value, hint, where)
        return value
    if origin is list or hint is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(value, hint, where)
        return list(value)
    return value


def _int_from_text(text: str) -> int:
    number = float(text.strip())
    if not number.is_integer():
        raise ValueError(text)
    return int(number)


def _type_error(value: Any, hint: Any, where: str) -> TypeError:
    return TypeError(
        f"{where} must be {_type_name(hint)}; got {value!r} ({type(value).__name__}). "
        "Fix the value in the config (numbers unquoted, true/false for switches)."
    )


def _check_fields(cfg: Any) -> None:
    """Coerce every field of the dataclass instance ``cfg`` to its annotation (in place)."""
    hints = get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        setattr(cfg, f.name, _coerce(getattr(cfg, f.name), hints[f.name], f"{type(cfg).__name__}.{f.name}"))


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
        _check_fields(self)
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


@dataclass
class DataConfig:
    """Which registered dataset to train on and how to batch it.

    Parameters
    ----------
    name : str
        A name from ``neurocompare.training.DATASETS.names()`` (``mnist``, ``colored_mnist``,
        ``image_folder``, ``synthetic_images``, ...).
    root : str or None
        Data directory; ``None`` uses the ``data_dir`` option (``nc.set_options(data_dir=...)`` or
        ``$NEUROCOMPARE_DATA``) where the dataset needs one.
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
        _check_fields(self)
        if self.batch_size < 1:
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
    progress : bool or None
        Show a tqdm bar (``None``: on a terminal only; ``set_options(progress=False)`` or
        ``NEUROCOMPARE_QUIET=1`` silences it).
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
    progress: bool | None = None

    def __post_init__(self) -> None:
        _check_fields(self)
        if self.steps < 1:
            raise ValueError(f"TrainConfig.steps must be >= 1. Got {self.steps!r} instead.")
        if self.amp not in _AMP:
            raise ValueError(f"TrainConfig.amp must be one of {_AMP}. Got {self.amp!r} instead.")
        if self.checkpoint_every < 0 or self.log_every < 1:
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
    TypeError
        When a value does not have its field's type (see the module docstring).
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
    kwargs = {key: _coerce(value, hints[key], f"{cls.__name__}.{key}") for key, value in data.items()}
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
