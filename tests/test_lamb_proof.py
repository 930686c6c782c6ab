"""Proofs of LAMB (issue 16, docs/lamb.md section 4, ``verifier/optimizers.py: LambStep``), end
to end in both modes: the honest run verifies, and deviating provers are rejected by the check
meant for them.

The run is the tiny MLP of tests/test_momentum_proof.py (4 -> 8 -> 3, batch 4, 3 steps padded to
4, biases, mean MSE so 1/c = B n_out / 2 = 6) trained by LAMB with ``zktrain.optim.LAMB``'s
defaults as ``circuits.lamb.spec_from_float`` quantizes them: betas (0.9, 0.999) as
1 - b1 = 205/2^11, 1 - b2 = 131/2^17, eps 1e-6, weight decay 0.01 (41/2^12). The biases start at
zero, so step 0's trust ratio of every bias takes the zero-norm rule (phi = 2^24). The step
gadget's own attacks (a root off by one, eps omitted, bias correction skipped inside a segment,
phi from another norm, ...) are tests/test_lamb_step.py's; here each case is a prover that runs
another optimizer through the walk, proves it with the protocol's own prover against the
statement, publishes what its run ends on, and is rejected by the check the case names, per mode.
"""

from __future__ import annotations

import dataclasses
import random

import numpy as np
import pytest

import prover.training as pt
from circuits.lamb import spec_from_float
from circuits.mlp import MlpCircuit
from prover.backends import get_backend
from prover.training import ProverChannel, mlp_witness
from verifier import field
from verifier.field import MODULUS as R
from verifier.phase import Table
from verifier.training import TrainingStatement, TrainingWalk, verify_training
from zktrain.fixedpoint.lamb import LambState, lamb_step
# The deviating-prover machinery of the momentum's proofs (a reckless walk, the proof of a
# cheating witness against the published data, the checks' rejections).
from test_lars_proof import _data  # the LARS proofs' tiny data: its zero biases take the zero-norm rule
from test_momentum_proof import MODES, _SUMCHECK_ROUND, _RecklessWalk, _cheat, _rejected, proven_run, stale, transcript_labels

RECIPE = b'{"run":"tiny-lamb"}'
SPEC = spec_from_float(inv_c=6)
LAMB = dict(optimizer="lamb", weight_decay=(SPEC.lam.num, SPEC.lam.shift),
            betas=tuple((d.num, d.shift) for d in (SPEC.one_minus_b1, SPEC.one_minus_b2)), lamb_eps=SPEC.eps_int,
            inv_c=6)


def _circuit(gadget: str = "limbs", **changes) -> MlpCircuit:
    c = MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=(300, 200, 100), range_check=gadget, limb_bits=8, **LAMB)
    return dataclasses.replace(c, **changes)


@pytest.fixture(scope="module")
def data():
    return _data()


@pytest.fixture(scope="module", params=list(MODES))
def run(request, data):
    return proven_run(request.param, data, _circuit(), RECIPE)


def _fails(run, phase: str) -> str:
    """A false claim in a batched sumcheck of ``phase`` (a regex)."""
    return rf"^{phase}: {_SUMCHECK_ROUND[run['mode']]}"


def _segments(c):
    """Steps 0-1 and step 2 as two segments."""
    return [dataclasses.replace(c, steps=2, lr=c.lr[:2]), dataclasses.replace(c, steps=1, lr=c.lr[2:])]


def _first_segment(run):
    c, d = run["c"], run
    seg = _segments(c)
    st = TrainingStatement(seg[0], RECIPE, d["w0"], d["b0"], segment=0, segments=2, segment_steps=2)
    wit = mlp_witness(seg[0], d["x"][:2], d["y"][:2], d["w0"], d["b0"])
    channel = run["channel"](st, wit, run["backend"], None, random.Random(3))
    TrainingWalk(st, channel).run()
    return st, wit, channel


