"""Function-table lookups over logUp-GKR and the exp(-d) gadget built on them.

The gadgets run standalone over the training walk's channels of both modes, as in
``tests/test_logup.py``: the prover channels write the messages, the verifier channels read
and check them, and "accepted" means what a caller checks: every returned claim is a true
evaluation of the committed tensors (by direct MLE evaluation; in the ZK mode the verifier
holds the prover's commitments to those values). Each soundness test is written as a
cheating prover would (a witness edited before proving, or a channel that sends other
messages) and asserts the rejection of the one check meant to catch it.
"""

from __future__ import annotations

import math
import random
from decimal import ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction

import numpy as np
import pytest

from circuits import exp as cexp
from circuits.tables import PINNED, FunctionTable, exp_tables
from prover import logup as pl
from prover.backends import get_backend
from prover.commit import group
from prover.commit.generators import prover_generators
from prover.exp import exp_witness
from prover.training import ProverChannel
from prover.zk_training import ZkProverChannel
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.exp import ExpGadget, ExpWalk
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.logup import (
    FunctionLookup,
    LogupStatement,
    LogupWalk,
    begin,
    function_multiplicity_name,
)
from verifier.polynomial import mle_evaluate
from verifier.training import VerifierChannel
from verifier.zk_training import ZkVerifierChannel

MODES = {"clear": (ProverChannel, VerifierChannel), "zk": (ZkProverChannel, ZkVerifierChannel)}
E0, E1 = exp_tables(16, 16)


@pytest.fixture(params=list(MODES))
def mode(request):
    return request.param


def _mle(arr, point):
    return mle_evaluate([int(v) for v in np.asarray(arr).reshape(-1)], point)


# --- the walk under test: exp's reductions, then the one logUp statement ------------------------


def _statement(gadget):
    return LogupStatement(gadget.range_tensors(), gadget.lookups())


def _run(walk_types, gadget, channel, d_claim, p_claims=()):
    """What a caller of the gadget runs: d's claim split into limbs, claims on P reduced, the
    rescale zero-check, then the logUp statement (its lookups and range checks)."""
    exp_walk, logup_walk = walk_types
    ew = exp_walk(gadget, channel)
    claims = ew.split_input(d_claim)
    if p_claims:
        claims += ew.product(p_claims)
    claims += ew.rescale()
    return claims + logup_walk(_statement(gadget), channel).run()


class _RecklessExp(ExpWalk):
    """The prover's walks without their own checks: a cheating prover sends its messages
    regardless, and the verifier must catch it."""

    @staticmethod
    def _require(ok, reason):
        pass


class _RecklessLogup(LogupWalk):
    @staticmethod
    def _require(ok, reason):
        pass


def _prover_channel(mode, witness, channel=None):
    return (channel or MODES[mode][0])(None, dict(witness), get_backend("cpu"), None, random.Random(1))


def _prove(mode, gadget, witness, d_claim, **kw):
    ch = _prover_channel(mode, witness)
    claims = _run((_RecklessExp, _RecklessLogup), gadget, ch, d_claim, **kw)
    return ch.proof_bytes(), claims


def _verify(mode, gadget, proof, d_claim, **kw):
    ch = MODES[mode][1](None, {}, proof, pedersen_generators())
    claims = _run((ExpWalk, LogupWalk), gadget, ch, d_claim, **kw)
    ch.reader.finish()
    return claims


def _claims_true(mode, prover_claims, claims, tensors) -> bool:
    if [(c.tensor, c.point) for c in claims] != [(c.tensor, c.point) for c in prover_claims]:
        return False
    if mode == "zk":
        gens = prover_generators()
        if any(v.value.to_bytes() != group.to_bytes(p.value.commitment(gens)) for v, p in zip(claims, prover_claims)):
            return False
    values = [getattr(c.value, "value", c.value) for c in prover_claims]
    return all(_mle(tensors[c.tensor], c.point) == v % R for c, v in zip(prover_claims, values))


