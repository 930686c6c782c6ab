"""One Ghost BN layer in evaluation mode as a standalone gadget (``circuits/ghost_bn_eval.py``,
``verifier/ghost_bn_eval.py``, ``prover/ghost_bn_eval.py``; docs/ghost_bn.md section 4.2): the
witness against the semantics of ``circuits/ghost_bn.py`` (``forward_eval``) and the kernel, the
widths and relation bounds, completeness in both modes with both range gadgets, and one
cheating witness per attack, each rejected by the check named (and, in clear mode, accepted by
a verifier without that check where the check is the only one in the way).

The layout is [N, C] = [8, 4] rows by features, C low. Feature 0 is generic; feature 1 has a
tiny running variance (eps dominates its radicand) and samples near its running mean; feature
2 sits at the widths' ends (x at both Q-bit ends, RM near its lowest, RV = 2^64 - 1, the top of
its width); feature 3 has RV = 0 (rstd from eps alone) and every sample at its running mean
(X = 0, Y = beta: the feature the fraction cheats use).

The cheats are built by ``forward``: the layer recomputed on Python ints from the inputs with
some values replaced, every remainder and slack then solved from its identity (so every
identity holds) and every slots tensor forged to recompose to its value
(``nonlinear_harness.forge``): only the check the test names stands in the way.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, keep_value, prove, rejected, verify

from circuits.ghost_bn import GhostBnWidthError, forward_train, spec_from_float
from circuits.ghost_bn_eval import GhostBnEval
from circuits.semantics import MAX_RELATION_BITS, rescale
from circuits.sqrt import rsqrt_round
from prover.backends import get_backend
from prover.ghost_bn_eval import derived_tables, ghost_bn_eval_witness
from verifier import ghost_bn_eval as vge
from verifier.field import MODULUS as R
from verifier.ghost_bn_eval import ranged, verify_ghost_bn_eval
from verifier.walk import Walk
from zktrain.fixedpoint import ghost_bn as ker

SPEC = spec_from_float(8, 4, 0.1, 1e-5)
N, C = 8, 4
LIMB_BITS = 8
F_EPS, F_WIDE, F_FLAT = 1, 2, 3


def _inputs(seed=17):
    rng = random.Random(seed)
    Rb = SPEC.frac_bits
    rm = [rng.randrange(-(1 << 40), 1 << 40), 5000 << Rb, -(1 << 47) - 12345, 777 << Rb]
    rv = [rng.randrange(1 << 30, 1 << 34), 3, (1 << 64) - 1, 0]
    x = [[0] * C for _ in range(N)]
    for b in range(N):
        x[b][0] = rng.randrange(-(1 << 18), 1 << 18)
        x[b][F_EPS] = 5000 + rng.randrange(-60, 61)
        x[b][F_WIDE] = rng.choice((-(1 << 31), (1 << 31) - 1, rng.randrange(-(1 << 31), 1 << 31)))
        x[b][F_FLAT] = 777
    gamma = [2 * rng.randrange(1 << 46, 1 << 48) for _ in range(C)]
    beta = [rng.randrange(-(1 << 45), 1 << 45) for _ in range(C)]
    return x, gamma, beta, rm, rv


INPUTS = _inputs()


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _c(range_kind="bits", spec=SPEC, row_vars=3, feature_vars=2):
    return GhostBnEval("bn", spec, row_vars, feature_vars, None if range_kind == "bits" else LIMB_BITS)


def _kind(c):
    return "bits" if c.limb_bits is None else "limbs"


def _gadget(c):
    return lambda walk: verify_ghost_bn_eval(walk, c)


def _rejected(mode, c, witness, match):
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, match)


def _accepts(mode, c, witness, skip=()):
    return accepts(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, skip=skip)


def _proved(mode, c, witness):
    """The gadget's verified claims, the prover's claims and the truth (an honest-looking proof)."""
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness)
    return verify(mode, _gadget(c), ranged(c), _kind(c), proof), prover_claims, truth


# --- the layer recomputed, with cheats --------------------------------------------------------------


def _signed(v: int) -> int:
    v %= R
    return v - R if v > R // 2 else v


def forward(c, inputs=INPUTS, hooks=None):
    """The gadget's tables and slots from the semantics' equations on Python ints (module
    docstring of ``circuits/ghost_bn_eval.py``). ``hooks[(key, index)]`` replaces a value (a
    constant, or a function of the honest one): per feature (index f) Vy (the radicand y is
    computed from), y, t; per element (index (b, f)) X, Y. Remainders and slacks are solved from
    the identities with the tables' values; every value is then the signed representative mod r
    (a field fraction a hook puts in stays one)."""
    hooks = hooks or {}

    def h(key, index, honest):
        fn = hooks.get((key, index))
        return honest if fn is None else (fn(honest) if callable(fn) else fn)

    x, gamma, beta, rm, rv = inputs
    sp, r = c.spec, c.rsqrt
    Rb, S, a, hs, eps, c4 = sp.frac_bits, sp.param_shift, sp.eval_rsqrt_shift, sp.eval_xhat_shift, sp.eps_int, \
        r.four_c2
    el = {k: np.empty((N, C), dtype=object) for k in ("X", "rX", "Y", "rY")}
    ft = {k: np.empty(C, dtype=object) for k in ("y", "t", "lo", "hi")}
    for f in range(C):
        vv = rv[f] + eps
        y = h("y", f, rsqrt_round(h("Vy", f, vv), a))
        tt = h("t", f, y * y)
        ft["y"][f], ft["t"][f] = y, tt
        ft["lo"][f], ft["hi"][f] = c4 - (4 * tt - 4 * y + 1) * vv, (4 * tt + 4 * y + 1) * vv - c4 - 1
        for b in range(N):
            xc = (x[b][f] << Rb) - rm[f]
            xh = h("X", (b, f), rescale(xc * y, hs)[0])
            z = gamma[f] * xh + (beta[f] << Rb)
            out = h("Y", (b, f), rescale(z, S)[0])
            el["X"][b, f], el["rX"][b, f] = xh, xc * y - xh * (1 << hs)
            el["Y"][b, f], el["rY"][b, f] = out, z - out * (1 << S)
    out = {c.t(k): arr for k, arr in el.items()} | {getattr(r, k): arr for k, arr in ft.items()}
    signed = np.vectorize(_signed, otypes=[object])
    out = {k: signed(v) for k, v in out.items()}
    for name, arr, shape in (("x", x, (N, C)), ("Gamma", gamma, (C,)), ("beta", beta, (C,)), ("RM", rm, (C,)),
                             ("RV", rv, (C,))):
        out[c.t(name)] = np.array(arr, dtype=object).reshape(shape)
    return _finish(c, out)


def _finish(c, w):
    """w with the prover's copies and every slots tensor forged from the tables."""
    w = dict(w) | derived_tables(c, w)
    for value in c.ELEMENT_SLOTS:
        w[c.slots(value)] = forge(c.slot_decomposition(value), np.asarray(w[c.t(value)]).reshape(-1))
    r = c.rsqrt
    for value in ("y", "lo", "hi", "t"):
        w[r.slots(value)] = forge(getattr(r, f"{value}_slots")(), np.asarray(w[getattr(r, value)]).reshape(-1))
    return w


