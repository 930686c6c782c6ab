"""Range checks of 48-bit values: the limb gadget (logUp-GKR) against the bit gadget.

    .venv/bin/python benchmarks/bench_logup.py                      # 2^16, 2^18, 2^20 values
    .venv/bin/python benchmarks/bench_logup.py --log-sizes 16 18    # a quicker subset

For N values of a 48-bit rescale remainder (unsigned around offset -2^47, k = 16), each gadget
commits its witness with Hyrax and proves it well-formed:

* limbs: three 16-bit limbs per value in a [N, 4] tensor (17-bit commitment scalars) and the
  2^16 multiplicities; one batched logUp-GKR proof (``prover/logup.py``);
* bits: 48 bits per value in a [N, 64] tensor (2-bit scalars); the booleanity zero-check
  (``verifier/gadgets.py``), whose padding bit slots the verifier checks on value claims.

Both end in one claim per committed tensor; the openings (the same Hyrax opening per tensor)
and the value-claim slices are left out. Reported: witness time (decomposition and
multiplicities), commitment count, entries and time (the MSMs), proving and verifying time of
the range argument, proof size (commitments plus range argument). One run per size,
wall-clock, on whatever machine runs it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from circuits.bits import BitDecomposition  # noqa: E402
from circuits.limbs import LimbDecomposition  # noqa: E402
from prover import logup as pl  # noqa: E402
from prover.backends import get_backend  # noqa: E402
from prover.commit import hyrax as ph  # noqa: E402
from prover.commit.generators import prover_generators  # noqa: E402
from prover.phase import prove_phase  # noqa: E402
from verifier import gadgets as vgad  # noqa: E402
from verifier.hyrax import HyraxLayout  # noqa: E402
from verifier.logup import LogupProof, LogupStatement, RangeTensor, verify_range_limbs  # noqa: E402
from verifier.phase import verify_phase  # noqa: E402
from verifier.transcript import Transcript  # noqa: E402

DOMAIN = b"zktrain/bench/logup"
WIDTH, OFFSET = 48, -(1 << 47)


def _clock(fn):
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _commit_all(tensors: dict[str, np.ndarray], transcripts) -> tuple[float, int, int]:
    """Commit every tensor (absorbed into each transcript): seconds, proof bytes, entries."""
    gens, seconds, size, entries = prover_generators(), 0.0, 0, 0
    for name, values in tensors.items():
        flat = np.asarray(values, dtype=np.int64).reshape(-1)
        layout = HyraxLayout.square(flat.size.bit_length() - 1)
        gens.vector(layout.num_cols), gens.vector_sum(layout.num_cols)  # one-time derivation
        bits = max(int(flat.max()).bit_length() + 1, 2)
        elapsed, (commitment, _) = _clock(lambda: ph.commit(gens, flat, layout, bits))
        seconds, size, entries = seconds + elapsed, size + 48 * len(commitment.rows), entries + flat.size
        for t in transcripts:
            t.absorb_points(f"commitment:{name}".encode(), commitment.rows)
    return seconds, size, entries


def bench_limbs(backend, values: np.ndarray) -> dict:
    d = LimbDecomposition(WIDTH, False, OFFSET)
    st = LogupStatement((RangeTensor("R.limbs", d, values.size.bit_length() - 1),))
    witness_s, limbs = _clock(lambda: {"R.limbs": d.decompose(values)})
    mult_s, mults = _clock(lambda: pl.multiplicities(st, limbs))
    tp, tv = Transcript(DOMAIN), Transcript(DOMAIN)
    commit_s, commit_bytes, entries = _commit_all({**limbs, **mults}, (tp, tv))
    prove_s, (proof, _) = _clock(lambda: pl.prove_range_limbs(tp, backend, st, limbs, mults))
    data = proof.to_bytes()
    verify_s, _ = _clock(lambda: verify_range_limbs(tv, st, LogupProof.from_bytes(data, st)))
    return dict(witness=witness_s + mult_s, commitments=1 + len(mults), entries=entries, commit=commit_s,
                prove=prove_s, verify=verify_s, proof_bytes=commit_bytes + len(data))


def bench_bits(backend, values: np.ndarray) -> dict:
    d = BitDecomposition(WIDTH, False, OFFSET)
    witness_s, bits = _clock(lambda: {"R.bits": d.decompose(values)})
    tp, tv = Transcript(DOMAIN), Transcript(DOMAIN)
    commit_s, commit_bytes, entries = _commit_all(bits, (tp, tv))
    num_vars = (values.size * d.padded_width).bit_length() - 1

    def build(t):
        return [vgad.booleanity_reduction("R.bits", t.challenge_scalars(b"w", num_vars))]

    prove_s, (proof, _) = _clock(lambda: prove_phase(tp, b"bits", backend, build(tp), bits))
    verify_s, _ = _clock(lambda: verify_phase(tv, b"bits", build(tv), proof))
    return dict(witness=witness_s, commitments=1, entries=entries, commit=commit_s, prove=prove_s,
                verify=verify_s, proof_bytes=commit_bytes + len(proof.to_bytes()))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log-sizes", type=int, nargs="+", default=[16, 18, 20])
    parser.add_argument("--backend", default="cpu")
    args = parser.parse_args(argv)
    for n in args.log_sizes:
        if not 1 <= n <= 24:
            raise ValueError(f"--log-sizes: each must lie in [1, 24], got {n}")
    backend = get_backend(args.backend)
    rng = np.random.default_rng(0)
    pl.prove_range_limbs(Transcript(DOMAIN), backend, *_warmup())  # numba compilation
    print("| values | gadget | witness s | commitments (entries) | commit s | prove s | verify s | proof KiB |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.log_sizes:
        values = rng.integers(OFFSET, OFFSET + (1 << WIDTH), size=1 << n, dtype=np.int64)
        for name, bench in (("limbs", bench_limbs), ("bits", bench_bits)):
            r = bench(backend, values)
            print(
                f"| 2^{n} | {name} | {r['witness']:.2f} | {r['commitments']} ({r['entries']:,}) | {r['commit']:.2f} "
                f"| {r['prove']:.2f} | {r['verify']:.3f} | {r['proof_bytes'] / 1024:.1f} |",
                flush=True,
            )


def _warmup():
    d = LimbDecomposition(4, False, limb_bits=2)
    st = LogupStatement((RangeTensor("w", d, 1),))
    limbs = {"w": d.decompose(np.array([1, 2]))}
    return st, limbs, pl.multiplicities(st, limbs)


if __name__ == "__main__":
    main()
