"""Proofs of softmax cross-entropy training, end to end, in both modes and with both range
gadgets (issue 15 items 2 and 5; ``docs/cross_entropy_proof.md``; ``verifier/losses.py``).

The tiny MLP of ``tests/test_training_proof.py`` (4 -> 8 -> 3, batch 4, 3 steps padded to 4, 3
classes padded to 4) trained on the cross-entropy loss: the walk is the same, the loss module
adds the softmax's tensors, gadgets and lookups. The honest run verifies in each mode and gadget
(and once through ``prove_run`` / ``verify_bundle``); each soundness case is a cheating prover
(the malicious-prover hook of ``prover.training.exact_step``, whose later tensors follow the
edit, or a channel that lies) proven against the honest run's published data, and asserts the
rejection of the one check meant for it (DESIGN section 10): a regression that rejects for
another reason fails the case. A cheating witness keeps the rest consistent: its logUp
multiplicities count the slots and pairs that are in their tables (``_cheat_counts``), and its
division slots recompose whatever values it holds (``_cheat_slots``), so that only the check
the case is about stands in the way.
"""

from __future__ import annotations

import random
import re

import numpy as np
import pytest
from click.testing import CliRunner
from tiny_run import tiny_run

from circuits.mlp import MlpCircuit
from prover import losses as prover_losses
from prover.backends import get_backend
from prover.commit import hyrax
from prover.logup import slot_matrix
from prover.training import ProverChannel, commit_tensor, mlp_witness
from prover.zk_training import ZkProverChannel
from verifier.bundle import verify_bundle
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.logup import function_multiplicity_name, multiplicity_name
from verifier.polynomial import eq_eval
from verifier.training import (
    TrainingStatement,
    TrainingWalk,
    verify_training,
)
from verifier.zk_training import verify_training_zk
from zktrain.cli import main
from zktrain.prove import prove_run
from zktrain.run_config import parse_run

LR = (3, 2, 1)
GADGETS = ("limbs", "bits")
UNIT = 1 << 16  # 2^R


def _circuit(gadget="limbs", loss="cross_entropy") -> MlpCircuit:
    return MlpCircuit(widths=(4, 8, 3), batch=4, steps=3, lr=LR, range_check=gadget, limb_bits=8, loss=loss)


class _RecklessWalk(TrainingWalk):
    """A prover that skips the walk's own checks and sends its messages regardless."""

    def _require(self, ok, reason):
        pass


MODES = {
    "clear": dict(mode="clear", channel=ProverChannel, verify=verify_training),
    "zk": dict(mode="zk", channel=ZkProverChannel, verify=verify_training_zk),
}


# --- a cheating prover's tools ------------------------------------------------------------


def _cheat_counts(statement, witness):
    """The cheater's best multiplicities: every slot in its table and every pair that is a row
    of its function table is counted; the rest (what no honest prover commits) is left out."""
    counts = {multiplicity_name(b): np.zeros(1 << b, dtype=np.int64) for b in statement.table_bits()}
    for t in statement.tensors:
        slots = slot_matrix(t, witness[t.name])
        for i, b in enumerate(t.slot_tags()):
            col = slots[:, i]
            col = col[(col >= 0) & (col < 1 << b)]
            if b:
                counts[multiplicity_name(b)] += np.bincount(col, minlength=1 << b)
    for table in statement.function_tables():
        counts[function_multiplicity_name(table)] = np.zeros(1 << table.index_bits, dtype=np.int64)
    for lk in statement.lookups:
        m = counts[function_multiplicity_name(lk.table)]
        for x, y in zip(np.asarray(witness[lk.input]).reshape(-1), np.asarray(witness[lk.output]).reshape(-1)):
            if 0 <= x < 1 << 16 and lk.table.outputs[int(x)] == y:
                m[int(x)] += 1
    return counts


