"""Segment-parallel proving on torch.distributed (issue 18, item 3): ``zktrain.distributed``.

Two local gloo ranks prove the segments of the tiny run; with the same (seeded, test-only)
blinding the bundle is byte for byte the one-process bundle, in both modes and with momentum
buffers in the checkpoints, and it verifies with the model file. Without a seed (the OS RNG)
the command line path writes a bundle and model that verify. A rank that raises, dies or hangs
makes the whole run fail with that rank named, within bounded time.
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from tiny_run import tiny_run

from verifier.bundle import segment_statements, verify_bundle
from zktrain.cli import main
from zktrain.distributed import (
    DistributedError,
    assign_segments,
    prove_run_workers,
    spawn_workers,
)
from zktrain.prove import _bind_data, plan_segments, prove_trace, train_trace
from zktrain.run_config import load_run, parse_run

SEED = 20261207


def _run(segment_steps: int, zk: bool = False, momentum: bool | str = False):
    cfg = tiny_run({"zk": zk, "segment_steps": segment_steps}, name="parallel")
    if momentum == "lars":  # the checkpoints carry LARS's buffers, the ranks replay its trust ratios
        del cfg["train"]["lr"]
        cfg["train"]["optimizer"] = {"name": "lars", "lr": 0.5, "momentum": 0.9, "weight_decay": 5e-4,
                                     "trust_coefficient": 0.02, "decay_bias_and_norm": True}
    elif momentum == "lamb":  # the checkpoints carry LAMB's moments, the ranks count its t from the run's step
        del cfg["train"]["lr"]
        cfg["train"]["optimizer"] = {"name": "lamb", "lr": 0.05, "weight_decay": 0.01, "decay_bias_and_norm": True}
    elif momentum == "ghost_bn":  # the checkpoints carry gamma, beta and the running statistics bn*.T
        cfg["model"]["norm"] = {"name": "ghost_batchnorm", "virtual_batch_size": 4}
    elif momentum:  # the checkpoints carry the momentum buffers V*{l}.T
        cfg["train"].update(momentum=0.9, weight_decay=1e-4)
    return parse_run(cfg)


def _one_process(run, seed):
    """The sequential prover's bundle and model with the same blinding seed."""
    statements, backend = plan_segments(run.recipe, run.options)
    trace, _ = train_trace(run)
    statements, dataset, shared = _bind_data(run, statements)
    return prove_trace(statements, backend, trace, run.options.zk, None, dataset, shared, run.data_commitment, seed=seed)


@pytest.mark.parametrize(("segment_steps", "zk", "momentum"),
                         [(1, False, False), (2, True, False), (1, False, True), (1, False, "lars"),
                          (1, False, "lamb"), (1, False, "ghost_bn")],
                         ids=["clear-3-segments", "zk-2-segments", "momentum-clear-3-segments", "lars-clear-3-segments",
                              "lamb-clear-3-segments", "ghost-bn-clear-3-segments"])
def test_two_ranks_prove_the_one_process_bundle(segment_steps, zk, momentum):
    run = _run(segment_steps, zk, momentum)
    lines: list[str] = []
    bundle, summary, result = prove_run_workers(run, 2, lines.append, seed=SEED)
    report = verify_bundle(bundle, weights=summary.model.to_bytes())
    assert report.accepted, report.reason
    assert report.mode == ("zk" if zk else "clear") and len(report.segments) == summary.segments
    # Both ranks proved, disjointly, every segment once.
    segments = summary.segments
    assert sorted(k for segs in result.assignment for k in segs) == list(range(segments))
    assert all(result.assignment), result.assignment
    for rank, segs in enumerate(result.assignment):
        for k in segs:
            assert any(line.startswith(f"[rank {rank}] proving segment {k + 1}/{segments}") for line in lines), lines
    assert summary.workers == 2 and summary.wall_seconds > 0
    same = _one_process(run, SEED)
    assert bundle == same.bundle
    assert summary.model.to_bytes() == same.model.to_bytes()


def test_two_ranks_from_committed_initial_weights(tmp_path):
    """``init: committed``: rank 1 replays segment 0 from the run's own W_0 (committed as range
    slots by segment 0, not a checkpoint); the bundle is again the one-process bundle."""
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "w0.npz", W1=rng.uniform(-0.5, 0.5, (8, 4)), b1=rng.uniform(-0.5, 0.5, 8),
             W2=rng.uniform(-0.3, 0.3, (3, 8)), b2=rng.uniform(-0.3, 0.3, 3))
    cfg = tiny_run({"segment_steps": 1}, name="parallel")
    cfg["model"].update(init="committed", init_path="w0.npz")
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(cfg))
    run = load_run(tmp_path / "run.yaml")
    bundle, summary, result = prove_run_workers(run, 2, None, seed=SEED)
    assert 0 in result.assignment[1]
    assert verify_bundle(bundle, weights=summary.model.to_bytes()).accepted
    assert bundle == _one_process(run, SEED).bundle


