"""The limb range gadget (logUp-GKR): completeness, soundness, and parity with the bit gadget.

The gadget is ``verifier.logup.LogupWalk``, run over the training walk's channels: the prover
channels of ``prover.training`` (clear) and ``prover.zk_training`` (zero knowledge) write the
messages, the verifier channels read and check them. "Accepted" means what a caller of the
gadget checks: the walk returns claims, and every claim is a true evaluation of the limbs and
multiplicity tensors (by direct MLE evaluation here; in the ZK mode the prover's openings, and
the verifier's commitments must be the prover's; one test runs the whole loop with Hyrax
commitments and openings). Each soundness test is built so that one check of the walk catches
it, which shows that check necessary.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from slots import reduce_slices

from circuits.bits import BitDecomposition
from circuits.limbs import LimbDecomposition
from prover import gadgets as pgad
from prover import logup as pl
from prover.backends import get_backend
from prover.commit import group
from prover.commit import hyrax as ph
from prover.commit.generators import prover_generators
from prover.phase import prove_phase
from prover.training import ProverChannel
from prover.zk_training import ZkProverChannel
from verifier import gadgets as vgad
from verifier import hyrax as vh
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.logup import (
    DOMAIN as LOGUP_DOMAIN,
    LogupStatement,
    LogupWalk,
    RangeTensor,
    begin,
    leaf_layer_shape,
    multiplicity_name,
)
from verifier.transcript import Transcript
from verifier.phase import verify_phase
from verifier.polynomial import mle_evaluate
from verifier.sumcheck import SumcheckProof
from verifier.training import VerifierChannel
from verifier.zk_training import ZkVerifierChannel

DOMAIN = b"zktrain/test/logup"
MODES = {"clear": (ProverChannel, VerifierChannel), "zk": (ZkProverChannel, ZkVerifierChannel)}


@pytest.fixture(scope="module")
def cpu():
    return get_backend("cpu")


@pytest.fixture(params=list(MODES))
def mode(request):
    return request.param


def _mle(arr, point):
    return mle_evaluate([int(v) for v in np.asarray(arr).reshape(-1)], point)


def _prover(mode, backend, witness, leaves_of=None, tamper=None):
    """The mode's prover channel; ``leaves_of`` replaces the trees' leaves and ``tamper(label,
    proof)`` edits a GKR phase's proof (the malicious-prover hooks)."""
    base = MODES[mode][0]

    class Channel(base):
        def fractions(self, statement, challenges):
            if leaves_of is None:
                return super().fractions(statement, challenges)
            self.derived.update(pl.derive_tables(self.backend, statement, challenges, self.witness, leaves_of))
            (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
            return q_top

        def _prove_phase(self, label, reductions):
            proof, claims = super()._prove_phase(label, reductions)
            return (proof if tamper is None else tamper(label, proof)), claims

    return Channel(None, dict(witness), backend, None, random.Random(1))


class _RecklessWalk(LogupWalk):
    """The prover's walk without the walk's own checks: a cheating prover sends its messages
    regardless, and the verifier must catch it."""

    @staticmethod
    def _require(ok, reason):
        pass


def _prove(mode, backend, st, witness, **hooks):
    """The proof bytes and the prover's own claims."""
    channel = _prover(mode, backend, witness, **hooks)
    claims = _RecklessWalk(st, channel).run()
    return channel.proof_bytes(), claims


def _verify(mode, st, proof, phases=None):
    """The verifier's claims; ``phases`` (a list) records every phase's (label, shapes)."""
    base = MODES[mode][1]

    class Channel(base):
        def phase(self, label, reductions):
            if phases is not None:
                phases.append((label, [shape for red in reductions for shape in red.shapes]))
            return super().phase(label, reductions)

    channel = Channel(None, {}, proof, pedersen_generators())
    claims = LogupWalk(st, channel).run()
    channel.reader.finish()
    return claims


def _claims_true(mode, prover_claims, claims, tensors) -> bool:
    """Every claim is a true evaluation; in the ZK mode the verifier holds the prover's
    commitments to those values."""
    if [(c.tensor, c.point) for c in claims] != [(c.tensor, c.point) for c in prover_claims]:
        return False
    if mode == "zk":
        gens = prover_generators()
        if any(v.value.to_bytes() != group.to_bytes(p.value.commitment(gens)) for v, p in zip(claims, prover_claims)):
            return False
    values = [getattr(c.value, "value", c.value) for c in prover_claims]
    return all(_mle(tensors[c.tensor], c.point) == v % R for c, v in zip(prover_claims, values))


def _accepts(mode, backend, st, witness, **hooks) -> bool:
    proof, prover_claims = _prove(mode, backend, st, witness, **hooks)
    try:
        claims = _verify(mode, st, proof)
    except VerifyError:
        return False
    return _claims_true(mode, prover_claims, claims, witness)


def _rejected(mode, backend, st, witness, match, **hooks) -> None:
    proof, _ = _prove(mode, backend, st, witness, **hooks)
    with pytest.raises(VerifyError, match=match):
        _verify(mode, st, proof)


def _cheat_counts(st, limbs):
    """The cheater's best multiplicities: every slot value that lies in its table is counted."""
    counts = {b: np.zeros(1 << b, dtype=np.int64) for b in st.table_bits()}
    for t in st.tensors:
        cols = np.asarray(limbs[t.name]).reshape(-1, t.decomposition.padded_width)
        for i, b in enumerate(t.decomposition.slot_widths):
            col = cols[:, i]
            counts[b] += np.bincount(col[(col >= 0) & (col < 1 << b)], minlength=1 << b)
    return {**limbs, **{multiplicity_name(b): m for b, m in counts.items()}}


def _honest(st, limbs):
    return {**limbs, **pl.multiplicities(st, limbs)}


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
    with pytest.raises(ValueError, match=r"must have distinct keys, got \['A', 'A'\]"):
        LogupStatement((RangeTensor("A", d, 1), RangeTensor("A", d, 2)))
    st = LogupStatement((RangeTensor("A", d, 2),))
    with pytest.raises(ValueError, match="A: limbs of shape"):
        pl.multiplicities(st, {"A": np.zeros((3, 1), dtype=np.int64)})
    with pytest.raises(ValueError, match="outside"):
        pl.multiplicities(st, {"A": np.array([[0], [1], [256], [3]])})


class _Recording(Transcript):
    def __init__(self):
        super().__init__(b"test")
        self.calls = []

    def domain_separate(self, label):
        self.calls.append(("domain", label))
        super().domain_separate(label)

    def absorb_bytes(self, label, data):
        self.calls.append(("absorb", label))
        super().absorb_bytes(label, data)


def test_gadget_transcript_is_domain_separated_then_bound_to_its_statement():
    """The gadget's part of the transcript (``begin``) starts with its own domain label and the
    statement, before beta: its challenges cannot be confused with another sub-protocol's."""
    t = _Recording()
    begin(t, LogupStatement((RangeTensor("A", LimbDecomposition(8, False), 2),)))
    assert t.calls == [("domain", LOGUP_DOMAIN), ("absorb", b"statement")]


def test_trees_and_public_padding_lookups():
    st = LogupStatement((RangeTensor("A", LimbDecomposition(32, True, 1), 3), RangeTensor("B", LimbDecomposition(17, False), 1)))
    assert [(t.key, t.num_vars) for t in st.trees()] == [
        ("A", 5), ("B", 2), ("logup.m1", 1), ("logup.m15", 15), ("logup.m16", 16)
    ]
    assert st.tensors[0].slot_tags() == [16, 15, 1, 0] and st.padding_lookups == 8
    assert st.top_leaves() == 6 and st.top_vars == 3


# --- completeness ---------------------------------------------------------------------------------


def test_completeness_small_limbs(backend, mode):
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
    witness = _honest(st, limbs)
    proof, prover_claims = _prove(mode, backend, st, witness)
    claims = _verify(mode, st, proof)
    assert [c.tensor for c in claims] == ["logup.m1", "logup.m2", "logup.m3", "logup.m4", "A", "B", "C", "D"]
    assert _claims_true(mode, prover_claims, claims, witness)


@pytest.mark.parametrize(
    "tensors",
    [
        [("A", LimbDecomposition(1, False, limb_bits=4), 1)],  # depth 1: the leaf step is the root's
        [("A", LimbDecomposition(12, True, limb_bits=4), 2)],  # depth 4, as deep as the 4-bit table
        [("A", LimbDecomposition(8, False, limb_bits=4), 3), ("B", LimbDecomposition(1, False, limb_bits=4), 0),
         ("C", LimbDecomposition(10, True, 2, limb_bits=4), 1)],
    ],
    ids=["depth-1", "with-table", "mixed"],
)
def test_leaf_step_of_unit_trees(backend, mode, tensors):
    """Every tensor tree of depth d >= 1 takes its step d - 1 with ``leaf_layer_shape`` (three
    tables), batched with the general steps of deeper trees and of the table trees; the
    proof verifies and every claim is true."""
    rng = np.random.default_rng(5)
    st = LogupStatement(tuple(RangeTensor(n, d, v) for n, d, v in tensors))
    limbs = {n: d.decompose(rng.integers(d.min_value, d.max_value + 1, 1 << v)) for n, d, v in tensors}
    witness = _honest(st, limbs)
    proof, prover_claims = _prove(mode, backend, st, witness)
    phases = []
    claims = _verify(mode, st, proof, phases)
    assert _claims_true(mode, prover_claims, claims, witness)
    steps = [shapes for label, shapes in phases if label == b"logup-trees"]
    trees = st.trees()
    for k, shapes in enumerate(steps):
        active = [tree for tree in trees if tree.num_vars > k]
        want = [3 if tree.unit and tree.num_vars == k + 1 else 5 for tree in active]
        assert [shape.num_tables for shape in shapes] == want


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
    tensors = _honest(st, {"R.limbs": rem.decompose(values["R.limbs"]), "Z.limbs": z.decompose(values["Z.limbs"])})
    assert set(tensors) == {"R.limbs", "Z.limbs", "logup.m16", "logup.m15", "logup.m1"}

    prover = _prover("clear", cpu, tensors)
    layouts, commitments, witnesses = {}, {}, {}
    for name, a in tensors.items():
        flat = np.asarray(a, dtype=np.int64).reshape(-1)
        layouts[name] = vh.HyraxLayout.square(flat.size.bit_length() - 1)
        commitments[name], witnesses[name] = ph.commit(pg, flat, layouts[name], int(flat.max()).bit_length() + 1)
        prover.transcript.absorb_points(f"commitment:{name}".encode(), commitments[name].rows)
    prover_claims = LogupWalk(st, prover).run()
    openings = [ph.open_clear(witnesses[c.tensor], c.point, prover.transcript)[1] for c in prover_claims]

    verifier = VerifierChannel(None, {}, prover.proof_bytes(), vg)
    for name in tensors:
        verifier.transcript.absorb_points(f"commitment:{name}".encode(), commitments[name].rows)
    claims = LogupWalk(st, verifier).run()
    verifier.reader.finish()
    tv = verifier.transcript
    assert sorted(c.tensor for c in claims) == sorted(tensors)  # one claim per committed tensor
    for claim, opening in zip(claims, openings, strict=True):
        rows = commitments[claim.tensor].decode(vg, layouts[claim.tensor])
        # A wrong final claim (what the caller must consume) is rejected by its opening.
        with pytest.raises(VerifyError, match="differs from the claimed value"):
            vh.verify_opening(vg, rows, layouts[claim.tensor], claim.point, claim.value + 1, opening, tv.fork())
        vh.verify_opening(vg, rows, layouts[claim.tensor], claim.point, claim.value, opening, tv)


def test_layout_depends_on_the_statement_only(cpu):
    """Two witnesses of one statement give ZK proofs of the same length."""
    d = LimbDecomposition(12, True, limb_bits=4)
    lengths = set()
    for values in ([0, 1, 2, 3], [d.min_value, d.max_value, -7, 100]):
        st, limbs = _one("A", d, values)
        lengths.add(len(_prove("zk", cpu, st, _honest(st, limbs))[0]))
    assert len(lengths) == 1


# --- soundness --------------------------------------------------------------------------------------
# A witness outside its tables makes the top root's numerator nonzero while the walk takes it
# to be 0 (the logUp identity): the first GKR step of the top tree ("logup-top") is a false
# sumcheck claim.


def test_value_one_past_the_range(cpu, mode):
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1, d.max_value, 7])
    assert _accepts(mode, cpu, st, _honest(st, limbs))
    limbs["A"][3, :3] = [0, 0, 1 << 16]  # 2^48 = max + 1: the top limb reads 2^16
    assert d.compose(limbs["A"][3]) == d.max_value + 1
    assert not _accepts(mode, cpu, st, _cheat_counts(st, limbs))


