"""The proof of an MLP training run: one walk of claim reductions, shared by both sides.

Statement (DESIGN section 1): given the data (the prover's commitment to the range slots of
X and Y stacked over steps, a public data set, or a data owner's commitment to its rows:
``verifier/data.py``), the initial weights W_0, b_0 (public values seeded from the recipe,
public commitments to their range slots for ``init: committed``, or public commitments: the
checkpoint a previous segment ended on), the public commitments to
the final weights W_T, b_T and the recipe, the prover knows every intermediate value of
``steps`` exact SGD updates (DESIGN section 4) from W_0 to W_T.

A long run is proven in segments (issue 4): segment k proves its steps from the checkpoint
W_T of segment k - 1, whose commitment it takes as its committed W_0 (``W{l}.0``, ``b{l}.0``),
so the chain binds the whole run with no value in the clear. A committed W_0 needs no range
check: it is the previous segment's W_T, which that segment's proof ties to the seeded W_0 of
the first segment by exact updates of range-checked values (by induction over the chain).
The transcript absorbs the segment's index, the segment count, the steps per segment and the
segment's first step, so segments cannot be reordered, dropped, re-cut or reused in another
chain: the walk's relation depends on them (the learning-rate slice, the padded steps), and
the transcript binds them besides, so the binding never rests on that dependence alone.

The walk (FAC4DNN, DESIGN section 5), over tensors stacked across steps, one stack per layer:

  A. points: a forward zero-check point per layer (Z = IN W^T + b = 2^S Z' + Rem), a backward
     point per hidden layer (G_Z,l+1 W_l+1 = 2^S G'_A,l + Rem_G,l), a point on every final
     weight and bias, a booleanity point per bits tensor (bit gadget), a padding point per
     data tensor; the prover answers with the slots (limbs or bits) of Z', Rem, G', Rem_G
     at those points and the stacked bias.
  1. one batched sumcheck: forward and backward matmuls, W_T and b_T against W_0, b_0 and the
     summed updates, booleanity of every bits tensor (bit gadget), zero padding of the data;
  2. every claim on the stacked weights and biases becomes W_0 / b_0 minus a step functional
     of the updates, which the recipe's optimizer module defines (``verifier/optimizers.py``):
     G_Z^T A for plain SGD (exact, no rounding), or the committed momentum buffer, whose own
     relation to the gradient (rounded every step) phase 1 proves;
  3. claims on activations A = (1 - s) Z' and hidden gradients G_Z = (1 - s) G'_A (zkReLU) by
     masked Hadamard sumchecks; G_Z of the output layer is the loss module's (``verifier/losses.py``,
     the recipe's ``train.loss``: Z'_L - Y for MSE, p - Y for cross-entropy), which then runs its
     own reductions (the softmax's row max, exact division, exp lookups, one-hot labels); the
     claims on the inputs and the labels go to the statement's data binding (``verifier/data.py``:
     the segment's own data slots, the verifier's evaluation of public data, or, for committed
     data, a selection sumcheck "phase-data" down to the data owner's commitment);
  4. limb gadget: the logUp-GKR range proof of every limbs tensor and of the loss's function
     lookups (``verifier/logup.py``; with bits, of the lookups alone), whose claims on the
     limbs, looked-up pairs and multiplicities join the ledger;
  5. every claim on a committed tensor is reduced to one point (claims ledger) and opened.

A :class:`Channel` carries the messages: the verifier's reads them from the proof bytes and
checks, the prover's computes and writes them. The walk is written once, here, so the two
sides cannot drift apart. What it shares with the proof of inference (``verifier/inference.py``,
the forward half of this walk over the same channels): slot values, the zkReLU reduction, the
claims ledger and the openings, in ``verifier/walk.py``.

The walk serves both modes (DESIGN section 3): its values are walk values
(``verifier/values.py``), ints in the clear mode and Pedersen commitments in the
zero-knowledge mode (``verifier/zk_training.py``), combined by the same linear expressions;
its equality checks go through ``Channel.equal``, a comparison in the clear and a proof of
equality in zero knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol, Sequence

import numpy as np

from circuits.mlp import NORM_STATE, Decomposition, MlpCircuit

from .claims import Claim
from .encoding import Reader
from .errors import VerifyError
from .field import MODULUS as R
from .gadgets import booleanity_reduction, matmul_reduction, padding_reduction, step_functional_reduction
from .data import CommittedData, PrivateData, PublicData
from .hash_to_curve import pedersen_generators
from .hyrax import HyraxCommitment, HyraxLayout, HyraxOpening, OpeningBatch
from .logup import Challenges, LogupStatement, LogupWalk, RangeTensor, function_multiplicity_name
from .losses import loss_module
from .normalization import norm_module
from .optimizers import optimizer_module
from .phase import Reduction, Table, verify_phase
from .polynomial import eq_table, mle_evaluate_int64
from .sumcheck import SumcheckProof
from .transcript import Transcript
from .values import Value
from .walk import CommittedTensors, Walk

DOMAIN = b"zktrain/train"
FORMAT_VERSION = 1
DataBinding = PrivateData | PublicData | CommittedData


class Channel(Protocol):
    transcript: Transcript
    mode: bytes  # b"clear" or b"zk", absorbed before the recipe

    def commitment(self, tensor: str) -> None:
        """A witness commitment: the prover commits and sends it, both absorb it."""

    def evaluation(self, tensor: str, point: Sequence[int]) -> Value:
        """A claimed MLE value of a witness tensor, absorbed by both."""

    def slices(self, tensor: str, decomposition: Decomposition, point: Sequence[int]) -> list[Value]:
        """Slot values v_i = L~(i, point) of a slots tensor (limbs or bits), all padded_width
        of them, absorbed by both."""

    def fractions(self, statement: LogupStatement, challenges: Challenges) -> Value:
        """Limb gadget: the prover builds the logUp trees, both absorb the top root's Q."""

    def values(self, label: bytes, keys: Sequence[str]) -> list[Value]:
        """Field elements only the prover knows (the logUp roots), absorbed by both."""

    def equal(self, a: Value, b: Value) -> bool:
        """Whether a = b as far as this side can tell: the verifier compares (clear) or checks
        a proof of equality (ZK); the prover sends that proof and reports the truth."""

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]:
        """One batched sumcheck over the reductions; the claims it leaves."""

    def open(self, tensor: str, point: Sequence[int], value: Value) -> None:
        """Open a committed tensor at a point (prover) / check the opening (verifier)."""


