"""Proofs of LARS (issue 16, docs/lars.md section 4, ``verifier/optimizers.py: LarsStep``), end
to end in both modes: the honest run verifies, and deviating provers are rejected by the check
meant for them.

The run is the tiny MLP of tests/test_momentum_proof.py (4 -> 8 -> 3, batch 4, 3 steps padded to
4, biases, mean MSE so 1/c = B n_out / 2 = 6) trained by LARS with mu = 0.9 (29491/2^15), a
folded decay beta_f = 41/2^14, eta = 41/2^11 (0.02) and eps E = 1000: every term of the buffer
relation is live, K = 24 + 16 + 14 = 54. The biases start at zero, so step 0's trust ratio of
every bias takes the zero-norm rule (lambda = 2^K_l), as do the padded steps (zero data, so
zero gradients). Each soundness case is a prover that runs another optimizer, proves it with
the protocol's own prover against the statement, publishes what its run ends on, and is
rejected by the check the case names (issue 12), per mode.
"""

from __future__ import annotations

import dataclasses
import random
import re

import numpy as np
import pytest

import prover.training as pt
from circuits.lars import buffer_terms, trust_ratio, update_multiplier
from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, mlp_witness
from verifier import field
from verifier.field import MODULUS as R
from verifier.training import TrainingStatement, TrainingWalk, verify_training
# The same deviating-prover machinery as the momentum's proofs (a reckless walk, the proof
# of a cheating witness against the published data, the checks' rejections).
from test_momentum_proof import MODES, _SUMCHECK_ROUND, _cheat, _phase_1_fails, _prove, _rejected, proven_run, stale

RECIPE = b'{"run":"tiny-lars"}'
LARS = dict(optimizer="lars", momentum=(29491, 15), weight_decay=(41, 14), trust_coefficient=(41, 11),
            lars_eps=1000, inv_c=6)


def _circuit(gadget: str = "limbs", **changes) -> MlpCircuit:
    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(3000, 2000, 1000), range_check=gadget, limb_bits=8, **LARS)
    return dataclasses.replace(c, **changes)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = 1 << 16
    w0 = (rng.integers(-(1 << 44), 1 << 44, size=(8, 4)), rng.integers(-(1 << 44), 1 << 44, size=(3, 8)))
    b0 = (np.zeros(8, dtype=np.int64), np.zeros(3, dtype=np.int64))
    return dict(x=x, y=y, w0=w0, b0=b0)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module", params=list(MODES))
def run(request, data):
    return proven_run(request.param, data, _circuit(), RECIPE)


def _trust_fails(run) -> str:
    """A false claim in the trust-ratio gadget's zero-check (``verifier/trust.py``)."""
    return rf"^trust:lars: {_SUMCHECK_ROUND[run['mode']]}"


# --- completeness ---------------------------------------------------------------------------


def test_honest_lars_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_follows_the_lars_semantics(run):
    """The witness's W_T and buffer checkpoint are ``circuits.lars``'s update, recomputed here
    from the witness's own gradients: the squared norms, lambda_q, v rounded half up at 2^-K,
    W_{t+1} = W_t - v; every bias's first trust ratio takes the zero-norm rule."""
    c, wit = run["c"], run["witness"]
    spec = c.lars_spec()
    w, b = np.array(run["w0"][1], dtype=object), np.zeros(3, dtype=object)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    for t in range(c.steps):
        gz = wit["GZ2"][t][:, :3].astype(object)
        for kind in ("W", "b"):
            p, v = (w, vw) if kind == "W" else (b, vb)
            g = gz.T.dot(wit["IN2"][t].astype(object)) if kind == "W" else gz.sum(axis=0) << c.frac_bits
            lam = trust_ratio(int((p * p).sum()), int((g * g).sum()), spec, c.lr_shift)[3]
            assert lam == wit[f"LAM{kind}2"][t]
            if kind == "b" and t == 0:
                assert lam == 1 << spec.trust_bits  # b_0 = 0: the zero-norm rule
            K, mu, a, ab = buffer_terms(lam, c.lr[t], spec, c.lr_shift)
            v[...] = (mu * v + (a << (c.lr_shift + spec.beta.shift)) * g + ab * p + (1 << (K - 1))) >> K
            p -= v
    assert (wit["W2.T"][:3].astype(object) == w).all() and (wit["b2.T"][:3].astype(object) == b).all()
    assert (wit["VW2.T"][:3].astype(object) == vw).all() and (wit["Vb2.T"][:3].astype(object) == vb).all()


