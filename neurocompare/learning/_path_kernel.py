"""The tangent kernel and the path kernel: gradient descent as a kernel machine.

For a model ``f(x; θ)`` trained by gradient descent on a loss ``L(θ) = ℓ(f(X; θ), Y)``, one step
``θ' = θ - η ∇L(θ)`` changes the output at any point ``x`` by

    f(x; θ') - f(x; θ) = -η Σ_i Σ_c ∂L/∂f_c(x_i) · <ḡ(x), ∇_θ f_c(x_i; θ)>,

where ``ḡ(x) = ∫_0^1 ∇_θ f(x; θ + s(θ' - θ)) ds`` is the query gradient averaged along the step.
Replacing ``ḡ(x)`` by ``∇_θ f(x; θ)`` gives Domingos's first-order (discrete) form, whose error per
step is O(η²); evaluating the integral with Gauss–Legendre nodes makes the identity exact up to
the quadrature error, which for smooth models is far below float64 round-off (Bell et al. 2023).
Summing over steps expresses ``f_T(x) - f_0(x)`` as a sum over training points:

    f_T(x) - f_0(x) = Σ_i a_i(x) K^p(x, x_i),   K^p(x, x_i) = Σ_t η_t <ḡ_t(x), ∇f(x_i; θ_t)>,

the *path kernel*, with ``a_i(x) = -Σ_t η_t L'_{i,t} K_t(x, x_i) / K^p(x, x_i)``, a kernel-weighted
average of the loss derivative. That ``a_i`` depends on the query point ``x`` is the main
criticism of reading the theorem as "every trained network is a kernel machine".

Shapes: inputs are tensors of dims ``(sample, ...)``; the model returns ``(sample, output)``
(or ``(sample,)``); kernels are float64 arrays of dims ``(query, train)``.

References
----------
Domingos (2020) Every model learned by gradient descent is approximately a kernel machine.
arXiv:2012.00152.
Bell, Kvinge, Shapiro, Jefferson & Tipireddy (2023) An exact kernel equivalence for finite
classification models. TAG-ML workshop, ICML. arXiv:2308.00824.
Jacot, Gabriel & Hongler (2018) Neural tangent kernel. NeurIPS.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["tangent_kernel", "PathKernelRecorder", "PATH_KERNEL_MODES"]

PATH_KERNEL_MODES = ("first_order", "exact")


# ----------------------------------------------------------------------------- functional helpers
def _params(model: Any) -> tuple[list[str], dict[str, Any], dict[str, Any]]:
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    if not names:
        raise ValueError(f"{type(model).__name__} has no trainable parameters; a tangent kernel needs some.")
    params = {n: p.detach() for n, p in model.named_parameters() if p.requires_grad}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    return names, params, buffers


def _flat(params: dict[str, Any], names: list[str]) -> Any:
    import torch

    return torch.cat([params[n].reshape(-1) for n in names])


def _unflat(vec: Any, like: dict[str, Any], names: list[str]) -> dict[str, Any]:
    out, start = {}, 0
    for n in names:
        size = like[n].numel()
        out[n] = vec[start : start + size].view_as(like[n])
        start += size
    return out


def _as_input(x: Any, like: Any, name: str) -> Any:
    import torch

    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x))
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"'{name}' must have dims (sample, ...) with at least one sample; got shape {tuple(x.shape)}.")
    if x.dtype.is_floating_point and x.dtype != like.dtype:
        x = x.to(like.dtype)
    return x.to(like.device)


def _forward(model: Any, params: dict[str, Any], buffers: dict[str, Any], x: Any) -> Any:
    from torch.func import functional_call

    out = functional_call(model, (params, buffers), (x,))
    return out.reshape(out.shape[0], -1)


def _n_outputs(model: Any, params: dict[str, Any], buffers: dict[str, Any], x: Any) -> int:
    import torch

    with torch.no_grad():
        return int(_forward(model, params, buffers, x[:1]).shape[1])


def _check_output(output: int | None, k: int) -> None:
    if output is None:
        return
    if isinstance(output, bool) or not isinstance(output, (int, np.integer)) or not -k <= int(output) < k:
        raise ValueError(f"'output' must be an integer index into the model's {k} outputs or None; got {output!r}.")


def _jacobian(model: Any, params: dict[str, Any], buffers: dict[str, Any], names: list[str], x: Any,
              output: int | None) -> Any:
    """Per-example Jacobians of dims (sample, output, parameter), float64, for one batch ``x``."""
    import torch
    from torch.func import jacrev, vmap

    def single(p: dict[str, Any], xi: Any) -> Any:
        out = _forward(model, p, buffers, xi.unsqueeze(0))[0]
        return out if output is None else out[output : output + 1]

    jac = vmap(jacrev(single), in_dims=(None, 0))(params, x)
    return torch.cat([jac[n].reshape(x.shape[0], jac[n].shape[1], -1) for n in names], dim=2).to(torch.float64)


def _chunks(n: int, size: int) -> list[slice]:
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def tangent_kernel(model: Any, x1: Any, x2: Any = None, output: int | None = None, *,
                   batch_size: int = 64) -> np.ndarray:
    """The (empirical neural) tangent kernel ``K(x, x') = <∇_θ f(x), ∇_θ f(x')>`` at the current weights.

    Per-example Jacobians come from ``torch.func`` (``vmap`` of ``jacrev``), one batch of
    ``batch_size`` examples at a time, so at most two batches of Jacobians (``batch × output ×
    parameters``) exist at once; products are accumulated in float64. The model is evaluated as
    it is (call ``model.eval()`` first for dropout or batch-norm models; batch statistics cannot
    be used per example).

    Parameters
    ----------
    model : torch.nn.Module
        Maps a batch of dims (sample, ...) to (sample, output) or (sample,).
    x1 : tensor or array of dims (n1, ...)
    x2 : tensor or array of dims (n2, ...), optional
        Default ``x1`` (the Gram matrix).
    output : int, optional
        Which output to differentiate. Default: all of them.
    batch_size : int
        Examples per Jacobian batch.

    Returns
    -------
    numpy.ndarray, float64
        Dims (n1, n2) for one output (``output`` given or a single-output model); otherwise
        (n1, n2, output, output) with ``K[i, j, c, d] = <∇f_c(x1_i), ∇f_d(x2_j)>``.

    Raises
    ------
    ValueError
        Empty inputs, an ``output`` index out of range, a model without trainable parameters, or a
        non-positive ``batch_size``.

    References
    ----------
    Jacot, Gabriel & Hongler (2018) Neural tangent kernel: convergence and generalization in
    neural networks. NeurIPS.

    Examples
    --------
    >>> import torch
    >>> lin = torch.nn.Linear(3, 1).double()
    >>> x = torch.eye(3, dtype=torch.float64)
    >>> tangent_kernel(lin, x).round(6).tolist()   # <(x, 1), (x', 1)> = x·x' + 1
    [[2.0, 1.0, 1.0], [1.0, 2.0, 1.0], [1.0, 1.0, 2.0]]
    """
    import torch

    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"'batch_size' must be a positive integer; got {batch_size!r}.")
    names, params, buffers = _params(model)
    like = params[names[0]]
    x1 = _as_input(x1, like, "x1")
    same = x2 is None
    x2 = x1 if same else _as_input(x2, like, "x2")
    k = _n_outputs(model, params, buffers, x1)
    _check_output(output, k)
    output = None if output is None else int(output) % k
    ko = 1 if output is not None else k
    out = torch.zeros(x1.shape[0], x2.shape[0], ko, ko, dtype=torch.float64)
    for s1 in _chunks(x1.shape[0], int(batch_size)):
        j1 = _jacobian(model, params, buffers, names, x1[s1], output)
        for s2 in _chunks(x2.shape[0], int(batch_size)):
            j2 = j1 if (same and s1 == s2) else _jacobian(model, params, buffers, names, x2[s2], output)
            out[s1, s2] = torch.einsum("acp,bdp->abcd", j1, j2).cpu()
    arr = out.numpy()
    return arr[:, :, 0, 0] if ko == 1 else arr


# ----------------------------------------------------------------------------- the recorder
def _gauss_legendre(n: int) -> tuple[np.ndarray, np.ndarray]:
    nodes, weights = np.polynomial.legendre.leggauss(int(n))
    return (nodes + 1.0) / 2.0, weights / 2.0  # on [0, 1], weights sum to 1


class PathKernelRecorder:
    """Accumulate the path kernel of a full-batch gradient-descent run, one step at a time.

    Use it as the ``callback`` of :func:`neurocompare.training.train` with ``log_every=1`` (it is
    called after each optimizer step, with the new weights in the model), or call
    :meth:`record` after every ``optimizer.step()`` of your own loop. It keeps the previous
    weights, so a call sees the step ``θ_t -> θ_{t+1}``; it evaluates the loss derivatives
    ``∂L/∂f(x_i)`` at ``θ_t`` with ``loss`` and the training set given here, which must be the
    batch the optimizer saw (full-batch training). Memory is O(n_query × n_train) for the
    accumulators; a step also holds the query gradients (n_query × parameters) and one batch of
    training Jacobians (batch_size × outputs × parameters).

    Parameters
    ----------
    model : torch.nn.Module
        The model being trained (its current weights are ``θ_0``).
    x_query : tensor of dims (n_query, ...)
        Points at which ``f_T - f_0`` is reconstructed (held-out or training points).
    x_train, y_train : tensors of dims (n_train, ...)
        The full training batch and its targets.
    loss : callable
        ``loss(outputs, y_train) -> scalar``, the training loss with ``outputs`` of dims
        (n_train, output) as the model returns them (reshaped to 2-D); the same reduction as the
        training objective (a mean makes ``L'_i`` carry the 1/n).
    lr : float, optional
        The learning rate of plain SGD (no momentum, no weight decay). ``None``: inferred at each
        step as ``η_t = -<Δθ, ∇L> / |∇L|²`` (any schedule).
    mode : {'first_order', 'exact'}
        ``'first_order'``: the query gradient at ``θ_t`` (Domingos). ``'exact'``: averaged over
        the segment ``θ_t -> θ_{t+1}`` with ``n_nodes`` Gauss–Legendre nodes (Bell et al. 2023).
    output : int, optional
        Which output ``f(x)`` to track for a multi-output model (required then).
    n_nodes : int
        Gauss–Legendre nodes of the exact mode.
    batch_size : int
        Examples per Jacobian batch.

    Attributes
    ----------
    path_kernel : ndarray (n_query, n_train)
        ``K^p(x, x_i) = Σ_t η_t <ḡ_t(x), ∇f(x_i; θ_t)>`` (for the tracked output).
    contributions : ndarray (n_query, n_train)
        ``Σ_t η_t Σ_c L'_{ic,t} <ḡ_t(x), ∇f_c(x_i; θ_t)>``: minus the change each training point
        caused at each query point.
    loss_derivative_path : ndarray (n_train,)
        ``Σ_t η_t ∂L/∂f(x_i)`` (tracked output): with a constant kernel (a linear model)
        ``a_i = -loss_derivative_path / Σ_t η_t`` for every ``x``.
    update_residuals : list of float
        Per step, ``|Δθ + η_t ∇L| / |Δθ|``; near round-off only for plain gradient descent on
        ``loss`` (otherwise the kernel form is not the update that happened, and a warning is
        issued once).
    n_steps : int

    Examples
    --------
    >>> rec = PathKernelRecorder(model, xq, xt, yt, loss, lr=0.1, mode="exact")  # doctest: +SKIP
    >>> train(model, objective, data, optimizer=opt, steps=500, log_every=1, callback=rec)  # doctest: +SKIP
    >>> rec.reconstruct() - (model(xq) - f0)   # ~1e-12  # doctest: +SKIP

    References
    ----------
    Domingos (2020) arXiv:2012.00152. Bell et al. (2023) arXiv:2308.00824.
    """

    def __init__(self, model: Any, x_query: Any, x_train: Any, y_train: Any, loss: Callable[[Any, Any], Any], *,
                 lr: float | None = None, mode: str = "first_order", output: int | None = None, n_nodes: int = 4,
                 batch_size: int = 128, residual_tol: float = 1e-6) -> None:
        import torch

        if mode not in PATH_KERNEL_MODES:
            raise ValueError(f"The 'mode' parameter of PathKernelRecorder must be one of {set(PATH_KERNEL_MODES)}. "
                             f"Got {mode!r} instead.")
        if not callable(loss):
            raise TypeError(f"'loss' must be a callable loss(outputs, targets) -> scalar; got {type(loss).__name__}.")
        if lr is not None and not (isinstance(lr, (int, float)) and lr > 0):
            raise ValueError(f"'lr' must be a positive float or None (inferred per step); got {lr!r}.")
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)) or n_nodes < 1:
            raise ValueError(f"'n_nodes' must be a positive integer; got {n_nodes!r}.")
        self.model, self.loss, self.lr, self.mode = model, loss, lr, mode
        self.n_nodes, self.batch_size, self.residual_tol = int(n_nodes), int(batch_size), float(residual_tol)
        self._names, params, self._buffers = _params(model)
        like = params[self._names[0]]
        self.x_query = _as_input(x_query, like, "x_query")
        self.x_train = _as_input(x_train, like, "x_train")
        self.y_train = y_train if isinstance(y_train, torch.Tensor) else torch.as_tensor(np.asarray(y_train))
        if self.y_train.shape[0] != self.x_train.shape[0]:
            raise ValueError(f"x_train has {self.x_train.shape[0]} samples but y_train has {self.y_train.shape[0]}; "
                             "they must match (the full training batch).")
        if self.y_train.dtype.is_floating_point:
            self.y_train = self.y_train.to(like.dtype)
        self.y_train = self.y_train.to(like.device)
        k = _n_outputs(model, params, self._buffers, self.x_query)
        if k > 1 and output is None:
            raise ValueError(f"The model has {k} outputs; pass output=<index> to say which one to track.")
        _check_output(output, k)
        self.output = 0 if output is None else int(output) % k
        self._shapes = params
        self._theta = _flat(params, self._names).clone()
        self.f0 = self._query_outputs(self._theta)
        nq, nt = self.x_query.shape[0], self.x_train.shape[0]
        self.path_kernel = np.zeros((nq, nt))
        self.contributions = np.zeros((nq, nt))
        self.loss_derivative_path = np.zeros(nt)
        self.update_residuals: list[float] = []
        self.learning_rates: list[float] = []
        self.n_steps = 0
        self._last_step: int | None = None
        self._warned = False

    # -- internals
    def _p(self, theta: Any) -> dict[str, Any]:
        return _unflat(theta, self._shapes, self._names)

    def _query_outputs(self, theta: Any) -> np.ndarray:
        import torch

        with torch.no_grad():
            out = _forward(self.model, self._p(theta), self._buffers, self.x_query)[:, self.output]
        return out.to(torch.float64).cpu().numpy()

    def _query_grads(self, theta: Any) -> Any:
        return _cat([_jacobian(self.model, self._p(theta), self._buffers, self._names, self.x_query[s],
                                    self.output)[:, 0] for s in _chunks(self.x_query.shape[0], self.batch_size)])

    def current_theta(self) -> Any:
        """The model's current trainable parameters as one flat vector."""
        return _flat({n: p.detach() for n, p in self.model.named_parameters() if p.requires_grad}, self._names)

    # -- public
    def __call__(self, step: int | None = None, metrics: dict | None = None) -> None:
        """Training-loop callback: ``callback(step, metrics)``; records the step that just happened."""
        if step is not None:
            if self._last_step is not None and int(step) != self._last_step + 1:
                raise ValueError(f"PathKernelRecorder saw step {step} after step {self._last_step}: it needs every "
                                 "step. Train with log_every=1.")
            self._last_step = int(step)
        self.record()

    def record(self) -> None:
        """Record the step from the weights seen last to the model's current weights."""
        import torch

        theta_old, theta_new = self._theta, self.current_theta().clone()
        delta = theta_new - theta_old
        p_old = self._p(theta_old)
        out = _forward(self.model, p_old, self._buffers, self.x_train).detach().requires_grad_(True)
        lval = self.loss(out, self.y_train)
        if not isinstance(lval, torch.Tensor) or lval.dim() != 0:
            raise TypeError(f"loss(outputs, targets) must return a scalar tensor; got {type(lval).__name__} "
                            f"of shape {getattr(lval, 'shape', None)}.")
        dldf = torch.autograd.grad(lval, out)[0].detach().to(torch.float64)  # (n_train, k)
        if self.mode == "exact":
            nodes, weights = _gauss_legendre(self.n_nodes)
            gq = sum(float(w) * self._query_grads(theta_old + float(s) * delta) for s, w in zip(nodes, weights))
        else:
            gq = self._query_grads(theta_old)  # (n_query, P)
        grad_loss = torch.zeros_like(gq[0])
        k_t = np.zeros_like(self.path_kernel)
        c_t = np.zeros_like(self.path_kernel)
        for s in _chunks(self.x_train.shape[0], self.batch_size):
            jt = _jacobian(self.model, p_old, self._buffers, self._names, self.x_train[s], None)  # (b, k, P)
            grad_loss += torch.einsum("bk,bkp->p", dldf[s], jt)
            kq = torch.einsum("qp,bkp->qbk", gq, jt)  # (n_query, b, k)
            k_t[:, s] = kq[:, :, self.output].cpu().numpy()
            c_t[:, s] = torch.einsum("qbk,bk->qb", kq, dldf[s]).cpu().numpy()
        d64 = delta.to(torch.float64)
        gnorm2 = float(grad_loss @ grad_loss)
        if self.lr is not None:
            eta = float(self.lr)
        else:
            eta = -float(d64 @ grad_loss) / gnorm2 if gnorm2 > 0 else 0.0
        dnorm = float(d64.norm())
        resid = float((d64 + eta * grad_loss).norm()) / dnorm if dnorm > 0 else 0.0
        self.update_residuals.append(resid)
        self.learning_rates.append(eta)
        if resid > self.residual_tol and not self._warned:
            self._warned = True
            warnings.warn(f"The parameter update of step {self.n_steps + 1} is not plain gradient descent on the "
                          f"given loss (relative residual {resid:.2e} > {self.residual_tol:g}); the path-kernel "
                          "decomposition will not add up to the change of the outputs. Use torch.optim.SGD without "
                          "momentum or weight decay, full batch, and the same loss.", UserWarning, stacklevel=2)
        self.loss_derivative_path += eta * dldf[:, self.output].cpu().numpy()
        self.path_kernel += eta * k_t
        self.contributions += eta * c_t
        self._theta = theta_new
        self.n_steps += 1

    def reconstruct(self) -> np.ndarray:
        """``f_T(x) - f_0(x)`` at the query points from the kernel form: ``-Σ_i contributions[:, i]``.

        Returns
        -------
        ndarray (n_query,), float64
        """
        return -self.contributions.sum(axis=1)

    def actual_change(self) -> np.ndarray:
        """``f_T(x) - f_0(x)`` at the query points, evaluated with the model (the thing to reconstruct)."""
        return self._query_outputs(self.current_theta()) - self.f0

    def relative_error(self) -> float:
        """``|reconstruct() - actual_change()| / |actual_change()|`` (Euclidean norms over query points)."""
        actual = self.actual_change()
        den = float(np.linalg.norm(actual))
        return float(np.linalg.norm(self.reconstruct() - actual)) / den if den > 0 else float("nan")

    def kernel_machine(self) -> np.ndarray:
        """``Σ_i ā_i K^p(x, x_i)`` with query-independent coefficients ``ā_i = -Σ_t η_t L'_i / Σ_t η_t``.

        What the model would have changed by if it were a kernel machine with the path kernel
        and coefficients that do not depend on ``x`` (exact for a linear model). Compare with
        :meth:`actual_change` to measure how much ``a_i(x)`` really depends on the query.

        Returns
        -------
        ndarray (n_query,), float64
        """
        total = float(sum(self.learning_rates))
        if total == 0:
            return np.zeros(self.path_kernel.shape[0])
        return self.path_kernel @ (-self.loss_derivative_path / total)

    def coefficients(self) -> np.ndarray:
        """Domingos's ``a_i(x)``: ``f_T(x) - f_0(x) = Σ_i a_i(x) K^p(x, x_i)``.

        ``a_i(x) = -contributions / path_kernel``; NaN where the path kernel is exactly zero. For
        a single-output model this is the kernel-weighted path average of ``∂L/∂f(x_i)``.

        Returns
        -------
        ndarray (n_query, n_train), float64
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(self.path_kernel != 0, -self.contributions / self.path_kernel, np.nan)


def _cat(parts: list[Any]) -> Any:
    import torch

    return torch.cat(parts, dim=0)
