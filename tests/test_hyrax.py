"""Hyrax commitments and openings (clear and zero-knowledge, single and batched):
completeness and soundness in pairs, hiding, and the offset trick's exactness."""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

from prover.commit import hyrax as ph
from verifier import hyrax as vh
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.hash_to_curve import pedersen_generators
from verifier.hyrax import HyraxCommitment, HyraxLayout, HyraxOpening
from verifier.polynomial import mle_evaluate
from verifier.transcript import Transcript

DOMAIN = b"zktrain/test/hyrax"
OFF_SUBGROUP = bytes([0x80]) + bytes(47)


def _tensor(rng, num_vars, bits):
    lo, hi = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    values = [rng.randint(lo, hi) for _ in range(1 << num_vars)]
    values[0], values[-1] = lo, hi  # both extremes of the signed range
    return np.array(values, dtype=np.int64)


def _committed(pg, vg, num_vars=5, bits=16, seed=0, col_vars=None):
    rng = random.Random(seed)
    layout = HyraxLayout.square(num_vars) if col_vars is None else HyraxLayout(num_vars, col_vars)
    values = _tensor(rng, num_vars, bits)
    commitment, witness = ph.commit(pg, values, layout, bits, rng)
    rows = HyraxCommitment.from_bytes(commitment.to_bytes(), layout).decode(vg, layout)
    point = [rng.randrange(R) for _ in range(num_vars)]
    return layout, values, commitment, witness, rows, point, rng


def _tr():
    return Transcript(DOMAIN)


# --- commitments -----------------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 8, 16, 33])
def test_offset_trick_matches_plain_pedersen(pg, vg, bits):
    """C_i = <M_i mod r, G> + r_i h exactly, negative entries and both extremes included."""
    layout, values, commitment, witness, rows, _, _ = _committed(pg, vg, num_vars=4, bits=bits, seed=bits)
    gens = vg.vector(layout.num_cols)
    matrix = values.reshape(layout.num_rows, layout.num_cols)
    for i, row in enumerate(rows):
        expected = vg.curve.msm(gens + [vg.h], [int(v) for v in matrix[i]] + [witness.blinds[i]])
        assert row == expected


def test_padding_zeros_commit_to_pure_blinding(pg, vg):
    layout = HyraxLayout(4, 2)
    commitment, witness = ph.commit(pg, np.zeros(16, dtype=np.int64), layout, 16, random.Random(1))
    for row, blind in zip(commitment.rows, witness.blinds):
        assert vg.curve.decode(row) == blind * vg.h


def test_committing_twice_gives_different_commitments(pg):
    values = _tensor(random.Random(2), 4, 16)
    layout = HyraxLayout.square(4)
    first, _ = ph.commit(pg, values, layout, 16)  # OS randomness
    second, _ = ph.commit(pg, values, layout, 16)
    assert all(a != b for a, b in zip(first.rows, second.rows))


@pytest.mark.parametrize(
    "values, bits, match",
    [
        (np.array([0, 1, 2, 128], dtype=np.int64), 8, "128"),
        (np.array([0, 1, 2, -129], dtype=np.int64), 8, "-129"),
        (np.zeros(8, dtype=np.int64), 8, "8 values"),
        (np.array([0, 1, 2, 2**64 - 1], dtype=np.uint64), 8, "18446744073709551615"),
        (np.zeros(4, dtype=np.float64), 8, "dtype"),
        (np.zeros(4, dtype=np.int64), 0, "bits"),
        (np.zeros(4, dtype=np.int64), 64, "bits"),
    ],
)
def test_commit_validates_inputs(pg, values, bits, match):
    with pytest.raises(ValueError, match=match):
        ph.commit(pg, values, HyraxLayout.square(2), bits)


@pytest.mark.parametrize("args, match", [
    ((-1, 0), "num_vars must lie in"), ((41, 0), "num_vars must lie in"),
    ((3, 4), r"col_vars must lie in \[0, min\(num_vars, 24\)\], got 4"),
    ((30, 25), r"col_vars must lie in \[0, min\(num_vars, 24\)\], got 25"), ((3, -1), "col_vars must lie in"),
])
def test_layout_validation(args, match):
    with pytest.raises(ValueError, match=match):
        HyraxLayout(*args)
    assert HyraxLayout(30, 24).num_cols == 1 << 24  # the widest row there are generators for


# --- clear (non-ZK) openings -------------------------------------------------------------------


def _verify_alone(pg, vg, rows, layout, point, value, opening):
    vh.verify_opening(vg, rows, layout, point, value, opening, _tr())


