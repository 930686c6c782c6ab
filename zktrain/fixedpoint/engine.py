"""The exact fixed-point training engine: an ``nn.Sequential(Linear, ReLU, ..., Linear)`` trained
by SGD on the MSE or the softmax cross-entropy loss in the integer semantics of DESIGN section 4
(``circuits.semantics``, ``circuits.softmax``).

One step on a batch (X, Y), layers l = 1..L, A_0 = X, S = 2R + k:

    forward    Z'_l, r_l = rescale_S(A_{l-1} W_l^T + 2^R b_l)       (one rescale per layer)
               s_l = [Z'_l <= 0],  A_l = (1 - s_l) Z'_l              (hidden layers: ReLU)
    loss       G_out = Z'_L - Y                                      (MSE; 2/(B n) is in lr_num)
               G_out = p - Y, p = softmax_fixed(Z'_L) at 2^R          (cross-entropy; 1/B in lr_num)
    backward   G_Z,L = G_out,  G_Z,l = (1 - s_l) G'_A,l
               G'_A,l-1, r'_l-1 = rescale_S(G_Z,l W_l)               (not for the input layer)
               G_W,l = G_Z,l^T A_{l-1},  G_b,l = 2^R 1^T G_Z,l        (exact, no rounding)
    update     W_l -= lr_num_t G_W,l,  b_l -= lr_num_t G_b,l           (exact)
               or, for ``train.optimizer: sgd_momentum`` (design (A) of docs/momentum.md):
               buf_l = rescale_K_A(mu buf_l + G_W,l + lam_f W_l),  W_l -= lr_num_t buf_l
               (and the bias alike; ``zktrain.fixedpoint.momentum.rounded_step``)

With ``model.norm: ghost_bn`` every hidden layer is Linear -> Ghost BN -> ReLU (docs/ghost_bn.md
section 1, the kernel ``zktrain.fixedpoint.ghost_bn``, one ``circuits.ghost_bn.GhostBnSpec`` from
``circuits.semantics.norm_spec``):

    forward    Y_l = forward_train(Z'_l, gamma_l, beta_l),  s_l = [Y_l <= 0],  A_l = (1 - s_l) Y_l
               running statistics: G sequential ghost-batch updates (``running_update``)
    backward   dy_l = (1 - s_l) G'_A,l,  G_Z,l = dx_l = backward(X_l, rstd_l, gamma_l, dy_l)
    update     gamma_l -= lr_num_t dgamma_l,  beta_l -= lr_num_t dbeta_l  (at 2^S, exact)
               or, for ``sgd_momentum``, as a bias: a buffer per gamma_l and beta_l, rounded
               as b's (``rounded_step``, dgamma and dbeta at 2^(2R) as G_b), decayed alike

and ``forward``/``predict`` use eval mode (the running statistics, ``forward_eval``).

The indicator s = [Z' <= 0] reproduces PyTorch's ReLU gradient of 0 at 0. Every value is
checked against its declared width (``circuits.semantics.declared_widths``) as it is
produced: a value beyond it raises :class:`WidthError` naming the tensor, layer and step,
never a silent saturation. Products wider than int64 go through ``exact``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from circuits.ghost_bn import GhostBnWidthError, TrainForward
from circuits.ghost_bn import check_width as check_norm_width
from circuits.mlp import NORM_OPTIMIZER_STATE
from circuits.recipe import Recipe
from circuits.semantics import (
    Width,
    lamb_spec,
    lars_spec,
    momentum_spec,
    norm_spec,
    relation_bounds,
    seeded_norms,
    seeded_parameters,
    softmax_sizing,
)
from circuits.softmax import SoftmaxCE, softmax_ce

from . import ghost_bn
from .exact import OPERAND_LIMIT, Term, Wide, matmul_rescale, matmul_wide, max_abs
from .lamb import LambState, lamb_step
from .lars import lars_step
from .momentum import MomentumWidthError, RoundedState, rounded_step
from .trace import (
    GRADIENT_LO_BITS,
    LambTrace,
    LarsTrace,
    LayerTrace,
    MomentumTrace,
    NormTrace,
    StepTrace,
    TrainingTrace,
    frozen,
)


class WidthError(ValueError):
    """A value outside its declared width: the run does not fit the recipe's semantics."""


def _where(layer: int | None, step: int | None) -> str:
    at = "in inference" if step is None else f"at step {step}"
    return at if layer is None else f"of layer {layer} {at}"


