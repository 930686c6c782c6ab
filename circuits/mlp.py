"""The FAC4DNN layout of an MLP training run: which tensors exist, their layouts and widths.

Every tensor kind is stacked over the (padded) steps, one stack per layer, so one gadget
instance proves a relation for all steps of a layer and one batched sumcheck per phase covers
all layers (zkDL's FAC4DNN, section 4 of the reference notes; DESIGN section 5). Stacking per
layer rather than across layers keeps every tensor at its own padded width (the zkDL shape's
3072-wide input layer is not padded to the hidden width, nor the hidden layers to 4096).

Committed tensors (the prover's only commitments besides the public data and weights) are range
decompositions, the slots of a value on the innermost axis: 16-bit limbs checked by a logUp
lookup (``range_check = "limbs"``, the default, ``circuits/limbs.py``, with the lookup's
multiplicities ``logup.m{b}``) or bits (``"bits"``, zkDL's gadget, ``circuits/bits.py``). Every
other tensor is virtual (DESIGN section 5). With ``s`` the suffix ``limbs`` or ``bits``:

  X.s, Y.s      data [T', B, d, slots]    inputs / labels at scale 2^R, unsigned (private data:
                                          each segment commits its own batch stream)
  DX.s, DY.s    [n', d, slots]            committed data: a data owner's commitment to the
                                          training rows in storage order, shared by the segments
                                          (range-checked and padding-checked in segment 0)
  Z{l}.s        [T', B, d_l, slots]       Z'_l - 1 (hidden; its sign slot is the ReLU indicator
                                          s = [Z' <= 0]) or Z'_L (output), Q bits, two's complement
  R{l}.s        [T', B, d_l, slots]       forward rescale remainder + 2^(S-1), S = 2R + k bits
  G{l}.s        [T', B, d_l, slots]       G'_A,l, the rescaled gradient w.r.t. A_l (hidden)
  RG{l}.s       [T', B, d_l, slots]       its rescale remainder + 2^(S-1)
  W{l}.T        [d_l, d_{l-1}]            final master weights (public commitment C_WT)
  W{l}.0.s      [d_l, d_{l-1}, slots]     ``init: committed`` only: W_0 (and b{l}.0.s, [d_l, slots]),
                                          weight_bits signed bits (public commitment)
  VW{l}.s       [T', d_l, d_{l-1}, slots] ``sgd_momentum`` only (docs/momentum.md, design A): the
                                          momentum buffer buf_t of W_l at 2^(2R), buf_bits signed
  RVW{l}.s      [T', d_l, d_{l-1}, slots] its rounding remainder r_t + 2^(K_A-1), K_A bits
  Vb{l}.s, RVb{l}.s  [T', d_l, slots]     the same for the bias b_l
  VW{l}.T, Vb{l}.T  [d_l, d_{l-1}], [d_l] the buffer after the segment's last real step, beside
                                          W_T (public commitments; the next segment's VW{l}.0)
  bn{l}.VGamma.s, bn{l}.RVGamma.s, bn{l}.Vbeta.s, bn{l}.RVbeta.s  [T', d_l, slots]
                                          ``sgd_momentum`` with ``norm: ghost_bn``: the same for
                                          Ghost BN's gamma and beta (``trained_tensors``), their
                                          checkpoints bn{l}.VGamma.T, bn{l}.Vbeta.T in the layer's
                                          state (``norm_state_values``)

``lars`` (docs/lars.md section 4) commits the same buffers (v_t, at W's scale, rounded by K bits)
and the trust-ratio gadget's tensors (``circuits/trust.py``), [T', groups] over the parameter
tensors W_1..W_L, b_1..b_L (``parameter_tensors``, groups low): the slots of lambda_q, of the two
floor roots' remainders and slacks, of the division's remainder and slack, and the 0/1 zero-norm
flags (``optimizer_tensors``).

Public data (``data_binding = "public"``) commits nothing: the verifier evaluates the batch
stream itself (``verifier/data.py``).

Padding is forced, never masked: padded steps carry learning rate 0 and zero data, padded
features are zero in W_0, b_0 and the data, and every relation holds on every padded slot, so
by induction the honest padded witness is the only one that satisfies them. The data and a
committed W_0 come from outside the run: a zero-check against the public padding predicate
forces their padded entries (``RangedTensor.real``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from .bits import BitDecomposition
from .data import DATA_BINDINGS, DatasetEncoding
from .layout import Layout, log2_ceil, padded
from .limbs import LIMB_BITS, LimbDecomposition
from .semantics import lamb_spec, lars_spec, momentum_spec, norm_spec, relation_bounds
from .softmax import LOSSES

RANGE_CHECKS = ("limbs", "bits")
NORMS = ("none", "ghost_bn")
#: A Ghost BN layer's checkpointed state: gamma, beta (trained) and the running statistics.
NORM_STATE = ("Gamma", "beta", "RM", "RV")
#: ... and the optimizer's state of gamma and beta, per optimizer: momentum's buffers, LAMB's
#: first and second moments (named as the optimizer's tensors: ``state_name``).
NORM_OPTIMIZER_STATE = {"sgd": (), "sgd_momentum": ("VGamma", "Vbeta"), "lars": ("VGamma", "Vbeta"),
                        "lamb": ("MGamma", "Mbeta", "VGamma", "Vbeta")}
OPTIMIZERS = ("sgd", "sgd_momentum", "lars", "lamb")
Decomposition = BitDecomposition | LimbDecomposition

if TYPE_CHECKING:
    from .recipe import Recipe


@dataclass(frozen=True)
class MlpCircuit:
    widths: tuple[int, ...]  # d_0 (inputs) .. d_L (outputs)
    batch: int
    steps: int
    lr: tuple[int, ...]  # lr_num per real step (scale 2^-k)
    frac_bits: int = 16  # R
    lr_shift: int = 16  # k
    value_bits: int = 32  # Q
    input_bits: int = 17
    label_bits: int = 17
    input_signed: bool = False
    bias: bool = True
    range_check: str = "limbs"
    #: 16 in every proof a recipe determines; tests use smaller limbs (tiny lookup tables).
    limb_bits: int = LIMB_BITS
    #: ``init: committed``: W_0, b_0 are committed as range slots of ``weight_bits`` signed
    #: bits (public commitments ``W{l}.0.limbs``, ``b{l}.0.limbs``), not seeded values.
    init_committed: bool = False
    weight_bits: int = 56
    #: ``circuits.recipe.DATA_BINDINGS``; a bound data set has ``dataset_rows`` training rows.
    data_binding: str = "private"
    dataset_rows: int = 0
    #: Committed data: whether this segment range-checks the shared data commitment (segment 0).
    dataset_checked: bool = True
    #: ``train.loss`` (``circuits/loss.py``): which loss module the walk runs.
    loss: str = "mse"
    #: ``train.optimizer`` (``verifier/optimizers.py``): "sgd", or "sgd_momentum" with mu and
    #: the *folded* weight decay lam_f = lam / c as (num, shift) dyadics and the buffer's width
    #: (``circuits.momentum``, design (A) of docs/momentum.md).
    optimizer: str = "sgd"
    momentum: tuple[int, int] = (0, 0)
    weight_decay: tuple[int, int] = (0, 0)
    buf_bits: int = 48
    #: ``lars`` (``circuits.lars``, docs/lars.md): ``momentum`` is mu, ``weight_decay`` the
    #: folded beta_f, and these eta (num, shift), the eps integer E and 1/c.
    trust_coefficient: tuple[int, int] = (0, 0)
    lars_eps: int = 0
    inv_c: int = 0
    #: LARC (``train.clip``, ``circuits.lars``): the trust ratio clipped to the global rate.
    lars_clip: bool = False
    #: ``lamb`` (``circuits.lamb``, docs/lamb.md): ``weight_decay`` is lam (not folded: it
    #: multiplies x), ``buf_bits`` the first moment's width, ``inv_c`` 1/c, and these 1 - b1,
    #: 1 - b2 as (num, shift), the eps integer E and the signed width every weight of the run
    #: stays within (``lamb_param_bits``; 0: this circuit's own steps from a committed W_0).
    betas: tuple[tuple[int, int], tuple[int, int]] = ((0, 0), (0, 0))
    lamb_eps: int = 0
    param_bits: int = 0
    #: ``model.norm: ghost_bn`` (``circuits.ghost_bn``, docs/ghost_bn.md section 4): every hidden
    #: layer is Linear -> Ghost BN -> ReLU, with the ghost batch v, the running statistics'
    #: momentum m / 2^K as (num, shift), eps at 2^(2R) and the signed width gamma and beta can
    #: reach over the run (``norm_param_bits``; 0: this circuit's own steps).
    norm: str = "none"
    virtual_batch: int = 0
    bn_momentum: tuple[int, int] = (0, 0)
    bn_eps: int = 0
    bn_param_bits: int = 0

    def __post_init__(self) -> None:
        if self.range_check not in RANGE_CHECKS:
            raise ValueError(f"range_check must be one of {list(RANGE_CHECKS)}, got {self.range_check!r}")
        if self.data_binding not in DATA_BINDINGS:
            raise ValueError(f"data_binding must be one of {list(DATA_BINDINGS)}, got {self.data_binding!r}")
        if (self.data_binding != "private") != (self.dataset_rows > 0):
            raise ValueError(f"{self.data_binding} data with {self.dataset_rows} data set rows")
        if len(self.widths) < 2:
            raise ValueError("an MLP needs at least an input and an output width")
        if self.batch & (self.batch - 1):
            raise ValueError(f"batch must be a power of two, got {self.batch}")
        if len(self.lr) != self.steps:
            raise ValueError(f"{self.steps} steps but {len(self.lr)} learning rates")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.loss == "cross_entropy":
            self.loss_circuit().sizing  # noqa: B018 -- validates R, Q for the softmax
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {list(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.optimizer == "sgd" and (self.momentum, self.weight_decay) != ((0, 0), (0, 0)):
            raise ValueError("plain sgd has no momentum or weight decay")
        if self.optimizer == "sgd_momentum":
            spec = self.momentum_spec()  # validates mu < 1 and both dyadics
            if spec.mu.num == 0 and spec.lam.num == 0:
                raise ValueError("sgd_momentum without momentum or weight decay is plain sgd")
            if not 2 <= self.buf_bits <= 62 or spec.rounding_shift(self.lr_shift) > 62:
                raise ValueError(f"momentum: buf_bits {self.buf_bits} and the rounding shift must lie in [2, 62]")
        if self.optimizer == "lars":
            spec = self.lars_spec()  # validates mu, eta, E and 1/c
            if not 2 <= self.buf_bits <= 62 or spec.rounding_shift(self.lr_shift) > 62:
                raise ValueError(f"lars: buf_bits {self.buf_bits} and the rounding shift must lie in [2, 62]")
        elif (self.trust_coefficient, self.lars_eps, self.lars_clip) != ((0, 0), 0, False):
            raise ValueError(f"{self.optimizer} has no trust coefficient, LARS eps or LARC clipping")
        if self.optimizer == "lamb":
            spec = self.lamb_spec()  # validates the betas, E and 1/c
            if not spec.adapt:
                raise ValueError("lamb: weight_decay 0 (no layer adaptation, phi = 1) is not provable; "
                                 "give a nonzero decay")
            if not 2 <= self.buf_bits <= 62 or self.lamb_param_bits < self.weight_bits:
                raise ValueError(f"lamb: buf_bits {self.buf_bits} must lie in [2, 62] and param_bits "
                                 f"{self.param_bits} cover weight_bits {self.weight_bits}")
        elif (self.betas, self.lamb_eps, self.param_bits) != (((0, 0), (0, 0)), 0, 0):
            raise ValueError(f"{self.optimizer} has no betas, LAMB eps or param_bits")
        if self.optimizer not in ("lars", "lamb") and self.inv_c:
            raise ValueError(f"{self.optimizer} has no 1/c")
        if self.norm not in NORMS:
            raise ValueError(f"norm must be one of {list(NORMS)}, got {self.norm!r}")
        if self.norm == "none" and (self.virtual_batch, self.bn_momentum, self.bn_eps, self.bn_param_bits) != (
                0, (0, 0), 0, 0):
            raise ValueError("a circuit without norm has no ghost batch, BN momentum, eps or parameter width")
        if self.has_norm:
            self.norm_spec()  # noqa: B018 -- validates v, the momentum, eps and the widths

    @classmethod
    def from_recipe(cls, recipe: "Recipe", range_check: str = "limbs") -> "MlpCircuit":
        """The circuit a canonical recipe determines (the verifier derives it from nothing else)."""
        if recipe.model.kind != "mlp" or recipe.model.activation != "relu":
            raise ValueError("only ReLU MLPs are provable so far")
        if recipe.train.optimizer not in OPTIMIZERS:
            raise ValueError(f"train.optimizer: {recipe.train.optimizer!r} is not provable")
        if recipe.train.loss not in LOSSES:
            raise ValueError(f"train.loss: {recipe.train.loss!r} is not provable")
        batch = recipe.train.batch_size
        if batch & (batch - 1):
            raise ValueError(f"train.batch_size: must be a power of two to be proven, got {batch}")
        state = {}
        spec = momentum_spec(recipe)  # lam folded by the loss's scale (docs/momentum.md section 1)
        if spec is not None:
            state = dict(optimizer="sgd_momentum", momentum=(spec.mu.num, spec.mu.shift),
                         weight_decay=(spec.lam.num, spec.lam.shift), buf_bits=recipe.train.buf_bits)
        lars = lars_spec(recipe)  # beta folded likewise, eps as E (docs/lars.md section 1)
        if lars is not None:
            state = dict(optimizer="lars", momentum=(lars.mu.num, lars.mu.shift),
                         weight_decay=(lars.beta.num, lars.beta.shift), buf_bits=recipe.train.buf_bits,
                         trust_coefficient=(lars.eta.num, lars.eta.shift), lars_eps=lars.eps_int,
                         inv_c=lars.inv_c, lars_clip=lars.clip)
        lamb = lamb_spec(recipe)  # the betas' complements and eps as E (docs/lamb.md section 1)
        if lamb is not None:
            bounds = relation_bounds(recipe)
            state = dict(optimizer="lamb", weight_decay=(lamb.lam.num, lamb.lam.shift), buf_bits=recipe.train.buf_bits,
                         inv_c=lamb.inv_c, lamb_eps=lamb.eps_int,
                         betas=tuple((d.num, d.shift) for d in (lamb.one_minus_b1, lamb.one_minus_b2)),
                         param_bits=max(bounds["weight"], bounds["bias"]).bit_length() + 1)
        norm = norm_spec(recipe)  # Ghost BN (docs/ghost_bn.md): gamma and beta's reach over the run
        if norm is not None:
            update = {"sgd_momentum": recipe.train.buf_bits, "lars": recipe.train.buf_bits, "lamb": state.get("param_bits")}
            state |= dict(norm="ghost_bn", virtual_batch=norm.virtual_batch_size,
                          bn_momentum=(norm.momentum.num, norm.momentum.shift), bn_eps=norm.eps_int,
                          bn_param_bits=_norm_param_bits(norm, recipe.train.batch_size, recipe.train.lr_num,
                                                         recipe.train.optimizer, update.get(recipe.train.optimizer)))
        return cls(
            widths=tuple(recipe.model.widths),
            batch=batch,
            steps=recipe.train.steps,
            lr=tuple(recipe.train.lr_num),
            frac_bits=recipe.quant.frac_bits,
            lr_shift=recipe.quant.lr_shift,
            value_bits=recipe.quant.value_bits,
            input_bits=recipe.data.input_bits,
            label_bits=recipe.data.label_bits,
            input_signed=recipe.data.input_signed,
            bias=recipe.model.bias,
            range_check=range_check,
            init_committed=recipe.model.init == "committed",
            weight_bits=recipe.quant.weight_bits,
            data_binding=recipe.data.binding,
            dataset_rows=recipe.data.rows,
            loss=recipe.train.loss,
            **state,
        )

    def encode(self) -> bytes:
        """Canonical bytes of every parameter (JSON, sorted keys, learning rates included),
        which the walk absorbs: a proof is bound to the circuit it was made for even where a
        caller builds the statement without a recipe to derive it from. The loss is omitted
        when it is MSE, so that MSE circuits keep the bytes they had before losses were modules
        (the encodings of the two losses still differ: only cross-entropy's has the key), and
        the optimizer's keys when it is plain SGD, for the same reason."""
        fields = asdict(self)
        if fields["loss"] == "mse":
            del fields["loss"]
        if fields["optimizer"] != "lars":  # likewise: plain SGD and momentum circuits keep their bytes
            for key in ("trust_coefficient", "lars_eps") + (("inv_c",) if fields["optimizer"] != "lamb" else ()):
                del fields[key]
        if not fields["lars_clip"]:  # and so do plain LARS circuits
            del fields["lars_clip"]
        if fields["optimizer"] != "lamb":  # and so do LARS circuits
            for key in ("betas", "lamb_eps", "param_bits"):
                del fields[key]
        if fields["optimizer"] == "sgd":
            for key in ("optimizer", "momentum", "weight_decay", "buf_bits"):
                del fields[key]
        if fields["norm"] == "none":  # and so do circuits without normalization
            for key in ("norm", "virtual_batch", "bn_momentum", "bn_eps", "bn_param_bits"):
                del fields[key]
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    # --- sizes ----------------------------------------------------------------------------
    @property
    def layers(self) -> int:
        return len(self.widths) - 1

    @property
    def padded_steps(self) -> int:
        return padded(self.steps)

    @property
    def step_vars(self) -> int:
        return log2_ceil(self.steps)

    @property
    def batch_vars(self) -> int:
        return log2_ceil(self.batch)

    def width_vars(self, i: int) -> int:
        return log2_ceil(self.widths[i])

    @property
    def rescale_bits(self) -> int:
        """S = 2R + k: Z = A W^T is at scale 2^(3R+k) and Z' at 2^R (DESIGN section 4)."""
        return 2 * self.frac_bits + self.lr_shift

    def lr_padded(self) -> list[int]:
        """Per padded step; the padded steps learn nothing (lr 0), so no phantom update."""
        return list(self.lr) + [0] * (self.padded_steps - self.steps)

    # --- decompositions -------------------------------------------------------------------
    def _decomposition(self, width: int, signed: bool, offset: int = 0) -> Decomposition:
        if self.range_check == "limbs":
            return LimbDecomposition(width, signed, offset, self.limb_bits)
        return BitDecomposition(width, signed, offset)

    def z_slots(self, layer: int) -> Decomposition:
        """Z'_l: the ReLU's input (``relu_slots``) in a hidden layer without norm; Z' itself in
        the output layer and in front of a Ghost BN, whose output the ReLU reads."""
        if layer < self.layers and not self.has_norm:
            return self.relu_slots()
        return self._decomposition(self.value_bits, signed=True)

    def relu_slots(self) -> Decomposition:
        """A ReLU's input V: V - 1 in two's complement, so the sign slot is [V <= 0] (PyTorch's
        ReLU gradient at 0 is 0)."""
        return self._decomposition(self.value_bits, signed=True, offset=1)

    def relu_input(self, layer: int) -> tuple[str, str]:
        """(committed slots, virtual name) of hidden layer l's ReLU input: Z'_l (``Z{l}``,
        ``ZP{l}``), or with Ghost BN its output Y (``N{l}``, the gadget's ``bn{l}.Y``)."""
        if self.has_norm:
            return self.ranged(f"N{layer}"), self.ghost_bn(layer).t("Y")
        return self.ranged(f"Z{layer}"), f"ZP{layer}"

    def rem_slots(self) -> Decomposition:
        s = self.rescale_bits
        return self._decomposition(s, signed=False, offset=-(1 << (s - 1)))

    def g_slots(self) -> Decomposition:
        return self._decomposition(self.value_bits, signed=True)

    def x_slots(self) -> Decomposition:
        return self._decomposition(self.input_bits, signed=self.input_signed)

    def y_slots(self) -> Decomposition:
        return self._decomposition(self.label_bits, signed=False)

    # --- Ghost BN (docs/ghost_bn.md section 4) ------------------------------------------------
    @property
    def has_norm(self) -> bool:
        return self.norm == "ghost_bn"

    def norm_layers(self) -> range:
        """The layers with a Ghost BN between their Linear and ReLU: every hidden layer."""
        return range(1, self.layers) if self.has_norm else range(0)

    @property
    def norm_param_bits(self) -> int:
        """gamma and beta's signed width over the run (``bn_param_bits``, or this circuit's own)."""
        if self.bn_param_bits:
            return self.bn_param_bits
        spec = self.norm_spec(self.weight_bits)
        update = {"sgd_momentum": self.buf_bits, "lars": self.buf_bits,
                  "lamb": self.lamb_param_bits if self.optimizer == "lamb" else None}
        return _norm_param_bits(spec, self.batch, self.lr, self.optimizer, update.get(self.optimizer))

    def norm_spec(self, weight_bits: int | None = None):
        """The semantics' parameters (``circuits.ghost_bn.GhostBnSpec``), its ``weight_bits`` the
        width gamma and beta can reach (``norm_param_bits``)."""
        from .ghost_bn import GhostBnSpec
        from .momentum import Dyadic

        return GhostBnSpec(self.batch, self.virtual_batch, Dyadic(*self.bn_momentum), self.bn_eps, self.frac_bits,
                           self.lr_shift, self.value_bits, weight_bits or self.norm_param_bits)

    def ghost_bn(self, layer: int):
        """Layer l's Ghost BN step gadget (``circuits.ghost_bn_step``), named ``bn{l}``, over the
        padded steps and the layer's padded features."""
        return _ghost_bn(self, layer)

    def norm_state_values(self) -> tuple[str, ...]:
        """What a Ghost BN layer carries from step to step: gamma, beta, the running statistics
        and the optimizer's state of gamma and beta (``NORM_OPTIMIZER_STATE``)."""
        return NORM_STATE + NORM_OPTIMIZER_STATE[self.optimizer]

    def norm_state_tensors(self, end: str) -> list[str]:
        """The state a segment starts from (``end = "0"``) or ends on (``"T"``), per Ghost BN
        layer (``norm_state_values``): ``bn{l}.Gamma.{end}``, [d_l] each."""
        return [f"bn{l}.{v}.{end}" for l in self.norm_layers() for v in self.norm_state_values()]

    # --- the optimizer's state (sgd_momentum, lars) -------------------------------------------
    @property
    def has_momentum(self) -> bool:
        return self.optimizer == "sgd_momentum"

    @property
    def has_buffer(self) -> bool:
        """A committed buffer per parameter and step: momentum's buf_t or LARS's v_t."""
        return self.optimizer in ("sgd_momentum", "lars")

    @property
    def has_state(self) -> bool:
        """The optimizer carries state from step to step, checkpointed with the weights: the
        buffers (momentum, LARS) or LAMB's moments (``MlpCircuit`` docstring)."""
        return self.has_buffer or self.optimizer == "lamb"

    def lars_spec(self):
        """mu, the folded beta_f, eta, E and 1/c (``circuits.lars.LarsSpec``)."""
        from .lars import LarsSpec
        from .momentum import Dyadic

        return LarsSpec(Dyadic(*self.momentum), Dyadic(*self.weight_decay), Dyadic(*self.trust_coefficient),
                        self.lars_eps, self.inv_c, clip=self.lars_clip)

    @property
    def buffer_shift(self) -> int:
        """K, the bits the buffer's per-step rescale drops (momentum's K_A, or LARS's K)."""
        if self.optimizer == "lars":
            return self.lars_spec().rounding_shift(self.lr_shift)
        return self.momentum_shift

    def parameter_tensors(self) -> list[tuple[str, int]]:
        """(kind, layer) of every parameter tensor, in LARS's group order: W_1..W_L, b_1..b_L."""
        kinds = ("W", "b") if self.bias else ("W",)
        return [(kind, l) for kind in kinds for l in range(1, self.layers + 1)]

    def trained_tensors(self) -> list[tuple[str, int]]:
        """(kind, layer) of every tensor the optimizer updates: the parameter tensors, then Ghost
        BN's gamma and beta per layer (kinds ``Gamma``, ``beta``), whose state the layer's
        checkpoint carries (``norm_state_values``)."""
        return self.parameter_tensors() + [(kind, l) for l in self.norm_layers() for kind in NORM_STATE[:2]]

    def gradient_bits(self, kind: str) -> int:
        """A signed width of a trained tensor's gradient for any admitted witness: the folded
        G_W, G_b (``lamb_gradient_bits``), or Ghost BN's dgamma, dbeta: B products of a gradient
        (Q bits) and X (``norm_gradient_bound``)."""
        if kind not in NORM_STATE:
            return self.lamb_gradient_bits()
        spec = self.norm_spec()
        return (self.batch * (1 << (self.value_bits - 1)) * norm_gradient_bound(spec)).bit_length() + 1

    def parameter_vars(self, kind: str, layer: int) -> int:
        return self.width_vars(layer) + (self.width_vars(layer - 1) if kind == "W" else 0)

    def trust(self):
        """LARS's trust-ratio gadget (``circuits.trust``): one lambda_q per (step, tensor),
        from the squared norms of the weights and of the folded gradients (LARC: the multiplier
        m_q clipped to the global rate, from the public lr_num of every padded step)."""
        from .trust import TrustRatio

        return TrustRatio("lars", self.step_vars, log2_ceil(len(self.trained_tensors())), self.lars_spec(),
                          self.lr_shift, self.lars_norm_bits(), self.limb_bits if self.range_check == "limbs" else None,
                          clip_lr=tuple(self.lr_padded()) if self.lars_clip else None)

    def lars_norm_bits(self) -> int:
        """A bound on the squared norms: every honest N = sum P^2 and M = sum G^2 lies below
        2^bits. P: weights of ``weight_bits`` signed bits (the engine refuses wider ones);
        G: G_W = G_Z^T A (B products of two Q-bit values; inputs of ``input_bits``) and
        G_b = 2^R sum_b G_Z. The gadget's slots follow, a witness beyond them is refused."""
        q, a = 1 << self.value_bits, 1 << max(self.value_bits, self.input_bits)
        g = max(self.batch * q * a, (self.batch * q) << self.frac_bits)
        p = 1 << (self.weight_bits - 1)
        if self.has_norm:  # gamma, beta (``norm_param_bits``) and their gradients (``gradient_bits``)
            p, g = max(p, 1 << (self.norm_param_bits - 1)), max(g, 1 << (self.gradient_bits("Gamma") - 1))
        params = max(1 << self.parameter_vars(kind, l) for kind, l in self.trained_tensors())
        return (params * max(p, g) ** 2).bit_length()

    def lamb_spec(self):
        """1 - b1, 1 - b2, lam, E and 1/c (``circuits.lamb.LambSpec``), adapted when lam != 0."""
        from .lamb import LambSpec
        from .momentum import Dyadic

        (c1, s1), (c2, s2) = self.betas
        return LambSpec(Dyadic(c1, s1), Dyadic(c2, s2), Dyadic(*self.weight_decay), self.lamb_eps, self.inv_c,
                        adapt=self.weight_decay[0] != 0)

    @property
    def lamb_param_bits(self) -> int:
        """The signed width of every weight and bias of a LAMB run (the step gadget's P), for any
        witness the range checks admit: W_t = W_0 - sum_{s<t} dP_s with |W_0| < 2^(weight_bits-1)
        and every |dP| < 2^weight_bits (its range check), over the run's steps
        (``circuits.semantics.relation_bounds``, which ``from_recipe`` reads), or this circuit's
        own when ``param_bits`` is 0."""
        if self.param_bits:
            return self.param_bits
        return ((1 << (self.weight_bits - 1)) + (self.steps << self.weight_bits)).bit_length() + 1

    def lamb_step(self, kind: str, layer: int, first_step: int = 1):
        """LAMB's step gadget (``circuits.lamb_step``) of one parameter tensor, stacked [T', n],
        LAMB's t = ``first_step`` at the segment's first step. Widths: P the run's weights
        (``lamb_param_bits``), dP one weight's (its range check bounds the run's weights), G the
        folded gradients of any admitted witness (``lamb_gradient_bits``), M ``buf_bits``, V 62
        bits, N_U ``lamb_norm_u_bits``. The layout is the same for every ``first_step``."""
        return _lamb_step(self, kind, layer, first_step)

    def lamb_gradient_bits(self) -> int:
        """A signed width of every folded gradient G_W = G_Z^T A and G_b = 2^R sum_b G_Z: B products
        of a gradient (the output's: Q bits and a label) and an activation (Q bits, or an input)."""
        gz = (1 << (self.value_bits - 1)) + (1 << self.label_bits)
        a = 1 << max(self.value_bits - 1, self.input_bits)
        return max(self.batch * gz * a, (self.batch * gz) << self.frac_bits).bit_length() + 1

    def lamb_norm_u_bits(self, kind: str, layer: int) -> int:
        """N_U's declared width: every |U| < 2^(KU+4), i.e. |r + lam x| < 16 (an honest |r| stays
        below (1 - b1) / sqrt(1 - b2) ~ 3.2 for the usual betas, |lam x| below 1.3 for lam 0.01 and
        |x| < 128); the witness refuses a wider N_U."""
        ku = 2 * self.frac_bits + self.lr_shift + self.weight_decay[1]  # U's scale (LambStep.ku)
        return self.parameter_vars(kind, layer) + 2 * (ku + 4) + 1

    def momentum_spec(self):
        """mu and the folded lam_f (``circuits.momentum.MomentumSpec``)."""
        from .momentum import Dyadic, MomentumSpec

        return MomentumSpec(Dyadic(*self.momentum), Dyadic(*self.weight_decay))

    @property
    def momentum_shift(self) -> int:
        """K_A, the bits buf's per-step rescale drops (docs/momentum.md section 2)."""
        return self.momentum_spec().rounding_shift(self.lr_shift)

    def buf_slots(self) -> Decomposition:
        return self._decomposition(self.buf_bits, signed=True)

    def buf_rem_slots(self) -> Decomposition:
        k = self.buffer_shift
        return self._decomposition(k, signed=False, offset=-(1 << (k - 1)))

    def w0_slots(self) -> Decomposition:
        """A committed initial weight or bias: signed, ``weight_bits`` wide."""
        return self._decomposition(self.weight_bits, signed=True)

    # --- committed tensors ------------------------------------------------------------------
    def ranged(self, base: str) -> str:
        """The committed slots tensor of a range-checked value: ``Z1`` -> ``Z1.limbs``."""
        return f"{base}.{self.range_check}"

    def slots_layout(self, i: int, decomposition: Decomposition) -> Layout:
        return Layout.of(t=self.step_vars, b=self.batch_vars, j=self.width_vars(i), slot=decomposition.slot_vars)

    def data_tensors(self) -> tuple[str, ...]:
        """The committed slots of the inputs and labels: the batch stream (private data), the
        data set's rows (committed data), or none (public data)."""
        if self.data_binding == "public":
            return ()
        return (self.ranged("DX"), self.ranged("DY")) if self.data_binding == "committed" else (self.ranged("X"), self.ranged("Y"))

    def init_tensors(self) -> tuple[str, ...]:
        """The committed slots of W_0, b_0 (``init: committed``), empty for seeded weights."""
        if not self.init_committed:
            return ()
        layers = range(1, self.layers + 1)
        biases = [self.ranged(f"b{l}.0") for l in layers] if self.bias else []
        return tuple([self.ranged(f"W{l}.0") for l in layers] + biases)

    def committed_ranges(self) -> dict[str, RangedTensor]:
        """Name -> layout, decomposition and, for the tensors whose padding no relation
        forces (the public data, a committed W_0), the real extent of each axis."""
        out = {}
        if self.data_binding == "private":
            data = {"t": self.steps, "b": self.batch}
            x, y = self.data_tensors()
            out[x] = RangedTensor(self.slots_layout(0, self.x_slots()), self.x_slots(), {**data, "j": self.widths[0]})
            out[y] = RangedTensor(
                self.slots_layout(self.layers, self.y_slots()), self.y_slots(), {**data, "j": self.widths[-1]}
            )
        elif self.data_binding == "committed" and self.dataset_checked:
            (x, lx), (y, ly) = self.dataset_layouts().items()
            out[x] = RangedTensor(lx, self.x_slots(), {"i": self.dataset_rows, "j": self.widths[0]})
            out[y] = RangedTensor(ly, self.y_slots(), {"i": self.dataset_rows, "j": self.widths[-1]})
        for l in range(1, self.layers + 1):
            out[self.ranged(f"Z{l}")] = RangedTensor(self.slots_layout(l, self.z_slots(l)), self.z_slots(l))
            out[self.ranged(f"R{l}")] = RangedTensor(self.slots_layout(l, self.rem_slots()), self.rem_slots())
            if l < self.layers:
                out[self.ranged(f"G{l}")] = RangedTensor(self.slots_layout(l, self.g_slots()), self.g_slots())
                out[self.ranged(f"RG{l}")] = RangedTensor(self.slots_layout(l, self.rem_slots()), self.rem_slots())
        for l in self.norm_layers():  # the ReLU's input Y, then the gadget's slots per element or statistic
            out[self.ranged(f"N{l}")] = RangedTensor(self.slots_layout(l, self.relu_slots()), self.relu_slots())
            gadget = self.ghost_bn(l)
            for name, d, value_vars in gadget.ranged():
                groups = gadget.batch_vars if value_vars == gadget.element_vars else gadget.group_vars
                out[name] = RangedTensor(Layout.of(t=self.step_vars, b=groups, j=self.width_vars(l), slot=d.slot_vars), d)
        if self.init_committed:
            d = self.w0_slots()
            for l in range(1, self.layers + 1):
                nj, ni = self.width_vars(l), self.width_vars(l - 1)
                real = {"j": self.widths[l], "i": self.widths[l - 1]}
                out[self.ranged(f"W{l}.0")] = RangedTensor(Layout.of(j=nj, i=ni, slot=d.slot_vars), d, real)
                if self.bias:
                    bias_layout = Layout.of(j=nj, slot=d.slot_vars)
                    out[self.ranged(f"b{l}.0")] = RangedTensor(bias_layout, d, {"j": self.widths[l]})
        if self.has_buffer:  # per trained tensor, [T', d_l(, d_{l-1}), slots]
            for kind, l in sorted(self.trained_tensors(), key=lambda t: (t[0] in NORM_STATE, t[1])):  # layer by layer
                nt, nj, ni = self.step_vars, self.width_vars(l), self.width_vars(l - 1)
                axes = dict(t=nt, j=nj, i=ni) if kind == "W" else dict(t=nt, j=nj)
                for prefix, d in (("V", self.buf_slots()), ("RV", self.buf_rem_slots())):
                    out[self.ranged(state_name(prefix, kind, l))] = RangedTensor(Layout.of(**axes, slot=d.slot_vars), d)
        if self.optimizer == "lars":  # the trust ratio's slots, [T', groups, slots] (circuits.trust)
            trust = self.trust()
            for name, d, _ in trust.ranged():
                out[name] = RangedTensor(Layout.of(t=trust.step_vars, g=trust.group_vars, slot=d.slot_vars), d)
        if self.optimizer == "lamb":  # each trained tensor's step gadget: [T', n, slots] or [T', slots]
            for kind, l in self.trained_tensors():
                gadget = self.lamb_step(kind, l)
                for name, d, value_vars in gadget.ranged():
                    entries = gadget.param_vars if value_vars == gadget.num_vars else 0
                    out[name] = RangedTensor(Layout.of(t=self.step_vars, p=entries, slot=d.slot_vars), d)
        out.update(self.loss_circuit().ranges())  # after the walk's own (MSE adds none)
        return out


    def optimizer_tensors(self) -> dict[str, Layout]:
        """The optimizer's committed tensors that are not range slots: LARS's zero-norm flags,
        [T', groups] (``circuits.trust``), LAMB's flags and Lphi per tensor, [T']
        (``circuits.lamb_step``); none otherwise."""
        if self.optimizer == "lamb":
            return {name: Layout.of(t=self.step_vars) for kind, l in self.trained_tensors()
                    for name in self.lamb_step(kind, l).plain_tensors()}
        if self.optimizer != "lars":
            return {}
        trust = self.trust()
        return {name: Layout.of(t=trust.step_vars, g=trust.group_vars) for name in trust.plain_tensors()}

    def loss_circuit(self):
        """The loss's description (``circuits/loss.py``): its committed and ranged tensors."""
        from .loss import loss_circuit

        return loss_circuit(self)

    def loss_tensors(self) -> dict[str, Layout]:
        """The loss's committed tensors that are not range slots (none for MSE)."""
        return self.loss_circuit().committed()

    def dataset_encoding(self) -> DatasetEncoding:
        """The encoding a bound data set must have for this circuit (``circuits.data``)."""
        return DatasetEncoding(self.dataset_rows, self.widths[0], self.widths[-1], self.frac_bits, self.input_bits,
                               self.input_signed, self.label_bits, self.range_check, self.limb_bits)

    def dataset_layouts(self) -> dict[str, Layout]:
        """Committed data: the layouts [rows, features or classes, slots] of DX.s and DY.s."""
        return self.dataset_encoding().layouts() if self.data_binding == "committed" else {}


@dataclass(frozen=True)
class RangedTensor:
    """A committed slots tensor: its layout (slot axis innermost), its decomposition, and the
    real extent per axis where padding must be forced by a zero-check (None: by relations)."""

    layout: Layout
    decomposition: Decomposition
    real: dict[str, int] | None = None


def parameter_name(kind: str, layer: int) -> str:
    """The stacked tensor of a trained tensor: ``W1``, ``b1``, or Ghost BN's ``bn1.Gamma``."""
    return f"bn{layer}.{kind}" if kind in NORM_STATE else f"{kind}{layer}"


def state_name(prefix: str, kind: str, layer: int) -> str:
    """A trained tensor's optimizer tensor: ``VW1`` (prefix ``V``), ``RVb2``, ``bn1.VGamma``."""
    return f"bn{layer}.{prefix}{kind}" if kind in NORM_STATE else f"{prefix}{kind}{layer}"


def _norm_param_bits(spec, batch: int, lr: tuple[int, ...], optimizer: str = "sgd", bits: int | None = None) -> int:
    """The signed width of every gamma_t and beta_t for any witness the range checks admit:
    gamma_t = gamma_0 - sum_{s<t} lr_s U_s with gamma_0 = 2^S (beta_0 = 0), where U is the
    gradient under SGD, |dgamma| = |sum_b dy X| <= B 2^(Q-1) xhat_max and |dbeta| = 2^R |sum_b dy|
    <= 2^R B 2^(Q-1) (as ``circuits.semantics.relation_bounds`` bounds the weights), or the
    momentum buffer, |U| < 2^(``bits`` - 1) by its range check (LARS's, at rate 1 per step);
    under LAMB ``bits``, the run's parameter width (``MlpCircuit.lamb_param_bits``: every
    weight's, gamma's and beta's, from its range-checked steps). At least the run's declared width."""
    if optimizer == "lamb":
        return max(bits, spec.weight_bits)
    q = 1 << (spec.value_bits - 1)
    step = batch * q * norm_gradient_bound(spec) if optimizer == "sgd" else 1 << (bits - 1)
    rates = len(lr) if optimizer == "lars" else sum(lr)
    reach = (1 << spec.param_shift) + rates * step
    return max(reach.bit_length() + 1, spec.weight_bits)


def norm_gradient_bound(spec) -> int:
    """A bound on |dgamma| and |dbeta| per unit of B 2^(Q-1): xhat_max (dgamma = sum_b dy X) or 2^R
    (dbeta = 2^R sum_b dy)."""
    return max(spec.xhat_max, 1 << spec.frac_bits)


@lru_cache(maxsize=256)
def _ghost_bn(c: MlpCircuit, layer: int):
    from .ghost_bn_step import GhostBnStep

    return GhostBnStep(f"bn{layer}", c.norm_spec(), c.step_vars, c.width_vars(layer),
                       c.limb_bits if c.range_check == "limbs" else None)


@lru_cache(maxsize=256)
def _lamb_step(c: MlpCircuit, kind: str, layer: int, first_step: int):
    from .lamb import V_BITS
    from .lamb_step import LambStep

    return LambStep(f"lamb{kind}{layer}", c.step_vars, c.parameter_vars(kind, layer), c.lamb_spec(), c.frac_bits,
                    c.lr_shift, tuple(c.lr_padded()), first_step, p_bits=c.lamb_param_bits,
                    g_bits=c.gradient_bits(kind), m_bits=c.buf_bits, v_bits=V_BITS,
                    limb_bits=c.limb_bits if c.range_check == "limbs" else None,
                    norm_u_bits=c.lamb_norm_u_bits(kind, layer), step_bits=c.weight_bits + 1)