def _verify_in_a_batch(pg, vg, rows, layout, point, value, opening):
    """The same opening checked by ``OpeningBatch`` between two honest openings of other
    shapes (wider and narrower rows), so the batch combines rows over a common prefix."""
    batch, transcript = vh.OpeningBatch(vg), _tr()
    for num_vars, seed in [(7, 11), (2, 12)]:
        other_layout, _, _, witness, other_rows, other_point, _ = _committed(pg, vg, num_vars, seed=seed)
        other_value, other_opening = ph.open_clear(witness, other_point, _tr())
        batch.add(other_rows, other_layout, other_point, other_value, other_opening, transcript)
        if seed == 11:
            batch.add(rows, layout, point, value, opening, transcript)
    batch.check(transcript)


@pytest.fixture(params=[_verify_alone, _verify_in_a_batch], ids=["alone", "batched"])
def verify_clear(request):
    """Every verifier of non-ZK openings, one test body each (py_ecc's pattern)."""
    return request.param


@pytest.mark.parametrize("num_vars, col_vars", [(0, 0), (1, 1), (5, None), (6, 2), (6, 6)])
def test_clear_opening_completeness(pg, vg, verify_clear, num_vars, col_vars):
    layout, values, _, witness, rows, point, _ = _committed(pg, vg, num_vars, col_vars=col_vars, seed=num_vars)
    value, opening = ph.open_clear(witness, point, _tr())
    assert value == mle_evaluate([int(v) for v in values], point)
    parsed = HyraxOpening.from_bytes(opening.to_bytes(), layout)
    verify_clear(pg, vg, rows, layout, point, value, parsed)


def test_clear_opening_soundness(pg, vg, verify_clear):
    layout, values, _, witness, rows, point, rng = _committed(pg, vg, seed=3)
    value, opening = ph.open_clear(witness, point, _tr())
    other_rows = _committed(pg, vg, seed=4)[4]
    bad = {
        "wrong value": (rows, point, value + 1, opening),
        "wrong point": (rows, [point[0] + 1] + point[1:], value, opening),
        "wrong row": (rows, point, value, dataclasses.replace(opening, row=(opening.row[0] + 1,) + opening.row[1:])),
        "wrong blinding": (rows, point, value, dataclasses.replace(opening, blind=opening.blind + 1)),
        "swapped commitment": (other_rows, point, value, opening),
        "swapped rows": (rows[::-1], point, value, opening),
    }
    for name, (r, pt, v, op) in bad.items():
        with pytest.raises(VerifyError):
            verify_clear(pg, vg, r, layout, pt, v, op)


def test_opening_row_of_another_length_rejected(pg, vg, verify_clear):
    """Parsing reads exactly a row's columns (``HyraxOpening.from_bytes``); an opening built
    through the API with another row length is refused by name, not by a zip that truncates."""
    layout, _, _, witness, rows, point, _ = _committed(pg, vg, seed=7)
    value, opening = ph.open_clear(witness, point, _tr())
    short = dataclasses.replace(opening, row=opening.row[:-1])
    with pytest.raises(VerifyError, match=rf"^hyrax opening: row of {layout.num_cols - 1} entries, expected {layout.num_cols}$"):
        verify_clear(pg, vg, rows, layout, point, value, short)


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_prover_and_verifier_transcripts_agree_after_an_opening(pg, vg, zk):
    """An opening is a sub-protocol of a longer proof: whatever follows it draws challenges
    from the transcript both sides hold, so the verifier must absorb exactly what the prover
    did (separator, point, value, messages); their next challenges are equal."""
    layout, _, _, witness, rows, point, _ = _committed(pg, vg, seed=8)
    tp, tv = _tr(), _tr()
    if zk:
        blind = 12345
        proof = ph.open_zk(pg, witness, point, blind, tp, "log", random.Random(2))
        vh.verify_zk_opening(vg, rows, layout, point, vg.commit_value(witness.evaluate(point), blind), proof, tv)
    else:
        value, opening = ph.open_clear(witness, point, tp)
        vh.verify_opening(vg, rows, layout, point, value, opening, tv)
    assert tp.challenge_scalar(b"next") == tv.challenge_scalar(b"next")


def test_malformed_commitments_are_rejected(pg, vg):
    layout, _, commitment, *_ = _committed(pg, vg, seed=5)
    data = commitment.to_bytes()
    with pytest.raises(VerifyError, match="subgroup"):
        HyraxCommitment.from_bytes(OFF_SUBGROUP + data[48:], layout).decode(vg, layout)
    with pytest.raises(VerifyError, match="compression"):
        HyraxCommitment.from_bytes(bytes([data[0] & 0x7F]) + data[1:], layout)
    with pytest.raises(VerifyError, match="truncated"):
        HyraxCommitment.from_bytes(data[:-48], layout)
    with pytest.raises(VerifyError, match="trailing"):
        HyraxCommitment.from_bytes(data + data[:48], layout)
    with pytest.raises(VerifyError, match="row commitments"):
        HyraxCommitment(commitment.rows[:-1]).decode(vg, layout)
    with pytest.raises(VerifyError, match="coordinates"):
        layout.split([1, 2])