def test_bits_gadget_proves_lars():
    """The same walk over the bit gadget (booleanity instead of logUp), clear mode, no bias."""
    c = _circuit("bits", bias=False)
    d = _data(1)
    st = TrainingStatement(c, RECIPE, d["w0"], [None, None])
    channel = ProverChannel(st, mlp_witness(c, d["x"], d["y"], d["w0"], [None, None]), get_backend("reference"),
                            None, random.Random(2))
    TrainingWalk(st, channel).run()
    verify_training(st, channel.public, channel.proof_bytes())


# --- soundness: another optimizer than the recipe's ---------------------------------------------


def _lars_witness(run, monkeypatch, **patches):
    """The witness of a prover whose update runs with ``prover.training``'s helpers replaced."""
    for name, fn in patches.items():
        monkeypatch.setattr(pt, name, fn)
    d = run
    return mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"])


def test_trust_ratio_from_another_tensors_norm_is_rejected(run, monkeypatch):
    """The prover computes every tensor's lambda from the squared norm of W_1 (the trust ratio
    of another tensor) and runs the update with it; its trust-ratio gadget is honest for the
    norms it claims. The per-tensor norms it sends then are not the tensors' own: the norm
    sumcheck of phase 1 fails."""
    records = {}

    def emit_norms(hook_step):
        def h(name, value):
            records[name] = value
            if name.startswith("NP") and name != "NPW1":
                return records["NPW1"]
            return value
        return h

    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"], emit_norms)
    assert not np.array_equal(witness["LAMW2"], run["witness"]["LAMW2"])
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


def test_norm_of_another_step_is_rejected(run):
    """Step 2's lambda of W_2 comes from the weights' norm at step 1 (a stale norm): the norm
    sumcheck of phase 1 fails."""
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"], stale((1, "NPW2"), (2, "NPW2")))
    assert witness["LAMW2"][2] != run["witness"]["LAMW2"][2]
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


@pytest.mark.parametrize("case", ["weight decay skipped", "another mu", "rate outside the trust ratio"])
def test_another_lars_update_is_rejected(run, monkeypatch, case):
    """The prover's buffer update departs from the recipe's (its committed lambda is honest):
    no decay term, mu = 7/8, or the trust ratio ignored (lambda = 1 in the update). The buffer
    relation of phase 1 fails."""

    def terms(lam, lr, spec, k):
        K, mu, a, ab = buffer_terms(lam, lr, spec, k)
        if case == "weight decay skipped":
            return K, mu, a, 0
        if case == "another mu":
            return K, 7 << (K - 3), a, ab
        return buffer_terms(1 << spec.trust_bits, lr, spec, k)

    witness = _lars_witness(run, monkeypatch, buffer_terms=terms)
    _rejected(run, _cheat(run, witness), _phase_1_fails(run))


def test_committed_trust_ratio_off_by_one_is_rejected(run, monkeypatch):
    """The prover runs the update with lambda_q + 1 for every tensor and step and commits that
    lambda (so the buffer relation holds), its other gadget tensors honest: the trust-ratio
    gadget's gated division (Q) fails in its zero-check. (A prover that also shifts rho to keep
    (Q) is caught by rho's range check: tests/test_trust.py.)"""

    def multiplier(n, m, lr, spec, k):
        return update_multiplier(n, m, lr, spec, k) + 1

    monkeypatch.setattr(pt, "update_multiplier", multiplier)
    trust = run["c"].trust()
    real = pt.trust_witness

    def witness_with_lambda_plus_one(c, n, m):
        out = real(c, n, m)
        lam = np.asarray(out[trust.lam], dtype=object) + 1
        out[trust.lam] = lam
        out[trust.slots("lam")] = trust.lam_slots().decompose(lam, "lambda")
        return out

    monkeypatch.setattr(pt, "trust_witness", witness_with_lambda_plus_one)
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"])
    _rejected(run, _cheat(run, witness), _trust_fails(run))