def test_limb_of_2_16(cpu):
    """An in-range value written with a low limb of 2^16 (limbs must each be in range)."""
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1 << 16, 2, 3])
    limbs["A"][1, :3] = [1 << 16, 0, 0]
    assert d.compose(limbs["A"][1]) == 1 << 16
    _rejected("clear", cpu, st, _cheat_counts(st, limbs), "logup-top")


@pytest.mark.parametrize("counted_in_wider_table", [False, True])
def test_top_limb_one_bit_too_wide(cpu, counted_in_wider_table):
    """17 bits = a 16-bit limb and a 1-bit top limb; a top limb of 2 makes 2^17. Counting it
    in the 16-bit table instead is caught by the tables' tags (alpha b)."""
    d = LimbDecomposition(17, False)
    st, limbs = _one("A", d, [0, 5, d.max_value, 9])
    limbs["A"][0] = [0, 2]
    witness = _cheat_counts(st, limbs)
    if counted_in_wider_table:
        witness["logup.m16"][2] += 1
    _rejected("clear", cpu, st, witness, "logup-top")


@pytest.mark.parametrize("delta", [1, -1])
def test_wrong_multiplicity(cpu, mode, delta):
    d = LimbDecomposition(32, True, 1)
    st, limbs = _one("A", d, [0, 1, -5, 12])
    witness = _honest(st, limbs)
    witness["logup.m16"][5] += delta
    assert not _accepts(mode, cpu, st, witness)


