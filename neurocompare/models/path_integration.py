"""Path-integrating recurrent networks (supervised and self-supervised) and their losses.

Two families, both driven by 2-D velocity sequences of dims (batch, time, 2):

Supervised (Banino et al. 2018; Sorscher et al. 2019, 2023)
    The initial hidden state is a linear function of the place-cell code of the start position;
    a linear read-out predicts the place-cell code at every step; the loss is the cross-entropy
    between the predicted and the true (softmax-normalised) place code, plus weight decay on the
    recurrent weights. Place codes are Gaussian (``softmax`` of ``-|x - c|^2 / 2 sigma^2``) or
    difference-of-Gaussians (centre minus surround, each softmax-normalised; Sorscher et al.).
Self-supervised (Schaeffer, Khona et al. NeurIPS 2023)
    No position targets and no read-out: a Norm-ReLU RNN (``g = relu(h) / |relu(h)|``) starts every
    trajectory from one learned state, and the loss is built from which time steps are at the same
    or at different places (known from the data augmentation, like SimCLR knows which views share
    an image): a separation term, a path-invariance term and a capacity term
    (:func:`ssl_grid_loss`).

Builders registered in ``MODELS``: ``path_integrator_rnn``, ``path_integrator_gru``,
``path_integrator_lstm`` (supervised) and ``ssl_path_integrator`` (Norm-ReLU RNN).

Examples
--------
>>> import torch
>>> from neurocompare.models import build_model
>>> net = build_model("path_integrator_rnn", n_hidden=32, n_place=16, seed=0)
>>> net(torch.zeros(3, 5, 2)).shape    # place-code logits per step
torch.Size([3, 5, 16])
>>> net.hidden(torch.zeros(3, 5, 2)).shape
torch.Size([3, 5, 32])

References
----------
Banino et al. (2018) Vector-based navigation using grid-like representations in artificial agents.
Nature 557:429. Sorscher, Mel, Ganguli & Ocko (2019) A unified theory for the origin of grid cells
through the lens of pattern formation. NeurIPS. Schaeffer, Khona, Ma, Eyzaguirre, Koyejo & Fiete
(2023) Self-supervised learning of representations for space generates multi-modular grid cells.
NeurIPS.
"""

from __future__ import annotations

import torch
from torch import nn

from neurocompare._seeding import seeded, torch_generator
from neurocompare.models import MODELS
from neurocompare.models.grid_losses import norm_relu, sic_loss

__all__ = [
    "PlaceCells",
    "PathIntegrator",
    "norm_relu",
    "place_cell_loss",
    "ssl_grid_loss",
    "sic_loss",
    "permuted_batch",
    "uniform_velocity_batch",
]


# ----------------------------------------------------------------------------------------------
# place cells
# ----------------------------------------------------------------------------------------------


class PlaceCells:
    """Fixed place-cell centres and their population code.

    Parameters
    ----------
    n : int
        Number of place cells.
    sigma : float
        Tuning width (m). Sorscher et al. use 0.12 m in a 2.2 m box.
    box : ((xmin, xmax), (ymin, ymax))
    kind : {"softmax", "dog"}
        ``softmax``: Gaussian tuning normalised across cells (Banino; Sorscher's Gaussian case).
        ``dog``: centre softmax minus surround softmax (width ``sigma * surround``), shifted to be
        non-negative and renormalised to sum to 1 (Sorscher et al.'s difference of Gaussians).
    surround : float
        Surround width relative to ``sigma`` (DoG only).
    seed : int

    Attributes
    ----------
    centers : torch.Tensor (n, 2)
    """

    def __init__(self, n: int = 256, sigma: float = 0.12, box=((-1.1, 1.1), (-1.1, 1.1)), kind: str = "dog", surround: float = 2.0, seed: int = 0):
        if kind not in ("softmax", "dog"):
            raise ValueError(f"The 'kind' parameter of PlaceCells must be one of {{'softmax', 'dog'}}. Got {kind!r} instead.")
        if n < 1 or sigma <= 0:
            raise ValueError(f"PlaceCells needs n >= 1 and sigma > 0; got n={n}, sigma={sigma}.")
        (x0, x1), (y0, y1) = box
        g = torch_generator(seed)  # draws what torch.manual_seed(seed) would
        self.centers = torch.stack([x0 + (x1 - x0) * torch.rand(n, generator=g), y0 + (y1 - y0) * torch.rand(n, generator=g)], dim=1)
        self.n, self.sigma, self.kind, self.surround, self.box = n, float(sigma), kind, float(surround), box

    def __call__(self, pos: torch.Tensor) -> torch.Tensor:
        """Place code of positions (..., 2) -> (..., n), each row summing to 1."""
        pos = torch.as_tensor(pos, dtype=torch.float32)
        c = self.centers.to(pos.device)
        d2 = ((pos[..., None, :] - c) ** 2).sum(-1)
        out = torch.softmax(-d2 / (2 * self.sigma**2), dim=-1)
        if self.kind == "dog":
            out = out - torch.softmax(-d2 / (2 * (self.surround * self.sigma) ** 2), dim=-1)
            out = out - out.min(dim=-1, keepdim=True).values
            out = out / out.sum(dim=-1, keepdim=True)
        return out

    def decode(self, code: torch.Tensor, k: int = 3) -> torch.Tensor:
        """Position estimate (..., 2): mean of the centres of the ``k`` most active cells (Sorscher)."""
        idx = torch.topk(code, k, dim=-1).indices
        return self.centers.to(code.device)[idx].mean(-2)


