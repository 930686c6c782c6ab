"""The logUp-GKR walk alone (``verifier.logup.LogupWalk`` over the training walk's channels):
prove, verify and proof bytes of a zkDL-like statement, optionally against another checkout
of the repository in the same run.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_logup_gkr.py --log-values 15 17 --modes clear zk
    git worktree add /tmp/wt-logup HEAD && ln -s "$PWD/.venv" /tmp/wt-logup/.venv
    NUMBA_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_logup_gkr.py \\
        --log-values 16 18 --modes clear zk --baseline /tmp/wt-logup

(One numba thread, set in the environment, which the children inherit: on the shared 2-core
machine two threads stall unevenly under other jobs; see benchmarks/logup.md.)

The statement: two limbs tensors of 2^n values each, as in a hidden layer of the training
walk: a 48-bit rescale remainder (three 16-bit limbs and a padding slot, 4 slots) and a
32-bit signed Z' - 1 (a 16-bit, a 15-bit and a 1-bit limb, 4 slots), so 2^(n+3) lookups
and the 2^16-, 2^15- and 2^1-entry tables. Limbs and multiplicities are taken as committed
(no commitment or opening is timed): prove is the walk over the prover channel (the trees'
layers, every GKR sumcheck, the messages), verify the walk over the verifier channel.

Each (checkout, n, mode) runs in ``--rounds`` fresh child processes (``--child``) with the
checkout on PYTHONPATH and as its working directory, each once to warm up numba's kernels and
then ``--repeat`` times; the fastest run is reported, in wall-clock time and in the CPU time
of all the process's threads. With ``--baseline DIR`` the two checkouts' children alternate,
baseline first, so that both see the same spells of load on a shared machine, and the table
gives after / before.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def child(log_values: int, mode: str, repeat: int, backend_name: str) -> dict:
    import random

    import numpy as np

    from circuits.limbs import LimbDecomposition
    from prover import logup as pl
    from prover.backends import get_backend
    from prover.training import ProverChannel
    from prover.zk_training import ZkProverChannel
    from verifier.hash_to_curve import pedersen_generators
    from verifier.logup import LogupStatement, LogupWalk, RangeTensor
    from verifier.training import VerifierChannel
    from verifier.zk_training import ZkVerifierChannel

    channels = {"clear": (ProverChannel, VerifierChannel), "zk": (ZkProverChannel, ZkVerifierChannel)}[mode]
    backend = get_backend(backend_name)
    rng = np.random.default_rng(1)
    rem, z = LimbDecomposition(48, False, -(1 << 47)), LimbDecomposition(32, True, 1)
    st = LogupStatement((RangeTensor("R.limbs", rem, log_values), RangeTensor("Z.limbs", z, log_values)))
    limbs = {
        "R.limbs": rem.decompose(rng.integers(rem.min_value, rem.max_value, 1 << log_values)).astype(np.int64),
        "Z.limbs": z.decompose(rng.integers(z.min_value, z.max_value, 1 << log_values)).astype(np.int64),
    }
    witness = {**limbs, **pl.multiplicities(st, limbs)}
    gens = pedersen_generators()

    def once():
        start, start_cpu = time.perf_counter(), time.process_time()
        prover = channels[0](None, dict(witness), backend, None, random.Random(1))
        LogupWalk(st, prover).run()
        proof = prover.proof_bytes()
        prove, prove_cpu = time.perf_counter() - start, time.process_time() - start_cpu
        start = time.perf_counter()
        verifier = channels[1](None, {}, proof, gens)
        LogupWalk(st, verifier).run()
        if mode == "zk":
            verifier.finish()
        else:
            verifier.reader.finish()
        return prove, time.perf_counter() - start, len(proof), prove_cpu

    once()
    runs = [once() for _ in range(repeat)]
    import verifier.logup

    return {
        "prove": min(r[0] for r in runs),
        "verify": min(r[1] for r in runs),
        "bytes": runs[0][2],
        "prove_cpu": min(r[3] for r in runs),
        "lookups": sum(1 << t.num_vars for t in st.trees() if t.tensor is not None),
        "module": verifier.logup.__file__,
    }


def run_child(tree: Path, log_values: int, mode: str, repeat: int, backend: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(log_values), mode,
           "--repeat", str(repeat), "--backend", backend]
    out = subprocess.run(cmd, cwd=tree, env=env, check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    if not Path(result["module"]).resolve().is_relative_to(tree.resolve()):
        raise RuntimeError(f"{tree}: the child imported {result['module']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--log-values", type=int, nargs="+", default=[15, 17])
    parser.add_argument("--modes", nargs="+", choices=["clear", "zk"], default=["clear"])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per child process")
    parser.add_argument("--rounds", type=int, default=3, help="child processes per checkout, alternating")
    parser.add_argument("--backend", default="cpu")
    parser.add_argument("--baseline", type=Path, help="another checkout (a git worktree) to compare against")
    parser.add_argument("--child", nargs=2, metavar=("N", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(int(args.child[0]), args.child[1], args.repeat, args.backend)))
        return
    trees = ([("before", args.baseline)] if args.baseline else []) + [("after", ROOT)]
    runs = f"{args.rounds} x {args.repeat}"
    print(f"load average {os.getloadavg()[0]:.2f}; fastest of {runs} runs; backend {args.backend}")
    print("| values | lookups | mode | tree | prove s | prove CPU s | verify s | proof bytes | after/before (wall, CPU) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for n in args.log_values:
        for mode in args.modes:
            results: dict[str, dict] = {}
            for _ in range(args.rounds):
                for name, tree in trees:
                    r = run_child(tree, n, mode, args.repeat, args.backend)
                    best = results.setdefault(name, r)
                    for key in ("prove", "prove_cpu", "verify"):
                        best[key] = min(best[key], r[key])
            for name, r in results.items():
                ratio = ""
                if name == "after" and args.baseline:
                    before = results["before"]
                    ratio = f"{r['prove'] / before['prove']:.2f}, {r['prove_cpu'] / before['prove_cpu']:.2f}"
                print(f"| 2^{n} | {r['lookups']:,} | {mode} | {name} | {r['prove']:.2f} | {r['prove_cpu']:.2f} "
                      f"| {r['verify']:.3f} | {r['bytes']:,} | {ratio} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
