"""The limb range gadget: a logUp lookup proven by a layered GKR circuit, in either mode.

Statement. Committed limbs tensors L_T (slot axis innermost, ``circuits/limbs.py``) and
committed multiplicities m_b, one per table width b: every slot i of every tensor T lies in
[0, 2^(b_i)), where b_i is the slot's width and 0 for a padding slot (the table {0}). With
challenges beta, alpha drawn after those commitments, logUp (Haboeck, eprint 2022/1530) states
it as one identity of fractions,

    sum_{T, x, i} 1 / (beta - alpha b_i - L_T(x, i))
        - sum_b sum_{j < 2^b} m_b(j) / (beta - alpha b - j)  -  N_0 / beta  =  0,

where the tag alpha b keeps the tables of different widths apart (a limb may not be matched
against a wider table) and N_0, the number of padding slots, is public. It holds w.h.p. only
if every looked-up value is in its table.

GKR (Papini and Haboeck, eprint 2023/1284, section 3). A sum of fractions is a binary tree
with leaves (p, q) and parents (p_0 q_1 + p_1 q_0, q_0 q_1), so no inverse is ever computed
or committed. With layer k a table of 2^k fractions whose top variable splits the children,

    p_k(x) + gamma q_k(x) = sum_y eq(x, y) [p_{k+1}(y, 0) q_{k+1}(y, 1) + p_{k+1}(y, 1) q_{k+1}(y, 0)
                                            + gamma q_{k+1}(y, 0) q_{k+1}(y, 1)],

a degree-3 sumcheck (the paper's eq. 11, both outputs combined by gamma) ending at rho with
the four children's values; a challenge lambda folds them into one claim on layer k + 1 at
(rho, lambda).

Trees. One tree per limbs tensor, over all its (value, slot) leaves (1, beta - alpha b_i -
L_T(x, i)) in the tensor's own layout, so its leaf claim is a claim on L_T itself; one tree
per table width b with leaves (-m_b(j), beta - alpha b - j); and a *top tree* whose leaves are
the roots of all of them, then the public fraction (-N_0, beta), padded with (0, 1). The
identity says the top root's numerator is 0, so the prover sends only its denominator.

Order (the same in both modes; each step goes through the training walk's channel, so in the
zero-knowledge mode every sent value is a Pedersen commitment, every sumcheck a ZK sumcheck
and every check a proof of equality, DESIGN section 9):

  1. domain, statement, beta, alpha (the limbs and multiplicities are committed before);
  2. the prover sends Q of the top root; GKR down the top tree (P = 0) to a point r_top;
  3. the prover sends every tree's root (p_i, q_i); the verifier checks that their MLE at
     r_top, with the public leaves, is the top tree's leaf claim (linear: no products);
  4. GKR down all trees at once (aligned at their roots: at step k every tree deeper than k
     has its claim at the same point r_k, one batched sumcheck reduces them all);
  5. a tensor tree's leaf claim (p, q) at r = (r_slot, r_x): p must be 1, and
     L_T~(r) = beta - alpha B~(r_slot) - q with B the public slot widths; a table tree's:
     q must be beta - alpha b - sum_k 2^k r_k (the verifier's own table), and -p is a claim
     m_b~(r) on the multiplicities.

The walk returns those claims (one per limbs tensor, one per multiplicity tensor); the
caller's ledger consumes them with its other claims on the same tensors. A zero root
denominator would void the identity; it needs beta - alpha b - v = 0 for a committed leaf v,
which the challenges avoid except with probability (leaves) / r.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from circuits.layout import log2_ceil
from circuits.limbs import LimbDecomposition

from .claims import Claim
from .errors import VerifyError
from .field import MODULUS as R
from .phase import PublicTable, Reduction, Table
from .polynomial import eq_eval, eq_table, mle_evaluate
from .sumcheck import InstanceShape, Term
from .transcript import Transcript
from .values import Value, canonical, linear_combination

DOMAIN = b"logup-gkr"
#: Tables above 2^16 entries are not a limb gadget's business (the LimbDecomposition bound).
MAX_TABLE_BITS = 16
#: Tensors of up to 2^MAX_VALUE_VARS values; bounds every loop the proof layout drives.
MAX_VALUE_VARS = 36
#: The key of the top tree in the prover's derived tables.
TOP = "logup.top"


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

    @property
    def num_vars(self) -> int:
        return self.value_vars + self.decomposition.slot_vars

    def slot_tags(self) -> list[int]:
        """The table width of every slot, padding slots in the table {0} of width 0."""
        d = self.decomposition
        return list(d.slot_widths) + [0] * (d.padded_width - d.num_slots)

    @property
    def padding_lookups(self) -> int:
        d = self.decomposition
        return (d.padded_width - d.num_slots) << self.value_vars


@dataclass(frozen=True)
class Tree:
    """A GKR tree: of a limbs tensor (``tensor``) or of the table of ``bits`` bits."""

    key: str
    num_vars: int
    bits: int = 0
    tensor: RangeTensor | None = None


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

    def multiplicity_tensors(self) -> list[str]:
        return [multiplicity_name(b) for b in self.table_bits()]

    def trees(self) -> list[Tree]:
        """Tensor trees (statement order), then table trees (ascending width)."""
        out = [Tree(t.name, t.num_vars, tensor=t) for t in self.tensors]
        return out + [Tree(multiplicity_name(b), b, bits=b) for b in self.table_bits()]

    @property
    def padding_lookups(self) -> int:
        """N_0: lookups in the table {0}, one per padding slot (public)."""
        return sum(t.padding_lookups for t in self.tensors)

    def top_leaves(self) -> int:
        """Leaves of the top tree before padding: the roots, and (-N_0, beta) if N_0 > 0."""
        return len(self.trees()) + (1 if self.padding_lookups else 0)

    @property
    def top_vars(self) -> int:
        return log2_ceil(self.top_leaves())

    def fractions(self) -> int:
        """M, the number of fractions in the identity: every tree's leaves and (-N_0, beta)."""
        return sum(1 << tree.num_vars for tree in self.trees()) + 1

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


