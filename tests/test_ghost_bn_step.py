"""One Ghost BN layer's training step as a standalone gadget (``circuits/ghost_bn_step.py``,
``verifier/ghost_bn_step.py``, ``prover/ghost_bn_step.py``; docs/ghost_bn.md sections 3 and 4):
the witness against the semantics of ``circuits/ghost_bn.py`` and the kernel, the widths and
relation bounds, completeness in both modes with both range gadgets, and one cheating witness
per attack, each rejected by the check named (and, in clear mode, accepted by a verifier
without that check where the check is the only one in the way).

The layout is [T', B, C] = [2, 8, 4] with v = 4 (G = 2 ghost batches), C low. Feature 0 is
generic, feature 1 has a tiny variance (eps dominates its radicand), feature 2 sits near the
Q-bit ends; at step 0, ghost batch 1, feature 3 is constant with dy = 0 (D = 0: rstd from eps
alone; no backward flow: the group the fraction cheats use).

The cheats are built by ``forward``: the step recomputed on Python ints from the inputs with
some values replaced, every remainder and slack then solved from its identity (so every
identity holds) and every slots tensor forged to recompose to its value
(``nonlinear_harness.forge``): only the check the test names stands in the way.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, keep_value, prove, rejected, verify

from circuits.division import round_div
from circuits.ghost_bn import spec_from_float
from circuits.ghost_bn_step import GhostBnStep
from circuits.semantics import MAX_RELATION_BITS, rescale
from circuits.sqrt import rsqrt_round
from prover.backends import get_backend
from prover.ghost_bn_step import derived_tables, ghost_bn_step_witness
from verifier import ghost_bn_step as vgb
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier.ghost_bn_step import ranged, verify_ghost_bn_step
from verifier.walk import Walk
from zktrain.fixedpoint import ghost_bn as ker

SPEC = spec_from_float(8, 4, 0.1, 1e-5)
T, B, C, V, G = 2, 8, 4, 4, 2
LIMB_BITS = 8
F_EPS, F_WIDE, F_FLAT = 1, 2, 3
FLAT_J, FLAT_G = 1, 1  # step 0, ghost batch 1: state j = 1


def _inputs(seed=17, rm0=None, rv0=None):
    rng = random.Random(seed)
    x = [[[0] * C for _ in range(B)] for _ in range(T)]
    dy = [[[0] * C for _ in range(B)] for _ in range(T)]
    for t in range(T):
        for b in range(B):
            x[t][b][0] = rng.randrange(-(1 << 18), 1 << 18)
            x[t][b][F_EPS] = 5000 + rng.randrange(-3, 4)
            x[t][b][F_WIDE] = rng.choice((-(1 << 31), (1 << 31) - 1, rng.randrange(-(1 << 31), 1 << 31)))
            x[t][b][F_FLAT] = 777 if (t, b // V) == (0, FLAT_G) else rng.randrange(-(1 << 16), 1 << 16)
            for f in range(C):
                dy[t][b][f] = 0 if (t, b // V, f) == (0, FLAT_G, F_FLAT) else rng.randrange(-(1 << 12), 1 << 12)
    gamma = [[2 * rng.randrange(1 << 46, 1 << 48) for _ in range(C)] for _ in range(T)]
    beta = [[rng.randrange(-(1 << 45), 1 << 45) for _ in range(C)] for _ in range(T)]
    rm0 = [0] * C if rm0 is None else rm0
    rv0 = [1 << SPEC.stat_shift] * C if rv0 is None else rv0
    return x, dy, gamma, beta, rm0, rv0


INPUTS = _inputs()


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _c(range_kind="bits", spec=SPEC, step_vars=1, feature_vars=2):
    return GhostBnStep("bn", spec, step_vars, feature_vars, None if range_kind == "bits" else LIMB_BITS)


def _kind(c):
    return "bits" if c.limb_bits is None else "limbs"


def _gadget(c):
    return lambda walk: verify_ghost_bn_step(walk, c)


def _rejected(mode, c, witness, match):
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, match)


def _accepts(mode, c, witness, skip=()):
    return accepts(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, skip=skip)


# --- the step recomputed, with cheats --------------------------------------------------------------


def _signed(v: int) -> int:
    v %= R
    return v - R if v > R // 2 else v


def forward(c, inputs=INPUTS, hooks=None):
    """The gadget's tables and slots from the semantics' equations on Python ints (module
    docstring of ``circuits/ghost_bn_step.py``). ``hooks[(key, index)]`` replaces a value
    (a constant, or a function of the honest one): per statistic (index (j, f), j = t G + g)
    S1, S2, D (what the tables hold and everything uses), Vy (the radicand y is computed from),
    y, t, A, Bs, yK (the rstd K is computed from), K, P, ydx (the rstd dx is computed from), RMp,
    RVp, S1m (the S1 the running mean uses), Dm (the D the running variance uses), RM, RV; per
    element (index (t, b, f)) X, Y, dx; per step and feature (index (t, f)) dgamma, dbeta.
    Remainders and slacks are solved from the identities with the tables' values; every value
    is then the signed representative mod r (a field fraction a hook puts in stays one)."""
    hooks = hooks or {}

    def h(key, index, honest):
        fn = hooks.get((key, index))
        return honest if fn is None else (fn(honest) if callable(fn) else fn)

    x, dy, gamma, beta, rm0, rv0 = inputs
    sp, r = c.spec, c.rsqrt
    Rb, n, S, a, hs, sdx = sp.frac_bits, sp.ghost_bits, sp.param_shift, sp.rsqrt_shift, sp.xhat_shift, sp.dx_shift
    Km, m, d, keep, eps, c4 = sp.mom_shift, sp.mom_num, sp.var_divisor, c.keep, c.eps, r.four_c2
    el = {k: np.empty((T, B, C), dtype=object) for k in ("X", "rX", "Y", "rY", "dx", "rdx")}
    st = {k: np.empty((T * G, C), dtype=object) for k in (
        "S1", "S2", "D", "y", "t", "lo", "hi", "K", "A", "Bs", "P", "RM", "RMp", "rm", "RV", "RVp", "rv", "uv")}
    par = {k: np.empty((T, C), dtype=object) for k in ("dgamma", "dbeta")}
    rm_prev, rv_prev = list(rm0), list(rv0)
    for t in range(T):
        for g in range(G):
            j = t * G + g
            rows = range(g * V, (g + 1) * V)
            for f in range(C):
                ix = (j, f)
                gam, bet = gamma[t][f], beta[t][f]
                s1 = h("S1", ix, sum(x[t][b][f] for b in rows))
                s2 = h("S2", ix, sum(x[t][b][f] ** 2 for b in rows))
                dd = h("D", ix, V * s2 - s1 * s1)
                y = h("y", ix, rsqrt_round(h("Vy", ix, dd + eps), a))
                tt = h("t", ix, y * y)
                vv = dd + eps
                for b in rows:
                    xc = V * x[t][b][f] - s1
                    xh = h("X", (t, b, f), rescale(xc * y, hs)[0])
                    z = gam * xh + (bet << Rb)
                    out = h("Y", (t, b, f), rescale(z, S)[0])
                    el["X"][t, b, f], el["rX"][t, b, f] = xh, xc * y - (xh << hs)
                    el["Y"][t, b, f], el["rY"][t, b, f] = out, z - (out << S)
                aa = h("A", ix, sum(dy[t][b][f] for b in rows))
                bs = h("Bs", ix, sum(dy[t][b][f] * el["X"][t, b, f] for b in rows))
                k = h("K", ix, gam * h("yK", ix, y))
                p = h("P", ix, k * bs)
                ydx = h("ydx", ix, y)
                for b in rows:
                    inner = ((V * dy[t][b][f] - aa) << (2 * Rb)) - el["X"][t, b, f] * bs
                    g_in = h("dx", (t, b, f), rescale(gam * ydx * inner, sdx)[0])
                    z = ((V * k * dy[t][b][f] - k * aa) << (2 * Rb)) - el["X"][t, b, f] * p
                    el["dx"][t, b, f], el["rdx"][t, b, f] = g_in, z - (g_in << sdx)
                rmp, rvp = h("RMp", ix, rm_prev[f]), h("RVp", ix, rv_prev[f])
                mean = h("RM", ix, rescale(keep * rmp + ((m * h("S1m", ix, s1)) << (Rb - n)), Km)[0])
                var = h("RV", ix, round_div(((keep * (V - 1) * rvp) << n) + m * h("Dm", ix, dd), d, 0))
                rv = 2 * (((keep * (V - 1) * rvp) << n) + m * dd) + d - 2 * d * var
                row = dict(S1=s1, S2=s2, D=dd, y=y, t=tt, lo=c4 - (4 * tt - 4 * y + 1) * vv,
                           hi=(4 * tt + 4 * y + 1) * vv - c4 - 1, K=k, A=aa, Bs=bs, P=p, RM=mean, RMp=rmp,
                           rm=keep * rmp + ((m * s1) << (Rb - n)) - (mean << Km), RV=var, RVp=rvp, rv=rv,
                           uv=2 * d - 1 - rv)
                for key, val in row.items():
                    st[key][j, f] = val
                rm_prev[f], rv_prev[f] = mean, var
        for f in range(C):
            par["dgamma"][t, f] = h("dgamma", (t, f), int(sum(dy[t][b][f] * el["X"][t, b, f] for b in range(B))))
            par["dbeta"][t, f] = h("dbeta", (t, f), sum(dy[t][b][f] for b in range(B)) << Rb)
    out = {c.t(k): arr for k, arr in {**el, **st, **par}.items() if k not in ("y", "t", "lo", "hi")}
    out.update({getattr(r, k): st[k] for k in ("y", "t", "lo", "hi")})
    signed = np.vectorize(_signed, otypes=[object])
    out = {k: signed(v) for k, v in out.items()}
    for name, arr, shape in (("x", x, (T, B, C)), ("dy", dy, (T, B, C)), ("Gamma", gamma, (T, C)),
                             ("beta", beta, (T, C)), ("RM0", rm0, (C,)), ("RV0", rv0, (C,))):
        out[c.t(name)] = np.array(arr, dtype=object).reshape(shape)
    return _finish(c, out)


def _finish(c, w):
    """w with the prover's copies and every slots tensor forged from the tables."""
    w = dict(w) | derived_tables(c, w)
    for value in c.ELEMENT_SLOTS + c.STAT_SLOTS:
        w[c.slots(value)] = forge(c.slot_decomposition(value), np.asarray(w[c.t(value)]).reshape(-1))
    r = c.rsqrt
    for value in ("y", "lo", "hi", "t"):
        w[r.slots(value)] = forge(getattr(r, f"{value}_slots")(), np.asarray(w[getattr(r, value)]).reshape(-1))
    return w


