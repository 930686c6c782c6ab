"""Bounded work before allocation (issue 12, item 3; DESIGN section 7).

A bundle is a few hundred bytes of header and recipe followed by what the recipe says must
follow. The verifier may do work the recipe sizes (derive and evaluate a seeded W_0, build
public tables) only once the bytes the recipe implies are known to be there, and the recipe
bounds that work (``circuits.recipe.MAX_SEEDED_PARAMETERS``). Each test hands the verifier a
tiny bundle declaring a huge recipe and asserts the rejection reason and the peak of Python
and numpy allocations (tracemalloc traces both), never the time.
"""

from __future__ import annotations

import tracemalloc

import pytest

from circuits.recipe import MAX_SEEDED_PARAMETERS, DataSpec, ModelSpec, QuantSpec, Recipe, RecipeError, TrainSpec
from verifier.bundle import (
    FORMAT_VERSION,
    MAGIC,
    RANGE_IDS,
    _least_bytes,
    _own_public,
    _rows,
    parse_bundle,
    segment_statements,
    verify_bundle,
)
from verifier.curve import IDENTITY_BYTES

#: A tiny bundle's honest parse needs well under this; a seeded W_0 of the recipes below would
#: need hundreds of MiB (a quarter of 2^24 int64 entries is already 32 MiB).
SMALL = 16 << 20


def _recipe(widths, steps=1, init="seeded", batch=1) -> Recipe:
    return Recipe(
        name="huge",
        seed=1,
        data=DataSpec(source="synthetic", features=widths[0], classes=widths[-1]),
        model=ModelSpec(widths=tuple(widths), init=init),
        train=TrainSpec(batch_size=batch, steps=steps, lr_num=(1,) * steps),
        quant=QuantSpec(),
    )


def _header(recipe_json: bytes, segment_steps: int = 1, zk: bool = False, range_check: str = "limbs") -> bytes:
    return b"".join([
        MAGIC,
        FORMAT_VERSION.to_bytes(2, "little"),
        bytes([1, 1, int(zk), 1, RANGE_IDS[range_check]]),
        len(recipe_json).to_bytes(4, "little"),
        recipe_json,
        segment_steps.to_bytes(4, "little"),
    ])


def _peak(fn):
    """(result, peak bytes allocated while fn runs)."""
    tracemalloc.start()
    try:
        result = fn()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _largest_seeded_widths() -> tuple[int, ...]:
    """A seeded MLP whose padded W_0 and b_0 hold just under MAX_SEEDED_PARAMETERS entries."""
    widths = (4096, 2048, 2048, 1024, 10)
    entries = 2048 * 4096 + 2048 * 2048 + 1024 * 2048 + 16 * 1024 + (2048 + 2048 + 1024 + 16)
    assert MAX_SEEDED_PARAMETERS // 2 < entries <= MAX_SEEDED_PARAMETERS
    return widths


def test_the_reported_459_byte_bundle_is_refused_by_the_recipe_bound():
    """The reviewer's case: widths [8192, 8192, 8192, 3], seeded, and nothing after the header.
    It cost 15.6 s and 3.1 GB; now the recipe itself is refused for the work it asks for."""
    json = (  # raw JSON: the recipe class itself refuses to build it

        b'{"data":{"binding":"private","classes":3,"features":8192,"input_bits":17,"input_signed":false,'
        b'"label_bits":17,"rows":0,"sha256":"","source":"synthetic"},"model":{"activation":"relu","bias":true,"init":"seeded","kind":"mlp",'
        b'"widths":[8192,8192,8192,3]},"name":"huge","quant":{"frac_bits":16,"lr_shift":16,'
        b'"value_bits":32,"weight_bits":56},"seed":1,"semantics":1,"train":{"batch_size":1,'
        b'"loss":"mse","lr_num":[1],"optimizer":"sgd","steps":1}}'
    )
    report, peak = _peak(lambda: verify_bundle(_header(json)))
    assert not report.accepted and "exceeds the verifier's limit" in report.reason, report.reason
    assert peak < SMALL


