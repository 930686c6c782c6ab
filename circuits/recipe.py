"""The canonical training recipe that a proof binds (DESIGN sections 1, 4 and 9, "Recipe encoding").

A :class:`Recipe` is the public statement's description of *how* the model was trained: the
model, the data's shape and fixed-point encoding, the optimizer with its per-step integer
learning rates, and every width of the quantization. It holds integers, strings and booleans
only, no floats, so that it has exactly one encoding, :meth:`Recipe.to_canonical_json`: JSON
with sorted keys and no whitespace. The verifier reads it with
:meth:`Recipe.from_canonical_json`, which rebuilds the recipe, re-encodes it and rejects any
input that is not byte-for-byte that encoding, and derives the whole circuit from it alone.

Construction validates every field (a ``RecipeError`` names the dotted path of the bad one)
and refuses recipes where any relation could exceed 2^250 (``circuits.semantics``).
"""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
from dataclasses import dataclass, fields
from typing import Any, Mapping

from . import semantics
from .data import DATA_BINDINGS
from .layout import padded
from .momentum import MAX_HYPER_SHIFT, Dyadic
from .softmax import LOSSES

#: Version of the fixed-point semantics of ``circuits.semantics``; bumped on any change to what
#: a recipe means, so an old proof never verifies under a new meaning.
SEMANTICS_VERSION = 1

#: The verifier bounds what it parses before allocating (DESIGN section 7).
MAX_CANONICAL_BYTES = 16 << 20
MAX_STEPS = 1 << 20
MAX_WIDTH = 1 << 20
MAX_BATCH = 1 << 16
#: lr_num stays an int32 so that lr_num * G in the engine's exact update has headroom.
MAX_LR_NUM = (1 << 31) - 1
#: A verifier derives a seeded W_0, b_0 itself and evaluates it as int64 tables padded to
#: powers of two: at most this many entries (128 MiB), about 1.5 times the zkDL shape's. A
#: larger model takes ``init: committed`` (issue 12: the work a recipe asks for is bounded).
MAX_SEEDED_PARAMETERS = 1 << 24

#: A canonical recipe nests three deep (the object, a section, a list); anything deeper is
#: refused before json.loads sees it (``check_json_depth``).
MAX_JSON_DEPTH = 4

#: Where the batches come from: a run file's data set (``zktrain.data``), or ``recorded``, the
#: batches of a torch training loop that ``zktrain.Recorder`` recorded (private data).
DATA_SOURCES = ("digits", "npz", "synthetic", "recorded")
#: Rows of a bound data set, and the entries of the batch stream a verifier of bound data
#: derives (steps x batch x (padded features + padded classes)): bounded work (issue 12).
MAX_ROWS = 1 << 24
MAX_BOUND_STREAM_ENTRIES = 1 << 24
_SHA256 = re.compile(r"[0-9a-f]{64}")
#: ``train.optimizer``: plain SGD (stateless; W_t stays virtual), or SGD with momentum and/or
#: weight decay in design (A) of docs/momentum.md (a momentum buffer rounded every step).
OPTIMIZERS = ("sgd", "sgd_momentum", "lars", "lamb")
#: The state fields each optimizer takes (all required; every other one must be absent).
OPTIMIZER_FIELDS = {
    "sgd": (),
    "sgd_momentum": ("momentum", "weight_decay", "buf_bits"),
    "lars": ("momentum", "weight_decay", "trust_coefficient", "eps", "buf_bits"),
    "lamb": ("beta1", "beta2", "weight_decay", "eps", "buf_bits"),
}
#: Every optimizer field, in the canonical order of the checks.
_STATE_FIELDS = ("momentum", "weight_decay", "trust_coefficient", "eps", "beta1", "beta2", "buf_bits")
#: The momentum buffer's default width (``train.buf_bits``; docs/momentum.md section 2).
DEFAULT_BUF_BITS = 48
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
#: ``model.norm``: no normalization, or Ghost Batch Norm after every hidden Linear (docs/ghost_bn.md).
NORMS = ("none", "ghost_bn")
#: The fields of ``model.norm: ghost_bn`` (all required with it, all absent without).
_NORM_FIELDS = ("virtual_batch_size", "bn_momentum", "bn_eps")


class RecipeError(ValueError):
    """An invalid or non-canonical recipe; the message starts with the dotted field path."""