def _second_segment(run, first_wit, first_channel, first_step=2):
    """The second segment's statement, its witness from the first's checkpoint (moments
    included; LAMB's bias corrections from ``first_step``), and the public commitments."""
    c, d = run["c"], run
    seg = _segments(c)[1]
    st = TrainingStatement(seg, RECIPE, None, None, segment=1, segments=2, segment_steps=2)
    layers = range(1, c.layers + 1)
    w1, b1 = [first_wit[f"W{l}.T"] for l in layers], [first_wit[f"b{l}.T"] for l in layers]
    moments = [tuple((first_wit[f"M{kind}{l}.T"], first_wit[f"V{kind}{l}.T"]) for kind in ("W", "b")) for l in layers]
    wit = mlp_witness(seg, d["x"][2:], d["y"][2:], w1, b1, buf0=moments, first_step=first_step)
    start = {name.replace(".T", ".0"): first_channel.public[name] for name in st.checkpoint_tensors("T")}
    return st, wit, start


# --- completeness ---------------------------------------------------------------------------


def test_honest_lamb_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_witness_follows_the_engines_lamb(run):
    """The witness's W_T, b_T and moment checkpoints are the engine's LAMB kernel
    (``zktrain.fixedpoint.lamb.lamb_step``) run on the witness's own folded gradients; every
    bias's first trust ratio takes the zero-norm rule."""
    c, wit = run["c"], run["witness"]
    spec = c.lamb_spec()
    state = {"W": LambState(np.array(run["w0"][1], dtype=object), 0, 0, 0),
             "b": LambState(np.zeros(3, dtype=object), 0, 0, 0)}
    for t in range(c.steps):
        gz = wit["GZ2"][t][:, :3].astype(object)
        for kind in ("W", "b"):
            g = gz.T.dot(wit["IN2"][t].astype(object)) if kind == "W" else gz.sum(axis=0) << c.frac_bits
            s = state[kind]
            s = LambState(s.p, np.zeros_like(s.p) + s.m, np.zeros_like(s.p) + s.v, t)
            state[kind], _, scalars = lamb_step(s, g, c.lr[t], spec, c.frac_bits, c.lr_shift, c.weight_bits, c.buf_bits)
            if kind == "b" and t == 0:
                assert scalars.trust == 1 << 24  # b_0 = 0: the zero-norm rule
    for kind, end in (("W", "W2.T"), ("b", "b2.T")):
        s = state[kind]
        assert (wit[end][:3].astype(object) == s.p).all()
        assert (wit[f"M{kind}2.T"][:3].astype(object) == s.m).all()
        assert (wit[f"V{kind}2.T"][:3].astype(object) == s.v).all()


def test_bits_gadget_proves_lamb():
    """The same walk over the bit gadget (booleanity instead of logUp), clear mode, no bias."""
    c = _circuit("bits", bias=False)
    d = _data(1)
    st = TrainingStatement(c, RECIPE, d["w0"], [None, None])
    channel = ProverChannel(st, mlp_witness(c, d["x"], d["y"], d["w0"], [None, None]), get_backend("reference"),
                            None, random.Random(2))
    TrainingWalk(st, channel).run()
    verify_training(st, channel.public, channel.proof_bytes())


def test_segments_chain_the_lamb_moments(run):
    """Steps 0-1 and step 2 as two segments: the second starts from the first's committed W_T,
    b_T and moments, its bias corrections at t = 3, and both verify; the whole run in one
    segment ends on the same weights."""
    first, wit0, channel = _first_segment(run)
    run["verify"](first, channel.public, channel.proof_bytes())
    assert np.asarray(wit0["MW2.T"]).any()  # the chain carries nonzero moments
    second, wit1, start = _second_segment(run, wit0, channel)
    channel1 = run["channel"](second, wit1, run["backend"], channel.checkpoint(), random.Random(4))
    TrainingWalk(second, channel1).run()
    run["verify"](second, {**channel1.public, **start}, channel1.proof_bytes())
    for l in range(1, run["c"].layers + 1):
        assert np.array_equal(wit1[f"W{l}.T"], run["witness"][f"W{l}.T"])
        assert np.array_equal(wit1[f"VW{l}.T"], run["witness"][f"VW{l}.T"])


# --- soundness: another optimizer than the recipe's ---------------------------------------------


def test_step_on_another_steps_gradient_is_rejected(run):
    """Step 2's LAMB step (moments, trust ratio, dP) runs on step 1's folded gradient of W_2
    (the moments of another step's gradient); the gadget is honest for the gradient it claims,
    which the gradient functional of phase 2 ties to G_Z^T A of step 2, and fails."""
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"], stale((1, "GW2"), (2, "GW2")))
    assert not np.array_equal(witness["W2.T"], run["witness"]["W2.T"])
    _rejected(run, _cheat(run, witness), _fails(run, "phase-2"))