def check_width(values: np.ndarray, width: Width, tensor: str, layer: int | None, step: int | None) -> None:
    """Raise WidthError unless every value lies in the declared ``width``."""
    if values.size == 0:
        return
    low, high = int(values.min()), int(values.max())
    if low < width.lo or high > width.hi:
        bad = low if low < width.lo else high
        index = tuple(int(i) for i in np.argwhere(values == bad)[0])
        raise WidthError(
            f"{tensor} {_where(layer, step)}: value {bad} at index {index} is outside its declared "
            f"{width.bits}-bit range [{width.lo}, {width.hi}]"
        )


def sgd_update(
    param: np.ndarray, lr_num: int, grad: Wide, width: Width, tensor: str, layer: int, step: int
) -> np.ndarray:
    """param - lr_num grad, exactly, or WidthError if the result leaves ``width``.

    With |param| < 2^(bits-1), a result inside the width needs |lr_num grad| < 2^bits; that is
    checked on the exact (hi, lo) gradient first, after which every int64 operation has
    headroom (bits <= 62).
    """
    if lr_num == 0:
        return param
    limit = -(-(1 << width.bits) // lr_num)  # |grad| < limit  <=>  |lr_num grad| < 2^bits
    if not grad.magnitude_below(limit):
        index = tuple(int(i) for i in np.argwhere(~grad.fits(1 - limit, limit - 1))[0])
        raise WidthError(
            f"{tensor} {_where(layer, step)}: the update lr_num * gradient at index {index} reaches "
            f"2^{width.bits} in magnitude, so the updated value leaves its declared {width.bits}-bit range"
        )
    updated = param - lr_num * grad.to_int64()
    check_width(updated, width, tensor, layer, step)
    return updated


class FixedPointMLP:
    """Master weights and biases of an MLP recipe, and the exact step that updates them.

    With ``train.optimizer: sgd_momentum`` the model also carries the momentum buffers
    buf_{t-1} of every weight and bias (``buffers``: int64 at 2^(2R), zero before the first
    step, as torch's first step; or a checkpoint's, as pairs (buf of W_l, buf of b_l)). With
    ``lamb`` ``buffers`` are the moments a segment resumes from: per layer ((M, V) of W_l,
    (M, V) of b_l or None), zero by default.

    With ``model.norm: ghost_bn`` it carries every hidden layer's normalization state
    (``norms``: per hidden layer (gamma, beta, running mean, running var), int64 at 2^S, 2^S,
    2^(2R), 2^(2R); torch's fresh state by default, ``circuits.semantics.seeded_norms``; or a
    checkpoint's, as ``norm_state()`` returns it). With ``sgd_momentum`` each tuple also carries
    gamma's and beta's momentum buffers (``circuits.mlp.NORM_BUFFERS``, at 2^(2R)); a tuple of
    four (the model file's, for evaluation) starts them at zero, as ``buffers`` does W's."""

    def __init__(self, recipe: Recipe, weights: Sequence[np.ndarray], biases: Sequence[np.ndarray | None],
                 buffers: Sequence[tuple[np.ndarray, np.ndarray | None]] | None = None,
                 norms: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] | None = None):
        self.recipe = recipe
        self.declared = recipe.declared_widths()
        widths, layers = recipe.model.widths, recipe.model.layers
        if len(weights) != layers or len(biases) != layers:
            raise ValueError(f"expected {layers} weights and biases, got {len(weights)} and {len(biases)}")
        self.weights: list[np.ndarray] = []
        self.biases: list[np.ndarray | None] = []
        for l, (w, b) in enumerate(zip(weights, biases), start=1):
            w = np.asarray(w)
            if w.dtype != np.int64 or w.shape != (widths[l], widths[l - 1]):
                expected = (widths[l], widths[l - 1])
                raise ValueError(f"W_{l}: expected int64 of shape {expected}, got {w.dtype} {w.shape}")
            check_width(w, self.declared["weight"], "W", l, 0)
            if recipe.model.bias:
                b = np.asarray(b)
                if b.dtype != np.int64 or b.shape != (widths[l],):
                    raise ValueError(f"b_{l}: expected int64 of shape {(widths[l],)}, got {b.dtype} {b.shape}")
                check_width(b, self.declared["weight"], "b", l, 0)
            elif b is not None:
                raise ValueError(f"b_{l}: the recipe has no bias, got one")
            self.weights.append(w.copy())
            self.biases.append(None if b is None else b.copy())
        #: The softmax's widths (``circuits.softmax``) for ``train.loss: cross_entropy``.
        self.softmax = softmax_sizing(recipe) if recipe.train.loss == "cross_entropy" else None
        #: mu and the folded decay (``circuits.semantics.momentum_spec``) for ``sgd_momentum``.
        self.momentum = momentum_spec(recipe)
        #: LARS's (``circuits.semantics.lars_spec``) for ``optimizer: lars``, LAMB's for ``lamb``.
        self.lars = lars_spec(recipe)
        self.lamb = lamb_spec(recipe)
        #: LAMB's moments (M, V) of W_l and b_l (``circuits.lamb``), zero before the first step.
        self.moments: list[tuple] | None = None
        if self.lamb is not None:
            self.moments = self._lamb_moments(buffers)
        #: buf_{t-1} of W_l and b_l (``sgd_momentum``: int64 at 2^(2R); ``lars``: at W's scale).
        self.buffers: list[tuple[np.ndarray, np.ndarray | None]] | None = None
        stateful = self.momentum is not None or self.lars is not None
        if not stateful and buffers is not None and self.lamb is None:
            raise ValueError("buffers: the recipe's optimizer has no momentum buffer (optimizer sgd)")
        if stateful:
            self.buffers = []
            for l, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
                pair = (np.zeros_like(w), None if b is None else np.zeros_like(b)) if buffers is None else buffers[l - 1]
                for name, value, like in (("buf W", pair[0], w), ("buf b", pair[1], b)):
                    if (like is None) != (value is None) or (
                            value is not None and (np.asarray(value).dtype != np.int64 or value.shape != like.shape)):
                        raise ValueError(f"{name}_{l}: expected int64 of shape {None if like is None else like.shape}")
                    if value is not None:
                        check_width(value, self.declared["momentum_buffer"], name, l, 0)
                self.buffers.append((pair[0].copy(), None if pair[1] is None else pair[1].copy()))
        #: The Ghost BN spec of ``model.norm: ghost_bn`` (``circuits.semantics.norm_spec``), or None.
        self.norm = norm_spec(recipe)
        #: Per hidden layer (gamma, beta, running mean, running var[, buf gamma, buf beta]), or None.
        self.norms = self._norm_start(norms)
        # The exact matmuls handle any width; the vectors below live in plain int64.
        bounds = relation_bounds(recipe)
        for kind, limit in (("output_gradient", 62), ("bias_gradient", 62), ("weight_gradient", 62 + GRADIENT_LO_BITS)):
            if bounds[kind] >= 1 << limit:
                reach = bounds[kind].bit_length() - 1
                raise ValueError(f"recipe: {kind} may reach 2^{reach}, beyond the engine's 2^{limit}")

    @classmethod
    def seeded(cls, recipe: Recipe) -> FixedPointMLP:
        """The model at W_0 of ``init: seeded`` (``circuits.semantics.seeded_parameters``)."""
        if recipe.model.init != "seeded":
            raise ValueError(f"model.init: the recipe says {recipe.model.init!r}; pass the committed W_0 instead")
        return cls(recipe, *seeded_parameters(recipe))

    def _norm_start(self, given) -> list[tuple[np.ndarray, ...]] | None:
        """The normalization state a run or segment starts from: ``given`` (a checkpoint's) or
        torch's fresh state, each array checked: int64 of shape [d_l], gamma and beta within
        ``quant.weight_bits``, the running statistics within their widths (docs/ghost_bn.md
        section 1, "Widths")."""
        if self.norm is None:
            if given is not None:
                raise ValueError("norms: the recipe has no normalization (model.norm: none)")
            return None
        widths = self.recipe.model.widths
        extra = NORM_OPTIMIZER_STATE[self.recipe.train.optimizer]
        names = _NORM_NAMES + extra
        start = seeded_norms(self.recipe) if given is None else list(given)
        if len(start) != len(widths) - 2:
            raise ValueError(f"norms: expected {len(widths) - 2} hidden layers' (gamma, beta, running_mean, "
                             f"running_var), got {len(start)}")
        out = []
        for l, state in enumerate(start, start=1):
            if len(state) == len(_NORM_NAMES) < len(names):  # the optimizer's state starts at zero
                state = (*state, *(np.zeros(widths[l], dtype=np.int64) for _ in extra))
            if len(state) != len(names):
                raise ValueError(f"norms of layer {l}: expected ({', '.join(names)})")
            arrays = tuple(np.asarray(a) for a in state)
            for name, a in zip(names, arrays):
                if a.dtype != np.int64 or a.shape != (widths[l],):
                    raise ValueError(f"{name}_{l}: expected int64 of shape {(widths[l],)}, got {a.dtype} {a.shape}")
            for name, a in zip(_NORM_NAMES[:2], arrays):
                check_width(a, self.declared["weight"], name, l, 0)
            for name, a in zip(_NORM_NAMES[2:], arrays[2:4]):
                self._norm_call(l, check_norm_width, self.norm, name, a, " at step 0")
            for name, a in zip(extra, arrays[4:]):  # LAMB's V is a second moment; the rest first moments
                wide = self.lamb is not None and name.startswith("V")
                check_width(a, self.declared["second_moment" if wide else "momentum_buffer"], name, l, 0)
            out.append(tuple(a.copy() for a in arrays))
        return out

    def norm_state(self) -> list[tuple[np.ndarray, ...]] | None:
        """The normalization state after the last step, as the constructor's ``norms`` takes it
        (copies), or None without normalization."""
        return None if self.norms is None else [tuple(a.copy() for a in state) for state in self.norms]

    @staticmethod
    def _norm_call(l: int, fn, *args):
        """A Ghost BN kernel call, its width errors as WidthError naming the layer too."""
        try:
            return fn(*args)
        except GhostBnWidthError as err:
            raise WidthError(f"layer {l}: {err}") from None

    # --- forward ---------------------------------------------------------------------------
    def _linear(self, a: np.ndarray, l: int, step: int | None) -> tuple[np.ndarray, np.ndarray]:
        """Z'_l, r_l = rescale_S(A W^T + 2^R b), with the width of Z' checked."""
        q = self.recipe.quant
        w, b = self.weights[l - 1], self.biases[l - 1]
        extra = () if b is None else (Term(b, q.frac_bits, max_abs(b)),)
        z, rem = matmul_rescale(a, w.T, q.rescale_bits, extra, what=f"Z of layer {l}")
        hidden = l < self.recipe.model.layers
        check_width(z, self.declared["hidden_pre_activation" if hidden else "output"], "Z'", l, step)
        check_width(rem, self.declared["remainder"], "Z remainder", l, step)
        return z, rem

    def forward_layers(self, x: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """(Z'_l, r_l) of every layer for inputs ``x`` at 2^R (any number of rows), widths
        checked: the forward pass a proof of inference proves (``prover.inference``), in
        evaluation mode: a hidden layer's ReLU acts on Z', or on Ghost BN's eval-mode output
        from the running statistics (docs/ghost_bn.md section 1), which the proof recomputes."""
        check_width(x, self.declared["input"], "X", None, None)
        a, out = x, []
        for l in range(1, self.recipe.model.layers + 1):
            z, rem = self._linear(a, l, None)
            out.append((z, rem))
            if l < self.recipe.model.layers:
                y = z if self.norm is None else self._norm_call(
                    l, ghost_bn.forward_eval, self.norm, z, *self.norms[l - 1][:4]).out
                a = np.where(y <= 0, 0, y)
        return out

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Y_hat = Z'_L for inputs ``x`` at 2^R (any number of rows), widths checked."""
        return self.forward_layers(x)[-1][0]

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class predictions: argmax of Y_hat (ties to the lowest index, as torch.argmax)."""
        return np.argmax(self.forward(x), axis=1)

    # --- the loss ---------------------------------------------------------------------------
    def output_gradient(self, z: np.ndarray, y: np.ndarray, step: int | None = None) -> tuple[np.ndarray, SoftmaxCE | None]:
        """G_out at 2^R for outputs Z'_L and labels Y, and the softmax witness (None for MSE):
        Z'_L - Y (MSE), or p - Y with p the exact fixed-point softmax (``circuits.softmax``;
        Y must be one-hot at 2^R)."""
        if self.softmax is None:
            return z - y, None
        try:
            witness = softmax_ce(z, y, self.softmax)
        except (ValueError, OverflowError) as err:
            raise WidthError(f"softmax cross-entropy {_where(None, step)}: {err}") from None
        return witness.gradient, witness

    # --- one SGD step ----------------------------------------------------------------------
    def step(self, x: np.ndarray, y: np.ndarray, lr_num: int, step: int, batch_indices: np.ndarray) -> StepTrace:
        """Train on one batch and return its trace; the model holds W_{t+1}, b_{t+1} after it."""
        recipe, q = self.recipe, self.recipe.quant
        layers, batch = recipe.model.layers, recipe.train.batch_size
        widths = recipe.model.widths
        x_shape, y_shape = (batch, widths[0]), (batch, widths[-1])
        if x.shape != x_shape or y.shape != y_shape or x.dtype != np.int64 or y.dtype != np.int64:
            raise ValueError(f"step {step}: expected int64 X {x_shape} and Y {y_shape}, got {x.shape} {y.shape}")
        check_width(x, self.declared["input"], "X", None, step)
        check_width(y, self.declared["label"], "Y", None, step)

        acts, zs, rems, signs = [x], [], [], []
        forwards: dict[int, tuple[np.ndarray, TrainForward, tuple]] = {}
        for l in range(1, layers + 1):
            z, rem = self._linear(acts[-1], l, step)
            zs.append(z)
            rems.append(rem)
            if l < layers:
                relu_in = z  # Z', or Ghost BN's output Y
                if self.norm is not None:
                    forwards[l] = self._norm_forward(z, l, step)
                    relu_in = forwards[l][0]
                s = (relu_in <= 0).astype(np.uint8)
                signs.append(s)
                acts.append(np.where(s, 0, relu_in))

        g_as: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        g_zs: dict[int, np.ndarray] = {}
        g_ws: dict[int, Wide] = {}
        g_bs: dict[int, np.ndarray | None] = {}
        norm_traces: dict[int, NormTrace] = {}
        norm_updates: dict[int, tuple[np.ndarray, ...]] = {}
        g_z, softmax = self.output_gradient(zs[-1], y, step)  # G_out
        for l in range(layers, 0, -1):
            if l < layers:
                g_z = np.where(signs[l - 1], 0, g_as[l][0])
                if self.norm is not None:  # G_Z,l is BN's input gradient dx
                    g_z, norm_traces[l], norm_updates[l] = self._norm_backward(l, forwards[l], g_z, lr_num, step)
            g_zs[l] = g_z
            g_ws[l] = matmul_wide(g_z.T, acts[l - 1], GRADIENT_LO_BITS, what=f"G_W of layer {l}")
            g_bs[l] = None if self.biases[l - 1] is None else g_z.sum(axis=0) << q.frac_bits
            if l > 1:
                g_a, g_rem = matmul_rescale(g_z, self.weights[l - 1], q.rescale_bits, what=f"G_A of layer {l - 1}")
                check_width(g_a, self.declared["gradient"], "G'_A", l - 1, step)
                check_width(g_rem, self.declared["remainder"], "G_A remainder", l - 1, step)
                g_as[l - 1] = (g_a, g_rem)

        records, buffers = [], []
        for l in range(1, layers + 1):
            hidden = l < layers
            w, b = self.weights[l - 1], self.biases[l - 1]
            records.append(
                LayerTrace(
                    layer=l,
                    weight=frozen(w),
                    bias=None if b is None else frozen(b),
                    z=frozen(zs[l - 1]),
                    z_rem=frozen(rems[l - 1]),
                    sign=frozen(signs[l - 1]) if hidden else None,
                    a=frozen(acts[l]) if hidden else None,
                    g_a=frozen(g_as[l][0]) if hidden else None,
                    g_a_rem=frozen(g_as[l][1]) if hidden else None,
                    g_z=frozen(g_zs[l]),
                    a_in=frozen(acts[l - 1]),
                    g_b=None if g_bs[l] is None else frozen(g_bs[l]),
                    norm=norm_traces.get(l),
                )
            )
            if self.momentum is not None:
                buffers.append(self._momentum_update(l, lr_num, g_ws[l], g_bs[l], step))
                continue
            if self.lars is not None:
                buffers.append(self._lars_update(l, lr_num, g_ws[l], g_bs[l], step))
                continue
            if self.lamb is not None:
                buffers.append(self._lamb_update(l, lr_num, g_ws[l], g_bs[l], step))
                continue
            # New arrays, so the recorded W_t stays as it was.
            width = self.declared["weight"]
            self.weights[l - 1] = sgd_update(w, lr_num, g_ws[l], width, "W", l, step)
            if b is not None:
                self.biases[l - 1] = sgd_update(b, lr_num, Wide.of(g_bs[l], GRADIENT_LO_BITS), width, "b", l, step)
        if self.norms is not None:  # every update succeeded: the normalization state moves too
            self.norms = [norm_updates[l] for l in range(1, layers)]
        momentum = None
        if buffers:
            # Every layer's update succeeded: only now does the model move to W_{t+1} and the
            # optimizer's state after step t.
            momentum = []
            for l, (w, b, trace) in enumerate(buffers, start=1):
                self.weights[l - 1], self.biases[l - 1] = w, b
                if self.lamb is not None:
                    self.moments[l - 1] = ((trace.m, trace.v), None if trace.bias_m is None else (trace.bias_m, trace.bias_v))
                else:
                    self.buffers[l - 1] = (trace.buf, trace.bias_buf)
                momentum.append(trace)
            momentum = tuple(momentum)
        indices = frozen(np.array(batch_indices, dtype=np.int64))
        if softmax is not None:
            softmax = SoftmaxCE(**{name: frozen(v) for name, v in vars(softmax).items()})
        return StepTrace(step, lr_num, indices, frozen(x.copy()), frozen(y.copy()), tuple(records), softmax, momentum)

    def _norm_forward(self, z: np.ndarray, l: int, step: int) -> tuple[np.ndarray, TrainForward, tuple]:
        """Ghost BN's train-mode forward of hidden layer l on Z' (docs/ghost_bn.md section 1):
        Y (checked as the ReLU's input, Z' - 1's width), the kernel's forward and the running
        statistics after the step's G ghost-batch updates."""
        gamma, beta, rm, rv = self.norms[l - 1][:4]
        fwd = self._norm_call(l, ghost_bn.forward_train, self.norm, z, gamma, beta, step)
        y = _int64(fwd.out, "BN output Y", l, step)
        check_width(y, self.declared["hidden_pre_activation"], "BN output Y", l, step)
        run = self._norm_call(l, ghost_bn.running_update, self.norm, rm, rv, fwd.s1, fwd.d, step)
        stats = (_int64(run.running_mean, "running_mean", l, step), _int64(run.running_var, "running_var", l, step))
        return y, fwd, stats

    def _norm_backward(self, l: int, forward: tuple, dy: np.ndarray, lr_num: int,
                       step: int) -> tuple[np.ndarray, NormTrace, tuple[np.ndarray, ...]]:
        """Ghost BN's backward of hidden layer l from the masked gradient dy = (1 - s) G'_A and
        the forward's X and rstd: dx (the linear layer's G_Z), the layer's NormTrace, and its
        state after the step: gamma - lr_num dgamma, beta - lr_num dbeta (exact at 2^S, within
        ``quant.weight_bits``, as a bias's SGD update), or the run's optimizer's update of a bias
        (``sgd_momentum``: ``rounded_step`` on the buffers; ``lars``: ``lars_step`` on them;
        ``lamb``: ``lamb_step`` on the moments; each tensor its own trust ratio), and the running
        statistics."""
        y, fwd, stats = forward
        gamma, beta, rm, rv, *state = self.norms[l - 1]
        bwd = self._norm_call(l, ghost_bn.backward, self.norm, fwd.xhat, fwd.rstd, gamma, dy, step)
        dx = _int64(bwd.g_in, "BN g_in", l, step)
        grads = [_int64(grad, f"d{name}", l, step) for name, grad in (("gamma", bwd.g_gamma), ("beta", bwd.g_beta))]
        trace = dict(y=frozen(y), dy=frozen(dy), **{name: frozen(a.copy()) for name, a in zip(
            ("gamma", "beta", "running_mean", "running_var"), (gamma, beta, rm, rv))},
            gamma_grad=frozen(grads[0]), beta_grad=frozen(grads[1]), state=tuple(frozen(a.copy()) for a in state))
        q, params = self.recipe.quant, []
        try:
            if self.momentum is not None:
                after = []
                for name, param, grad, buf in zip(_NORM_NAMES, (gamma, beta), grads, state):
                    new, rem = rounded_step(RoundedState(param, buf, step), grad, lr_num, self.momentum, q.lr_shift,
                                            q.weight_bits, self.recipe.train.buf_bits)
                    params.append(new.w)
                    after.append(new.buf)
                    trace[f"{name}_buf"], trace[f"{name}_buf_rem"] = frozen(new.buf), frozen(rem)
            elif self.lars is not None:  # the rate inside the buffer: the padded steps leave gamma (``_PaddedSteps``)
                after = []
                for name, param, grad, buf in zip(_NORM_NAMES, (gamma, beta), grads, state):
                    new, v, rem, _ = lars_step(param, buf, grad, lr_num, self.lars, q.lr_shift, q.weight_bits,
                                               self.recipe.train.buf_bits, step)
                    params.append(new)
                    after.append(v)
                    trace[f"{name}_buf"], trace[f"{name}_buf_rem"] = frozen(v), frozen(rem)
            elif self.lamb is not None:  # state: (M gamma, M beta, V gamma, V beta)
                moments = ([], [])
                for i, (param, grad) in enumerate(zip((gamma, beta), grads)):
                    new, _, _ = lamb_step(LambState(param, state[i], state[2 + i], steps=step), grad, lr_num, self.lamb,
                                          q.frac_bits, q.lr_shift, q.weight_bits, self.recipe.train.buf_bits)
                    params.append(new.p)  # int64: lamb_step checked them against their widths
                    moments[0].append(new.m)
                    moments[1].append(new.v)
                after = moments[0] + moments[1]
            else:
                width = self.declared["weight"]
                params = [sgd_update(param, lr_num, Wide.of(grad, GRADIENT_LO_BITS), width, name, l, step)
                          for name, param, grad in zip(_NORM_NAMES, (gamma, beta), grads)]
                after = []
        except MomentumWidthError as err:
            raise WidthError(f"gamma/beta {_where(l, step)}: {err}") from None
        return dx, NormTrace(**trace), (*params, *stats, *after)

    def _momentum_update(
        self, l: int, lr_num: int, g_w: Wide, g_b: np.ndarray | None, step: int
    ) -> tuple[np.ndarray, np.ndarray | None, MomentumTrace]:
        """Design (A) of docs/momentum.md for layer l (``rounded_step``, the kernel the tests check
        against a big-integer reference): W_{t+1}, b_{t+1} and the layer's MomentumTrace, with
        buf and W checked against ``train.buf_bits`` and ``quant.weight_bits`` (WidthError)."""
        q = self.recipe.quant
        out = []
        for name, param, grad, buf in (("W", self.weights[l - 1], g_w, self.buffers[l - 1][0]),
                                       ("b", self.biases[l - 1], g_b, self.buffers[l - 1][1])):
            if param is None:
                out.append((None, None, None))
                continue
            grad = _exact_gradient(grad)  # exact: int64 where it fits, Python ints otherwise
            try:
                state, rem = rounded_step(RoundedState(param, buf, step), grad, lr_num, self.momentum, q.lr_shift,
                                          q.weight_bits, self.recipe.train.buf_bits)
            except MomentumWidthError as err:
                raise WidthError(f"{name} {_where(l, step)}: {err}") from None
            out.append((state.w, frozen(state.buf), frozen(rem)))
        (w, buf_w, rem_w), (b, buf_b, rem_b) = out
        return w, b, MomentumTrace(l, buf_w, rem_w, buf_b, rem_b)

    def state(self) -> list[tuple] | None:
        """The optimizer's state after the last step, as the constructor's ``buffers`` takes it:
        the momentum buffers, LAMB's moments, or None (plain SGD)."""
        if self.moments is not None:
            return list(self.moments)
        return None if self.buffers is None else list(self.buffers)

    def _lamb_moments(self, given) -> list[tuple]:
        """LAMB's starting moments: zero (a run's start), or ``given``, per layer the pairs (M, V) of
        W_l and b_l (None without bias) a segment resumes from, checked against their widths."""
        out = []
        for l, (w, b) in enumerate(zip(self.weights, self.biases), start=1):
            pair = []
            for name, like, moments in (("W", w, None if given is None else given[l - 1][0]),
                                        ("b", b, None if given is None else given[l - 1][1])):
                if like is None or moments is None:
                    if like is not None and given is not None:
                        raise ValueError(f"moments of {name}_{l}: missing")
                    pair.append(None if like is None else (np.zeros_like(like), np.zeros_like(like)))
                    continue
                m, v = (np.asarray(x) for x in moments)
                if m.dtype != np.int64 or v.dtype != np.int64 or m.shape != like.shape or v.shape != like.shape:
                    raise ValueError(f"moments of {name}_{l}: expected int64 pairs of shape {like.shape}")
                check_width(m, self.declared["momentum_buffer"], f"M {name}", l, 0)
                check_width(v, self.declared["second_moment"], f"V {name}", l, 0)
                pair.append((m.copy(), v.copy()))
            out.append(tuple(pair))
        return out

    def _lamb_update(
        self, l: int, lr_num: int, g_w: Wide, g_b: np.ndarray | None, step: int
    ) -> tuple[np.ndarray, np.ndarray | None, LambTrace]:
        """LAMB (``circuits.lamb``, ``zktrain.fixedpoint.lamb.lamb_step``) for layer l's weight and
        bias, each its own tensor, at the run's step t + 1 (the bias corrections' t)."""
        q = self.recipe.quant
        out = []
        for name, param, grad, moments in (("W", self.weights[l - 1], g_w, self.moments[l - 1][0]),
                                           ("b", self.biases[l - 1], g_b, self.moments[l - 1][1])):
            if param is None:
                out.append((None, None, None, None, None))
                continue
            try:
                state, dp, scalars = lamb_step(LambState(param, *moments, steps=step), _exact_gradient(grad), lr_num,
                                               self.lamb, q.frac_bits, q.lr_shift, q.weight_bits, self.recipe.train.buf_bits)
            except MomentumWidthError as err:
                raise WidthError(f"{name} {_where(l, step)}: {err}") from None
            out.append((state.p, frozen(state.m), frozen(state.v), frozen(dp), scalars))
        (w, m_w, v_w, d_w, s_w), (b, m_b, v_b, d_b, s_b) = out
        return w, b, LambTrace(l, m_w, v_w, d_w, s_w, m_b, v_b, d_b, s_b)

    def _lars_update(
        self, l: int, lr_num: int, g_w: Wide, g_b: np.ndarray | None, step: int
    ) -> tuple[np.ndarray, np.ndarray | None, LarsTrace]:
        """LARS (``circuits.lars``, ``zktrain.fixedpoint.lars.lars_step``) for layer l's weight and
        bias, each its own tensor: W_{t+1}, b_{t+1} and the layer's LarsTrace; widths as the
        momentum's (WidthError naming the tensor)."""
        q = self.recipe.quant
        out = []
        for name, param, grad, buf in (("W", self.weights[l - 1], g_w, self.buffers[l - 1][0]),
                                       ("b", self.biases[l - 1], g_b, self.buffers[l - 1][1])):
            if param is None:
                out.append((None, None, None, None))
                continue
            try:
                new, v, rem, scalars = lars_step(param, buf, _exact_gradient(grad), lr_num, self.lars, q.lr_shift,
                                                 q.weight_bits, self.recipe.train.buf_bits, step)
            except MomentumWidthError as err:
                raise WidthError(f"{name} {_where(l, step)}: {err}") from None
            out.append((new, frozen(v), frozen(rem), scalars))
        (w, buf_w, rem_w, s_w), (b, buf_b, rem_b, s_b) = out
        return w, b, LarsTrace(l, buf_w, rem_w, buf_b, rem_b, s_w, s_b)


#: The names of a hidden layer's normalization state, in ``norms`` order (``circuits.mlp.NORM_STATE``),
#: which the optimizer's state of gamma and beta follows (``NORM_OPTIMIZER_STATE``).
_NORM_NAMES = ("gamma", "beta", "running_mean", "running_var")


def _int64(values: np.ndarray, tensor: str, layer: int, step: int) -> np.ndarray:
    """A Ghost BN kernel result as int64, or WidthError where it does not fit (the kernel keeps
    values past 2^63 as Python ints)."""
    if values.dtype == object:
        raise WidthError(f"{tensor} {_where(layer, step)}: a value reaches 2^63, beyond the engine's int64 range")
    return np.asarray(values, dtype=np.int64)


def _exact_gradient(grad):
    """A gradient as int64 where it fits, Python ints otherwise (``Wide``: the weight gradient)."""
    if isinstance(grad, Wide):
        return grad.to_int64() if grad.magnitude_below(OPERAND_LIMIT) else grad.to_object()
    return grad


def train(
    recipe: Recipe,
    x: np.ndarray,
    y: np.ndarray,
    batches: np.ndarray,
    model: FixedPointMLP | None = None,
    record: bool = True,
) -> TrainingTrace:
    """Run every step of ``recipe`` on rows ``batches[t]`` of the encoded ``x``, ``y``.

    ``x`` [n, d_0] and ``y`` [n, d_L] are int64 at 2^R (``data.encode_*``); ``batches`` [T, B]
    holds row indices. ``model`` defaults to the seeded W_0. With ``record=False`` the steps
    are run but not kept (the trace has only the final weights).
    """
    steps, batch = recipe.train.steps, recipe.train.batch_size
    if batches.shape != (steps, batch):
        raise ValueError(f"batches: expected shape {(steps, batch)}, got {batches.shape}")
    model = FixedPointMLP.seeded(recipe) if model is None else model
    if model.recipe != recipe:
        raise ValueError("model: built for another recipe")
    kept = []
    for t in range(steps):
        rows = batches[t]
        trace = model.step(x[rows], y[rows], recipe.train.lr_num[t], t, rows)
        if record:
            kept.append(trace)
    norms = model.norm_state()
    return TrainingTrace(recipe, tuple(kept), tuple(model.weights), tuple(model.biases),
                         None if norms is None else tuple(norms))