# ----------------------------------------------------------------------------------------------
# networks
# ----------------------------------------------------------------------------------------------


class _Recurrence(nn.Module):
    """Recurrent core returning all hidden states (batch, time, hidden) as one tensor."""

    def __init__(self, cell: str, n_in: int, n_hidden: int, activation: str, identity_init: bool = False):
        super().__init__()
        self.cell, self.activation = cell, activation
        if cell == "rnn" and activation in ("relu", "tanh"):
            self.core = nn.RNN(n_in, n_hidden, nonlinearity=activation, batch_first=True, bias=False)
        elif cell == "rnn":  # norm_relu: explicit loop
            self.w_in = nn.Linear(n_in, n_hidden, bias=False)
            self.w_rec = nn.Linear(n_hidden, n_hidden, bias=True)
            if identity_init:  # start as a perfect memory: the code only moves where velocity drives it
                with torch.no_grad():
                    self.w_rec.weight.copy_(torch.eye(n_hidden))
                    self.w_rec.bias.zero_()
        elif cell == "gru":
            self.core = nn.GRU(n_in, n_hidden, batch_first=True)
        else:
            self.core = nn.LSTM(n_in, n_hidden, batch_first=True)

    def forward(self, v: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None = None) -> torch.Tensor:
        if self.cell == "rnn" and self.activation == "norm_relu":
            h, outs = h0, []
            drive = self.w_in(v)
            for t in range(v.shape[1]):
                h = norm_relu(self.w_rec(h) + drive[:, t])
                outs.append(h)
            return torch.stack(outs, dim=1)
        if self.cell == "lstm":
            out, _ = self.core(v, (h0[None], c0[None]))
            return out
        out, _ = self.core(v, h0[None])
        return out