def _d_claim(d, n, seed=7):
    u = tuple(random.Random(seed).randrange(R) for _ in range(n))
    return Claim("d", u, _mle(d, u))


def _honest(gadget, d):
    witness = exp_witness(gadget, d)
    return {**witness, **pl.multiplicities(_statement(gadget), witness)}


D_EDGES = [0, 1, (1 << 16) - 1, 1 << 16, 11 << 16, (12 << 16) - 1, 12 << 16, (1 << 32) - 1]


def _inputs(n=3):
    rng = np.random.default_rng(3)
    d = np.concatenate([D_EDGES, rng.integers(0, 1 << 32, 1 << n)])[: 1 << n]
    return d.astype(np.int64)


# --- completeness ------------------------------------------------------------------------------


def test_exp_gadget_complete(mode):
    """Edges (0, limb boundaries, the underflow boundary, 2^32 - 1) and random inputs; claims
    on the virtual P too (the softmax path); every claim a true evaluation."""
    gadget = ExpGadget("x", 4)
    d = _inputs(4)
    witness = _honest(gadget, d)
    p = cexp.exp_neg_product(d)
    p_claims = [Claim("P", u, _mle(p, u)) for u in (tuple(range(5, 9)), tuple(range(20, 24)))]
    kw = {"p_claims": p_claims}
    proof, prover_claims = _prove(mode, gadget, witness, _d_claim(d, 4), **kw)
    claims = _verify(mode, gadget, proof, _d_claim(d, 4), **kw)
    assert {c.tensor for c in claims} == {*witness}
    assert _claims_true(mode, prover_claims, claims, witness)


# --- the tables ------------------------------------------------------------------------------