def _tolerant(dec, values) -> np.ndarray:
    """Slots that recompose ``values`` even outside the range: the in-range part decomposed, the
    excess added to slot 0 (weight 1), which then lies outside its table (limbs) or is no bit."""
    v = np.asarray(values, dtype=object)
    lo = dec.offset - ((1 << (dec.width - 1)) if dec.signed else 0)
    hi = dec.offset + ((1 << (dec.width - 1)) - 1 if dec.signed else (1 << dec.width) - 1)
    inside = np.clip(v, lo, hi).astype(np.int64)
    slots = dec.decompose(inside).astype(np.int64)
    slots[..., 0] += (v - inside).astype(np.int64)
    return slots


def _cheat_slots(c, wit):
    """The division's slots of whatever p, r', S the witness holds (``prover.losses.ce_slots``,
    without its refusal of out-of-range values)."""
    div = c.loss_circuit().division
    d, r = np.asarray(wit[div.d], dtype=np.int64), np.asarray(wit[div.r], dtype=np.int64)
    return {
        div.slots("q"): _tolerant(div.q_slots(), wit[div.q]),
        div.slots("r"): _tolerant(div.r_slots(), r),
        div.slots("u"): _tolerant(div.u_slots(), 2 * d[..., None] - 1 - r),
        div.slots("d"): _tolerant(div.d_slots(), d),
    }


# --- the honest run, proven in each mode ------------------------------------------------


@pytest.fixture(scope="module", params=GADGETS)
def honest(request):
    c = _circuit(request.param)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 1 << 16, size=(3, 4, 4))
    y = np.zeros((3, 4, 3), dtype=np.int64)
    y[np.arange(3)[:, None], np.arange(4)[None, :], rng.integers(0, 3, size=(3, 4))] = UNIT
    # Weights of a few units (2^49, 2^51 at scale 2^48): peaked logits, a softmax far from uniform.
    w0 = (rng.integers(-(1 << 49), 1 << 49, size=(8, 4)), rng.integers(-(1 << 51), 1 << 51, size=(3, 8)))
    b0 = (rng.integers(-(1 << 40), 1 << 40, size=8), rng.integers(-(1 << 40), 1 << 40, size=3))
    statement = TrainingStatement(c, b'{"run":"tiny-ce"}', w0, b0)
    witness = mlp_witness(c, x, y, w0, b0)
    published = {n: commit_tensor(statement, n, witness[n], random.Random(0)) for n in statement.public_tensors()}
    return dict(c=c, x=x, y=y, w0=w0, b0=b0, statement=statement, witness=witness, published=published,
                backend=get_backend("cpu"))


def _prove(run, witness, published=None, channel_type=None, walk=TrainingWalk):
    channel = (channel_type or run["channel"])(run["statement"], witness, run["backend"], published, random.Random(1))
    walk(run["statement"], channel).run()
    return channel.public, channel.proof_bytes()


@pytest.fixture(scope="module")
def runs(honest):
    out = {}
    for mode, spec in MODES.items():
        run = dict(honest, **spec)
        public, proof = _prove(run, honest["witness"], honest["published"])
        out[mode] = dict(run, public=public, proof=proof)
    return out


@pytest.fixture(scope="module", params=list(MODES))
def run(request, runs):
    return runs[request.param]


def _hooked(run, step, edit, y=None, monkeypatch=None):
    """The witness whose step ``step`` passes every tensor through ``edit(name, value, seen)``
    (later tensors follow the edit), with the cheater's counts and, given ``monkeypatch``, its
    division slots."""
    if monkeypatch is not None:
        monkeypatch.setitem(prover_losses.SLOTS, "cross_entropy", _cheat_slots)

    def hook(t):
        if t != step:
            return None
        seen: dict = {}

        def h(name, value):
            seen[name] = edit(name, value.copy(), seen)
            return seen[name]

        return h

    return mlp_witness(run["c"], run["x"], run["y"] if y is None else y, run["w0"], run["b0"], hook,
                       counts=_cheat_counts)