def test_cli_workers_with_os_blinding(tmp_path):
    """``zktrain prove --workers`` (more workers than segments: cut to the segment count), no
    seed: the bundle and the model file it writes verify."""
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump(tiny_run({"zk": True, "segment_steps": 2}, name="parallel")))
    out = tmp_path / "p.zkp"
    result = CliRunner().invoke(main, ["prove", "--run", str(run_file), "--out", str(out), "--workers", "3"])
    assert result.exit_code == 0, result.output
    assert "warning: --workers 3 but the run has 2 segments (prove.segment_steps); proving on 2" in result.output
    assert "[rank 1] proving segment" in result.output and "wall on 2 workers" in result.output
    report = verify_bundle(out.read_bytes(), weights=out.with_suffix(".model.npz"))
    assert report.accepted and report.mode == "zk", report.reason


def test_cli_refuses_zero_workers(tmp_path):
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump(tiny_run(name="parallel")))
    result = CliRunner().invoke(main, ["prove", "--run", str(run_file), "--workers", "0"])
    assert result.exit_code == 2 and "--workers" in result.output


def test_torchrun_world_size_must_match_workers(monkeypatch):
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ValueError, match=r"--workers 3: under torchrun the ranks are torchrun's \(2\)"):
        prove_run_workers(_run(1), 3)


def test_assignment_balances_and_spares_the_coordinator():
    recipe = _run(1).recipe
    statements = segment_statements(recipe, "limbs", 1)  # 3 one-step segments
    assert assign_segments(statements, 2) == [[1], [0, 2]]
    assert assign_segments(statements, 3) == [[2], [1], [0]]
    assert assign_segments(statements, 4) == [[], [2], [1], [0]]


# --- a failing rank -------------------------------------------------------------------------------
def _raise_in_rank_1(rank, segments):
    if rank == 1:
        raise RuntimeError(f"injected fault before segments {segments}")


def _exit_in_rank_1(rank, segments):
    if rank == 1:
        os._exit(3)


def _hang_in_rank_1(rank, segments):
    if rank == 1:
        time.sleep(600)


@pytest.mark.parametrize(("fault", "expected"), [
    (_raise_in_rank_1, r"^rank 1 failed: RuntimeError: injected fault before segments \[0, 2\]"),
    (_exit_in_rank_1, r"^rank 1 failed: exited with code 3"),
], ids=["raises", "dies"])
def test_failing_rank_fails_the_run(fault, expected):
    start = time.monotonic()
    with pytest.raises(DistributedError, match=expected):
        spawn_workers(_run(1), 2, seed=SEED, fault=fault, timeout_s=120)
    assert time.monotonic() - start < 100  # not the collective's timeout: the launcher saw it


def test_hanging_rank_times_out():
    """A rank that never answers: rank 0's gather times out, and every rank is stopped."""
    start = time.monotonic()
    with pytest.raises(DistributedError, match=r"^rank 0 failed: .*gather of the proofs: a rank is gone or did not "
                                               r"answer within the timeout.*stopped: rank 1"):
        spawn_workers(_run(1), 2, seed=SEED, fault=_hang_in_rank_1, timeout_s=8)
    assert time.monotonic() - start < 120


def test_failing_rank_fails_the_cli(tmp_path, monkeypatch):
    """The command exits 1 with the failing rank's error and writes no bundle."""
    from zktrain import distributed

    real = distributed.spawn_workers
    monkeypatch.setattr(distributed, "spawn_workers",
                        lambda run, workers, say, **kw: real(run, workers, say, **{**kw, "fault": _raise_in_rank_1}))
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump(tiny_run({"segment_steps": 1}, name="parallel")))
    out = tmp_path / "p.zkp"
    result = CliRunner().invoke(main, ["prove", "--run", str(run_file), "--out", str(out), "--workers", "2"])
    assert result.exit_code == 1
    assert "Error: rank 1 failed: RuntimeError: injected fault" in result.output
    assert not out.exists()


def test_torchrun_launch(tmp_path):
    """The same command under torchrun (2 ranks, static rendezvous on a free port): rank 0
    writes the bundle and the model file, which verify."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "zktrain"
    if not script.exists():
        pytest.skip("no zktrain console script beside the interpreter")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    run_file = tmp_path / "run.yaml"
    run_file.write_text(yaml.safe_dump(tiny_run({"segment_steps": 1}, name="parallel")))
    out = tmp_path / "t.zkp"
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--master-addr", "127.0.0.1",
         "--master-port", str(port), "--no-python", "--", str(script), "prove", "--run", str(run_file), "--out", str(out)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "[rank 1] proving segment" in done.stdout and "wall on 2 workers" in done.stdout
    report = verify_bundle(out.read_bytes(), weights=out.with_suffix(".model.npz"))
    assert report.accepted and len(report.segments) == 3, report.reason