def _int(path: str, value: Any, lo: int, hi: int) -> None:
    # bool is a subclass of int in Python but a different JSON type: never accept it here.
    if type(value) is not int:
        raise RecipeError(f"{path}: must be an integer, got {value!r}")
    if not lo <= value <= hi:
        raise RecipeError(f"{path}: must lie in [{lo}, {hi}], got {value}")


def _bool(path: str, value: Any) -> None:
    if type(value) is not bool:
        raise RecipeError(f"{path}: must be true or false, got {value!r}")


def _choice(path: str, value: Any, choices: tuple[str, ...]) -> None:
    if type(value) is not str or value not in choices:
        raise RecipeError(f"{path}: must be one of {list(choices)}, got {value!r}")


def _dyadic(path: str, value: Any, below_one: bool = False) -> None:
    """A ``circuits.momentum.Dyadic`` (num / 2^shift in lowest terms, shift <= MAX_HYPER_SHIFT,
    checked by its constructor), below 1 when ``below_one``."""
    if type(value) is not Dyadic:
        raise RecipeError(f"{path}: must be a dyadic {{num, shift}} (num / 2^shift), got {value!r}")
    if below_one and value.value >= 1:
        raise RecipeError(f"{path}: must lie in [0, 1), got {value.num}/2^{value.shift}")


def _parse_dyadic(path: str, body: Any) -> Dyadic:
    """``{"num": n, "shift": s}`` of the canonical JSON as a Dyadic, or RecipeError naming ``path``."""
    _keys(f"{path}.", body, {"num", "shift"})
    _int(f"{path}.num", body["num"], 0, (1 << 63) - 1)
    _int(f"{path}.shift", body["shift"], 0, MAX_HYPER_SHIFT)
    try:
        return Dyadic(body["num"], body["shift"])
    except ValueError as err:
        raise RecipeError(f"{path}: {err}") from None


def _int_tuple(path: str, value: Any, lo: int, hi: int, min_len: int, max_len: int) -> None:
    if type(value) is not tuple:
        raise RecipeError(f"{path}: must be a tuple of integers, got {type(value).__name__}")
    if not min_len <= len(value) <= max_len:
        raise RecipeError(f"{path}: must have between {min_len} and {max_len} entries, got {len(value)}")
    for i, v in enumerate(value):
        _int(f"{path}[{i}]", v, lo, hi)


@dataclass(frozen=True)
class DataSpec:
    """The committed batch stream: where it comes from, its shape and fixed-point encoding.

    Inputs are encoded as round_half_up(x 2^R) in ``input_bits`` bits (two's complement when
    ``input_signed``); labels one-hot at 2^R, unsigned in ``label_bits`` bits (``circuits.data``).
    ``source`` is descriptive. ``binding`` says what binds the data (``DATA_BINDINGS``): for
    ``public`` and ``committed``, ``rows`` is the number of training rows (the batches are
    ``circuits.data.batch_order`` of them) and ``sha256`` the digest of the encoded rows
    (``circuits.data.dataset_digest``) or of the data owner's commitment
    (``verifier.data.DatasetCommitment.digest``); ``private`` data has neither (0 and "").
    """

    source: str = "digits"
    features: int = 64
    classes: int = 10
    input_bits: int = 17
    input_signed: bool = False
    label_bits: int = 17
    binding: str = "private"
    rows: int = 0
    sha256: str = ""

    def __post_init__(self) -> None:
        _choice("data.source", self.source, DATA_SOURCES)
        _int("data.features", self.features, 1, MAX_WIDTH)
        _int("data.classes", self.classes, 2, MAX_WIDTH)
        _int("data.input_bits", self.input_bits, 1, 62)
        _bool("data.input_signed", self.input_signed)
        _int("data.label_bits", self.label_bits, 1, 62)
        _choice("data.binding", self.binding, DATA_BINDINGS)
        if self.binding == "private":
            _int("data.rows", self.rows, 0, 0)
            if self.sha256 != "":
                raise RecipeError(f"data.sha256: private data has no digest, got {self.sha256!r}")
        else:
            _int("data.rows", self.rows, 1, MAX_ROWS)
            if type(self.sha256) is not str or not _SHA256.fullmatch(self.sha256):
                raise RecipeError(f"data.sha256: must be 64 lowercase hex digits, got {self.sha256!r}")

    @property
    def bound(self) -> bool:
        """Whether a data set (public, or a data owner's commitment) binds the batches."""
        return self.binding != "private"