class LogupChannel(Protocol):
    """What the walk needs from the training walk's channel (``verifier.training.Channel``)."""

    transcript: Transcript

    def fractions(self, statement: LogupStatement, challenges: Challenges) -> Value:
        """The prover builds every tree's layers and sends the top root's denominator."""

    def values(self, label: bytes, keys: Sequence[str]) -> list[Value]:
        """Prover-known field elements (here the trees' roots), sent and absorbed."""

    def equal(self, a: Value, b: Value) -> bool: ...

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]: ...


# --- shared by prover and verifier ----------------------------------------------------------
def begin(transcript: Transcript, statement: LogupStatement) -> Challenges:
    """Domain, statement, then beta and alpha (the commitments are absorbed before this)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_bytes(b"statement", statement.encode())
    # With its denominators cleared, a false identity of M fractions is a nonzero polynomial of
    # total degree < M in (alpha, beta); a denominator vanishes with probability <= M / r too.
    beta = transcript.challenge_scalar(b"beta", 2 * statement.fractions())
    return Challenges(beta, transcript.challenge_scalar(b"alpha"))


#: The factors of a layer's three terms over its tables [eq, p0, p1, q0, q1].
LAYER_FACTORS = ((0, 1, 4), (0, 2, 3), (0, 3, 4))


def layer_shape(num_vars: int, gamma: int) -> InstanceShape:
    """eq * (p0 q1 + p1 q0 + gamma q0 q1) over tables [eq, p0, p1, q0, q1] (children halves)."""
    terms = tuple(Term(c, f) for c, f in zip((1, 1, gamma % R), LAYER_FACTORS))
    return InstanceShape(num_vars, 5, terms)


PARTS = ("p0", "p1", "q0", "q1")


def layer_reduction(point: Sequence[int], keys: Sequence[str], claims: Sequence[Value], gamma: int) -> Reduction:
    """GKR step len(point) of the trees ``keys``: claims p_k + gamma q_k at ``point`` become the
    children's values at the sumcheck's point, as claims named ``key.p0`` ... ``key.q1``.

    Prover tables: ``Table("gkr", (key, layer, part))`` is half ``part`` of the tree's layer
    (its p or q, split by the top variable)."""
    k = len(point)
    layer = k + 1

    def finish(evals):
        return [
            Claim(f"{key}.{part}", e.point, e.value)
            for key, inst in zip(keys, evals, strict=True)
            for part, e in zip(PARTS, inst[1:], strict=True)
        ]

    eq = PublicTable("logUp GKR layer eq", lambda x: eq_eval(point, x))
    tables = [[Table("eq", (tuple(point),))] + [Table("gkr", (key, layer, part)) for part in PARTS] for key in keys]
    return Reduction(
        f"logup-layer{layer}", [layer_shape(k, gamma)] * len(keys), list(claims), finish, tables, [{0: eq}] * len(keys)
    )


def table_eval(point: Sequence[int]) -> int:
    """The MLE of the table (j)_{j < 2^n} at point: sum_k 2^k r_k (little-endian)."""
    return sum(r << k for k, r in enumerate(point)) % R


def _fold(a: Value, b: Value, lam: int) -> Value:
    """a + lam (b - a): the multilinear extension in the children's variable, at lambda."""
    return canonical(a + (b - a) * lam)


