"""LARS and LAMB fidelity (issue 16 item 2): digits 64-128-128-10 on the mean cross-entropy,
trained in the exact fixed point of ``circuits.lars`` / ``circuits.lamb`` and in float64
``zktrain.optim.LARS`` / ``LAMB`` (the recipe's own dyadic options; LARS with the rate inside
the momentum) from the same W_0 on the same batches. Prints test accuracies, the largest
relative weight distance of any layer over the run, each layer's final trust ratio and the
engine's seconds. Figures in docs/lars.md and docs/lamb.md.

    python benchmarks/bench_large_batch_fidelity.py            # every row
    python benchmarks/bench_large_batch_fidelity.py --only 0   # one row
    python benchmarks/bench_large_batch_fidelity.py --only 6 --perturb 1e-4
        # the float run against itself from a W_0 perturbed by 1e-4 relative: the run's own
        # sensitivity, to read the fixed point's distance against
    python benchmarks/bench_large_batch_fidelity.py --run-file examples/digits_lamb.yaml --seeds 0 1 2
        # a run file's whole run (its schedule, scaling, epochs) per seed, fixed point against
        # float64, and the float run from W_0 perturbed by 1e-4 in three draws
    python benchmarks/bench_large_batch_fidelity.py --run-file examples/digits_ghost_bn.yaml --steps 300 --seeds 0 1 2
        # Ghost BN (issue 17 item 5): the example's model and rate trained 300 steps
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from circuits.lars import quantize_relative  # noqa: E402
from circuits.momentum import Dyadic, quantize  # noqa: E402
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec  # noqa: E402
from circuits.semantics import ce_lr_num  # noqa: E402
from zktrain.data import load_dataset  # noqa: E402
from zktrain.fixedpoint.data import encode_dataset  # noqa: E402
from zktrain.fixedpoint.engine import FixedPointMLP  # noqa: E402
from zktrain.fixedpoint.reference import compare, predict_float, train_float  # noqa: E402

#: (optimizer, batch, steps, lr, trust coefficient (LARS), weight decay)
ROWS = [
    ("lars", 64, 300, 0.2, 0.02, 1e-4),
    ("lars", 64, 300, 1.0, 0.001, 1e-4),
    ("lars", 64, 300, 2.0, 0.001, 5e-4),
    ("lars", 1024, 100, 2.0, 0.001, 1e-4),
    ("lars", 1024, 100, 0.5, 0.02, 1e-4),
    ("lars", 1024, 60, 2.0, 0.02, 1e-4),  # layer rates near 3 with mu 0.9: chaotic (docs/lars.md)
    ("lamb", 64, 300, 0.01, None, 0.01),
    ("lamb", 1024, 100, 0.02, None, 0.01),
]


def recipe(optimizer: str, batch: int, steps: int, lr: float, trust: float | None, wd: float) -> Recipe:
    lr_num = ce_lr_num(lr, batch, 16)
    common = dict(batch_size=batch, steps=steps, lr_num=(lr_num,) * steps, loss="cross_entropy", optimizer=optimizer,
                  weight_decay=quantize_relative(wd, "weight_decay"), buf_bits=48)
    if optimizer == "lars":
        state = dict(momentum=quantize(0.9, 15), trust_coefficient=quantize_relative(trust, "trust_coefficient"),
                     eps=quantize(1e-8, 32))
    else:  # betas (0.9, 0.999) with 1 - beta within 1/512, eps 1e-6
        state = dict(beta1=Dyadic.exact(1 - quantize_relative(0.1, "beta1").value, "beta1"),
                     beta2=Dyadic.exact(1 - quantize_relative(0.001, "beta2").value, "beta2"), eps=quantize(1e-6, 32))
    return Recipe(name=f"digits-{optimizer}", seed=0, data=DataSpec(source="digits", features=64, classes=10),
                  model=ModelSpec(widths=(64, 128, 128, 10)), train=TrainSpec(**common, **state), quant=QuantSpec())


def measure(row) -> str:
    r = recipe(*row)
    f = compare(r, encode_dataset(load_dataset({"source": "digits"}), r))
    fixed, reference, distance, seconds = f.fixed_accuracy, f.float_accuracy, max(f.distances), f.engine_seconds
    trust = ", ".join(f"{m.scalars.trust / 2 ** 24:.3f}" for m in f.trace.steps[-1].momentum)
    optimizer, batch, steps, lr, eta, wd = row
    return (f"| {optimizer} | {batch} | {steps} | {lr} | {eta or '-'} | {wd} | {fixed:.2%} | {reference:.2%} | "
            f"{distance:.4f} | {trust} | {seconds:.1f} |")


def sensitivity(row, relative: float) -> str:
    """Float64 from W_0 and from W_0 perturbed by ``relative`` (normal, elementwise): the
    largest relative weight distance over the run and both test accuracies."""
    r = recipe(*row)
    data = encode_dataset(load_dataset({"source": "digits"}), r)
    model = FixedPointMLP.seeded(r)
    w0, b0 = list(model.weights), list(model.biases)
    rng = np.random.default_rng(0)
    w1 = [w + np.round(w * rng.normal(size=w.shape) * relative).astype(np.int64) for w in w0]
    runs = [train_float(r, data.x_train, data.y_train, data.batches, w, b0, keep_weights=True) for w in (w0, w1)]
    distance = max(max(np.linalg.norm(x - y) / np.linalg.norm(x) for x, y in zip(s1, s2))
                   for s1, s2 in zip(runs[0].weights, runs[1].weights))
    acc = [float((predict_float(f.model, data.x_test, r.quant.frac_bits) == data.labels_test).mean()) for f in runs]
    return f"{row[0]} {row[1:]}: W_0 perturbed by {relative}: distance {distance:.4f}, accuracy {acc[0]:.2%} vs {acc[1]:.2%}"


def run_file(path: str, seed: int, draws: int = 3, relative: float = 1e-4, steps: int | None = None) -> str:
    """A run file's recipe at ``seed`` (``steps`` in place of its own, if given): the fixed
    point against float64 from the same W_0 and batches, and float64 from W_0 perturbed by
    ``relative`` in ``draws`` draws."""
    import yaml

    from zktrain.run_config import parse_run

    cfg = yaml.safe_load(Path(path).read_text())
    if steps is not None:
        cfg["train"] = {**cfg["train"], "steps": steps}
    run = parse_run({**cfg, "seed": seed}, Path(path).parent)
    r = run.recipe
    data = encode_dataset(run.dataset, r)
    f = compare(r, data)
    model = FixedPointMLP.seeded(r)
    w0, b0 = list(model.weights), list(model.biases)
    perturbed = []
    for k in range(1, draws + 1):
        rng = np.random.default_rng(k)
        w = [x + np.round(x * rng.normal(size=x.shape) * relative).astype(np.int64) for x in w0]
        run_k = train_float(r, data.x_train, data.y_train, data.batches, w, b0)
        perturbed.append(float((predict_float(run_k.model, data.x_test, r.quant.frac_bits) == data.labels_test).mean()))
    return (f"| {Path(path).name} | {seed} | {r.train.steps} | {f.fixed_accuracy:.2%} | {f.float_accuracy:.2%} | "
            f"{max(f.distances):.4f} | {', '.join(f'{a:.2%}' for a in perturbed)} | {f.engine_seconds:.0f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=int, help="one row of ROWS")
    parser.add_argument("--perturb", type=float, help="instead: the float run's sensitivity to W_0 (relative)")
    parser.add_argument("--run-file", help="instead: a run file's whole run, per seed (--seeds)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--steps", type=int, help="with --run-file: train this many steps instead of the file's")
    args = parser.parse_args()
    if args.run_file:
        print("| run file | seed | steps | fixed point | float64 | distance | float64, W_0 perturbed by 1e-4 | engine s |")
        print("|---|---|---|---|---|---|---|---|")
        for seed in args.seeds:
            print(run_file(args.run_file, seed, steps=args.steps), flush=True)
        return
    if args.perturb is not None:
        for i, row in enumerate(ROWS):
            if args.only is None or args.only == i:
                print(sensitivity(row, args.perturb), flush=True)
        return
    print("| optimizer | batch | steps | lr | eta | wd | fixed point | float64 | distance | trust ratios (last step) | engine s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(ROWS):
        if args.only is None or args.only == i:
            print(measure(row), flush=True)


if __name__ == "__main__":
    main()