def violated(c, w) -> set[str]:
    """The identities that fail (mod r) somewhere in the witness's tables."""
    flat = {k: v for k, v in w.items() if "@" not in k and "^" not in k}
    elem = flat | {n: w[vgb.broadcast_name(n, "i")] for n in (c.rsqrt.y, c.t("S1"), c.t("K"), c.t("A"), c.t("P"))}
    elem |= {c.t(n): w[vgb.broadcast_name(c.t(n), "gi")] for n in ("Gamma", "beta")}
    stat = flat | {c.t("Gamma"): w[vgb.broadcast_name(c.t("Gamma"), "g")]}
    out = {lab.split()[0] for lab, p in c.element_identities() if np.any(p.evaluate(elem) % R != 0)}
    return out | {lab.split()[0] for lab, p in c.stat_identities() if np.any(p.evaluate(stat) % R != 0)}


def _at(c, w, value, index):
    return int(np.asarray(w[value if "." in value else c.t(value)])[index])


def _out_of_range(c, w, value, index) -> bool:
    d = c.slot_decomposition(value)
    return not d.min_value <= _at(c, w, value, index) <= d.max_value


def _honest_slots(c, w, value):
    """w with ``value``'s slots back to the honest witness's (its table keeps the cheat)."""
    name = c.rsqrt.slots(value[5:]) if value.startswith("rstd.") else c.slots(value)
    return dict(w) | {name: forward(c)[name]}