def _decimal_row(k: int, step: Fraction, out_bits: int) -> int:
    """round half up of 2^out_bits e^(-k step) by decimal's correctly rounded exp (60 digits)."""
    with localcontext() as ctx:
        ctx.prec = 60
        x = Decimal(-k * step.numerator) / Decimal(step.denominator)
        return int((Decimal(1 << out_bits) * x.exp()).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("table, step", [(E0, Fraction(1, 1 << 16)), (E1, Fraction(1))], ids=["E0", "E1"])
def test_every_table_row_is_exact(table, step):
    """All 2^16 rows against an independent reference (decimal, not the generator's recurrence)."""
    assert list(table.outputs) == [_decimal_row(k, step, 16) for k in range(1 << 16)]


def test_other_output_scales_are_exact():
    e0, e1 = exp_tables(16, 24)
    rows = [0, 1, 2, 1000, 45426, 65535]
    assert [e0.outputs[k] for k in rows] == [_decimal_row(k, Fraction(1, 1 << 16), 24) for k in rows]
    assert [e1.outputs[k] for k in rows] == [_decimal_row(k, Fraction(1), 24) for k in rows]


def test_table_digests_are_pinned():
    assert E0.digest == PINNED[E0.name] == "27aaa3d2e4c9b437aeb0f62dfc7feaf8c786195ab9424ace20f3068f2fcd5010"
    assert E1.digest == PINNED[E1.name] == "e0986abc240aad2f6a2677b9f93ca789be1b398730c5e8916caf02c7a10f7319"
    other = FunctionTable(E0.name, 16, (E0.outputs[0] + 1,) + E0.outputs[1:])
    assert other.digest != E0.digest


def test_a_table_off_its_pin_is_refused(monkeypatch):
    monkeypatch.setitem(PINNED, E0.name, "00" * 32)
    with pytest.raises(ArithmeticError, match="differs from the pinned"):
        exp_tables.__wrapped__(16, 16)


def test_table_mle(rng):
    point = [rng.randrange(R) for _ in range(16)]
    assert E0.mle(point, R) == mle_evaluate(list(E0.outputs), point)
    assert E1.mle([1, 1, 0] + [0] * 13, R) == E1.outputs[3]
    with pytest.raises(ValueError, match="coordinates"):
        E0.mle(point[:15], R)


def test_table_validation():
    with pytest.raises(ValueError, match="outputs for"):
        FunctionTable("t", 2, (0, 1, 2))
    with pytest.raises(ValueError, match="R_T"):
        exp_tables(15, 16)
    with pytest.raises(ValueError, match="2 R_T - R"):
        cexp.exp_neg_fixed(np.array([0]), 16, 8)


# --- exp semantics -------------------------------------------------------------------------------


def test_exp_edges_and_underflow():
    assert E0.outputs[0] == E1.outputs[0] == 1 << 16
    b = cexp.underflow_limb()
    assert b == 12 and E1.outputs[b - 1] > 0 and not any(E1.outputs[b:])
    d = np.array([0, (b << 16) - 1, b << 16, (1 << 32) - 1])
    assert cexp.exp_neg_product(d).tolist() == [1 << 32, E0.outputs[-1] * E1.outputs[b - 1], 0, 0]
    assert cexp.exp_neg_fixed(d).tolist() == [1 << 16, 0, 0, 0]
    for bad in (-1, 1 << 32):
        with pytest.raises(ValueError, match="outside"):
            cexp.exp_neg_fixed(np.array([0, bad]))


def test_exp_against_float_within_the_bound():
    """|Y/2^R - e^(-d/2^R)| <= error_bound, |P/2^2T - e^(-d/2^R)| <= product_error_bound, with
    float64 exp (its own error, below 2^-50 here, added to the bound)."""
    rng = np.random.default_rng(5)
    b = cexp.underflow_limb()
    d = np.concatenate([D_EDGES, [(b << 16) + 1, (b << 16) - 2, 46000], rng.integers(0, 1 << 32, 2000),
                        rng.integers(0, b << 16, 2000)])
    y, p = cexp.exp_neg_fixed(d), cexp.exp_neg_product(d)
    slack = Fraction(1, 1 << 50)
    worst = Fraction(0)
    for di, yi, pi in zip(d.tolist(), y.tolist(), p.tolist()):
        ref = Fraction(math.exp(-di / 65536))
        assert abs(Fraction(pi, 1 << 32) - ref) <= cexp.product_error_bound() + slack
        worst = max(worst, abs(Fraction(yi, 1 << 16) - ref))
    assert worst <= cexp.error_bound() + slack
    assert cexp.error_bound() == Fraction(3, 1 << 17) + Fraction(1, 1 << 34)  # 1.5 units of 2^-16


# --- soundness: the cheater's tools ----------------------------------------------------------------


def _cheat_counts(st, witness):
    """The cheater's best multiplicities: every limb in its table and every pair that is a row
    of its table is counted (what no honest prover would commit is left out)."""
    counts = {}
    for t in st.tensors:
        cols = np.asarray(witness[t.name]).reshape(-1, t.decomposition.padded_width)
        for i, b in enumerate(t.decomposition.slot_widths):
            col = cols[:, i].astype(np.int64)
            m = counts.setdefault(f"logup.m{b}", np.zeros(1 << b, dtype=np.int64))
            m += np.bincount(col[(col >= 0) & (col < 1 << b)], minlength=1 << b)
    for lk in st.lookups:
        m = counts.setdefault(function_multiplicity_name(lk.table), np.zeros(1 << 16, dtype=np.int64))
        for x, y in zip(np.asarray(witness[lk.input]).reshape(-1), np.asarray(witness[lk.output]).reshape(-1)):
            if 0 <= x < 1 << 16 and lk.table.outputs[int(x)] == y:
                m[int(x)] += 1
    return {**witness, **counts}


def _consistent(gadget, witness, p=None):
    """Y and Rem (k = 16) recomputed from P = e0 e1 (or the cheater's own P), so that only the
    check meant for the edited tensor can object."""
    y_t, rem_t = gadget.range_tensors()
    if p is None:
        e0, e1 = (np.asarray(witness[gadget.tensor(part)], dtype=object) for part in ("e0", "e1"))
        p = e0 * e1
    y = (p + (1 << 15)) // (1 << 16)
    rem = p - (y << 16)
    return {**witness, y_t.name: y_t.decomposition.decompose(y.astype(np.int64)).astype(np.int64),
            rem_t.name: rem_t.decomposition.decompose(rem.astype(np.int64)).astype(np.int64)}


def _exp_rejected(mode, gadget, witness, match, d=None, **kw):
    """The cheater's proof against the claim on the honest d (the upstream claim it cannot
    change), rejected with ``match``."""
    d = _inputs(gadget.value_vars) if d is None else d
    claim = _d_claim(d, gadget.value_vars)
    proof, _ = _prove(mode, gadget, witness, claim, **kw)
    with pytest.raises(VerifyError, match=match):
        _verify(mode, gadget, proof, claim, **kw)


GADGET = ExpGadget("x", 3)
TOP = "^logup-top: "


def _edited(**edits):
    """GADGET's honest witness of ``_inputs`` with entry 1 of some tensors replaced."""
    witness = exp_witness(GADGET, _inputs(GADGET.value_vars))
    for part, value in edits.items():
        a = witness[GADGET.tensor(part)].astype(object)
        a[1] = value
        witness[GADGET.tensor(part)] = a
    return witness


# --- soundness of the exp gadget -------------------------------------------------------------------


def test_pair_from_another_row(mode):
    """(z0, E0) of another row: e0 = E0[z0 + 1]; Y, Rem follow the cheater's P."""
    z0 = int(_edited()[GADGET.tensor("z0")][1])
    witness = _consistent(GADGET, _edited(e0=E0.outputs[z0 + 1]))
    assert E0.outputs[z0 + 1] != E0.outputs[z0]
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), TOP)


