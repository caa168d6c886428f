"""Training objectives: callables ``objective(model, batch) -> (loss, metrics)`` for :func:`train`.

Registered by name in ``OBJECTIVES`` for config-driven runs (``objective: simclr`` in YAML):

============== ============================================ ==========================================
name           batch                                        loss
============== ============================================ ==========================================
supervised     (x, y, ...)                                  cross-entropy (int y) / logistic (float y)
simclr         (x, ...)  (labels ignored)                   NT-Xent between two augmented views
vicreg         (x, ...)                                     VICReg between two augmented views
adversarial    (x, y, ...)                                  supervised loss on PGD examples
irm            (x, y, env)                                  mean env risk + w(step)·mean IRMv1 penalty
============== ============================================ ==========================================

:class:`NeuralAlignment` (task objective + λ·alignment on recorded responses) holds tensors of
neural stimuli and responses, so it is built in Python rather than from a config file.

Objectives are ``nn.Module``s: parameters they own (projection heads) are trained and
checkpointed with the model. Hidden layers are read through the project's one hook engine
(:class:`neurocompare._hooks.LayerHooks`, gradients kept), via :func:`layer_output`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from neurocompare._hooks import LayerHooks, unwrap
from neurocompare.registry import Registry
from neurocompare.training.adversarial import default_loss, pgd_attack, predict_labels
from neurocompare.training.augment import SimCLRAugment
from neurocompare.training.losses import (
    cka_alignment_loss,
    irm_penalty,
    linear_cka,
    nt_xent,
    rdm_alignment_loss,
    vicreg_loss,
)

__all__ = [
    "OBJECTIVES",
    "Supervised",
    "SimCLR",
    "VICReg",
    "Adversarial",
    "IRM",
    "NeuralAlignment",
    "layer_output",
    "projection_head",
]

OBJECTIVES = Registry("objective")


def layer_output(model: nn.Module, layer: str, x: torch.Tensor) -> torch.Tensor:
    """The output of the submodule ``layer`` when ``model`` runs on ``x``, with its autograd graph.

    The whole forward pass runs (batch-norm statistics of later layers update as in a plain
    ``model(x)``); a DDP wrapper is looked through for the layer names.

    Parameters
    ----------
    model : nn.Module
    layer : str
        A submodule name (see ``neurocompare.list_layers``).
    x : torch.Tensor
        Model input, dims (sample, ...).

    Returns
    -------
    torch.Tensor
        The layer's output (the first tensor of a tuple output), dims (sample, ...); recurrent
        layers that are not ``batch_first`` come back as (sample, time, hidden).

    Raises
    ------
    ValueError
        ``layer`` is not a submodule, or the forward pass did not call it.
    """
    with LayerHooks(model, [layer], detach=False) as hooks:
        return hooks.run(x)[layer]


def projection_head(in_dim: int, hidden_dim: int = 512, out_dim: int = 128) -> nn.Module:
    """SimCLR's MLP head: Linear → BatchNorm → ReLU → Linear (dims (sample, in_dim) → (sample, out_dim))."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim)
    )


def _split(batch: Any) -> tuple[torch.Tensor, torch.Tensor | None, Any]:
    if isinstance(batch, torch.Tensor):
        return batch, None, None
    if isinstance(batch, dict):
        return batch["x"], batch.get("y"), batch.get("env")
    if isinstance(batch, (tuple, list)):
        x = batch[0]
        y = batch[1] if len(batch) > 1 else None
        env = batch[2] if len(batch) > 2 else None
        return x, y, env
    raise TypeError(f"Batches must be a tensor, a tuple (x, y, ...) or a dict with 'x'; got {type(batch).__name__}.")