def test_nonzero_padding_slot_is_not_in_the_table_of_zero(cpu):
    """Padding slots are looked up in the table {0}, whose multiplicity is public."""
    d = LimbDecomposition(48, False)
    st, limbs = _one("A", d, [0, 1, 2, 3])
    assert d.padded_width == 4 and d.num_slots == 3
    limbs["A"][2, 3] = 7
    _rejected("clear", cpu, st, _cheat_counts(st, limbs), "logup-top")


def _honest_small():
    d = LimbDecomposition(10, False, limb_bits=4)
    st, limbs = _one("A", d, [0, 3, 1000, 1023, 17, 64, 5, 9])
    return st, _honest(st, limbs)


BACKEND_KINDS = ["reference", "cpu", "cpu-parallel", "cuda"]


def _backend_of(kind):
    """Every prover backend, the cuda one on the simulator where there is no device."""
    if kind == "cpu-parallel":
        from prover.backends.cpu import CpuBackend

        return CpuBackend(parallel_min_rows=0)
    if kind == "cuda":
        from prover.backends.cuda import CudaBackend, runtime

        if not runtime.available():
            pytest.skip("no CUDA device and the simulator is off")
        return CudaBackend(max_blocks=4)
    return get_backend(kind)


@pytest.mark.parametrize("kind", BACKEND_KINDS)
def test_tile_repeats_the_vector(rng, kind):
    """``tile`` (the leaves' constants and slot patterns): v end to end, reps times."""
    backend = _backend_of(kind)
    v = [rng.randrange(R) for _ in range(3)] + [0, 1, R - 1]
    assert backend.to_ints(backend.tile(backend.from_ints(v), 5)) == v * 5
    assert backend.to_ints(backend.tile(backend.from_ints([7]), 1)) == [7]
    assert backend.length(backend.tile(backend.from_ints(v), 0)) == 0
    with pytest.raises(ValueError, match="reps"):
        backend.tile(backend.from_ints(v), -1)


