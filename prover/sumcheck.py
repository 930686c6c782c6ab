"""Batched sumcheck prover for polynomials of degree <= 3 in multilinear tables.

The statement and the batching are specified in ``verifier/sumcheck.py``; this module proves
it with a field backend. :class:`SumcheckState` is the interactive prover apart from
Fiat-Shamir (round polynomial out, challenge in), so the plain and the zero-knowledge
sumchecks drive the same state and differ only in what they send.

Cost per round: every term of every active instance makes one pass over its tables
(``backend.round_evals``), then every table is folded once; O(2^n) field operations in all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from prover.backends.base import FieldBackend, Vec
from prover.ledger import CombinedEqInstance
from verifier import sumcheck as spec
from verifier.field import MODULUS as R
from verifier.logup import LAYER_FACTORS, LEAF_LAYER_FACTORS
from verifier.polynomial import interpolate_from_evals
from verifier.sumcheck import InstanceShape, SumcheckProof, Term
from verifier.transcript import Transcript


@dataclass
class Instance:
    """Tables of equal length 2^num_vars and the public terms combining them.

    ``eq_point``: the point u whose eq table is ``tables[0]`` (eq(u, .) itself, u of num_vars
    coordinates), when it is one. ``SumcheckState`` then tells the logUp-GKR round kernels the
    coordinate u_j of each round, which lets them split eq's factor in the bound variable off
    (``FieldBackend.gkr_round_evals``'s ``eq_coordinate``)."""

    tables: list[Vec]
    terms: tuple[Term, ...]
    eq_point: tuple[int, ...] | None = None

    def shape(self, backend: FieldBackend) -> InstanceShape:
        return InstanceShape(_num_vars(backend, self.tables), len(self.tables), self.terms)


def product_instance(*tables: Vec) -> Instance:
    """``sum_x prod_j f_j(x)`` over the given distinct tables."""
    return Instance(list(tables), (Term(1, tuple(range(len(tables)))),))


def _num_vars(backend: FieldBackend, tables: Sequence[Vec]) -> int:
    lengths = {backend.length(t) for t in tables}
    if len(lengths) != 1:
        raise ValueError(f"tables of one instance must have equal length, got {sorted(lengths)}")
    (length,) = lengths
    if length < 1 or length & (length - 1):
        raise ValueError(f"table length must be a power of two, got {length}")
    return length.bit_length() - 1


def _gkr_layer_gamma(shape: InstanceShape) -> int | None:
    """gamma if ``shape`` is a logUp-GKR layer's eq (p0 q1 + p1 q0 + gamma q0 q1), whose round
    the backends compute in one pass (``gkr_round_evals``); None for any other shape."""
    terms = shape.terms
    if shape.num_tables != 5 or tuple(t.factors for t in terms) != LAYER_FACTORS:
        return None
    return terms[2].coeff if terms[0].coeff == terms[1].coeff == 1 else None


def _gkr_leaf_layer_gamma(shape: InstanceShape) -> int | None:
    """gamma if ``shape`` is a unit-leaf logUp-GKR layer's eq (q0 + q1 + gamma q0 q1)
    (``verifier.logup.leaf_layer_shape``, ``gkr_leaf_round_evals``); None for any other."""
    terms = shape.terms
    if shape.num_tables != 3 or tuple(t.factors for t in terms) != LEAF_LAYER_FACTORS:
        return None
    return terms[2].coeff if terms[0].coeff == terms[1].coeff == 1 else None


class SumcheckState:
    """The prover's side of a batched sumcheck: tables bound one variable per round.

    An instance may also be a ``prover.ledger.CombinedEqInstance``, whose tables exist only
    from its first fold on: its first round and fold are its own, then it is tables like
    any other (it has at least one variable, and every instance's first round is round 0)."""

    def __init__(self, backend: FieldBackend, instances: Sequence[Instance | CombinedEqInstance],
                 coefficients: Sequence[int]):
        self.backend = backend
        self.shapes = [inst.shape(backend) for inst in instances]
        # The state folds its own copies of the table lists; callers' instances stay intact.
        self.tables = [inst if isinstance(inst, CombinedEqInstance) else list(inst.tables) for inst in instances]
        # Folding binds eq(u, .) to c eq(u[j:], .) by round j, so u[j] is round j's coordinate.
        self.eq_points = [getattr(inst, "eq_point", None) for inst in instances]
        for point, shape in zip(self.eq_points, self.shapes):
            if point is not None and len(point) != shape.num_vars:
                raise ValueError(f"an eq table of {len(point)} coordinates in an instance of {shape.num_vars} variables")
        self.coefficients = list(coefficients)
        self.num_rounds = max(s.num_vars for s in self.shapes)
        self.degree = max(s.degree for s in self.shapes)
        self.round = 0
        # Value of each instance once all its variables are bound (filled in as they finish).
        self._final: list[int | None] = [None] * len(self.shapes)
        for i, shape in enumerate(self.shapes):
            if shape.num_vars == 0:
                self._final[i] = self._instance_value(i)

    def _instance_value(self, i: int) -> int:
        return self.shapes[i].evaluate([self.backend.to_ints(t)[0] for t in self.tables[i]])

    def _instance_round_evals(self, i: int, num_points: int) -> list[int]:
        if isinstance(self.tables[i], CombinedEqInstance):
            return self.tables[i].first_round(self.backend, num_points)
        point = self.eq_points[i]
        u = None if point is None else point[self.round]
        gamma = _gkr_layer_gamma(self.shapes[i])
        if gamma is not None:  # one fused pass over the five tables instead of three products
            return self.backend.gkr_round_evals(self.tables[i], gamma, num_points, eq_coordinate=u)
        gamma = _gkr_leaf_layer_gamma(self.shapes[i])
        if gamma is not None:  # the same over unit leaves: three tables, no numerators
            return self.backend.gkr_leaf_round_evals(self.tables[i], gamma, num_points, eq_coordinate=u)
        out = [0] * num_points
        for term in self.shapes[i].terms:
            evals = self.backend.round_evals([self.tables[i][j] for j in term.factors], num_points)
            for t in range(num_points):
                out[t] = (out[t] + term.coeff * evals[t]) % R
        return out

    def round_polynomial(self) -> list[int]:
        """Coefficients c_0..c_d of this round's polynomial of the batched F."""
        j, n, num_points = self.round, self.num_rounds, self.degree + 1
        total = [0] * num_points
        for i, (rho, shape) in enumerate(zip(self.coefficients, self.shapes)):
            if j < shape.num_vars:
                # Free variables beyond the instance's own each double its sum.
                scale = rho * pow(2, n - shape.num_vars, R) % R
                evals = self._instance_round_evals(i, num_points)
            else:
                # Fully bound: a constant in x_j, summed over the 2^(n-j-1) later variables.
                scale = rho * self._final[i] * pow(2, n - j - 1, R) % R
                evals = [1] * num_points
            for t in range(num_points):
                total[t] = (total[t] + scale * evals[t]) % R
        return interpolate_from_evals(total)

    def bind(self, r: int) -> None:
        """Fix the current variable to the challenge r in every active table. A table object
        that several instances (or factors) share is folded once, and stays shared."""
        folded: dict[int, tuple[Vec, Vec]] = {}  # id(table) -> (table, folded): kept alive

        def fold(t: Vec) -> Vec:
            if id(t) not in folded:
                folded[id(t)] = (t, self.backend.fold(t, r))
            return folded[id(t)][1]

        for i, shape in enumerate(self.shapes):
            if self.round < shape.num_vars:
                tables = self.tables[i]
                if isinstance(tables, CombinedEqInstance):
                    self.tables[i] = tables.bind_first(self.backend, r)
                else:
                    self.tables[i] = [fold(t) for t in tables]
                if self.round + 1 == shape.num_vars:
                    self._final[i] = self._instance_value(i)
        self.round += 1

    def final_evals(self) -> tuple[tuple[int, ...], ...]:
        if self.round != self.num_rounds:
            raise RuntimeError("final_evals before the last round")
        return tuple(tuple(self.backend.to_ints(t)[0] for t in tables) for tables in self.tables)


def instance_sum(backend: FieldBackend, inst: Instance) -> int:
    """sum_{x in {0,1}^n} P(x), computed from the tables (the honest claim)."""
    shape = inst.shape(backend)
    if isinstance(inst, CombinedEqInstance):
        s0, s1 = inst.first_round(backend, 2)
        return (s0 + s1) % R
    if shape.num_vars == 0:
        return shape.evaluate([backend.to_ints(t)[0] for t in inst.tables])
    total = 0
    for term in inst.terms:
        s0, s1 = backend.round_evals([inst.tables[j] for j in term.factors], 2)
        total += term.coeff * (s0 + s1)
    return total % R


def prove_sumcheck(
    transcript: Transcript,
    backend: FieldBackend,
    instances: Sequence[Instance],
    claims: Sequence[int] | None = None,
) -> tuple[SumcheckProof, tuple[int, ...]]:
    """Prove ``sum_x P_i(x) = claims[i]`` for every instance; returns the proof and the point.

    ``claims`` defaults to the honest sums (a different claim is how tests make a cheating
    prover). The point is the full n-variable point; instance i's tables are
    evaluated at its prefix of length n_i, and those values close the proof.
    """
    if claims is None:
        claims = [instance_sum(backend, inst) for inst in instances]
    coefficients = spec.begin(transcript, [inst.shape(backend) for inst in instances], claims)
    state = SumcheckState(backend, instances, coefficients)
    rounds, point = [], []
    for _ in range(state.num_rounds):
        coeffs = state.round_polynomial()
        transcript.absorb_scalars(b"round", coeffs)
        r = transcript.challenge_scalar(b"challenge")
        state.bind(r)
        rounds.append(tuple(coeffs))
        point.append(r)
    final = state.final_evals()
    transcript.absorb_scalars(b"final-evals", [v for ev in final for v in ev])
    return SumcheckProof(tuple(rounds), final), tuple(point)