@pytest.mark.parametrize("part", ["e0", "e1"])
def test_looked_up_output_off_by_one(mode, part):
    honest = _edited()
    witness = _consistent(GADGET, _edited(**{part: int(honest[GADGET.tensor(part)][1]) + 1}))
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), TOP)


def test_output_off_by_one_with_compensating_remainder(mode):
    """Y + 1 and Rem - 2^16: the identity P = 2^16 Y + Rem holds, Rem's range check fails."""
    witness = _edited()
    y_t, rem_t = GADGET.range_tensors()
    p = cexp.exp_neg_product(_inputs(3))
    y, rem = y_t.decomposition.compose(witness[y_t.name]), rem_t.decomposition.compose(witness[rem_t.name])
    y[1], rem[1] = y[1] + 1, rem[1] - (1 << 16)
    assert ((y << 16) + rem == p).all()
    witness[y_t.name] = y_t.decomposition.decompose(y).astype(np.int64)
    witness[rem_t.name] = rem - rem_t.decomposition.offset  # one limb: Rem + 2^15, here negative
    witness[rem_t.name] = witness[rem_t.name].reshape(-1, 1)
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), TOP)


@pytest.mark.parametrize("what", ["Y", "P"])
def test_rescale_off_by_one(mode, what):
    """Y + 1 with Rem kept, or Y and Rem the rounding of P + 1: both in range, the
    zero-check of P = 2^16 Y + Rem fails."""
    p = cexp.exp_neg_product(_inputs(3)).astype(object)
    p[1] += 1
    witness = _consistent(GADGET, _edited(), p if what == "P" else None)
    if what == "Y":
        y_t = GADGET.range_tensors()[0]
        y = y_t.decomposition.compose(witness[y_t.name])
        y[1] += 1
        witness[y_t.name] = y_t.decomposition.decompose(y).astype(np.int64)
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), "^exp-rescale: (zk )?sumcheck round 0")


def test_claim_on_P_off_by_one(mode):
    """The consumer's claim on the virtual P (a softmax numerator) one too high."""
    d = _inputs(3)
    u = tuple(range(3, 6))
    p_claims = [Claim("P", u, _mle(cexp.exp_neg_product(d), u) + 1)]
    _exp_rejected(mode, GADGET, _honest(GADGET, d), "^exp-product: (zk )?sumcheck round 0", p_claims=p_claims)