@pytest.mark.parametrize("kind", BACKEND_KINDS)
@pytest.mark.parametrize("pairs, num_points", [(1, 4), (37, 2), (37, 4), (37, 6), (1 << 14, 4)])
def test_gkr_leaf_round_evals_match_the_definition(rng, kind, pairs, num_points):
    """The fused round over unit leaves is eq (q0 + q1 + gamma q0 q1), term by term, on every
    backend; the last size runs the CPU kernel on both threads."""
    backend = _backend_of(kind)
    if kind in ("reference", "cuda"):
        pairs = min(pairs, 64)
    e, q0, q1 = ([rng.randrange(R) for _ in range(2 * pairs)] for _ in range(3))
    gamma = rng.randrange(R)
    got = backend.gkr_leaf_round_evals([backend.from_ints(v) for v in (e, q0, q1)], gamma, num_points)
    ref = get_backend("reference")
    ones = [1] * (2 * pairs)
    assert got == ref.gkr_round_evals([e, ones, ones, q0, q1], gamma, num_points)
    with pytest.raises(ValueError, match="3 tables"):
        backend.gkr_leaf_round_evals([backend.from_ints(v) for v in (e, q0)], gamma, num_points)


@pytest.mark.parametrize("where", ["round", "final"])
def test_tampered_gkr_layer(where):
    st, witness = _honest_small()
    seen = []

    def tamper(label, proof):
        seen.append(label)
        if label != b"logup-trees" or seen.count(label) != 3:
            return proof
        if where == "round":
            rounds = [list(r) for r in proof.rounds]
            rounds[1][2] = (rounds[1][2] + 1) % R
            return SumcheckProof(tuple(map(tuple, rounds)), proof.final_evals)
        finals = [list(f) for f in proof.final_evals]
        finals[0][3] = (finals[0][3] + 1) % R
        return SumcheckProof(proof.rounds, tuple(map(tuple, finals)))

    match = "p\\(0\\) \\+ p\\(1\\)" if where == "round" else "final evaluations do not match"
    _rejected("clear", get_backend("reference"), st, witness, match, tamper=tamper)


