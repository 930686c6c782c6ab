"""The claims ledger's prover (``prover.ledger``): its first round reads the committed int64
tensor and the claims' eq tables one at a time, and its messages must be those of the
materialized instance [E, T], bit for bit, over every prover backend. The soundness of the
ledger itself is the verifier's (``verifier.gadgets.multipoint_reduction``), tested end to end
by the phase-ledger attacks of tests/test_training_proof.py; here, a false claim on the lazy
instance is rejected by the round check as any other."""

from __future__ import annotations

import numpy as np
import pytest

from prover import phase
from prover.ledger import CombinedEqInstance
from prover.phase import prove_phase
from prover.sumcheck import Instance, instance_sum, product_instance, prove_sumcheck
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.gadgets import multipoint_reduction
from verifier.phase import verify_phase
from verifier.polynomial import eq_table, mle_evaluate
from verifier.sumcheck import verify_sumcheck
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/ledger"
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def _tensor(rng, num_vars: int) -> np.ndarray:
    """Committed-style int64 values, the extremes of int64 included."""
    values = [rng.randrange(-(2**62), 2**62) for _ in range(1 << num_vars)]
    values[0] = INT64_MIN
    values[-1] = INT64_MAX
    return np.array(values, dtype=np.int64)


def _claims(rng, name: str, values: np.ndarray, num_vars: int, m: int) -> list[Claim]:
    ints = [int(v) % R for v in values]
    points = [[rng.randrange(R) for _ in range(num_vars)] for _ in range(m)]
    return [Claim(name, u, mle_evaluate(ints, u)) for u in points]


def _materialized(backend, inst: CombinedEqInstance) -> Instance:
    combined = [sum(rho * e for rho, e in zip(inst.rho, col)) % R
                for col in zip(*(eq_table(u) for u in inst.points))]
    return Instance([backend.from_ints(combined), backend.from_int64(inst.values)], inst.terms)


@pytest.mark.parametrize("num_vars, m", [(1, 1), (1, 3), (4, 2), (6, 5)])
def test_ledger_phase_is_the_materialized_phase(backend, rng, num_vars, m, monkeypatch):
    """The ledger phase of two tensors (one of them shorter, so that it is fully bound while
    the other runs on): the same proof and the same claims with and without the lazy
    instance, and the verifier accepts them."""
    tensors = {"T": _tensor(rng, num_vars), "S": _tensor(rng, max(num_vars - 1, 1))}
    claims = {name: _claims(rng, name, v, v.size.bit_length() - 1, m) for name, v in tensors.items()}
    rho = {name: [rng.randrange(R) for _ in range(m)] for name in tensors}

    def proven():
        reductions = [multipoint_reduction(name, claims[name], rho[name]) for name in tensors]
        return prove_phase(Transcript(DOMAIN), b"phase-ledger", backend, reductions, tensors)

    lazy = proven()
    built = phase._instances(backend, [multipoint_reduction("T", claims["T"], rho["T"])], tensors)
    assert isinstance(built[0], CombinedEqInstance)
    monkeypatch.setattr(phase, "_ledger_instance", lambda *args: None)
    assert lazy == proven()
    reductions = [multipoint_reduction(name, claims[name], rho[name]) for name in tensors]
    out = verify_phase(Transcript(DOMAIN), b"phase-ledger", reductions, lazy[0])
    assert out == lazy[1]
    for claim in out:  # the claims the ledger hands to the opening are true
        assert claim.value == mle_evaluate([int(v) % R for v in tensors[claim.tensor]], list(claim.point))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.uint32, np.int64])
def test_machine_integer_tensors_take_the_lazy_instance(backend, rng, dtype):
    """The limbs are committed as int32: they too take the lazy path, to the same proof."""
    values = np.array([rng.randrange(0, 100) for _ in range(16)], dtype=dtype)
    claims = _claims(rng, "T", values, 4, 2)
    reduction = multipoint_reduction("T", claims, [3, 4])
    (inst,) = phase._instances(backend, [reduction], {"T": values})
    assert isinstance(inst, CombinedEqInstance)
    assert prove_phase(Transcript(DOMAIN), b"l", backend, [reduction], {"T": values}) == \
        prove_phase(Transcript(DOMAIN), b"l", backend, [reduction], {"T": values.astype(object)})


def test_lazy_instance_batched_with_longer_instances(backend, rng):
    """In a batch whose other instance has more variables, the ledger instance's rounds and
    final values are the materialized one's."""
    values = _tensor(rng, 3)
    points = [[rng.randrange(R) for _ in range(3)] for _ in range(2)]
    lazy = CombinedEqInstance(points, [5, 7], values)
    other = [rng.randrange(R) for _ in range(32)], [rng.randrange(R) for _ in range(32)]

    def prove(inst):
        batch = [inst, product_instance(*(backend.from_ints(t) for t in other))]
        claims = [instance_sum(backend, i) for i in batch]
        return claims, prove_sumcheck(Transcript(DOMAIN), backend, batch, claims)

    claims, (proof, point) = prove(lazy)
    assert (claims, (proof, point)) == prove(_materialized(backend, lazy))
    shapes = [lazy.shape(backend), product_instance(*(backend.from_ints(t) for t in other)).shape(backend)]
    verify_sumcheck(Transcript(DOMAIN), shapes, claims, proof)


def test_false_claim_on_the_lazy_instance_rejected(backend, rng):
    """A claimed sum off by one: the first round's s(0) + s(1), computed from the tensor, misses it."""
    values = _tensor(rng, 4)
    inst = CombinedEqInstance([[rng.randrange(R) for _ in range(4)]], [1], values)
    false = (instance_sum(backend, inst) + 1) % R
    proof, _ = prove_sumcheck(Transcript(DOMAIN), backend, [inst], [false])
    with pytest.raises(VerifyError, match=r"^sumcheck round 0: p\(0\) \+ p\(1\) does not match the claim$"):
        verify_sumcheck(Transcript(DOMAIN), [inst.shape(backend)], [false], proof)


@pytest.mark.parametrize("size, points, rho, error", [
    (8, [[1, 2]], [1], "8 values for a ledger instance of 2 variables"),
    (1, [[]], [1], "1 values for a ledger instance of 0 variables"),
    (4, [[1, 2], [3]], [1, 1], "all of one dimension"),
    (4, [[1, 2]], [1, 2], "one coefficient per claim"),
])
def test_lazy_instance_refuses_inconsistent_arguments(size, points, rho, error):
    with pytest.raises(ValueError, match=error):
        CombinedEqInstance(points, rho, np.zeros(size, dtype=np.int64))
