"""The limb range gadget (logUp-GKR): completeness, soundness, and parity with the bit gadget.

"Accepted" means what a caller of the gadget checks: the verifier returns claims, and every
claim is a true evaluation of the committed tensors (here by direct MLE evaluation; one test
runs the whole loop with Hyrax commitments and openings). Each soundness test is built so
that exactly one check of the verifier catches it, which shows that check necessary.
"""

from __future__ import annotations

import numpy as np
import pytest

from circuits.bits import BitDecomposition
from circuits.limbs import LimbDecomposition
from prover import gadgets as pgad
from prover import logup as pl
from prover.backends import get_backend
from prover.commit import hyrax as ph
from prover.phase import prove_phase
from verifier import gadgets as vgad
from verifier import hyrax as vh
from verifier import logup as vl
from verifier.errors import VerifyError
from verifier.field import MODULUS as R, inv
from verifier.logup import LogupProof, LogupStatement, RangeTensor, verify_range_limbs
from verifier.phase import verify_phase
from verifier.polynomial import mle_evaluate
from verifier.sumcheck import SumcheckProof
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/logup"


@pytest.fixture(scope="module")
def cpu():
    return get_backend("cpu")


def _mle(arr, point):
    return mle_evaluate([int(v) for v in np.asarray(arr).reshape(-1)], point)


def _prove(backend, st, limbs, mults, hook=None):
    """The prover; ``hook(challenges, leaves)`` may replace the trees' leaves (malicious prover)."""
    t = Transcript(DOMAIN)
    if hook is None:
        return pl.prove_range_limbs(t, backend, st, limbs, mults)
    challenges = vl.begin(t, st)
    columns = pl.slot_columns(st, limbs)
    leaves = [pl.leaves(backend, tree, challenges, columns, mults) for tree in st.trees()]
    proof, _ = pl.prove_trees(t, backend, st, hook(backend, challenges, leaves))
    return proof, None


def _verify(st, proof):
    return verify_range_limbs(Transcript(DOMAIN), st, LogupProof.from_bytes(proof.to_bytes(), st))


def _claims_true(claims, tensors) -> bool:
    return all(_mle(tensors[c.tensor], c.point) == c.value for c in claims)


def _accepts(backend, st, limbs, mults, hook=None) -> bool:
    proof, _ = _prove(backend, st, limbs, mults, hook)
    try:
        claims = _verify(st, proof)
    except VerifyError:
        return False
    return _claims_true(claims, {**limbs, **mults})


def _cheat_counts(st, limbs):
    """The cheater's best multiplicities: every slot value that lies in its table is counted."""
    counts = {b: np.zeros(1 << b, dtype=np.int64) for b in st.table_bits()}
    for t in st.tensors:
        cols = np.asarray(limbs[t.name]).reshape(-1, t.decomposition.padded_width)
        for i, b in enumerate(t.decomposition.slot_widths):
            col = cols[:, i]
            counts[b] += np.bincount(col[(col >= 0) & (col < 1 << b)], minlength=1 << b)
    return {vl.multiplicity_name(b): m for b, m in counts.items()}


def _one(name, decomposition, values):
    """A statement of one tensor (a power-of-two number of values) with its limbs (int64)."""
    values = np.asarray(values, dtype=np.int64)
    n = (values.size - 1).bit_length()
    assert values.size == 1 << n
    slots = decomposition.decompose(values).astype(np.int64)
    return LogupStatement((RangeTensor(name, decomposition, n),)), {name: slots}


# --- the decomposition --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "width, signed, slots, weights",
    [
        (48, False, (16, 16, 16), [1, 1 << 16, 1 << 32, 0]),
        (17, False, (16, 1), [1, 1 << 16]),
        (32, True, (16, 15, 1), [1, 1 << 16, -(1 << 31), 0]),
        (16, True, (15, 1), [1, -(1 << 15)]),
        (1, True, (1,), [-1]),
        (1, False, (1,), [1]),
        (63, False, (16, 16, 16, 15), [1, 1 << 16, 1 << 32, 1 << 48]),
    ],
)
def test_slots_and_weights(width, signed, slots, weights):
    d = LimbDecomposition(width, signed)
    assert d.slot_widths == slots and d.weights() == weights
    assert d.padded_width == len(weights) and sum(slots) == width
    bits = BitDecomposition(width, signed)
    assert (d.min_value, d.max_value) == (bits.min_value, bits.max_value)