def test_update_other_than_the_proven_step_is_rejected(run, monkeypatch):
    """The weights move by dP + 1 at one entry of W_1 each step, while the step gadget proves
    its own trajectory from W_0 (every gadget relation holds): the walk's weights are
    W_0 - sum dP of the committed steps, so the claims of phase 1 on W_1 (the forward pass,
    and W_T) do not reduce, and phase 1's batched sumcheck fails on W_T."""
    real_update, real_witness = pt.lamb_update, pt.lamb_step_witness

    def update(c, w, b, grads, moments, lr, emit, step):
        new_w, new_b, out = real_update(c, w, b, grads, moments, lr, emit, step)
        new_w[0] = new_w[0].copy()
        new_w[0][0, 0] -= 1
        return new_w, new_b, out

    def witness_from_w0(gadget, P, G, M0, V0):
        return real_witness(gadget, np.asarray(P).reshape(gadget.steps, -1)[0], G, M0, V0)

    monkeypatch.setattr(pt, "lamb_update", update)
    monkeypatch.setattr(pt, "lamb_step_witness", witness_from_w0)
    d = run
    witness = mlp_witness(run["c"], d["x"], d["y"], d["w0"], d["b0"])
    assert witness["W1.T"][0, 0] != run["witness"]["W1.T"][0, 0]
    _rejected(run, _cheat(run, witness), _fails(run, "phase-1"))


def test_update_by_another_dp_than_the_committed_is_rejected(run, monkeypatch):
    """The gadget proves every step on the walk's own weights (its P is W_t at each step and its
    dP that W_t's honest step: every gadget relation holds, the gadget alone does not chain the
    steps), but the walk applies dP' = dP + 1 at one entry of W_1 on each real step and its
    update sumchecks read dP'. W_t = W_0 - sum dP' holds, so phases 1 and 2 pass; only the tie
    of every claim on dP to the committed dP's slots (``LambStep.settle``) rejects."""
    from verifier import optimizers as vopt

    c = run["c"]
    g = c.lamb_step("W", 1)
    real_update, real_witness, real_reduction = pt.lamb_update, pt.lamb_step_witness, vopt.LambStep.update

    def update(c_, w, b, grads, moments, lr, emit, step):
        new_w, new_b, out = real_update(c_, w, b, grads, moments, lr, emit, step)
        if step < c.steps:
            new_w[0] = new_w[0].copy()
            new_w[0][0, 0] -= 1
        return new_w, new_b, out

    def per_step(gadget, P, G, M0, V0):
        """Each step's witness on the stacked weights as they are (one-step gadgets at t), stacked."""
        if gadget.name != g.name:
            return real_witness(gadget, P, G, M0, V0)
        T, n = gadget.steps, 1 << gadget.param_vars
        P, G = np.asarray(P, dtype=object).reshape(T, n), np.asarray(G, dtype=object).reshape(T, n)
        rows, m, v = [], M0, V0
        for t in range(T):
            one = dataclasses.replace(gadget, step_vars=0, lr=(gadget.lr[t],), first_step=gadget.first_step + t)
            rows.append(real_witness(one, P[t], G[t : t + 1], m, v))
            m, v = rows[-1][one.t("M")][0], rows[-1][one.t("V")][0]
        out = {key: np.concatenate([np.asarray(r[key]) for r in rows]) for key in rows[0]}
        out[g.t("M0")], out[g.t("V0")] = rows[0][g.t("M0")], rows[0][g.t("V0")]
        cheat = np.array(out[g.t("dP")], dtype=object)
        cheat[: c.steps, 0] += 1
        out[g.t("dPcheat")] = cheat
        return out

    def reading_the_cheat(self, walk, kind, layer, name, value, kappa, point):
        red = real_reduction(self, walk, kind, layer, name, value, kappa, point)
        if (kind, layer) == ("W", 1):  # the prover's table; the verifier ignores it
            red.tables[0][1] = Table("bind", (g.t("dPcheat"), 1, tuple(point)))
        return red

    monkeypatch.setattr(pt, "lamb_update", update)
    monkeypatch.setattr(pt, "lamb_step_witness", per_step)
    monkeypatch.setattr(vopt.LambStep, "update", reading_the_cheat)
    d = run
    witness = mlp_witness(c, d["x"], d["y"], d["w0"], d["b0"])
    assert witness["W1.T"][0, 0] != run["witness"]["W1.T"][0, 0]
    _rejected(run, _cheat(run, witness), r"^lambW1\.dP\.slots: slots do not recompose to the claimed value$")