def _cheat(run, witness, channel_type=None, walk=TrainingWalk, own_data=False):
    """Prove a deviating witness: the published data (unless the cheat is in the data itself),
    the final weights the cheating run ends with."""
    published = {}
    for name in run["statement"].public_tensors():
        if name in run["c"].data_tensors() and not own_data:
            witness[name] = run["witness"][name]
            published[name] = run["published"][name]
        else:
            published[name] = commit_tensor(run["statement"], name, witness[name])
    return _prove(run, witness, published, channel_type, walk)


def _rejected(run, public_and_proof, match):
    assert isinstance(match, str) and match, "a soundness case names the check that rejects it"
    public, proof = public_and_proof
    with pytest.raises(VerifyError, match=match):
        run["verify"](run["statement"], public, proof)


_SUMCHECK_ROUND = {
    "clear": r"sumcheck round \d+: p\(0\) \+ p\(1\) does not match the claim",
    "zk": r"zk sumcheck round \d+: proof of dot product",
}
_LOGUP_TOP = {
    "clear": r"^logup-top: sumcheck: final evaluations do not match the last round polynomial",
    "zk": r"^logup-top: proof of equality",
}


def _phase_fails(run, label: str) -> str:
    return rf"^{re.escape(label)}: {_SUMCHECK_ROUND[run['mode']]}"


def _lookup_fails(run) -> str:
    """A pair that is no row of its function table (or an index outside it): the logUp sum,
    whose top tree's first step fails (both range gadgets: the lookups are logUp either way)."""
    return _LOGUP_TOP[run["mode"]]


def _range_check_fails(run) -> str:
    """A slot outside its range: the logUp sum (limbs) or the bits' booleanity (phase 1)."""
    return _lookup_fails(run) if run["c"].range_check == "limbs" else _phase_fails(run, "phase-1")


def _entry(run):
    """A real (step 0) logit entry (b, j) whose row sum S < 2^33 (so 4 S - 1 fits r' and u's
    w_S + 1 bits: a quotient cheat leaves only the one slot it means out of range)."""
    s = run["witness"]["ce.div.d"][0]
    b = int(np.argmax(s < 1 << 33))
    assert s[b] < 1 << 33
    return b, 0


# --- completeness ---------------------------------------------------------------------------


def test_honest_ce_proof_verifies(run):
    run["verify"](run["statement"], run["public"], run["proof"])


def test_loss_module_separates_its_transcript_domain(run, monkeypatch):
    """The cross-entropy module's part of the transcript opens with its own domain label, after
    phase 3 and before its first challenge (the division's): an accepted proof passed it."""
    from verifier.transcript import Transcript

    seen = []
    separate = Transcript.domain_separate
    monkeypatch.setattr(Transcript, "domain_separate", lambda t, label: (seen.append(label), separate(t, label))[1])
    run["verify"](run["statement"], run["public"], run["proof"])
    i = seen.index(b"loss:cross-entropy")
    assert b"phase-3" in seen[:i] and seen[i + 1] == b"division:ce.div"


def test_masked_product_needs_the_division_claims_row_point(honest):
    """The masked product takes n~ and S~ at one row point (the division's zero-check point
    gives both); claims at two row points are a caller's bug, refused before any reduction."""
    from circuits.loss import loss_circuit
    from verifier.claims import Claim
    from verifier.losses import masked_product_reduction

    lc = loss_circuit(honest["c"])
    s_point = tuple(7 + i for i in range(lc.rows_vars))
    n_claim = Claim("n", tuple(range(lc.cols_vars)) + s_point[:-1] + (99,), 0)
    with pytest.raises(AssertionError, match="share their row point"):
        masked_product_reduction(lc, n_claim, Claim("S", s_point, 0), 3)