# --- semantics, widths ------------------------------------------------------------------------------


def _kernel_tables(c, inputs):
    """The kernel's results (``zktrain.fixedpoint.ghost_bn``) stacked as the gadget's tables."""
    x, dy, gamma, beta, rm, rv = (np.array(a, dtype=np.int64) for a in inputs)
    out = {}
    for t in range(T):
        fw = ker.forward_train(SPEC, x[t], gamma[t], beta[t])
        ru = ker.running_update(SPEC, rm, rv, fw.s1, fw.d)
        bw = ker.backward(SPEC, fw.xhat, fw.rstd, gamma[t], dy[t])
        for key, val in (("X", fw.xhat), ("rX", fw.xhat_rem), ("Y", fw.out), ("rY", fw.out_rem), ("dx", bw.g_in),
                         ("rdx", bw.g_in_rem), ("S1", fw.s1), ("S2", fw.s2), ("D", fw.d), ("y", fw.rstd),
                         ("K", bw.coef), ("A", bw.a_sum), ("Bs", bw.b_sum), ("RM", ru.means[1:]),
                         ("rm", ru.mean_rem), ("RV", ru.variances[1:]), ("rv", ru.var_rem), ("dgamma", bw.g_gamma),
                         ("dbeta", bw.g_beta)):
            out.setdefault(key, []).extend(np.asarray(val, dtype=object).reshape(-1).tolist())
        rm, rv = ru.running_mean, ru.running_var
    return out


@pytest.mark.parametrize("seed, start", [(17, None), (5, "later")])
def test_witness_is_the_semantics(seed, start):
    """The prover's witness is ``forward`` (the equations on Python ints) table by table and the
    kernel (``zktrain.fixedpoint.ghost_bn``: forward, running update carried over the steps,
    backward) entry by entry, also for a later segment (nonzero RM0, RV0); every identity holds;
    the flat group has D = 0 (rstd from eps alone), the eps feature's radicand is mostly eps."""
    rm0, rv0 = ([(-1) ** f * (f + 1) << 40 for f in range(C)], [(f + 3) << 45 for f in range(C)]) \
        if start else (None, None)
    inputs = _inputs(seed, rm0, rv0)
    c = _c()
    w = ghost_bn_step_witness(c, *inputs)
    ref = forward(c, inputs)
    for name, arr in ref.items():
        assert np.array_equal(np.asarray(w[name], dtype=object), np.asarray(arr, dtype=object)), name
    for key, values in _kernel_tables(c, inputs).items():
        name = c.rsqrt.y if key == "y" else c.t(key)
        assert np.asarray(w[name]).reshape(-1).tolist() == [int(v) for v in values], key
    assert violated(c, w) == set()
    assert _at(c, w, "D", (FLAT_J, F_FLAT)) == 0 and _at(c, w, "P", (FLAT_J, F_FLAT)) == 0
    assert _at(c, w, c.rsqrt.y, (FLAT_J, F_FLAT)) == rsqrt_round(c.eps, SPEC.rsqrt_shift)
    assert 0 < _at(c, w, "D", (0, F_EPS)) < c.eps


def test_widths_and_relation_bounds(monkeypatch):
    """Every identity below 2^250 at the declared widths (default v = 32 too), the wide values
    (rdx, the rstd's slacks and square, K, P) use wide decompositions; the slot counts per
    element and per statistic. At the spec's caps the largest identity is the rsqrt's, 244 bits:
    ``GhostBnSpec`` (which counts V term by term) refuses first, so the gadget's own refusal is
    pinned at a lowered cap; a batch that is not a power of two is refused by name."""
    c = _c("limbs")
    assert max(c.relation_bounds().values()) <= MAX_RELATION_BITS
    wide = GhostBnStep("bn", spec_from_float(64, 32), 0, 7)
    bounds = wide.relation_bounds()
    assert bounds["(DX)"] == 176 and bounds["(R) rsqrt"] == 164 and max(bounds.values()) == 176
    assert wide.rsqrt.slack_bits == 85 and spec_from_float(64, 32).widths()["rstd_slack"] == (85, False)
    assert (wide.k_bits, wide.p_bits, wide.slot_decomposition("rdx").width) == (101, 157, 109)
    assert (wide.slots_per_element(), wide.slots_per_statistic()) == (21, 54)
    assert len([x for x in ranged(c) if x[2] == c.element_vars]) == 5 and len(ranged(c)) == 16
    big = spec_from_float(64, 32, value_bits=48, weight_bits=62, lr_shift=32, rstd_bits=48)
    assert max(GhostBnStep("bn", big, 0, 3).relation_bounds().values()) == 244  # the spec's caps: rsqrt
    import circuits.semantics as semantics_module  # the spec's accountant is stricter: the guard, at a lower cap

    monkeypatch.setattr(semantics_module, "MAX_RELATION_BITS", 175)
    with pytest.raises(ValueError, match=r"identity \(DX\) could reach 2\^175 or more"):
        GhostBnStep("bn", spec_from_float(64, 32), 0, 7)
    with pytest.raises(ValueError, match="batch size 24 must be a power of two"):
        GhostBnStep("bn", spec_from_float(24, 8), 0, 3)


def test_witness_refuses_what_does_not_fit():
    """Inputs of the wrong shape, or past their widths (the semantics' own width errors)."""
    c = _c()
    x, dy, gamma, beta, rm0, rv0 = INPUTS
    with pytest.raises(ValueError, match=r"bn.x: expected shape \(2, 8, 4\)"):
        ghost_bn_step_witness(c, x[:1], dy, gamma, beta, rm0, rv0)
    with pytest.raises(ValueError, match="ghost BN gamma at step 1"):
        ghost_bn_step_witness(c, x, dy, [gamma[0], [1 << 60] * C], beta, rm0, rv0)


# --- completeness ---------------------------------------------------------------------------------------


