"""Future-prediction models: a frozen per-frame encoder plus a dynamics module that predicts the next latent.

A video (batch, time, channel, height, width) is encoded frame by frame by a frozen encoder
(any model the toolkit builds, e.g. ``convnet_small``, cut before its pooling and pooled to a
``grid × grid`` map so the ball's position survives); a dynamics module runs over the latents
and a linear read-out predicts the *next* frame's latent, trained with a mean squared error
(:func:`train_future_prediction`). Optionally the model *imagines*: where ``imagine`` is True
(e.g. behind the occluder) it feeds its own last prediction instead of the encoder's latent
(an autoregressive roll-out).

Dynamics (each a module called once per time step, so :func:`neurocompare.extract` records
``encoder``, ``dynamics`` and ``readout`` with a ``time`` dim):

- :class:`IdentityDynamics` — the "no dynamics" control: the state is the current latent and
  the prediction is the latent itself;
- :class:`MLPDynamics` — an MLP over the last ``n_past`` latents;
- :class:`LSTMDynamics` — an ``nn.LSTMCell``;
- :class:`CTRNNDynamics` — a continuous-time RNN, ``h ← (1 − dt/τ) h + dt/τ · relu(tanh(W h + U z + b))``.

Registered builders: ``future_prediction_identity``, ``future_prediction_mlp``,
``future_prediction_lstm``, ``future_prediction_ctrnn`` (keyword ``encoder``: a registered
name or an ``nn.Module``).

Examples
--------
>>> import torch
>>> from neurocompare.models import build_model
>>> net = build_model("future_prediction_ctrnn", hidden=16, seed=0)
>>> video = torch.rand(2, 5, 1, 32, 32)
>>> net(video).shape                      # predicted next latents (batch, time, latent)
torch.Size([2, 5, 1024])
>>> net.run(net.latents(video))["dynamics"].shape
torch.Size([2, 5, 16])

References
----------
Nayebi A, Rajalingham R, Jazayeri M, Yang GR (2023). Neural foundations of mental simulation:
future prediction of latent representations on dynamic scenes. NeurIPS.
Song HF, Yang GR, Wang XJ (2016). Training excitatory-inhibitory recurrent neural networks for
cognitive tasks. PLoS Comput Biol 12:e1004792 (the discretised continuous-time RNN).
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from neurocompare._options import progress_enabled
from neurocompare._seeding import seeded, torch_generator
from neurocompare.models import MODELS, build_model

__all__ = [
    "CTRNNDynamics",
    "FrameEncoder",
    "FuturePredictor",
    "IdentityDynamics",
    "LSTMDynamics",
    "MLPDynamics",
    "future_predictor",
    "train_future_prediction",
]


# ----------------------------------------------------------------------------- encoder
class FrameEncoder(nn.Module):
    """A frozen image model applied to one frame: (batch, channel, height, width) -> (batch, latent).

    Parameters
    ----------
    backbone : nn.Module
        A :class:`~neurocompare.models.convnets.ConvNet` (its conv blocks are kept, the pooling
        and classifier dropped) or any module whose output is flattened to the latent.
    grid : int
        ConvNets: the last block's map is average-pooled to ``grid × grid`` (latent =
        channels · grid²); a global average would discard where the ball is.

    The parameters never train (``requires_grad`` False) and the module stays in eval mode.
    Frames with 1 channel are repeated to 3 when the backbone's first convolution takes 3.
    """

    def __init__(self, backbone: nn.Module, grid: int = 4) -> None:
        super().__init__()
        if not isinstance(backbone, nn.Module):
            raise TypeError(f"FrameEncoder needs an nn.Module backbone; got {type(backbone).__name__}.")
        if isinstance(grid, bool) or not isinstance(grid, int) or grid < 1:
            raise ValueError(f"grid must be a positive int; got {grid!r}.")
        self.backbone, self.grid = backbone, grid
        self._blocks = getattr(backbone, "n_blocks", None)
        convs = [m for m in backbone.modules() if isinstance(m, nn.Conv2d)]
        self.in_channels = int(convs[0].in_channels) if convs else None
        for p in self.backbone.parameters():
            p.requires_grad_(False)
        self.backbone.eval()

    def train(self, mode: bool = True) -> "FrameEncoder":  # frozen: batch norm keeps its statistics
        super().train(mode)
        self.backbone.eval()
        return self

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        if frames.dim() != 4:
            raise ValueError(f"FrameEncoder takes frames (batch, channel, height, width); got shape {tuple(frames.shape)}.")
        if self.in_channels == 3 and frames.shape[1] == 1:
            frames = frames.expand(-1, 3, -1, -1)
        if self._blocks is not None:
            x = frames
            for i in range(1, self._blocks + 1):
                x = getattr(self.backbone, f"block{i}")(x)
            return F.adaptive_avg_pool2d(x, self.grid).flatten(1)
        return self.backbone(frames).flatten(1)


# ----------------------------------------------------------------------------- dynamics
class IdentityDynamics(nn.Module):
    """No dynamics: the state is the current latent (``hidden_size`` = latent size)."""

    def __init__(self, latent: int) -> None:
        super().__init__()
        self.hidden_size = latent

    def forward(self, z: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        return z, None


class MLPDynamics(nn.Module):
    """An MLP over the last ``n_past`` latents (zeros before the first frame)."""

    def __init__(self, latent: int, hidden: int = 256, n_past: int = 4) -> None:
        super().__init__()
        if n_past < 1:
            raise ValueError(f"n_past must be >= 1; got {n_past}.")
        self.n_past, self.hidden_size = n_past, hidden
        self.fc1 = nn.Linear(latent * n_past, hidden)
        self.fc2 = nn.Linear(hidden, hidden)

    def forward(self, z: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        past = torch.zeros(z.shape[0], self.n_past - 1, z.shape[1], dtype=z.dtype, device=z.device) if state is None else state
        window = torch.cat([past, z[:, None]], dim=1)  # (batch, n_past, latent), oldest first
        h = torch.relu(self.fc2(torch.relu(self.fc1(window.flatten(1)))))
        return h, window[:, 1:]


class LSTMDynamics(nn.Module):
    """An LSTM cell; the state is (h, c), the recorded output is h."""

    def __init__(self, latent: int, hidden: int = 256) -> None:
        super().__init__()
        self.hidden_size = hidden
        self.cell = nn.LSTMCell(latent, hidden)

    def forward(self, z: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        h, c = self.cell(z, state)
        return h, (h, c)


class CTRNNDynamics(nn.Module):
    """Continuous-time RNN, Euler-discretised: ``h ← (1 − α) h + α relu(tanh(W h + U z + b))``, ``α = dt / τ``.

    Parameters
    ----------
    latent, hidden : int
    tau, dt : float
        Time constant and step (same units, e.g. frames); ``0 < dt <= tau``.
    """

    def __init__(self, latent: int, hidden: int = 256, tau: float = 2.0, dt: float = 1.0) -> None:
        super().__init__()
        if not 0 < dt <= tau:
            raise ValueError(f"CTRNNDynamics needs 0 < dt <= tau; got dt={dt}, tau={tau}.")
        self.hidden_size, self.alpha = hidden, float(dt) / float(tau)
        self.w_in = nn.Linear(latent, hidden)
        self.w_rec = nn.Linear(hidden, hidden, bias=False)

    def forward(self, z: torch.Tensor, state: Any = None) -> tuple[torch.Tensor, Any]:
        h = torch.zeros(z.shape[0], self.hidden_size, dtype=z.dtype, device=z.device) if state is None else state
        h = (1 - self.alpha) * h + self.alpha * torch.relu(torch.tanh(self.w_rec(h) + self.w_in(z)))
        return h, h


DYNAMICS = {"identity": IdentityDynamics, "mlp": MLPDynamics, "lstm": LSTMDynamics, "ctrnn": CTRNNDynamics}


# ----------------------------------------------------------------------------- the model
class FuturePredictor(nn.Module):
    """Frozen encoder + dynamics + linear read-out predicting the next frame's latent.

    Parameters
    ----------
    encoder : FrameEncoder
    dynamics : nn.Module
        One of the dynamics classes here (``forward(z, state) -> (hidden, state)``).

    Layers (each called once per frame, so recorded with a ``time`` dim): ``encoder`` (latent
    of the frame seen), ``dynamics`` (hidden state), ``readout`` (predicted next latent).
    """

    def __init__(self, encoder: FrameEncoder, dynamics: nn.Module, latent: int) -> None:
        super().__init__()
        self.encoder, self.dynamics, self.latent_size = encoder, dynamics, int(latent)
        self.readout = nn.Identity() if isinstance(dynamics, IdentityDynamics) else nn.Linear(dynamics.hidden_size, latent)

    @torch.no_grad()
    def latents(self, video: torch.Tensor, batch_size: int = 256) -> torch.Tensor:
        """Encoder latents of every frame: (batch, time, C, H, W) -> (batch, time, latent), float32."""
        video = self._check_video(video)
        b, t = video.shape[:2]
        flat = video.reshape(b * t, *video.shape[2:])
        out = torch.cat([self.encoder(flat[i:i + batch_size].float()) for i in range(0, b * t, batch_size)])
        return out.reshape(b, t, -1)

    def run(self, latents: torch.Tensor, imagine: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Run the dynamics over latents (batch, time, latent).

        Parameters
        ----------
        imagine : bool tensor (batch, time), optional
            Where True, the input at that step is the model's previous prediction instead of
            the latent (autoregressive roll-out, e.g. while the ball is occluded).

        Returns
        -------
        dict with ``input`` (batch, time, latent; what the dynamics received), ``dynamics``
        (batch, time, hidden) and ``readout`` (batch, time, latent; predicted next latents).
        """
        if latents.dim() != 3:
            raise ValueError(f"run() takes latents (batch, time, latent); got shape {tuple(latents.shape)}.")
        if imagine is not None and tuple(imagine.shape) != tuple(latents.shape[:2]):
            raise ValueError(f"imagine must be (batch, time) = {tuple(latents.shape[:2])}; got {tuple(imagine.shape)}.")
        state, pred = None, None
        inputs, hidden, preds = [], [], []
        for t in range(latents.shape[1]):
            z = latents[:, t]
            if imagine is not None and pred is not None:
                z = torch.where(imagine[:, t, None].to(z.device), pred, z)
            h, state = self.dynamics(z, state)
            pred = self.readout(h)
            inputs.append(z)
            hidden.append(h)
            preds.append(pred)
        return {"input": torch.stack(inputs, 1), "dynamics": torch.stack(hidden, 1), "readout": torch.stack(preds, 1)}

    def _check_video(self, video: torch.Tensor) -> torch.Tensor:
        if not isinstance(video, torch.Tensor) or video.dim() != 5:
            raise ValueError(
                "A FuturePredictor takes videos (batch, time, channel, height, width), e.g. "
                f"neurocompare.tasks.render(conditions); got {type(video).__name__} of shape {tuple(getattr(video, 'shape', ()))}."
            )
        return video

    def forward(self, video: torch.Tensor, imagine: torch.Tensor | None = None) -> torch.Tensor:
        """Predicted next latents (batch, time, latent); the encoder runs once per frame."""
        video = self._check_video(video)
        latents = torch.stack([self.encoder(video[:, t]) for t in range(video.shape[1])], 1)
        return self.run(latents, imagine)["readout"]