def test_witness_is_the_engine_semantics(honest):
    """The prover's softmax tensors are ``circuits.softmax``'s on the stacked logits, with the
    forced padding (p = 0 on the padded class) and G_out = p - Y."""
    from circuits.softmax import softmax_ce

    c, wit = honest["c"], honest["witness"]
    sizing = c.loss_circuit().sizing
    for t in range(c.steps):
        z = np.asarray(wit["ZP2"][t], dtype=np.int64)
        ref = softmax_ce(z, np.asarray(wit["Y"][t], dtype=np.int64), sizing)
        assert (wit["ce.div.q"][t] == ref.prob).all() and (wit["GZ2"][t] == ref.gradient).all()
        assert (wit["ce.div.d"][t] == ref.total).all() and not wit["ce.div.q"][t][:, 3].any()


@pytest.mark.parametrize("zk", [False, True], ids=["clear", "zk"])
def test_prove_run_and_verify_bundle(zk):
    """``zktrain prove`` on a cross-entropy run file (engine trace, StepTrace.softmax, padded
    steps on zero labels) and ``verify_bundle``; the recipe in the bundle says cross_entropy."""
    cfg = tiny_run({"zk": zk}, name="tiny-ce")
    cfg["train"]["loss"] = "cross_entropy"
    run = parse_run(cfg)
    assert run.recipe.train.loss == "cross_entropy"
    bundle, _ = prove_run(run)
    report = verify_bundle(bundle)
    assert report.accepted, report.reason
    assert b'"loss":"cross_entropy"' in bundle


def test_inspect_names_the_loss(tmp_path):
    cfg = tiny_run({"zk": False}, name="tiny-ce")
    cfg["train"]["loss"] = "cross_entropy"
    bundle, _ = prove_run(parse_run(cfg))
    (tmp_path / "ce.zkp").write_bytes(bundle)
    result = CliRunner().invoke(main, ["inspect", str(tmp_path / "ce.zkp")])
    assert result.exit_code == 0 and "training    SGD on softmax cross-entropy, batch 8" in result.output, result.output


def test_the_loss_is_part_of_the_statement(honest):
    """The CE proof checked as an MSE statement (same recipe bytes, the circuit's loss changed):
    rejected; the circuit's encoding, absorbed first, differs, and MSE's has no loss key (MSE
    proofs keep their bytes)."""
    ce, mse = honest["c"], _circuit(honest["c"].range_check, "mse")
    assert b'"loss":"cross_entropy"' in ce.encode() and b"loss" not in mse.encode()
    run = dict(honest, **MODES["clear"])
    public, proof = _prove(run, honest["witness"], honest["published"])
    statement = TrainingStatement(mse, b'{"run":"tiny-ce"}', honest["w0"], honest["b0"])
    with pytest.raises(VerifyError):
        verify_training(statement, public, proof)


# --- soundness: issue 15 item 5 ----------------------------------------------------------------


def test_wrong_argmax_one_hot_rejected(run):
    """e's 1 at a class that is not the max (m = the logit there follows): the gap at the true
    max is negative, so its top index z1 is no row of E1: the exp lookup (rowmax (d)'s gap is
    z0 + 2^16 z1)."""
    z = run["witness"]["ZP2"][0]

    def edit(name, v, seen):
        if name == "ce.max.e":
            b = 0
            other = int(np.argmin(np.asarray(z[b, :3], dtype=np.int64)))
            v[b, :] = 0
            v[b, other] = 1
        return v

    wit = _hooked(run, 0, edit)
    assert (np.asarray(wit["ce.z1"][0], dtype=np.int64) < 0).any()
    _rejected(run, _cheat(run, wit), _lookup_fails(run))


@pytest.mark.parametrize("delta", [1, -1], ids=["above", "below"])
def test_shift_not_the_max_rejected(run, delta):
    """m sent as the max + 1 (every gap >= 1, in range) or - 1: rowmax (c), m = sum_j e z."""

    def edit(name, v, seen):
        if name == "ce.max.m":
            v[0] += delta
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)), _phase_fails(run, "rowmax:ce.max:max"))


