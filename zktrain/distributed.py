"""Segment-parallel proving on torch.distributed (gloo): ``zktrain prove --workers N``, or the
same command launched by ``torchrun`` (issue 18, item 3).

Once every segment's end checkpoint is committed, the segments of a run are independent
proofs (``zktrain.prove``: ``commit_checkpoints``, ``prove_segment``). So:

1. Rank 0, the coordinator, trains the run once (``train_trace``) and commits every segment's
   end checkpoint (W_T, b_T, momentum buffers) with fresh blinds (``commit_checkpoints``).
2. It assigns the segments to the ranks (``assign_segments``: longest first to the least
   loaded rank, ties to the highest rank, so the coordinator gets the lightest share) and
   scatters each rank its jobs (``SegmentJob``): per segment, the precommitted entries of its
   start and end checkpoints (commitments and opening witnesses: padded values and row blinds).
3. Each rank replays its segments' steps from their start checkpoints in the exact
   fixed-point semantics (it reads the run's data set itself; rank 0 takes them from its
   trace), builds the witness, checks it ends on the committed checkpoint, proves, and sends
   back per segment the public commitments, the proof body and timings (``SegmentProof``).
4. Rank 0 gathers them and encodes the bundle (``assemble``), which verifies exactly as a
   one-process bundle: the bytes differ only by the blinding, and with the same blinding
   (``seed``, tests only) they are the same bytes.

Why replay rather than ship the trace: a segment's trace is O(steps x batch x widths)
integers (1.48 MB per step of a 64-128-128-10 MLP at batch 64), a checkpoint's opening
O(parameters) whatever the segment's length (0.24 MB), and replaying a step costs a plain
step, about 1% of proving it (benchmarks/parallel.md). The ranks need the data set anyway for committed data (every
segment's witness holds its tensors), and they have the run file.

Failure: a rank that raises reports its error and exits non-zero; the launcher (``--workers``:
this module; ``torchrun``: its agent) stops the others, and the command fails with the first
failing rank's error. Every collective has a timeout (``timeout_s``, ZKTRAIN_DIST_TIMEOUT) as
the backstop for a rank that hangs or a launcher that does not supervise.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import queue as queue_module
import socket
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import numpy as np


DEFAULT_TIMEOUT_S = 4 * 3600  # a collective waits for the slowest rank's whole share of proving
_GRACE_S = 2.0  # after a rank fails, how long the others get to report their own errors


class DistributedError(RuntimeError):
    """A rank failed (or a collective timed out): the message names the rank and its error."""


@dataclass(frozen=True)
class SegmentJob:
    """What the coordinator sends a rank for one segment: the ``precommitted`` entries of the
    checkpoints it starts from (none for segment 0) and ends on, each a commitment and its
    opening witness (padded values and row blinds; ``segment_precommitted`` without the shared
    data set, which every rank binds itself). The rank replays the segment from the start
    checkpoint's values (``start_checkpoint``)."""

    segment: int
    precommitted: dict


@dataclass
class DistributedResult:
    """Rank 0's outcome: the bundle, the summary, and how the work was shared (for
    benchmarks/parallel.md): ``assignment`` (rank -> segments), ``sent_bytes`` (the pickled
    jobs per rank), ``returned_bytes`` (the pickled proofs per rank), ``rank_seconds`` and
    ``rank_cpu_seconds`` (each rank's replay, witness and proving: wall and process CPU time)
    and the ``coordinator``'s seconds (train, commit, scatter, gather wait, assemble)."""

    bundle: bytes
    summary: object
    assignment: list[list[int]]
    sent_bytes: list[int]
    returned_bytes: list[int]
    rank_seconds: list[float]
    rank_cpu_seconds: list[float]
    coordinator: dict[str, float]


# --- where this process stands ----------------------------------------------------------------
def torchrun_world() -> tuple[int, int, int] | None:
    """(rank, world size, local world size) when launched by torchrun (its RANK, WORLD_SIZE
    and LOCAL_WORLD_SIZE variables); None otherwise."""
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return None
    world = int(os.environ["WORLD_SIZE"])
    return int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_WORLD_SIZE", world))