def violated(c, w) -> set[str]:
    """The identities that fail (mod r) somewhere in the witness's tables."""
    flat = {k: v for k, v in w.items() if "@" not in k}
    elem = flat | {n: w[vge.broadcast_name(n, vge.ROWS)] for n in vge.broadcast_tables(c)}
    out = {lab.split()[0] for lab, p in c.element_identities() if np.any(p.evaluate(elem) % R != 0)}
    return out | {lab.split()[0] for lab, p in c.feature_identities() if np.any(p.evaluate(flat) % R != 0)}


def _at(c, w, value, index):
    return int(np.asarray(w[value if "." in value else c.t(value)])[index])


def _out_of_range(c, w, value, index) -> bool:
    if value.startswith("rstd."):
        d = getattr(c.rsqrt, f"{value[5:]}_slots")()
        name = getattr(c.rsqrt, value[5:])
        off = 0
    else:
        d, name, off = c.slot_decomposition(value), c.t(value), 0
    v = int(np.asarray(w[name])[index]) + off
    return not d.min_value <= v <= d.max_value


def _slots_name(c, value):
    return c.rsqrt.slots(value[5:]) if value.startswith("rstd.") else c.slots(value)


def _honest_slots(c, w, value):
    """w with ``value``'s slots back to the honest witness's (its table keeps the cheat)."""
    name = _slots_name(c, value)
    return dict(w) | {name: forward(c)[name]}


# --- semantics, widths ------------------------------------------------------------------------------