def future_predictor(
    dynamics: str = "ctrnn",
    *,
    encoder: str | nn.Module = "convnet_small",
    in_channels: int = 1,
    grid: int = 4,
    hidden: int = 256,
    n_past: int = 4,
    tau: float = 2.0,
    dt: float = 1.0,
    image_size: int = 32,
    seed: int | None = 0,
) -> FuturePredictor:
    """Build a :class:`FuturePredictor`.

    Parameters
    ----------
    dynamics : {'identity', 'mlp', 'lstm', 'ctrnn'}
    encoder : str or nn.Module
        A registered model name (built with ``seed`` and ``in_channels``) or a module (e.g. a
        trained network); wrapped in a frozen :class:`FrameEncoder`.
    in_channels : int
        Channels of the frames (1 for :func:`neurocompare.tasks.render`).
    grid, hidden, n_past, tau, dt
        See :class:`FrameEncoder` and the dynamics classes.
    image_size : int
        Frame side used to measure the latent size.
    seed : int
        Seeds the encoder (when built by name) and the dynamics' initial weights.
    """
    if dynamics not in DYNAMICS:
        raise ValueError(f"The 'dynamics' parameter must be one of {set(DYNAMICS)}. Got {dynamics!r} instead.")
    if isinstance(encoder, str):
        kwargs = {"seed": seed, "in_channels": in_channels}
        try:
            backbone = build_model(encoder, **kwargs)
        except TypeError:
            backbone = build_model(encoder, seed=seed)
    else:
        backbone = encoder
    enc = FrameEncoder(backbone, grid=grid)
    with torch.no_grad():
        latent = int(enc(torch.zeros(1, in_channels, image_size, image_size)).shape[1])
    with seeded(seed):
        if dynamics == "identity":
            dyn: nn.Module = IdentityDynamics(latent)
        elif dynamics == "mlp":
            dyn = MLPDynamics(latent, hidden, n_past)
        elif dynamics == "lstm":
            dyn = LSTMDynamics(latent, hidden)
        else:
            dyn = CTRNNDynamics(latent, hidden, tau, dt)
        return FuturePredictor(enc, dyn, latent)