@pytest.mark.parametrize(
    "d", [LimbDecomposition(48, False, -(1 << 47)), LimbDecomposition(32, True, 1), LimbDecomposition(17, False),
          LimbDecomposition(9, True, 3, limb_bits=4)],
)
def test_decompose_roundtrip_and_edges(d):
    rng = np.random.default_rng(1)
    values = np.concatenate([[d.min_value, d.max_value, max(d.min_value, min(0, d.max_value))],
                             rng.integers(d.min_value, d.max_value, 50)])
    slots = d.decompose(values)
    assert (d.compose(slots) == values).all()
    for i, b in enumerate(d.slot_widths):
        assert slots[..., i].min() >= 0 and slots[..., i].max() < 1 << b
    assert not slots[..., d.num_slots :].any()
    for bad in (d.min_value - 1, d.max_value + 1):
        with pytest.raises(ValueError, match="remainder"):
            d.decompose(np.array([0, bad]) if d.min_value <= 0 <= d.max_value else np.array([bad]), "remainder")


@pytest.mark.parametrize("kwargs", [dict(width=0, signed=False), dict(width=64, signed=True),
                                    dict(width=8, signed=False, limb_bits=0), dict(width=8, signed=False, limb_bits=17)])
def test_decomposition_validation(kwargs):
    with pytest.raises(ValueError):
        LimbDecomposition(**kwargs)


def test_statement_validation():
    d = LimbDecomposition(8, False)
    with pytest.raises(ValueError, match="sign slot"):
        d.sign_slot
    with pytest.raises(ValueError, match="value_vars"):
        RangeTensor("A", d, -1)
    with pytest.raises(ValueError, match="at least one"):
        LogupStatement(())
    with pytest.raises(ValueError, match="distinct"):
        LogupStatement((RangeTensor("A", d, 1), RangeTensor("A", d, 2)))
    st = LogupStatement((RangeTensor("A", d, 2),))
    with pytest.raises(ValueError, match="A: limbs of shape"):
        pl.slot_columns(st, {"A": np.zeros((3, 1), dtype=np.int64)})
    with pytest.raises(ValueError, match="outside"):
        pl.multiplicities(st, {"A": np.array([[0], [1], [256], [3]])})


# --- completeness ---------------------------------------------------------------------------------


def test_completeness_small_limbs(backend):
    """Several tensors of different sizes and widths (4-bit limbs: tiny tables), edges included."""
    rng = np.random.default_rng(2)
    tensors = [
        ("A", LimbDecomposition(10, False, 5, limb_bits=4), 3),
        ("B", LimbDecomposition(7, True, 3, limb_bits=4), 2),
        ("C", LimbDecomposition(1, False, limb_bits=4), 0),  # a single value: a tree of depth 0
        ("D", LimbDecomposition(12, True, limb_bits=4), 5),
    ]
    st = LogupStatement(tuple(RangeTensor(n, d, v) for n, d, v in tensors))
    limbs = {}
    for name, d, n in tensors:
        values = rng.integers(d.min_value, d.max_value + 1, 1 << n)
        values[: min(2, 1 << n)] = [d.min_value, d.max_value][: min(2, 1 << n)]
        limbs[name] = d.decompose(values)
    mults = pl.multiplicities(st, limbs)
    proof, prover_claims = _prove(backend, st, limbs, mults)
    claims = _verify(st, proof)
    assert claims == prover_claims
    assert [c.tensor for c in claims] == ["logup.m1", "logup.m2", "logup.m3", "logup.m4", "A", "B", "C", "D"]
    assert _claims_true(claims, {**limbs, **mults})


