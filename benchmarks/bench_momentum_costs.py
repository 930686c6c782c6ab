"""What momentum costs the proof, per step, for both designs of ``circuits.momentum`` (issue 15,
item 3; the decision in docs/momentum.md).

    .venv/bin/python benchmarks/bench_momentum_costs.py            # measure units, print the tables
    .venv/bin/python benchmarks/bench_momentum_costs.py --json out.json

1. Measures the per-unit costs on this machine with the prover's own functions (CPU backend):
   a Hyrax commitment (``prover.commit.hyrax.commit``, numba bucket MSM) of 2^20 random 16-bit
   limbs and of 2^20 zero (padding) slots, and the limb gadget's logUp-GKR proof
   (``verifier.logup.LogupWalk`` over ``prover.training.ProverChannel``, multiplicities included)
   of 2^18 and 2^20 leaves; the per-leaf cost is the slope between the two, so the fixed cost of
   the 2^16-entry table tree drops out. Each measurement takes seconds; the load average is
   printed with them (the machine is shared: compare ratios, not absolute figures).
2. Counts, for digits 64-128-128-10 and the zkDL shape 3072-8x1024-10 (batch 64), what each
   design adds to one step: limbs committed, padded slots (= logUp leaves), the hidden wider
   rescale remainders of design (B), and converts them to seconds with the measured units,
   next to the plain SGD step's own rescale limbs (the ratio is the relative growth of the
   range-check work).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from circuits.limbs import LimbDecomposition
from circuits.momentum import (
    Dyadic,
    MomentumSpec,
    Shape,
    cost_per_step,
    gradient_bounds,
    limb_slots,
    max_period,
)
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec

SHAPES = {
    "digits 64-128-128-10": (64, 128, 128, 10),
    "zkDL 3072-8x1024-10": (3072,) + (1024,) * 8 + (10,),
}
MUS = {"0.9 ~ 29491/2^15": Dyadic(29491, 15), "29/32": Dyadic(29, 5), "7/8": Dyadic(7, 3)}
#: torch weight_decay 1e-4 ~ 105/2^20, folded by B n_out / 2 = 320 (mean MSE, B = 64, 10 classes).
LAM = Dyadic(525, 14)
LR_NUM = 20  # lr 0.1 on the mean MSE of B = 64, 10 outputs: round(0.1 * 2/640 * 2^16)


def _load() -> str:
    return "%.2f %.2f %.2f" % os.getloadavg()


def measure_units(log_leaves: int = 20) -> dict:
    from prover.backends import get_backend
    from prover.commit import hyrax as ph
    from prover.commit.generators import prover_generators
    from prover.logup import multiplicities
    from prover.training import ProverChannel
    from verifier.hyrax import HyraxLayout
    from verifier.logup import LogupStatement, LogupWalk, RangeTensor

    out = {"load_before": _load(), "cpus": os.cpu_count()}
    pg = prover_generators()
    layout = HyraxLayout.square(log_leaves)
    pg.vector(layout.num_cols)
    pg.vector_sum(layout.num_cols)
    rng = np.random.default_rng(0)
    n = 1 << log_leaves
    limbs = rng.integers(0, 1 << 16, size=n, dtype=np.int64)
    ph.commit(pg, limbs[: 1 << 12], HyraxLayout.square(12), 17)  # load the compiled kernels
    t0 = time.perf_counter()
    ph.commit(pg, limbs, layout, 17)
    out["commit_limb_us"] = (time.perf_counter() - t0) / n * 1e6
    t0 = time.perf_counter()
    ph.commit(pg, np.zeros(n, dtype=np.int64), layout, 17)
    out["commit_zero_us"] = (time.perf_counter() - t0) / n * 1e6

    backend = get_backend("cpu")
    backend.mle_evaluate(backend.from_ints([1, 2]), [3])
    rem = LimbDecomposition(48, False, -(1 << 47))  # a rescale remainder: 3 limbs + 1 padding slot

    def logup(values_vars: int) -> float:
        values = rng.integers(rem.min_value, rem.max_value, size=1 << values_vars)
        st = LogupStatement((RangeTensor("REM.limbs", rem, values_vars),))
        witness = {"REM.limbs": rem.decompose(values).astype(np.int64)}
        t0 = time.perf_counter()
        witness.update(multiplicities(st, witness))
        channel = ProverChannel(None, witness, backend, None, random.Random(1))
        LogupWalk(st, channel).run()
        return time.perf_counter() - t0

    logup(10)  # compile / load kernels
    small, large = log_leaves - 4, log_leaves - 2  # values; 4 slots each: 2^(n-2), 2^n leaves
    t_small, t_large = logup(small), logup(large)
    out["logup_s_2^%d_leaves" % (small + 2)] = t_small
    out["logup_s_2^%d_leaves" % (large + 2)] = t_large
    out["logup_leaf_us"] = (t_large - t_small) / ((1 << (large + 2)) - (1 << (small + 2))) * 1e6
    out["logup_fixed_s"] = t_small - out["logup_leaf_us"] * (1 << (small + 2)) / 1e6
    out["load_after"] = _load()
    return out


def _recipe(widths) -> Recipe:
    return Recipe(name="m", seed=0, data=DataSpec(features=widths[0], classes=widths[-1]),
                  model=ModelSpec(widths=widths), train=TrainSpec(batch_size=64, steps=1, lr_num=(LR_NUM,)),
                  quant=QuantSpec())


def baseline_slots(shape: Shape) -> tuple[int, int]:
    """(limbs, slots) plain SGD range-checks per step: every rescaled value (Z', G'_A) in Q
    signed bits and its S-bit remainder (benchmarks/training.md's accounting)."""
    per = [limb_slots(shape.value_bits, True), limb_slots(shape.rescale_bits, False)]
    count = shape.forward_rescales + shape.backward_rescales
    return count * sum(p[0] for p in per), count * sum(p[1] for p in per)


def tables(units: dict | None) -> list[dict]:
    rows = []
    for sname, widths in SHAPES.items():
        shape, grads = Shape(widths, 64), gradient_bounds(_recipe(widths))
        base_l, base_s = baseline_slots(shape)
        for mname, mu in MUS.items():
            for lam in (Dyadic(0, 0), LAM):
                spec = MomentumSpec(mu, lam)
                pmax = max_period(shape, spec, LR_NUM, grads)
                # (B) at the cheapest period (fewest padded slots) and at the longest the budget allows.
                popt = min(range(1, pmax + 1), key=lambda p: cost_per_step(shape, spec, "B", p).slots)
                for design, period in (("A", 1), ("B", popt), ("B", pmax))[: 3 if popt != pmax else 2]:
                    c = cost_per_step(shape, spec, design, period)
                    row = {
                        "shape": sname, "mu": mname, "weight_decay": "1e-4" if lam.num else "0", "design": design,
                        "P": period, "P_max": pmax if design == "B" else "", "shift": c.detail.get("K", c.detail.get("D")), "params": shape.parameters,
                        "limbs": c.limbs, "slots": c.slots, "sgd_limbs": base_l, "sgd_slots": base_s,
                        "hidden_limbs": c.detail.get("hidden: wider rescale remainders", (0, 0))[0],
                    }
                    if units:
                        commit = c.limbs * units["commit_limb_us"] + (c.slots - c.limbs) * units["commit_zero_us"]
                        row["commit_s"] = commit / 1e6
                        row["logup_s"] = c.slots * units["logup_leaf_us"] / 1e6
                        row["total_s"] = row["commit_s"] + row["logup_s"]
                        base = base_l * units["commit_limb_us"] + (base_s - base_l) * units["commit_zero_us"]
                        row["sgd_range_s"] = (base + base_s * units["logup_leaf_us"]) / 1e6
                    rows.append(row)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-measure", action="store_true", help="counts only, no timing")
    ap.add_argument("--json", help="write the figures here")
    args = ap.parse_args()
    units = None if args.no_measure else measure_units()
    if units:
        print("units:", json.dumps(units, indent=1))
    rows = tables(units)
    cols = ["shape", "mu", "weight_decay", "design", "P", "P_max", "shift", "limbs", "slots", "hidden_limbs"]
    if units:
        cols += ["commit_s", "logup_s", "total_s", "sgd_range_s"]
    print("| " + " | ".join(cols) + " | x SGD range work |")
    print("|" + "---|" * (len(cols) + 1))
    for r in rows:
        cells = []
        for c in cols:
            v = r[c]
            cells.append(f"{v:,.0f}" if isinstance(v, float) and c in ("limbs", "slots", "hidden_limbs")
                         else f"{v:.2f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v))
        ratio = r["slots"] / r["sgd_slots"]
        print("| " + " | ".join(cells) + f" | {ratio:.2f} |")
    if args.json:
        Path(args.json).write_text(json.dumps({"units": units, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