def test_witness_is_the_semantics():
    """The prover's witness is ``forward`` (the equations on Python ints) table by table and the
    kernel (``zktrain.fixedpoint.ghost_bn.forward_eval``) entry by entry; every identity holds;
    the RV = 0 feature's rstd is eps's alone, with X = 0 and Y = beta; the eps feature's radicand
    is mostly eps; the wide feature's RV is the top of its width."""
    c = _c()
    w = ghost_bn_eval_witness(c, *INPUTS)
    ref = forward(c)
    for name, arr in ref.items():
        assert np.array_equal(np.asarray(w[name], dtype=object), np.asarray(arr, dtype=object)), name
    x, gamma, beta, rm, rv = (np.array(a, dtype=object) for a in INPUTS)
    ev = ker.forward_eval(SPEC, x, gamma, beta, rm, rv)
    for key, val in (("X", ev.xhat), ("rX", ev.xhat_rem), ("Y", ev.out), ("rY", ev.out_rem), ("y", ev.rstd)):
        name = c.rsqrt.y if key == "y" else c.t(key)
        assert np.asarray(w[name]).reshape(-1).tolist() == [int(v) for v in np.asarray(val).reshape(-1)], key
    assert violated(c, w) == set()
    assert _at(c, w, c.rsqrt.y, F_FLAT) == rsqrt_round(SPEC.eps_int, SPEC.eval_rsqrt_shift) == c.y_max
    assert set(w[c.t("X")][:, F_FLAT]) == {0} and set(w[c.t("Y")][:, F_FLAT]) == {rescale(beta[F_FLAT] << 16, 48)[0]}
    assert INPUTS[4][F_EPS] < SPEC.eps_int and INPUTS[4][F_WIDE] == (1 << c.rv_bits) - 1
    assert max(abs(int(v)) for v in w[c.t("X")].reshape(-1)) > 1 << 20  # far beyond training's |X| < 2^19


def test_widths_and_relation_bounds(monkeypatch):
    """Every identity below 2^250 at the declared widths; the defaults (Q 32, R 16, R_s 24, eps
    1e-5) pinned: X 42 bits (a sample 3 2^47 from its running mean over eps alone), the rsqrt
    on RV's 64 bits with 77-bit slacks, 12 limbs per element and 18 per feature (16-bit limbs),
    130 and 274 bits. At the spec's caps the largest identity is the rsqrt's 227 bits; the
    gadget's refusal is pinned at a lowered cap."""
    c = _c("limbs")
    assert max(c.relation_bounds().values()) <= MAX_RELATION_BITS
    wide = GhostBnEval("bn", spec_from_float(64, 32), 6, 7)
    assert wide.relation_bounds() == {"(X)": 89, "(Y)": 97, "(R) rsqrt": 147}
    assert (wide.xhat_bits, wide.rv_bits, wide.rsqrt.slack_bits, wide.rsqrt.shift) == (42, 64, 77, 40)
    assert (wide.slots_per_element(), wide.slots_per_feature()) == (12, 18)
    bits = GhostBnEval("bn", spec_from_float(64, 32), 6, 7, None)
    assert (bits.slots_per_element(), bits.slots_per_feature()) == (130, 274)
    assert len([x for x in ranged(c) if x[2] == c.element_vars]) == 3 and len(ranged(c)) == 7
    big = spec_from_float(64, 32, value_bits=48, weight_bits=62, lr_shift=32, rstd_bits=48)
    assert max(GhostBnEval("bn", big, 0, 3).relation_bounds().values()) == 227
    import circuits.semantics as semantics_module  # the gadgets' shared refusal reads its cap

    monkeypatch.setattr(semantics_module, "MAX_RELATION_BITS", 146)
    with pytest.raises(ValueError, match=r"identity \(R\) rsqrt could reach 2\^146 or more"):
        GhostBnEval("bn", spec_from_float(64, 32), 0, 7)


def test_witness_refuses_what_does_not_fit():
    """Inputs of the wrong shape, past their widths, or an output past Q bits (the semantics'
    own width errors)."""
    c = _c()
    x, gamma, beta, rm, rv = INPUTS
    with pytest.raises(ValueError, match=r"bn.x: expected shape \(8, 4\)"):
        ghost_bn_eval_witness(c, x[:4], gamma, beta, rm, rv)
    with pytest.raises(GhostBnWidthError, match="ghost BN gamma"):
        ghost_bn_eval_witness(c, x, [1 << 60] * C, beta, rm, rv)
    with pytest.raises(GhostBnWidthError, match="ghost BN running_var"):
        ghost_bn_eval_witness(c, x, gamma, beta, rm, [-1] * C)
    with pytest.raises(GhostBnWidthError, match="ghost BN out"):  # x far from RM over eps alone (RV = 0)
        ghost_bn_eval_witness(c, x, gamma, beta, rm, rv[:2] + [0, rv[3]])



