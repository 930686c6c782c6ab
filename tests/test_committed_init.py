"""``init: committed``: the initial weights and biases are public commitments to their range
slots (``W{l}.0.limbs`` / ``.bits``), ``weight_bits`` signed bits wide, with their padding
forced to zero by a zero-check; the walk recomposes W~_0 from the slots.

Completeness in both modes and with both gadgets; soundness: an initial weight one past its
range, and a nonzero initial weight or bias in a padded entry (which would feed the padded
hidden units into the real outputs), are rejected.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.logup import multiplicities
from prover.training import ProverChannel, mlp_witness
from prover.zk_training import ZkProverChannel
from verifier.errors import VerifyError
from verifier.training import TrainingStatement, TrainingWalk, logup_statement, verify_training
from verifier.zk_training import verify_training_zk
from zktrain.cli import main
from zktrain.run_config import RunConfigError, load_run, parse_run

MODES = {"clear": (ProverChannel, verify_training), "zk": (ZkProverChannel, verify_training_zk)}
WEIGHT_BITS = 47


def _setup(gadget):
    c = MlpCircuit(widths=(3, 6, 3), batch=4, steps=2, lr=(3, 2), range_check=gadget, limb_bits=8,
                   init_committed=True, weight_bits=WEIGHT_BITS)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 1 << 16, size=(2, 4, 3))
    y = np.zeros((2, 4, 3), dtype=np.int64)
    y[np.arange(2)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(2, 4))] = 1 << 16
    w0 = [rng.integers(-(1 << 44), 1 << 44, size=(6, 3)), rng.integers(-(1 << 44), 1 << 44, size=(3, 6))]
    w0[0][0, 0] = -(1 << (WEIGHT_BITS - 1))  # the extremes of the declared range
    w0[1][0, 0] = (1 << (WEIGHT_BITS - 1)) - 1
    b0 = [rng.integers(-(1 << 40), 1 << 40, size=6), rng.integers(-(1 << 40), 1 << 40, size=3)]
    return c, TrainingStatement(c, b'{"run":"committed-init"}', None, None), x, y, w0, b0


def _prove(statement, witness, mode, walk=TrainingWalk):
    channel = MODES[mode][0](statement, witness, get_backend("reference"), None, random.Random(2))
    walk(statement, channel).run()
    return channel.public, channel.proof_bytes()


@pytest.fixture(scope="module", params=["limbs", "bits"])
def setup(request):
    return _setup(request.param)


@pytest.mark.parametrize("mode", list(MODES))
def test_committed_initial_weights_prove_and_verify(setup, mode):
    c, statement, x, y, w0, b0 = setup
    assert statement.public_tensors()[2:4] == [c.ranged("W1.0"), c.ranged("W2.0")]
    public, proof = _prove(statement, mlp_witness(c, x, y, w0, b0), mode)
    MODES[mode][1](statement, public, proof)


class _Reckless(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


@pytest.mark.parametrize("mode", list(MODES))
def test_initial_weight_one_past_its_range_rejected(setup, mode):
    """W_1,0[0, 1] = 2^(weight_bits - 1), one past the range: the whole run is computed from
    it, and its committed slots recompose to it with the slot below the sign slot one past its
    width (the other entries honest). Only the range check (logUp or booleanity) rejects."""
    c, statement, x, y, w0, b0 = setup
    d = c.w0_slots()
    big = [w.copy() for w in w0]
    big[0][0, 1] = 1 << (WEIGHT_BITS - 1)
    witness = mlp_witness(dataclasses.replace(c, weight_bits=WEIGHT_BITS + 1), x, y, big, b0)
    # 2^(weight_bits - 1) as one slot one past its width: the highest slot below the sign slot.
    k = d.num_slots - 2
    entry = np.zeros(d.padded_width, dtype=np.int64)
    entry[k] = 1 << d.slot_widths[k]
    assert d.compose(entry) == 1 << (WEIGHT_BITS - 1)
    in_range = witness["W1.0"].copy()
    in_range[0, 1] = 0
    slots = d.decompose(in_range, "W_0").astype(np.int64)
    for other in ("W2.0", "b1.0", "b2.0"):
        witness[c.ranged(other)] = d.decompose(witness[other], other)
    if c.range_check == "limbs":  # count the bad limb as a lookup of 0: the best a prover can do
        witness.update(multiplicities(logup_statement(c), {**witness, c.ranged("W1.0"): slots}))
    slots[0, 1] = entry
    witness[c.ranged("W1.0")] = slots
    public, proof = _prove(statement, witness, mode, walk=_Reckless)
    # The logUp top sum (limbs), or phase 1, whose only failing instance is booleanity (bits).
    with pytest.raises(VerifyError, match="logup-top" if c.range_check == "limbs" else "phase-1"):
        MODES[mode][1](statement, public, proof)


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("kind", ["W", "b"])
def test_nonzero_padded_initial_entry_rejected(setup, mode, kind):
    """A padded hidden unit (width 6 pads to 8) with a nonzero initial bias, or a padded input
    column of W_2 with a nonzero weight: every relation holds (the run is computed honestly
    from that W_0), only the padding zero-check of the committed W_0 can reject."""
    c, statement, x, y, w0, b0 = setup
    w_pad = [np.zeros((8, 4), dtype=np.int64), np.zeros((4, 8), dtype=np.int64)]
    b_pad = [np.zeros(8, dtype=np.int64), np.zeros(4, dtype=np.int64)]
    for l in range(2):
        w_pad[l][: w0[l].shape[0], : w0[l].shape[1]] = w0[l]
        b_pad[l][: b0[l].shape[0]] = b0[l]
    if kind == "W":
        w_pad[1][0, 7] = 1 << 40  # reads padded hidden unit 7 (zero: only W_T's padding differs)
    else:
        b_pad[0][7] = 1 << 40  # makes padded hidden unit 7 nonzero: Z' = 2^40 / 2^32
    witness = mlp_witness(c, x, y, w_pad, b_pad)
    public, proof = _prove(statement, witness, mode, walk=_Reckless)
    with pytest.raises(VerifyError, match="phase-1"):  # the batch holding the zero-check
        MODES[mode][1](statement, public, proof)


# --- the product: a run file with init: committed ----------------------------------------


def _run_file(tmp_path, weights, **prove):
    np.savez(tmp_path / "w0.npz", **weights)
    cfg = tiny_run(prove)
    cfg["model"].update(init="committed", init_path="w0.npz")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    return tmp_path / "run.yaml"


def _float_weights(seed=0):
    rng = np.random.default_rng(seed)
    return {"W1": rng.uniform(-0.5, 0.5, (8, 4)), "b1": rng.uniform(-0.5, 0.5, 8),
            "W2": rng.uniform(-0.3, 0.3, (3, 8)), "b2": rng.uniform(-0.3, 0.3, 3)}


@pytest.mark.parametrize("zk, segment_steps", [(False, None), (True, 2)])
def test_cli_proves_a_run_from_committed_initial_weights(tmp_path, zk, segment_steps):
    """Float weights from an .npz, quantized to the master scale, committed and range-checked;
    with segments, segment 1 starts from segment 0's checkpoint as usual."""
    run_file = _run_file(tmp_path, _float_weights(), zk=zk, segment_steps=segment_steps)
    out = tmp_path / "run.zkp"
    runner = CliRunner()
    result = runner.invoke(main, ["prove", "--run", str(run_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["verify", str(out)])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT"), result.output
    result = runner.invoke(main, ["inspect", str(out)])
    assert "init committed" in result.output and "W1.0.limbs" in result.output, result.output


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda w: w.pop("b2"), "has no array 'b2'"),
        (lambda w: w.update(W1=np.zeros((4, 8))), r"W1 has shape \(4, 8\), expected \(8, 4\)"),
        (lambda w: w.update(W2=np.full((3, 8), np.nan)), "finite numbers"),
        (lambda w: w.update(W1=np.full((8, 4), 1 << 60, dtype=np.int64)), "W of layer 1 .* declared 56-bit range"),
    ],
)
def test_committed_initial_weights_are_validated(tmp_path, edit, message):
    weights = _float_weights()
    edit(weights)
    with pytest.raises(RunConfigError, match=message):
        load_run(_run_file(tmp_path, weights))


def test_init_path_needs_init_committed(tmp_path):
    cfg = tiny_run()
    cfg["model"]["init_path"] = "w0.npz"
    with pytest.raises(RunConfigError, match="only with init: committed"):
        parse_run(cfg)