@dataclass(frozen=True)
class ModelSpec:
    """An MLP: Linear layers of ``widths`` (d_0 inputs .. d_L outputs) with ReLU between them,
    i.e. ``nn.Sequential(Linear, ReLU, ..., Linear)``; W_0 seeded from the recipe's seed or
    committed beforehand (DESIGN section 4, "Initial weights").

    ``norm: ghost_bn`` puts a Ghost Batch Norm between every hidden Linear and its ReLU
    (``nn.Sequential(Linear, GhostBatchNorm1d, ReLU, ..., Linear)``, docs/ghost_bn.md section 1,
    ``semantics.norm_spec``): ``virtual_batch_size`` v (a power of two >= 2 dividing the batch),
    ``bn_momentum`` (torch's momentum, a dyadic in [0, 1]) and ``bn_eps`` (a dyadic > 0, a
    multiple of 2^-(2 frac_bits): eps_int = bn_eps 2^(2R)). The three fields exist only with
    ``ghost_bn`` and ``norm`` is absent from the canonical JSON when ``none``, so recipes without
    normalization keep their bytes.
    """

    widths: tuple[int, ...] = (64, 128, 128, 10)
    bias: bool = True
    kind: str = "mlp"
    activation: str = "relu"
    init: str = "seeded"
    norm: str = "none"
    virtual_batch_size: int | None = None
    bn_momentum: Dyadic | None = None
    bn_eps: Dyadic | None = None

    def __post_init__(self) -> None:
        _int_tuple("model.widths", self.widths, 1, MAX_WIDTH, 2, 64)
        _bool("model.bias", self.bias)
        _choice("model.kind", self.kind, ("mlp",))
        _choice("model.activation", self.activation, ("relu",))
        _choice("model.init", self.init, ("seeded", "committed"))
        _choice("model.norm", self.norm, NORMS)
        for name in _NORM_FIELDS:
            value = getattr(self, name)
            if self.norm == "none" and value is not None:
                raise RecipeError(f"model.{name}: only with norm ghost_bn, got {value!r}")
            if self.norm == "ghost_bn" and value is None:
                raise RecipeError(f"model.{name}: norm ghost_bn needs it")
        if self.norm == "none":
            return
        v = self.virtual_batch_size
        _int("model.virtual_batch_size", v, 2, MAX_BATCH)
        if v & (v - 1):
            raise RecipeError(f"model.virtual_batch_size: must be a power of two, got {v}")
        _dyadic("model.bn_momentum", self.bn_momentum)
        if self.bn_momentum.value > 1:
            raise RecipeError(f"model.bn_momentum: must lie in [0, 1], got {self.bn_momentum.num}/2^{self.bn_momentum.shift}")
        _dyadic("model.bn_eps", self.bn_eps)
        if self.bn_eps.num == 0:
            raise RecipeError("model.bn_eps: must be > 0 (a constant feature would have no rstd)")

    @property
    def layers(self) -> int:
        return len(self.widths) - 1


