"""Running one nonlinear gadget (``verifier/division.py``, ``verifier/rowmax.py``) standalone,
for its tests: the gadget and the range checks of its slots over the training walk's channels
(clear and zero knowledge), prover and verifier.

"Accepted" means what a caller of the gadget checks: the verifier's walk raises nothing and
every claim it leaves (the gadget's, the slot claims in its ledger, the range checks') is a
true evaluation of the witness (in the ZK mode: the verifier holds the prover's commitments to
those values), which the caller's ledger and openings would establish. The range checks run
one per slots tensor, each in its own phase (bits: booleanity) or logUp statement (limbs), and
a rejection there is reported as ``range of <tensor>: ...``, so a test can name the range check
that caught it (a walk batches them into one statement).

The prover runs the same walk with the walk's own checks switched off (a cheating prover sends
its messages regardless); ``tamper(label, proof)`` edits a clear phase's proof.
"""

from __future__ import annotations

import random
from collections import ChainMap
from types import SimpleNamespace

import numpy as np
import pytest

from circuits.limbs import LimbDecomposition
from prover import logup as pl
from prover.commit import group
from prover.commit.generators import prover_generators
from prover.training import ProverChannel
from prover.zk_training import ZkProverChannel
from verifier.claims import Claim
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.gadgets import booleanity_reduction
from verifier.hash_to_curve import pedersen_generators
from verifier.logup import LogupStatement, LogupWalk, RangeTensor, multiplicity_name
from verifier.polynomial import mle_evaluate
from verifier.training import VerifierChannel
from verifier.walk import Walk
from verifier.zk_training import ZkVerifierChannel

MODES = {"clear": (ProverChannel, VerifierChannel), "zk": (ZkProverChannel, ZkVerifierChannel)}
#: A walk over no circuit: the gadget tests commit and open nothing.
STATEMENT = SimpleNamespace(circuit=None)


def mle(arr, point) -> int:
    return mle_evaluate([int(v) % R for v in np.asarray(arr).reshape(-1)], point)


def forge(decomposition, values) -> np.ndarray:
    """Slots (object array) recomposing to ``values`` mod r: the honest decomposition of an
    in-range value; for any other, zeros but slot 0 (weight 1), which holds value - offset."""
    values = np.asarray(values, dtype=object)
    out = np.zeros(values.shape + (decomposition.padded_width,), dtype=object)
    for index, v in np.ndenumerate(values):
        v = int(v)
        if decomposition.min_value <= v <= decomposition.max_value:
            out[index] = [int(s) for s in decomposition.decompose(np.array([v]))[0]]
        else:
            out[index + (0,)] = (v - decomposition.offset) % R
    return out


def counts(statement: LogupStatement, witness) -> dict[str, np.ndarray]:
    """The cheater's best multiplicities: every slot value that lies in its table is counted."""
    out = {b: np.zeros(1 << b, dtype=np.int64) for b in statement.table_bits()}
    for t in statement.tensors:
        cols = np.asarray(witness[t.name], dtype=object).reshape(-1, t.decomposition.padded_width)
        for i, b in enumerate(t.decomposition.slot_widths):
            for v in cols[:, i]:
                if 0 <= v < 1 << b:
                    out[b][int(v)] += 1
    return {multiplicity_name(b): m for b, m in out.items()}


def _leaves(backend, tree, challenges, witness):
    """``prover.logup.leaves``, also for forged slots beyond int64 (object arrays)."""
    if tree.tensor is None or np.asarray(witness[tree.key]).dtype != object:
        return pl.leaves(backend, tree, challenges, witness)
    t = tree.tensor
    slots = [int(v) for v in np.asarray(witness[t.name]).reshape(-1)]
    tags = t.slot_tags() * (1 << t.value_vars)
    q = [(challenges.beta - challenges.alpha * b - v) % R for b, v in zip(tags, slots)]
    return backend.from_ints([1] * len(q)), backend.from_ints(q)


def _prover_channel(mode, tamper):
    class Channel(MODES[mode][0]):
        def fractions(self, statement, challenges):
            self.derived.update(pl.derive_tables(self.backend, statement, challenges, self.witness, _leaves))
            (q_top,) = self.values(b"logup-top-q", ["logup.top.q"])
            return q_top

        def _prove_phase(self, label, reductions):
            proof, claims = super()._prove_phase(label, reductions)
            return (proof if tamper is None else tamper(label, proof)), claims

    return Channel


class RecklessWalk(Walk):
    """The prover's walk without the walk's own checks."""

    def _require(self, ok, reason):
        pass