class PathIntegrator(nn.Module):
    """Velocity-driven recurrent network.

    Parameters
    ----------
    cell : {"rnn", "gru", "lstm"}
    n_hidden : int
        Recurrent units (the candidate grid cells).
    n_place : int or None
        Place cells for the supervised read-out and the initial-state encoder; None for the
        self-supervised network (learned initial state ``h0``, no read-out).
    activation : {"relu", "tanh", "norm_relu"}
        Non-linearity of the plain RNN (ignored by GRU/LSTM).
    identity_init : bool
        Norm-ReLU RNN only: initialise the recurrent matrix to the identity (and its bias to 0), as
        Pettersen et al. (2024) do; the default is PyTorch's uniform initialisation.

    Forward
    -------
    ``forward(velocity (batch, time, 2), init_code=None) -> (batch, time, n_place)`` place-code
    logits (supervised) or ``(batch, time, n_hidden)`` codes (self-supervised). ``init_code`` is the
    place code of the start positions (batch, n_place); zeros when omitted. Submodules: ``encoder``
    (start code -> initial state), ``rnn`` (hidden states, dims (batch, time, n_hidden)),
    ``decoder`` (hidden -> place logits).
    """

    def __init__(self, cell: str = "rnn", n_hidden: int = 256, n_place: int | None = 256, activation: str = "relu", identity_init: bool = False):
        super().__init__()
        if cell not in ("rnn", "gru", "lstm"):
            raise ValueError(f"The 'cell' parameter of PathIntegrator must be one of {{'rnn', 'gru', 'lstm'}}. Got {cell!r} instead.")
        if activation not in ("relu", "tanh", "norm_relu"):
            raise ValueError(f"The 'activation' parameter must be one of {{'relu', 'tanh', 'norm_relu'}}. Got {activation!r} instead.")
        self.cell, self.n_hidden, self.n_place, self.activation = cell, n_hidden, n_place, activation
        if identity_init and not (cell == "rnn" and activation == "norm_relu"):
            raise ValueError(f"identity_init is implemented for the Norm-ReLU RNN only (cell='rnn', activation='norm_relu'); got cell={cell!r}, activation={activation!r}.")
        self.rnn = _Recurrence(cell, 2, n_hidden, activation, identity_init)
        if n_place is None:
            self.h0 = nn.Parameter(norm_relu(torch.rand(n_hidden)) if activation == "norm_relu" else torch.zeros(n_hidden))
            self.encoder = None
            self.decoder = nn.Identity()
        else:
            self.encoder = nn.Linear(n_place, n_hidden * (2 if cell == "lstm" else 1), bias=False)
            self.decoder = nn.Linear(n_hidden, n_place, bias=False)

    def _initial(self, batch: int, init_code: torch.Tensor | None, device) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.encoder is None:
            return self.h0.expand(batch, -1), (torch.zeros(batch, self.n_hidden, device=device) if self.cell == "lstm" else None)
        if init_code is None:
            init_code = torch.zeros(batch, self.n_place, device=device)
        z = self.encoder(init_code)
        if self.cell == "lstm":
            return z[:, : self.n_hidden], z[:, self.n_hidden :]
        return z, None

    def hidden(self, velocity: torch.Tensor, init_code: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states (batch, time, n_hidden): the units whose rate maps are scored."""
        if velocity.ndim != 3 or velocity.shape[-1] != 2:
            raise ValueError(f"velocity must have dims (batch, time, 2); got shape {tuple(velocity.shape)}.")
        h0, c0 = self._initial(velocity.shape[0], init_code, velocity.device)
        return self.rnn(velocity, h0, c0)

    def forward(self, velocity: torch.Tensor, init_code: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(self.hidden(velocity, init_code))


def _register(name: str, cell: str, ssl: bool = False):
    def builder(*, n_hidden: int = 256, n_place: int = 256, activation: str | None = None, identity_init: bool = False, seed: int | None = 0) -> PathIntegrator:
        # a forked, seeded torch RNG: the weights torch.manual_seed(seed) gave, and the caller's
        # global RNG is left as it was
        with seeded(seed):
            if ssl:
                return PathIntegrator("rnn", n_hidden, None, activation or "norm_relu", identity_init=identity_init)
            return PathIntegrator(cell, n_hidden, n_place, activation or "relu")

    builder.__name__ = name
    builder.__doc__ = f"Build a {'self-supervised Norm-ReLU RNN' if ssl else cell.upper() + ' supervised'} path integrator (see PathIntegrator)."
    builder.example_input = lambda: torch.rand(2, 5, 2, generator=torch_generator(0)) - 0.5
    MODELS.register(name, builder)
    return builder


path_integrator_rnn = _register("path_integrator_rnn", "rnn")
path_integrator_gru = _register("path_integrator_gru", "gru")
path_integrator_lstm = _register("path_integrator_lstm", "lstm")
ssl_path_integrator = _register("ssl_path_integrator", "rnn", ssl=True)


# ----------------------------------------------------------------------------------------------
# losses
# ----------------------------------------------------------------------------------------------


def place_cell_loss(logits: torch.Tensor, target_code: torch.Tensor) -> torch.Tensor:
    """Cross-entropy between predicted place logits and target place codes (both (..., n_place))."""
    if logits.shape != target_code.shape:
        raise ValueError(f"logits {tuple(logits.shape)} and target_code {tuple(target_code.shape)} must have the same shape.")
    return -(target_code * torch.log_softmax(logits, dim=-1)).sum(-1).mean()


def ssl_grid_loss(
    codes: torch.Tensor,
    positions: torch.Tensor,
    *,
    sigma_x: float = 0.2,
    sigma_g: float = 0.35,
    same_place: float = 0.02,
    w_sep: float = 1.0,
    w_inv: float = 1.0,
    w_cap: float = 0.1,
    max_pairs_points: int = 768,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Self-supervised loss for spatial codes (structure of Schaeffer, Khona et al. 2023).

    With ``k(a, b) = exp(-|g_a - g_b|^2 / (2 sigma_g^2))`` the similarity of two codes:

    - separation: ``mean over pairs with |x_a - x_b| > sigma_x of k(a, b)`` -- codes of places
      farther apart than ``sigma_x`` are pushed apart (until ``k`` is small; beyond ``~2 sigma_g`` in
      code space nothing more is gained, which is what lets codes wrap around periodically);
    - invariance: ``mean over pairs with |x_a - x_b| < same_place of |g_a - g_b|^2`` -- different
      paths (permutations of the same steps) that reach the same place must give the same code;
    - capacity: ``-mean over all pairs of k(a, b)`` -- use as little of code space as possible.

    ``loss = w_sep * separation + w_inv * invariance + w_cap * capacity``.

    Parameters
    ----------
    codes : tensor (batch, time, units)
    positions : tensor (batch, time, 2), the integrated positions (never given to the network).
    sigma_x, sigma_g, same_place, w_sep, w_inv, w_cap : float
        Hyper-parameters (defaults chosen here for a 2.2 m box and unit-norm codes; see the
        analysis ``analyses/ssl_grid_cells.py`` for the values used and their rationale).
    max_pairs_points : int
        Pairwise terms use a random subset of this many (trajectory, time) points.

    Returns
    -------
    loss : scalar tensor
    metrics : dict with the three terms (floats).

    Notes
    -----
    The three-term structure (separation with a distance threshold and a Gaussian kernel in code
    space, path invariance, capacity) follows the paper's description; the exact kernel forms and
    weights here are this package's reading of it, not a copy of the authors' code.
    """
    if codes.shape[:2] != positions.shape[:2] or positions.shape[-1] != 2:
        raise ValueError(f"codes (batch, time, units) {tuple(codes.shape)} and positions (batch, time, 2) {tuple(positions.shape)} must share batch and time.")
    b, t = codes.shape[:2]
    g = codes.reshape(-1, codes.shape[-1])
    x = positions.reshape(-1, 2).to(g.dtype)
    if g.shape[0] > max_pairs_points:
        # always keep every trajectory's last step (permutations of one sequence end at the same
        # place), plus a random subset of the other steps
        last = torch.arange(b) * t + (t - 1)
        rest = torch.ones(b * t, dtype=torch.bool)
        rest[last] = False
        others = torch.nonzero(rest).squeeze(1)
        n_other = max(max_pairs_points - b, 0)
        pick = others[torch.randperm(len(others), generator=generator)[:n_other]]
        idx = torch.cat([last, pick]).to(g.device)
        g, x = g[idx], x[idx]
    dg2 = torch.cdist(g, g).pow(2)
    dx = torch.cdist(x, x)
    k = torch.exp(-dg2 / (2 * sigma_g**2))
    off = ~torch.eye(g.shape[0], dtype=torch.bool, device=g.device)
    far = (dx > sigma_x) & off
    near = (dx < same_place) & off
    sep = k[far].mean() if far.any() else k.new_zeros(())
    inv = dg2[near].mean() if near.any() else k.new_zeros(())
    cap = -k[off].mean()
    loss = w_sep * sep + w_inv * inv + w_cap * cap
    return loss, {"separation": sep.detach().item(), "invariance": inv.detach().item(), "capacity": cap.detach().item()}


def permuted_batch(velocity: torch.Tensor, n_perm: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment velocity sequences (batch, time, 2) by ``n_perm`` random re-orderings of their steps.

    All permutations of one sequence start at the same place and end at the same place (the sum
    of the steps), and cross each other along the way: the positives of the invariance term.

    Returns
    -------
    tensor (batch * n_perm, time, 2), the permutations of sequence ``i`` at rows
    ``i * n_perm ... i * n_perm + n_perm - 1`` (the first is the original order).
    """
    b, t, _ = velocity.shape
    out = [velocity]
    for _ in range(n_perm - 1):
        perm = torch.argsort(torch.rand(b, t, generator=generator), dim=1).to(velocity.device)
        out.append(torch.gather(velocity, 1, perm[..., None].expand(-1, -1, 2)))
    return torch.stack(out, dim=1).reshape(b * n_perm, t, 2)


def uniform_velocity_batch(
    n_sequences: int,
    length: int,
    n_perm: int = 3,
    *,
    step: float = 1.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The SIC training data: i.i.d. uniform velocity sequences and random permutations of each.

    Every step of a base sequence is drawn independently and uniformly from the square
    ``[-step, step]^2``; each sequence is followed by ``n_perm - 1`` random re-orderings of its
    steps (:func:`permuted_batch`), which share start (the origin) and end and cross each other in
    an open plane (no walls), as in Schaeffer, Khona et al. (2023).

    Parameters
    ----------
    n_sequences : int
        Base sequences.
    length : int
        Steps per sequence (the paper uses 10-20).
    n_perm : int
        Orderings of each sequence, the original included (>= 2; the paper's setting is >= 3).
    step : float
        Half-width of the uniform step distribution (position units per step; ``dt = 1``).

    Returns
    -------
    velocity : tensor (n_sequences * n_perm, length, 2)
    positions : tensor (n_sequences * n_perm, length, 2), position after each step
        (``cumsum`` of the velocities from the origin); the loss sees it, the network never does.
    """
    if n_sequences < 1 or length < 1 or n_perm < 2 or not step > 0:
        raise ValueError(
            f"uniform_velocity_batch needs n_sequences >= 1, length >= 1, n_perm >= 2 (the permutations are the positives) "
            f"and step > 0; got n_sequences={n_sequences}, length={length}, n_perm={n_perm}, step={step}."
        )
    v = (2 * torch.rand(n_sequences, length, 2, generator=generator) - 1) * step
    vel = permuted_batch(v, n_perm, generator=generator)
    return vel, torch.cumsum(vel, dim=1)