def _timeout() -> float:
    return float(os.environ.get("ZKTRAIN_DIST_TIMEOUT", DEFAULT_TIMEOUT_S))


def _set_threads(local_world: int) -> None:
    """Share the host's cores among its ranks: numba's and torch's threads (the prover's
    kernels are numba's), unless NUMBA_NUM_THREADS is set explicitly."""
    threads = max(1, (os.cpu_count() or 1) // max(1, local_world))
    if "NUMBA_NUM_THREADS" not in os.environ:
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    import torch

    torch.set_num_threads(threads)


# --- the work ---------------------------------------------------------------------------------
def assign_segments(statements, world: int) -> list[list[int]]:
    """Segments per rank: longest first (padded steps: a segment's proving cost) to the least
    loaded rank, ties to the highest rank (rank 0 also trains, commits and encodes); each
    rank's list in segment order."""
    load, out = [0] * world, [[] for _ in range(world)]
    for st in sorted(statements, key=lambda st: (-st.circuit.padded_steps, st.segment)):
        rank = min(range(world), key=lambda r: (load[r], -r))
        load[rank] += st.circuit.padded_steps
        out[rank].append(st.segment)
    return [sorted(segs) for segs in out]


def start_checkpoint(statement, precommitted: dict) -> tuple | None:
    """The weights, biases, momentum buffers (None without momentum) and Ghost BN states (None
    without norm) the segment starts from, unpadded from the opening witnesses of its W_0, b_0,
    V*_0, bn*_0 entries; None for the first segment (the run's W_0)."""
    if not statement.committed_init:
        return None
    c = statement.circuit
    dims = [1 << c.width_vars(i) for i in range(c.layers + 1)]

    def value(name: str, layer: int, matrix: bool):
        padded = precommitted[name][1].matrix.reshape((dims[layer], dims[layer - 1]) if matrix else (dims[layer],))
        real = (slice(0, c.widths[layer]), slice(0, c.widths[layer - 1])) if matrix else (slice(0, c.widths[layer]),)
        return np.ascontiguousarray(padded[real], dtype=np.int64)

    layers = range(1, c.layers + 1)
    weights = [value(f"W{l}.0", l, True) for l in layers]
    biases = [value(f"b{l}.0", l, False) if c.bias else None for l in layers]
    buffers = None
    if c.optimizer == "lamb":  # the moments (M, V) of W_l and b_l
        buffers = [((value(f"MW{l}.0", l, True), value(f"VW{l}.0", l, True)),
                    (value(f"Mb{l}.0", l, False), value(f"Vb{l}.0", l, False)) if c.bias else None) for l in layers]
    elif c.has_buffer:
        buffers = [(value(f"VW{l}.0", l, True), value(f"Vb{l}.0", l, False) if c.bias else None) for l in layers]
    norms = [tuple(value(f"bn{l}.{v}.0", l, False) for v in c.norm_state_values()) for l in c.norm_layers()] or None
    return weights, biases, buffers, norms


def replay_segment(run, statement, start: tuple | None, data=None):
    """The segment's ``SegmentInputs`` replayed from the checkpoint it starts from (None: the
    run's W_0, seeded or committed) in the exact fixed-point semantics, as ``train`` runs it."""
    from .fixedpoint.data import encode_dataset
    from .fixedpoint.engine import FixedPointMLP
    from .prove import SegmentInputs

    recipe, c = run.recipe, statement.circuit
    if data is None:
        data = encode_dataset(run.dataset, recipe)
    if start is not None:
        weights, biases, buffers, norms = start
        model = FixedPointMLP(recipe, weights, biases, buffers, norms=norms)
    elif run.initial is not None:
        model = FixedPointMLP(recipe, *run.initial)
    else:
        model = FixedPointMLP.seeded(recipe)
    start_buffers, start_norms = model.state(), model.norm_state()
    steps = []
    for t in range(statement.first_step, statement.first_step + c.steps):
        rows = data.batches[t]
        steps.append(model.step(data.x_train[rows], data.y_train[rows], recipe.train.lr_num[t], t, rows))
    return SegmentInputs(tuple(steps), list(model.weights), list(model.biases), start_buffers, model.state(),
                         start_norms, model.norm_state())


def _collective(what: str, fn, *args, **kwargs):
    """Run a collective; a failure (a peer gone, the timeout) becomes a ``_CollectiveError``
    that says so: the launcher reports it only when no rank failed on its own (``_failure``)."""
    try:
        return fn(*args, **kwargs)
    except Exception as err:  # noqa: BLE001 - gloo raises RuntimeError and DistBackendError alike
        first = (str(err).strip().splitlines() or [""])[0]
        raise _CollectiveError(f"{what}: a rank is gone or did not answer within the timeout "
                               f"({type(err).__name__}: {first})") from None


class _CollectiveError(DistributedError):
    pass


def rank_main(run, rank: int, world: int, say: Callable[[str], None], seed: int | None = None,
              fault: Callable | None = None) -> DistributedResult | None:
    """One rank's part, in an initialized gloo process group of ``world`` ranks: rank 0 returns
    the result, the others None. ``seed`` seeds the blinding (tests only); ``fault(rank,
    segments)`` runs on every rank before it proves (tests only: a failing rank)."""
    import torch.distributed as dist

    from .fixedpoint.data import encode_dataset
    from .prove import (
        _bind_data,
        all_segment_inputs,
        assemble,
        commit_checkpoints,
        plan_segments,
        prove_segment,
        segment_line,
        segment_precommitted,
        train_trace,
    )

    recipe = run.recipe
    statements, backend = plan_segments(recipe, run.options)
    coordinator: dict[str, float] = {}
    jobs = None
    if rank == 0:
        t0 = time.perf_counter()
        trace, accuracy = train_trace(run)
        coordinator["train"] = train_s = time.perf_counter() - t0
        say(f"trained {recipe.train.steps} steps in the fixed-point semantics ({train_s:.2f} s): "
            f"train accuracy {accuracy[0]:.3f}, test accuracy {accuracy[1]:.3f}")
        wall0 = time.perf_counter()
    statements, dataset, shared = _bind_data(run, statements)
    if rank == 0:
        inputs = all_segment_inputs(statements, trace)
        t0 = time.perf_counter()
        checkpoints = commit_checkpoints(statements, inputs, seed)
        coordinator["commit"] = time.perf_counter() - t0
        assignment = assign_segments(statements, world)
        say(f"committed {len(statements)} checkpoints ({coordinator['commit']:.2f} s); "
            + "; ".join(f"rank {r}: segments {', '.join(str(k + 1) for k in segs) or 'none'}"
                        for r, segs in enumerate(assignment)))
        jobs = []
        for segs in assignment:
            jobs.append([SegmentJob(k, segment_precommitted(k, checkpoints)) for k in segs])
        sent = [len(pickle.dumps(j)) for j in jobs]
        t0 = time.perf_counter()
    received = [None]
    _collective("scatter of the segments", dist.scatter_object_list, received, jobs, src=0)
    if rank == 0:
        coordinator["scatter"] = time.perf_counter() - t0
    mine: list[SegmentJob] = received[0]
    if fault is not None:
        fault(rank, [job.segment for job in mine])
    data = encode_dataset(run.dataset, recipe) if mine and rank != 0 else None
    proofs, busy, cpu = [], 0.0, time.process_time()
    for job in mine:
        st = statements[job.segment]
        say(f"proving {segment_line(st)}")
        t0 = time.perf_counter()
        segment = inputs[job.segment] if rank == 0 else replay_segment(run, st, start_checkpoint(st, job.precommitted), data)
        replay_s = time.perf_counter() - t0
        proof = prove_segment(recipe, st, backend, segment, run.options.zk, {**job.precommitted, **shared},
                              say, dataset, seed)
        proofs.append(dataclasses.replace(proof, witness_seconds=proof.witness_seconds + replay_s))
        busy += time.perf_counter() - t0
        say(f"proved segment {st.segment + 1}/{st.segments} ({time.perf_counter() - t0:.2f} s)")
    payload = (proofs, busy, time.process_time() - cpu)
    gathered = [None] * world if rank == 0 else None
    t0 = time.perf_counter()
    _collective("gather of the proofs", dist.gather_object, payload, gathered, dst=0)
    if rank != 0:
        return None
    coordinator["gather_wait"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    proof = assemble(recipe, statements, [p for ps, _, _ in gathered for p in ps], checkpoints, run.options.zk,
                     run.data_commitment, coordinator["commit"])
    coordinator["assemble"] = time.perf_counter() - t0
    wall = time.perf_counter() - wall0
    summary = dataclasses.replace(proof.summary(recipe.train.steps, accuracy, train_s), workers=world, wall_seconds=wall)
    return DistributedResult(proof.bundle, summary, assignment, sent, [len(pickle.dumps(g)) for g in gathered],
                             [g[1] for g in gathered], [g[2] for g in gathered], coordinator)


# --- launching ----------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawned(rank: int, world: int, port: int, run, messages, seed, fault, timeout_s: float) -> None:
    """A rank that ``--workers`` started: its messages, result and error go to the launcher."""
    import sys

    import torch.distributed as dist

    _set_threads(world)
    try:
        dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world,
                                timeout=timedelta(seconds=timeout_s))
        result = rank_main(run, rank, world, lambda msg: messages.put(("say", rank, msg)), seed, fault)
        if rank == 0:
            messages.put(("result", rank, result))
    except BaseException as err:  # noqa: BLE001 - reported to the launcher, then a non-zero exit
        detail = f"{type(err).__name__}: {err}"
        traceback.print_exc()  # the rank's own stderr: the launcher's message names only the error
        messages.put(("error", rank, (time.time(), isinstance(err, _CollectiveError), detail, traceback.format_exc())))
        messages.close()
        messages.join_thread()
        sys.exit(1)
    dist.destroy_process_group()
    messages.close()
    messages.join_thread()


def _failure(errors: dict, exits: dict, world: int) -> DistributedError:
    """The error of a failed run: the first rank that failed on its own (not in a collective
    because another one had gone), then what became of the others."""
    events = [(when, collective, rank, detail) for rank, (when, collective, detail, _) in errors.items()]
    events += [(when, False, rank, f"exited with code {code}" + (f" (signal {-code})" if code < 0 else ""))
               for rank, (when, code) in exits.items() if rank not in errors and code != 0]
    if not events:
        return DistributedError("the ranks stopped without a result")
    events.sort(key=lambda e: (e[1], e[0]))  # own failures first, then by time
    _, _, rank, detail = events[0]
    others = [f"rank {r}: {d}" for _, _, r, d in events[1:]]
    stopped = sorted(set(range(world)) - {e[2] for e in events})
    if stopped:
        others.append(f"stopped: rank{'s' if len(stopped) > 1 else ''} {', '.join(map(str, stopped))}")
    tail = f" ({'; '.join(others)})" if others else ""
    err = DistributedError(f"rank {rank} failed: {detail}{tail}")
    err.tracebacks = {r: tb for r, (_, _, _, tb) in errors.items()}  # per rank, for a caller that logs them
    return err


def spawn_workers(run, workers: int, progress: Callable[[str], None] | None = None, *, seed: int | None = None,
                  fault: Callable | None = None, timeout_s: float | None = None) -> DistributedResult:
    """Prove ``run`` on ``workers`` local processes (torch.multiprocessing, spawn; gloo on a
    free localhost port). Their progress comes back as ``[rank r] ...`` lines; the first rank
    that fails stops the others and raises DistributedError with its error."""
    import torch.multiprocessing as mp

    say = progress or (lambda _msg: None)
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    port = _free_port()
    timeout_s = _timeout() if timeout_s is None else timeout_s
    procs = [ctx.Process(target=_spawned, args=(rank, workers, port, run, messages, seed, fault, timeout_s),
                         name=f"zktrain-rank-{rank}", daemon=True) for rank in range(workers)]
    for p in procs:
        p.start()
    result, errors, exits, failed_at = None, {}, {}, None
    try:
        while True:
            try:
                kind, rank, body = messages.get(timeout=0.2)
            except queue_module.Empty:
                kind = None
            if kind == "say":
                say(f"[rank {rank}] {body}")
            elif kind == "result":
                result = body
            elif kind == "error":
                errors[rank] = body
                failed_at = failed_at or time.monotonic()
            for rank, p in enumerate(procs):
                if rank not in exits and p.exitcode is not None:
                    exits[rank] = (time.time(), p.exitcode)
                    if p.exitcode != 0:
                        failed_at = failed_at or time.monotonic()
            if failed_at is not None and time.monotonic() - failed_at > _GRACE_S:
                break
            if len(exits) == workers and kind is None and failed_at is None:
                break  # every rank is done and the queue is drained
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
        for p in procs:
            p.join(5)
            if p.is_alive():
                p.kill()
                p.join()
    if failed_at is not None or result is None:
        raise _failure(errors, exits, workers)
    return result


def prove_run_workers(run, workers: int | None, progress: Callable[[str], None] | None = None, *,
                      seed: int | None = None, fault: Callable | None = None,
                      timeout_s: float | None = None):
    """``zktrain prove --workers N`` (or under torchrun): the bundle and summary on rank 0 (and
    the ``DistributedResult`` as a third item, None for one process), None on the other ranks
    of a torchrun launch. One worker proves in this process, as ``prove_run``; more workers
    than segments are cut to the segment count (an idle rank would only cost its start)."""
    from .prove import plan_segments, prove_run

    say = progress or (lambda _msg: None)
    launched = torchrun_world()
    if launched is not None:
        rank, world, local = launched
        if workers is not None and workers != world:
            raise ValueError(f"--workers {workers}: under torchrun the ranks are torchrun's ({world}); "
                             "omit --workers or give the same count")
        if world > 1:
            return _torchrun_rank(run, rank, world, local, say, seed, fault, timeout_s)
        workers = 1
    if workers is None or workers < 1:
        raise ValueError(f"--workers must be at least 1, got {workers}")
    statements, _ = plan_segments(run.recipe, run.options)
    if workers > len(statements):
        say(f"warning: --workers {workers} but the run has {len(statements)} segment"
            f"{'s' if len(statements) > 1 else ''} (prove.segment_steps); proving on {len(statements)}")
        workers = len(statements)
    if workers == 1:
        bundle, summary = prove_run(run, progress)
        return bundle, summary, None
    say(f"proving {len(statements)} segments on {workers} workers (torch.distributed, gloo)")
    result = spawn_workers(run, workers, say, seed=seed, fault=fault, timeout_s=timeout_s)
    return result.bundle, result.summary, result


def _torchrun_rank(run, rank, world, local, say, seed, fault, timeout_s):
    import torch.distributed as dist

    _set_threads(local)
    if not dist.is_initialized():
        dist.init_process_group("gloo", timeout=timedelta(seconds=_timeout() if timeout_s is None else timeout_s))
    from .prove import plan_segments

    count = len(plan_segments(run.recipe, run.options)[0])
    if rank == 0 and world > count:
        say(f"warning: {world} ranks but the run has {count} segment{'s' if count > 1 else ''} "
            f"(prove.segment_steps): ranks {count}..{world - 1} stay idle")
    result = rank_main(run, rank, world, lambda msg: say(f"[rank {rank}] {msg}"), seed, fault)
    dist.destroy_process_group()
    if result is None:
        return None
    return result.bundle, result.summary, result