# --- the walk ------------------------------------------------------------------------------
class LogupWalk:
    """The gadget's reductions over a channel (see the module docstring), run once per proof."""

    def __init__(self, statement: LogupStatement, channel: LogupChannel):
        self.st = statement
        self.ch = channel
        self.t = channel.transcript

    def run(self) -> list[Claim]:
        """Claims on every multiplicity tensor, then on every limbs tensor; the caller consumes them."""
        st, t = self.st, self.t
        challenges = begin(t, st)
        q_top = self.ch.fractions(st, challenges)
        ((r_top, p_hat, q_hat),) = self._gkr(b"logup-top", [TOP], [st.top_vars], [(0, q_top)])
        trees = st.trees()
        keys = [f"{tree.key}.root.{part}" for tree in trees for part in ("p", "q")]
        sent = self.ch.values(b"logup-roots", keys)
        roots = list(zip(sent[0::2], sent[1::2]))
        self._check_roots(roots, r_top, p_hat, q_hat, challenges)
        leaves = self._gkr(b"logup-trees", [tree.key for tree in trees], [tree.num_vars for tree in trees], roots)
        tensors, tables = [], []
        for tree, (point, p, q) in zip(trees, leaves, strict=True):
            if tree.tensor is None:
                expected = (challenges.shift(tree.bits) - table_eval(point)) % R
                self._require(self.ch.equal(q, expected), f"logUp: table of {tree.bits} bits has a wrong denominator claim")
                tables.append(Claim(multiplicity_name(tree.bits), point, canonical(-p)))
            else:
                self._require(self.ch.equal(p, 1), f"logUp: {tree.key}: numerator claim is not 1")
                slot_vars = tree.tensor.decomposition.slot_vars
                tags = mle_evaluate(tree.tensor.slot_tags(), point[:slot_vars])
                tensors.append(Claim(tree.key, point, canonical(challenges.beta - challenges.alpha * tags - q)))
        return tables + tensors

    @staticmethod
    def _require(ok: bool, reason: str) -> None:
        if not ok:
            raise VerifyError(reason)

    def _check_roots(self, roots, r_top, p_hat, q_hat, challenges: Challenges) -> None:
        """The top tree's leaves are the roots, (-N_0, beta), then (0, 1) padding: their MLEs
        at r_top must be the top tree's leaf claims."""
        weights = eq_table(r_top)
        n = len(roots)
        const_p, const_q = 0, sum(weights[self.st.top_leaves() :])
        if self.st.padding_lookups:
            const_p -= weights[n] * self.st.padding_lookups
            const_q += weights[n] * challenges.beta
        p = linear_combination(weights[:n], [pq[0] for pq in roots], const_p)
        q = linear_combination(weights[:n], [pq[1] for pq in roots], const_q)
        self._require(self.ch.equal(p, p_hat), "logUp: the roots' numerators do not match the top tree")
        self._require(self.ch.equal(q, q_hat), "logUp: the roots' denominators do not match the top tree")

    def _gkr(self, label: bytes, keys: Sequence[str], depths: Sequence[int], roots) -> list[tuple]:
        """GKR down trees aligned at their roots: each tree's (point, p, q) on its leaf layer."""
        claims = [tuple(pq) for pq in roots]
        point: tuple[int, ...] = ()
        leaves: list = [None] * len(keys)
        for k in range(max(depths)):
            for i, depth in enumerate(depths):
                if depth == k:
                    leaves[i] = (point, *claims[i])
            active = [i for i, depth in enumerate(depths) if depth > k]
            gamma = self.t.challenge_scalar(b"gamma")
            combined = [canonical(claims[i][0] + claims[i][1] * gamma) for i in active]
            reduction = layer_reduction(point, [keys[i] for i in active], combined, gamma)
            children = self.ch.phase(label, [reduction])
            lam = self.t.challenge_scalar(b"lambda")
            for j, i in enumerate(active):
                p0, p1, q0, q1 = (c.value for c in children[4 * j : 4 * j + 4])
                claims[i] = (_fold(p0, p1, lam), _fold(q0, q1, lam))
            point = tuple(children[0].point) + (lam,)
        for i, depth in enumerate(depths):
            if depth == max(depths):
                leaves[i] = (point, *claims[i])
        return leaves