def test_exp_value_off_by_one_rejected(run):
    """e0 = E0[z0] + 1 at one logit (P, S, p, r' follow): the E0 function lookup."""

    def edit(name, v, seen):
        if name == "ce.e0":
            v[1, 0] += 1
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)), _lookup_fails(run))


def test_division_remainder_not_below_divisor_rejected(run, monkeypatch):
    """(p - 1, r' + 2S): 2 p S + r' = 2^(R+1) n + S still holds, r' >= 2S: RC(u), u = 2S - 1 - r'
    negative (its slot 0 outside its table, or no bit)."""
    b, j = _entry(run)

    def edit(name, v, seen):
        if name == "ce.div.q":
            v[b, j] -= 1
        return v

    wit = _hooked(run, 0, edit, monkeypatch=monkeypatch)
    div = run["c"].loss_circuit().division
    assert wit[div.r][0, b, j] >= 2 * wit[div.d][0, b]
    _rejected(run, _cheat(run, wit), _range_check_fails(run))


def test_quotient_off_by_one_with_compensating_remainder_rejected(run, monkeypatch):
    """(p + 1, r' - 2S): the identity holds, r' < 0: RC(r')."""
    b, j = _entry(run)

    def edit(name, v, seen):
        if name == "ce.div.q":
            v[b, j] += 1
        return v

    wit = _hooked(run, 0, edit, monkeypatch=monkeypatch)
    assert wit["ce.div.r"][0, b, j] < 0
    _rejected(run, _cheat(run, wit), _range_check_fails(run))


def test_mse_loss_gradient_in_a_cross_entropy_run_rejected(run):
    """The recipe says cross-entropy, the prover trains with G_out = Z'_L - Y (the rest of the
    step follows): the loss module's phase-3 check."""

    def edit(name, v, seen):
        if name == "GZ2":
            return seen["ZP2"] - seen["Y"]
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit), walk=_RecklessWalk), r"^output gradient is not p - Y$")


def test_padded_class_with_nonzero_probability_rejected(run):
    """The numerator unmasked (n = e0 e1 on the padded class, whose gap is 0: n = 2^32), so S and
    p follow and p > 0 there: the masked product's claim on n."""

    def edit(name, v, seen):
        if name == "ce.n":
            return seen["ce.e0"] * seen["ce.e1"]
        return v

    wit = _hooked(run, 0, edit)
    assert wit["ce.div.q"][0][:, 3].all()
    _rejected(run, _cheat(run, wit, walk=_RecklessWalk), _phase_fails(run, "ce:product"))


def test_numerator_not_the_exp_product_rejected(run):
    """n = M e0 e1 + 2^20 at one real logit (S, p, r' follow, every range in place): only the
    masked product's claim on n sees it (a padded class is the case above; this one stays on
    the real classes, where no later step notices)."""

    def edit(name, v, seen):
        if name == "ce.n":
            v[0, 0] += 1 << 20
        return v

    _rejected(run, _cheat(run, _hooked(run, 0, edit)), _phase_fails(run, "ce:product"))


