"""The limb range gadget: a logUp lookup proven by a layered GKR circuit (verifier side).

Statement. Committed limbs tensors L_T (slot axis innermost, see ``circuits/limbs.py``) and
committed multiplicities m_b, one per table width b: every real slot i of every tensor T lies
in [0, 2^(b_i)). With challenges beta, alpha drawn after those commitments, logUp (Haboeck,
eprint 2022/1530) states it as one identity of fractions,

    sum_{T, i, x} 1 / (beta - alpha b_i - L_T(i, x))  =  sum_b sum_{j < 2^b} m_b(j) / (beta - alpha b - j),

where the tag alpha b keeps the tables of different widths apart (a limb may not be matched
against a wider table). It holds w.h.p. only if every looked-up value is in its table.

GKR (Papini and Haboeck, "Improving logarithmic derivative lookups using GKR", eprint
2023/1284, section 3). Each sum is a binary tree of fractions (p, q) with leaves
(1, beta - alpha b_i - L_T(i, x)) for a lookup column, (m_b(j), beta - alpha b - j) for a
table, and the parent of two children (p_0, q_0), (p_1, q_1) is (p_0 q_1 + p_1 q_0, q_0 q_1),
so no inverse is ever computed or committed. With layer k a table of 2^k fractions whose top
variable splits the children,

    p_k(x) + gamma q_k(x) = sum_y eq(x, y) [p_{k+1}(y, 0) q_{k+1}(y, 1) + p_{k+1}(y, 1) q_{k+1}(y, 0)
                                            + gamma q_{k+1}(y, 0) q_{k+1}(y, 1)],

a degree-3 sumcheck over the k variables y (the paper's eq. 11, both outputs combined by
gamma). It ends at a point rho with p_{k+1}(rho, 0), p_{k+1}(rho, 1), q_{k+1}(rho, 0),
q_{k+1}(rho, 1); a challenge lambda turns them into one claim on layer k + 1 at (rho, lambda).

Batching. There is one tree per (tensor, slot) column and one per table, all proven together
("one GKR for all"): trees are aligned at their roots, so at step k every tree deeper than k
has its claims at the same point r_k, and one batched sumcheck (``verifier/sumcheck.py``)
reduces all of them to r_{k+1}. A tree of depth n ends after step n - 1 at r_n, its leaf
layer, where:

  * a lookup column's numerator claim must be 1, and its denominator claim gives
    L_T~(i, r_n) = beta - alpha b_i - q; the columns of one tensor share r_n, and a random
    rho folds them into one claim L_T~(rho, r_n) (padding slots count as 0, which forces them
    to zero);
  * a table's denominator claim must be beta - alpha b - sum_k 2^k r_k (the verifier computes
    the table itself), and its numerator claim is a claim m_b~(r_n) on the multiplicities.

The roots (P, Q) are sent first; the verifier checks the fractions' identity by cross
multiplication. A zero root denominator would void it, but it needs beta - alpha b - v = 0
for a committed leaf v, which the challenges avoid except with probability
(leaves) / r.

Use in the training walk (integration; claims ledger, DESIGN section 9). The walk commits
every limbs tensor and, from :func:`prover.logup.multiplicities`, every
``multiplicity_name(b)`` tensor, before any challenge. A claim V~(u) on a range-checked value
becomes, as with bits, slot values L~(i, u) sent by the prover and one claim on the limbs
tensor (:func:`verifier.gadgets.reduce_slices`, which also serves ``BitDecomposition``); the sign slot's claims
(the ReLU indicator) go to ``verifier.gadgets.slot_point(d, d.sign_slot) + u``. Once per proof,
:func:`verify_range_limbs` over a :class:`LogupStatement` of every limbs tensor returns one
claim per limbs tensor and one per multiplicity tensor; all of them join the ledger and
are opened with the other claims on those tensors.

Not done here: zero knowledge (committed roots and layer claims, DESIGN section 9).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

from circuits.limbs import LimbDecomposition

from . import field
from .claims import Claim
from .errors import VerifyError
from .field import MODULUS as R
from .phase import check_eq
from .polynomial import eq_table
from .sumcheck import Evaluation, InstanceShape, SumcheckProof, Term, verify_sumcheck
from .transcript import Transcript

if TYPE_CHECKING:
    from .encoding import Reader

DOMAIN = b"logup-gkr"
#: Tables above 2^16 entries are not a limb gadget's business (the LimbDecomposition bound).
MAX_TABLE_BITS = 16
#: Tensors of up to 2^MAX_VALUE_VARS values; bounds every loop the proof layout drives.
MAX_VALUE_VARS = 36


def multiplicity_name(bits: int) -> str:
    """The committed multiplicity tensor of the table [0, 2^bits)."""
    return f"logup.m{bits}"


@dataclass(frozen=True)
class RangeTensor:
    """A committed limbs tensor: 2^value_vars values, each a row of padded_width slots."""

    name: str
    decomposition: LimbDecomposition
    value_vars: int

    def __post_init__(self) -> None:
        if not 0 <= self.value_vars <= MAX_VALUE_VARS:
            raise ValueError(f"{self.name}: value_vars must lie in [0, {MAX_VALUE_VARS}], got {self.value_vars}")


@dataclass(frozen=True)
class Tree:
    """One GKR tree: a lookup column (tensor, slot) or a table (tensor None), b = table bits."""

    num_vars: int
    bits: int
    tensor: str | None = None
    slot: int | None = None

    @property
    def is_table(self) -> bool:
        return self.tensor is None


@dataclass(frozen=True)
class LogupStatement:
    """Every range-checked limbs tensor of a proof; the trees and tables follow from them."""

    tensors: tuple[RangeTensor, ...]

    def __post_init__(self) -> None:
        if not self.tensors:
            raise ValueError("a logUp statement needs at least one range-checked tensor")
        names = [t.name for t in self.tensors]
        if len(set(names)) != len(names):
            raise ValueError(f"range-checked tensors must have distinct names, got {names}")

    def table_bits(self) -> list[int]:
        return sorted({b for t in self.tensors for b in t.decomposition.slot_widths})

    def trees(self) -> list[Tree]:
        """Lookup columns (tensor order, then slot order), then tables (ascending width)."""
        out = [
            Tree(t.value_vars, b, t.name, i)
            for t in self.tensors
            for i, b in enumerate(t.decomposition.slot_widths)
        ]
        return out + [Tree(b, b) for b in self.table_bits()]

    def depth(self) -> int:
        return max(tree.num_vars for tree in self.trees())

    def active(self, step: int) -> list[int]:
        """Indices of the trees that the sumcheck of ``step`` reduces (those deeper than it)."""
        return [i for i, tree in enumerate(self.trees()) if tree.num_vars > step]

    def encode(self) -> bytes:
        """Canonical bytes of the statement, absorbed before the first challenge."""
        parts = []
        for t in self.tensors:
            d = t.decomposition
            name = t.name.encode()
            fields = [len(name), t.value_vars, d.width, int(d.signed), d.limb_bits]
            parts.append(b"".join(v.to_bytes(8, "little") for v in fields) + name)
            parts.append(d.offset.to_bytes(16, "little", signed=True))
        return b"".join(parts)


@dataclass(frozen=True)
class Challenges:
    beta: int
    alpha: int

    def shift(self, bits: int) -> int:
        """beta - alpha b: a leaf's denominator is shift(b) minus its value."""
        return (self.beta - self.alpha * bits) % R


