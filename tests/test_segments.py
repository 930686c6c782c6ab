"""A run proven in segments chained by committed checkpoints (issue 4, item 3).

Segment k proves its steps from the committed W_T, b_T of segment k - 1 (``W{l}.0``,
``b{l}.0`` in its statement). Completeness: chained proofs verify in both modes, and the
chain ends on the same model as the one-segment proof. Soundness: a segment proven from
another starting point, a checkpoint replaced in the bundle, segments swapped or dropped,
and a segment length the recipe does not allow are each rejected.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from prover.backends import get_backend
from prover.training import ProverChannel, mlp_witness, prove_with
from verifier.bundle import encode_bundle, parse_bundle, segment_statements, verify_bundle
from verifier.errors import VerifyError
from verifier.training import TrainingStatement, verify_training
from zktrain.cli import main
from zktrain.prove import prove_run, train_trace
from zktrain.run_config import parse_run

RUN = tiny_run(name="chain")


def _run(segment_steps=None, zk=False):
    return parse_run(tiny_run({"zk": zk, "segment_steps": segment_steps}, name="chain"))


@pytest.fixture(scope="module")
def chained():
    """Three one-step segments (all of one shape, so they could be swapped), clear mode."""
    bundle, summary = prove_run(_run(segment_steps=1))
    return {"bundle": bundle, "summary": summary}


def _split(bundle: bytes) -> tuple[bytes, list[bytes]]:
    """The header (through the segment length) and each segment's bytes."""
    parsed = parse_bundle(bundle)
    sizes = [sum(len(c.to_bytes()) for c in seg.public.values()) + 8 + len(seg.proof) for seg in parsed.segments]
    head = len(bundle) - sum(sizes)
    out, pos = [], head
    for n in sizes:
        out.append(bundle[pos : pos + n])
        pos += n
    return bundle[:head], out


def test_chained_segments_verify(chained):
    report = verify_bundle(chained["bundle"])
    assert report.accepted, report.reason
    assert len(report.segments) == 3 and chained["summary"].segments == 3


def test_report_shows_every_segments_own_commitments_in_full(chained):
    """Each segment under its own entry, its commitments whole: segment 0's data commitment is
    not overwritten by the last segment's, and nothing is cut to a prefix."""
    report = verify_bundle(chained["bundle"])
    parsed = parse_bundle(chained["bundle"])
    assert [(s.index, s.first_step, s.steps) for s in report.segments] == [(0, 0, 1), (1, 1, 1), (2, 2, 1)]
    for seg, entry in zip(parsed.segments, report.segments, strict=True):
        assert entry.commitments == {name: com.to_bytes().hex() for name, com in seg.public.items()}
    x = parsed.segments[0].statement.circuit.ranged("X")
    assert report.segments[0].commitments[x] != report.segments[2].commitments[x]
    assert report.segment_steps == 1 and report.soundness_bits > 200


@pytest.mark.parametrize("segment_steps", [2, 3])
def test_uneven_and_single_segments_verify_in_zk(segment_steps):
    bundle, summary = prove_run(_run(segment_steps=segment_steps, zk=True))
    report = verify_bundle(bundle)
    assert report.accepted and report.mode == "zk", report.reason
    assert summary.segments == len(report.segments) == (2 if segment_steps == 2 else 1)


def test_swapped_segments_rejected(chained):
    head, segs = _split(chained["bundle"])
    report = verify_bundle(head + segs[0] + segs[2] + segs[1])
    assert not report.accepted and report.reason.startswith("segment 1: ")


def test_dropped_segment_rejected(chained):
    head, segs = _split(chained["bundle"])
    assert not verify_bundle(head + segs[0] + segs[1]).accepted
    assert not verify_bundle(head + segs[0] + segs[2]).accepted


@pytest.mark.parametrize("segment_steps", [0, 4, 2])
def test_segment_length_bound_to_the_body(chained, segment_steps):
    """0 and more than the run's steps are malformed; 2 re-cuts the run into other segments."""
    head, segs = _split(chained["bundle"])
    retagged = head[:-4] + segment_steps.to_bytes(4, "little") + b"".join(segs)
    assert not verify_bundle(retagged).accepted


def _deviating_segment(run, statement, first, w0, b0):
    """Segment ``statement`` proven honestly but from the starting weights ``w0``, ``b0``,
    which it commits to itself: the proof is self-consistent, only the chain is broken."""
    trace, _ = train_trace(run)
    steps = trace.steps[first : first + statement.circuit.steps]
    x = np.stack([s.x for s in steps])
    y = np.stack([s.y for s in steps])
    witness = mlp_witness(statement.circuit, x, y, w0, b0)
    channel = prove_with(ProverChannel, statement, witness, get_backend("cpu"))
    return channel.public, channel.proof_bytes()