@dataclass(frozen=True)
class TrainSpec:
    """Plain SGD on the MSE or the softmax cross-entropy loss with a per-step integer learning
    rate lr_num_t / 2^k.

    lr_num already contains the 2 / (B n_out) of the mean MSE (``semantics.mse_lr_num``), or
    the 1 / B of the mean cross-entropy (``semantics.ce_lr_num``; ``loss: cross_entropy``, whose
    G_out = p - Y is ``circuits.softmax``'s), so W_{t+1} = W_t - lr_num_t G_W,t exactly (DESIGN
    section 4). Both losses are proven (``verifier/losses.py``).

    ``optimizer: sgd_momentum`` is ``torch.optim.SGD(momentum=mu, dampening=0, nesterov=False,
    weight_decay=lam)`` in design (A) of docs/momentum.md (``circuits.momentum``): ``momentum``
    = mu and ``weight_decay`` = lam are torch's values as dyadics (lam unfolded; the decay the
    engine applies is lam / c, ``semantics.momentum_spec``), and the buffer buf_t at 2^(2R) is
    rounded every step and declared in ``buf_bits`` signed bits. The three fields exist only
    with ``sgd_momentum`` (plain SGD's canonical JSON, digests and bundles are unchanged), which
    ``verifier/optimizers.py`` proves.

    ``optimizer: lars`` is ``zktrain.optim.LARS`` (You et al. 2017, Algorithm 1, the global
    rate inside the momentum) in the exact semantics of ``circuits.lars``: ``momentum``,
    ``weight_decay`` (torch's, unfolded), ``trust_coefficient`` (eta) and ``eps`` as dyadics,
    and the buffer's width ``buf_bits``; ``clip: true`` is LARC (``zktrain.optim.LARS(clip=True)``,
    the multiplier min(lambda / gamma_t, 1); ``circuits.lars``, "LARC"), a field of ``lars``
    only, absent from the canonical JSON when false (so LARS recipes keep their bytes).

    ``optimizer: lamb`` is ``zktrain.optim.LAMB`` (You et al. 2019, Algorithm 2, bias
    correction, the decay inside the trust ratio, adaptation when the decay is nonzero) in the
    exact semantics of ``circuits.lamb``: ``beta1``, ``beta2``, ``weight_decay`` and ``eps`` as
    dyadics (1 - beta quantized within 1/512), ``buf_bits`` the first moment's width. Trained
    by the engine, refused by the proof, as LARS.
    """

    batch_size: int
    steps: int
    lr_num: tuple[int, ...]
    loss: str = "mse"
    optimizer: str = "sgd"
    momentum: Dyadic | None = None
    weight_decay: Dyadic | None = None
    buf_bits: int | None = None
    trust_coefficient: Dyadic | None = None
    eps: Dyadic | None = None
    beta1: Dyadic | None = None
    beta2: Dyadic | None = None
    clip: bool = False

    def __post_init__(self) -> None:
        _int("train.batch_size", self.batch_size, 1, MAX_BATCH)
        _int("train.steps", self.steps, 1, MAX_STEPS)
        _int_tuple("train.lr_num", self.lr_num, 0, MAX_LR_NUM, 1, MAX_STEPS)
        if len(self.lr_num) != self.steps:
            raise RecipeError(f"train.lr_num: needs one entry per step ({self.steps}), got {len(self.lr_num)}")
        _choice("train.loss", self.loss, LOSSES)
        _choice("train.optimizer", self.optimizer, OPTIMIZERS)
        wanted = OPTIMIZER_FIELDS[self.optimizer]
        for name in _STATE_FIELDS:
            value = getattr(self, name)
            if name not in wanted and value is not None:
                if self.optimizer == "sgd":
                    raise RecipeError(f"train.{name}: only with optimizer sgd_momentum (plain sgd has no state), "
                                      f"got {value!r}")
                raise RecipeError(f"train.{name}: not an option of optimizer {self.optimizer}, got {value!r}")
            if name in wanted and value is None:
                raise RecipeError(f"train.{name}: optimizer {self.optimizer} needs it")
        _bool("train.clip", self.clip)
        if self.clip and self.optimizer != "lars":
            raise RecipeError(f"train.clip: LARC's clipping is an option of optimizer lars only, not {self.optimizer}")
        if self.optimizer == "sgd":
            return
        _dyadic("train.weight_decay", self.weight_decay)
        _int("train.buf_bits", self.buf_bits, 2, 62)
        if self.optimizer == "lamb":
            _dyadic("train.beta1", self.beta1, below_one=True)
            _dyadic("train.beta2", self.beta2, below_one=True)
            _dyadic("train.eps", self.eps)
            if self.eps.num == 0:
                raise RecipeError("train.eps: must be > 0 for lamb (it keeps sqrt(v_hat) + eps >= 1 unit)")
            return
        _dyadic("train.momentum", self.momentum, below_one=True)
        if self.optimizer == "lars":
            _dyadic("train.trust_coefficient", self.trust_coefficient)
            _dyadic("train.eps", self.eps)
            if self.trust_coefficient.num == 0:
                raise RecipeError("train.trust_coefficient: must be > 0")
        elif self.momentum.num == 0 and self.weight_decay.num == 0:
            raise RecipeError("train.momentum: 0 without weight decay is plain SGD: use optimizer sgd")