def test_x_hat_at_its_width():
    """A sample at either Q-bit end with the running mean at the other end of its width and
    RV = 0 (rstd from eps alone): |X| > 2^40, within ``xhat_max`` (42 bits signed), the output
    beta's alone (Gamma = 0, else Y leaves Q bits); the witness decomposes and clear mode
    accepts."""
    c = _c()
    rm_top = 1 << (SPEC.widths()["running_mean"][0] - 1)
    x = [[-(1 << 31)] * 2 + [(1 << 31) - 1] * 2 for _ in range(N)]
    rm = [rm_top - 1, rm_top - 1, -rm_top, -rm_top]
    w = ghost_bn_eval_witness(c, x, [0] * C, [5 << 40] * C, rm, [0] * C)
    xs = [int(v) for v in w[c.t("X")].reshape(-1)]
    assert min(xs) < -(1 << 40) and max(xs) > 1 << 40 and max(abs(v) for v in xs) <= c.xhat_max
    assert c.xhat_max < 1 << (c.xhat_bits - 1)
    assert _accepts("clear", c, w)

# --- completeness ---------------------------------------------------------------------------------------


RETURNED = ("x", "Y", "Gamma", "beta", "RM", "RV")


def test_completeness(mode, range_kind):
    """The fixture (eps-dominated feature, width extremes, RV = 0): accepted, every claim true;
    the returned claims in their order, x and Y at one element point, Gamma, beta and RM at its
    features; every committed tensor has a claim in the ledger."""
    c = _c(range_kind)
    w = ghost_bn_eval_witness(c, *INPUTS)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, w)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:len(RETURNED)]] == [c.t(n) for n in RETURNED]
    e = tuple(claims[0].point)
    assert tuple(claims[1].point) == e and all(tuple(x.point) == e[:c.feature_vars] for x in claims[2:5])
    assert len(claims[5].point) == c.feature_vars
    assert set(c.committed_tensors()) <= {x.tensor for x in claims[len(RETURNED):]}


@pytest.mark.parametrize("shape", ["one row", "sixteen rows", "one feature"])
def test_completeness_other_shapes(mode, shape):
    """One row (no row variables: the element and feature points share their variables), 16
    rows, and a single feature (no feature variables: the feature zero-check has none)."""
    x, gamma, beta, rm, rv = INPUTS
    if shape == "one row":
        c, inputs = _c(row_vars=0), (x[:1], gamma, beta, rm, rv)
    elif shape == "sixteen rows":
        c, inputs = _c(row_vars=4), (x + [[v + 1 for v in row] for row in x], gamma, beta, rm, rv)
    else:
        c, inputs = _c(feature_vars=0), ([row[:1] for row in x], gamma[:1], beta[:1], rm[:1], rv[:1])
    assert _accepts(mode, c, ghost_bn_eval_witness(c, *inputs))


def _padded_inputs(real):
    x, gamma, beta, rm, rv = INPUTS
    return [row if b < real else [0] * C for b, row in enumerate(x)], gamma, beta, rm, rv


def test_completeness_with_padded_rows(mode, range_kind):
    """5 samples in 8 rows (a proof of inference's padding): the padded rows read RM and beta
    masked by [n < 5], so there X = Y = 0 and every remainder is 0; the returned claims on RM
    and beta are the tensors' own (the masked copies' claims divided by the predicate's MLE)."""
    c = GhostBnEval("bn", SPEC, 3, 2, None if range_kind == "bits" else LIMB_BITS, real_rows=5)
    w = ghost_bn_eval_witness(c, *_padded_inputs(5))
    assert not np.asarray(w[c.t("Y")])[5:].any() and not np.asarray(w[c.t("X")])[5:].any()
    assert np.asarray(w[c.t("Y")])[:5].any()
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, w)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)


def test_padded_rows_must_be_masked(mode):
    """A prover that reads RM and beta unmasked (its padded rows hold BN of a zero input, not
    zero): the gadget accepts its tables, but the claims it returns on RM and beta, divided by
    the predicate's MLE, are false against the tensors (the caller's opening rejects them)."""
    masked = GhostBnEval("bn", SPEC, 3, 2, None, real_rows=5)
    w = ghost_bn_eval_witness(_c(), *_padded_inputs(5))
    assert np.asarray(w[masked.t("Y")])[5:].any()
    assert not _accepts(mode, masked, w)


