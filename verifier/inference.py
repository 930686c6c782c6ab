"""The proof of inference: y = f_W(x) for N inputs, public or committed, W the final weights
a training bundle committed to (issue 13, item 3; DESIGN section 10, "Inference reuses the
forward half of the training walk ... against the training bundle's W_T commitments. Public
outputs; public or committed inputs").

Statement: given the training bundle's final commitments W{l}.T, b{l}.T (public, reused
as they are: no re-commitment, so in the zero-knowledge mode the weights stay hidden), its
recipe, its digest (SHA-256 of its bytes), the inputs X [N, d_0] (at 2^R, in the recipe's input
width), either public values or a public hiding commitment to their range slots X.s
(``circuits.inference``: committed inputs), and the public logits Y [N, d_L] (at 2^R, in Q
signed bits), the prover knows the values behind those commitments and every intermediate
value of the fixed-point forward pass (``circuits/inference.py``) that maps X to Y:

    Z_l = A_{l-1} W_l^T + 2^R [n < N] b_l = 2^S Z'_l + Rem_l,   A_l = (1 - s_l) Z'_l,   Y = Z'_L.

The walk is the forward half of the training walk (``verifier.training``), one layer stack
per tensor kind, with the same gadgets and over the same channels, so both modes come from
the training proof's channels (``VerifierChannel``, ``ZkVerifierChannel``) and the prover
drives this very walk (``prover.inference``):

  0. the transcript (domain ``zktrain/infer``) absorbs the format version, the mode, the
     recipe, the training bundle's digest, the circuit (N, the range gadget and the inputs'
     binding included), the inputs' binding byte, the public values (the inputs when public,
     then the logits), then every commitment: the public ones (the committed inputs' X.s, then
     the weights'), then the witness's (slots of Z'_l - 1 and Rem_l, the lookup
     multiplicities), before the first challenge (DESIGN section 9, Fiat-Shamir order);
  1. "phase-forward": per layer a random point u = (u_j, u_n) and the forward matmul
     2^S Z'~_l(u) + Rem~_l(u) - 2^R below(u_n, N) b~_l(u_j) = sum_k A~_{l-1}(k, u_n) W~_l(k, u_j)
     (``matmul_reduction``, Thaler's matmul sumcheck with no step variables): Z'_l and Rem_l
     from their slot values (``Walk.slice_value``), Z'_L = Y evaluated by the verifier,
     below(u_n, N) the MLE of [n < N], b~_l(u_j) claimed by the prover on b{l}.T; the
     booleanity zero-check of every bits tensor (bit gadget); the padding zero-check of the
     committed inputs' X.s (rows n >= N, features j >= d_0: ``gadgets.padding_reduction``).
     It ends in claims on A_{l-1} and on W{l}.T;
  2. "phase-relu": the claims on A_l = (1 - s_l) Z'_l of the hidden layers by masked
     Hadamard sumchecks (zkReLU, ``Walk.masked``); a claim on A_0 = X must be the verifier's
     own evaluation of the public inputs, or, for committed inputs, what X.s's slot values at
     its point recompose to (``Walk.slice_value``, as the training walk's private data:
     ``verifier.data.PrivateData``). The claims on s_l and Z'_l become claims on Z{l}'s
     slots (``Walk.relu_operands``: s_l is the sign slot of Z'_l - 1);
  3. limb gadget: the logUp-GKR range proof of every limbs tensor, X.s included
     (``verifier.logup``);
  4. the claims ledger: every committed tensor, X.s, W{l}.T and b{l}.T included, reduced to
     one point and opened (``Walk._ledger_and_openings``).

The final commitments are those the training proof ties to the trained model (its last
segment's), so an accepted inference proof with an accepted training bundle of that digest
states that the trained model maps X (the public values, or those behind X.s) to Y
(``verifier.inference_bundle``). Every relation holds over the integers, not only mod r: the
weights behind those commitments are W_0 minus exact updates of range-checked values, so
bounded as every W_t of training, and every other value is range-checked (or public and
width-checked) to the widths training checks, so each side of a relation stays below the
recipe's ``circuits.semantics.relation_bounds`` (under 2^250).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np

from circuits.inference import InferenceCircuit
from circuits.semantics import Width

from .claims import Claim
from .gadgets import below_eval, booleanity_reduction, matmul_reduction, padding_reduction
from .ghost_bn_eval import verify_ghost_bn_eval
from .hash_to_curve import pedersen_generators
from .hyrax import HyraxCommitment
from .errors import VerifyError
from .logup import LogupWalk
from .phase import Reduction, Table
from .polynomial import mle_evaluate_int64
from .training import VerifierChannel, logup_statement
from .values import Value
from .walk import CommittedTensors, Walk
from .zk_training import with_deferred_equations

DOMAIN = b"zktrain/infer"
#: 2: the inputs' binding (public or committed) joined the statement.
FORMAT_VERSION = 2
DIGEST_BYTES = 32
#: The inputs' binding, as the inference bundle's byte and the transcript's record it.
INPUTS_PUBLIC, INPUTS_COMMITTED = 0, 1


def _outside(values: np.ndarray, width: Width) -> tuple[int, ...] | None:
    """The index of the first entry outside ``width``, or None."""
    bad = np.argwhere((values < width.lo) | (values > width.hi))
    return tuple(int(i) for i in bad[0]) if len(bad) else None


@dataclass(frozen=True)
class InferenceStatement(CommittedTensors):
    """The public side: the circuit (the recipe's, for N inputs), the recipe bytes, the
    training bundle's digest, the inputs X [N, d_0] (int64 at 2^R; None when the circuit's
    inputs are committed), the logits Y [N, d_L] (int64 at 2^R) and, for committed inputs,
    ``input_commitment``: the row commitments of X.s. The weights are the training bundle's
    public commitments (``weight_tensors()``), whose contents the channel absorbs."""

    circuit: InferenceCircuit
    recipe: bytes
    training_digest: bytes
    inputs: np.ndarray | None
    outputs: np.ndarray
    input_commitment: HyraxCommitment | None = None
    #: The transcript's domain, and how rejections of the proof's bytes name it.
    domain: ClassVar[bytes] = DOMAIN
    proof_name: ClassVar[str] = "inference proof"

    def __post_init__(self) -> None:
        """The inputs' binding (values or a commitment, as the circuit says), shapes and
        dtypes, then every public value in its width (a ValueError naming the array and the
        entry: the bundle parser turns it into a rejection)."""
        c = self.circuit
        if len(self.training_digest) != DIGEST_BYTES:
            raise ValueError(f"training_digest: {len(self.training_digest)} bytes, a SHA-256 digest is {DIGEST_BYTES}")
        if c.committed_inputs:
            if self.inputs is not None or self.input_commitment is None:
                raise ValueError("committed inputs: the statement holds the commitment to their slots, "
                                 "not their values")
        elif self.input_commitment is not None:
            raise ValueError("public inputs: the statement holds their values, not a commitment")
        public = [] if c.committed_inputs else [("inputs", self.inputs, c.widths[0], self.input_width,
                                                 "the recipe's input width")]
        public.append(("outputs", self.outputs, c.widths[-1], self.output_width, "the recipe's value width Q"))
        for name, values, width, _, _ in public:
            if values.dtype != np.int64 or values.shape != (c.rows, width):
                raise ValueError(f"{name}: int64 of shape {(c.rows, width)} expected, got {values.dtype} {values.shape}")
        for name, values, _, width, what in public:
            index = _outside(values, width)
            if index is not None:
                raise ValueError(f"{name}{list(index)} = {values[index]} lies outside {what} "
                                 f"({width.bits} {'signed' if width.signed else 'unsigned'} bits)")

    @property
    def input_width(self) -> Width:
        m = self.circuit.model
        return Width(m.input_bits, m.input_signed)

    @property
    def output_width(self) -> Width:
        """The logits Z'_L: Q-bit two's complement (``circuits.semantics.declared_widths``)."""
        return Width(self.circuit.model.value_bits, signed=True)

    @property
    def predictions(self) -> list[int]:
        """The argmax of every row of logits (ties to the lowest index, as the engine's)."""
        return [int(i) for i in np.argmax(self.outputs, axis=1)]

    def _padded(self, values: np.ndarray, layer: int) -> np.ndarray:
        c = self.circuit
        out = np.zeros((1 << c.batch_vars, 1 << c.width_vars(layer)), dtype=np.int64)
        out[: values.shape[0], : values.shape[1]] = values
        return out

    @cached_property
    def padded_inputs(self) -> np.ndarray:
        """X as the walk evaluates it, [N', d_0'] (zero padding)."""
        return self._padded(self.inputs, 0)

    @cached_property
    def padded_outputs(self) -> np.ndarray:
        """Y as the walk evaluates it, [N', d_L'] (zero padding: the relation forces it)."""
        return self._padded(self.outputs, self.circuit.layers)

    def public_values(self) -> bytes:
        """The inputs (when public) then the logits, int64 little-endian in C order (the
        bundle's and the transcript's)."""
        inputs = b"" if self.inputs is None else np.ascontiguousarray(self.inputs, "<i8").tobytes()
        return inputs + np.ascontiguousarray(self.outputs, "<i8").tobytes()

    def inputs_byte(self) -> int:
        return INPUTS_COMMITTED if self.circuit.committed_inputs else INPUTS_PUBLIC

    # --- committed tensors (``verifier.walk.CommittedTensors``) ----------------------------
    def weight_tensors(self) -> list[str]:
        """The training bundle's final commitments W{l}.T, b{l}.T."""
        return self.circuit.weight_tensors()

    def input_tensors(self) -> dict[str, HyraxCommitment]:
        """The committed inputs' X.s and the statement's commitment to it (none when public)."""
        return {self.circuit.input_tensor(): self.input_commitment} if self.circuit.committed_inputs else {}

    def public_tensors(self) -> list[str]:
        return list(self.input_tensors()) + self.weight_tensors()

    def witness_tensors(self) -> list[str]:
        names = [name for name in self.circuit.committed_ranges() if name not in self.input_tensors()]
        if self.circuit.range_check == "limbs":
            names += logup_statement(self.circuit).multiplicity_tensors()
        return names

    def tensor_vars(self, name: str) -> int:
        """Variable count of a committed tensor; W{l}.T and b{l}.T as the training statement
        lays them out (``TrainingStatement.tensor_vars``), since they are its commitments."""
        c = self.circuit
        ranges = c.committed_ranges()
        if name in ranges:
            return ranges[name].layout.num_vars
        if name.startswith("logup.m"):
            return int(name.removeprefix("logup.m"))
        if name.startswith("bn"):  # a Ghost BN layer's final state, bn{l}.Gamma.T: [d_l]
            return c.width_vars(int(name[2:].split(".")[0]))
        layer = int(name[1:].split(".")[0])  # W{l}.T, b{l}.T
        return c.width_vars(layer) + (c.width_vars(layer - 1) if name.startswith("W") else 0)


class InferenceWalk(Walk):
    """The ordered reductions of the inference proof (see the module docstring)."""

    def run(self) -> None:
        t, st, c = self.t, self.st, self.c
        t.absorb_bytes(b"format-version", FORMAT_VERSION.to_bytes(4, "little"))
        t.absorb_bytes(b"mode", self.ch.mode)
        t.absorb_bytes(b"recipe", st.recipe)
        t.absorb_bytes(b"training-bundle", st.training_digest)
        t.absorb_bytes(b"circuit", c.encode())
        t.absorb_bytes(b"inputs", bytes([st.inputs_byte()]))
        t.absorb_bytes(b"public-values", st.public_values())
        for name in st.public_tensors():
            self.ch.commitment(name)
        for name in st.witness_tensors():
            self.ch.commitment(name)
        self.ledger.extend(self.ch.phase(b"phase-forward", self._forward()))
        self._norms()
        self.ledger.extend(self.ch.phase(b"phase-relu", self._relu()))
        for l in range(1, c.layers):
            slots, relu_input = c.relu_input(l)
            self.relu_operands(slots, c.relu_slots(), f"S{l}", relu_input)
        if c.range_check == "limbs":
            self.ledger.extend(LogupWalk(logup_statement(c), self.ch).run())
        self._ledger_and_openings()

    def _forward(self) -> list[Reduction]:
        """Per layer, Z = A W^T + 2^R [n < N] b = 2^S Z' + Rem at a random point; booleanity;
        the committed inputs' padding."""
        c, t, S = self.c, self.t, self.c.rescale_bits
        out: list[Reduction] = []
        for l in range(1, c.layers + 1):
            nj, nn = c.width_vars(l), c.batch_vars
            u = tuple(t.challenge_scalars(b"forward-point", nj + nn))
            uj, un = u[:nj], u[nj:]
            if l < c.layers:
                zp = self.slice_value(c.ranged(f"Z{l}"), c.z_slots(l), u)
            else:
                zp = mle_evaluate_int64(self.st.padded_outputs, u)  # the public logits
            rem = self.slice_value(c.ranged(f"R{l}"), c.rem_slots(), u)
            bias: Value = 0
            if c.bias:
                b_l = self.ch.evaluation(f"b{l}.T", uj)
                self.ledger.add(Claim(f"b{l}.T", uj, b_l))
                bias = below_eval(un, c.rows) * b_l
            out.append(matmul_reduction(
                f"forward{l}", (1 << S) * zp + rem - (1 << c.frac_bits) * bias, (), c.width_vars(l - 1),
                Table("bind", (f"IN{l}", 0, un)), Table("bind", (f"W{l}.T", 0, uj)),
                lambda rk, rt, l=l, un=un: (f"IN{l}", rk + un),
                lambda rk, rt, l=l, uj=uj: (f"W{l}.T", rk + uj),
            ))
        for name, ranged in c.committed_ranges().items():
            if c.range_check == "bits":
                out.append(booleanity_reduction(name, t.challenge_scalars(b"booleanity-point", ranged.layout.num_vars)))
            if ranged.real is not None:  # the committed inputs: no relation forces their padding
                w = t.challenge_scalars(b"padding-point", ranged.layout.num_vars)
                out.append(padding_reduction(name, w, ranged.layout, ranged.real))
        return out

    def _norms(self) -> None:
        """Ghost BN in evaluation mode between each hidden Linear and its ReLU (``model.norm:
        ghost_bn``; ``verifier/ghost_bn_eval.py``, docs/ghost_bn.md section 4.2): the gadget's
        claims on x are read off Z'{l}'s slots, its claim on Y goes to the ReLU, and its claims
        on gamma, beta and the running statistics are claims on the training bundle's final
        commitments ``bn{l}.*.T`` (opened with the weights)."""
        c = self.c
        if not c.model.has_norm:
            return
        self.t.domain_separate(b"ghost-bn-eval")
        for l in c.model.norm_layers():
            x, y, *state = verify_ghost_bn_eval(self, c.ghost_bn_eval(l))
            self.slice_value(c.ranged(f"Z{l}"), c.z_slots(l), x.point, x.value)
            self.ledger.add(y)
            for claim, value in zip(state, ("Gamma", "beta", "RM", "RV"), strict=True):
                self.ledger.add(Claim(f"bn{l}.{value}.T", claim.point, claim.value))

    def _relu(self) -> list[Reduction]:
        """A_l = (1 - s_l) Z'_l for the hidden layers; A_0 is the public inputs, or the values
        behind the committed inputs' slots."""
        c, out = self.c, []
        for claim in self.ledger.take("IN1"):
            if c.committed_inputs:  # what X.s's slots recompose to (as private training data)
                self.slice_value(c.input_tensor(), c.x_slots(), claim.point, claim.value)
            else:
                x = mle_evaluate_int64(self.st.padded_inputs, claim.point)
                self.require_equal(claim.value, x, "input claim is not the public inputs'")
        for l in range(2, c.layers + 1):
            claims = self.ledger.take(f"IN{l}")
            num_vars = c.width_vars(l - 1) + c.batch_vars
            out.append(self.masked(f"relu{l - 1}", claims, num_vars, f"S{l - 1}", c.relu_input(l - 1)[1]))
        return out


def verify_inference(
    statement: InferenceStatement, weights: dict[str, HyraxCommitment], proof: bytes, zk: bool, curve: str = "blst"
) -> int:
    """Accept (return the proof's challenge degree sum: its soundness error is at most that
    over r, ``verifier.transcript.soundness_bits``) or reject (raise VerifyError with the
    reason) an inference proof of the mode ``zk``, against the training bundle's final
    commitments ``weights`` (W{l}.T, b{l}.T) and, for committed inputs, the statement's
    commitment to them."""
    missing = set(statement.weight_tensors()) - set(weights)
    if missing:
        raise VerifyError(f"weight commitments missing: {sorted(missing)}")
    public = {**{name: weights[name] for name in statement.weight_tensors()}, **statement.input_tensors()}
    if zk:  # the group equations in one batch, rejections the per-equation verifier's (as training's)
        return with_deferred_equations(lambda channel_type: inference_with(channel_type, statement, public, proof, curve))
    return inference_with(VerifierChannel, statement, public, proof, curve)


def inference_with(channel_type, statement: InferenceStatement, public: dict[str, HyraxCommitment], proof: bytes,
                   curve: str = "blst") -> int:
    """The inference walk over a verifier channel of ``channel_type``; no byte left over."""
    channel = channel_type(statement, public, proof, pedersen_generators(curve))
    InferenceWalk(statement, channel).run()
    channel.finish()
    return channel.transcript.degree_sum
