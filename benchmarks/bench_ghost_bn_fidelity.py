"""Ghost BN fidelity over a training run (issue 17 item 1, docs/ghost_bn.md section 2): digits
64-128(BN)-128(BN)-10, linear layers without bias before each BN, ReLU, mean MSE, plain SGD,
trained with the exact fixed-point BN of ``circuits.ghost_bn`` (the kernel
``zktrain.fixedpoint.ghost_bn``, the linear layers as ``zktrain.fixedpoint.engine`` computes
them) and in float64 with ``zktrain.nn.GhostBatchNorm1d`` (the same dyadic momentum and eps),
from the same seeded W_0 on the same batches. Prints test accuracies (eval mode: the running
statistics), the largest relative distance (Frobenius, over the run) of any weight matrix, of
any gamma or beta, and of any running statistic, and the fixed point's seconds.

    python benchmarks/bench_ghost_bn_fidelity.py                  # every row
    python benchmarks/bench_ghost_bn_fidelity.py --only 0
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from circuits import ghost_bn as gbn  # noqa: E402
from circuits.recipe import DataSpec, ModelSpec, QuantSpec, Recipe, TrainSpec  # noqa: E402
from circuits.semantics import mse_lr_num, mse_torch_lr, seeded_parameters  # noqa: E402
from zktrain.data import load_dataset  # noqa: E402
from zktrain.fixedpoint import ghost_bn as kernel  # noqa: E402
from zktrain.fixedpoint.data import encode_dataset  # noqa: E402
from zktrain.fixedpoint.exact import Term, matmul_rescale, matmul_wide, max_abs  # noqa: E402
from zktrain.nn import GhostBatchNorm1d  # noqa: E402

#: (batch, virtual batch size, steps, lr)
#: lr 1.0 (the plain MLP's digits rate) diverges with BN in float64 as in fixed point.
ROWS = [(64, 32, 300, 0.2), (64, 8, 300, 0.2), (64, 64, 300, 0.2), (256, 32, 150, 0.4)]
R, K = 16, 16
S = 2 * R + K


def _recipe(batch: int, steps: int, lr: float) -> Recipe:
    lr_num = mse_lr_num(lr, batch, 10, K)
    return Recipe(name="digits-ghost-bn", seed=0, data=DataSpec(source="digits", features=64, classes=10),
                  model=ModelSpec(widths=(64, 128, 128, 10)),
                  train=TrainSpec(batch_size=batch, steps=steps, lr_num=(lr_num,) * steps), quant=QuantSpec())


class FixedBnMlp:
    """W1, W2 (no bias), BN1, BN2 (gamma, beta at 2^S; RM, RV at 2^(2R)), W3, b3, exact SGD."""

    def __init__(self, spec: gbn.GhostBnSpec, weights, biases):
        self.spec = spec
        self.w = [w.copy() for w in weights]
        self.b3 = biases[2].copy()
        self.bn = [list(gbn.initial_parameters(spec, 128)) for _ in range(2)]  # gamma, beta, rm, rv

    def _linear(self, a, layer):
        extra = (Term(self.b3, R, max_abs(self.b3)),) if layer == 2 else ()
        return matmul_rescale(a, self.w[layer].T, S, extra)[0]

    def step(self, x, y, lr_num, step):
        spec, acts, fwds, masks = self.spec, [x], [], []
        for layer in range(2):
            z = self._linear(acts[-1], layer)
            gamma, beta, rm, rv = self.bn[layer]
            f = kernel.forward_train(spec, z, gamma, beta, step)
            u = kernel.running_update(spec, rm, rv, f.s1, f.d, step)
            self.bn[layer][2:] = [u.running_mean, u.running_var]
            fwds.append(f)
            masks.append(f.out <= 0)
            acts.append(np.where(masks[-1], 0, f.out))
        g = self._linear(acts[-1], 2) - y  # G_out (MSE, factor folded into lr_num)
        grads = {2: (matmul_wide(g.T, acts[2]).to_int64(), g.sum(axis=0) << R)}
        for layer in (1, 0):
            g_a = matmul_rescale(g, self.w[layer + 1], S)[0]
            dy = np.where(masks[layer], 0, g_a)
            gamma = self.bn[layer][0]
            bwd = kernel.backward(spec, fwds[layer].xhat, fwds[layer].rstd, gamma, dy, step)
            self.bn[layer][0] = gamma - lr_num * bwd.g_gamma
            self.bn[layer][1] = self.bn[layer][1] - lr_num * bwd.g_beta
            g = bwd.g_in
            grads[layer] = (matmul_wide(g.T, acts[layer]).to_int64(), None)
        for layer, (gw, gb) in grads.items():
            if max_abs(gw) * lr_num >= 1 << 55:  # weight_bits 56: refuse rather than wrap
                raise OverflowError(f"step {step}: the update of W{layer + 1} leaves 56 bits")
            self.w[layer] = self.w[layer] - lr_num * gw
            if gb is not None:
                self.b3 = self.b3 - lr_num * gb

    def predict(self, x):
        a = x
        for layer in range(2):
            gamma, beta, rm, rv = self.bn[layer]
            a = np.maximum(kernel.forward_eval(self.spec, self._linear(a, layer), gamma, beta, rm, rv).out, 0)
        return np.argmax(self._linear(a, 2), axis=1)


def _float_model(spec, weights, biases):
    momentum, eps = float(spec.momentum.value), spec.eps_int / 2.0 ** (2 * R)
    v = spec.virtual_batch_size
    model = nn.Sequential(nn.Linear(64, 128, bias=False), GhostBatchNorm1d(128, v, momentum=momentum, eps=eps),
                          nn.ReLU(), nn.Linear(128, 128, bias=False), GhostBatchNorm1d(128, v, momentum, eps),
                          nn.ReLU(), nn.Linear(128, 10)).double()
    with torch.no_grad():
        for i, w in zip((0, 3, 6), weights):
            model[i].weight.copy_(torch.tensor(w / 2.0**S))
        model[6].bias.copy_(torch.tensor(biases[2] / 2.0**S))
    return model


def _rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def measure(row) -> str:
    batch, v, steps, lr = row
    recipe = _recipe(batch, steps, lr)
    data = encode_dataset(load_dataset({"source": "digits"}), recipe)
    spec = gbn.spec_from_float(batch, v, momentum=0.1, eps=1e-5)
    weights, biases = seeded_parameters(recipe)
    fixed = FixedBnMlp(spec, weights, biases)
    model = _float_model(spec, weights, biases)
    lr_num = recipe.train.lr_num[0]
    opt = torch.optim.SGD(model.parameters(), lr=float(mse_torch_lr(lr_num, batch, 10, K)))
    loss_fn = nn.MSELoss()
    dist_w = dist_affine = dist_stats = seconds = 0.0
    for t in range(steps):
        x, y = data.batch(t)
        start = time.perf_counter()
        fixed.step(x, y, lr_num, t)
        seconds += time.perf_counter() - start
        opt.zero_grad()
        loss_fn(model(torch.tensor(x / 2.0**R)), torch.tensor(y / 2.0**R)).backward()
        opt.step()
        pairs = [(fixed.w[i] / 2.0**S, model[j].weight.detach().numpy()) for i, j in ((0, 0), (1, 3), (2, 6))]
        dist_w = max([dist_w] + [_rel(a, b) for a, b in pairs])
        for layer, j in ((0, 1), (1, 4)):
            gamma, beta, rm, rv = fixed.bn[layer]
            bn = model[j]
            dist_affine = max(dist_affine, _rel(gamma / 2.0**S, bn.weight.detach().numpy()),
                              _rel(beta / 2.0**S, bn.bias.detach().numpy()))
            dist_stats = max(dist_stats, _rel(rm / 2.0 ** (2 * R), bn.running_mean.numpy()),
                             _rel(rv / 2.0 ** (2 * R), bn.running_var.numpy()))
    acc_fixed = float((fixed.predict(data.x_test) == data.labels_test).mean())
    model.eval()
    with torch.no_grad():
        pred = model(torch.tensor(data.x_test / 2.0**R)).argmax(dim=1).numpy()
    acc_float = float((pred == data.labels_test).mean())
    return (f"| {batch} | {v} | {steps} | {lr} | {lr_num} | {acc_fixed:.2%} | {acc_float:.2%} | {dist_w:.2e} | "
            f"{dist_affine:.2e} | {dist_stats:.2e} | {seconds:.1f} |")


def main() -> None:
    try:  # small matmuls suffer from BLAS threads on a loaded machine (docs/fixed_point.md)
        from threadpoolctl import threadpool_limits
        threadpool_limits(1)
    except ImportError:  # pragma: no cover
        pass
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", type=int, help="one row of ROWS")
    args = parser.parse_args()
    print("| batch | v | steps | lr | lr_num | fixed point | float64 | W distance | gamma, beta | running stats "
          "| fixed-point s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for i, row in enumerate(ROWS):
        if args.only is None or args.only == i:
            print(measure(row), flush=True)


if __name__ == "__main__":
    main()