@dataclass(frozen=True)
class QuantSpec:
    """Fixed-point parameters (DESIGN sections 4 and 5).

    R = ``frac_bits`` (activations at 2^R), k = ``lr_shift`` (learning rates lr_num / 2^k),
    Q = ``value_bits`` (every rescaled value: Z', G'_A, in two's complement), and
    ``weight_bits``, the width of master weights and biases at 2^(2R+k) at every step. The
    rescale remainders have S = 2R + k bits. The defaults R = k = 16, Q = 32 give 48-bit
    remainders (three 16-bit limbs) and 32-bit values (two limbs); 56-bit weights hold
    |w| < 2^7 in real terms, with the int64 headroom the engine's exact update needs.
    """

    frac_bits: int = 16
    lr_shift: int = 16
    value_bits: int = 32
    weight_bits: int = 56

    def __post_init__(self) -> None:
        _int("quant.frac_bits", self.frac_bits, 1, 24)
        _int("quant.lr_shift", self.lr_shift, 1, 24)
        # Q > R + 1 lets a rescaled value reach 1.0 in both signs.
        _int("quant.value_bits", self.value_bits, self.frac_bits + 2, 62)
        # The engine computes W - lr_num G_W in int64 with |W| < 2^61 (see fixedpoint/engine).
        _int("quant.weight_bits", self.weight_bits, 2, 62)
        if self.rescale_bits > 56:
            raise RecipeError(
                f"quant.lr_shift: 2 frac_bits + lr_shift = {self.rescale_bits} exceeds 56, "
                "the widest rescale remainder the engine accumulates exactly in int64"
            )

    @property
    def rescale_bits(self) -> int:
        """S = 2R + k: the shift of every rescale and the width of its remainder."""
        return 2 * self.frac_bits + self.lr_shift


_SECTIONS = {"data": DataSpec, "model": ModelSpec, "train": TrainSpec, "quant": QuantSpec}
#: Fields that the canonical JSON holds only when set (not None), and those encoded as
#: ``{"num": n, "shift": s}``.
_OPTIONAL = {"train": frozenset({"momentum", "weight_decay", "buf_bits", "trust_coefficient", "eps", "beta1", "beta2",
                                  "clip"}),
             "model": frozenset({"norm", *_NORM_FIELDS})}
#: Optional fields that are absent when they hold this default (``train.clip``: LARC only;
#: ``model.norm``: ghost_bn only).
_ABSENT_DEFAULTS = {"train": {"clip": False}, "model": {"norm": "none"}}
_DYADIC_FIELDS = {"train": ("momentum", "weight_decay", "trust_coefficient", "eps", "beta1", "beta2"),
                  "model": ("bn_momentum", "bn_eps")}