def test_first_segment_moments_must_start_at_zero(run):
    """A prover whose first segment starts from nonzero moments (a run resumed from a state
    the statement does not have: the honest run's last moments) is rejected by the walk's zero check on M0 (V0 alike)."""
    d, c, honest = run, run["c"], run["witness"]
    moments = [tuple((honest[f"M{kind}{l}.T"], honest[f"V{kind}{l}.T"]) for kind in ("W", "b")) for l in (1, 2)]
    witness = mlp_witness(c, d["x"], d["y"], d["w0"], d["b0"], buf0=moments)
    _rejected(run, _cheat(run, witness), r"^lamb: the first segment's moments MW1 do not start at zero$")


def test_checkpoint_of_a_padded_step_is_rejected(run):
    """The published first moment is the one after the last *padded* step (the recurrence runs
    on there): the walk reads the moments' slots at the last real step, which do not recompose
    to the claimed M~_T."""
    witness = dict(run["witness"])
    gadget = run["c"].lamb_step("W", 1)
    witness["MW1.T"] = np.asarray(witness[gadget.t("M")][-1], dtype=np.int64).reshape(witness["MW1.T"].shape)
    assert not np.array_equal(witness["MW1.T"], run["witness"]["MW1.T"])
    _rejected(run, _cheat(run, witness), r"^lambW1\.M\.slots: slots do not recompose to the claimed value$")


def test_second_segment_restarting_the_bias_corrections_is_rejected(run):
    """The second segment proven with LAMB's t counted from 1 again (bias correction restarted,
    i.e. at full strength where it should have decayed): the gadget's public tables A_t, B_t are
    the verifier's, from the segment's place in the run, and its per-entry zero-check (batched
    with the per-step one in the phase ``lamb:lambW1``) fails."""
    first, wit0, channel = _first_segment(run)
    second, _, start = _second_segment(run, wit0, channel)
    _, wit1, _ = _second_segment(run, wit0, channel, first_step=0)
    cheat = run["reckless"](second, wit1, run["backend"], channel.checkpoint(), random.Random(4))
    _RecklessWalk(second, cheat).run()
    _rejected(run, ({**cheat.public, **start}, cheat.proof_bytes()), _fails(run, r"lamb:lambW1"),
              statement=second)


def test_second_segment_from_other_moments_is_rejected(run):
    """The second segment starts from zero moments while the first's checkpoint holds nonzero
    ones: the claims on M*{l}.0 are opened against the first segment's commitments and fail."""
    first, wit0, channel = _first_segment(run)
    second, _, start = _second_segment(run, wit0, channel)
    zeroed = {k: np.zeros_like(v) if k.startswith(("MW", "Mb", "VW", "Vb")) and k.endswith(".T") else v
              for k, v in wit0.items()}
    _, wit1, _ = _second_segment(run, zeroed, channel)
    cheat = run["reckless"](second, wit1, run["backend"], channel.checkpoint(), random.Random(4))
    _RecklessWalk(second, cheat).run()
    opening = {"clear": r"^hyrax opening: <t, R> differs from the claimed value$",
               "zk": r"^inner-product argument: final check fails$"}[run["mode"]]
    _rejected(run, ({**cheat.public, **start}, cheat.proof_bytes()), opening, statement=second)


def test_proof_against_other_betas_is_rejected(run):
    """The honest proof checked against a statement whose recipe says 1 - b1 = 207/2^11 (the
    same proof layout): the circuit is in the transcript and b1 is in the gadget's (M), whose
    zero-check (phase ``lamb:lambW1``) is the first to fail."""
    other = dataclasses.replace(run["statement"], circuit=_circuit(betas=((207, 11), LAMB["betas"][1])))
    _rejected(run, (run["public"], run["proof"]), _fails(run, r"lamb:lambW1"), statement=other)