def _range_checks(walk, ranged, range_kind, truth):
    """Each slots tensor's range check; returns its claims, multiplicity claims renamed
    ``<tensor>/<multiplicities>`` (their values put in ``truth`` under that name)."""
    out = []
    for name, decomposition, value_vars in ranged:
        try:
            if range_kind == "bits":
                w = walk.t.challenge_scalars(b"range-point", value_vars + decomposition.slot_vars)
                out += walk.ch.phase(f"range:{name}".encode(), [booleanity_reduction(name, w)])
                continue
            assert isinstance(decomposition, LimbDecomposition)
            st = LogupStatement((RangeTensor(name, decomposition, value_vars),))
            if isinstance(walk, RecklessWalk):  # the prover: this statement's multiplicities
                mults = counts(st, truth)
                walk.ch.witness = ChainMap(mults, truth)
                truth.update({f"{name}/{k}": m for k, m in mults.items()})
            for claim in LogupWalk(st, walk.ch).run():
                if claim.tensor in st.multiplicity_tensors():
                    claim = Claim(f"{name}/{claim.tensor}", claim.point, claim.value)
                out.append(claim)
        except VerifyError as err:
            raise VerifyError(f"range of {name}: {err}") from None
    return out


def _run(walk, gadget, ranged, range_kind, truth, skip):
    """The gadget, then the range checks of its slots tensors but those in ``skip`` (the
    mutant verifier of a test that shows a range check necessary)."""
    claims = gadget(walk)
    for tensor in list(walk.ledger._claims):  # the slot claims; a caller's ledger opens them
        claims += walk.ledger.take(tensor)
    return claims + _range_checks(walk, [t for t in ranged if t[0] not in skip], range_kind, truth)


def prove(mode, backend, gadget, ranged, range_kind, witness, tamper=None, skip=()):
    """The proof bytes, the prover's claims and the truth they are checked against."""
    truth = dict(witness)
    channel = _prover_channel(mode, tamper)(None, truth, backend, None, random.Random(1))
    claims = _run(RecklessWalk(STATEMENT, channel), gadget, ranged, range_kind, truth, skip)
    return channel.proof_bytes(), claims, truth


def verify(mode, gadget, ranged, range_kind, proof, skip=()):
    channel = MODES[mode][1](None, {}, proof, pedersen_generators())
    claims = _run(Walk(STATEMENT, channel), gadget, ranged, range_kind, {}, skip)
    channel.reader.finish()
    return claims


def claims_true(mode, prover_claims, claims, truth) -> bool:
    if [(c.tensor, tuple(c.point)) for c in claims] != [(c.tensor, tuple(c.point)) for c in prover_claims]:
        return False
    if mode == "zk":
        gens = prover_generators()
        for v, p in zip(claims, prover_claims):
            mine = v.value if isinstance(v.value, int) else v.value.to_bytes()
            theirs = p.value % R if isinstance(p.value, int) else group.to_bytes(p.value.commitment(gens))
            if mine != theirs:
                return False
    elif any((v.value - p.value) % R for v, p in zip(claims, prover_claims)):
        return False  # the verifier's own values, not only the prover's, must be the truth
    values = [getattr(c.value, "value", c.value) for c in prover_claims]
    return all(mle(truth[c.tensor], c.point) == v % R for c, v in zip(prover_claims, values))


def accepts(mode, backend, gadget, ranged, range_kind, witness, skip=(), **hooks) -> bool:
    proof, prover_claims, truth = prove(mode, backend, gadget, ranged, range_kind, witness, skip=skip, **hooks)
    try:
        claims = verify(mode, gadget, ranged, range_kind, proof, skip)
    except VerifyError:
        return False
    return claims_true(mode, prover_claims, claims, truth)


def rejected(mode, backend, gadget, ranged, range_kind, witness, match, **hooks) -> None:
    proof, _, _ = prove(mode, backend, gadget, ranged, range_kind, witness, **hooks)
    with pytest.raises(VerifyError, match=match):
        verify(mode, gadget, ranged, range_kind, proof)


def keep_value(shape, finals: list, moved: int, target: int) -> list:
    """``finals`` with entry ``moved`` solved so that the instance's combined polynomial
    (``shape.evaluate``, linear in that entry) takes ``target``: a prover that changes another
    final evaluation and hides it from the sumcheck's last check, so that only a public table's
    own check can see it."""
    def value(x):
        finals[moved] = x
        return shape.evaluate(finals)

    p0 = value(0)
    finals[moved] = (target - p0) * pow((value(1) - p0) % R, -1, R) % R
    assert shape.evaluate(finals) == target
    return finals