@pytest.mark.parametrize("part", [1, 2])
def test_tampered_leaf_layer_final_evaluation(part):
    """The leaf step of a unit tree sends three final evaluations [eq, q0, q1] (no numerator):
    a q0 or q1 off by one is rejected by that phase's final check of the sumcheck
    (``verifier.sumcheck.verify_sumcheck``: "final evaluations do not match")."""
    st, witness = _honest_small()
    (a,) = [tree for tree in st.trees() if tree.key == "A"]
    seen = []

    def tamper(label, proof):
        seen.append(label)
        if label != b"logup-trees" or seen.count(label) != a.num_vars:
            return proof
        assert [len(f) for f in proof.final_evals] == [3]  # A alone, at its leaf step
        finals = [list(f) for f in proof.final_evals]
        finals[0][part] = (finals[0][part] + 1) % R
        return SumcheckProof(proof.rounds, tuple(map(tuple, finals)))

    proof, _ = _prove("clear", get_backend("reference"), st, witness, tamper=tamper)
    phases = []
    with pytest.raises(VerifyError, match="^logup-trees: sumcheck: final evaluations do not match"):
        _verify("clear", st, proof, phases)
    assert [label for label, _ in phases].count(b"logup-trees") == a.num_vars


def _leaves_editing(index, edit):
    """A leaves hook: tree ``index``'s (numerators, denominators) as lists, edited."""

    def leaves_of(backend, tree, challenges, witness):
        p, q = pl.leaves(backend, tree, challenges, witness)
        if tree is not None and tree.key == index:
            p, q = backend.to_ints(p), backend.to_ints(q)
            edit(p, q, challenges)
            p, q = backend.from_ints(p), backend.from_ints(q)
        return p, q

    return leaves_of