# --- zero-knowledge openings --------------------------------------------------------------------


@pytest.fixture(params=["sqrt", "log"])
def argument(request):
    return request.param


def _zk(pg, vg, argument, seed=6, **kw):
    layout, values, commitment, witness, rows, point, rng = _committed(pg, vg, seed=seed, **kw)
    value = witness.evaluate(point)
    value_blind = rng.randrange(R)
    proof = ph.open_zk(pg, witness, point, value_blind, _tr(), argument, rng)
    return layout, values, witness, rows, point, value, value_blind, proof


def test_zk_opening_completeness(pg, vg, argument):
    for num_vars in (0, 3, 6):
        layout, _, _, rows, point, value, vb, proof = _zk(pg, vg, argument, num_vars=num_vars)
        parsed = vh.parse_zk_opening(proof.to_bytes(), layout, argument)
        vh.verify_zk_opening(vg, rows, layout, point, vg.commit_value(value, vb), parsed, _tr())


def test_zk_opening_soundness(pg, vg, argument):
    layout, values, witness, rows, point, value, vb, proof = _zk(pg, vg, argument, seed=7)
    other_rows = _committed(pg, vg, seed=8)[4]
    good_cv = vg.commit_value(value, vb)
    bad = {
        "wrong value": (rows, point, vg.commit_value(value + 1, vb), _tr()),
        "wrong blinding": (rows, point, vg.commit_value(value, vb + 1), _tr()),
        "wrong point": (rows, point[:-1] + [point[-1] + 1], good_cv, _tr()),
        "swapped commitment": (other_rows, point, good_cv, _tr()),
        "another transcript": (rows, point, good_cv, Transcript(b"zktrain/test/other")),
    }
    for name, (r, pt, cv, tr) in bad.items():
        with pytest.raises(VerifyError):
            vh.verify_zk_opening(vg, r, layout, pt, cv, proof, tr)


def test_zk_opening_malformed_proof(pg, vg, argument):
    layout, _, _, rows, point, value, vb, proof = _zk(pg, vg, argument, seed=9)
    data = proof.to_bytes()
    cv = vg.commit_value(value, vb)
    with pytest.raises(VerifyError, match="subgroup"):
        vh.verify_zk_opening(vg, rows, layout, point, cv, vh.parse_zk_opening(OFF_SUBGROUP + data[48:], layout, argument), _tr())
    with pytest.raises(VerifyError, match="non-canonical"):
        vh.parse_zk_opening(data[:-32] + b"\xff" * 32, layout, argument)
    with pytest.raises(VerifyError):
        vh.parse_zk_opening(data[:-1], layout, argument)
    with pytest.raises(ValueError, match="argument"):
        vh.parse_zk_opening(data, layout, "linear")


def test_zk_opening_reveals_no_witness(pg, vg, argument):
    """No entry of the tensor, of the combined row t, the value or a blinding appears in the bytes;
    the clear opening of the same claim does contain t (the search can find it)."""
    layout, values, witness, rows, point, value, vb, proof = _zk(pg, vg, argument, seed=10, bits=8)
    data = proof.to_bytes()
    row, row_blind = witness.combined_row(point)
    secrets = {int(v) % R for v in values} | set(row) | {value, vb, row_blind} | set(witness.blinds)
    assert not any(s.to_bytes(32, "little") in data for s in secrets)
    _, clear = ph.open_clear(witness, point, _tr())
    assert all(t.to_bytes(32, "little") in clear.to_bytes() for t in row)


def test_zk_opening_of_an_unknown_argument_rejected(pg, vg):
    """A caller handing another object as the closing proof gets a rejection, not an
    attribute error from deep in a Sigma-protocol."""
    layout, _, _, rows, point, value, vb, proof = _zk(pg, vg, "log", seed=9)
    with pytest.raises(VerifyError, match="^hyrax: unknown ZK opening proof bytes$"):
        vh.verify_zk_opening(vg, rows, layout, point, vg.commit_value(value, vb), proof.to_bytes(), _tr())


def test_opening_verifies_with_the_pure_python_curve(pg):
    vg = pedersen_generators("py_ecc")
    layout, values, _, witness, _, point, _ = _committed(pg, pedersen_generators("blst"), num_vars=2, seed=40)
    commitment, witness = ph.commit(pg, values, layout, 16, random.Random(41))
    rows = commitment.decode(vg, layout)
    value, opening = ph.open_clear(witness, point, _tr())
    vh.verify_opening(vg, rows, layout, point, value, opening, _tr())
    with pytest.raises(VerifyError):
        vh.verify_opening(vg, rows, layout, point, value + 1, opening, _tr())
