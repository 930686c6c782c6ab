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

  1. domain, statement (with function lookups, their bytes too), beta, alpha, and with
     function lookups gamma (below); the limbs, looked-up columns and multiplicities are
     committed before;
  2. the prover sends Q of the top root; GKR down the top tree (P = 0) to a point r_top;
  3. the prover sends every tree's root (p_i, q_i); the verifier checks that their MLE at
     r_top, with the public leaves, is the top tree's leaf claim (linear: no products);
  4. GKR down all trees at once (aligned at their roots: at step k every tree deeper than k
     has its claim at the same point r_k, one batched sumcheck reduces them all);
  5. a tensor tree's leaf claim (p, q) at r = (r_slot, r_x): p must be 1, and
     L_T~(r) = beta - alpha B~(r_slot) - q with B the public slot widths; a table tree's:
     q must be beta - alpha b - sum_k 2^k r_k (the verifier's own table), and -p is a claim
     m_b~(r) on the multiplicities.

Unit leaves. The leaves of a tensor tree and of a pair tree (below) have numerator 1, a
public table: the last GKR step of such a tree (the one whose children are its leaves) is
proven with those numerators fixed at 1,

    p_k(x) + gamma q_k(x) = sum_y eq(x, y) [q(y, 0) + q(y, 1) + gamma q(y, 0) q(y, 1)]

(``leaf_layer_shape``: tables [eq, q0, q1], no numerator tables), and its children's
numerator claims are the constant 1, which the verifier supplies itself: the prover sends
no leaf numerator, and the step's sumcheck fails for a tree whose leaves have another
numerator (the parents' claim is then not this sum). It is the general step with the
numerators' MLE replaced by the constant 1, which is that of the all-ones table: the same
degree-3 sumcheck, and where the walk used to check a claimed p~(r) = 1 at the leaves (a
random point) it now holds by construction. The leaf claim's ``p must be 1`` is thus a check
only for a tree of depth 0, whose root (sent) is its leaf. The step's shape follows from the
statement alone, so the transcript and the proof's layout still do.

The walk returns those claims (one per limbs tensor, one per multiplicity tensor); the
caller's ledger consumes them with its other claims on the same tensors. A zero root
denominator would void the identity; it needs beta - alpha b - v = 0 for a committed leaf v,
which the challenges avoid except with probability (leaves) / r.

Function tables (nonlinear-gadgets.md rule 0.5). A statement may also carry *function
lookups*: committed tensors X, Y of 2^n values each with Y(x) = f(X(x)) for a public table f
on a 16-bit index domain (``circuits/tables.py``). With a third challenge gamma, drawn after
beta and alpha (so after every witness column and multiplicity is committed), the pair is one
looked-up value X + gamma Y against the rows j + gamma f(j), tagged by t_f = 17, 18, ... (the
distinct tables in name order), above every range tag b <= 16, so a pair may be matched
neither against another function's table nor against a range table. The identity gains

    sum_{(X, Y, f), x} 1 / (beta - alpha t_f - X(x) - gamma Y(x))
        - sum_f sum_{j < 2^16} m_f(j) / (beta - alpha t_f - j - gamma f(j)),

which holds w.h.p. only if every (X(x), Y(x)) is a row (j, f(j)): Haboeck 2022/1530, the
remark after the soundness theorem (multi-column tables keep the bound), with the columns
folded by gamma. Its trees are built as above: a *pair tree* per lookup with leaves
(1, beta - alpha t_f - X(x) - gamma Y(x)) and a table tree per function with leaves
(-m_f(j), beta - alpha t_f - j - gamma f(j)). At the leaves (step 5):

  * a pair tree's claim (p, q) at r: p must be 1, the prover sends X~(r) and Y~(r) (values,
    commitments in the zero-knowledge mode, as any evaluation of the walk) and they must fold
    to q = beta - alpha t_f - X~(r) - gamma Y~(r); they become claims on X and on Y;
  * a function table tree's: q must be beta - alpha t_f - sum_k 2^k r_k - gamma f~(r), f~(r)
    evaluated by the verifier from the table itself (O(2^16)); -p is a claim m_f~(r).

Statements without function lookups draw no gamma and absorb the same bytes as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from circuits.layout import log2_ceil
from circuits.limbs import LimbDecomposition
from circuits.tables import FunctionTable

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


def function_multiplicity_name(table: FunctionTable) -> str:
    """The committed multiplicity tensor of a function table."""
    return f"logup.f.{table.name}"


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
class FunctionLookup:
    """Committed tensors ``input`` and ``output`` of 2^value_vars values: output = table(input)."""

    input: str
    output: str
    table: FunctionTable
    value_vars: int

    def __post_init__(self) -> None:
        if not 0 <= self.value_vars <= MAX_VALUE_VARS:
            raise ValueError(f"{self.key}: value_vars must lie in [0, {MAX_VALUE_VARS}], got {self.value_vars}")
        if self.table.index_bits > MAX_TABLE_BITS:
            raise ValueError(f"{self.key}: a table of {self.table.index_bits} index bits")

    @property
    def key(self) -> str:
        """The pair tree's key."""
        return f"{self.input}+{self.output}"


@dataclass(frozen=True)
class Tree:
    """A GKR tree: of a limbs tensor (``tensor``), a looked-up pair (``lookup``), a function
    table (``table``) or the range table of ``bits`` bits; ``bits`` is the tree's tag."""

    key: str
    num_vars: int
    bits: int = 0
    tensor: RangeTensor | None = None
    lookup: FunctionLookup | None = None
    table: FunctionTable | None = None

    @property
    def unit(self) -> bool:
        """Every leaf's numerator is 1: a limbs tensor's or a looked-up pair's tree."""
        return self.tensor is not None or self.lookup is not None


@dataclass(frozen=True)
class LogupStatement:
    """Every range-checked limbs tensor and every function lookup of a proof; the trees and
    tables follow from them."""

    tensors: tuple[RangeTensor, ...]
    lookups: tuple[FunctionLookup, ...] = ()

    def __post_init__(self) -> None:
        if not self.tensors and not self.lookups:
            raise ValueError("a logUp statement needs at least one range-checked tensor or function lookup")
        keys = [t.name for t in self.tensors] + [lk.key for lk in self.lookups]
        if len(set(keys)) != len(keys):
            raise ValueError(f"range-checked tensors and lookups must have distinct keys, got {keys}")
        tables: dict[str, FunctionTable] = {}
        for lk in self.lookups:
            other = tables.setdefault(lk.table.name, lk.table)
            if (other.index_bits, other.digest) != (lk.table.index_bits, lk.table.digest):
                raise ValueError(f"two different tables named {lk.table.name}")

    def table_bits(self) -> list[int]:
        return sorted({b for t in self.tensors for b in t.decomposition.slot_widths})

    def function_tables(self) -> list[FunctionTable]:
        """The distinct function tables, by name; the i-th is tagged MAX_TABLE_BITS + 1 + i."""
        return sorted({lk.table.name: lk.table for lk in self.lookups}.values(), key=lambda t: t.name)

    def function_tag(self, table: FunctionTable) -> int:
        """t_f: above every range table's width, distinct per function table."""
        return MAX_TABLE_BITS + 1 + [t.name for t in self.function_tables()].index(table.name)

    def multiplicity_tensors(self) -> list[str]:
        ranges = [multiplicity_name(b) for b in self.table_bits()]
        return ranges + [function_multiplicity_name(t) for t in self.function_tables()]

    def trees(self) -> list[Tree]:
        """Tensor trees, pair trees (statement order), then range table trees (ascending width),
        function table trees (by name)."""
        out = [Tree(t.name, t.num_vars, tensor=t) for t in self.tensors]
        out += [Tree(lk.key, lk.value_vars, self.function_tag(lk.table), lookup=lk) for lk in self.lookups]
        out += [Tree(multiplicity_name(b), b, bits=b) for b in self.table_bits()]
        return out + [
            Tree(function_multiplicity_name(t), t.index_bits, self.function_tag(t), table=t)
            for t in self.function_tables()
        ]

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

    def encode_lookups(self) -> bytes:
        """Canonical bytes of the function lookups: per lookup its tensors' names, size, and
        its table's name, tag and digest."""
        parts = []
        for lk in self.lookups:
            names = [lk.input.encode(), lk.output.encode(), lk.table.name.encode()]
            fields = [*map(len, names), lk.value_vars, lk.table.index_bits, self.function_tag(lk.table)]
            parts.append(b"".join(v.to_bytes(8, "little") for v in fields) + b"".join(names))
            parts.append(bytes.fromhex(lk.table.digest))
        return b"".join(parts)


@dataclass(frozen=True)
class Challenges:
    beta: int
    alpha: int
    gamma: int = 0  # the column fold of function lookups (drawn only when there are any)

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

    def evaluation(self, tensor: str, point: Sequence[int]) -> Value:
        """A claimed MLE value of a committed tensor (a looked-up pair's), sent and absorbed."""

    def equal(self, a: Value, b: Value) -> bool: ...

    def phase(self, label: bytes, reductions: Sequence[Reduction]) -> list[Claim]: ...


# --- shared by prover and verifier ----------------------------------------------------------
def begin(transcript: Transcript, statement: LogupStatement) -> Challenges:
    """Domain, statement, then beta and alpha, and gamma with function lookups (the
    commitments are absorbed before this)."""
    transcript.domain_separate(DOMAIN)
    transcript.absorb_bytes(b"statement", statement.encode())
    if statement.lookups:
        transcript.absorb_bytes(b"function-lookups", statement.encode_lookups())
    # With its denominators cleared, a false identity of M fractions is a nonzero polynomial of
    # total degree < M in (alpha, beta); a denominator vanishes with probability <= M / r too.
    beta = transcript.challenge_scalar(b"beta", 2 * statement.fractions())
    alpha = transcript.challenge_scalar(b"alpha")
    if not statement.lookups:
        return Challenges(beta, alpha)
    # The same identity is a polynomial of degree < M in gamma (rule 0.5 of the gadget notes:
    # gamma after every commitment, which the caller absorbs before this).
    return Challenges(beta, alpha, transcript.challenge_scalar(b"gamma-fold", statement.fractions()))


#: The factors of a layer's three terms over its tables [eq, p0, p1, q0, q1].
LAYER_FACTORS = ((0, 1, 4), (0, 2, 3), (0, 3, 4))
#: The factors of a unit-leaf layer's three terms over its tables [eq, q0, q1] (p0 = p1 = 1).
LEAF_LAYER_FACTORS = ((0, 1), (0, 2), (0, 1, 2))


def layer_shape(num_vars: int, gamma: int) -> InstanceShape:
    """eq * (p0 q1 + p1 q0 + gamma q0 q1) over tables [eq, p0, p1, q0, q1] (children halves)."""
    terms = tuple(Term(c, f) for c, f in zip((1, 1, gamma % R), LAYER_FACTORS))
    return InstanceShape(num_vars, 5, terms)


def leaf_layer_shape(num_vars: int, gamma: int) -> InstanceShape:
    """eq * (q0 + q1 + gamma q0 q1) over tables [eq, q0, q1]: ``layer_shape`` with the
    children's numerators fixed at 1 (unit leaves)."""
    terms = tuple(Term(c, f) for c, f in zip((1, 1, gamma % R), LEAF_LAYER_FACTORS))
    return InstanceShape(num_vars, 3, terms)


PARTS = ("p0", "p1", "q0", "q1")


def layer_reduction(
    point: Sequence[int],
    keys: Sequence[str],
    claims: Sequence[Value],
    gamma: int,
    unit: Sequence[bool] | None = None,
) -> Reduction:
    """GKR step len(point) of the trees ``keys``: claims p_k + gamma q_k at ``point`` become the
    children's values at the sumcheck's point, as claims named ``key.p0`` ... ``key.q1``.

    ``unit[i]``: tree i's children are its leaves and their numerators are 1
    (``leaf_layer_shape``); its claims ``p0`` and ``p1`` are then the public 1, the others
    come from the sumcheck.

    Prover tables: ``Table("gkr", (key, layer, part))`` is half ``part`` of the tree's layer
    (its p or q, split by the top variable)."""
    k = len(point)
    layer = k + 1
    unit = [False] * len(keys) if unit is None else list(unit)

    def finish(evals):
        out = []
        for key, inst, leaf in zip(keys, evals, unit, strict=True):
            at = inst[0].point
            values = [1, 1, inst[1].value, inst[2].value] if leaf else [e.value for e in inst[1:]]
            out += [Claim(f"{key}.{part}", at, v) for part, v in zip(PARTS, values, strict=True)]
        return out

    eq = PublicTable("logUp GKR layer eq", lambda x: eq_eval(point, x))
    shapes = [leaf_layer_shape(k, gamma) if leaf else layer_shape(k, gamma) for leaf in unit]
    tables = [
        [Table("eq", (tuple(point),))] + [Table("gkr", (key, layer, part)) for part in (PARTS[2:] if leaf else PARTS)]
        for key, leaf in zip(keys, unit, strict=True)
    ]
    return Reduction(f"logup-layer{layer}", shapes, list(claims), finish, tables, [{0: eq}] * len(keys))


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
        """Claims on every multiplicity tensor, then on every limbs tensor, then on both tensors of
        every looked-up pair; the caller consumes them."""
        st, t = self.st, self.t
        challenges = begin(t, st)
        q_top = self.ch.fractions(st, challenges)
        ((r_top, p_hat, q_hat),) = self._gkr(b"logup-top", [TOP], [st.top_vars], [(0, q_top)], [False])
        trees = st.trees()
        keys = [f"{tree.key}.root.{part}" for tree in trees for part in ("p", "q")]
        sent = self.ch.values(b"logup-roots", keys)
        roots = list(zip(sent[0::2], sent[1::2]))
        self._check_roots(roots, r_top, p_hat, q_hat, challenges)
        keys, depths = [tree.key for tree in trees], [tree.num_vars for tree in trees]
        leaves = self._gkr(b"logup-trees", keys, depths, roots, [tree.unit for tree in trees])
        tensors, tables, pairs = [], [], []
        for tree, (point, p, q) in zip(trees, leaves, strict=True):
            if tree.table is not None:
                tables.append(self._function_table(tree, point, p, q, challenges))
            elif tree.tensor is None and tree.lookup is None:
                expected = (challenges.shift(tree.bits) - table_eval(point)) % R
                self._require(self.ch.equal(q, expected), f"logUp: table of {tree.bits} bits has a wrong denominator claim")
                tables.append(Claim(multiplicity_name(tree.bits), point, canonical(-p)))
            else:
                # A unit tree of depth >= 1 has p = 1 by construction (its last GKR step takes
                # its leaves' numerators as the public 1); of depth 0, p is the sent root.
                self._require(self.ch.equal(p, 1), f"logUp: {tree.key}: numerator claim is not 1")
                if tree.lookup is not None:
                    pairs += self._pair(tree, point, q, challenges)
                else:
                    slot_vars = tree.tensor.decomposition.slot_vars
                    tags = mle_evaluate(tree.tensor.slot_tags(), point[:slot_vars])
                    tensors.append(Claim(tree.key, point, canonical(challenges.beta - challenges.alpha * tags - q)))
        return tables + tensors + pairs

    def _pair(self, tree: Tree, point, q: Value, challenges: Challenges) -> list[Claim]:
        """A pair tree's leaf claim: X~(r), Y~(r) sent, q = beta - alpha t_f - X~(r) - gamma Y~(r)."""
        lk = tree.lookup
        x, y = self.ch.evaluation(lk.input, point), self.ch.evaluation(lk.output, point)
        folded = linear_combination([R - 1, -challenges.gamma % R], [x, y], challenges.shift(tree.bits))
        self._require(self.ch.equal(q, folded), f"logUp: {tree.key}: the pair does not fold to the denominator claim")
        return [Claim(lk.input, point, canonical(x)), Claim(lk.output, point, canonical(y))]

    def _function_table(self, tree: Tree, point, p: Value, q: Value, challenges: Challenges) -> Claim:
        """A function table tree's leaf claim: q = beta - alpha t_f - j~(r) - gamma f~(r), the
        verifier's own table; -p is the claim on its multiplicities."""
        f = tree.table.mle(point, R)
        expected = (challenges.shift(tree.bits) - table_eval(point) - challenges.gamma * f) % R
        self._require(self.ch.equal(q, expected), f"logUp: table {tree.table.name} has a wrong denominator claim")
        return Claim(tree.key, point, canonical(-p))

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

    def _gkr(self, label: bytes, keys: Sequence[str], depths: Sequence[int], roots, unit: Sequence[bool]) -> list:
        """GKR down trees aligned at their roots: each tree's (point, p, q) on its leaf layer;
        a tree with ``unit`` leaves (numerators 1) takes its last step with ``leaf_layer_shape``."""
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
            leaf_step = [unit[i] and depths[i] == k + 1 for i in active]
            reduction = layer_reduction(point, [keys[i] for i in active], combined, gamma, leaf_step)
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