RETURNED = ("x", "dy", "Y", "Gamma", "beta", "Gamma", "dy", "dgamma", "dbeta", "RM0", "RV0", "x", "dy")


def test_completeness(mode, range_kind):
    """The fixture (eps-dominated feature, Q-bit extremes, a constant group without gradient):
    accepted, every claim true; the returned claims in their order; every committed tensor has a
    claim in the ledger."""
    c = _c(range_kind)
    w = ghost_bn_step_witness(c, *INPUTS)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, w)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:len(RETURNED)]] == [c.t(n) for n in RETURNED]
    assert set(c.committed_tensors()) <= {x.tensor for x in claims[len(RETURNED):]}


@pytest.mark.parametrize("shape", ["one step", "one ghost batch", "padded step"])
def test_completeness_other_shapes(mode, shape):
    """One step (no step variables), v = B (BatchNorm1d: no g variables) with a later segment's
    RM0, RV0, and a padded step (x = dy = 0: the running statistics decay, dx = 0)."""
    if shape == "one step":
        c, inputs = _c(step_vars=0), None
        x, dy, gamma, beta, rm0, rv0 = INPUTS
        inputs = (x[:1], dy[:1], gamma[:1], beta[:1], rm0, rv0)
    elif shape == "one ghost batch":
        c = _c(spec=spec_from_float(8, 8, 0.5, 1e-5))
        inputs = INPUTS[:4] + ([-(1 << 40)] * C, [1 << 50] * C)
    else:
        c = _c()
        x, dy, gamma, beta, rm0, rv0 = INPUTS
        zero = [[0] * C for _ in range(B)]
        inputs = ([x[0], zero], [dy[0], zero], gamma, beta, rm0, rv0)
    w = ghost_bn_step_witness(c, *inputs)
    if shape == "padded step":
        assert set(w[c.t("dx")][1].reshape(-1)) == {0} and w[c.t("RV")][-1, 0] < w[c.t("RV")][1, 0]
    assert _accepts(mode, c, w)


# --- soundness: the attacks of issue 17 item 4 -------------------------------------------------------------


def test_statistics_of_another_ghost_batch(mode):
    """Ghost batch 0's S1, S2 replaced by ghost batch 1's at step 1 (so D, rstd, X, Y, K, P, dx
    and the running statistics follow): every identity and range holds; only the sums over i
    (phase sums: S1 = sum_i x) see it."""
    c = _c()
    honest = forward(c)
    hooks = {(k, (2, f)): _at(c, honest, k, (3, f)) for k in ("S1", "S2") for f in range(C)}
    w = forward(c, hooks=hooks)
    assert violated(c, w) == set() and _at(c, w, "X", (1, 0, 0)) != _at(c, honest, "X", (1, 0, 0))
    assert not any(_out_of_range(c, w, v, (2, f)) for v in c.STAT_SLOTS for f in range(C))
    _rejected(mode, c, w, "^ghost-bn:bn:sums: ")


def test_variance_without_eps(mode):
    """rstd of the eps feature computed from D alone (the true D in the table, V = D + eps' in
    the relation): y far larger, lo = 4c^2 - (2y - 1)^2 V < 0: RC(lo)."""
    c = _c()
    honest = forward(c)
    w = forward(c, hooks={("Vy", (0, F_EPS)): lambda v: v - c.eps})
    assert violated(c, w) == set() and _at(c, w, c.rsqrt.y, (0, F_EPS)) > 2 * _at(c, honest, c.rsqrt.y, (0, F_EPS))
    assert _at(c, w, c.rsqrt.lo, (0, F_EPS)) < 0
    _rejected(mode, c, w, "^range of bn.rstd.lo.slots: ")


@pytest.mark.parametrize("delta, caught", [(1, "lo"), (-1, "hi")])
def test_rstd_off_by_one(mode, delta, caught):
    """y + 1: lo < 0, RC(lo); y - 1: hi < 0, RC(hi); t = y^2, X, Y, K, P, dx follow (every
    identity holds). A verifier without that range check accepts."""
    c = _c()
    w = forward(c, hooks={("y", (2, 0)): lambda y: y + delta})
    assert violated(c, w) == set() and _at(c, w, getattr(c.rsqrt, caught), (2, 0)) < 0
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.rsqrt.slots(caught)})
    _rejected(mode, c, w, f"^range of bn.rstd.{caught}.slots: ")


@pytest.mark.parametrize("how", ["skip", "restart", "first"])
def test_running_statistics_not_sequential(mode, how):
    """State 2 (step 1, ghost batch 0) updated from state 0 (state 1's update skipped), or from
    the segment's RM0, RV0 (each step restarting), both RM and RV, or state 0's variance from 0
    instead of the caller's RV0 = 2^(2R); everything after following: every identity and range
    holds; only the shift (phase stats) sees that the predecessor is not the previous state."""
    c = _c()
    honest = forward(c)
    if how == "first":
        hooks = {("RVp", (0, f)): 0 for f in range(C)}
    elif how == "skip":
        hooks = {(k + "p", (2, f)): _at(c, honest, k, (0, f)) for k in ("RM", "RV") for f in range(C)}
    else:
        hooks = {(k + "p", (2, f)): _at(c, honest, k + "0", f) for k in ("RM", "RV") for f in range(C)}
    w = forward(c, hooks=hooks)
    moved = "RV" if how == "first" else "RM"
    assert violated(c, w) == set() and _at(c, w, moved, (3, 0)) != _at(c, honest, moved, (3, 0))
    assert not any(_out_of_range(c, w, v, (i, f)) for v in ("RM", "rm", "RV", "rv", "uv")
                   for i in range(T * G) for f in range(C))
    _rejected(mode, c, w, "^ghost-bn:bn:stats: ")


def test_radicand_not_the_variance(mode):
    """D at state 2, feature 0 replaced by D + v (the rstd, X, Y, dx and the running variance
    following it, every identity and range holding): only the statistics' sumcheck (phase
    stats: D = v S2 - S1^2) sees it."""
    c = _c()
    w = forward(c, hooks={("D", (2, 0)): lambda d: d + V})
    assert violated(c, w) == set()
    _rejected(mode, c, w, "^ghost-bn:bn:stats: ")