@dataclass(frozen=True)
class TrainingStatement(CommittedTensors):
    """The public side: circuit (from the recipe), recipe bytes, W_0 / b_0 (None: committed,
    as range slots when ``circuit.init_committed``, else a checkpoint), the segment's place in
    the run, and the names of the public commitments (their contents are absorbed by the
    channel).

    Weights and biases are master values at scale 2^(2R+k). The bias enters the product at
    scale 2^(3R+k) as 2^R b, which is DESIGN section 4's bias at 2^(3R+k) divided by 2^R:
    the same exact semantics (that bias stays a multiple of 2^R), but it fits int64 like the
    weights, so it commits like them.
    """

    circuit: MlpCircuit
    recipe: bytes
    #: The transcript's domain, and how rejections of the proof's bytes name it.
    domain: ClassVar[bytes] = DOMAIN
    proof_name: ClassVar[str] = "training proof"
    #: Per layer [d_l, d_{l-1}], unpadded; None: committed. Any sequence: the bundle's seeded
    #: W_0 is derived on first use (``verifier.bundle``), never while parsing. The transcript
    #: absorbs the recipe and the circuit, not these values: they must be a function of the
    #: recipe bytes (the seed), as every bundle's are, or the caller binds them itself.
    init_weights: Sequence[np.ndarray] | None
    init_biases: Sequence[np.ndarray | None] | None  # per layer [d_l], unpadded (None: no bias)
    segment: int = 0
    segments: int = 1
    #: S, the steps of every segment but possibly the last (default: this segment's steps).
    segment_steps: int | None = None
    #: How the walk answers claims on the data (``verifier.data``): the circuit's binding.
    data: DataBinding = field(default_factory=PrivateData)

    def __post_init__(self) -> None:
        if self.segment_steps is None:
            object.__setattr__(self, "segment_steps", self.circuit.steps)
        if not 0 <= self.segment < self.segments:
            raise ValueError(f"segment {self.segment} of {self.segments}")
        if not 1 <= self.circuit.steps <= self.segment_steps:
            raise ValueError(f"a segment of {self.circuit.steps} steps, {self.segment_steps} per segment")
        if self.data.kind != self.circuit.data_binding:
            raise ValueError(f"{self.data.kind} data for a circuit of {self.circuit.data_binding} data")
        if (self.init_weights is None) != (self.init_biases is None):
            raise ValueError("initial weights and biases are both public values or both committed")
        if self.circuit.init_committed and self.init_weights is not None:
            raise ValueError("init: committed takes W_0 from its commitment, not public values")

    @property
    def first_step(self) -> int:
        """The run's step this segment starts at."""
        return self.segment * self.segment_steps

    @property
    def committed_init(self) -> bool:
        """W_0, b_0 are a checkpoint: plain commitments, the previous segment's W_T, b_T. (An
        ``init: committed`` W_0 is range-checked slots instead: ``circuit.init_tensors()``.)"""
        return self.init_weights is None and not self.circuit.init_committed

    def parameter_tensors(self, end: str) -> list[str]:
        """The weights and biases at the segment's start (``end = "0"``) or end (``"T"``): the
        model (``verifier/model.py``)."""
        layers = range(1, self.circuit.layers + 1)
        return [f"W{l}.{end}" for l in layers] + ([f"b{l}.{end}" for l in layers] if self.circuit.bias else [])

    def checkpoint_tensors(self, end: str) -> list[str]:
        """What a segment starts from or ends on: the parameters, then the optimizer's state
        there (``verifier/optimizers.py``: the momentum buffers), then the normalization's
        (``verifier/normalization.py``: gamma, beta and the running statistics)."""
        c = self.circuit
        return self.parameter_tensors(end) + optimizer_module(c).state_tensors(c, end) + norm_module(c).state_tensors(c, end)

    def public_tensors(self) -> list[str]:
        initial = self.checkpoint_tensors("0") if self.committed_init else list(self.circuit.init_tensors())
        return list(self.circuit.data_tensors()) + initial + self.checkpoint_tensors("T")

    def witness_tensors(self) -> list[str]:
        """The range slots, the loss's and the optimizer's other committed tensors
        (``circuits/loss.py``, ``circuits/trust.py``), then the logUp multiplicities (range tables with limbs, function tables of the loss's lookups)."""
        public = set(self.public_tensors())
        ranges = [n for n in self.circuit.committed_ranges() if n not in public]
        ranges += list(self.circuit.loss_tensors()) + list(self.circuit.optimizer_tensors())
        if has_logup(self.circuit):
            ranges += logup_statement(self.circuit).multiplicity_tensors()
        return ranges

    def tensor_vars(self, name: str) -> int:
        """Variable count of a committed tensor (fixes its Hyrax layout)."""
        c = self.circuit
        layouts = {**c.dataset_layouts(), **{n: r.layout for n, r in c.committed_ranges().items()},
                   **c.loss_tensors(), **c.optimizer_tensors()}
        if name in layouts:
            return layouts[name].num_vars
        if name.startswith("logup.f."):  # a function table's multiplicities: one per row
            tables = {function_multiplicity_name(lk.table): lk.table for lk in loss_module(c).lookups()}
            return tables[name].index_bits
        if name.startswith("logup.m"):
            return int(name.removeprefix("logup.m"))
        if name.startswith("bn"):  # a Ghost BN layer's checkpointed state, bn{l}.Gamma.0: [d_l]
            return c.width_vars(int(name[2:].split(".")[0]))
        # W{l}.0, W{l}.T, b{l}.0, b{l}.T; the optimizer's state beside them: VW{l}.0, Vb{l}.T
        # (momentum's buffers, LAMB's second moments), MW{l}.0 (LAMB's first moments).
        base = name.split(".")[0]
        if base[0] in "VM":
            base = base[1:]
        kind, layer = base[0], int(base[1:])
        if kind == "W":
            return c.width_vars(layer) + c.width_vars(layer - 1)
        return c.width_vars(layer)


