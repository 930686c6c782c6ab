"""The zero-check builder every Poly-identity gadget shares (``verifier/zero_check.py``): its
guards against misuse (the gadgets always pass the right counts and tables, so only a direct
call reaches them), and the claims it leaves. The protocol itself is exercised, with its
attacks, by each gadget's tests (tests/test_trust.py, tests/test_lamb_step.py,
tests/test_ghost_bn_step.py)."""

from __future__ import annotations

import pytest

from circuits.poly import Poly
from verifier.phase import Table
from verifier.sumcheck import Evaluation
from verifier.zero_check import ZeroTable, combine, flat, zero_check


def test_combine_needs_one_challenge_per_identity_after_the_first():
    polys = [Poly.var("a"), Poly.var("b"), Poly.var("c")]
    assert combine(polys, [2, 3]).evaluate({"a": 1, "b": 1, "c": 1}) == 6
    with pytest.raises(ValueError, match=r"^1 challenges for 3 identities$"):
        combine(polys, [2])


@pytest.mark.parametrize("poly", [Poly.var("x") * Poly.var("x") * Poly.var("x"), Poly.var("elsewhere")],
                         ids=["degree 3", "foreign table"])
def test_zero_check_refuses_identities_beyond_its_tables_or_degree(poly):
    """With its eq factor a zero-check has degree 3: an identity of degree 3, or one over a
    table the zero-check does not bind, is refused before any proof is read."""
    zero_check("t", 1, [0], Poly.var("x") * Poly.var("x"), [flat("x")])  # degree 2: built
    with pytest.raises(AssertionError, match=r"^t: the identities leave degree 2 or the tables$"):
        zero_check("t", 1, [0], poly, [flat("x")])


def test_claims_land_where_each_table_says_and_public_tables_leave_none():
    """One claim per non-public table, in order: a flat table's at the sumcheck's point, a
    broadcast one's at the point its ``point`` derives; the public table is the verifier's
    (registered for its check, no claim)."""
    tables = [flat("a"), ZeroTable("b", Table("flat", ("b@",)), point=lambda p: tuple(p[1:])),
              ZeroTable("pub", Table("flat", ("pub",)), public=lambda p: 7)]
    red = zero_check("t", 2, [0, 0], Poly.var("a") * Poly.var("b") + Poly.var("pub"), tables)
    point = (5, 6)
    evals = [[Evaluation(point, v) for v in (1, 2, 3, 7)]]
    claims = red.finish(evals)
    assert [(c.tensor, tuple(c.point), c.value) for c in claims] == [("a", (5, 6), 2), ("b", (6,), 3)]
    assert set(red.public[0]) == {0, 3}