def test_completeness_16_bit_limbs_with_hyrax(cpu, pg, vg):
    """The whole loop: commit limbs and multiplicities, prove, verify, open every claim."""
    rem = LimbDecomposition(48, False, -(1 << 47))  # a rescale remainder, k = 16
    z = LimbDecomposition(32, True, 1)  # Z' - 1 of a hidden layer
    rng = np.random.default_rng(3)
    values = {
        "R.limbs": np.concatenate([[rem.min_value, rem.max_value, 0], rng.integers(rem.min_value, rem.max_value, 13)]),
        "Z.limbs": np.concatenate([[z.min_value, z.max_value, 0, 1], rng.integers(z.min_value, z.max_value, 4)]),
    }
    st = LogupStatement((RangeTensor("R.limbs", rem, 4), RangeTensor("Z.limbs", z, 3)))
    limbs = {"R.limbs": rem.decompose(values["R.limbs"]), "Z.limbs": z.decompose(values["Z.limbs"])}
    tensors = {**limbs, **pl.multiplicities(st, limbs)}
    assert set(tensors) == {"R.limbs", "Z.limbs", "logup.m16", "logup.m15", "logup.m1"}

    layouts, commitments, witnesses = {}, {}, {}
    tp, tv = Transcript(DOMAIN), Transcript(DOMAIN)
    for name, a in tensors.items():
        flat = np.asarray(a, dtype=np.int64).reshape(-1)
        layouts[name] = vh.HyraxLayout.square(flat.size.bit_length() - 1)
        commitments[name], witnesses[name] = ph.commit(pg, flat, layouts[name], int(flat.max()).bit_length() + 1)
        for t in (tp, tv):
            t.absorb_points(f"commitment:{name}".encode(), commitments[name].rows)
    proof, prover_claims = pl.prove_range_limbs(tp, cpu, st, limbs, {k: v for k, v in tensors.items() if k not in limbs})
    openings = [ph.open_clear(witnesses[c.tensor], c.point, tp)[1] for c in prover_claims]
    claims = verify_range_limbs(tv, st, LogupProof.from_bytes(proof.to_bytes(), st))
    assert sorted(c.tensor for c in claims) == sorted(tensors)  # one claim per committed tensor
    for claim, opening in zip(claims, openings, strict=True):
        rows = commitments[claim.tensor].decode(vg, layouts[claim.tensor])
        # A wrong final claim (what the caller must consume) is rejected by its opening.
        with pytest.raises(VerifyError, match="differs from the claimed value"):
            vh.verify_opening(vg, rows, layouts[claim.tensor], claim.point, claim.value + 1, opening, tv.fork())
        vh.verify_opening(vg, rows, layouts[claim.tensor], claim.point, claim.value, opening, tv)


# --- soundness --------------------------------------------------------------------------------------


def test_value_one_past_the_range(cpu):
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1, d.max_value, 7])
    assert _accepts(cpu, st, limbs, pl.multiplicities(st, limbs))
    limbs["A"][3, :3] = [0, 0, 1 << 16]  # 2^48 = max + 1: the top limb reads 2^16
    assert d.compose(limbs["A"][3]) == d.max_value + 1
    proof, _ = _prove(cpu, st, limbs, _cheat_counts(st, limbs))
    with pytest.raises(VerifyError, match="do not sum"):
        _verify(st, proof)


def test_limb_of_2_16(cpu):
    """An in-range value written with a low limb of 2^16 (limbs must each be in range)."""
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1 << 16, 2, 3])
    limbs["A"][1, :3] = [1 << 16, 0, 0]
    assert d.compose(limbs["A"][1]) == 1 << 16
    proof, _ = _prove(cpu, st, limbs, _cheat_counts(st, limbs))
    with pytest.raises(VerifyError, match="do not sum"):
        _verify(st, proof)