def _honest_segments(run, statements):
    """Each segment's (public, proof) of the honest chain, proven here step by step."""
    trace, _ = train_trace(run)
    out, checkpoint = [], {}
    for k, st in enumerate(statements):
        x = np.stack([trace.steps[k].x])
        y = np.stack([trace.steps[k].y])
        layers = trace.steps[k].layers
        witness = mlp_witness(st.circuit, x, y, [l.weight for l in layers], [l.bias for l in layers])
        channel = prove_with(ProverChannel, st, witness, get_backend("cpu"), precommitted=checkpoint)
        out.append((channel.public, channel.proof_bytes()))
        checkpoint = channel.checkpoint()
    return out


@pytest.fixture(scope="module")
def chain_parts():
    run = _run(segment_steps=1)
    statements = segment_statements(run.recipe, "limbs", 1)
    trace, _ = train_trace(run)
    return run, statements, trace, _honest_segments(run, statements)


def test_hand_built_chain_verifies(chain_parts):
    """Positive control for the deviations below: the same construction, honest, verifies."""
    _, statements, _, segments = chain_parts
    report = verify_bundle(encode_bundle(statements, segments))
    assert report.accepted, report.reason
    with pytest.raises(ValueError, match="2 segment proofs for 3 segments"):
        encode_bundle(statements, segments[:2])


def _perturbed_start(trace, k):
    layers = trace.steps[k].layers
    w0 = [l.weight.copy() for l in layers]
    w0[0][0, 0] += 1
    return w0, [l.bias for l in layers]


def test_segment_proven_from_another_checkpoint_rejected(chain_parts):
    """Segment 1 starts from W_0 with one weight off by one ulp: its own commitment to that
    W_0 never enters the bundle; the verifier takes segment 0's W_T instead."""
    run, statements, trace, segments = chain_parts
    deviating = _deviating_segment(run, statements[1], 1, *_perturbed_start(trace, 1))
    bundle = encode_bundle(statements, [segments[0], deviating, segments[2]])
    report = verify_bundle(bundle)
    assert not report.accepted and report.reason.startswith("segment 1: ")


def test_checkpoint_replaced_in_the_bundle_rejected(chain_parts):
    """The same deviation, with segment 0's published W_T replaced by the deviating start
    (so segment 1 would verify): segment 0's proof no longer ends on its checkpoint."""
    run, statements, trace, segments = chain_parts
    public1, proof1 = _deviating_segment(run, statements[1], 1, *_perturbed_start(trace, 1))
    public0 = dict(segments[0][0])
    for name in statements[0].checkpoint_tensors("T"):
        public0[name] = public1[name.replace(".T", ".0")]
    bundle = encode_bundle(statements, [(public0, segments[0][1]), (public1, proof1), segments[2]])
    report = verify_bundle(bundle)
    assert not report.accepted and report.reason.startswith("segment 0: ")


def test_cli_segment_steps_and_inspect(tmp_path):
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(RUN))
    out = tmp_path / "run.zkp"
    runner = CliRunner()
    result = runner.invoke(main, ["prove", "--run", str(tmp_path / "run.yaml"), "--segment-steps", "2", "--out", str(out)])
    assert result.exit_code == 0 and "in 2 segments" in result.output, result.output
    result = runner.invoke(main, ["inspect", str(out)])
    assert result.exit_code == 0 and "segments    2 of 2 steps" in result.output, result.output
    assert "[segment 1] W1.T" in result.output
    result = runner.invoke(main, ["verify", "--json", str(out)])
    assert result.exit_code == 0 and len(json.loads(result.output)["segments"]) == 2


def test_segment_statements_validate_their_length():
    recipe = _run().recipe
    with pytest.raises(ValueError, match="steps per segment"):
        segment_statements(recipe, "limbs", 0)
    statements = segment_statements(recipe, "limbs", 2)
    assert [st.circuit.steps for st in statements] == [2, 1]
    assert [st.committed_init for st in statements] == [False, True]
    assert "W1.0" in statements[1].public_tensors() and "W1.0" not in statements[0].public_tensors()


def _retagged(st, **place):
    """The same statement (the very same circuit and start) at another place in a run."""
    fields = dict(segment=st.segment, segments=st.segments, segment_steps=st.segment_steps)
    return TrainingStatement(st.circuit, st.recipe, st.init_weights, st.init_biases, **{**fields, **place})


@pytest.mark.parametrize(
    "segment, place",
    [(1, dict(segment=2)), (1, dict(segments=4)), (0, dict(segment_steps=2)), (1, dict(segment_steps=2))],
    ids=["index", "count", "steps per segment", "steps per segment and first step"],
)
def test_a_segments_place_is_bound_by_the_transcript(chain_parts, segment, place):
    """Every one-step segment of a constant learning rate has the same circuit, so a proof
    re-tagged to another place in the run (index, count, steps per segment S, first step) sees
    an identical relation: only the transcript, which absorbs the place, can tell. It does at
    the first challenge it draws, phase A's points, so the first sumcheck fails."""
    _, statements, _, segments = chain_parts
    st = statements[segment]
    public, proof = segments[segment]
    assert verify_training(st, public, proof) > 0  # positive control: the untouched place
    other = _retagged(st, **place)
    assert other.circuit == st.circuit
    with pytest.raises(VerifyError, match="phase-1: sumcheck round 0: p\\(0\\) \\+ p\\(1\\)"):
        verify_training(other, public, proof)