def test_padded_rows_of_the_inputs_must_be_zero():
    c = GhostBnEval("bn", SPEC, 3, 2, None, real_rows=5)
    with pytest.raises(ValueError, match=r"bn.x: a padded row \(n >= 5\) is not zero"):
        ghost_bn_eval_witness(c, *INPUTS)


# --- soundness -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("delta, caught", [(1, "lo"), (-1, "hi")])
def test_rstd_off_by_one(mode, delta, caught):
    """y + 1: lo < 0, RC(lo); y - 1: hi < 0, RC(hi); t = y^2, X and Y follow (every identity
    holds). A verifier without that range check accepts."""
    c = _c()
    w = forward(c, hooks={("y", 0): lambda y: y + delta})
    assert violated(c, w) == set() and _at(c, w, getattr(c.rsqrt, caught), 0) < 0
    assert w[c.t("Y")][0, 0] != forward(c)[c.t("Y")][0, 0]
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.rsqrt.slots(caught)})
    _rejected(mode, c, w, f"^range of bn.rstd.{caught}.slots: ")


def test_variance_without_eps(mode):
    """rstd of the eps feature computed from RV alone (RV + eps_int in the relation): y about
    120 times larger, lo = 4c^2 - (2y - 1)^2 V < 0: RC(lo)."""
    c = _c()
    honest = forward(c)
    w = forward(c, hooks={("Vy", F_EPS): lambda v: v - SPEC.eps_int})
    assert violated(c, w) == set() and _at(c, w, c.rsqrt.y, F_EPS) > 100 * _at(c, honest, c.rsqrt.y, F_EPS)
    assert _at(c, w, c.rsqrt.lo, F_EPS) < 0
    _rejected(mode, c, w, "^range of bn.rstd.lo.slots: ")


def _other_checkpoint():
    x, gamma, beta, rm, rv = INPUTS
    return [m + (1 << 30) for m in rm], [v // 2 for v in rv[:3]] + [1 << 20]


@pytest.mark.parametrize("stat", ["RM", "RV"])
@pytest.mark.parametrize("how", ["feature", "checkpoint"])
def test_statistics_of_another_feature_or_checkpoint(mode, stat, how):
    """The prover normalizes with RM (or RV) of another feature (features 0 and 1 swapped) or of
    another checkpoint (a moved RM, a halved RV): every identity and range holds, the gadget
    accepts, and its returned claim on RM (or RV) is false against the caller's committed
    tensor (its opening rejects); the output differs from the honest one."""
    c = _c()
    x, gamma, beta, rm, rv = INPUTS
    honest = {"RM": rm, "RV": rv}[stat]
    if how == "feature":
        cheat = [honest[1], honest[0]] + list(honest[2:])
    else:
        cheat = _other_checkpoint()[0 if stat == "RM" else 1]
    inputs = (x, gamma, beta, cheat, rv) if stat == "RM" else (x, gamma, beta, rm, cheat)
    w = forward(c, inputs)
    assert violated(c, w) == set() and not np.array_equal(w[c.t("Y")], forward(c)[c.t("Y")])
    claims, prover_claims, truth = _proved(mode, c, w)
    assert claims_true(mode, prover_claims, claims, truth) and claims[RETURNED.index(stat)].tensor == c.t(stat)
    truth[c.t(stat)] = np.array(honest, dtype=object)
    assert not claims_true(mode, prover_claims, claims, truth)


@pytest.mark.parametrize("value, delta, caught", [("X", 1, "rX"), ("X", -1, "rX"), ("Y", 1, "rY"), ("Y", -1, "rY")])
def test_output_off_by_one(mode, value, delta, caught):
    """X (Y following it) or Y moved by one at element (1, 0): the remainder solved from its
    identity leaves its range by 2^h (resp. 2^S): RC(rX) (resp. RC(rY)). A verifier without it
    accepts."""
    c = _c()
    w = forward(c, hooks={(value, (1, 0)): lambda v: v + delta})
    assert violated(c, w) == set() and _out_of_range(c, w, caught, (1, 0))
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.slots(caught)})
    _rejected(mode, c, w, f"^range of bn.{caught}.slots: ")


def _train_mode():
    """The rows' train-mode forward (one batch of N = 8 in ghost batches of v = 4, the same
    eps, R, R_s): X and Y from the batch statistics instead of the running ones."""
    x, gamma, beta, rm, rv = INPUTS
    return forward_train(SPEC, np.array(x, dtype=object), np.array(gamma, dtype=object),
                         np.array(beta, dtype=object))