def logup_statement(c) -> LogupStatement:
    """The walk's one logUp statement: every limbs tensor, data included (limb gadget; none
    with bits, whose tensors get booleanity), and the loss module's function lookups (a
    training circuit's; the inference walk's circuit, ``circuits.inference``, has no loss)."""
    tensors = () if c.range_check != "limbs" else tuple(
        RangeTensor(name, r.decomposition, r.layout.num_vars - r.decomposition.slot_vars)
        for name, r in c.committed_ranges().items()
    )
    return LogupStatement(tensors, _lookups(c))


def _lookups(c) -> tuple:
    return loss_module(c).lookups() if isinstance(c, MlpCircuit) else ()


def has_logup(c) -> bool:
    """Whether the walk runs a logUp statement: limbs, or a loss with function lookups."""
    return c.range_check == "limbs" or bool(_lookups(c))


def _padded_int64(a: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape, dtype=np.int64)
    out[tuple(slice(0, n) for n in a.shape)] = a
    return out


class TrainingWalk(Walk):
    """The ordered reductions of the training proof (see the module docstring)."""

    def __init__(self, statement: TrainingStatement, channel: Channel):
        super().__init__(statement, channel)
        self._seeded: tuple[list[np.ndarray], list[np.ndarray]] | None = None
        #: The recipe's loss (``verifier/losses.py``) and optimizer step (``verifier/optimizers.py``):
        #: their hooks run at fixed places of ``run``.
        self.loss = loss_module(self.c)
        self.optimizer = optimizer_module(self.c)
        #: The recipe's normalization (``verifier/normalization.py``), hooked in likewise.
        self.norm = norm_module(self.c)

    # --- helpers ------------------------------------------------------------------------
    def _act(self, i: int) -> tuple[int, int, int]:
        return self.c.width_vars(i), self.c.batch_vars, self.c.step_vars

    def _seeded_tables(self) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """The public W_0, b_0 padded to the circuit's widths, built on first use: by then the
        proof's witness commitments have been read, so a truncated proof costs no W_0."""
        if self._seeded is None:
            c, st = self.c, self.st
            w0 = [
                _padded_int64(np.asarray(w), (1 << c.width_vars(l), 1 << c.width_vars(l - 1)))
                for l, w in enumerate(st.init_weights, start=1)
            ]
            b0 = [
                _padded_int64(np.zeros(0, dtype=np.int64) if b is None else np.asarray(b), (1 << c.width_vars(l),))
                for l, b in enumerate(st.init_biases, start=1)
            ]
            self._seeded = (w0, b0)
        return self._seeded

    def _initial(self, kind: str, layer: int, point: Sequence[int]) -> Value:
        """W~_0 or b~_0 (``kind`` "W" / "b") at a point: the verifier evaluates seeded values
        itself; an ``init: committed`` value is recomposed from its range-checked slots; a
        checkpoint's value is claimed by the prover and joins the ledger."""
        if self.c.init_committed:
            return self.slice_value(self.c.ranged(f"{kind}{layer}.0"), self.c.w0_slots(), point)
        if not self.st.committed_init:
            w0, b0 = self._seeded_tables()
            return mle_evaluate_int64((w0 if kind == "W" else b0)[layer - 1], point)
        name = f"{kind}{layer}.0"
        value = self.ch.evaluation(name, point)
        self.ledger.add(Claim(name, tuple(point), value))
        return value

    def _kappa_stacked(self, r_t: Sequence[int]) -> list[int]:
        """kappa_s = lr_s sum_t eq(r_t, t) [s < t]: the stacked W~(., r_t) = W_0 - sum_s kappa_s U_s
        (lr_s the optimizer's rate of its update U_s: ``verifier/optimizers.py``)."""
        eq_t = eq_table(r_t)
        lr = self.optimizer.rates(self.c)
        out, suffix = [0] * len(lr), 0
        for s in range(len(lr) - 1, -1, -1):
            out[s] = lr[s] * suffix % R
            suffix += eq_t[s]
        return out

    def gradient_functional(self, name, value, kappa, layer, p_j, p_i=None, coeff=1) -> Reduction:
        """sum_s kappa_s sum_b G_Z(s, b, p_j) [A(s, b, p_i)] = value (weights, or biases): a
        functional of the weight (bias) gradients, coeff times (``verifier/optimizers.py``)."""
        tables = [Table("bind", (f"GZ{layer}", 2, p_j))]
        places = [lambda rb, rs: (f"GZ{layer}", tuple(p_j) + rb + rs)]
        if p_i is not None:
            tables.append(Table("bind", (f"IN{layer}", 2, p_i)))
            places.append(lambda rb, rs: (f"IN{layer}", tuple(p_i) + rb + rs))
        return step_functional_reduction(name, value, kappa, self.c.batch_vars, tables, places, coeff)

    def parameter_gradient(self, kind, layer, name, value, kappa, point, coeff=1) -> Reduction:
        """coeff sum_s kappa_s G~(s, p) = value for the gradient G of a trained tensor
        (``MlpCircuit.trained_tensors``): G_W = G_Z^T A, G_b = 2^R sum_b G_Z, or Ghost BN's dgamma,
        dbeta (``verifier/normalization.py``); what every optimizer module's relations reduce to."""
        if kind in NORM_STATE:
            return self.norm.gradient_functional(self, kind, layer, name, value, kappa, point, coeff)
        if kind == "W":
            ni = self.c.width_vars(layer - 1)
            return self.gradient_functional(name, value, kappa, layer, point[ni:], point[:ni], coeff)
        return self.gradient_functional(name, value, kappa, layer, point, coeff=coeff << self.c.frac_bits)

    # --- the walk -----------------------------------------------------------------------
    def run(self) -> None:
        t = self.t
        t.absorb_bytes(b"format-version", FORMAT_VERSION.to_bytes(4, "little"))
        t.absorb_bytes(b"mode", self.ch.mode)
        t.absorb_bytes(b"range-check", self.c.range_check.encode())
        t.absorb_bytes(b"recipe", self.st.recipe)
        t.absorb_bytes(b"circuit", self.c.encode())
        place = (self.st.segment, self.st.segments, self.st.segment_steps, self.st.first_step)
        t.absorb_bytes(b"segment", b"".join(v.to_bytes(4, "little") for v in place))
        for name in self.st.public_tensors():
            self.ch.commitment(name)
        for name in self.st.witness_tensors():
            self.ch.commitment(name)
        reductions = self._phase_a()
        self.ledger.extend(self.ch.phase(b"phase-1", reductions))
        self.norm.relations(self)
        self.ledger.extend(self.ch.phase(b"phase-2", self._phase_2()))
        self.optimizer.settle(self)
        self.norm.settle(self)
        self.ledger.extend(self.ch.phase(b"phase-3", self._phase_3()))
        self._after_phase_3()
        self.loss.relations(self)
        self.ledger.extend(self.ch.phase(b"phase-data", self.st.data.selection(self)))
        self.st.data.selected(self)
        if has_logup(self.c):
            self.ledger.extend(LogupWalk(logup_statement(self.c), self.ch).run())
        self._ledger_and_openings()

    def _phase_a(self) -> list[Reduction]:
        c, t, S = self.c, self.t, self.c.rescale_bits
        out: list[Reduction] = []
        t.domain_separate(b"phase-a")
        for l in range(1, c.layers + 1):
            nj, nb, nt = self._act(l)
            u = tuple(t.challenge_scalars(b"forward-point", nj + nb + nt))
            uj, ub, ut = u[:nj], u[nj : nj + nb], u[nj + nb :]
            zp = self.slice_value(c.ranged(f"Z{l}"), c.z_slots(l), u)
            rem = self.slice_value(c.ranged(f"R{l}"), c.rem_slots(), u)
            bias: Value = 0
            if c.bias:
                bias = self.ch.evaluation(f"b{l}", uj + ut)
                self.ledger.add(Claim(f"b{l}", uj + ut, bias))
            ni = c.width_vars(l - 1)
            out.append(matmul_reduction(
                f"forward{l}", (1 << S) * zp + rem - (1 << c.frac_bits) * bias, ut, ni,
                Table("bind", (f"IN{l}", 1, ub)), Table("bind", (f"W{l}", 1, uj)),
                lambda rk, rt, l=l, ub=ub: (f"IN{l}", rk + ub + rt),
                lambda rk, rt, l=l, uj=uj: (f"W{l}", rk + uj + rt),
            ))
        for l in range(1, c.layers):
            m = l + 1  # layer m's backward pass produces the gradient w.r.t. A_l
            ni, nb, nt = self._act(l)
            u = tuple(t.challenge_scalars(b"backward-point", ni + nb + nt))
            ui, ub, ut = u[:ni], u[ni : ni + nb], u[ni + nb :]
            gp = self.slice_value(c.ranged(f"G{l}"), c.g_slots(), u)
            remg = self.slice_value(c.ranged(f"RG{l}"), c.rem_slots(), u)
            out.append(matmul_reduction(
                f"backward{l}", (1 << S) * gp + remg, ut, c.width_vars(m),
                Table("bind", (f"GZ{m}", 1, ub)), Table("bind", (f"W{m}", 2, ui)),
                lambda rk, rt, m=m, ub=ub: (f"GZ{m}", rk + ub + rt),
                lambda rk, rt, m=m, ui=ui: (f"W{m}", ui + rk + rt),
            ))
        for l in range(1, c.layers + 1):
            ni, nj = c.width_vars(l - 1), c.width_vars(l)
            u = tuple(t.challenge_scalars(b"final-weights-point", ni + nj))
            w_t = self.ch.evaluation(f"W{l}.T", u)
            self.ledger.add(Claim(f"W{l}.T", u, w_t))
            w0 = self._initial("W", l, u)
            out.append(self.optimizer.update(self, "W", l, f"final-weights{l}", w0 - w_t, self.optimizer.rates(c), u))
            if c.bias:
                v = tuple(t.challenge_scalars(b"final-bias-point", nj))
                b_t = self.ch.evaluation(f"b{l}.T", v)
                self.ledger.add(Claim(f"b{l}.T", v, b_t))
                b0 = self._initial("b", l, v)
                out.append(self.optimizer.update(self, "b", l, f"final-bias{l}", b0 - b_t, self.optimizer.rates(c), v))
        out += self.norm.final_points(self)
        out += self.optimizer.relations(self)
        for name, ranged in c.committed_ranges().items():
            layout = ranged.layout
            if c.range_check == "bits":
                out.append(booleanity_reduction(name, t.challenge_scalars(b"booleanity-point", layout.num_vars)))
            if ranged.real is not None:  # data and a committed W_0: no relation forces their padding
                w = t.challenge_scalars(b"padding-point", layout.num_vars)
                out.append(padding_reduction(name, w, layout, ranged.real))
        return out

    def _phase_2(self) -> list[Reduction]:
        c, out = self.c, []
        for l in range(1, c.layers + 1):
            ni, nj = c.width_vars(l - 1), c.width_vars(l)
            for claim in self.ledger.take(f"W{l}"):
                p, r_t = claim.point[: ni + nj], claim.point[ni + nj :]
                w0 = self._initial("W", l, p)
                out.append(self.optimizer.update(self, "W", l, f"weights{l}", w0 - claim.value, self._kappa_stacked(r_t), p))
            for claim in self.ledger.take(f"b{l}"):
                p_j, r_t = claim.point[:nj], claim.point[nj:]
                b0 = self._initial("b", l, p_j)
                out.append(self.optimizer.update(self, "b", l, f"bias{l}", b0 - claim.value, self._kappa_stacked(r_t), p_j))
        return out + self.optimizer.gradient_claims(self) + self.norm.parameter_claims(self)

    def _masked(self, name, claims, width_index, s_tensor, x_tensor) -> Reduction:
        return self.masked(name, claims, sum(self._act(width_index)), s_tensor, x_tensor)

    def _phase_3(self) -> list[Reduction]:
        c, out = self.c, []
        self.t.domain_separate(b"phase-3-claims")
        self.st.data.inputs(self, self.ledger.take("IN1"))
        for l in range(2, c.layers + 1):
            claims = self.ledger.take(f"IN{l}")
            if claims:
                out.append(self._masked(f"relu{l - 1}", claims, l - 1, f"S{l - 1}", c.relu_input(l - 1)[1]))
        for l in range(1, c.layers):
            claims = self.ledger.take(f"GZ{l}")
            if l in c.norm_layers():  # G_Z is Ghost BN's dx; the ReLU's masked gradient is its dy
                self.norm.dx_claims(self, l, claims)
                claims = self.norm.dy_claims(self, l)
            if claims:
                out.append(self._masked(f"relu-grad{l}", claims, l, f"S{l}", f"GP{l}"))
        self.loss.output_gradient(self, self.ledger.take(f"GZ{c.layers}"))
        return out

    def _after_phase_3(self) -> None:
        c = self.c
        for l in range(1, c.layers):
            slots, relu_input = c.relu_input(l)
            self.relu_operands(slots, c.relu_slots(), f"S{l}", relu_input)
            for claim in self.ledger.take(f"GP{l}"):
                self.slice_value(c.ranged(f"G{l}"), c.g_slots(), claim.point, claim.value)