@dataclass(frozen=True)
class Recipe:
    """The public training recipe H of DESIGN section 1."""

    name: str
    seed: int
    data: DataSpec
    model: ModelSpec
    train: TrainSpec
    quant: QuantSpec
    semantics: int = SEMANTICS_VERSION

    def __post_init__(self) -> None:
        if type(self.name) is not str or not _NAME.fullmatch(self.name):
            raise RecipeError(f"name: must be 1-64 characters of A-Z a-z 0-9 . _ -, got {self.name!r}")
        _int("seed", self.seed, 0, (1 << 64) - 1)
        _int("semantics", self.semantics, SEMANTICS_VERSION, SEMANTICS_VERSION)
        for section, cls in _SECTIONS.items():
            if type(getattr(self, section)) is not cls:
                raise RecipeError(f"{section}: must be a {cls.__name__}, got {getattr(self, section)!r}")
        self._check_consistency()
        try:
            semantics.check_relation_bounds(self)
        except ValueError as err:
            raise RecipeError(str(err)) from None

    def _check_consistency(self) -> None:
        d, m, q = self.data, self.model, self.quant
        if m.widths[0] != d.features:
            raise RecipeError(f"model.widths: first width {m.widths[0]} != data.features {d.features}")
        if m.widths[-1] != d.classes:
            raise RecipeError(f"model.widths: last width {m.widths[-1]} != data.classes {d.classes}")
        if d.input_bits > q.value_bits:
            raise RecipeError(f"data.input_bits: {d.input_bits} exceeds quant.value_bits {q.value_bits}")
        if not q.frac_bits + 1 <= d.label_bits <= q.value_bits:
            # A one-hot label is 2^R, which needs R + 1 unsigned bits.
            raise RecipeError(
                f"data.label_bits: must lie in [frac_bits + 1, value_bits] = "
                f"[{q.frac_bits + 1}, {q.value_bits}], got {d.label_bits}"
            )
        if d.bound:
            t = self.train
            if d.rows < t.batch_size:
                raise RecipeError(f"data.rows: {d.rows} rows cannot fill a batch of {t.batch_size}")
            entries = t.steps * t.batch_size * (padded(d.features) + padded(d.classes))
            if entries > MAX_BOUND_STREAM_ENTRIES:
                raise RecipeError(
                    f"data.binding: a {d.binding} batch stream of {entries} entries exceeds the verifier's "
                    f"limit of {MAX_BOUND_STREAM_ENTRIES} (steps x batch x (padded features + classes))"
                )
        if self.train.loss == "cross_entropy":
            try:
                semantics.softmax_sizing(self, padded_classes=True)
            except ValueError as err:
                raise RecipeError(f"train.loss: {err}") from None
        if self.train.optimizer == "sgd_momentum":
            try:
                spec = semantics.momentum_spec(self)
            except ValueError as err:
                raise RecipeError(f"train.weight_decay: {err}") from None
            K = spec.rounding_shift(q.lr_shift)
            if K > 62:
                raise RecipeError(
                    f"train.weight_decay: the momentum buffer's rounding shift K_A = {K} exceeds 62 bits "
                    "(the remainder's range check); use a coarser weight_decay or momentum"
                )
        if self.train.optimizer == "lars":
            try:
                lars = semantics.lars_spec(self)
            except ValueError as err:
                raise RecipeError(f"train.optimizer: lars: {err}") from None
            K = lars.rounding_shift(q.lr_shift)
            if K > 62:
                raise RecipeError(f"train.weight_decay: the LARS buffer's rounding shift K = {K} exceeds 62 bits "
                                  "(the remainder's range check); use a coarser weight_decay")
        if self.train.optimizer == "lamb":
            try:
                semantics.lamb_spec(self)
            except ValueError as err:
                raise RecipeError(f"train.optimizer: lamb: {err}") from None
        if m.norm == "ghost_bn":
            self._check_norm()
        if m.init == "seeded":
            dims = [padded(w) for w in m.widths]
            entries = sum(o * i + (o if m.bias else 0) for i, o in zip(dims, dims[1:]))
            if entries > MAX_SEEDED_PARAMETERS:
                raise RecipeError(
                    f"model.widths: a seeded W_0, b_0 of {entries} padded entries exceeds the "
                    f"verifier's limit of {MAX_SEEDED_PARAMETERS}; use model.init: committed"
                )
            scale = semantics.Scales(q.frac_bits, q.lr_shift).weight
            widest = max(semantics.init_bound(fan_in, scale) for fan_in in m.widths[:-1])
            if widest >= 1 << (q.weight_bits - 1):
                raise RecipeError(
                    f"quant.weight_bits: {q.weight_bits} bits cannot hold the seeded initial "
                    f"weights (up to {widest}, bit length {widest.bit_length()})"
                )

    def _check_norm(self) -> None:
        """``model.norm: ghost_bn`` against the batch and the widths (any optimizer trains gamma and beta)
        (``semantics.norm_spec``: ``circuits.ghost_bn.GhostBnSpec`` refuses what does not fit)."""
        m, q = self.model, self.quant
        if self.train.batch_size % m.virtual_batch_size:
            raise RecipeError(f"model.virtual_batch_size: {m.virtual_batch_size} must divide train.batch_size "
                              f"{self.train.batch_size} (every ghost batch is full)")
        if m.bn_eps.shift > 2 * q.frac_bits:
            raise RecipeError(f"model.bn_eps: must be a multiple of 2^-(2 frac_bits) = 2^-{2 * q.frac_bits}, got "
                              f"{m.bn_eps.num}/2^{m.bn_eps.shift}")
        try:
            semantics.norm_spec(self)
        except ValueError as err:
            raise RecipeError(f"model.norm: {err}") from None

    # --- derived ---------------------------------------------------------------------------
    @property
    def scales(self) -> semantics.Scales:
        return semantics.Scales(self.quant.frac_bits, self.quant.lr_shift)

    def declared_widths(self) -> dict[str, semantics.Width]:
        """Every width the engine enforces and the circuit range-checks (``semantics``)."""
        return semantics.declared_widths(self)

    # --- encoding ---------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The recipe as nested dicts of ints, strings, booleans and lists."""
        out: dict[str, Any] = {"name": self.name, "seed": self.seed, "semantics": self.semantics}
        for section in _SECTIONS:
            spec, body = getattr(self, section), {}
            for f in fields(spec):
                v = getattr(spec, f.name)
                if v is None and f.name in _OPTIONAL.get(section, ()):
                    continue  # absent unless set: existing recipes keep their bytes
                if f.name in _ABSENT_DEFAULTS.get(section, {}) and v == _ABSENT_DEFAULTS[section][f.name]:
                    continue  # likewise
                body[f.name] = list(v) if isinstance(v, tuple) else {"num": v.num, "shift": v.shift} if isinstance(v, Dyadic) else v
            out[section] = body
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Recipe:
        """Build from ``to_dict``'s structure; every key is required and unknown keys are errors."""
        _keys("", data, {"name", "seed", "semantics", *_SECTIONS})
        sections = {}
        for section, spec_cls in _SECTIONS.items():
            body = data[section]
            optional = _OPTIONAL.get(section, frozenset())
            _keys(f"{section}.", body, {f.name for f in fields(spec_cls)}, optional)
            values = {k: tuple(v) if type(v) is list else v for k, v in body.items()}
            for name in _DYADIC_FIELDS.get(section, ()):
                if name in values:
                    values[name] = _parse_dyadic(f"{section}.{name}", values[name])
            sections[section] = spec_cls(**values)
        return cls(name=data["name"], seed=data["seed"], semantics=data["semantics"], **sections)

    def to_canonical_json(self) -> bytes:
        """Sorted keys, no whitespace, ASCII, integers only: the bytes the proof binds."""
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")

    @classmethod
    def from_canonical_json(cls, raw: bytes) -> Recipe:
        """Parse canonical bytes; anything that does not re-encode to exactly ``raw`` is rejected."""
        if not isinstance(raw, (bytes, bytearray)):
            raise RecipeError(f"recipe: expected bytes, got {type(raw).__name__}")
        if len(raw) > MAX_CANONICAL_BYTES:
            raise RecipeError(f"recipe: {len(raw)} bytes exceeds the limit of {MAX_CANONICAL_BYTES}")
        check_json_depth(raw, MAX_JSON_DEPTH, "recipe")
        try:
            text = bytes(raw).decode("ascii")
            data = json.loads(
                text, parse_float=_reject_float, parse_constant=_reject_float, object_pairs_hook=_unique_keys
            )
        except (UnicodeDecodeError, ValueError) as err:  # JSONDecodeError is a ValueError
            if isinstance(err, RecipeError):
                raise
            raise RecipeError(f"recipe: not canonical ASCII JSON ({err})") from None
        if not isinstance(data, dict):
            raise RecipeError("recipe: the top level must be a JSON object")
        recipe = cls.from_dict(data)
        if recipe.to_canonical_json() != bytes(raw):
            raise RecipeError("recipe: not in canonical form (sorted keys, no whitespace, minimal integers)")
        return recipe

    def digest(self) -> bytes:
        """SHA3-256 of the canonical encoding: a short name for the recipe (e.g. in `inspect`)."""
        return hashlib.sha3_256(self.to_canonical_json()).digest()