@pytest.mark.parametrize("counted_in_wider_table", [False, True])
def test_top_limb_one_bit_too_wide(cpu, counted_in_wider_table):
    """17 bits = a 16-bit limb and a 1-bit top limb; a top limb of 2 makes 2^17. Counting it
    in the 16-bit table instead is caught by the tables' tags (alpha b)."""
    d = LimbDecomposition(17, False)
    st, limbs = _one("A", d, [0, 5, d.max_value, 9])
    limbs["A"][0] = [0, 2]
    mults = _cheat_counts(st, limbs)
    if counted_in_wider_table:
        mults["logup.m16"][2] += 1
    proof, _ = _prove(cpu, st, limbs, mults)
    with pytest.raises(VerifyError, match="do not sum"):
        _verify(st, proof)


@pytest.mark.parametrize("delta", [1, -1])
def test_wrong_multiplicity(cpu, delta):
    d = LimbDecomposition(32, True, 1)
    st, limbs = _one("A", d, [0, 1, -5, 12])
    mults = pl.multiplicities(st, limbs)
    mults["logup.m16"][5] += delta
    proof, _ = _prove(cpu, st, limbs, mults)
    with pytest.raises(VerifyError, match="do not sum"):
        _verify(st, proof)


def _honest_small():
    d = LimbDecomposition(10, False, limb_bits=4)
    st, limbs = _one("A", d, [0, 3, 1000, 1023, 17, 64, 5, 9])
    return st, limbs, pl.multiplicities(st, limbs)


@pytest.mark.parametrize("where", ["round", "final"])
def test_tampered_gkr_layer(where):
    backend = get_backend("reference")
    st, limbs, mults = _honest_small()
    proof, _ = _prove(backend, st, limbs, mults)
    layers = list(proof.layers)
    layer = layers[2]
    if where == "round":
        rounds = [list(r) for r in layer.rounds]
        rounds[1][2] = (rounds[1][2] + 1) % R
        layers[2] = SumcheckProof(tuple(map(tuple, rounds)), layer.final_evals)
        match = "p\\(0\\) \\+ p\\(1\\)"
    else:
        finals = [list(f) for f in layer.final_evals]
        finals[0][3] = (finals[0][3] + 1) % R
        layers[2] = SumcheckProof(layer.rounds, tuple(map(tuple, finals)))
        match = "final evaluations do not match"
    with pytest.raises(VerifyError, match=match):
        _verify(st, LogupProof(proof.roots, tuple(layers)))


def _balanced_roots(st, roots, index):
    """Replace tree ``index``'s root numerator so that the logUp identity holds."""
    trees = st.trees()
    lookups = vl.fraction_sum([pq for i, (pq, t) in enumerate(zip(roots, trees)) if not t.is_table and i != index])
    tables = vl.fraction_sum([pq for pq, t in zip(roots, trees) if t.is_table])
    target = (tables[0] * inv(tables[1]) - lookups[0] * inv(lookups[1])) % R
    out = list(roots)
    out[index] = (target * roots[index][1] % R, roots[index][1])
    return tuple(out)


def test_wrong_root_rejected_by_the_gkr():
    """Out-of-range limbs with roots forged to satisfy the identity: the GKR catches it."""
    backend = get_backend("reference")
    st, limbs, _ = _honest_small()
    limbs["A"][2, 0] = 16
    proof, _ = _prove(backend, st, limbs, _cheat_counts(st, limbs))
    forged = LogupProof(_balanced_roots(st, proof.roots, 0), proof.layers)
    vl.check_roots(st, forged.roots)  # the identity alone would accept
    with pytest.raises(VerifyError, match="final evaluations do not match"):
        _verify(st, forged)