@pytest.mark.parametrize("value", ["A", "Bs", "S1"])
def test_virtual_sums_are_the_inputs(mode, value):
    """A (or Bs) at state 2, feature 0 moved by 2^10, dx and rdx following (Bs through P = K Bs);
    or S1 moved by 4 for the element zero-check only (X, Y, dx following; the statistics
    zero-check keeps the true S1): every identity and range holds on the tables each zero-check
    reads; the sums (phase sums: A = sum_i dy, Bs = sum_i dy X) or the statistics' sumcheck (phase
    stats: one S1 read at two points) reject."""
    c = _c()
    honest = forward(c)
    hooks = {(value, (2, 0)): lambda x: x + (4 if value == "S1" else 1 << 10)}
    if value == "S1":  # the rstd kept; the statistics zero-check's tables restored
        hooks[("y", (2, 0))] = _at(c, honest, c.rsqrt.y, (2, 0))
    w = forward(c, hooks=hooks)
    if value == "S1":
        w |= {c.t(k): honest[c.t(k)] for k in ("S1", "S2", "D", "RM", "RMp", "rm", "RV", "RVp", "rv", "uv")}
        w |= {k: honest[k] for k in (c.rsqrt.lo, c.rsqrt.hi, c.rsqrt.slots("lo"), c.rsqrt.slots("hi"))}
        w |= {c.slots(k): honest[c.slots(k)] for k in ("RM", "rm", "RV", "rv", "uv")}
    assert violated(c, w) == set() and not _out_of_range(c, w, "rdx", (1, 0, 0))
    _rejected(mode, c, w, "^ghost-bn:bn:stats: " if value == "S1" else "^ghost-bn:bn:sums: ")


def test_starting_statistics_are_the_callers(mode):
    """The prover's chain starts from RM0 + 2^20 (every state following it): the gadget accepts,
    and the claim it returns on RM0 is false against the caller's RM0 (its opening rejects)."""
    c = _c()
    x, dy, gamma, beta, rm0, rv0 = INPUTS
    w = forward(c, (x, dy, gamma, beta, [m + (1 << 20) for m in rm0], rv0))
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), "bits", w)
    claims = verify(mode, _gadget(c), ranged(c), "bits", proof)
    assert claims_true(mode, prover_claims, claims, truth) and claims[9].tensor == c.t("RM0")
    truth[c.t("RM0")] = np.array(rm0, dtype=object)
    assert not claims_true(mode, prover_claims, claims, truth)


@pytest.mark.parametrize("stat", ["S1m", "Dm"])
def test_running_statistics_of_another_ghost_batch(mode, stat):
    """State 2's running mean from ghost batch 1's S1 (or its variance from ghost batch 1's D),
    the tables keeping ghost batch 0's: the remainder solved from (RM) or (RV) leaves its range:
    RC(rm); RC(rv), the first in order, where rv leaves its width (else RC(uv): rv >= 2d)."""
    c = _c()
    honest = forward(c)
    key = "S1" if stat == "S1m" else "D"
    w = forward(c, hooks={(stat, (2, 0)): _at(c, honest, key, (3, 0))})
    caught = "rm" if stat == "S1m" else ("rv" if _out_of_range(c, w, "rv", (2, 0)) else "uv")
    assert violated(c, w) == set() and _out_of_range(c, w, caught, (2, 0))
    _rejected(mode, c, w, f"^range of bn.{caught}.slots: ")


@pytest.mark.parametrize("grad", ["dgamma", "dbeta"])
def test_parameter_gradients_altered(mode, grad):
    """dgamma (or dbeta) at step 1, feature 2 moved by one. Sent by the prover (its evaluation of
    the altered table): the gradients' sumcheck (phase stats) rejects. With the honest proof,
    the claim the gadget returns on it is false against the altered table a caller's optimizer
    would use (``claims_true``: its opening rejects)."""
    c = _c()
    w = forward(c, hooks={(grad, (1, 2)): lambda g: g + 1})
    _rejected(mode, c, w, "^ghost-bn:bn:stats: ")
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), "bits", forward(c))
    claims = verify(mode, _gadget(c), ranged(c), "bits", proof)
    assert claims_true(mode, prover_claims, claims, truth)
    truth[c.t(grad)] = w[c.t(grad)]
    assert not claims_true(mode, prover_claims, claims, truth)


@pytest.mark.parametrize("how, caught", [("K", "^ghost-bn:bn: "), ("dx", "^range of bn.rdx.slots: ")])
def test_dx_from_another_rstd(mode, how, caught):
    """dx at step 0, ghost batch 0, feature 0 built from ghost batch 1's rstd. ``K``: K = Gamma
    y_other committed, P and dx following it: only (K) K = Gamma y breaks (the zero-check).
    ``dx``: K honest, dx from Gamma y_other inner: the remainder solved from (DX) leaves its
    range: RC(rdx)."""
    c = _c()
    other = _at(c, forward(c), c.rsqrt.y, (1, 0))
    key = "yK" if how == "K" else "ydx"
    hooks = {(key, (0, 0)): other} | ({("ydx", (0, 0)): other} if how == "K" else {})
    w = forward(c, hooks=hooks)
    if how == "K":
        assert violated(c, w) == {"(K)"}
    else:
        assert violated(c, w) == set() and _out_of_range(c, w, "rdx", (0, 0, 0))
    _rejected(mode, c, w, caught)


def _moved(c, w, value, index, delta):
    """w with one table entry moved by delta and its slots re-forged (uv with rv)."""
    w = dict(w)
    name = value if "." in value else c.t(value)
    w[name] = np.array(w[name], dtype=object)
    w[name][index] += delta
    if value == "rv":
        w[c.t("uv")] = 2 * SPEC.var_divisor - 1 - w[name]
    return _finish(c, {k: v for k, v in w.items() if "@" not in k and "^" not in k and not k.endswith(".slots")})