@pytest.mark.parametrize("how, caught", [("X and Y", "rX"), ("Y", "rY")])
def test_output_from_batch_statistics(mode, how, caught):
    """Y computed in training mode (the batch's mean and variance) while the tables hold the
    checkpoint's RM, RV and their rstd: with X the train-mode x_hat too, rX = (2^R x - RM) y -
    2^h X leaves its range, RC(rX); with X honest and Y alone from training, RC(rY)."""
    c = _c()
    tr = _train_mode()
    hooks = {("Y", (b, f)): int(tr.out[b, f]) for b in range(N) for f in range(C)}
    if how == "X and Y":
        hooks |= {("X", (b, f)): int(tr.xhat[b, f]) for b in range(N) for f in range(C)}
    w = forward(c, hooks=hooks)
    assert violated(c, w) == set() and not np.array_equal(w[c.t("Y")], forward(c)[c.t("Y")])
    assert any(_out_of_range(c, w, caught, (b, f)) for b in range(N) for f in range(C))
    _rejected(mode, c, w, f"^range of bn.{caught}.slots: ")


def test_batch_statistics_as_the_checkpoint(mode):
    """The consistent version: the prover proves eval mode with the batch's own statistics as
    RM, RV (the mean 2^(R-n) S1 and the biased variance D / v^2 at 2^(2R), v = N): every
    identity and range holds and the gadget accepts, but the returned claims on RM and RV are
    false against the caller's committed checkpoint."""
    c = _c()
    x, gamma, beta, rm, rv = INPUTS
    cols = np.array(x, dtype=object)
    s1, s2 = cols.sum(axis=0), (cols * cols).sum(axis=0)
    n = N.bit_length() - 1
    batch_rm = [int(v) << (SPEC.frac_bits - n) for v in s1]
    batch_rv = [int(N * b - a * a) >> (2 * n) for a, b in zip(s1, s2)]
    w = ghost_bn_eval_witness(c, x, gamma, beta, batch_rm, batch_rv)
    claims, prover_claims, truth = _proved(mode, c, w)
    assert claims_true(mode, prover_claims, claims, truth)
    for stat, honest in (("RM", rm), ("RV", rv)):
        wrong = dict(truth) | {c.t(stat): np.array(honest, dtype=object)}
        assert not claims_true(mode, prover_claims, claims, wrong), stat


def _moved(c, w, value, index, delta):
    """w with one table entry moved by delta and its slots re-forged."""
    w = dict(w)
    name = value if "." in value else c.t(value)
    w[name] = np.array(w[name], dtype=object)
    w[name][index] += delta
    return _finish(c, {k: v for k, v in w.items() if "@" not in k and not k.endswith(".slots")})


_ALONE = [("rX", (1, 0), "(X)"), ("rY", (2, 1), "(Y)"), ("bn.rstd.lo", 0, "(LO)"), ("bn.rstd.hi", 0, "(HI)")]
_HOOKED = [("t", 0, "(T)")]


@pytest.mark.parametrize("mode, value, index, caught",
                         [pytest.param("clear", *a, id=f"clear-{a[2]}") for a in _ALONE + _HOOKED]
                         + [pytest.param("zk", *a, id=f"zk-{a[2]}") for a in _ALONE + _HOOKED])
def test_identity_alone(mode, value, index, caught):
    """One value moved by one, in range, its slots and ties consistent: only its identity breaks,
    and the zero-check rejects. A remainder or slack alone; t with lo, hi solved from it."""
    c = _c()
    if (value, index, caught) in _HOOKED:
        w = forward(c, hooks={(value, index): lambda x: x + 1})
    else:
        w = _moved(c, forward(c), value, index, 1)
    assert violated(c, w) == {caught}
    _rejected(mode, c, w, "^ghost-bn-eval:bn: ")


# --- every range check is needed ---------------------------------------------------------------------------------


def _range_cheat(c, value):
    """A witness that only RC(value) rejects: X + 2^-h where the sample sits at its running mean
    (X = 0, rX = 0: rX - 1 absorbs it; Y a fraction too, the caller's), or a remainder off by one
    (its value moved by one)."""
    sp = c.spec
    el = (1, F_FLAT)
    if value == "X":
        inv = pow(2, -sp.eval_xhat_shift, R)
        gam, y = INPUTS[1][F_FLAT], _at(c, forward(c), "Y", el)
        return forward(c, hooks={("X", el): lambda x: (x + inv) % R,
                                 ("Y", el): (y + gam * inv * pow(2, -sp.param_shift, R)) % R})
    key = {"rX": "X", "rY": "Y"}[value]
    return forward(c, hooks={(key, (1, 0)): lambda x: x + 1})