def test_forged_eq_evaluation():
    """Depth one: forged roots, and the step's eq evaluation solved to close its sumcheck.
    Only the check of eq against the verifier's own eq(r_k, rho) catches it."""
    backend = get_backend("reference")
    d = LimbDecomposition(1, False)
    st = LogupStatement((RangeTensor("A", d, 1),))
    limbs = {"A": np.array([[0], [2]])}
    mults = _cheat_counts(st, limbs)
    proof, _ = _prove(backend, st, limbs, mults)
    roots = _balanced_roots(st, proof.roots, 0)
    t = Transcript(DOMAIN)
    vl.begin(t, st)
    t.absorb_scalars(b"roots", [v for pq in roots for v in pq])
    gamma = t.challenge_scalar(b"gamma")
    (layer,) = proof.layers
    finals = [list(f) for f in layer.final_evals]
    _, p0, p1, q0, q1 = finals[0]
    body = (p0 * q1 + p1 * q0 + gamma * q0 * q1) % R
    finals[0][0] = (roots[0][0] + gamma * roots[0][1]) * inv(body) % R
    forged = LogupProof(roots, (SumcheckProof(layer.rounds, tuple(map(tuple, finals))),))
    with pytest.raises(VerifyError, match="public table"):
        _verify(st, forged)


def test_lookup_numerator_must_be_one():
    """A cheater gives the out-of-range entry numerator 0, dropping it from the sum."""
    backend = get_backend("reference")
    st, limbs, _ = _honest_small()
    limbs["A"][2, 0] = 16
    mults = _cheat_counts(st, limbs)

    def hook(be, challenges, leaves):
        p, q = leaves[0]  # slot 0 of A
        p = be.to_ints(p)
        p[2] = 0
        return [(be.from_ints(p), q)] + leaves[1:]

    proof, _ = _prove(backend, st, limbs, mults, hook)
    with pytest.raises(VerifyError, match="numerator claim is not 1"):
        _verify(st, proof)


def test_table_denominators_are_the_verifiers():
    """A cheater puts 16 into the 4-bit table in place of 0 and counts its limb there (the
    witness never looks up 0, so entry 0 is free); only the table's denominator check sees it."""
    backend = get_backend("reference")
    d = LimbDecomposition(10, False, limb_bits=4)
    st, limbs = _one("A", d, [0x111, 0x3FF, 0x2A5, 0x1F3, 0x377, 0x155, 0x2CB, 0x1E1])
    assert limbs["A"][:, : d.num_slots].all()
    limbs["A"][2, 0] = 16
    mults = _cheat_counts(st, limbs)
    mults["logup.m4"][0] = 1

    def hook(be, challenges, leaves):
        p, q = leaves[-1]  # the last tree is the widest table, 4 bits
        q = be.to_ints(q)
        q[0] = (challenges.shift(4) - 16) % R
        return leaves[:-1] + [(p, be.from_ints(q))]

    proof, _ = _prove(backend, st, limbs, mults, hook)
    with pytest.raises(VerifyError, match="wrong denominator claim"):
        _verify(st, proof)


# --- value claims: slot values of a limbs tensor ---------------------------------------------------


def test_slot_values_complete_and_sound(backend, rng):
    d = LimbDecomposition(48, False, -(1 << 47))
    values = np.array([d.min_value, d.max_value, 0, 12345])
    slots = d.decompose(values)
    u = tuple(rng.randrange(R) for _ in range(2))
    value = _mle(values, u)
    slices = pl.slot_values(backend, slots, d, u)
    claim = vgad.reduce_slices(Transcript(DOMAIN), "A", d, value, u, slices)
    assert claim.value == _mle(slots, claim.point)
    with pytest.raises(VerifyError, match="do not recompose"):
        vgad.reduce_slices(Transcript(DOMAIN), "A", d, value + 1, u, slices)
    padded = slots.copy()
    padded[1, 3] = 7  # the padding slot (weight 0) of a value that still recomposes
    with pytest.raises(VerifyError, match="padding slot"):
        vgad.reduce_slices(Transcript(DOMAIN), "A", d, value, u, pl.slot_values(backend, padded, d, u))


def test_padding_slot_of_the_limbs_tensor_is_forced_to_zero(cpu):
    """The GKR looks up real slots only, and its claim on the limbs tensor counts the padding
    slots as 0: a nonzero padding slot makes that claim false (its opening fails)."""
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1, 2, 3])
    mults = pl.multiplicities(st, limbs)
    assert _accepts(cpu, st, limbs, mults)
    limbs["A"][2, 3] = 7
    assert not _accepts(cpu, st, limbs, mults)