def test_zk_proof_reveals_no_trust_ratio_norm_or_moment(run):
    """In zero knowledge the optimizer's state stays hidden: no trust ratio, squared norm or
    moment entry of the witness appears in the proof as a field element; in the clear mode the
    same search finds some (a positive control: the search can succeed)."""
    c, wit = run["c"], run["witness"]
    values = []
    for kind, l in c.parameter_tensors():
        gadget = c.lamb_step(kind, l)
        values += [np.asarray(wit[gadget.t(x)]).reshape(-1) for x in ("phi", "NP", "NU", "M", "V")]
    encodings = {field.to_bytes(int(v) % R) for a in values for v in a if int(v) % R}
    assert len(encodings) > 50  # not vacuous
    found = {e for e in encodings if e in run["proof"]}
    if run["mode"] == "zk":
        assert not found
    else:
        assert found


@pytest.mark.parametrize("where", ["entries", "norms"])
def test_step_on_other_weights_than_the_walks_is_rejected(run, monkeypatch, where):
    """The gadget's P is not the walk's W_1 at one entry of step 0 (W + 1), in the per-entry
    zero-check (the decay term of (D): rd absorbs the change, dP and so the whole run stay the
    honest ones) or in the norm sumcheck (N_P, N_U and the fused rounding's slacks follow; phi
    stays the rounding of the changed norms). Every gadget relation holds; only the gadget's
    claim on P at that sumcheck's point, reduced against W_0 - sum dP in phase 2, catches it:
    each of the two claims is needed (deleting either lets its case through)."""
    import verifier.lamb_step as vls
    from prover.logup import multiplicities
    from verifier.training import logup_statement
    from verifier.zero_check import ZeroTable

    c, honest = run["c"], run["witness"]
    g = c.lamb_step("W", 1)
    cheat = "lambW1.Pcheat"
    wit = dict(honest)
    p = np.array(honest[g.t("P")], dtype=object)
    p[0, 0] += 1
    wit[cheat] = p
    if where == "entries":  # 2^kd dP + rd = inv_c Lphi (c1 r_q + ln P): rd absorbs ln inv_c Lphi
        rd = np.array(honest[g.t("rd")], dtype=object)
        rd[0, 0] += g.ln * g.spec.inv_c * honest[g.t("Lphi")][0]
        wit[g.t("rd")], wit[g.slots("rd")] = rd, g.slot_decomposition("rd").decompose(rd.reshape(-1), "rd")
        real = vls.entry_tables

        def tables(gadget):
            return [ZeroTable(t.name, Table("flat", (cheat,)), t.point, t.public) if gadget.name == g.name and t.name == g.t("P")
                    else t for t in real(gadget)]

        monkeypatch.setattr(vls, "entry_tables", tables)
    else:  # the norms of the changed tensor, and the slacks of the same phi for them
        u = g.c1 * np.array(honest[g.t("rq")][0], dtype=object) + g.ln * p[0]
        n_p, n_u = int((p[0] * p[0]).sum()), int((u * u).sum())
        phi = honest[g.t("phi")][0]
        zs = n_p << g.z_shift
        for name, value in (("NP", n_p), ("NU", n_u), ("NUs", n_u), ("lo", 4 * zs - (2 * phi - 1) ** 2 * n_u),
                            ("hi", (2 * phi + 1) ** 2 * n_u - 4 * zs - 1)):
            column = np.array(honest[g.t(name)], dtype=object)
            column[0] = value
            wit[g.t(name)] = column
            if name in g.STEP_SLOTS:
                wit[g.slots(name)] = g.slot_decomposition(name).decompose(column, name)
        real = vls.norms_reduction

        def norms(gadget, *args):
            red = real(gadget, *args)
            if gadget.name == g.name:
                red.tables[0][2] = Table("flat", (cheat,))
            return red

        monkeypatch.setattr(vls, "norms_reduction", norms)
    wit.update(multiplicities(logup_statement(c), wit))
    _rejected(run, _cheat(run, wit), _fails(run, "phase-2"))


def test_lamb_relations_open_their_transcript_domain(run, monkeypatch):
    """The LAMB module's part of phase A opens with its own domain label, after the walk's
    final-weights points and before the first gadget's first challenge: an accepted proof passed
    it, so a proof made without it (or with another module's) is not this one."""
    seen = transcript_labels(monkeypatch)
    run["verify"](run["statement"], run["public"], run["proof"])
    i = seen.index(b"lamb")
    assert b"final-weights-point" in seen[:i] and seen[i + 1] == b"lamb-w"