def check_json_depth(raw: bytes, max_depth: int, what: str) -> None:
    """Refuse JSON nested deeper than ``max_depth`` before it is parsed. json's C decoder
    recurses once per level, bounded only by the interpreter's recursion limit, which a library
    may raise (py_ecc sets it to 100,000 on import): 100,000 nested brackets then overflow the C
    stack and kill the process (found by the bundle fuzzer). Counting every bracket byte, string
    contents included, can only overstate the depth, and no valid recipe has a bracket in a string."""
    steps = np.zeros(len(raw), dtype=np.int8)
    data = np.frombuffer(bytes(raw), dtype=np.uint8)
    steps[(data == ord("[")) | (data == ord("{"))] = 1
    steps[(data == ord("]")) | (data == ord("}"))] = -1
    if raw and int(np.cumsum(steps, dtype=np.int64).max()) > max_depth:
        raise RecipeError(f"{what}: JSON nested deeper than {max_depth}")


def _keys(prefix: str, body: Any, expected: set[str], optional: frozenset[str] = frozenset()) -> None:
    if not isinstance(body, Mapping):
        raise RecipeError(f"{prefix.rstrip('.') or 'recipe'}: must be an object, got {body!r}")
    unknown, missing = sorted(set(body) - expected), sorted(expected - optional - set(body))
    if unknown:
        raise RecipeError(f"{prefix}{unknown[0]}: unknown field")
    if missing:
        raise RecipeError(f"{prefix}{missing[0]}: missing")


def _reject_float(token: str) -> Any:
    raise RecipeError(f"recipe: non-integer number {token!r} (the recipe holds integers only)")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise RecipeError(f"recipe: duplicate key {key!r}")
        out[key] = value
    return out