def test_update_by_another_trust_ratio_than_the_gadgets_is_rejected(run, monkeypatch):
    """The prover runs the update with lambda_q + 1 for every tensor and step (the buffer
    relation holds for it) while its trust-ratio gadget proves the honest lambda_q: the buffer
    relation's claims on each tensor's lambda are read off the gadget's committed lambda slots."""

    def multiplier(n, m, lr, spec, k):
        return update_multiplier(n, m, lr, spec, k) + 1

    monkeypatch.setattr(pt, "update_multiplier", multiplier)
    monkeypatch.setattr(pt, "check_lars_multipliers", lambda *a: None)
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"])
    lam = re.escape(run["c"].trust().slots("lam"))
    _rejected(run, _cheat(run, witness), rf"^{lam}: slots do not recompose to the claimed value$")


def test_checkpoint_of_a_padded_step_is_rejected(run):
    """The published buffer checkpoint is the buffer after the last *padded* step, where the
    recurrence decays it by mu: the walk reads the stacked buffer's slots at the last real step
    and they do not recompose to the claimed V~_T."""
    witness = dict(run["witness"])
    witness["VW1.T"] = witness["VW1"][-1].reshape(witness["VW1.T"].shape)
    assert not np.array_equal(witness["VW1.T"], run["witness"]["VW1.T"])
    _rejected(run, _cheat(run, witness), r"^VW1\.limbs: slots do not recompose to the claimed value$")


def test_proof_against_another_trust_coefficient_is_rejected(run):
    """The honest proof checked against a statement whose recipe says eta = 43/2^11 (the same
    proof layout): the circuit is in the transcript and eta is in the gadget's division, whose
    zero-check is the first to fail."""
    other = dataclasses.replace(run["statement"], circuit=_circuit(trust_coefficient=(43, 11)))
    _rejected(run, (run["public"], run["proof"]), _trust_fails(run), statement=other)


def test_segments_chain_the_lars_buffers(run):
    """Steps 0-1 and step 2 as two segments: the second starts from the first's committed W_T,
    b_T and buffers, and both verify."""
    c, d = run["c"], run
    seg = [dataclasses.replace(c, steps=2, lr=c.lr[:2]), dataclasses.replace(c, steps=1, lr=c.lr[2:])]
    first = TrainingStatement(seg[0], RECIPE, d["w0"], d["b0"], segment=0, segments=2, segment_steps=2)
    second = TrainingStatement(seg[1], RECIPE, None, None, segment=1, segments=2, segment_steps=2)
    wit0 = mlp_witness(seg[0], d["x"][:2], d["y"][:2], d["w0"], d["b0"])
    channel = run["channel"](first, wit0, run["backend"], None, random.Random(3))
    TrainingWalk(first, channel).run()
    run["verify"](first, channel.public, channel.proof_bytes())
    layers = range(1, c.layers + 1)
    w1, b1 = [wit0[f"W{l}.T"] for l in layers], [wit0[f"b{l}.T"] for l in layers]
    bufs = [(wit0[f"VW{l}.T"], wit0[f"Vb{l}.T"]) for l in layers]
    wit1 = mlp_witness(seg[1], d["x"][2:], d["y"][2:], w1, b1, buf0=bufs)
    public0 = {name.replace(".T", ".0"): channel.public[name] for name in first.checkpoint_tensors("T")}
    channel1 = run["channel"](second, wit1, run["backend"], channel.checkpoint(), random.Random(4))
    TrainingWalk(second, channel1).run()
    run["verify"](second, {**channel1.public, **public0}, channel1.proof_bytes())
    # The whole run in one segment ends on the same weights.
    assert all(np.array_equal(wit1[f"W{l}.T"], run["witness"][f"W{l}.T"]) for l in layers)