_ALONE = [("rX", (0, 1, 0), "(X)"), ("rY", (1, 2, 1), "(Y)"), ("rdx", (1, 3, 0), "(DX)"),
          ("bn.rstd.lo", (2, 0), "(LO)"), ("bn.rstd.hi", (2, 0), "(HI)"), ("rm", (1, 1), "(RM)"),
          ("rv", (1, 1), "(RV)")]
_HOOKED = [("t", (2, 0), "(T)"), ("K", (2, 1), "(K)"), ("P", (2, 1), "(P)")]


@pytest.mark.parametrize("mode, value, index, caught",
                         [pytest.param("clear", *a, id=f"clear-{a[2]}") for a in _ALONE + _HOOKED]
                         + [pytest.param("zk", *a, id=f"zk-{a[2]}") for a in _ALONE + _HOOKED
                            if a[2] in ("(DX)", "(LO)", "(K)")])
def test_identity_alone(mode, value, index, caught):
    """One value moved by one, in range, its slots and ties consistent: only its identity breaks,
    and the zero-check rejects. A remainder or slack alone; t (lo, hi solved from it), K (P and
    rdx solved from it) or P (rdx solved) through ``forward``."""
    c = _c()
    if (value, index, caught) in _HOOKED:
        w = forward(c, hooks={(value, index): lambda x: x + 1})
    else:
        w = _moved(c, forward(c), value, index, 1)
    assert violated(c, w) == {caught}
    assert not any(_out_of_range(c, w, v, index) for v in c.STAT_SLOTS if len(index) == 2)
    _rejected(mode, c, w, "^ghost-bn:bn: ")


# --- every range check is needed ---------------------------------------------------------------------------------


def _fraction(value, shift):
    """value + 2^-shift mod r: the field fraction rule 0.3 is about."""
    return lambda v: (v + pow(2, -shift, R)) % R


_FLAT_EL = (0, FLAT_G * V + 1, F_FLAT)  # an element of the constant group without gradient
_LAST = (T * G - 1, 0)  # the last state: nothing follows it


def _var_state(slack: str) -> tuple[int, int]:
    """A state whose ``slack`` (rv or uv) is below 2^w - 2d: RV - 1 (resp. + 1) moves it by 2d
    and keeps it in range, so that only the other one leaves its range."""
    c, d = _c(), SPEC.var_divisor
    w, bits = forward(_c()), c.slot_decomposition("rv").width
    return next((j, f) for j in range(T * G) for f in range(C) if _at(c, w, slack, (j, f)) + 2 * d < 1 << bits)


_RV_UP, _RV_DOWN = _var_state("uv"), _var_state("rv")  # RV + 1 there: only rv < 0; RV - 1: only uv < 0


def _range_cheat(c, value):
    """A witness that only RC(value) rejects (module docstring of circuits/ghost_bn_step.py):
    an integer off by one where a remainder or slack absorbs it, else a field fraction where
    the only consumer is the caller's (Y) or nothing (the constant group, the last state)."""
    sp = c.spec
    if value == "X":  # X = X + 2^-h, rX - 1; Y a fraction too (the caller's); no backward flow here
        inv = pow(2, -sp.xhat_shift, R)
        gam = INPUTS[2][0][F_FLAT]
        y = _at(c, forward(c), "Y", _FLAT_EL)
        return forward(c, hooks={("X", _FLAT_EL): lambda x: (x + inv) % R,
                                 ("Y", _FLAT_EL): (y + gam * inv * pow(2, -sp.param_shift, R)) % R})
    if value == "dx":
        return forward(c, hooks={("dx", (1, 2, 0)): _fraction(value, sp.dx_shift)})
    if value == "RM":
        return forward(c, hooks={("RM", _LAST): _fraction(value, sp.mom_shift)})
    if value == "RV":  # 2 d RV + rv: RV + 1/(2d), rv - 1
        return forward(c, hooks={("RV", _LAST): lambda v: (v + pow(2 * sp.var_divisor, -1, R)) % R})
    hooks = {"rX": ("X", (1, 2, 0), 1), "rY": ("Y", (1, 2, 0), 1), "rdx": ("dx", (1, 2, 0), 1),
             "rm": ("RM", _LAST, 1), "rv": ("RV", _RV_UP, 1), "uv": ("RV", _RV_DOWN, -1)}
    key, index, delta = hooks[value]
    return forward(c, hooks={(key, index): lambda x: x + delta})


@pytest.mark.parametrize("value", ["X", "rX", "rY", "dx", "rdx", "RM", "rm", "RV", "rv", "uv"])
def test_range_check_needed(value):
    """Clear mode: a cheat that every check but RC(value) lets through (every identity holds,
    every other slots tensor in range): accepted by a verifier without RC(value), every claim
    true; rejected by the one with it."""
    c = _c()
    w = _range_cheat(c, value)
    assert violated(c, w) == set()
    assert _accepts("clear", c, w, skip={c.slots(value)})
    _rejected("clear", c, w, f"^range of bn.{value}.slots: ")


def test_fraction_rstd_needs_y_or_t_ranged(mode):
    """y = h/2 at the constant group (h odd next to 2c/sqrt(V), t = h^2/4: lo, hi integers in
    range; X = 0 there, K = Gamma h/2 an integer for an even Gamma, P = 0, no backward flow):
    RC(y - 1) rejects; without it RC(t - 1) still does (t = h^2/4 is no integer: the price of
    committing t as slots backs RC(y - 1) up here, not claimed sufficient in general). Without
    both, clear mode accepts."""
    c = _c()
    eps, c4 = c.eps, c.rsqrt.four_c2
    h = next(h for h in range(2 * rsqrt_round(eps, SPEC.rsqrt_shift) - 3, 1 << 60, 2)
             if (h - 1) ** 2 * eps <= c4 < (h + 1) ** 2 * eps)
    half = pow(2, -1, R)
    ix = (FLAT_J, F_FLAT)
    w = forward(c, hooks={("y", ix): h * half % R, ("t", ix): h * h * half * half % R})
    assert violated(c, w) == set() and 0 <= _at(c, w, c.rsqrt.lo, ix) and 0 <= _at(c, w, c.rsqrt.hi, ix)
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.rsqrt.slots("y"), c.rsqrt.slots("t")})
        assert not _accepts(mode, c, w, skip={c.rsqrt.slots("y")})
    _rejected(mode, c, w, "^range of bn.rstd.y.slots: ")