class VerifierChannel:
    """Reads the prover's messages from the proof bytes, in the order the walk asks for them
    (clear mode: every value is a field element in the clear). The statement (a training or
    an inference statement, ``verifier.inference``) names the transcript's domain and the
    committed tensors; it may be None for a walk that commits and opens nothing (the range
    gadget's own tests), which runs in the training proof's domain."""

    mode = b"clear"

    def __init__(self, statement: TrainingStatement, public: dict[str, HyraxCommitment], proof: bytes, gens):
        self.st = statement
        self.public = public
        kind = TrainingStatement if statement is None else statement  # its domain and name
        self.reader = Reader(proof, kind.proof_name)
        self.transcript = Transcript(kind.domain)
        self.gens = gens
        self._rows: dict[str, HyraxCommitment] = {}
        self._openings = OpeningBatch(gens)

    def _layout(self, tensor: str) -> HyraxLayout:
        return HyraxLayout.square(self.st.tensor_vars(tensor))

    def commitment(self, tensor: str) -> None:
        layout = self._layout(tensor)
        if tensor in self.public:
            commitment = self.public[tensor]
            if len(commitment.rows) != layout.num_rows:
                raise VerifyError(f"public commitment {tensor}: wrong number of rows")
        else:
            commitment = HyraxCommitment(tuple(self.reader.points(layout.num_rows)))
        self._rows[tensor] = commitment
        self.transcript.absorb_points(f"commitment:{tensor}".encode(), commitment.rows)

    def evaluation(self, tensor: str, point: Sequence[int]) -> int:
        value = self.reader.scalar()
        self.transcript.absorb_scalar(f"evaluation:{tensor}".encode(), value)
        return value

    def slices(self, tensor: str, decomposition: Decomposition, point: Sequence[int]) -> list[int]:
        values = self.reader.scalars(decomposition.padded_width)
        self.transcript.absorb_scalars(b"slot-values", values)
        return values

    def fractions(self, statement: LogupStatement, challenges: Challenges) -> int:
        (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
        return q_top

    def values(self, label: bytes, keys: Sequence[str]) -> list[int]:
        values = self.reader.scalars(len(keys))
        self.transcript.absorb_scalars(label, values)
        return values

    def equal(self, a: int, b: int) -> bool:
        return (a - b) % R == 0

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]:
        shapes = [s for red in reductions for s in red.shapes]
        if not shapes:
            return []
        proof = SumcheckProof.read(self.reader, shapes)
        return verify_phase(self.transcript, label, reductions, proof)

    def open(self, tensor: str, point: Sequence[int], value: int) -> None:
        layout = self._layout(tensor)
        opening = HyraxOpening(tuple(self.reader.scalars(layout.num_cols)), self.reader.scalar())
        rows = self._rows[tensor].decode(self.gens, layout)
        self._openings.add(rows, layout, point, value, opening, self.transcript)

    def finish(self) -> None:
        """After the walk: the openings' group equations, in one batch; no byte left over."""
        self._openings.check(self.transcript)
        self.reader.finish()


def verify_with(
    channel_type: type[VerifierChannel],
    statement: TrainingStatement,
    public: dict[str, HyraxCommitment],
    proof: bytes,
    curve: str = "blst",
) -> int:
    """Run the walk over a verifier channel of the proof's mode; reject leftover bytes. On
    acceptance, returns the sum of the challenges' degrees: the soundness error of the proof
    is at most that over r (``verifier.transcript.soundness_bits``)."""
    missing = set(statement.public_tensors()) - set(public)
    if missing:
        raise VerifyError(f"public commitments missing: {sorted(missing)}")
    channel = channel_type(statement, public, proof, pedersen_generators(curve))
    TrainingWalk(statement, channel).run()
    channel.finish()
    return channel.transcript.degree_sum


def verify_training(
    statement: TrainingStatement, public: dict[str, HyraxCommitment], proof: bytes, curve: str = "blst"
) -> int:
    """Accept (return the proof's challenge degree sum, see ``verify_with``) or reject (raise
    VerifyError with the reason) a clear-mode training proof."""
    return verify_with(VerifierChannel, statement, public, proof, curve)
