"""Squared norms as claim reductions (``verifier/norms.py``; semantics and bit bound in
``circuits/sqrt.py``): exact big-integer equality, completeness in both modes on one tensor and
on groups (padded layouts, all-zero tensors, entries near 2^62), and one malicious witness per
check (nonlinear-gadgets.md sections 6 and 13).
"""

from __future__ import annotations

import numpy as np
import pytest
from nonlinear_harness import claims_true, prove, rejected, verify

from circuits.semantics import MAX_RELATION_BITS
from circuits.sqrt import norm_bits, squared_norms
from prover.backends import get_backend
from verifier.field import MODULUS as R
from verifier.norms import verify_norms
from verifier.sumcheck import SumcheckProof

# 4 groups of 8 (a weight tensor [4, 5] padded to [4, 8], padding zero), signed entries.
T = np.zeros((4, 8), dtype=np.int64)
T[:, :5] = [[3, -1, 4, -1, 5], [-9, 2, 6, -5, 3], [0, 0, 0, 0, 0], [-128, 127, -128, 127, 1]]


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


def _gadget(group_vars, inner_vars):
    return lambda walk: verify_norms(walk, "T", "N", group_vars, inner_vars)


def _witness(t, inner_vars, norms=None):
    return {"T": t, "N": squared_norms(t, inner_vars) if norms is None else norms}


def test_semantics_and_bits():
    """Exact Python-int norms, also past int64 (entries -2^62: each square 2^124)."""
    assert squared_norms(T, 3).tolist() == [52, 155, 0, 128 * 128 * 2 + 127 * 127 * 2 + 1]
    assert squared_norms(T, 5).tolist() == [sum(int(v) ** 2 for v in T.reshape(-1))]
    wide = np.full((2, 4), -(1 << 62), dtype=np.int64)
    assert squared_norms(wide, 2).tolist() == [1 << 126, 1 << 126]
    assert norm_bits(63, 2) == 127 and (1 << 126) < 1 << norm_bits(63, 2)
    assert norm_bits(125, 1) == MAX_RELATION_BITS  # the widest admitted; one bit more is refused
    with pytest.raises(ValueError, match="251 bits > 250"):
        norm_bits(125, 2)
    with pytest.raises(ValueError, match="t_bits"):
        norm_bits(0, 2)


@pytest.mark.parametrize("group_vars", [0, 2], ids=["one-tensor", "groups"])
def test_completeness(backend, mode, group_vars):
    inner = 5 - group_vars
    witness = _witness(T, inner)
    proof, prover_claims, truth = prove(mode, backend, _gadget(group_vars, inner), [], "limbs", witness)
    claims = verify(mode, _gadget(group_vars, inner), [], "limbs", proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [c.tensor for c in claims] == ["N", "T"]


@pytest.mark.parametrize("t", ["zeros", "wide"])
def test_completeness_edges(mode, t):
    """An all-zero tensor (norm 0) and entries near -2^62 (norms past int64)."""
    values = np.zeros((4, 8), dtype=np.int64) if t == "zeros" else np.full((4, 8), -(1 << 62) + 3, dtype=np.int64)
    witness = _witness(values, 3)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(2, 3), [], "limbs", witness)
    assert claims_true(mode, prover_claims, verify(mode, _gadget(2, 3), [], "limbs", proof), truth)


@pytest.mark.parametrize("group_vars", [0, 2], ids=["one-tensor", "groups"])
def test_wrong_claimed_norm(mode, group_vars):
    """A norm one too large (one group's): the sumcheck against the claimed N~(rho) fails."""
    inner = 5 - group_vars
    norms = squared_norms(T, inner)
    norms[-1] += 1
    rejected(mode, get_backend("reference"), _gadget(group_vars, inner), [], "limbs", _witness(T, inner, norms),
             "^norm:T: ")


def test_norm_of_another_tensor(mode):
    """The prover proves the norms of T' (T with one padded entry set: hidden mass) through the
    whole sumcheck: the verifier's walk accepts, and the claim it leaves on T is false, which
    the caller's opening of T refuses (as the claim on N is, against what N must be)."""
    other = T.copy()
    other[1, 6] = 7
    cheat = _witness(other, 3)
    proof, prover_claims, _ = prove(mode, get_backend("reference"), _gadget(2, 3), [], "limbs", cheat)
    claims = verify(mode, _gadget(2, 3), [], "limbs", proof)
    honest = _witness(T, 3)
    assert claims_true(mode, prover_claims, claims, cheat)  # consistent with T' ...
    assert not claims_true(mode, prover_claims[1:], claims[1:], honest)  # ... so false on T
    assert not claims_true(mode, prover_claims[:1], claims[:1], honest)


def test_groups_eq_is_the_verifiers():
    """The prover scales the eq table's final evaluation by 4 and T's by 1/2 (eq T T keeps its
    value): only the check of the public eq sees it."""

    def tamper(label, proof):
        if label != b"norm:T":
            return proof
        ((eq, t),) = proof.final_evals
        return SumcheckProof(proof.rounds, ((eq * 4 % R, t * pow(2, -1, R) % R),))

    rejected("clear", get_backend("reference"), _gadget(2, 3), [], "limbs", _witness(T, 3),
             "T: norm groups eq: the prover's evaluation", tamper=tamper)