@pytest.mark.parametrize("part", ["e0", "e1"])
def test_product_on_a_forged_table_hands_back_a_false_claim(mode, part):
    """The claim on P one too high (as above), but the prover runs the exp-product sumcheck on
    a forged ``part`` (one entry moved so that the sum is the false total): every round is then
    consistent and the gadget accepts. What stands in the way is the claim its ``finish`` hands
    back on ``part``, which is false, so the caller's ledger rejects it. The attack names that
    hand-off: dropped from ``finish`` (the mutation tool's ``claim`` operator), the false P
    would pass."""
    d = _inputs(3)
    witness = _honest(GADGET, d)
    d_claim = _d_claim(d, 3)
    p_claims = [Claim("P", tuple(range(3, 6)), _mle(cexp.exp_neg_product(d), tuple(range(3, 6))) + 1)]
    name, other = GADGET.tensor(part), GADGET.tensor("e1" if part == "e0" else "e0")

    class Forging(MODES[mode][0]):
        def _prove_phase(self, label, reductions):
            if label != b"exp-product":
                return super()._prove_phase(label, reductions)
            points, rho = reductions[0].tables[0][0].args  # the combined eq E over the claims
            e_at_0 = sum(r * math.prod(1 - x for x in u) for r, u in zip(rho, points)) % R
            honest = self.witness[name]
            forged = np.asarray(honest, dtype=object).reshape(-1).copy()
            # The total rises by rho_0 (claim 0 is one too high): so does E(0) o(0) f(0).
            forged[0] = (int(forged[0]) + rho[0] * pow(e_at_0 * int(np.asarray(self.witness[other]).reshape(-1)[0]), -1, R)) % R
            self.witness[name] = forged.reshape(np.shape(honest))
            try:
                return super()._prove_phase(label, reductions)
            finally:
                self.witness[name] = honest

    ch = _prover_channel(mode, witness, Forging)
    prover = _RecklessExp(GADGET, ch)
    prover.split_input(d_claim)
    product = prover.product(p_claims)
    prover.rescale()
    _RecklessLogup(_statement(GADGET), ch).run()

    verifier_channel = MODES[mode][1](None, {}, ch.proof_bytes(), pedersen_generators())
    walk = ExpWalk(GADGET, verifier_channel)
    walk.split_input(d_claim)
    handed = walk.product(p_claims)  # accepted: the forged sumcheck is consistent
    walk.rescale()
    LogupWalk(_statement(GADGET), verifier_channel).run()
    verifier_channel.reader.finish()
    assert [c.tensor for c in handed] == [GADGET.tensor("e0"), GADGET.tensor("e1")]
    assert _claims_true(mode, product, handed, witness) is False
    (false,) = [c for c in product if c.tensor == name]
    assert getattr(false.value, "value", false.value) % R != _mle(witness[name], false.point)


@pytest.mark.parametrize("z0, z1", [(1 << 16, 0), (5, 1 << 16), (6, -pow(1 << 16, -1, R) % R)],
                         ids=["low-limb-2^16", "d-past-2^32", "field-fraction-limb"])
def test_index_outside_the_table_domain(mode, z0, z1):
    """Limbs that recompose d in the field but are no table index: 2^16 in the low limb
    (d = 2^16), a top limb of 2^16 (d = 2^32 + 5, which no limb pair of [0, 2^16) reaches),
    a top limb of -1/2^16 mod r (d = 5 = 6 - 1): the scaled-limb trick of rule 0.4, whose
    pairs with the tables' outputs are no rows."""
    d = _inputs(3).astype(object)
    d[1] = 0
    witness = {k: v.astype(object) for k, v in exp_witness(GADGET, d).items()}
    d[1] = (z0 + (z1 << 16)) % R  # the d of the upstream claim, which the limbs recompose
    for part, value in (("z0", z0), ("z1", z1), ("e0", E0.outputs[z0 % (1 << 16)]), ("e1", 0)):
        witness[GADGET.tensor(part)][1] = value  # e1 = 0: "saturated" past the underflow
    witness = _consistent(GADGET, witness)
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), TOP, d=d)