def test_square_tie_backs_the_rstd_range(monkeypatch):
    """The half-integer rstd with t's slots honest (t = y^2 for the honest y, in range): without
    RC(y - 1), t's tie rejects; a verifier without both accepts."""
    c = _c()
    eps, c4 = c.eps, c.rsqrt.four_c2
    h = next(h for h in range(2 * rsqrt_round(eps, SPEC.rsqrt_shift) - 3, 1 << 60, 2)
             if (h - 1) ** 2 * eps <= c4 < (h + 1) ** 2 * eps)
    half, ix = pow(2, -1, R), (FLAT_J, F_FLAT)
    w = _honest_slots(c, forward(c, hooks={("y", ix): h * half % R, ("t", ix): h * h * half * half % R}), "rstd.t")
    skip = {c.rsqrt.slots("y")}
    proof, _, _ = prove("clear", get_backend("reference"), _gadget(c), ranged(c), "bits", w, skip=skip)
    with pytest.raises(VerifyError, match="^bn.rstd.t.slots: slots do not recompose"):
        verify("clear", _gadget(c), ranged(c), "bits", proof, skip)
    _without_tie(monkeypatch, c.rsqrt.slots("t"))
    assert _accepts("clear", c, w, skip=skip)


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
    ("X", {("X", _FLAT_EL): lambda x: x + 1}),
    ("rX", {("X", _FLAT_EL): lambda x: x + 1}),
    ("rY", {("Y", (1, 2, 0)): lambda x: x + 1}),
    ("dx", {("dx", (1, 2, 0)): lambda x: x + 1}),
    ("rdx", {("dx", (1, 2, 0)): lambda x: x + 1}),
    ("RM", {("RM", _LAST): lambda x: x + 1}),
    ("rm", {("RM", _LAST): lambda x: x + 1}),
    ("RV", {("RV", _LAST): lambda x: x + 1}),
    ("rv", {("RV", _RV_UP): lambda x: x + 1}),
    ("uv", {("RV", _RV_DOWN): lambda x: x - 1}),
    ("rstd.y", {("y", (2, 0)): lambda y: y + 1}),
    ("rstd.lo", {("y", (2, 0)): lambda y: y + 1}),
    ("rstd.hi", {("y", (2, 0)): lambda y: y - 1}),
]


@pytest.mark.parametrize("mode, value, hooks", [pytest.param("clear", v, h, id=f"clear-{v}") for v, h in _TIES]
                         + [pytest.param("zk", v, h, id=f"zk-{v}") for v, h in _TIES
                            if v in ("X", "rdx", "uv", "rstd.y")])
def test_slots_tied_to_the_identities(mode, value, hooks):
    """A cheat whose own check (a range, or an identity) would catch it, its table in the
    identities, but the slots tensor holding the honest value: the first tie at the zero-check's
    point (``Walk.slice_value``) rejects: the slots do not recompose to the identity's value."""
    c = _c()
    w = _honest_slots(c, forward(c, hooks=hooks), value)
    _rejected(mode, c, w, f"^bn.{value}.slots: slots do not recompose")


@pytest.mark.parametrize("value, calls, hooks", [
    ("rX", None, {("X", _FLAT_EL): lambda x: x + 1}),
    ("rY", None, {("Y", (1, 2, 0)): lambda x: x + 1}),
    ("rdx", None, {("dx", (1, 2, 0)): lambda x: x + 1}),
    ("rm", None, {("RM", _LAST): lambda x: x + 1}),
    ("rv", None, {("RV", _RV_UP): lambda x: x + 1}),
    ("uv", None, {("RV", _RV_DOWN): lambda x: x - 1}),
    ("rstd.lo", None, {("y", (2, 0)): lambda y: y + 1}),
    ("rstd.hi", None, {("y", (2, 0)): lambda y: y - 1}),
], ids=["rX", "rY", "rdx", "rm", "rv", "uv", "lo", "hi"])
def test_tie_needed(monkeypatch, value, calls, hooks):
    """Clear mode: the cheat of ``test_slots_tied_to_the_identities`` (the other slots forged to
    the cheat, in range) is accepted by a verifier without that tie: the remainder's or slack's
    table holds the out-of-range value the identity needs, its slots an honest in-range one."""
    c = _c()
    w = _honest_slots(c, forward(c, hooks=hooks), value)
    name = c.rsqrt.slots(value[5:]) if value.startswith("rstd.") else c.slots(value)
    _without_tie(monkeypatch, name, calls)
    assert _accepts("clear", c, w)


@pytest.mark.parametrize("value", ["X", "dx", "RM", "RV"])
@pytest.mark.parametrize("first_only", [False, True], ids=["all", "first"])
def test_value_ties_needed(monkeypatch, value, first_only):
    """Clear mode: the field fraction of ``test_range_check_needed`` (X, dx, RM, RV + 2^-s, the
    remainder one less) with the value's slots honest (in range): every tie of the value rejects
    it, the first one named; a verifier without them accepts, every claim true. ``first``: the
    later phases read the honest table (X's copies for the gradients and the sums, the shift's
    RM or RV), so only the first tie is in the way."""
    c = _c()
    honest = forward(c)
    w = _honest_slots(c, _range_cheat(c, value), value)
    if first_only and value == "X":
        w |= {vgb.bound_name("bn.X", o): honest[vgb.bound_name("bn.X", o)] for o in ("b", "i")}
    elif first_only and value in ("RM", "RV"):
        w[c.t(value) + "2"] = honest[c.t(value)]
        _reading(monkeypatch, "shift_reduction", c.t(value), c.t(value) + "2")
    _rejected("clear", c, w, f"^bn.{value}.slots: slots do not recompose")
    _without_tie(monkeypatch, c.slots(value), {0} if first_only else None)
    assert _accepts("clear", c, w)