@pytest.mark.parametrize("value", ["X", "rX", "rY"])
def test_range_check_needed(value):
    """Clear mode: a cheat that every check but RC(value) lets through (every identity holds,
    every other slots tensor in range): accepted by a verifier without RC(value), every claim
    true; rejected by the one with it."""
    c = _c()
    w = _range_cheat(c, value)
    assert violated(c, w) == set()
    assert _accepts("clear", c, w, skip={c.slots(value)})
    _rejected("clear", c, w, f"^range of bn.{value}.slots: ")


def _half_rstd(c):
    """y = h/2 at the RV = 0 feature (h odd next to 2c/sqrt(eps_int), t = h^2/4: lo, hi integers
    in range; every sample at the running mean, so X = rX = 0 whatever y)."""
    eps, c4 = SPEC.eps_int, c.rsqrt.four_c2
    h = next(h for h in range(2 * rsqrt_round(eps, SPEC.eval_rsqrt_shift) - 3, 1 << 60, 2)
             if (h - 1) ** 2 * eps <= c4 < (h + 1) ** 2 * eps)
    half = pow(2, -1, R)
    return forward(c, hooks={("y", F_FLAT): h * half % R, ("t", F_FLAT): h * h * half * half % R})


def test_fraction_rstd_needs_y_or_t_ranged(mode):
    """The half-integer rstd: RC(y - 1) rejects; without it RC(t - 1) still does (t = h^2/4 is no
    integer). Without both, clear mode accepts."""
    c = _c()
    w = _half_rstd(c)
    assert violated(c, w) == set() and 0 <= _at(c, w, c.rsqrt.lo, F_FLAT) and 0 <= _at(c, w, c.rsqrt.hi, F_FLAT)
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.rsqrt.slots("y"), c.rsqrt.slots("t")})
        assert not _accepts(mode, c, w, skip={c.rsqrt.slots("y")})
    _rejected(mode, c, w, "^range of bn.rstd.y.slots: ")


# --- every slot tie is needed ---------------------------------------------------------------------------------


def _without_tie(monkeypatch, tensor, calls=None):
    """A verifier whose ``slice_value`` ignores the claim on ``tensor`` (at its calls numbered in
    ``calls``, all if None): the mutant without that tie."""
    original = Walk.slice_value

    def slice_value(self, name, decomposition, u, claimed=None):
        if name == tensor:
            k = self.__dict__.setdefault("tie_calls", 0)
            self.tie_calls = k + 1
            if calls is None or k in calls:
                claimed = None
        return original(self, name, decomposition, u, claimed)

    monkeypatch.setattr(Walk, "slice_value", slice_value)


_TIES = [  # (value whose slots stay honest, hooks of the cheat)
    ("X", {("X", (1, 0)): lambda x: x + 1}),
    ("rX", {("X", (1, 0)): lambda x: x + 1}),
    ("rY", {("Y", (2, 1)): lambda x: x + 1}),
    ("rstd.y", {("y", 0): lambda y: y + 1}),
    ("rstd.lo", {("y", 0): lambda y: y + 1}),
    ("rstd.hi", {("y", 0): lambda y: y - 1}),
    ("rstd.t", {("y", 0): lambda y: y + 1}),
]


@pytest.mark.parametrize("mode, value, hooks", [pytest.param("clear", v, h, id=f"clear-{v}") for v, h in _TIES]
                         + [pytest.param("zk", v, h, id=f"zk-{v}") for v, h in _TIES
                            if v in ("X", "rY", "rstd.y", "rstd.t")])
def test_slots_tied_to_the_identities(mode, value, hooks):
    """A cheat whose own check (a range) would catch it, its table in the identities, but the
    slots tensor holding the honest value: the first tie at the zero-check's point
    (``Walk.slice_value``) rejects: the slots do not recompose to the identity's value."""
    c = _c()
    w = _honest_slots(c, forward(c, hooks=hooks), value)
    _rejected(mode, c, w, f"^bn.{value}.slots: slots do not recompose")