@pytest.mark.parametrize("source", ["P", "G"])
def test_gadget_on_other_norms_than_the_tensors_is_rejected(run, monkeypatch, source):
    """The prover runs the trust-ratio gadget (and the update) on four times the true squared
    norms of the weights (or of the gradients), a doubled root, while the per-tensor norms it
    sends are the true ones, so every norm sumcheck, the gadget and the buffer relation hold:
    only the split's combination ties the gadget's norms to the tensors', and it fails."""
    real_multiplier, real_witness = pt.update_multiplier, pt.trust_witness

    def multiplier(n, m, lr, spec, k):
        return real_multiplier(4 * n, m, lr, spec, k) if source == "P" else real_multiplier(n, 4 * m, lr, spec, k)

    def witness(c, n, m):
        return real_witness(c, 4 * n, m) if source == "P" else real_witness(c, n, 4 * m)

    monkeypatch.setattr(pt, "update_multiplier", multiplier)
    monkeypatch.setattr(pt, "trust_witness", witness)
    d = run
    cheat = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"])
    assert not np.array_equal(cheat["LAMW2"], run["witness"]["LAMW2"])
    _rejected(run, _cheat(run, cheat), rf"^lars: the tensors' squared norms N_{source} do not combine to the trust ratio's$")


def test_zk_proof_reveals_no_trust_ratio_or_norm(run, monkeypatch):
    """In zero knowledge the optimizer's scalars stay hidden: no trust ratio, squared norm or
    buffer entry of the witness appears in the proof as a field element. In the clear mode the
    same search over the proof's bytes finds the squared norms' evaluations its prover sends in
    the clear (a positive control: the search can succeed; whether a raw entry also shows up in a
    clear proof is chance, which the logUp leaf step's message change once flipped)."""
    c, wit = run["c"], run["witness"]
    values = [wit[f"{x}{kind}{l}"].reshape(-1) for x in ("LAM", "NP", "NG") for kind, l in c.parameter_tensors()]
    values.append(wit["VW2"].reshape(-1))
    encodings = {field.to_bytes(int(v) % R) for a in values for v in a if int(v) % R}
    assert len(encodings) > 50  # not vacuous
    if run["mode"] == "zk":
        assert not {e for e in encodings if e in run["proof"]}
        return
    sent, honest = [], ProverChannel.evaluation

    def recording(self, name, point):
        value = honest(self, name, point)
        if name.startswith(("NP", "NG")):
            sent.append(field.to_bytes(int(value) % R))
        return value

    monkeypatch.setattr(ProverChannel, "evaluation", recording)
    proof = _prove(run, run["statement"], run["witness"], run["published"])[1]
    assert proof == run["proof"] and len(sent) >= 8
    assert all(e in proof for e in sent)


# --- LARC: the trust ratio clipped to the global rate ----------------------------------------


@pytest.fixture(scope="module", params=list(MODES))
def larc(request, data):
    """The same run under LARC (``lars_clip``): the multiplier m_q = min(lambda / gamma_t, 1)
    binds on some (step, tensor) and not on others (asserted in the honest test)."""
    return proven_run(request.param, data, _circuit(lars_clip=True), RECIPE)