_IX = (2, 1)  # state 2 (step 1, ghost batch 0), feature 1


def _split_cheat(c, value, side):
    """A statistic (K, P or y) that the element zero-check reads as a cheat (K + 1 with P and dx
    honest, rdx solved; P + 1, rdx solved; y + 1 for X, Y, dx, with K, t honest) while the
    statistics zero-check reads the honest table: the slots honest (``side`` "element": the tie
    at the element point rejects) or holding the cheat (``side`` "statistic": the tie at the
    statistics point rejects). Every identity holds on the tables each zero-check reads."""
    honest = forward(c)
    k, p, y = (_at(c, honest, n, _IX) for n in ("K", "P", c.rsqrt.y))
    hooks, restore = {
        "K": ({("K", _IX): k + 1, ("P", _IX): p}, ["bn.K"]),
        "P": ({("P", _IX): p + 1}, ["bn.P"]),
        "rstd.y": ({("y", _IX): y + 1, ("yK", _IX): y, ("t", _IX): y * y},
                   [c.rsqrt.y, c.rsqrt.lo, c.rsqrt.hi, c.rsqrt.slots("lo"), c.rsqrt.slots("hi")]),
    }[value]
    w = forward(c, hooks=hooks)
    w |= {name: honest[name] for name in restore}
    return _honest_slots(c, w, value) if side == "element" else w


@pytest.mark.parametrize("value", ["K", "P", "rstd.y"])
@pytest.mark.parametrize("side, call", [("element", 0), ("statistic", 1)])
def test_statistic_ties_bind_both_zero_checks(mode, monkeypatch, value, side, call):
    """K, P and y are tables of both zero-checks (broadcast over i in the element one): each
    read is tied to the one committed slots tensor. A cheat in the element zero-check's copy
    only (``_split_cheat``; a dx from another K, P or rstd): with honest slots the element
    point's tie rejects, with the cheat in the slots the statistics point's; (clear mode) a
    verifier without that one tie accepts, every claim true."""
    c = _c()
    w = _split_cheat(c, value, side)
    name = c.rsqrt.slots("y") if value == "rstd.y" else c.slots(value)
    _rejected(mode, c, w, f"^{name}: slots do not recompose")
    if mode == "clear":
        _without_tie(monkeypatch, name, {call})
        assert _accepts(mode, c, w)


def _reading(monkeypatch, function, tensor, other):
    """Make the prover's tables of ``function``'s reductions read ``other`` where they read
    ``tensor`` (the verifier ignores the tables' arguments: only the prover's values move)."""
    from verifier.phase import Table

    original = getattr(vgb, function)

    def patched(*args, **kw):
        red = original(*args, **kw)
        red.tables = [[Table(t.kind, tuple(other if a == tensor else a for a in t.args)) for t in tables]
                      for tables in red.tables]
        return red

    monkeypatch.setattr(vgb, function, patched)


@pytest.mark.parametrize("function, tensor, tie", [
    ("grads_reduction", vgb.bound_name("bn.X", "b"), 1),
    ("sums_reduction", vgb.bound_name("bn.X", "i"), 2),
    ("shift_reduction", "bn.RM", 1),
    ("shift_reduction", "bn.RV", 1),
], ids=["X-grads", "X-sums", "RM-shift", "RV-shift"])
def test_second_phase_ties(mode, monkeypatch, function, tensor, tie):
    """A later phase reads another table with the same sum: X moved by one in the constant
    group (dy = 0: the gradients' and the sums' totals keep their values), or the last state of
    RM, RV moved (the shift's weight on it is 0). The sumcheck passes; its final claim is not
    what the slots recompose to: the tie rejects, and (clear mode) a verifier without that tie
    accepts."""
    c = _c()
    w = forward(c)
    other = np.array(w[tensor], dtype=object)
    if tensor.startswith("bn.X"):
        honest = np.zeros_like(w["bn.X"])
        honest[_FLAT_EL] = 1
        moved = derived_tables(c, w | {"bn.X": honest})[tensor]
        other = other + moved
    else:
        other[-1, 0] += 1
    w[tensor + "2"] = other
    _reading(monkeypatch, function, tensor, tensor + "2")
    slots = "bn.X.slots" if tensor.startswith("bn.X") else f"{tensor}.slots"
    _rejected(mode, c, w, f"^{slots}: slots do not recompose")
    if mode == "clear":
        _without_tie(monkeypatch, slots, {tie})
        assert _accepts(mode, c, w)


# --- the public tables are the verifier's --------------------------------------------------------------------


@pytest.mark.parametrize("label, instance, table, moved", [
    (b"ghost-bn:bn", 0, 0, 3), (b"ghost-bn:bn", 1, 0, 2),
    (b"ghost-bn:bn:stats", 0, 0, 3), (b"ghost-bn:bn:stats", 0, 1, 3), (b"ghost-bn:bn:stats", 1, 0, 1),
    (b"ghost-bn:bn:stats", 2, 0, 1), (b"ghost-bn:bn:sums", 0, 0, 2),
], ids=["element-eq", "statistics-eq", "stats-eq-s", "stats-eq-e", "grads-eq", "shift-weights", "sums-eq"])
def test_public_tables_are_the_verifiers(label, instance, table, moved):
    """The prover doubles a public table's final evaluation (an eq, the shift's weights) and
    moves another table's so that the instance's polynomial keeps its value (the sumcheck's
    final check holds): only the verifier's own evaluation of the public table sees it."""
    from verifier.sumcheck import SumcheckProof

    c = _c()
    shapes = {}
    original = vgb.verify_ghost_bn_step

    def tamper(phase, proof):
        if phase != label:
            return proof
        finals = [list(f) for f in proof.final_evals]
        shape = shapes[phase][instance]
        target = shape.evaluate(finals[instance])
        finals[instance][table] = 2 * finals[instance][table] % R
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
            return original(walk, c)
        finally:
            walk.ch = walk.ch.ch

    rejected("clear", get_backend("reference"), gadget, ranged(c), "bits", forward(c),
             "the prover's evaluation of a public table is wrong", tamper=tamper)
