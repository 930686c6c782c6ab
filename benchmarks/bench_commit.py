"""Benchmarks of the commitment layer (issue 3): Hyrax commit, openings, verification, MSM.

    .venv/bin/python benchmarks/bench_commit.py                 # the figures in commitments.md
    .venv/bin/python benchmarks/bench_commit.py --sizes 16 18   # a quicker subset

Measures, on whatever machine runs it:
* committing 2^20 signed 16-bit values (offset trick, arkworks MSM, one blinding per row);
* opening and verifying a claim on a 2^n-entry tensor for each n in --sizes, in the clear
  (non-ZK) and in zero knowledge with the square-root and the log-size dot-product proof:
  prover time, verifier time (decoding the row commitments included) and proof size;
* the verifier's 4096-point MSM with full scalars, blst and (once) py_ecc.

Timings are wall-clock medians of --repeat runs (commit: one run per size).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prover.commit import hyrax as ph  # noqa: E402
from prover.commit.generators import prover_generators  # noqa: E402
from verifier import hyrax as vh  # noqa: E402
from verifier.curve import get_curve  # noqa: E402
from verifier.field import MODULUS as R  # noqa: E402
from verifier.hash_to_curve import pedersen_generators  # noqa: E402
from verifier.transcript import Transcript  # noqa: E402

DOMAIN = b"zktrain/bench/commit"


def _timed(fn, repeat: int):
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _tensor(num_vars: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(-(1 << 15), 1 << 15, size=1 << num_vars, dtype=np.int64)


def bench_commit(num_vars: int) -> dict:
    pg = prover_generators()
    layout = vh.HyraxLayout.square(num_vars)
    pg.vector(layout.num_cols)  # generator derivation is a one-time cost, not the commit's
    pg.vector_sum(layout.num_cols)
    values = _tensor(num_vars)
    seconds, _ = _timed(lambda: ph.commit(pg, values, layout, 16), 1)
    return {"n": num_vars, "seconds": seconds, "us_per_element": seconds / values.size * 1e6}


def bench_open(num_vars: int, repeat: int) -> list[dict]:
    pg, vg = prover_generators(), pedersen_generators("blst")
    layout = vh.HyraxLayout.square(num_vars)
    pg.vector(layout.num_cols)
    vg.vector(layout.num_cols)
    commitment, witness = ph.commit(pg, _tensor(num_vars, 1), layout, 16)
    rng = random.Random(num_vars)
    point = [rng.randrange(R) for _ in range(num_vars)]
    encoded = commitment.to_bytes()

    def decode_rows():
        return vh.HyraxCommitment.from_bytes(encoded, layout).decode(vg, layout)

    rows = []
    prove_s, (value, opening) = _timed(lambda: ph.open_clear(witness, point, Transcript(DOMAIN)), repeat)
    data = opening.to_bytes()

    def verify_clear():
        parsed = vh.HyraxOpening.from_bytes(data, layout)
        vh.verify_opening(vg, decode_rows(), layout, point, value, parsed, Transcript(DOMAIN))

    verify_s, _ = _timed(verify_clear, repeat)
    rows.append(_row(num_vars, "clear", prove_s, verify_s, len(data), len(encoded)))

    value_blind = rng.randrange(R)
    value_commitment = vg.commit_value(value, value_blind)
    for argument in vh.ZK_ARGUMENTS:
        prove_s, proof = _timed(
            lambda: ph.open_zk(pg, witness, point, value_blind, Transcript(DOMAIN), argument), repeat
        )
        data = proof.to_bytes()

        def verify_zk():
            parsed = vh.parse_zk_opening(data, layout, argument)
            vh.verify_zk_opening(vg, decode_rows(), layout, point, value_commitment, parsed, Transcript(DOMAIN))

        verify_s, _ = _timed(verify_zk, repeat)
        rows.append(_row(num_vars, f"zk-{argument}", prove_s, verify_s, len(data), len(encoded)))
    return rows


def _row(n, mode, prove_s, verify_s, proof_bytes, commitment_bytes):
    return {
        "n": n,
        "mode": mode,
        "prove_s": prove_s,
        "verify_s": verify_s,
        "proof_bytes": proof_bytes,
        "commitment_bytes": commitment_bytes,
    }


def bench_msm(n: int, curve_name: str, repeat: int) -> float:
    curve = get_curve(curve_name)
    points = [curve.hash_to_curve(i.to_bytes(4, "little"), DOMAIN) for i in range(n)]
    rng = random.Random(n)
    scalars = [rng.randrange(R) for _ in range(n)]
    seconds, _ = _timed(lambda: curve.msm(points, scalars), repeat)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[16, 18, 20, 22])
    parser.add_argument("--commit-vars", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-py-ecc", action="store_true", help="skip the slow pure-Python MSM")
    args = parser.parse_args()
    if any(not 1 <= n <= 24 for n in args.sizes + [args.commit_vars]) or args.repeat < 1:
        raise SystemExit(f"sizes must lie in [1, 24] and repeat >= 1, got {args.sizes}, {args.repeat}")

    c = bench_commit(args.commit_vars)
    print(f"commit 2^{c['n']} signed 16-bit values: {c['seconds']:.2f} s, {c['us_per_element']:.2f} us/element")

    print("\n| entries | mode | prove (s) | verify (s) | proof (bytes) | commitment (bytes) |")
    print("|---|---|---|---|---|---|")
    for n in args.sizes:
        for row in bench_open(n, args.repeat):
            print(
                f"| 2^{row['n']} | {row['mode']} | {row['prove_s']:.3f} | {row['verify_s']:.3f} "
                f"| {row['proof_bytes']} | {row['commitment_bytes']} |",
                flush=True,
            )

    print(f"\nverifier MSM, 4096 points, full scalars, blst: {bench_msm(4096, 'blst', args.repeat):.3f} s")
    if not args.skip_py_ecc:
        print(f"verifier MSM, 4096 points, full scalars, py_ecc: {bench_msm(4096, 'py_ecc', 1):.2f} s")


if __name__ == "__main__":
    main()