def test_wrong_multiplicity(mode):
    witness = _honest(GADGET, _inputs(3))
    name = function_multiplicity_name(E0)
    witness[name][int(witness[GADGET.tensor("z0")][2])] += 1
    _exp_rejected(mode, GADGET, witness, TOP)


def test_limbs_must_recompose_d(mode):
    """Valid limbs and rows, for another d (z1 + 1): only the recomposition check sees it."""
    honest = _edited()
    z1 = int(honest[GADGET.tensor("z1")][1]) + 1
    witness = _consistent(GADGET, _edited(z1=z1, e1=E1.outputs[z1]))
    _exp_rejected(mode, GADGET, _cheat_counts(_statement(GADGET), witness), "^exp x: the limbs do not recompose d$")


# --- soundness of function lookups on their own -----------------------------------------------------

X = np.array([3, 5, 0, 65535, 3, 100, 7, 9], dtype=np.int64)


def _lookup_statement(*tables):
    """Lookups (X, Y) of E0 (and (U, V) of a second table): 8 values each."""
    lookups = [FunctionLookup("X", "Y", tables[0], 3)]
    if len(tables) > 1:
        lookups.append(FunctionLookup("U", "V", tables[1], 3))
    return LogupStatement((), tuple(lookups))


def _lookup_witness(st, **edits):
    """Honest columns (X, and U = X + 1 mod 2^16) with edits {name: (index, value)}, cheat-counted."""
    witness = {}
    for lk, x in zip(st.lookups, (X, (X + 1) % (1 << 16))):
        witness[lk.input] = x.astype(object)
        witness[lk.output] = np.array([lk.table.outputs[int(v)] for v in x], dtype=object)
    for name, (i, v) in edits.items():
        witness[name][i] = v
    return _cheat_counts(st, witness)