def _register(kind: str) -> None:
    def builder(*, seed: int | None = 0, **kwargs: Any) -> FuturePredictor:
        return future_predictor(kind, seed=seed, **kwargs)

    builder.__doc__ = f"Frozen convnet_small encoder (4x4 grid) + {kind} dynamics predicting the next latent (videos (batch, time, 1, 32, 32))."
    builder.example_input_shape = (2, 4, 1, 32, 32)  # type: ignore[attr-defined]
    MODELS.register(f"future_prediction_{kind}", builder)


for _kind in DYNAMICS:
    _register(_kind)


# ----------------------------------------------------------------------------- training
def train_future_prediction(
    model: FuturePredictor,
    latents: torch.Tensor,
    valid: torch.Tensor | None = None,
    *,
    epochs: int = 20,
    lr: float = 1e-3,
    batch_size: int = 32,
    seed: int = 0,
    progress: bool | None = None,
) -> list[float]:
    """Train the dynamics and read-out to predict the next latent (mean squared error).

    Parameters
    ----------
    model : FuturePredictor
        Its encoder stays frozen; the latents are computed once (:meth:`FuturePredictor.latents`).
    latents : tensor (n_videos, time, latent)
    valid : bool tensor (n_videos, time), optional
        Frames that exist (padding after a video's end is excluded from the loss).
    epochs, lr, batch_size : training settings (Adam)
    seed : int
        Seeds the batch order (``torch_generator(seed, "future_prediction")``).
    progress : bool, optional
        Progress bar over epochs (default: the ``progress`` option).

    Returns
    -------
    list of float
        Mean training loss per epoch (empty for identity dynamics, which has nothing to train).
        The loss is ``mean over valid (t, t+1) pairs of ||readout_t - latent_{t+1}||² / latent``.
    """
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        return []
    if latents.dim() != 3:
        raise ValueError(f"latents must be (n_videos, time, latent); got shape {tuple(latents.shape)}.")
    valid = torch.ones(latents.shape[:2], dtype=torch.bool) if valid is None else valid.bool()
    pair = (valid[:, :-1] & valid[:, 1:]).float()
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch_generator(seed, "future_prediction")
    history = []
    bar = None
    if progress_enabled(progress):
        from tqdm.auto import tqdm

        bar = tqdm(total=epochs, desc="future prediction", unit="epoch")
    model.train()
    for _ in range(int(epochs)):
        order = torch.randperm(latents.shape[0], generator=gen)
        total, count = 0.0, 0.0
        for i in range(0, len(order), batch_size):
            idx = order[i:i + batch_size]
            z, w = latents[idx], pair[idx]
            pred = model.run(z)["readout"][:, :-1]
            err = ((pred - z[:, 1:]) ** 2).mean(-1)
            loss = (err * w).sum() / w.sum().clamp_min(1.0)
            if not torch.isfinite(loss):
                raise FloatingPointError("The future-prediction loss became non-finite; lower the learning rate.")
            opt.zero_grad()
            loss.backward()
            opt.step()
            total += float(loss.detach()) * float(w.sum())
            count += float(w.sum())
        history.append(total / max(count, 1.0))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    model.eval()
    return history