def test_sign_slot_is_the_sign():
    d = LimbDecomposition(32, True, 1)
    values = np.array([d.min_value, 0, 1, 2, d.max_value])
    assert d.decompose(values)[:, d.sign_slot].tolist() == [1, 1, 0, 0, 0]  # [Z' <= 0] of Z' - 1
    assert vgad.slot_point(d, d.sign_slot) == (0, 1)


# --- parity with the bit decomposition ------------------------------------------------------------


def _cheat(decomposition, v):
    """Slots that recompose to v with boolean / in-table entries except the top slot, which is
    one step outside its range when v is: the decomposition of v - c_top e, top slot + e."""
    weights = decomposition.weights()
    top = max(i for i, c in enumerate(weights) if c)
    above = v > decomposition.max_value
    e = 1 if above == (weights[top] > 0) else -1
    slots = decomposition.decompose(np.array([v - weights[top] * e])).astype(np.int64)[0]
    slots[top] += e
    return slots


def _bits_accept(backend, d, values, slots, u):
    witness = {"B": slots}
    nv = 2 + (d.padded_width.bit_length() - 1)

    def build(t):
        return [vgad.booleanity_reduction("B", t.challenge_scalars(b"w", nv))]

    try:
        tp, tv = Transcript(DOMAIN), Transcript(DOMAIN)
        proof, _ = prove_phase(tp, b"bits", backend, build(tp), witness)
        claims = verify_phase(tv, b"bits", build(tv), proof)
        slices = pgad.bit_slices(backend, slots, d, u)
        claims.append(vgad.reduce_slices(tv, "B", d, _mle(values, u), u, slices))
    except VerifyError:
        return False
    return _claims_true(claims, witness)


def _limbs_accept(backend, d, values, slots, u):
    st = LogupStatement((RangeTensor("A", d, 2),))
    limbs = {"A": slots}
    if not _accepts(backend, st, limbs, _cheat_counts(st, limbs)):
        return False
    try:
        claim = vgad.reduce_slices(Transcript(DOMAIN), "A", d, _mle(values, u), u, pl.slot_values(backend, slots, d, u))
    except VerifyError:
        return False
    return _claims_true([claim], limbs)


@pytest.mark.parametrize("width, signed, offset", [(17, False, 0), (20, True, 1), (48, False, -(1 << 47)), (5, True, -2)])
def test_parity_with_bit_decomposition(cpu, rng, width, signed, offset):
    """Both gadgets accept exactly the in-range tensors: at each boundary value (min - 1, min,
    max, max + 1), the witness generators agree, and so do the verifiers, on the honest
    decomposition in range and on the best cheating one outside."""
    bits, limbs = BitDecomposition(width, signed, offset), LimbDecomposition(width, signed, offset)
    assert (bits.min_value, bits.max_value) == (limbs.min_value, limbs.max_value)
    filler = [limbs.min_value, limbs.max_value, (limbs.min_value + limbs.max_value) // 2]
    u = tuple(rng.randrange(R) for _ in range(2))
    for v in (limbs.min_value - 1, limbs.min_value, limbs.max_value, limbs.max_value + 1):
        inside = limbs.min_value <= v <= limbs.max_value
        values = np.array([v] + filler)
        verdicts = []
        for d, accept in ((bits, _bits_accept), (limbs, _limbs_accept)):
            if inside:
                slots = d.decompose(values).astype(np.int64)
            else:
                with pytest.raises(ValueError):
                    d.decompose(values)
                slots = np.stack([_cheat(d, v)] + [d.decompose(np.array([f]))[0].astype(np.int64) for f in filler])
            assert (d.compose(slots) == values).all()
            verdicts.append(accept(cpu, d, values, slots, u))
        assert verdicts == [inside, inside], (v, verdicts)
