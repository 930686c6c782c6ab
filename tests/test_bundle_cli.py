"""The proof bundle and the CLI: prove -> verify -> inspect on a tiny run, and every malformed
bundle rejected with a reason, a non-zero exit and no traceback."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from circuits.recipe import MAX_CANONICAL_BYTES
from verifier.bundle import MAGIC, parse_bundle, verify_bundle
from verifier.errors import VerifyError
from zktrain.cli import main
from zktrain.run_config import RunConfigError, parse_run

TINY = tiny_run()


@pytest.fixture(scope="module")
def bundle_path(tmp_path_factory):
    d = tmp_path_factory.mktemp("run")
    (d / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    out = d / "tiny.zkp"
    result = CliRunner().invoke(main, ["prove", "--run", str(d / "tiny.yaml"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "per step" in result.output
    return out


def test_prove_verify_inspect(bundle_path):
    runner = CliRunner()
    result = runner.invoke(main, ["verify", str(bundle_path)])
    assert result.exit_code == 0 and result.output.startswith("ACCEPT"), result.output
    result = runner.invoke(main, ["verify", "--json", str(bundle_path)])
    report = json.loads(result.output)
    assert result.exit_code == 0 and report["accepted"] and report["steps"] == 3
    result = runner.invoke(main, ["inspect", str(bundle_path)])
    assert result.exit_code == 0 and "MLP [4, 8, 3]" in result.output and "W1.T" in result.output
    assert "training    SGD on MSE, batch 8, 3 steps" in result.output
    assert "16-bit limbs, logUp-GKR" in result.output  # the default range gadget


@pytest.mark.parametrize(
    "mutate, reason",
    [
        pytest.param(lambda b: b[:-1], "truncated", id="truncated by one"),
        pytest.param(lambda b: b + b"\x00", "1 trailing bytes after the last segment", id="trailing byte"),
        pytest.param(lambda b: b[: len(b) // 3], "truncated", id="a third"),
        pytest.param(lambda b: b"", "truncated", id="empty"),
        pytest.param(lambda b: b"NOTZKTRN" + b[8:], "bad magic", id="bad magic"),
        pytest.param(lambda b: b[:8] + b"\x01\x00" + b[10:], "unsupported bundle format version 1", id="format version 1"),
        pytest.param(lambda b: b[:10] + b"\x02" + b[11:], "unsupported curve/hash ids 2/1", id="curve 2"),
        pytest.param(lambda b: b[:11] + b"\x02" + b[12:], "unsupported curve/hash ids 1/2", id="hash 2"),
        # A clear body read as zero-knowledge, a limbs body read as bits: the layout the mode
        # and the gadget imply no longer parses (a slot value read as a point, rows miscounted).
        pytest.param(lambda b: b[:12] + b"\x01" + b[13:], "training proof: G1 point", id="clear body read as zk"),
        pytest.param(lambda b: b[:12] + b"\x02" + b[13:], "unknown proof mode 2", id="mode 2"),
        pytest.param(lambda b: b[:13] + b"\x02" + b[14:], "an inference bundle: verify it with --training", id="kind 2"),
        pytest.param(lambda b: b[:13] + b"\x03" + b[14:], "unknown proof kind 3", id="kind 3"),
        pytest.param(lambda b: b[:14] + b"\x02" + b[15:], "bundle: G1 point", id="limbs body read as bits"),
        pytest.param(lambda b: b[:14] + b"\x00" + b[15:], "unknown range-check gadget 0", id="range 0"),
        pytest.param(lambda b: b[:15] + b"\xff\xff\xff\x7f" + b[19:], "recipe of 2147483647 bytes exceeds the limit", id="recipe length 2^31-1"),
        pytest.param(lambda b: b[:15] + (MAX_CANONICAL_BYTES + 1).to_bytes(4, "little") + b[19:], "exceeds the limit", id="recipe length limit+1"),
    ],
)
def test_malformed_bundles_rejected_without_traceback(bundle_path, tmp_path, mutate, reason):
    """Each malformed bundle is refused by the check meant for it, named in the reason (the
    curve, hash and kind bytes have no other meaning today: without their checks a bundle
    labelled with another curve would verify)."""
    bad = tmp_path / "bad.zkp"
    bad.write_bytes(mutate(bundle_path.read_bytes()))
    result = CliRunner().invoke(main, ["verify", str(bad)])
    assert result.exit_code == 1 and result.output.startswith("REJECT: ")
    assert re.search(reason, result.output), result.output
    assert "Traceback" not in result.output and result.exception is None or isinstance(result.exception, SystemExit)


def test_proof_length_one_past_the_end_rejected_by_its_bound(bundle_path):
    """The segment's u64 proof length, one more than the bytes that follow: refused by the
    bound on that field, before the body is taken."""
    data = bundle_path.read_bytes()
    at = len(data) - len(parse_bundle(data).final.proof) - 8
    length = int.from_bytes(data[at : at + 8], "little") + 1
    report = verify_bundle(data[:at] + length.to_bytes(8, "little") + data[at + 8 :])
    assert not report.accepted
    assert report.reason == f"segment 0: proof body declares {length} bytes but {length - 1} follow (truncated)"


def test_flipped_bytes_anywhere_rejected(bundle_path):
    data = bundle_path.read_bytes()
    step = max(1, len(data) // 40)
    for pos in range(0, len(data), step):
        tampered = bytearray(data)
        tampered[pos] ^= 0x10
        report = verify_bundle(bytes(tampered))
        assert not report.accepted and report.reason, pos


def test_spliced_statement_rejected(bundle_path, tmp_path):
    """The recipe (and public commitments) of another run spliced onto this proof."""
    other = tiny_run(seed=4)
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    out = tmp_path / "other.zkp"
    assert CliRunner().invoke(main, ["prove", "--run", str(tmp_path / "other.yaml"), "--out", str(out)]).exit_code == 0
    mine, theirs = bundle_path.read_bytes(), out.read_bytes()
    head_mine = len(mine) - len(parse_bundle(mine).final.proof) - 8
    head_theirs = len(theirs) - len(parse_bundle(theirs).final.proof) - 8
    spliced = theirs[:head_theirs] + mine[head_mine:]
    report = verify_bundle(spliced)
    assert not report.accepted


def test_verify_unreadable_file(tmp_path):
    result = CliRunner().invoke(main, ["verify", "--json", str(tmp_path / "missing.zkp")])
    assert result.exit_code == 1 and json.loads(result.output)["accepted"] is False


def test_inspect_rejects_garbage(tmp_path):
    (tmp_path / "g.zkp").write_bytes(MAGIC + b"\x01")
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "g.zkp")])
    assert result.exit_code != 0 and "not a valid bundle" in result.output


def test_parse_bundle_bounds_before_allocating():
    with pytest.raises(VerifyError):
        parse_bundle(MAGIC + b"\x02\x00\x01\x01\x00\x01\x01" + (1 << 30).to_bytes(4, "little"))


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda c: c["train"].update(batch_size=-2), "train.batch_size: must be a positive integer"),
        (lambda c: c["train"].update(optimizer="adam"), "train.optimizer: only 'sgd', 'lars' and 'lamb' are provable"),
        (lambda c: c["train"].update(lr_schedule=[0.1]), "train: give exactly one of 'lr' and 'lr_schedule'"),
        (lambda c: c["model"].update(widths=[5, 8, 3]), r"model.widths\[0\]: must equal the data's 4 features"),
        (lambda c: c["prove"].update(backend="tpu"), "prove.backend: must be one of"),
        (lambda c: c.update(extra=1), "extra: unknown key"),
        (lambda c: c["quant"].update(frac_bits=40), "quant.frac_bits"),
        (lambda c: c["data"].update(source="mnist"), "data.source: must be one of"),
        (lambda c: c["prove"].update(range_check="lookup"), "prove.range_check: must be one of limbs, bits"),
        (lambda c: c["prove"].update(segment_steps=0), "prove.segment_steps: must be a positive integer"),
    ],
)
def test_run_config_errors_name_the_field(change, message):
    cfg = tiny_run()
    change(cfg)
    with pytest.raises(RunConfigError, match=message):
        parse_run(cfg)


def test_prove_reports_config_errors_cleanly(tmp_path):
    (tmp_path / "bad.yaml").write_text("name: x\nseed: 0\n")
    result = CliRunner().invoke(main, ["prove", "--run", str(tmp_path / "bad.yaml")])
    assert result.exit_code != 0 and "Error:" in result.output and "Traceback" not in result.output


def test_zk_flag_overrides_the_run_file(tmp_path):
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    out = tmp_path / "tiny-zk.zkp"
    result = CliRunner().invoke(main, ["prove", "--run", str(tmp_path / "tiny.yaml"), "--zk", "--out", str(out)])
    assert result.exit_code == 0 and "mode zk" in result.output, result.output
    report = verify_bundle(out.read_bytes())
    assert report.accepted and report.mode == "zk", report.reason


def test_range_check_flag_overrides_the_run_file(tmp_path):
    """The bit-decomposition gadget end to end through the CLI; the bundle records it."""
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    out = tmp_path / "tiny-bits.zkp"
    args = ["prove", "--run", str(tmp_path / "tiny.yaml"), "--range-check", "bits", "--out", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0 and "range checks by bits" in result.output, result.output
    report = verify_bundle(out.read_bytes())
    assert report.accepted and report.range_check == "bits", report.reason
    relabelled = bytearray(out.read_bytes())
    relabelled[14] = 1  # the same body presented as a limbs proof
    assert not verify_bundle(bytes(relabelled)).accepted
