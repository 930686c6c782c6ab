"""The record of a fixed-point training run: every tensor the circuit needs, per step and layer.

Layers are numbered 1..L as in the papers (layer l maps A_{l-1} to Z'_l; A_0 = X). Scales are
those of ``circuits.semantics``. Arrays are int64 and read-only, except the weight gradient,
which can exceed int64 (up to B 2^(2Q-2)) and is kept as an exact ``Wide`` pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from circuits.recipe import Recipe
from circuits.softmax import SoftmaxCE

from .exact import Wide, matmul_wide

#: Split point of the weight gradient's exact (hi, lo) form.
GRADIENT_LO_BITS = 32


@dataclass(frozen=True)
class NormTrace:
    """One Ghost BN layer at step t (``model.norm: ghost_bn``, docs/ghost_bn.md section 1), all
    int64 and read-only. BN's input is the layer's Z' (``LayerTrace.z``) and its input gradient
    the layer's G_Z (``LayerTrace.g_z``); the ReLU acts on ``y``.

    y                           Y [B, C] = rescale_S(gamma X + 2^R beta), BN's output at 2^R
    dy                          (1 - s) G'_A [B, C], the masked gradient: BN's output gradient
    gamma, beta                 [C] before this step's update, at 2^S (S = 2R + k)
    running_mean, running_var   [C] before this step's G ghost-batch updates, at 2^(2R)

    gamma_grad, beta_grad       dgamma = sum_b dy X, dbeta = 2^R sum_b dy [C] at 2^(2R), exact
    state                       the optimizer's state of gamma and beta before the step, in
                                ``circuits.mlp.MlpCircuit.norm_state_values()[4:]`` order: none
                                (sgd), their buffers (``sgd_momentum``, ``lars``), their moments (``lamb``)

    With ``sgd_momentum`` or ``lars`` (None otherwise), gamma's and beta's buffers after the step
    (buf_t) and their remainders r_t, as a bias's (``MomentumTrace``, ``LarsTrace``):

    gamma_buf, gamma_buf_rem, beta_buf, beta_buf_rem   [C]
    """

    y: np.ndarray
    dy: np.ndarray
    gamma: np.ndarray
    beta: np.ndarray
    running_mean: np.ndarray
    running_var: np.ndarray
    gamma_grad: np.ndarray
    beta_grad: np.ndarray
    state: tuple = ()
    gamma_buf: np.ndarray | None = None
    gamma_buf_rem: np.ndarray | None = None
    beta_buf: np.ndarray | None = None
    beta_buf_rem: np.ndarray | None = None


@dataclass(frozen=True)
class LayerTrace:
    """Layer l at one step (DESIGN section 4). Hidden-only fields are None for the output layer.

    weight, bias  W_t,l [d_l, d_{l-1}] and b_t,l [d_l] before the step's update, at 2^(2R+k)
    z, z_rem      Z'_l = rescale_S(A_{l-1} W^T + 2^R b) [B, d_l] and its remainder
    sign          s_l = [Z'_l <= 0] (hidden), uint8: the committed ReLU indicator
    a             A_l = (1 - s_l) Z'_l (hidden); the output Y_hat is ``z`` itself
    g_a, g_a_rem  G'_A,l = rescale_S(G_Z,l+1 W_t,l+1) (hidden) and its remainder
    g_z           G_Z,l = (1 - s_l) G'_A,l (hidden), G_out = Y_hat - Y or p - Y (output)
    a_in          A_{l-1} [B, d_{l-1}], the layer's input (X_t for l = 1): the previous layer's
                  ``a`` itself, not a copy
    g_w           G_W,l = G_Z,l^T A_{l-1} [d_l, d_{l-1}] at 2^(2R), exact, as Wide: computed
                  on each access (a property), since a run's trace held for proving would
                  otherwise keep a weight-sized wide tensor per layer and step that only
                  LARS's and LAMB's records read (2x the weights themselves)
    g_b           G_b,l = 2^R 1^T G_Z,l [d_l] at 2^(2R) (None without bias)
    norm          the Ghost BN between Z' and the ReLU (``model.norm: ghost_bn``, hidden layers;
                  None otherwise). Then ``z``, ``z_rem`` are BN's input Z' and its remainder,
                  ``sign`` = [Y <= 0] and ``a`` = (1 - s) Y on BN's output Y (``norm.y``), and
                  ``g_z`` is BN's input gradient dx (from ``norm.dy`` = (1 - s) G'_A), from which
                  g_w and g_b follow as above
    """

    layer: int
    weight: np.ndarray
    bias: np.ndarray | None
    z: np.ndarray
    z_rem: np.ndarray
    sign: np.ndarray | None
    a: np.ndarray | None
    g_a: np.ndarray | None
    g_a_rem: np.ndarray | None
    g_z: np.ndarray
    a_in: np.ndarray
    g_b: np.ndarray | None
    norm: NormTrace | None = None

    @property
    def g_w(self) -> Wide:
        return matmul_wide(self.g_z.T, self.a_in, GRADIENT_LO_BITS, what=f"G_W of layer {self.layer}")


@dataclass(frozen=True)
class MomentumTrace:
    """Layer l's momentum buffers at step t (``train.optimizer: sgd_momentum``, design (A) of
    docs/momentum.md section 2, ``zktrain.fixedpoint.momentum.rounded_step``), all int64::

        2^K_A buf_t + r_t = mu_num 2^(K_A-k_mu) buf_{t-1} + 2^K_A G_t + lam_num 2^(K_A-k-k_lam) W_t
        W_{t+1} = W_t - lr_num_t buf_t

    buf, buf_rem            buf_t of W_l [d_l, d_{l-1}] at 2^(2R) and its remainder r_t
    bias_buf, bias_buf_rem  the same for b_l [d_l] (None without bias)

    buf_{t-1} is the previous step's ``buf`` (zero before the first step of a run).
    """

    layer: int
    buf: np.ndarray
    buf_rem: np.ndarray
    bias_buf: np.ndarray | None
    bias_buf_rem: np.ndarray | None


@dataclass(frozen=True)
class LarsTrace(MomentumTrace):
    """Layer l's LARS state at step t (``train.optimizer: lars``, ``circuits.lars``): the
    buffers v_t (at W's scale) and remainders as a MomentumTrace's, and per tensor the scalars
    of the trust ratio (``zktrain.fixedpoint.lars.LarsScalars``: squared norms, their square
    roots, the denominator, lambda_q)::

        2^K v_t + r_t = mu' v_{t-1} + lr_num_t lambda_q (2^(k+k_b) G_t + b W_t) 2^(K-K_l-k-k_b)
        W_{t+1} = W_t - v_t
    """

    scalars: object = None
    bias_scalars: object = None


@dataclass(frozen=True)
class LambTrace:
    """Layer l's LAMB state at step t (``train.optimizer: lamb``, ``circuits.lamb``): per tensor
    the moments M_t (at 2^(2R)) and V_t (at 2^(4R-SV)), the step dP (W_{t+1} = W_t - dP) and
    the scalars (``zktrain.fixedpoint.lamb.LambScalars``: bias corrections, squared norms, the
    trust ratio); the bias's fields are None without bias."""

    layer: int
    m: np.ndarray
    v: np.ndarray
    step: np.ndarray
    scalars: object
    bias_m: np.ndarray | None
    bias_v: np.ndarray | None
    bias_step: np.ndarray | None
    bias_scalars: object


@dataclass(frozen=True)
class StepTrace:
    """One SGD step t: the batch it consumed and every layer's tensors."""

    step: int
    lr_num: int
    batch_indices: np.ndarray  # [B] rows of the training set, in batch order
    x: np.ndarray  # X_t [B, d_0] at 2^R
    y: np.ndarray  # Y_t [B, d_L], one-hot at 2^R
    layers: tuple[LayerTrace, ...]
    #: ``train.loss: cross_entropy``: the softmax witness of ``circuits.softmax`` (one-hot,
    #: max, gaps, table outputs, P, S, p, division remainders, G_out = p - Y); None for MSE
    softmax: SoftmaxCE | None = None
    #: ``train.optimizer: sgd_momentum``: every layer's momentum buffer buf_t and remainder
    #: (``MomentumTrace``); None for plain SGD
    momentum: tuple[MomentumTrace, ...] | None = None

    @property
    def output(self) -> np.ndarray:
        """Y_hat = Z'_L."""
        return self.layers[-1].z

    @property
    def output_gradient(self) -> np.ndarray:
        """G_out = Y_hat - Y (MSE) or p - Y (cross-entropy)."""
        return self.layers[-1].g_z


@dataclass(frozen=True)
class TrainingTrace:
    """A whole run: its recipe, the recorded steps (W_0 is steps[0]'s weights), and W_T, b_T;
    with ``model.norm: ghost_bn`` the normalization state after the last step, per hidden layer
    (gamma, beta, running mean, running var) (None without normalization)."""

    recipe: Recipe
    steps: tuple[StepTrace, ...]
    final_weights: tuple[np.ndarray, ...]
    final_biases: tuple[np.ndarray | None, ...]
    final_norms: tuple[tuple[np.ndarray, ...], ...] | None = None  # per hidden layer, as ``norms``


def frozen(a: np.ndarray) -> np.ndarray:
    """``a`` made read-only, so a recorded tensor cannot change under the prover's feet."""
    a.setflags(write=False)
    return a