@dataclass(frozen=True)
class LogupProof:
    """The roots (P, Q) of every tree, and one batched sumcheck per GKR step."""

    roots: tuple[tuple[int, int], ...]
    layers: tuple[SumcheckProof, ...]

    def to_bytes(self) -> bytes:
        roots = b"".join(field.to_bytes(v) for pq in self.roots for v in pq)
        return roots + b"".join(layer.to_bytes() for layer in self.layers)

    @classmethod
    def read(cls, reader: "Reader", statement: LogupStatement) -> "LogupProof":
        """Read a proof whose layout follows from the statement alone."""
        num_trees = len(statement.trees())
        values = reader.scalars(2 * num_trees)
        roots = tuple(zip(values[0::2], values[1::2]))
        layers = tuple(
            # The layout (variables, tables, degree) does not depend on gamma.
            SumcheckProof.read(reader, [layer_shape(k, 1)] * len(statement.active(k)))
            for k in range(statement.depth())
        )
        return cls(roots, layers)

    @classmethod
    def from_bytes(cls, data: bytes, statement: LogupStatement) -> "LogupProof":
        from .encoding import Reader

        reader = Reader(data, "logUp proof")
        proof = cls.read(reader, statement)
        reader.finish()
        return proof


# --- shared by prover and verifier ----------------------------------------------------------
def begin(transcript: Transcript, statement: LogupStatement) -> Challenges:
    """Domain, statement, then beta and alpha (the commitments are absorbed before this)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_bytes(b"statement", statement.encode())
    return Challenges(transcript.challenge_scalar(b"beta"), transcript.challenge_scalar(b"alpha"))


def layer_shape(num_vars: int, gamma: int) -> InstanceShape:
    """eq * (p0 q1 + p1 q0 + gamma q0 q1) over tables [eq, p0, p1, q0, q1] (children halves)."""
    terms = (Term(1, (0, 1, 4)), Term(1, (0, 2, 3)), Term(gamma % R, (0, 3, 4)))
    return InstanceShape(num_vars, 5, terms)


def fraction_sum(fractions: Sequence[tuple[int, int]]) -> tuple[int, int]:
    """sum_i p_i / q_i as one fraction (p_0 q_1 + p_1 q_0, q_0 q_1, ...), without inverses."""
    p, q = 0, 1
    for pi, qi in fractions:
        p, q = (p * qi + pi * q) % R, q * qi % R
    return p, q


def check_roots(statement: LogupStatement, roots: Sequence[tuple[int, int]]) -> None:
    """The logUp identity on the roots: looked-up fractions sum to the tables' fractions."""
    trees = statement.trees()
    if len(roots) != len(trees):
        raise VerifyError(f"logUp: {len(roots)} roots for {len(trees)} trees")
    lookups = fraction_sum([pq for pq, tree in zip(roots, trees) if not tree.is_table])
    tables = fraction_sum([pq for pq, tree in zip(roots, trees) if tree.is_table])
    if (lookups[0] * tables[1] - tables[0] * lookups[1]) % R:
        raise VerifyError("logUp: the looked-up fractions do not sum to the tables' fractions")