def test_the_seeded_parameter_bound_is_exact():
    with pytest.raises(RecipeError, match="model.widths: a seeded W_0, b_0 of 16846864 padded entries"):
        _recipe((4096, 4096, 10))
    _recipe(_largest_seeded_widths())  # just under the bound: a valid recipe
    assert _recipe((4096, 4096, 10), init="committed").model.init == "committed"  # committed: unbounded here


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_tiny_bundle_of_the_largest_seeded_recipe_rejected_with_small_memory(zk):
    """Every byte count the recipe implies (public commitments, proof lengths, least proof
    bodies) is checked before anything the recipe sizes: no W_0 is derived."""
    recipe = _recipe(_largest_seeded_widths())
    bundle = _header(recipe.to_canonical_json(), zk=zk) + bytes(64)
    report, peak = _peak(lambda: verify_bundle(bundle))
    assert not report.accepted and "bundle: truncated (the recipe implies at least" in report.reason, report.reason
    assert peak < SMALL


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_one_byte_short_of_what_the_recipe_implies_rejected_by_the_byte_count(zk):
    """The byte count is exact: every byte the recipe implies but one, and the count refuses
    the bundle before its commitments are read."""
    recipe = _recipe((4, 8, 3))
    statements = segment_statements(recipe, "limbs")
    least = _least_bytes(statements, zk)
    report = verify_bundle(_header(recipe.to_canonical_json(), zk=zk) + bytes(least - 1))
    assert report.reason == f"bundle: truncated (the recipe implies at least {least} more bytes, {least - 1} follow)"


def test_tiny_bundle_of_a_huge_committed_init_recipe_rejected_with_small_memory():
    """init: committed has no seeded W_0; its slots are public commitments whose rows the
    recipe fixes, so the bytes they need are checked first."""
    recipe = _recipe((1 << 14, 1 << 14, 1 << 14, 10), init="committed", batch=1 << 10)
    report, peak = _peak(lambda: verify_bundle(_header(recipe.to_canonical_json()) + bytes(1000)))
    assert not report.accepted and "truncated" in report.reason, report.reason
    assert peak < SMALL


def test_many_segments_need_their_length_fields_first():
    """S = 1 over many steps declares a segment per step: 8 bytes each are checked before any
    statement is built."""
    recipe = _recipe((4, 4, 3), steps=1 << 16)
    report, peak = _peak(lambda: verify_bundle(_header(recipe.to_canonical_json(), segment_steps=1)))
    assert not report.accepted and "truncated (needs 524288 bytes" in report.reason, report.reason
    assert peak < 4 * len(recipe.to_canonical_json()) + SMALL


def _filled_bundle(recipe: Recipe, zk: bool, body_bytes: int, fill: bytes, trailing: bytes = b"") -> bytes:
    """A one-segment bundle whose public commitments are identity points and whose proof body
    is ``body_bytes`` bytes of ``fill`` repeated."""
    (st,) = segment_statements(recipe, "limbs")
    public = b"".join(IDENTITY_BYTES * _rows(st, name) for name in _own_public(st))
    body = (fill * (body_bytes // len(fill) + 1))[:body_bytes]
    return _header(recipe.to_canonical_json(), zk=zk) + public + body_bytes.to_bytes(8, "little") + body + trailing


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_a_proof_body_shorter_than_its_statement_rejected_before_the_walk(zk):
    """A body one byte short of the witness commitments and openings its statement implies,
    with a trailing byte making up the bundle's total: the segment's own bound refuses it
    (without it, the walk would read the commitments and derive the seeded W_0 first)."""
    recipe = _recipe(_largest_seeded_widths())
    (st,) = segment_statements(recipe, "limbs")
    least = st.min_proof_bytes(zk)
    bundle = _filled_bundle(recipe, zk, least - 1, IDENTITY_BYTES, trailing=b"\x00")
    report, peak = _peak(lambda: verify_bundle(bundle))
    assert not report.accepted and f"shorter than the {least} its statement implies" in report.reason, report.reason
    assert peak < SMALL + len(bundle) * 4


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_the_seeded_w0_is_derived_lazily(zk):
    """A body of the right length that fails at its first point: parsing builds the statements
    and the walk starts, yet no W_0 is derived (the walk asks for it after the commitments)."""
    recipe = _recipe(_largest_seeded_widths())
    (st,) = segment_statements(recipe, "limbs")
    bundle = _filled_bundle(recipe, zk, st.min_proof_bytes(zk), b"\xff")
    parsed, peak = _peak(lambda: parse_bundle(bundle))
    assert len(parsed.segments) == 1 and peak < SMALL + len(bundle) * 4
    report, peak = _peak(lambda: verify_bundle(bundle))
    assert not report.accepted and "G1 point" in report.reason, report.reason
    assert peak < SMALL + len(bundle) * 4