def test_lookup_numerator_must_be_one(mode):
    """A cheater gives the out-of-range entry numerator 0, dropping it from the sum. The tree's
    last GKR step takes its leaves' numerators as the public 1 (``leaf_layer_shape``), so the
    parents' claim (the cheater's tree) is not that step's sum: the leaf step's sumcheck
    rejects at its first round (clear: ``p(0) + p(1) does not match the claim``; ZK: the
    round's proof of dot product), and no earlier phase does."""
    st, witness = _honest_small()
    witness["A"][2, 0] = 16
    witness = _cheat_counts(st, {"A": witness["A"]})

    def edit(p, q, challenges):
        p[2 * 4] = 0  # value 2, slot 0 (slot axis innermost, 4 padded slots)

    proof, _ = _prove(mode, get_backend("reference"), st, witness, leaves_of=_leaves_editing("A", edit))
    phases = []
    round_check = {"clear": "p\\(0\\) \\+ p\\(1\\) does not match", "zk": "zk sumcheck round 0: proof of dot product"}[mode]
    with pytest.raises(VerifyError, match=f"^logup-trees: (sumcheck round 0: )?{round_check}"):
        _verify(mode, st, proof, phases)
    (a,) = [tree for tree in st.trees() if tree.key == "A"]
    assert [label for label, _ in phases].count(b"logup-trees") == a.num_vars  # A's leaf step
    assert phases[-1][1][0] == leaf_layer_shape(a.num_vars - 1, phases[-1][1][0].terms[2].coeff)


def test_depth_zero_numerator_must_be_one(mode):
    """A tree of one leaf (a single 1-slot value) has its root for its leaf: the sent root's
    numerator is what the leaf claim's ``numerator claim is not 1`` check reads. The cheater
    looks up 2 in the 1-bit table with numerator 0 (its fraction drops out of the sum, the
    top tree balances); only that check sees it."""
    d = LimbDecomposition(1, False, limb_bits=4)
    st = LogupStatement((RangeTensor("C", d, 0),))
    assert [(tree.key, tree.num_vars) for tree in st.trees()] == [("C", 0), ("logup.m1", 1)]
    witness = _cheat_counts(st, {"C": np.array([[2]], dtype=np.int64)})

    def edit(p, q, challenges):
        p[0] = 0

    hooks = dict(leaves_of=_leaves_editing("C", edit))
    _rejected(mode, get_backend("reference"), st, witness, "^logUp: C: numerator claim is not 1$", **hooks)


def test_table_denominators_are_the_verifiers(mode):
    """A cheater puts 16 into the 4-bit table in place of 0 and counts its limb there (the
    witness never looks up 0, so entry 0 is free); only the table's denominator check sees it."""
    d = LimbDecomposition(10, False, limb_bits=4)
    st, limbs = _one("A", d, [0x111, 0x3FF, 0x2A5, 0x1F3, 0x377, 0x155, 0x2CB, 0x1E1])
    assert limbs["A"][:, : d.num_slots].all()
    limbs["A"][2, 0] = 16
    witness = _cheat_counts(st, limbs)
    witness["logup.m4"][0] = 1

    def edit(p, q, challenges):
        q[0] = (challenges.shift(4) - 16) % R

    hooks = dict(leaves_of=_leaves_editing("logup.m4", edit))
    _rejected(mode, get_backend("reference"), st, witness, "wrong denominator claim", **hooks)