def _accuracy(outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    binary = y.dtype.is_floating_point
    return (predict_labels(outputs.detach(), binary) == y).float().mean()


@OBJECTIVES.register("supervised")
class Supervised(nn.Module):
    """Cross-entropy (integer labels) or logistic loss (float binary labels) on ``model(x)``.

    Parameters
    ----------
    label_smoothing : float
        For cross-entropy only.

    Metrics: ``accuracy``.
    """

    def __init__(self, label_smoothing: float = 0.0) -> None:
        super().__init__()
        self.label_smoothing = float(label_smoothing)

    def loss(self, outputs: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.label_smoothing and not y.dtype.is_floating_point:
            return nn.functional.cross_entropy(outputs, y, label_smoothing=self.label_smoothing)
        return default_loss(outputs, y)

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y, _ = _split(batch)
        if y is None:
            raise ValueError("The supervised objective needs labelled batches (x, y, ...).")
        out = model(x)
        return self.loss(out, y), {"accuracy": _accuracy(out, y)}


class _TwoView(nn.Module):
    def __init__(self, in_dim: int | None, hidden_dim: int, out_dim: int, layer: str | None,
                 augment: nn.Module | None, image_size: int | None, crop_scale: tuple[float, float],
                 blur: bool) -> None:
        super().__init__()
        self.head = projection_head(int(in_dim), hidden_dim, out_dim) if in_dim else nn.Identity()
        self.layer = layer
        self.augment = augment if augment is not None else SimCLRAugment(image_size, scale=tuple(crop_scale), blur=blur)

    def embed(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        h = model(x) if self.layer is None else layer_output(model, self.layer, x)
        return self.head(h.reshape(h.shape[0], -1))

    def views(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, torch.Tensor]:
        x, _, _ = _split(batch)
        with torch.no_grad():
            v1, v2 = self.augment(x), self.augment(x)
        n = x.shape[0]
        z = self.embed(model, torch.cat([v1, v2]))  # one pass: shared batch-norm statistics
        return z[:n], z[n:]


@OBJECTIVES.register("simclr")
class SimCLR(_TwoView):
    """SimCLR: NT-Xent between the projected embeddings of two augmented views.

    Parameters
    ----------
    in_dim : int or None
        Width of the representation (model output, or ``layer``'s flattened output). With an
        int, an MLP projection head ``in_dim → hidden_dim → out_dim`` is trained with the model;
        ``None`` uses the representation directly.
    hidden_dim, out_dim : int
    temperature : float
    layer : str, optional
        Read the representation from this submodule (e.g. ``"avgpool"``) instead of the output.
    augment : nn.Module, optional
        Default :class:`~neurocompare.training.augment.SimCLRAugment`.
    image_size : int, optional
        Crop output side (default: input side).
    crop_scale : (float, float)
    blur : bool

    Metrics: ``pos_sim`` (mean cosine similarity of positive pairs).
    """

    def __init__(self, in_dim: int | None = None, hidden_dim: int = 512, out_dim: int = 128, temperature: float = 0.5,
                 layer: str | None = None, augment: nn.Module | None = None, image_size: int | None = None,
                 crop_scale: tuple[float, float] = (0.08, 1.0), blur: bool = True) -> None:
        super().__init__(in_dim, hidden_dim, out_dim, layer, augment, image_size, crop_scale, blur)
        self.temperature = float(temperature)

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z1, z2 = self.views(model, batch)
        loss = nt_xent(z1, z2, self.temperature)
        pos = nn.functional.cosine_similarity(z1.detach(), z2.detach(), dim=1).mean()
        return loss, {"pos_sim": pos}


@OBJECTIVES.register("vicreg")
class VICReg(_TwoView):
    """VICReg between two augmented views (same parameters as :class:`SimCLR` plus the term weights).

    Metrics: ``invariance``, ``variance``, ``covariance`` (unweighted terms).
    """

    def __init__(self, in_dim: int | None = None, hidden_dim: int = 512, out_dim: int = 128,
                 sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0,
                 layer: str | None = None, augment: nn.Module | None = None, image_size: int | None = None,
                 crop_scale: tuple[float, float] = (0.08, 1.0), blur: bool = True) -> None:
        super().__init__(in_dim, hidden_dim, out_dim, layer, augment, image_size, crop_scale, blur)
        self.weights = (float(sim_weight), float(var_weight), float(cov_weight))

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        z1, z2 = self.views(model, batch)
        s, v, c = self.weights
        loss, terms = vicreg_loss(z1, z2, sim_weight=s, var_weight=v, cov_weight=c, return_terms=True)
        return loss, terms


@OBJECTIVES.register("adversarial")
class Adversarial(nn.Module):
    """Adversarial training (Madry et al. 2018): the supervised loss on PGD examples.

    The attack runs with the model in ``eval()`` mode (batch-norm statistics untouched), then the
    update uses train mode.

    Parameters
    ----------
    eps : float
    norm : {'linf', 'l2'}
    steps : int
    step_size : float, optional
    clean_weight : float
        Mix ``clean_weight·clean loss + (1 − clean_weight)·adversarial loss`` (0 = Madry).
    clamp : (float, float) or None

    Metrics: ``accuracy`` (on the adversarial examples), ``clean_accuracy``.
    """

    def __init__(self, eps: float = 8 / 255, norm: str = "linf", steps: int = 7, step_size: float | None = None,
                 clean_weight: float = 0.0, clamp: tuple[float, float] | None = (0.0, 1.0)) -> None:
        super().__init__()
        self.eps, self.norm, self.steps, self.step_size = float(eps), norm, int(steps), step_size
        self.clean_weight = float(clean_weight)
        self.clamp = tuple(clamp) if clamp is not None else None
        self.task = Supervised()

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y, _ = _split(batch)
        if y is None:
            raise ValueError("The adversarial objective needs labelled batches (x, y, ...).")
        was_training = model.training
        model.eval()
        x_adv = pgd_attack(model, x, y, eps=self.eps, norm=self.norm, steps=self.steps,
                           step_size=self.step_size, clamp=self.clamp)
        model.train(was_training)
        out_adv = model(x_adv)
        loss = self.task.loss(out_adv, y)
        metrics = {"accuracy": _accuracy(out_adv, y)}
        if self.clean_weight > 0:
            out = model(x)
            loss = self.clean_weight * self.task.loss(out, y) + (1 - self.clean_weight) * loss
            metrics["clean_accuracy"] = _accuracy(out, y)
        return loss, metrics


@OBJECTIVES.register("irm")
class IRM(nn.Module):
    """IRMv1 (Arjovsky et al. 2019): mean risk over environments + w·mean IRMv1 penalty.

    ``w = 1`` for the first ``anneal_steps`` steps, then ``penalty_weight``; once
    ``penalty_weight > 1`` the whole loss is divided by it (as in the authors' code) to keep
    gradients in scale. ``penalty_weight = 0`` is ERM on the pooled environments.

    Parameters
    ----------
    penalty_weight : float
    anneal_steps : int
    l2 : float
        Extra L2 weight penalty on the model parameters (the paper's 0.0011 on Colored MNIST).

    Batches are ``(x, y, env)`` with ``env`` int64 environment indices, dims (sample,).
    Metrics: ``risk``, ``penalty``, ``accuracy``, ``penalty_weight``.
    """

    def __init__(self, penalty_weight: float = 1e4, anneal_steps: int = 100, l2: float = 0.0) -> None:
        super().__init__()
        self.penalty_weight, self.anneal_steps, self.l2 = float(penalty_weight), int(anneal_steps), float(l2)
        self.step = 0

    def set_step(self, step: int) -> None:
        """Called by the loop before each step (the annealing schedule)."""
        self.step = int(step)

    def current_weight(self) -> float:
        return self.penalty_weight if self.step >= self.anneal_steps else min(1.0, self.penalty_weight)

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        x, y, env = _split(batch)
        if y is None or env is None:
            raise ValueError("The irm objective needs batches (x, y, env) with environment indices.")
        out = model(x)
        risks, penalties = [], []
        for e in torch.unique(env):
            m = env == e
            out_e = out[m]
            risks.append(default_loss(out_e, y[m]))
            penalties.append(irm_penalty(out_e, y[m]))
        risk = torch.stack(risks).mean()
        penalty = torch.stack(penalties).mean()
        w = self.current_weight()
        loss = risk + w * penalty
        if self.l2:
            loss = loss + self.l2 * sum(p.pow(2).sum() for p in unwrap(model).parameters())
        if w > 1.0:
            loss = loss / w
        return loss, {"risk": risk.detach(), "penalty": penalty.detach(), "accuracy": _accuracy(out, y),
                      "penalty_weight": torch.tensor(w)}


class NeuralAlignment(nn.Module):
    """Task loss + λ·alignment of one model layer with recorded responses (Dapello et al. 2023).

    At each step a random mini-batch of the neural stimuli (of one randomly chosen recording
    session, when several are given) is passed through the model; the chosen layer's activations
    (flattened) are compared with the recorded responses to the same stimuli: ``method='cka'``
    adds ``λ·log(1 − CKA)`` (linear CKA, columns centred within the mini-batch); ``method='rdm'``
    adds ``λ·(1 − r)`` between correlation-distance RDMs.

    Parameters
    ----------
    task : callable
        The task objective, e.g. :class:`Supervised` (``task(model, batch) -> (loss, metrics)``).
    layer : str
        Submodule name (see ``neurocompare.list_layers``).
    stimuli : torch.Tensor or list of torch.Tensor
        Neural stimuli already in the model's input format, dims (stimulus, channel, height,
        width); a list gives one tensor per recording session (each with its own neurons).
    responses : torch.Tensor or list of torch.Tensor
        Recorded responses, dims (stimulus, unit) (repeat-averaged, e.g. spikes/s); one per session.
    weight : float
        λ.
    batch_size : int
        Neural stimuli per step (≥ 4). Sessions and stimuli are drawn with the global torch RNG,
        so a resumed run draws the same ones.
    method : {'cka', 'rdm'}

    Metrics: the task's, plus ``task_loss``, ``alignment_loss`` and ``cka`` (or ``rdm_r``) on the
    mini-batch.
    """

    def __init__(self, task: Any, layer: str, stimuli: Any, responses: Any, weight: float = 1.0,
                 batch_size: int = 64, method: str = "cka") -> None:
        super().__init__()
        if method not in ("cka", "rdm"):
            raise ValueError(f"The 'method' parameter of NeuralAlignment must be one of ('cka', 'rdm'). Got {method!r} instead.")
        stim_list = list(stimuli) if isinstance(stimuli, (list, tuple)) else [stimuli]
        resp_list = list(responses) if isinstance(responses, (list, tuple)) else [responses]
        if len(stim_list) != len(resp_list) or not stim_list:
            raise ValueError(
                f"Give one responses tensor per stimuli tensor (session); got {len(stim_list)} and {len(resp_list)}."
            )
        for i, (st, rs) in enumerate(zip(stim_list, resp_list)):
            if st.shape[0] != rs.shape[0]:
                raise ValueError(
                    f"stimuli and responses must have the same number of stimuli (rows); session {i} has "
                    f"{st.shape[0]} and {rs.shape[0]}."
                )
            if rs.dim() != 2:
                raise ValueError(f"responses must have dims (stimulus, unit); session {i} has shape {tuple(rs.shape)}.")
            self.register_buffer(f"stimuli_{i}", st.float())
            self.register_buffer(f"responses_{i}", rs.float())
        if int(batch_size) < 4:
            raise ValueError(f"batch_size must be >= 4. Got {batch_size!r} instead.")
        self.n_sessions = len(stim_list)
        self.task = task
        self.layer = layer
        self.weight, self.batch_size, self.method = float(weight), int(batch_size), method

    @property
    def stimuli(self) -> torch.Tensor:
        """Stimuli of the first session."""
        return self.stimuli_0

    @property
    def responses(self) -> torch.Tensor:
        """Responses of the first session."""
        return self.responses_0

    def alignment(self, model: nn.Module, idx: torch.Tensor | None = None,
                  session: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Alignment loss and similarity (CKA or RDM r) on stimuli ``idx`` (default all) of ``session``."""
        stim, resp = getattr(self, f"stimuli_{session}"), getattr(self, f"responses_{session}")
        s = stim if idx is None else stim[idx]
        r = resp if idx is None else resp[idx]
        feats = layer_output(model, self.layer, s).reshape(s.shape[0], -1)
        if self.method == "cka":
            loss = cka_alignment_loss(feats, r)
            sim = linear_cka(feats.detach(), r)
        else:
            loss = rdm_alignment_loss(feats, r)
            sim = 1 - loss.detach()
        return loss, sim

    def forward(self, model: nn.Module, batch: Any) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        out = self.task(model, batch)
        task_loss, metrics = out if isinstance(out, tuple) else (out, {})
        metrics = dict(metrics)
        metrics["task_loss"] = task_loss.detach()
        if self.weight == 0:
            return task_loss, metrics
        session = int(torch.randint(self.n_sessions, ())) if self.n_sessions > 1 else 0
        n = getattr(self, f"stimuli_{session}").shape[0]
        k = min(self.batch_size, n)
        idx = torch.randperm(n)[:k].to(self.stimuli.device)
        align, sim = self.alignment(model, idx, session)
        metrics["alignment_loss"] = align.detach()
        metrics["cka" if self.method == "cka" else "rdm_r"] = sim
        return task_loss + self.weight * align, metrics