def _lookup_channel(mode, leaves_of):
    """The mode's prover channel building its trees over ``leaves_of``'s leaves (the
    malicious-prover hook of ``prover.logup.derive_tables``)."""

    class Channel(MODES[mode][0]):
        def fractions(self, statement, challenges):
            self.derived.update(pl.derive_tables(self.backend, statement, challenges, self.witness, leaves_of))
            (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
            return q_top

    return Channel


def _absorbing(witness):
    """Both sides absorb every witness tensor before the walk: a binding commitment to it."""

    def absorb(transcript):
        for name in sorted(witness):
            transcript.absorb_scalars(f"commitment:{name}".encode(), [int(v) % R for v in np.ravel(witness[name])])

    return absorb


def _lookup_proof(mode, st, witness, channel=None, absorb=None):
    ch = _prover_channel(mode, witness, channel)
    if absorb:
        absorb(ch.transcript)
    claims = _RecklessLogup(st, ch).run()
    return ch.proof_bytes(), claims


def _lookup_verify(mode, st, proof, absorb=None):
    ch = MODES[mode][1](None, {}, proof, pedersen_generators())
    if absorb:
        absorb(ch.transcript)
    claims = LogupWalk(st, ch).run()
    ch.reader.finish()
    return claims


def test_function_lookups_complete(mode):
    """Two tables, and the claims returned: multiplicities, then both columns of each pair."""
    st = _lookup_statement(E0, E1)
    witness = _lookup_witness(st)
    assert all((witness[n] == m).all() for n, m in pl.multiplicities(st, witness).items())
    proof, prover_claims = _lookup_proof(mode, st, witness)
    claims = _lookup_verify(mode, st, proof)
    assert [c.tensor for c in claims] == [function_multiplicity_name(E0), function_multiplicity_name(E1), "X", "Y", "U", "V"]
    assert _claims_true(mode, prover_claims, claims, witness)


def test_gamma_is_drawn_after_the_commitments(mode):
    """A prover that knows gamma before committing folds any pair onto a row: X = j + gamma delta,
    Y = f(j) - delta gives X + gamma Y = j + gamma f(j). Where nothing is absorbed before the
    gadget (gamma a function of the statement alone) the cheat is accepted; the walk's callers
    absorb every commitment first, and then the predicted gamma is the wrong one."""
    st = _lookup_statement(E0)
    gamma = begin(_prover_channel(mode, {}).transcript, st).gamma
    witness = _lookup_witness(st, X=(1, 5 + gamma * 7 % R), Y=(1, E0.outputs[5] - 7))
    witness[function_multiplicity_name(E0)][5] += 1
    proof, prover_claims = _lookup_proof(mode, st, witness)
    assert _claims_true(mode, prover_claims, _lookup_verify(mode, st, proof), witness)  # gamma first: unsound
    absorb = _absorbing(witness)
    proof, _ = _lookup_proof(mode, st, witness, absorb=absorb)
    with pytest.raises(VerifyError, match=TOP):
        _lookup_verify(mode, st, proof, absorb)


def test_table_of_another_function(mode):
    """V = E0[U] at one entry, counted in E0's multiplicities: the rows of E0 and E1 (both
    2^16 rows) differ only by their tags alpha t_f."""
    st = _lookup_statement(E0, E1)
    u = int(X[1] + 1)
    witness = _lookup_witness(st, V=(1, E0.outputs[u]))
    witness[function_multiplicity_name(E0)][u] += 1
    proof, _ = _lookup_proof(mode, st, witness)
    with pytest.raises(VerifyError, match=TOP):
        _lookup_verify(mode, st, proof)


def test_pair_counted_in_a_range_table(mode):
    """(3, 0) is no row of E1 (E1[3] = 3263), but 3 is a row of the 16-bit range table: a pair
    (x, 0) tagged like a range table would match it. Function tags lie above every width."""
    gadget = ExpGadget("x", 3)
    d = _inputs(3)
    d[1] = 3 << 16
    witness = exp_witness(gadget, d)
    witness[gadget.tensor("e1")][1] = 0
    witness = _cheat_counts(_statement(gadget), _consistent(gadget, witness))
    witness["logup.m16"][3] += 1
    _exp_rejected(mode, gadget, witness, TOP, d=d)


def test_pair_must_fold_to_the_leaf_claim(mode):
    """The pair tree is built over an honest Y while the committed Y (whose evaluation the
    prover sends) holds a non-row: only the fold check links the tree to the columns."""
    st = _lookup_statement(E0)
    honest = _lookup_witness(st)
    witness = {**honest, "Y": honest["Y"].copy()}
    witness["Y"][2] += 1

    def leaves_of(backend, tree, challenges, _witness):
        return pl.leaves(backend, tree, challenges, honest)

    proof, _ = _lookup_proof(mode, st, witness, _lookup_channel(mode, leaves_of))
    with pytest.raises(VerifyError, match="^logUp: X\\+Y: the pair does not fold to the denominator claim$"):
        _lookup_verify(mode, st, proof)


def _editing(key, edit):
    def leaves_of(backend, tree, challenges, witness):
        p, q = pl.leaves(backend, tree, challenges, witness)
        if tree.key == key:
            p, q = backend.to_ints(p), backend.to_ints(q)
            edit(p, q, challenges)
            p, q = backend.from_ints(p), backend.from_ints(q)
        return p, q

    return leaves_of


def test_pair_numerator_must_be_one(mode):
    """The non-row pair's leaf gets numerator 0, dropping it from the sum. The pair tree's
    last GKR step takes its leaves' numerators as the public 1 (``leaf_layer_shape``), so
    that step's sumcheck rejects (the parents' claim is not its sum)."""
    st = _lookup_statement(E0)
    witness = _lookup_witness(st, Y=(2, E0.outputs[0] + 1))

    def edit(p, q, challenges):
        p[2] = 0

    proof, _ = _lookup_proof(mode, st, witness, _lookup_channel(mode, _editing("X+Y", edit)))
    round_check = {"clear": "sumcheck round 0: p\\(0\\) \\+ p\\(1\\) does not match the claim$",
                   "zk": "zk sumcheck round 0: proof of dot product"}[mode]
    with pytest.raises(VerifyError, match=f"^logup-trees: {round_check}"):
        _lookup_verify(mode, st, proof)


def test_function_table_denominators_are_the_verifiers(mode):
    """The cheater writes its non-row pair into an unused row (j = 1) of E0's table tree and
    counts it there; only the table's denominator check, against the verifier's own E0, sees it."""
    st = _lookup_statement(E0)
    assert 1 not in X
    bad = E0.outputs[0] + 1
    witness = _lookup_witness(st, Y=(2, bad))
    witness[function_multiplicity_name(E0)][1] = 1

    def edit(p, q, challenges):
        q[1] = (challenges.shift(st.function_tag(E0)) - 0 - challenges.gamma * bad) % R

    proof, _ = _lookup_proof(mode, st, witness, _lookup_channel(mode, _editing("logup.f.exp0.R16.T16", edit)))
    with pytest.raises(VerifyError, match="^logUp: table exp0.R16.T16 has a wrong denominator claim$"):
        _lookup_verify(mode, st, proof)


@pytest.mark.parametrize("other", ["tensor", "table"])
def test_lookups_are_bound_by_the_transcript(mode, other):
    """A proof checked against a statement with the very same trees (another tensor name, or
    a table of another name and digest but the same size and tag): only the absorb of the
    lookups tells them apart, at the top tree's GKR (four roots: one round past its first
    step, which holds for any challenge in the clear mode)."""
    st = _lookup_statement(E0, E1)
    proof, _ = _lookup_proof(mode, st, _lookup_witness(st))
    if other == "tensor":
        twin = LogupStatement((), (FunctionLookup("X", "Z", E0, 3), st.lookups[1]))
    else:
        forged = FunctionTable("e0", 16, E0.outputs[:-1] + (7,))
        twin = LogupStatement((), (FunctionLookup("X", "Y", forged, 3), st.lookups[1]))
    assert [(t.num_vars, t.bits) for t in twin.trees()] == [(t.num_vars, t.bits) for t in st.trees()]
    _lookup_verify(mode, st, proof)  # positive control
    with pytest.raises(VerifyError, match=TOP):
        _lookup_verify(mode, twin, proof)


def test_lookup_statement_validation():
    with pytest.raises(ValueError, match="at least one"):
        LogupStatement(())
    with pytest.raises(ValueError, match="distinct keys"):
        LogupStatement((), (FunctionLookup("X", "Y", E0, 3), FunctionLookup("X", "Y", E1, 3)))
    with pytest.raises(ValueError, match="two different tables"):
        LogupStatement((), (FunctionLookup("X", "Y", E0, 3), FunctionLookup("U", "V", FunctionTable(E0.name, 1, (1, 2)), 3)))
    with pytest.raises(ValueError, match="value_vars"):
        FunctionLookup("X", "Y", E0, -1)
    with pytest.raises(ValueError, match="index bits"):
        FunctionLookup("X", "Y", FunctionTable("big", 17, (0,) * (1 << 17)), 3)
    st = _lookup_statement(E0)
    with pytest.raises(ValueError, match="outside the table"):
        pl.multiplicities(st, {"X": np.array([0, 1, 2, 3, 4, 5, 6, 1 << 16]), "Y": np.zeros(8, dtype=np.int64)})
    with pytest.raises(ValueError, match="not exp0"):
        pl.multiplicities(st, {"X": X, "Y": np.zeros(8, dtype=np.int64)})
    with pytest.raises(ValueError, match="expected 2\\^3"):
        pl.multiplicities(st, {"X": X[:4], "Y": X[:4]})


def test_zk_layout_depends_on_the_statement_only():
    """Two inputs of one exp gadget (one saturating, one at 0) give ZK proofs of one length."""
    lengths = set()
    for d in (_inputs(3), np.array([0] * 4 + [(1 << 32) - 1] * 4)):
        lengths.add(len(_prove("zk", GADGET, _honest(GADGET, d), _d_claim(d, 3))[0]))
    assert len(lengths) == 1