def _top_forger(mode, balance):
    """A prover channel that builds the top tree over forged roots, the true roots but for the
    first tree's, which ``balance(root, rest)`` replaces so that the fractions sum to zero
    (``rest`` is the sum of every other top leaf's fraction); it sends the true roots."""

    class Forger(MODES[mode][0]):
        def fractions(self, statement, challenges):
            derived = pl.derive_tables(self.backend, statement, challenges, self.witness)
            keys = [t.key for t in statement.trees()]
            roots = [(derived[f"{k}.root.p"], derived[f"{k}.root.q"]) for k in keys]
            roots.append((-statement.padding_lookups % R, challenges.beta))
            rest = sum(p * pow(q, -1, R) for p, q in roots[1:]) % R
            roots[0] = balance(roots[0], rest)
            roots += [(0, 1)] * ((1 << statement.top_vars) - len(roots))
            top = pl.build_layers(self.backend, self.backend.from_ints([p for p, _ in roots]),
                                  self.backend.from_ints([q for _, q in roots]))
            assert self.backend.to_ints(top[0][0])[0] == 0  # the forged top tree sums to zero
            for k, layer in enumerate(top):
                derived[("gkr", "logup.top", k)] = layer
            derived["logup.top.q"] = self.backend.to_ints(top[0][1])[0]
            self.derived.update(derived)  # the true roots: what the walk sends next
            (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
            return q_top

    return Forger


def _forge_top(mode, balance):
    """An out-of-range 4-bit limb (16) whose trees are honest and whose top tree is forged."""
    st, witness = _honest_small()
    witness["A"][2, 0] = 16
    witness = _cheat_counts(st, {"A": witness["A"]})
    channel = _top_forger(mode, balance)(None, witness, get_backend("reference"), None, random.Random(1))
    _RecklessWalk(st, channel).run()
    return st, channel.proof_bytes()


def test_roots_numerators_must_match_the_top_tree(mode):
    """The first tree's root numerator set to balance the sum, its denominator kept: the
    roots' numerator check against the top tree's leaf claim fails."""
    st, proof = _forge_top(mode, lambda root, rest: (-rest * root[1] % R, root[1]))
    with pytest.raises(VerifyError, match="logUp: the roots' numerators do not match the top tree"):
        _verify(mode, st, proof)


def test_roots_denominators_must_match_the_top_tree(mode):
    """The forger of issue 12: the true root numerators kept, the first tree's root
    denominator set so that p / q' balances the sum (q' = -p / rest). Only the roots'
    denominator check stands between it and an accepted 4-bit limb of 16."""
    st, proof = _forge_top(mode, lambda root, rest: (root[0], -root[0] * pow(rest, -1, R) % R))
    with pytest.raises(VerifyError, match="logUp: the roots' denominators do not match the top tree"):
        _verify(mode, st, proof)


@pytest.mark.parametrize("other", ["name", "offset"])
def test_statement_is_bound_by_the_transcript(mode, other):
    """A proof for tensor A, checked as a proof for a statement with the very same trees and
    tables (another tensor name, or another offset: the leaves are the same limbs) but other
    claims to hand back. Only the statement's absorb tells them apart, at the top tree's GKR."""
    st, witness = _honest_small()
    proof, _ = _prove(mode, get_backend("reference"), st, witness)
    (t,) = st.tensors
    d = t.decomposition
    renamed = RangeTensor("B", d, t.value_vars) if other == "name" else RangeTensor(
        "A", LimbDecomposition(d.width, d.signed, d.offset + 5, d.limb_bits), t.value_vars)
    twin = LogupStatement((renamed,))
    assert [(tr.num_vars, tr.bits) for tr in twin.trees()] == [(tr.num_vars, tr.bits) for tr in st.trees()]
    assert twin.padding_lookups == st.padding_lookups
    _verify(mode, st, proof)  # positive control
    with pytest.raises(VerifyError, match="^logup-top: "):  # the first check after beta, alpha
        _verify(mode, twin, proof)


# --- value claims: slot values of a limbs tensor ---------------------------------------------------


def test_slot_values_complete_and_sound(backend, rng):
    d = LimbDecomposition(48, False, -(1 << 47))
    values = np.array([d.min_value, d.max_value, 0, 12345])
    slots = d.decompose(values)
    u = tuple(rng.randrange(R) for _ in range(2))
    value = _mle(values, u)
    slices = pgad.slot_values(backend, slots, d, u)
    claim = reduce_slices(Transcript(DOMAIN), "A", d, value, u, slices)
    assert claim.value == _mle(slots, claim.point)
    with pytest.raises(VerifyError, match="do not recompose"):
        reduce_slices(Transcript(DOMAIN), "A", d, value + 1, u, slices)
    padded = slots.copy()
    padded[1, 3] = 7  # the padding slot (weight 0) of a value that still recomposes
    with pytest.raises(VerifyError, match="padding slot"):
        reduce_slices(Transcript(DOMAIN), "A", d, value, u, pgad.slot_values(backend, padded, d, u))


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
        slices = pgad.slot_values(backend, slots, d, u)
        claims.append(reduce_slices(tv, "B", d, _mle(values, u), u, slices))
    except VerifyError:
        return False
    return all(_mle(witness[c.tensor], c.point) == c.value for c in claims)


def _limbs_accept(backend, d, values, slots, u):
    st = LogupStatement((RangeTensor("A", d, 2),))
    if not _accepts("clear", backend, st, _cheat_counts(st, {"A": slots})):
        return False
    try:
        claim = reduce_slices(Transcript(DOMAIN), "A", d, _mle(values, u), u, pgad.slot_values(backend, slots, d, u))
    except VerifyError:
        return False
    return _mle(slots, claim.point) == claim.value


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
