"""The reference FieldBackend: Fr vectors as lists of Python ints in [0, r).

Simple and obviously correct, it is the oracle the fast backends are tested against and
serves tiny instances. Each operation is its definition in ``base.FieldBackend``, written
with the verifier's field and polynomial code so that both sides share one convention.
"""

from __future__ import annotations

import operator
from typing import Sequence

import numpy as np

from verifier.field import MODULUS as R
from verifier.field import to_signed
from verifier import polynomial

from . import validation

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1


class ReferenceBackend:
    name = "reference"

    # --- conversions -------------------------------------------------------------------
    def from_int64(self, a: np.ndarray) -> list[int]:
        return [v % R for v in validation.int64_vector(a).tolist()]

    def from_ints(self, xs: Sequence[int]) -> list[int]:
        return [operator.index(x) % R for x in xs]

    def to_ints(self, v: list[int]) -> list[int]:
        return list(v)

    def to_int64(self, v: list[int]) -> np.ndarray:
        signed = [to_signed(x) for x in v]
        for i, s in enumerate(signed):
            if not _INT64_MIN <= s <= _INT64_MAX:
                raise OverflowError(f"to_int64: element {i} = {s} lies outside int64")
        return np.array(signed, dtype=np.int64)

    def length(self, v: list[int]) -> int:
        return len(v)

    def zeros(self, n: int) -> list[int]:
        return [0] * n

    def tile(self, v: list[int], reps: int) -> list[int]:
        return list(v) * validation.repetitions(reps)

    def tile_sub_int64(self, pattern: list[int], a: np.ndarray) -> list[int]:
        values = validation.int64_vector(a).tolist()
        validation.periods(len(pattern), len(values))
        return [(pattern[i % len(pattern)] - v) % R for i, v in enumerate(values)]

    def gkr_parent_layer(self, p: list[int] | None, q: list[int]) -> tuple[list[int], list[int]]:
        h = validation.halved("gkr_parent_layer", len(q))
        if p is None:
            return [(q[i] + q[i + h]) % R for i in range(h)], [q[i] * q[i + h] % R for i in range(h)]
        validation.same_length("gkr_parent_layer", len(p), len(q))
        return [(p[i] * q[i + h] + p[i + h] * q[i]) % R for i in range(h)], [q[i] * q[i + h] % R for i in range(h)]

    def gkr_unit_parent_layer_int64(self, pattern: list[int], a: np.ndarray) -> tuple[list[int], list[int]]:
        validation.halved("gkr_unit_parent_layer_int64", len(validation.int64_vector(a)))
        return self.gkr_parent_layer(None, self.tile_sub_int64(pattern, a))

    # --- elementwise -------------------------------------------------------------------
    def add(self, a: list[int], b: list[int]) -> list[int]:
        validation.same_length("add", len(a), len(b))
        return [(x + y) % R for x, y in zip(a, b)]

    def sub(self, a: list[int], b: list[int]) -> list[int]:
        validation.same_length("sub", len(a), len(b))
        return [(x - y) % R for x, y in zip(a, b)]

    def mul(self, a: list[int], b: list[int]) -> list[int]:
        validation.same_length("mul", len(a), len(b))
        return [x * y % R for x, y in zip(a, b)]

    def scalar_mul(self, a: list[int], c: int) -> list[int]:
        return [x * c % R for x in a]

    # --- reductions --------------------------------------------------------------------
    def sum(self, a: list[int]) -> int:
        return sum(a) % R

    def inner_product(self, a: list[int], b: list[int]) -> int:
        validation.same_length("inner_product", len(a), len(b))
        return sum(x * y for x, y in zip(a, b)) % R

    # --- multilinear extensions --------------------------------------------------------
    def fold(self, v: list[int], r: int) -> list[int]:
        validation.foldable("fold", len(v))
        return [(v[2 * i] + r * (v[2 * i + 1] - v[2 * i])) % R for i in range(len(v) // 2)]

    def fold_int64(self, a: np.ndarray, r: int) -> list[int]:
        return self.fold(self.from_int64(a), r)

    def split_inner_products_int64(self, v: list[int], a: np.ndarray) -> tuple[int, int]:
        values = validation.int64_vector(a).tolist()
        validation.same_length("split_inner_products_int64", 2 * len(v), len(values))
        return tuple(sum(x * y for x, y in zip(v, values[half::2])) % R for half in (0, 1))

    def bind_axis_int64(self, a: np.ndarray, point: Sequence[int]) -> list[int]:
        a = validation.axis_to_bind(a, len(point)).tolist()
        eq = self.eq_table(point)
        return [sum(w * row[q] for w, row in zip(eq, block)) % R for block in a for q in range(len(block[0]))]

    def eq_table(self, point: Sequence[int]) -> list[int]:
        return polynomial.eq_table([u % R for u in point])

    def eq_table_add(self, acc: list[int] | None, point: Sequence[int], scale: int) -> list[int]:
        table = [e * scale % R for e in self.eq_table(point)]
        if acc is None:
            return table
        validation.same_length("eq_table_add", len(acc), len(table))
        return [(a + e) % R for a, e in zip(acc, table)]

    def mle_evaluate(self, v: list[int], point: Sequence[int]) -> int:
        validation.mle_length(len(v), len(point))
        return polynomial.mle_evaluate(v, [u % R for u in point])

    def round_evals(self, factors: Sequence[list[int]], num_points: int) -> list[int]:
        validation.round_args([len(f) for f in factors], num_points)
        evals = []
        for t in range(num_points):
            total = 0
            for i in range(len(factors[0]) // 2):
                term = 1
                for f in factors:
                    term = term * (f[2 * i] + t * (f[2 * i + 1] - f[2 * i])) % R
                total += term
            evals.append(total % R)
        return evals

    # The definitions: ``eq_coordinate`` (a promise about the eq table) is not needed for them.
    def gkr_round_evals(self, tables: Sequence[list[int]], gamma: int, num_points: int,
                        eq_coordinate: int | None = None) -> list[int]:
        validation.gkr_round_args([len(f) for f in tables], num_points)
        e, p0, p1, q0, q1 = tables
        terms = [self.round_evals(f, num_points) for f in ([e, p0, q1], [e, p1, q0], [e, q0, q1])]
        return [(a + b + gamma * c) % R for a, b, c in zip(*terms)]

    def gkr_leaf_round_evals(self, tables: Sequence[list[int]], gamma: int, num_points: int,
                             eq_coordinate: int | None = None) -> list[int]:
        validation.gkr_leaf_round_args([len(f) for f in tables], num_points)
        e, q0, q1 = tables
        terms = [self.round_evals(f, num_points) for f in ([e, q0], [e, q1], [e, q0, q1])]
        return [(a + b + gamma * c) % R for a, b, c in zip(*terms)]