@pytest.mark.parametrize("part", ["e0", "e1"])
def test_masked_product_on_a_forged_factor_rejected(run, part):
    """The numerator edit above, but the masked product's sumcheck is run on a forged ``part``
    (one entry moved so that the sum is the claimed total): every round is consistent, and the
    sumcheck hands the walk a false claim on the committed ``part``, which the claims ledger
    rejects. Dropped from the reduction's ``finish`` (the mutation tool's ``claim`` operator),
    that claim would leave the forged factor unchecked and the false numerator through."""

    def edit(name, v, seen):
        if name == "ce.n":
            v[0, 0] += 1 << 20
        return v

    wit = _hooked(run, 0, edit)
    tensor = {"e0": "ce.e0", "e1": "ce.e1"}[part]
    other = {"e0": "ce.e1", "e1": "ce.e0"}[part]

    class Forging(run["channel"]):
        def _prove_phase(self, label, reductions):
            if label != b"ce:product":
                return super()._prove_phase(label, reductions)
            points, rho = reductions[0].tables[0][0].args
            weights = [sum(r * eq_eval(u, [(x >> k) & 1 for k in range(len(u))]) for r, u in zip(rho, points)) % R
                       for x in range(1 << len(points[0]))]
            f, g = (np.asarray(self.witness[t], dtype=object).reshape(-1) for t in (tensor, other))
            total = getattr(reductions[0].claims[0], "value", reductions[0].claims[0])
            gap = (total - sum(w * int(a) * int(b) for w, a, b in zip(weights, f, g))) % R
            x = next(i for i, (w, b) in enumerate(zip(weights, g)) if w and int(b) % R)
            forged = f.copy()
            forged[x] = (int(f[x]) + gap * pow(weights[x] * int(g[x]), -1, R)) % R
            honest = self.witness[tensor]
            self.witness[tensor] = forged.reshape(np.shape(honest))
            try:
                return super()._prove_phase(label, reductions)
            finally:
                self.witness[tensor] = honest

    _rejected(run, _cheat(run, wit, Forging), _phase_fails(run, "phase-ledger"))


def _labels(run, row):
    y = run["y"].copy()
    y[0, 0] = row
    return y


