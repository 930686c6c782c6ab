"""The claims ledger's sumcheck, prover side: the first round without full-length field tables.

``verifier.gadgets.multipoint_reduction`` reduces m claims T~(u_j) = v_j on a committed tensor
to one point by a sumcheck of sum_x E(x) T(x), E = sum_j rho_j eq(u_j, .). Materialized, E and T
are two field tables of the tensor's length (32 bytes an entry each, against T's 8 as committed
int64), and the first fold writes two more of half that length: at 96 bytes per committed entry
the ledger was the prover's peak memory once the limbs of many steps are committed.

Writing x = (x_0, x') (variable 0 is bound first, ``FieldBackend.fold``), eq factors as
eq(u_j, x) = eq(u_j0, x_0) eq(u_j', x'), so the first round polynomial is

    s(t) = sum_j rho_j eq(u_j0, t) (a_j + t (b_j - a_j)),
    a_j = sum_x' eq(u_j', x') T(0, x'),   b_j = sum_x' eq(u_j', x') T(1, x'),

one pass over the int64 T per claim with a half-length eq table
(``split_inner_products_int64``), and after the challenge r the instance is the ordinary
product of half-length tables

    E'(x') = sum_j rho_j eq(u_j0, r) eq(u_j', x'),   T' = T(r, .)  (``fold_int64``).

The peak is then about 48 bytes per entry (E', T' and one claim's eq table). The messages are
the materialized instance's, bit for bit (``tests/test_ledger_prover.py``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from prover.backends.base import FieldBackend, Vec
from prover.backends.validation import kernel_integers
from verifier.field import MODULUS as R
from verifier.sumcheck import InstanceShape, Term

#: The ledger's instance: the product of its two tables.
TERMS = (Term(1, (0, 1)),)


def _eq1(u: int, t: int) -> int:
    """eq(u, t) for one variable: (1 - u)(1 - t) + u t."""
    return ((1 - u) * (1 - t) + u * t) % R


class CombinedEqInstance:
    """sum_x (sum_j rho_j eq(u_j, x)) T(x) over a committed int64 tensor T of 2^n entries,
    n >= 1, whose first round and first fold read T as int64 (module docstring).
    ``prover.sumcheck.SumcheckState`` drives it through ``first_round`` and ``bind_first``
    and holds the tables this returns from then on."""

    def __init__(self, points: Sequence[Sequence[int]], rho: Sequence[int], values: np.ndarray):
        self.points = [list(u) for u in points]
        self.rho = list(rho)
        # int32 limbs stay int32: the CPU kernels read them as they are (``kernel_integers``).
        self.values = kernel_integers(np.ascontiguousarray(values).reshape(-1))
        num_vars = len(self.points[0])
        if num_vars < 1 or self.values.size != 1 << num_vars:
            raise ValueError(f"{self.values.size} values for a ledger instance of {num_vars} variables")
        if len(self.points) != len(self.rho) or any(len(u) != num_vars for u in self.points):
            raise ValueError("a ledger instance needs one coefficient per claim, all of one dimension")
        self.terms = TERMS
        self._shape = InstanceShape(num_vars, 2, TERMS)

    def shape(self, backend: FieldBackend) -> InstanceShape:
        return self._shape

    def first_round(self, backend: FieldBackend, num_points: int) -> list[int]:
        """s(0), ..., s(num_points - 1) of the first round."""
        out = [0] * num_points
        for u, rho in zip(self.points, self.rho):
            a, b = backend.split_inner_products_int64(backend.eq_table(u[1:]), self.values)
            for t in range(num_points):
                out[t] = (out[t] + rho * _eq1(u[0], t) * (a + t * (b - a))) % R
        return out

    def bind_first(self, backend: FieldBackend, r: int) -> list[Vec]:
        """[E', T'] after variable 0 is bound to r."""
        combined = None
        for u, rho in zip(self.points, self.rho):
            combined = backend.eq_table_add(combined, u[1:], rho * _eq1(u[0], r) % R)
        return [combined, backend.fold_int64(self.values, r)]
