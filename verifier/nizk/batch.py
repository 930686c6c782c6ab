"""Group equations of the Sigma-protocols, checked one by one or together in one MSM.

Every check of a Sigma-protocol (``equality``, ``product``, ``dot_product``, ``ipa``,
``opening``) and of the ZK sumcheck and the Hyrax ZK opening that use them is a *group
equation* sum_i a_i P_i = 0 (the points P_i are proof messages, commitments and generators,
the scalars a_i come from the responses and the Fiat-Shamir challenges). A verifier passes
them to :meth:`Equations.add`, which either checks the equation at once (``defer=False``,
raising ``VerifyError(message)``) or records it (``defer=True``) for :meth:`Equations.check`.

Deferred check. ``check`` draws independent weights w_j uniform in [0, 2^128) from the
operating system's RNG (``secrets``: local to the verifier, never from the transcript, so a
prover that fixed the proof cannot know them) and tests

    sum_j w_j (sum_i a_ij P_ij) = 0

by one multi-scalar multiplication (``verifier/msm.py``'s Pippenger), in which a point shared
by several equations (the generators g, h, G_i; a commitment used twice) appears once with its
scalars added.

Soundness. G1's subgroup has prime order r > 2^254 and every point here has passed
``Curve.decode``'s subgroup check (or is computed from such points), so each equation's value
E_j = sum_i a_ij P_ij is an element of a group of prime order. Suppose E_k != 0. Fix every
weight but w_k; then sum_j w_j E_j = 0 says w_k E_k = -S for a fixed S, and since E_k
generates the group, exactly one residue of w_k mod r solves it. The 2^128 candidate
weights are distinct mod r (2^128 < r), so at most one of them is that residue: the batch
accepts with probability at most 2^-128, for any number of false equations and any choice
of the proof (the weights are drawn after the proof is fixed and independently of it). The
per-equation checks they replace had no error at all, so a proof's soundness error grows by at
most 2^-128, far below its Fiat-Shamir error (``verifier.transcript.soundness_bits``).

Rejection names. When the batch fails, ``check`` re-checks the equations in the order they
were recorded and raises the message of the first false one, with the prefixes that the
callers' :meth:`Equations.named` contexts (phase label, sumcheck round) had added around it:
the same ``VerifyError`` the per-equation verifier raises. A verifier that keeps running
after recording a false equation may meet another refusal first; such a caller catches it and
calls :meth:`check` before re-raising it (``verifier.zk_training.verify_training_zk``), so the
earlier equation's rejection wins, as it does in the per-equation verifier.
"""

from __future__ import annotations

import secrets
from contextlib import contextmanager
from typing import Sequence

from ..curve import Curve, Point
from ..errors import VerifyError
from ..field import MODULUS as R

#: Bits of each random weight of the deferred check: error 2^-WEIGHT_BITS.
WEIGHT_BITS = 128


class Equations:
    """Group equations sum_i a_i P_i = 0, checked at once or deferred to one batched MSM."""

    def __init__(self, curve: Curve, defer: bool = False):
        self.curve = curve
        self.defer = defer
        self._pending: list[tuple[Sequence[Point], Sequence[int], str]] = []
        self._prefixes: list[str] = []

    def __len__(self) -> int:
        return len(self._pending)

    @contextmanager
    def named(self, prefix: str):
        """Rejections inside name ``prefix`` first: a deferred equation's recorded message gets
        it now, a refusal raised inside gets it as it leaves."""
        self._prefixes.append(prefix)
        try:
            yield
        except VerifyError as err:
            raise VerifyError(f"{prefix}{err}") from None
        finally:
            self._prefixes.pop()

    def add(self, points: Sequence[Point], scalars: Sequence[int], message: str) -> None:
        """The equation sum_i scalars[i] points[i] = 0; ``message`` is its rejection."""
        if len(points) != len(scalars):
            raise ValueError(f"group equation: {len(points)} points but {len(scalars)} scalars")
        if not self.defer:
            if not self._holds(points, scalars):
                raise VerifyError(message)
            return
        self._pending.append((points, scalars, "".join(self._prefixes) + message))

    def _holds(self, points: Sequence[Point], scalars: Sequence[int]) -> bool:
        return self.curve.msm(points, scalars) == self.curve.identity()

    def batch_holds(self) -> bool:
        """One MSM: sum_j w_j E_j = 0 for fresh random 128-bit weights (module docstring)."""
        merged: dict[int, list] = {}  # id(point) -> [point, scalar]; the points stay alive in _pending
        for points, scalars, _ in self._pending:
            weight = secrets.randbits(WEIGHT_BITS)
            for point, scalar in zip(points, scalars):
                entry = merged.get(id(point))
                if entry is None:
                    merged[id(point)] = [point, weight * scalar]
                else:
                    entry[1] += weight * scalar
        entries = list(merged.values())
        return self._holds([p for p, _ in entries], [k % R for _, k in entries])

    def raise_first_failure(self) -> None:
        """Re-check the recorded equations in order; raise the first false one's rejection."""
        pending, self._pending = self._pending, []
        for points, scalars, message in pending:
            if not self._holds(points, scalars):
                raise VerifyError(message)

    def check(self) -> None:
        """Every recorded equation holds (one batched MSM), or the first false one's rejection."""
        if not self._pending:
            return
        if self.batch_holds():
            self._pending.clear()
            return
        self.raise_first_failure()
        # A false batch is a combination of the equations, so one of them is false and the line
        # above raised; test_nizk.py::test_deferred_equations_hold_together pins that it does.
        raise VerifyError("batched group equations fail, but each holds")  # mutation: unreachable (a false batch has a false equation; test_deferred_equations_hold_together)


def equations_for(curve: Curve, equations: "Equations | None") -> Equations:
    """The caller's equations, or a fresh immediate one (each equation checked as it is met)."""
    return Equations(curve) if equations is None else equations
