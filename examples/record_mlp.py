"""Record a PyTorch training loop on scikit-learn's digits, prove it, verify it, keep the model.

    python examples/record_mlp.py [--steps 8] [--out record-mlp.zkp] [--zk]

An ordinary loop: an ``nn.Sequential`` MLP, ``torch.optim.SGD``, a ``StepLR`` schedule and a
``DataLoader``, with ``zktrain.Recorder`` in place of ``loss.backward(); optimizer.step()``.
Each ``rec.step`` is one exact fixed-point SGD step at the optimizer's current rate; ``prove``
writes the bundle and the model file and loads the proven weights into the module, which then
predicts like any torch model. ``rec.fit(loader, epochs=1, scheduler=scheduler)`` runs the same
loop over whole epochs and records each batch's rows of the data set (``rec.indices``). The proof is in the clear mode unless ``--zk`` (quicker; the
zero-knowledge mode hides the weights and the data).
"""

from __future__ import annotations

import argparse
import itertools
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import zktrain
from verifier.bundle import verify_bundle
from zktrain.data import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="training steps to record and prove")
    parser.add_argument("--out", type=Path, default=Path("record-mlp.zkp"), help="bundle to write")
    parser.add_argument("--zk", action="store_true", help="zero-knowledge proof (default: clear)")
    args = parser.parse_args()

    digits = load_dataset({"source": "digits"})
    train = TensorDataset(torch.from_numpy(digits.x_train), torch.from_numpy(digits.y_train))
    loader = DataLoader(train, batch_size=64, shuffle=True, drop_last=True, generator=torch.Generator().manual_seed(0))

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=2.0)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    rec = zktrain.Recorder(model, optimizer, nn.MSELoss(), name="record-mlp")

    for x, y in itertools.islice(loader, args.steps):
        loss = rec.step(x, y)  # y: class labels, the one-hot targets of the MSE
        scheduler.step()
        print(f"step {rec.steps - 1:>3}  lr {rec.rates[-1]:.3g}  loss {loss:.4f}")

    summary = rec.prove(args.out, zk=args.zk)
    print(f"proved {summary.steps} steps in {summary.prove_seconds:.1f} s: {args.out} ({summary.bundle_bytes:,} bytes) "
          f"and {args.out.with_suffix('.model.npz')}")
    report = verify_bundle(args.out.read_bytes(), weights=args.out.with_suffix(".model.npz"))
    print(f"verify: {'ACCEPT' if report.accepted else 'REJECT'} ({report.reason})")
    print(f"fidelity: {rec.fidelity(digits.x_test, digits.y_test)}")

    with torch.no_grad():  # the module now holds the proven weights
        predictions = model(torch.from_numpy(digits.x_test)).argmax(dim=1)
    print(f"the trained module's test accuracy: {(predictions.numpy() == digits.y_test).mean():.2%}")
    if not report.accepted:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