def test_honest_larc_proof_verifies(larc):
    """LARC's run verifies; its multipliers are ``circuits.lars.larc_multiplier`` of the trust
    ratios, clipped (2^K_l, on nonzero norms) for some tensors and steps and not for others."""
    c, wit = larc["c"], larc["witness"]
    trust = c.trust()
    ratio = np.asarray(wit[trust.ratio], dtype=object).reshape(c.padded_steps, -1)
    multipliers = np.asarray(wit[trust.lam], dtype=object).reshape(c.padded_steps, -1)
    one = 1 << c.lars_spec().trust_bits
    clipped = [(t, g) for t in range(c.steps) for g in range(len(c.parameter_tensors()))
               if multipliers[t, g] == one and ratio[t, g] != one]
    free = [(t, g) for t in range(c.steps) for g in range(len(c.parameter_tensors())) if multipliers[t, g] < one]
    assert clipped and free
    larc["verify"](larc["statement"], larc["public"], larc["proof"])


def test_larc_clipping_skipped_is_rejected(larc, monkeypatch):
    """The prover runs plain LARS where LARC clips: its buffer takes m = q = round(lambda 2^k /
    (inv_c lr_num)) > 2^K_l (so gamma_t m is LARS's lambda) and its gadget commits that m with
    the flag c = 0, the division's rho2, sigma2 solved, every value in range, and the comparison
    h of (CH) set to 0 (any in-range h: the honest one, -Delta - 1, is negative). The buffer
    relation holds; the trust-ratio gadget's zero-check fails on (CH). (With h = -Delta - 1 kept
    as a field element, RC(h) rejects: tests/test_trust.py::test_larc_clipping_skipped.)"""
    spec, k = larc["c"].lars_spec(), larc["c"].lr_shift
    one = 1 << spec.trust_bits
    skipped = []

    def unclipped(n, m, lr, spec_, k_):
        s_p, s_g, _, lam = trust_ratio(n, m, spec, k)
        if s_p == 0 or s_g == 0 or lr == 0:
            return one
        q = (2 * (lam << k) + spec.inv_c * lr) // (2 * spec.inv_c * lr)
        if one < q < 2 * one:  # where the clip binds and m's slots can hold the skipped value
            skipped.append(q)
            return q
        return update_multiplier(n, m, lr, spec, k)

    real_witness = pt.trust_witness

    def witness(c, n, m):
        out = {key: np.array(v, dtype=object) for key, v in real_witness(c, n, m).items()}
        ratio, lam = np.asarray(out[c.ratio]).reshape(-1), np.asarray(out[c.lam]).reshape(-1)
        for i in range(len(lam)):
            d = c.clip_divisor(i >> c.group_vars)
            if lam[i] != one or ratio[i] == one or d == 0:
                continue
            n2 = int(ratio[i]) << k
            q = (2 * n2 + d) // (2 * d)
            if not one < q < 2 * one:
                continue
            rho2 = 2 * n2 + d - 2 * q * d
            for table, value in ((c.lam, q), (c.clip_flag, 0), (f"{c.name}.rho2", rho2),
                                 (f"{c.name}.sig2", 2 * d - 1 - rho2), (f"{c.name}.cmp", 0)):
                out[table].reshape(-1)[i] = value
        for key, table, d in c.sliced():
            out[c.slots(key)] = d.decompose(out[table], key)
        return out

    monkeypatch.setattr(pt, "update_multiplier", unclipped)
    monkeypatch.setattr(pt, "trust_witness", witness)
    d = larc
    cheat = mlp_witness(larc["c"], d["x"], d["y"], d["w0"], d["b0"])
    assert skipped and not np.array_equal(cheat["W1.T"], larc["witness"]["W1.T"])
    _rejected(larc, _cheat(larc, cheat), _trust_fails(larc))


def test_proof_of_lars_against_a_larc_statement_is_rejected(run):
    """The plain LARS proof checked against the LARC statement of the same run: LARC commits
    more tensors (the clip's flag and slots), so the LARS proof's bytes do not even parse as
    its commitments: the reader meets other bytes where a compressed point should be (which
    check of the point's encoding fails depends on those bytes)."""
    other = dataclasses.replace(run["statement"], circuit=_circuit(lars_clip=True))
    _rejected(run, (run["public"], run["proof"]), r"^training proof: G1 point: ", statement=other)
