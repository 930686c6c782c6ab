"""Gadget reductions of the training circuit: completeness and soundness pairs.

Each test proves a gadget with the prover's tables, verifies it with the verifier's reduction,
and checks that every claim the verifier is left with is a true evaluation of the witness
(completeness); then a deviating witness or claim is rejected (soundness).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from slots import reduce_slices

from circuits.bits import BitDecomposition
from circuits.layout import Layout
from prover import gadgets as pg
from prover.phase import prove_phase
from verifier import gadgets as vg
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.phase import Table, verify_phase
from verifier.claims import Claim
from verifier.polynomial import eq_table, mle_evaluate
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/gadgets"


def _mle(arr, point):
    return mle_evaluate([int(v) for v in np.asarray(arr).reshape(-1)], point)


def _rand_point(rng, n):
    return tuple(rng.randrange(R) for _ in range(n))


def _prove_and_verify(backend, build, witness):
    """``build(transcript)`` -> reductions, built alike by both sides on their transcripts;
    the prover materializes their tables from ``witness``."""
    tp, tv = Transcript(DOMAIN), Transcript(DOMAIN)
    proof, prover_claims = prove_phase(tp, b"phase", backend, build(tp), witness)
    claims = verify_phase(tv, b"phase", build(tv), proof)
    assert claims == prover_claims
    return claims


def _matmul_case(rng, nprng, tamper=0):
    t, m, n, k = 2, 4, 2, 8  # log sizes 1, 2, 1, 3
    a = nprng.integers(-100, 100, size=(t, m, k))
    b = nprng.integers(-100, 100, size=(t, n, k))
    c = np.einsum("tmk,tnk->tmn", a, b)
    u_n, u_m, u_t = _rand_point(rng, 1), _rand_point(rng, 2), _rand_point(rng, 1)
    value = (_mle(c, u_n + u_m + u_t) + tamper) % R

    def build(transcript):
        return [vg.matmul_reduction(
            "mm", value, u_t, 3,
            Table("bind", ("A", 1, u_m)), Table("bind", ("B", 1, u_n)),
            lambda rk, rt: ("A", rk + u_m + rt),
            lambda rk, rt: ("B", rk + u_n + rt),
        )]

    return a, b, build


def test_matmul_complete(backend, rng):
    a, b, build = _matmul_case(rng, np.random.default_rng(1))
    claims = _prove_and_verify(backend, build, {"A": a, "B": b})
    assert [c.tensor for c in claims] == ["A", "B"]
    assert claims[0].value == _mle(a, claims[0].point)
    assert claims[1].value == _mle(b, claims[1].point)


def test_matmul_wrong_product_rejected(backend, rng):
    a, b, build = _matmul_case(rng, np.random.default_rng(1), tamper=1)
    with pytest.raises(VerifyError):
        _prove_and_verify(backend, build, {"A": a, "B": b})


def _hadamard_case(rng, nprng, s_override=None):
    s = nprng.integers(0, 2, size=(4, 8))
    x = nprng.integers(-1000, 1000, size=(4, 8))
    v = (1 - s) * x
    points = [_rand_point(rng, 5) for _ in range(2)]
    claims = [Claim("V", p, _mle(v, p)) for p in points]
    witness = {"S": s if s_override is None else s_override(s), "X": x}

    def build(transcript):
        rho = transcript.challenge_scalars(b"rho", 2)
        return [vg.masked_hadamard_reduction(
            "relu", claims, rho, 5, Table("flat", ("S",)), Table("flat", ("X",)),
            lambda p: ("S", p), lambda p: ("X", p),
        )]

    return s, x, build, witness


def test_masked_hadamard_complete(backend, rng):
    s, x, build, witness = _hadamard_case(rng, np.random.default_rng(2))
    claims = _prove_and_verify(backend, build, witness)
    assert claims[0].value == _mle(s, claims[0].point)
    assert claims[1].value == _mle(x, claims[1].point)


def test_masked_hadamard_skipped_relu_rejected(backend, rng):
    def flip(s):
        s = s.copy()
        s[1, 3] = 1 - s[1, 3]  # one activation masked differently from the claims
        return s

    _, _, build, witness = _hadamard_case(rng, np.random.default_rng(2), s_override=flip)
    with pytest.raises(VerifyError):
        _prove_and_verify(backend, build, witness)


@pytest.mark.parametrize("bad", [None, 2, (R + 1) // 2, R - 1])
def test_booleanity(backend, rng, bad):
    bits = np.random.default_rng(3).integers(0, 2, size=32).astype(object)
    if bad is not None:
        bits[7] = bad  # 2, 1/2 mod r, -1: each non-binary

    def build(transcript):
        return [vg.booleanity_reduction("B", transcript.challenge_scalars(b"w", 5))]

    if bad is None:
        (claim,) = _prove_and_verify(backend, build, {"B": bits})
        assert claim.value == _mle(bits, claim.point)
    else:
        with pytest.raises(VerifyError):
            _prove_and_verify(backend, build, {"B": bits})


def _sgd_case(rng, nprng, lr, lr_claimed):
    """W_t = W_0 - sum_{s<t} lr_s G_Z,s^T A_s over 4 steps; a claim on the stacked W at (p, r_t)."""
    steps, batch, n_out, n_in = 4, 4, 2, 4
    gz = nprng.integers(-50, 50, size=(steps, batch, n_out))
    act = nprng.integers(-50, 50, size=(steps, batch, n_in))
    w0 = nprng.integers(-1000, 1000, size=(n_out, n_in))
    gw = np.einsum("sbj,sbi->sji", gz, act)
    w = np.stack([w0 - sum(lr[s] * gw[s] for s in range(t)) for t in range(steps)])
    p_i, p_j, r_t = _rand_point(rng, 2), _rand_point(rng, 1), _rand_point(rng, 2)
    value = _mle(w, p_i + p_j + r_t)
    eq_t = eq_table(r_t)
    kappa = [lr_claimed[s] * sum(eq_t[t] for t in range(s + 1, steps)) % R for s in range(steps)]
    claimed_sum = (_mle(w0, p_i + p_j) - value) % R

    def build(transcript):
        return [vg.step_functional_reduction(
            "sgd", claimed_sum, kappa, 2,
            [Table("bind", ("GZ", 2, p_j)), Table("bind", ("A", 2, p_i))],
            [lambda rb, rs: ("GZ", p_j + rb + rs), lambda rb, rs: ("A", p_i + rb + rs)],
        )]

    return gz, act, build


def test_sgd_functional_complete(backend, rng):
    lr = [3, 5, 7, 0]
    gz, act, build = _sgd_case(rng, np.random.default_rng(4), lr, lr)
    claims = _prove_and_verify(backend, build, {"GZ": gz, "A": act})
    assert claims[0].value == _mle(gz, claims[0].point)
    assert claims[1].value == _mle(act, claims[1].point)


def test_sgd_functional_other_learning_rate_rejected(backend, rng):
    gz, act, build = _sgd_case(rng, np.random.default_rng(4), [3, 5, 7, 0], [3, 6, 7, 0])
    with pytest.raises(VerifyError):
        _prove_and_verify(backend, build, {"GZ": gz, "A": act})


def test_multipoint_reduction(backend, rng):
    tensor = np.random.default_rng(5).integers(-99, 99, size=16)
    points = [_rand_point(rng, 4) for _ in range(3)]
    claims = [Claim("T", p, _mle(tensor, p)) for p in points]

    def build(transcript):
        return [vg.multipoint_reduction("T", claims, transcript.challenge_scalars(b"rho", 3))]

    (claim,) = _prove_and_verify(backend, build, {"T": tensor})
    assert claim.value == _mle(tensor, claim.point)
    claims[1] = Claim("T", points[1], (claims[1].value + 1) % R)
    with pytest.raises(VerifyError):
        _prove_and_verify(backend, build, {"T": tensor})


@pytest.mark.parametrize("decomposition", [BitDecomposition(5, signed=True), BitDecomposition(6, False, offset=-32)])
def test_slot_values_complete_and_sound(backend, rng, decomposition):
    nprng = np.random.default_rng(6)
    values = nprng.integers(decomposition.min_value, decomposition.max_value + 1, size=(4, 4))
    values[0, 0], values[0, 1] = decomposition.min_value, decomposition.max_value
    bits = decomposition.decompose(values)
    u = _rand_point(rng, 4)
    slices = pg.slot_values(backend, bits, decomposition, u)
    value = _mle(values, u)
    claim = reduce_slices(Transcript(DOMAIN), "B", decomposition, value, u, slices)
    assert claim.value == _mle(bits, claim.point)

    with pytest.raises(VerifyError, match="recompose"):
        reduce_slices(Transcript(DOMAIN), "B", decomposition, value + 1, u, slices)
    padded = list(slices)
    padded[-1] = 1  # a slot beyond the width: one bit too many
    with pytest.raises(VerifyError, match="padding"):
        reduce_slices(Transcript(DOMAIN), "B", decomposition, value, u, padded)


def test_decomposition_rejects_out_of_range():
    d = BitDecomposition(8, signed=True)
    with pytest.raises(ValueError, match="outside"):
        d.decompose(np.array([128]), "remainder")
    with pytest.raises(ValueError, match="outside"):
        d.decompose(np.array([-129]))


@pytest.mark.parametrize("poke", [None, (3, 0, 9, 1), (0, 1, 12, 0)])
def test_padding_zero_check(backend, rng, poke):
    """Bits [T'=4, B=2, d=16, w=2] of which 3 steps and 10 features are real."""
    layout = Layout.of(t=2, b=1, j=4, bit=1)
    real = {"t": 3, "j": 10}
    bits = np.random.default_rng(7).integers(0, 2, size=(4, 2, 16, 2))
    bits[3] = 0
    bits[:, :, 10:] = 0
    if poke is not None:
        bits[poke] = 1  # a nonzero witness in a padded step, or a padded feature

    def build(transcript):
        return [vg.padding_reduction("B", transcript.challenge_scalars(b"w", 8), layout, real)]

    if poke is None:
        (claim,) = _prove_and_verify(backend, build, {"B": bits})
        assert claim.value == _mle(bits, claim.point)
    else:
        with pytest.raises(VerifyError):
            _prove_and_verify(backend, build, {"B": bits})


def _prove_with_final_evals_tampered(backend, build, witness, i, j, factor):
    """Scale final evaluation j of instance i by ``factor`` and evaluation i by its inverse, so
    the product (and so the sumcheck's own final check) is unchanged: only the gadget's check
    of its public table can notice."""
    tp = Transcript(DOMAIN)
    proof, _ = prove_phase(tp, b"phase", backend, build(tp), witness)
    final = [list(e) for e in proof.final_evals]
    final[0][i] = final[0][i] * factor % R
    final[0][j] = final[0][j] * pow(factor, -1, R) % R
    tampered = dataclasses.replace(proof, final_evals=tuple(tuple(e) for e in final))
    tv = Transcript(DOMAIN)
    verify_phase(tv, b"phase", build(tv), tampered)


def test_wrong_public_table_evaluation_rejected(backend, rng):
    a, b, build = _matmul_case(rng, np.random.default_rng(1))
    with pytest.raises(VerifyError, match="eq over steps"):
        _prove_with_final_evals_tampered(backend, build, {"A": a, "B": b}, 0, 1, 2)
    _, _, build, witness = _hadamard_case(rng, np.random.default_rng(2))
    with pytest.raises(VerifyError, match="combined eq"):
        _prove_with_final_evals_tampered(backend, build, witness, 0, 2, 3)


def test_gadgets_refuse_malformed_shapes():
    """API guards: a step functional needs a power-of-two number of step weights, and claims
    reduced together on one tensor must be points of the same space."""
    with pytest.raises(ValueError, match="kappa must have a power-of-two length"):
        vg.step_functional_reduction("w", 0, [1, 2, 3], 0, [], [])
    claims = [Claim("A", (1, 2), 0), Claim("A", (1,), 0)]
    with pytest.raises(VerifyError, match="^A: claims of different dimensions$"):
        vg.multipoint_reduction("A", claims, [1, 1])


def test_linear_combination_needs_one_coefficient_per_value():
    """The walk folds slot values and claims with ``linear_combination``; a coefficient list of
    another length is a caller's bug that zip() would hide by dropping terms (a slot value
    left out of its recomposition)."""
    from verifier.values import linear_combination

    assert linear_combination([2, 3], [5, 7], 1) == 2 * 5 + 3 * 7 + 1
    with pytest.raises(ValueError, match=r"^2 coefficients for 3 values$"):
        linear_combination([2, 3], [5, 7, 11])
