"""The field-vector interface every prover backend implements (DESIGN section 6).

A backend owns an opaque vector type holding elements of Fr (the CPU backend: numpy uint64
arrays of shape (n, 4), little-endian 64-bit limbs in Montgomery form; the reference backend:
lists of Python ints). Scalars cross the interface as Python ints in [0, r). Conformance tests
run one test body over every backend and demand identical outputs.

Conventions (DESIGN section 9): variable j of a multilinear extension is bit j of the index,
so binding variable 0 pairs adjacent entries (2i, 2i+1).
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence

import numpy as np

Vec = Any  # the backend's own vector type


class FieldBackend(Protocol):
    name: str

    # --- conversions -------------------------------------------------------------------
    def from_int64(self, a: np.ndarray) -> Vec:
        """Embed signed int64 values (v -> v mod r)."""

    def from_ints(self, xs: Sequence[int]) -> Vec:
        """Embed arbitrary Python ints (any sign and size, reduced mod r)."""

    def to_ints(self, v: Vec) -> list[int]:
        """Canonical representatives in [0, r)."""

    def to_int64(self, v: Vec) -> np.ndarray:
        """Signed representatives; raises OverflowError if one lies outside int64."""

    def length(self, v: Vec) -> int: ...

    def zeros(self, n: int) -> Vec: ...

    def tile(self, v: Vec, reps: int) -> Vec:
        """v repeated reps times, end to end (v's index the low variables): a constant vector,
        or a public pattern over a tensor's innermost axis, without a pass of arithmetic."""

    def tile_sub_int64(self, pattern: Vec, a: np.ndarray) -> Vec:
        """pattern[i mod len(pattern)] - a[i] for signed int64 values a, len(a) a multiple of
        len(pattern): ``tile``, ``from_int64`` and ``sub`` in one pass (a limbs tensor's
        logUp leaf denominators, beta - alpha b_slot - limb, ``prover.logup``)."""

    def gkr_parent_layer(self, p: Vec | None, q: Vec) -> tuple[Vec, Vec]:
        """The layer above (p, q) in a logUp fraction tree (``prover.logup.build_layers``):
        children are the halves split by the top variable, p' = p_0 q_1 + p_1 q_0 and
        q' = q_0 q_1 (p None: every numerator is 1, p' = q_0 + q_1), in one pass."""

    def gkr_unit_parent_layer_int64(self, pattern: Vec, a: np.ndarray) -> tuple[Vec, Vec]:
        """``gkr_parent_layer(None, tile_sub_int64(pattern, a))``: a unit tree's layer above its
        leaves, from the committed integers, with no table of the leaves."""

    # --- elementwise -------------------------------------------------------------------
    def add(self, a: Vec, b: Vec) -> Vec: ...

    def sub(self, a: Vec, b: Vec) -> Vec: ...

    def mul(self, a: Vec, b: Vec) -> Vec: ...

    def scalar_mul(self, a: Vec, c: int) -> Vec: ...

    # --- reductions --------------------------------------------------------------------
    def sum(self, a: Vec) -> int: ...

    def inner_product(self, a: Vec, b: Vec) -> int: ...

    # --- multilinear extensions --------------------------------------------------------
    def fold(self, v: Vec, r: int) -> Vec:
        """Bind variable 0 to r: out[i] = v[2i] + r (v[2i+1] - v[2i]); len(v) must be even."""

    def fold_int64(self, a: np.ndarray, r: int) -> Vec:
        """``fold(from_int64(a), r)`` in one pass, with no field copy of a: binds variable 0 of
        a committed int64 tensor (the claims ledger's first round, ``prover.ledger``)."""

    def split_inner_products_int64(self, v: Vec, a: np.ndarray) -> tuple[int, int]:
        """(sum_i v[i] a[2i], sum_i v[i] a[2i+1]) for int64 a of twice v's length: v against
        a's entries at x_0 = 0 and x_0 = 1, in one pass with no field copy of a."""

    def bind_axis_int64(self, a: np.ndarray, point: Sequence[int]) -> Vec:
        """The table of the int64 array a [pre, 2^k, post] with its middle axis bound to
        ``point`` (k coordinates, variable j = bit j of that axis's index): out[p post + q] =
        sum_t eq(point, t) a[p, t, q]. The same as moving the axis innermost, ``from_int64``
        and k folds, with no field copy of a (``prover.gadgets.bind_axis``)."""

    def eq_table(self, point: Sequence[int]) -> Vec:
        """eq(point, x) for the 2^len(point) hypercube points x, index sum_j x_j 2^j."""

    def eq_table_add(self, acc: Vec | None, point: Sequence[int], scale: int) -> Vec:
        """acc + scale eq(point, .) (acc None: the scaled table alone), in one pass where the
        backend can: the claims ledger's combined eq sum_j rho_j eq(u_j, .) adds one per
        claim. ``acc`` may be overwritten: use only the returned vector."""

    def mle_evaluate(self, v: Vec, point: Sequence[int]) -> int:
        """The multilinear extension of v (length 2^len(point)) at point."""

    def round_evals(self, factors: Sequence[Vec], num_points: int) -> list[int]:
        """Sumcheck round of a product of 1..3 factors of equal even length 2m.

        Returns s(t) = sum_{i<m} prod_k (f_k[2i] + t (f_k[2i+1] - f_k[2i])) for
        t = 0, 1, ..., num_points - 1 (num_points >= len(factors) + 1 determines s).
        """

    def gkr_round_evals(self, tables: Sequence[Vec], gamma: int, num_points: int,
                        eq_coordinate: int | None = None) -> list[int]:
        """Sumcheck round of a logUp-GKR layer (``verifier.logup.layer_shape``): tables
        [eq, p0, p1, q0, q1], s(t) = sum_i eq (p0 q1 + p1 q0 + gamma q0 q1) at t = 0, 1, ...,
        num_points - 1; the same as three ``round_evals`` combined, in one pass.

        ``eq_coordinate`` u, when given, promises that the first table factors as
        eq(x) = c eq1(u, x_0) e'(x') (an eq table, as ``SumcheckState`` folds it: c is the
        product of the bound variables' factors). The result is the same; a backend may use
        it to split the factor off (Gruen, ePrint 2024/108, section 3): s(t) = eq1(u, t) h(t)
        with h(t) = sum_i (eq[2i] + eq[2i+1]) (...)(t) of degree 2, fewer multiplications."""

    def gkr_leaf_round_evals(self, tables: Sequence[Vec], gamma: int, num_points: int,
                             eq_coordinate: int | None = None) -> list[int]:
        """Sumcheck round of a logUp-GKR layer over unit leaves (``verifier.logup.leaf_layer_shape``):
        tables [eq, q0, q1], s(t) = sum_i eq (q0 + q1 + gamma q0 q1) at t = 0, 1, ...,
        num_points - 1; the same as three ``round_evals`` combined, in one pass.
        ``eq_coordinate``: as ``gkr_round_evals``'s."""