def test_soft_labels_rejected(run):
    """A label row (1/2, 1/2, 0): it sums to 2^R, but is not 0/1: the label booleanity."""
    y = _labels(run, [UNIT // 2, UNIT // 2, 0])
    _rejected(run, _cheat(run, _hooked(run, 0, lambda n, v, s: v, y=y), own_data=True),
              _phase_fails(run, "ce:labels"))


@pytest.mark.parametrize("row", [[UNIT, UNIT, 0], [0, 0, 0]], ids=["two-ones", "no-one"])
def test_labels_not_one_hot_rejected(run, row):
    """0/1 labels with two ones, or none, in a real row: the label row sum."""
    y = _labels(run, row)
    _rejected(run, _cheat(run, _hooked(run, 0, lambda n, v, s: v, y=y), walk=_RecklessWalk, own_data=True),
              r"^ce: a label row does not sum to 2\^R")


def test_label_booleanity_on_other_labels_rejected(run):
    """Soft labels committed, the booleanity sumcheck run on one-hot ones (the prover's table):
    its end claim is not the committed labels' value (the walk's tie to the data binding)."""
    soft = _labels(run, [UNIT // 2, UNIT // 2, 0])
    wit = _hooked(run, 0, lambda n, v, s: v, y=soft)
    shown = run["witness"]["Y"]

    class Lying(run["channel"]):
        def _tables(self):
            return {**super()._tables(), "Y": shown}

    _rejected(run, _cheat(run, wit, Lying, _RecklessWalk, own_data=True), r"^ce: the label booleanity claim is not the labels'$")


def test_softmax_of_other_logits_rejected(run):
    """The softmax run on logits other than the forward's Z'_L (one logit + 2^R, everything of
    the loss following them): rowmax's claims on the logits reach Z{L}'s committed slots, which
    recompose the forward's."""

    def edit(name, v, seen):
        if name == "ce.logits":
            v[0, 1] += UNIT
        return v

    check = rf"^{re.escape(run['c'].ranged('Z2'))}: slots do not recompose to the claimed value$"
    _rejected(run, _cheat(run, _hooked(run, 0, edit), walk=_RecklessWalk), check)


@pytest.mark.parametrize("liar", ["both", "z0", "z1"])
def test_gap_evaluations_not_the_committed_indices_rejected(run, liar):
    """A wrong argmax (e at a non-max class, m the logit there) whose rowmax (d) reads the gap
    m - z from evaluations of other limbs than the committed exp indices (which stay the honest,
    looked-up ones): the sent z0~, z1~ are ledger claims on ce.z0, ce.z1, reduced and opened
    with the rest (the ledger's batched sumcheck). The lie sits in both limbs, or in one alone
    (the other sent honestly, the lying one absorbing the whole difference): each limb's
    ledger claim is needed."""
    wit = dict(run["witness"])
    z = np.asarray(wit["ce.logits"], dtype=np.int64)
    a = int(np.argmin(z[0, 0, :3]))
    e, m = wit["ce.max.e"].copy(), wit["ce.max.m"].copy()
    e[0, 0, :], e[0, 0, a], m[0, 0] = 0, 1, z[0, 0, a]
    mask = (np.arange(4) < 3).astype(np.int64)
    gap = mask * (m[..., None] - z)
    wit["ce.max.e"], wit["ce.max.m"] = e, m
    shown = {"ce.z0": gap % (1 << 16), "ce.z1": gap // (1 << 16)}
    z0, z1 = (np.asarray(run["witness"][n], dtype=object) for n in ("ce.z0", "ce.z1"))
    if liar == "z0":  # z0~ + 2^16 z1~ is the lying gap with z1 honest
        shown = {"ce.z0": gap.astype(object) - (z1 << 16)}
    elif liar == "z1":  # ... with z0 honest: z1 = (gap - z0) / 2^16 in the field
        shown = {"ce.z1": (gap.astype(object) - z0) * pow(1 << 16, -1, R) % R}

    class Lying(run["channel"]):
        def evaluation(self, tensor, point):
            if tensor not in shown:  # lies once per tensor: rowmax (d), not the logUp pairs
                return super().evaluation(tensor, point)
            saved, self.witness[tensor] = self.witness[tensor], shown.pop(tensor)
            try:
                return super().evaluation(tensor, point)
            finally:
                self.witness[tensor] = saved

        def _open(self, tensor, point, value):
            if run["mode"] == "zk":
                return super()._open(tensor, point, value)
            return hyrax.open_clear(self._hyrax[tensor], point, self.transcript)[1]

    _rejected(run, _prove(run, wit, run["published"], Lying, _RecklessWalk), _phase_fails(run, "phase-ledger"))


def test_bound_data_and_segments(tmp_path):
    """Cross-entropy with public data (clear; the verifier evaluates the labels, the centre
    point included) and with a data owner's committed data (ZK, two segments: the label claims
    go through the selection sumcheck), through the CLI's ``export-data``, ``commit-data`` and
    ``prove``."""
    import yaml
    from click.testing import CliRunner

    from zktrain.cli import main

    def cfg(binding, zk=False, steps=None):
        out = tiny_run({"zk": zk, "segment_steps": steps}, name=f"tiny-ce-{binding}")
        out["train"]["loss"] = "cross_entropy"
        if binding == "committed":
            out["data"] = {"source": "npz", "path": str(tmp_path / "data.npz"), "binding": "committed",
                           "commitment": str(tmp_path / "data.commitment"), "opening": str(tmp_path / "data.opening")}
        else:
            out["data"] = {**out["data"], "binding": binding}
        return out

    runner = CliRunner()
    (tmp_path / "tiny.yaml").write_text(yaml.safe_dump(cfg("private")))
    for args in (["export-data", str(tmp_path / "tiny.yaml"), "--out", str(tmp_path / "data.npz")],
                 ["commit-data", str(tmp_path / "data.npz"), "--out", str(tmp_path / "data.commitment"),
                  "--opening", str(tmp_path / "data.opening")]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output
    for binding, zk, steps, artifact in (("public", False, None, {"dataset": tmp_path / "data.npz"}),
                                         ("committed", True, 2, {"data_commitment": tmp_path / "data.commitment"})):
        (tmp_path / f"{binding}.yaml").write_text(yaml.safe_dump(cfg(binding, zk, steps)))
        result = runner.invoke(main, ["prove", "--run", str(tmp_path / f"{binding}.yaml"),
                                      "--out", str(tmp_path / f"{binding}.zkp")])
        assert result.exit_code == 0, result.output
        report = verify_bundle((tmp_path / f"{binding}.zkp").read_bytes(), **artifact)
        assert report.accepted, report.reason