def next_claims(
    point: Sequence[int], evaluations: Sequence[Sequence[Evaluation]], lam: int
) -> tuple[tuple[int, ...], list[tuple[int, int]]]:
    """After the sumcheck of one step: check eq(r_k, rho) and bind the children's variable.

    Returns r_{k+1} = (rho, lambda) and per active tree (p_{k+1}, q_{k+1}) at r_{k+1}.
    """
    claims = []
    for eq_e, p0, p1, q0, q1 in evaluations:
        check_eq(eq_e, point, "logUp GKR layer")
        claims.append(((p0.value + lam * (p1.value - p0.value)) % R, (q0.value + lam * (q1.value - q0.value)) % R))
    rho = evaluations[0][0].point
    return tuple(rho) + (lam,), claims


def table_eval(point: Sequence[int]) -> int:
    """The MLE of the table (j)_{j < 2^n} at point: sum_k 2^k r_k (little-endian)."""
    return sum(r << k for k, r in enumerate(point)) % R


def leaf_claims(
    transcript: Transcript,
    statement: LogupStatement,
    challenges: Challenges,
    leaves: Sequence[tuple[tuple[int, ...], int, int]],
) -> list[Claim]:
    """Turn every tree's leaf-layer claims (point, p, q) into claims on committed tensors."""
    slot_values: dict[str, dict[int, int]] = {}
    points: dict[str, tuple[int, ...]] = {}
    out: list[Claim] = []
    for tree, (point, p, q) in zip(statement.trees(), leaves, strict=True):
        if tree.is_table:
            if q != (challenges.shift(tree.bits) - table_eval(point)) % R:
                raise VerifyError(f"logUp: table of {tree.bits} bits has a wrong denominator claim")
            out.append(Claim(multiplicity_name(tree.bits), point, p))
        else:
            if p != 1:
                raise VerifyError(f"logUp: {tree.tensor} slot {tree.slot}: numerator claim is not 1")
            slot_values.setdefault(tree.tensor, {})[tree.slot] = (challenges.shift(tree.bits) - q) % R
            points[tree.tensor] = point
    transcript.domain_separate(b"logup-slots")
    for t in statement.tensors:
        rho = transcript.challenge_scalars(b"slot-fold", t.decomposition.slot_vars)
        weights = eq_table(rho)
        value = sum(weights[i] * v for i, v in slot_values[t.name].items()) % R
        out.append(Claim(t.name, tuple(rho) + points[t.name], value))
    return out


# --- the verifier -----------------------------------------------------------------------------
def verify_range_limbs(transcript: Transcript, statement: LogupStatement, proof: LogupProof) -> list[Claim]:
    """Verify the batched logUp-GKR proof; return the claims the caller must consume:
    one on every multiplicity tensor (ascending width), then one on every limbs tensor."""
    challenges = begin(transcript, statement)
    trees = statement.trees()
    for pq in proof.roots:
        if len(pq) != 2 or any(not 0 <= v < R for v in pq):
            raise VerifyError("logUp: malformed root")
    check_roots(statement, proof.roots)
    transcript.absorb_scalars(b"roots", [v for pq in proof.roots for v in pq])
    if len(proof.layers) != statement.depth():
        raise VerifyError(f"logUp: {len(proof.layers)} GKR layers, expected {statement.depth()}")
    claims: list[tuple[int, int]] = [tuple(pq) for pq in proof.roots]
    point: tuple[int, ...] = ()
    leaves: list = [None] * len(trees)
    for k, layer in enumerate(proof.layers):
        for i, tree in enumerate(trees):
            if tree.num_vars == k:
                leaves[i] = (point, *claims[i])
        active = statement.active(k)
        gamma = transcript.challenge_scalar(b"gamma")
        combined = [(claims[i][0] + gamma * claims[i][1]) % R for i in active]
        evaluations = verify_sumcheck(transcript, [layer_shape(k, gamma)] * len(active), combined, layer)
        point, reduced = next_claims(point, evaluations, transcript.challenge_scalar(b"lambda"))
        for i, pq in zip(active, reduced):
            claims[i] = pq
    for i, tree in enumerate(trees):
        if tree.num_vars == statement.depth():
            leaves[i] = (point, *claims[i])
    return leaf_claims(transcript, statement, challenges, leaves)


# --- value claims: the slots of a decomposition (limbs or bits) -------------------------------