@pytest.mark.parametrize("value, hooks", [
    ("rX", {("X", (1, 0)): lambda x: x + 1}),
    ("rY", {("Y", (2, 1)): lambda x: x + 1}),
    ("rstd.lo", {("y", 0): lambda y: y + 1}),
    ("rstd.hi", {("y", 0): lambda y: y - 1}),
], ids=["rX", "rY", "lo", "hi"])
def test_tie_needed(monkeypatch, value, hooks):
    """Clear mode: the cheat of ``test_slots_tied_to_the_identities`` (the other slots forged to
    the cheat, in range) is accepted by a verifier without that tie: the remainder's or slack's
    table holds the out-of-range value the identity needs, its slots an honest in-range one."""
    c = _c()
    w = _honest_slots(c, forward(c, hooks=hooks), value)
    _without_tie(monkeypatch, _slots_name(c, value))
    assert _accepts("clear", c, w)


def test_value_tie_needed(monkeypatch):
    """Clear mode: X's field fraction (``_range_cheat``) with X's slots honest (in range): the tie
    rejects; a verifier without it accepts, every claim true."""
    c = _c()
    w = _honest_slots(c, _range_cheat(c, "X"), "X")
    _rejected("clear", c, w, "^bn.X.slots: slots do not recompose")
    _without_tie(monkeypatch, c.slots("X"))
    assert _accepts("clear", c, w)


@pytest.mark.parametrize("side, call", [("element", 0), ("feature", 1)])
def test_rstd_tied_at_both_zero_checks(mode, monkeypatch, side, call):
    """y is a table of both zero-checks (broadcast over the rows in the element one): each read
    is tied to the one committed slots tensor. The element zero-check reads y + 1 (X, Y from it)
    while the feature zero-check reads the honest y, t, lo, hi: with y's slots honest the element
    point's tie rejects, with the cheat in the slots the feature point's; (clear mode) a verifier
    without that one tie accepts, every claim true."""
    c = _c()
    honest = forward(c)
    r = c.rsqrt
    w = forward(c, hooks={("y", 0): lambda y: y + 1})
    w |= {name: honest[name] for name in (r.y, r.t, r.lo, r.hi) + tuple(r.slots(v) for v in ("y", "t", "lo", "hi"))}
    cheat_y = np.array(honest[r.y], dtype=object)
    cheat_y[0] += 1
    w[vge.broadcast_name(r.y, vge.ROWS)] = np.repeat(cheat_y.reshape(1, C), N, axis=0)
    if side == "feature":
        w[r.slots("y")] = forge(r.y_slots(), cheat_y)
    assert violated(c, w) == set()  # on the tables each zero-check reads
    assert not np.array_equal(w[c.t("X")], honest[c.t("X")])
    _rejected(mode, c, w, f"^{r.slots('y')}: slots do not recompose")
    if mode == "clear":
        _without_tie(monkeypatch, r.slots("y"), {call})
        assert _accepts(mode, c, w)


# --- the public tables are the verifier's --------------------------------------------------------------------


@pytest.mark.parametrize("instance, moved", [(0, 3), (1, 2)], ids=["element-eq", "feature-eq"])
def test_public_tables_are_the_verifiers(instance, moved):
    """The prover doubles an eq's final evaluation and moves another table's so that the
    instance's polynomial keeps its value (the sumcheck's final check holds): only the
    verifier's own evaluation of the eq sees it."""
    from verifier.sumcheck import SumcheckProof

    c = _c()
    shapes = {}
    label = b"ghost-bn-eval:bn"

    def tamper(phase, proof):
        if phase != label:
            return proof
        finals = [list(f) for f in proof.final_evals]
        shape = shapes[phase][instance]
        target = shape.evaluate(finals[instance])
        finals[instance][0] = 2 * finals[instance][0] % R
        keep_value(shape, finals[instance], moved, target)
        return SumcheckProof(proof.rounds, tuple(tuple(f) for f in finals))

    class Spy:
        def __init__(self, ch):
            self.ch = ch

        def phase(self, phase_label, reductions):
            shapes[phase_label] = [sh for red in reductions for sh in red.shapes]
            return self.ch.phase(phase_label, reductions)

        def __getattr__(self, name):
            return getattr(self.ch, name)

    def gadget(walk):
        walk.ch = Spy(walk.ch)
        try:
            return verify_ghost_bn_eval(walk, c)
        finally:
            walk.ch = walk.ch.ch

    rejected("clear", get_backend("reference"), gadget, ranged(c), "bits", forward(c),
             "the prover's evaluation of a public table is wrong", tamper=tamper)


def test_verifier_imports_no_prover():
    """The verifier module imports nothing from prover/ or zktrain/ (DESIGN section 2)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(vge))
    names = [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    names += [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    assert not [m for m in names if m.split(".")[0] in ("prover", "zktrain")]
