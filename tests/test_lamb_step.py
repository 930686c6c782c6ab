"""One LAMB step as a standalone gadget (``circuits/lamb_step.py``, ``verifier/lamb_step.py``,
``prover/lamb_step.py``; docs/lamb.md section 4.1): the witness against the semantics of
``circuits/lamb.py`` and the kernel, the widths and relation bounds, completeness in both modes
with both range gadgets, and one cheating witness per attack, each rejected by the check named.

The layout is [T', n] = [4, 8] (entries low). Step 0 has P = 0 (a zero norm: phi = 2^KP), steps
1 and 2 are real, step 3 is padded (lr 0, G = 0: the moments decay, dP = 0); entries 6 and 7 are
padding (P = G = 0). Entry 5 has a tiny gradient, so eps dominates its divisor.

The cheats are built by ``forward``: the step recomputed from P_0, G, M0, V0 with some values
replaced, every remainder and slack then solved from its identity (so every identity holds) and
every slots tensor forged to recompose to its value (``nonlinear_harness.forge``): only the
check the test names stands in the way.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, keep_value, prove, rejected, verify

from circuits.lamb import KA, KP, SV, bias_corrections, round_half_up_div, spec_from_float, trust
from circuits.lamb_step import LambStep
from circuits.semantics import MAX_RELATION_BITS
from prover.backends import get_backend
from prover.lamb_step import lamb_step_witness
from verifier.field import MODULUS as R
from verifier.lamb_step import ranged, verify_lamb_step
from zktrain.fixedpoint.lamb import LambState, lamb_step

FRAC, K_LR, LIMB_BITS = 16, 16, 8
SPEC = spec_from_float((0.9, 0.999), 1e-6, 0.01, inv_c=64, frac_bits=FRAC)
LR = (41, 41, 30, 0)
T, N = 4, 8
I_EPS, PAD_STEP = 5, 3
#: Range-checked slots per parameter and step, by limb width (docs/lamb.md section 4.1).
SLOTS_PER_PARAMETER = {8: 81, 16: 47}

_rng = random.Random(16)
P0 = [0] * N
G = [[_rng.choice((-1, 1)) * _rng.randrange(1 << 30, 1 << 37) for _ in range(6)] + [0, 0] for _ in range(T)]
for _j in range(T):
    G[_j][I_EPS] = _rng.choice((-1, 1)) * _rng.randrange(1 << 15, 1 << 17)
G[PAD_STEP] = [0] * N
ZERO = [0] * N


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _c(range_kind="bits", **kw):
    limb_bits = None if range_kind == "bits" else LIMB_BITS
    return LambStep("lamb", 2, 3, SPEC, FRAC, K_LR, kw.pop("lr", LR), limb_bits=limb_bits, **kw)


def _kind(c):
    return "bits" if c.limb_bits is None else "limbs"


def _gadget(c):
    return lambda walk: verify_lamb_step(walk, c)


def _rejected(mode, c, witness, match):
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, match)


def _accepts(mode, c, witness, skip=()):
    return accepts(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, skip=skip)


# --- the step recomputed, with cheats -------------------------------------------------------------


def _rescale(z, shift):
    q = (z + (1 << (shift - 1))) >> shift
    return q, z - (q << shift)


def forward(c, p0=P0, g=G, m0=ZERO, v0=ZERO, hooks=None):
    """The gadget's tables and slots, computed from the equations of ``circuits/lamb.py``
    (module docstring) on Python ints. ``hooks[(key, j, i)]`` (i None for a per-step value)
    replaces a value: keys Mp, Vp, M, V, s, A (the bias correction the division uses), Dq (the
    divisor it uses), rq, NP (the norm phi is computed from and the table holds), NPphi (the
    norm phi alone is computed from), phi, fP, fU, f, NUs, phi2, lr (the rate Lphi and dP use),
    dP. Remainders and slacks are solved from the
    identities with the true public tables and D = s + E."""
    hooks = hooks or {}

    def h(key, j, i, honest):
        fn = hooks.get((key, j, i))
        return honest if fn is None else (fn(honest) if callable(fn) else fn)

    (b1, k1), (b2, k2) = c.spec.betas()
    E, ln, inv_c = c.spec.eps_int, c.ln, c.spec.inv_c
    ent = {k: np.empty((T, N), dtype=object) for k in
           ("P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "s", "e", "u", "rq", "rho", "sig", "dP", "rd")}
    stp = {k: np.empty(T, dtype=object) for k in
           ("NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi", "Lphi")}
    p, m_prev, v_prev = list(p0), list(m0), list(v0)
    for j in range(T):
        a, b = bias_corrections(c.spec, c.first_step + j)
        lr = h("lr", j, None, c.lr_table()[j])
        us = []
        for i in range(N):
            gi, pi = g[j][i], p[i]
            mp, vp = h("Mp", j, i, m_prev[i]), h("Vp", j, i, v_prev[i])
            xm = b1 * mp + ((1 << k1) - b1) * gi
            m = h("M", j, i, _rescale(xm, k1)[0])
            xv = (b2 << SV) * vp + ((1 << k2) - b2) * gi * gi
            v = h("V", j, i, _rescale(xv, k2 + SV)[0])
            x = v * b << c.cs
            s = h("s", j, i, math.isqrt(x))
            d = s + E
            num = m * a << c.cq
            rq = h("rq", j, i, round_half_up_div(m * h("A", j, i, a) << c.cq, h("Dq", j, i, d)))
            rho = 2 * num + d - 2 * rq * d
            u = c.c1 * rq + ln * pi
            us.append(u)
            row = dict(P=pi, G=gi, M=m, Mp=mp, V=v, Vp=vp, r1=xm - (m << k1), r2=xv - (v << (k2 + SV)), s=s,
                       e=x - s * s, u=2 * s - (x - s * s), rq=rq, rho=rho, sig=2 * d - 1 - rho)
            for k, val in row.items():
                ent[k][j, i] = val
        n_p = h("NP", j, None, sum(x * x for x in p))
        n_u = sum(x * x for x in us)
        phi = h("phi", j, None, trust(h("NPphi", j, None, n_p), n_u, c.frac_bits, c.lr_shift, c.ku))
        f_p = h("fP", j, None, int(n_p == 0))
        f_u = h("fU", j, None, int(n_u == 0))
        f = h("f", j, None, f_p + f_u - f_p * f_u)
        nus = h("NUs", j, None, (1 - f) * n_u + f)
        zs = (1 - f) * (n_p << c.z_shift) + f * (1 << 2 * KP)
        phi2 = h("phi2", j, None, phi * phi)
        vals = dict(NP=n_p, NU=n_u, NUs=nus, fP=f_p, fU=f_u, f=f, phi=phi, phi2=phi2,
                    lo=4 * zs - (4 * phi2 - 4 * phi + 1) * nus,
                    hi=(4 * phi2 + 4 * phi + 1) * nus - 4 * zs - 1,
                    Lphi=lr * phi)
        for k, val in vals.items():
            stp[k][j] = val
        for i in range(N):
            z = inv_c * lr * phi * us[i]
            dp = h("dP", j, i, _rescale(z, c.kd)[0])
            ent["dP"][j, i], ent["rd"][j, i] = dp, z - (dp << c.kd)
        m_prev, v_prev = list(ent["M"][j]), list(ent["V"][j])
        p = [pi - dpi for pi, dpi in zip(p, ent["dP"][j])]
    out = {c.t(k): arr for k, arr in ent.items() if k not in ("s", "e", "u")}
    out[c.sqrt.s], out[c.sqrt.e] = ent["s"], ent["e"]
    out.update({c.t(k): arr for k, arr in stp.items()})
    out[c.t("M0")] = np.array(m0, dtype=object)
    out[c.t("V0")] = np.array(v0, dtype=object)
    out[c.t("Pfinal")] = np.array(p, dtype=object)
    for value in c.ENTRY_SLOTS + c.STEP_SLOTS:
        out[c.slots(value)] = forge(c.slot_decomposition(value), np.asarray(out[c.t(value)]).reshape(-1))
    out[c.sqrt.slots("e")] = forge(c.sqrt.e_slots(), ent["e"].reshape(-1))
    out[c.sqrt.slots("u")] = forge(c.sqrt.u_slots(), ent["u"].reshape(-1))
    return out


def _at(w, c, name, j, i=None):
    arr = np.asarray(w[name if "." in name else c.t(name)])
    return int(arr[j] if i is None else arr[j, i])


def violated(c, w) -> set[str]:
    """The identities of (E) and (P) that fail (mod r) somewhere in the witness's tables."""
    out = set()
    pub = {"A": [a for a, _ in c.corrections()], "B": [b for _, b in c.corrections()], "LR": c.lr_table()}
    for j in range(T):
        step = {c.t(k): _at(w, c, k, j) for k in ("NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi",
                                                  "Lphi")}
        step[c.t("LR")] = pub["LR"][j]
        out |= {lab.split()[0] for lab, p in c.step_identities() if p.evaluate(step) % R}
        for i in range(N):
            vals = {c.t(k): _at(w, c, k, j, i) for k in ("P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "rq", "rho",
                                                         "dP", "rd")}
            vals |= {c.sqrt.s: _at(w, c, c.sqrt.s, j, i), c.sqrt.e: _at(w, c, c.sqrt.e, j, i),
                     c.t("A"): pub["A"][j], c.t("B"): pub["B"][j], c.t("Lphi"): _at(w, c, "Lphi", j)}
            out |= {lab.split()[0] for lab, p in c.entry_identities() if p.evaluate(vals) % R}
    return out


def _out_of_range(c, w, value, j, i=None) -> bool:
    d = c.slot_decomposition(value)
    return not d.min_value <= _at(w, c, value, j, i) <= d.max_value


# --- semantics, widths ------------------------------------------------------------------------------


def test_witness_is_the_semantics():
    """The prover's witness is ``forward`` (the equations of circuits/lamb.py on Python ints)
    table by table, and the engine's kernel (``zktrain.fixedpoint.lamb``: moments, dP, weights,
    norms, phi, bias corrections) entry by entry, also for a later segment (t from 6, nonzero
    starting moments); P_{t+1} = P_t - dP_t; every identity holds; step 0 is a zero norm
    (phi = 2^KP), the padded step moves nothing, and eps dominates entry 5's divisor."""
    rng = random.Random(9)
    m0 = [rng.randrange(-(1 << 36), 1 << 36) for _ in range(6)] + [0, 0]
    v0 = [rng.randrange(0, 1 << 58) for _ in range(6)] + [0, 0]
    for p0, g, m, v, first in ((P0, G, ZERO, ZERO, 1), ([1 << 40] * 6 + [0, 0], [G[1]] + G[1:], ZERO, ZERO, 1),
                               ([1 << 44] * 6 + [0, 0], G, m0, v0, 6)):
        c = _c(first_step=first)
        w = lamb_step_witness(c, p0, g, m, v)
        ref = forward(c, p0, g, m, v)
        for name, arr in ref.items():
            assert np.array_equal(np.asarray(w[name], dtype=object), np.asarray(arr, dtype=object)), name
        state = LambState(np.array(p0, dtype=object), np.array(m), np.array(v), first - 1)
        for j in range(T):
            assert w[c.t("P")][j].tolist() == [int(x) for x in state.p]
            state, dp, sc = lamb_step(state, np.array(g[j], dtype=np.int64), LR[j], SPEC, FRAC, K_LR)
            assert w[c.t("dP")][j].tolist() == [int(x) for x in dp] and w[c.t("M")][j].tolist() == state.m.tolist()
            assert w[c.t("V")][j].tolist() == state.v.tolist()
            assert (w[c.t("phi")][j], w[c.t("NP")][j], w[c.t("NU")][j]) == (sc.trust, sc.sum_p2, sc.sum_u2)
            assert (w[c.t("A")][j], w[c.t("B")][j]) == (sc.a, sc.b)
        assert w[c.t("Pfinal")].tolist() == [int(x) for x in state.p]
        assert violated(c, w) == set()
    c = _c()
    w = lamb_step_witness(c, P0, G, ZERO, ZERO)
    assert w[c.t("NP")][0] == 0 and w[c.t("phi")][0] == 1 << KP and w[c.t("fP")].tolist() == [1, 0, 0, 0]
    assert w[c.t("dP")][PAD_STEP].tolist() == [0] * N and w[c.t("U")][PAD_STEP].tolist() != [0] * N
    assert _at(w, c, c.sqrt.s, 1, I_EPS) < SPEC.eps_int
    assert set(w[c.t("M")][:, 6:].reshape(-1)) == {0}


def test_widths_and_relation_bounds():
    """Every identity below 2^250 at the declared widths; the wide values (the isqrt's slacks,
    rho, sigma, the per-step slacks) use wide decompositions; the slot count per parameter; a
    shape whose fused rounding would pass 2^250 is refused by name, and so is LAMB without
    adaptation."""
    c = _c("limbs")
    assert max(c.relation_bounds().values()) <= MAX_RELATION_BITS
    assert c.x_bits > 126 and c.sqrt.e_slots().width == c.sqrt.s_bits + 1 > 63
    assert c.slot_decomposition("lo").width > 200 and c.rq_bits == 41 and c.phi_bits == 41
    assert len([r for r in ranged(c) if r[2] == c.num_vars]) == 11
    assert c.slots_per_parameter() == SLOTS_PER_PARAMETER[LIMB_BITS]
    assert LambStep("lamb", 2, 3, SPEC, FRAC, K_LR, LR).slots_per_parameter() == SLOTS_PER_PARAMETER[16]
    with pytest.raises(ValueError, match=r"identity \(LO\) could reach"):
        LambStep("lamb", 2, 20, SPEC, FRAC, K_LR, LR)
    wide = LambStep("lamb", 2, 14, SPEC, FRAC, K_LR, LR, norm_u_bits=2 * 64 + 15)  # N_U declared: 2^14 entries
    assert wide.nu_bits == 143 and max(wide.relation_bounds().values()) <= 230
    with pytest.raises(ValueError, match="N_U = .* outside its 100-bit range"):
        lamb_step_witness(_c(norm_u_bits=100), P0, G, ZERO, ZERO)
    with pytest.raises(ValueError, match="without adaptation"):
        LambStep("lamb", 2, 3, spec_from_float(weight_decay=0, inv_c=64), FRAC, K_LR, LR)
    with pytest.raises(ValueError, match="lr needs 2\\^step_vars = 4 entries"):
        LambStep("lamb", 2, 3, SPEC, FRAC, K_LR, LR[:3])


def test_witness_refuses_what_does_not_fit():
    c = _c()
    with pytest.raises(ValueError, match="G = .* outside its 40-bit range"):
        lamb_step_witness(c, P0, [[1 << 39] * N] + G[1:], ZERO, ZERO)
    with pytest.raises(ValueError, match="not P_\\(t\\+1\\) = P_t - dP_t"):
        lamb_step_witness(c, [P0] * T, G, ZERO, ZERO)
    stacked = forward(c)[c.t("P")]
    assert lamb_step_witness(c, stacked, G, ZERO, ZERO)[c.t("Pfinal")].tolist() == forward(c)[c.t("Pfinal")].tolist()


# --- completeness -------------------------------------------------------------------------------------


def test_completeness(mode, range_kind):
    """The fixture (zero norm, padded step and entries, eps-dominated entry): accepted, every
    claim true; the gadget returns [P, G, P, M0, V0] and ledgers every committed tensor."""
    c = _c(range_kind)
    w = lamb_step_witness(c, P0, G, ZERO, ZERO)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, w)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:5]] == [c.t(n) for n in ("P", "G", "P", "M0", "V0")]
    ledgered = {x.tensor for x in claims[5:]}
    assert set(c.committed_tensors()) <= ledgered


def test_completeness_zero_update_and_later_segment(mode):
    """Step 0 with P = 0 and G = 0 (both norms zero), then a later segment: t from 6, nonzero
    starting moments M0, V0 (claims returned on them)."""
    g = [ZERO] + G[1:]
    c = _c()
    assert _accepts(mode, c, lamb_step_witness(c, P0, g, ZERO, ZERO))
    assert lamb_step_witness(c, P0, g, ZERO, ZERO)[c.t("fU")][0] == 1
    c = _c(first_step=6)
    m0 = [_rng.randrange(-(1 << 36), 1 << 36) for _ in range(6)] + [0, 0]
    v0 = [_rng.randrange(0, 1 << 58) for _ in range(6)] + [0, 0]
    assert _accepts(mode, c, lamb_step_witness(c, [1 << 44] * 6 + [0, 0], G, m0, v0))


def test_completeness_one_step_and_no_decay(mode):
    """One step (no step variables: the per-step zero-check has no rounds) and lam = 0 with
    ``always_adapt`` (U = c1 r_q: the norm sumcheck's cross term vanishes)."""
    rng = random.Random(5)
    for sv, spec in ((0, SPEC), (1, spec_from_float((0.9, 0.999), 1e-6, 0, inv_c=64, always_adapt=True))):
        c = LambStep("lamb", sv, 2, spec, FRAC, K_LR, (41,) * (1 << sv), limb_bits=None)
        p0 = [rng.randrange(-(1 << 45), 1 << 45) for _ in range(4)]
        g = [[rng.randrange(-(1 << 37), 1 << 37) for _ in range(4)] for _ in range(1 << sv)]
        assert _accepts(mode, c, lamb_step_witness(c, p0, g, [0] * 4, [0] * 4))


# --- soundness ---------------------------------------------------------------------------------------


def test_bias_correction_skipped(mode):
    """r_q at step 1 computed with A_t = 2^KA (m_hat = m), every downstream value (U, the norms,
    phi, dP) following it: the remainder solved from (Q) with the verifier's A_t is far beyond
    2D (rho past its width): RC(rho)."""
    c = _c()
    w = forward(c, hooks={("A", 1, 0): 1 << KA})
    assert violated(c, w) == set() and _at(w, c, "rq", 1, 0) != _at(forward(c), c, "rq", 1, 0)
    assert _out_of_range(c, w, "rho", 1, 0)
    _rejected(mode, c, w, "^range of lamb.rho.slots: ")


@pytest.mark.parametrize("mode, moments", [
    pytest.param(m, k, id=f"{m}-{n}") for m, k, n in (("clear", ("Mp", "Vp"), "both"), ("clear", ("Mp",), "first"),
                                                       ("clear", ("Vp",), "second"), ("zk", ("Mp", "Vp"), "both"))])
def test_moments_of_another_step(mode, moments):
    """Step 2's moments driven by step 0's (Mp and/or Vp hold M_0, V_0, not M_1, V_1), everything
    after following: every identity and range holds; only the shift (phase lamb:<name>:prev,
    M's and V's each) sees that Mp is not M shifted by one step."""
    c = _c()
    honest = forward(c)
    hooks = {(k, 2, i): _at(honest, c, k[0], 0, i) for k in moments for i in range(N)}
    w = forward(c, hooks=hooks)
    assert violated(c, w) == set() and _at(w, c, "rq", 2, 0) != _at(honest, c, "rq", 2, 0)
    assert not any(_out_of_range(c, w, v, j, i) for v in ("M", "V", "r1", "r2", "rq", "rho", "sig", "dP", "rd")
                   for j in range(T) for i in range(N))
    _rejected(mode, c, w, "^lamb:lamb:prev: ")


def test_moment_not_from_its_predecessor(mode):
    """Mp honest (the shift holds), M at step 2 taken from step 0 and the remainder r1 solving
    (M): r1 leaves its 11 bits: RC(r1)."""
    c = _c("limbs")
    w = forward(c, hooks={("M", 2, 1): _at(forward(c), c, "M", 0, 1)})
    assert violated(c, w) == set() and _out_of_range(c, w, "r1", 2, 1)
    _rejected(mode, c, w, "^range of lamb.r1.slots: ")


def test_eps_omitted(mode):
    """r_q = round(2^cq A M / s) without E at the eps-dominated entry (s < E): far larger in
    magnitude; with the true D the remainder solved from (Q) leaves [0, 2D - 1] on the side of
    M's sign (M < 0 here: rho past 2D, sigma < 0): RC(sigma)."""
    c = _c()
    w = forward(c, hooks={("Dq", 1, I_EPS): lambda d: d - SPEC.eps_int})
    assert violated(c, w) == set() and abs(_at(w, c, "rq", 1, I_EPS)) > 4 * abs(_at(forward(c), c, "rq", 1, I_EPS))
    assert _at(w, c, "M", 1, I_EPS) < 0 and _at(w, c, "sig", 1, I_EPS) < 0 <= _at(w, c, "rho", 1, I_EPS)
    _rejected(mode, c, w, "^range of lamb.sig.slots: ")


@pytest.mark.parametrize("delta, caught", [(1, "e"), (-1, "u")])
def test_square_root_off_by_one(mode, delta, caught):
    """s + 1: e = x - s^2 < 0, RC(e); s - 1: u = 2s - e < 0, RC(u); the division and everything
    after recomputed from the wrong root (every identity holds)."""
    c = _c()
    w = forward(c, hooks={("s", 1, 0): lambda s: s + delta})
    assert violated(c, w) == set()
    _rejected(mode, c, w, f"^range of lamb.s.{caught}.slots: ")


@pytest.mark.parametrize("delta, caught", [(1, "rho"), (-1, "sig")])
def test_rq_off_by_one(mode, delta, caught):
    """r_q + 1: rho = rho_h - 2D < 0, RC(rho); r_q - 1: sigma = sigma_h - 2D < 0, RC(sigma);
    U, phi and dP follow. A verifier without that range check accepts."""
    c = _c()
    w = forward(c, hooks={("rq", 2, 3): lambda r: r + delta})
    assert violated(c, w) == set() and _at(w, c, caught, 2, 3) < 0
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.slots(caught)})
    _rejected(mode, c, w, f"^range of lamb.{caught}.slots: ")


@pytest.mark.parametrize("how", ["phi", "table"])
def test_phi_from_another_norm(mode, how):
    """phi at step 1 computed from step 2's N_P. ``phi``: the table keeps step 1's true N_P, the
    slacks solved from (LO), (HI): one is negative, RC(lo) or RC(hi). ``table``: the N_P table
    holds step 2's norm too (the slacks in range): the norm sumcheck (phase prev) rejects."""
    c = _c()
    other = _at(forward(c), c, "NP", 2)
    key = "NPphi" if how == "phi" else "NP"
    w = forward(c, hooks={(key, 1, None): other})
    assert violated(c, w) == set() and _at(w, c, "phi", 1) != _at(forward(c), c, "phi", 1)
    if how == "table":
        assert not any(_out_of_range(c, w, v, 1) for v in ("lo", "hi", "phi"))
        _rejected(mode, c, w, "^lamb:lamb:prev: ")
    else:
        bad = [v for v in ("lo", "hi") if _at(w, c, v, 1) < 0]
        assert len(bad) == 1
        _rejected(mode, c, w, f"^range of lamb.{bad[0]}.slots: ")


def test_dp_remainder_out_of_range(mode):
    """dP + 1 at step 1, rd = rd_h - 2^kd below -2^(kd-1): RC(rd); a verifier without it
    accepts (the caller's P_{t+1} = P_t - dP would then take the wrong step)."""
    c = _c()
    w = forward(c, hooks={("dP", 1, 2): lambda d: d + 1})
    assert violated(c, w) == set() and _out_of_range(c, w, "rd", 1, 2)
    if mode == "clear":
        assert _accepts(mode, c, w, skip={c.slots("rd")})
    _rejected(mode, c, w, "^range of lamb.rd.slots: ")


@pytest.mark.parametrize("mode, phi", [("clear", 0), ("clear", 1), ("clear", 1 << KP), ("zk", 0)])
def test_zero_norm_denied(mode, phi):
    """Step 0's N_P = 0 with f_P = 0 claimed (f = 0: the fused rounding applies), whatever phi:
    every identity holds, lo = -(2 phi - 1)^2 N_U < 0: RC(lo) (no t = N - 1 + f check needed)."""
    c = _c()
    w = forward(c, hooks={("fP", 0, None): 0, ("phi", 0, None): phi})
    assert violated(c, w) == set() and _at(w, c, "lo", 0) < 0
    _rejected(mode, c, w, "^range of lamb.lo.slots: ")


def test_flags_not_boolean(mode):
    """Both norms zero (step 0 with G = 0 too): f_P = f_U = 2 make f = 0, (ZP), (ZU) hold at
    zero norms; with f = 0, hi = -4Z - 1 = -1 whatever phi: RC(hi) (no booleanity needed)."""
    c = _c()
    g = [ZERO] + G[1:]
    w = forward(c, g=g, hooks={("fP", 0, None): 2, ("fU", 0, None): 2, ("phi", 0, None): 7})
    assert _at(w, c, "f", 0) == 0 and violated(c, w) == set() and _at(w, c, "hi", 0) == -1
    _rejected(mode, c, w, "^range of lamb.hi.slots: ")


@pytest.mark.parametrize("flag, caught", [("fP", "(ZP)"), ("fU", "(ZU)"), ("f", "(F)")])
def test_zero_norm_claimed(mode, flag, caught):
    """Step 1 (both norms nonzero) with f_P = 1, f_U = 1 or f = 1 alone claimed, so that
    phi = 2^KP (the slacks gated, in range): only (ZP) N_P f_P = 0, (ZU) N_U f_U = 0 or (F)
    breaks: the zero-check."""
    c = _c()
    w = forward(c, hooks={(flag, 1, None): 1, ("phi", 1, None): 1 << KP})
    assert _at(w, c, "f", 1) == 1 and violated(c, w) == {caught}
    _rejected(mode, c, w, "^lamb:lamb: ")


def test_zero_norm_ratio_pinned(mode):
    """Step 0 (f = 1) with phi another value: (L) f (phi - 2^KP) = 0 breaks: the zero-check."""
    c = _c()
    w = forward(c, hooks={("phi", 0, None): (1 << KP) + 1})
    assert violated(c, w) == {"(L)"}
    _rejected(mode, c, w, "^lamb:lamb: ")


def test_step_with_another_rate(mode):
    """Step 1's dP taken with step 2's rate (Lphi = 30 phi where lr_num_1 = 41), dP and rd
    consistent with it: only (LP) Lphi = lr_num phi breaks: the zero-check."""
    c = _c()
    w = forward(c, hooks={("lr", 1, None): LR[2]})
    assert violated(c, w) == {"(LP)"}
    _rejected(mode, c, w, "^lamb:lamb: ")


_NOT_BOOLEAN = {("fP", 0, None): 2, ("fU", 0, None): 2, ("phi", 0, None): 7}
_TIES = [
    ("M", {("M", 2, 1): lambda m: m + (1 << 20)}),
    ("V", {("V", 2, 1): lambda v: v + (1 << 40)}),
    ("r1", {("M", 2, 1): lambda m: m + (1 << 20)}),
    ("r2", {("V", 2, 1): lambda v: v + (1 << 40)}),
    ("rq", {("rq", 2, 3): lambda r: r + 1}),
    ("rho", {("rq", 2, 3): lambda r: r + 1}),
    ("sig", {("rq", 2, 3): lambda r: r - 1}),
    ("s.e", {("s", 1, 0): lambda s: s + 1}),
    ("dP", {("dP", 1, 2): lambda d: d + 1}),
    ("rd", {("dP", 1, 2): lambda d: d + 1}),
    ("phi", {("NPphi", 1, None): 1}),
    ("phi2", {("NPphi", 1, None): 1}),
    ("lo", {("NPphi", 1, None): 1}),
    ("hi", {("NPphi", 1, None): 1}),
    ("NUs", _NOT_BOOLEAN),
]


@pytest.mark.parametrize("mode, value, hooks", [pytest.param("clear", v, h, id=f"clear-{v}") for v, h in _TIES]
                         + [pytest.param("zk", v, h, id=f"zk-{v}") for v, h in _TIES
                            if v in ("M", "sig", "s.e", "phi", "NUs")])
def test_slots_tied_to_the_identities(mode, value, hooks):
    """A cheat whose own range check would catch it, its table in the identities, but the
    slots tensor holding the honest value (in range): the tie at the zero-check's point
    (``Walk.slice_value``) rejects: the slots do not recompose to the identity's value. (The
    zero-knowledge mode's tie, an equality of commitments, on a few of them.)"""
    c = _c()
    g = [ZERO] + G[1:] if hooks is _NOT_BOOLEAN else G
    w = forward(c, g=g, hooks=hooks)
    name = f"lamb.{value}.slots"
    w[name] = forward(c, g=g)[name]
    _rejected(mode, c, w, f"^{name}: slots do not recompose")


@pytest.mark.parametrize("instance, table, moved", [(0, "A", "rho"), (0, "B", "e"), (1, "LR", "lo")])
def test_public_tables_are_the_verifiers(monkeypatch, instance, table, moved):
    """The prover doubles a public table's final evaluation (the bias corrections A_t, B_t, the
    rates lr_num_t) and moves another table's so that the combined polynomial keeps its value
    (the sumcheck's final check holds): only the verifier's own evaluation of the public table
    sees it."""
    from verifier import lamb_step as vlamb
    from verifier.sumcheck import SumcheckProof

    c = _c()
    built, original = [], vlamb.zero_check

    def spy(*args):
        built.append(original(*args))
        return built[-1]

    monkeypatch.setattr(vlamb, "zero_check", spy)
    tables = vlamb.entry_tables(c) if instance == 0 else vlamb.step_tables(c)
    names = [t.name for t in tables]
    at, mv = 1 + names.index(c.t(table)), 1 + names.index(c.sqrt.e if moved == "e" else c.t(moved))

    def tamper(label, proof):
        if label != b"lamb:lamb":
            return proof
        finals = [list(f) for f in proof.final_evals]
        shape = built[-2 + instance].shapes[0]
        target = shape.evaluate(finals[instance])
        finals[instance][at] = 2 * finals[instance][at] % R
        keep_value(shape, finals[instance], mv, target)
        return SumcheckProof(proof.rounds, tuple(tuple(f) for f in finals))

    rejected("clear", get_backend("reference"), _gadget(c), ranged(c), "bits", lamb_step_witness(c, P0, G, ZERO, ZERO),
             f"public table lamb.{table}: the prover's evaluation", tamper=tamper)



def _reading(monkeypatch, function, tensor, other, kind=None):
    """Make the prover's tables of ``function``'s reductions (of ``kind`` if given) read
    ``other`` where they read ``tensor`` (the verifier ignores the tables' arguments: only the
    prover's values move)."""
    from verifier import lamb_step as vlamb
    from verifier.phase import Table

    original = getattr(vlamb, function)

    def swap(table):
        if kind is not None and table.kind != kind:
            return table
        return Table(table.kind, tuple(other if a == tensor else a for a in table.args))

    def patched(*args, **kw):
        red = original(*args, **kw)
        red.tables = [[swap(t) for t in tables] for tables in red.tables]
        return red

    monkeypatch.setattr(vlamb, function, patched)


def test_entry_ratio_is_the_committed_one(mode, monkeypatch):
    """The per-entry zero-check reads a second Lphi (step 1's at lr 30 where it is 41, dP and rd
    consistent with it), the per-step one the committed Lphi (its (LP) holds): every check of the
    gadget passes, and the claim it ledgers on Lphi at the entries' step point is false: the
    caller's opening rejects."""
    c = _c()
    w = forward(c, hooks={("lr", 1, None): LR[2]})
    w[c.t("Lphi2")] = w[c.t("Lphi")]
    w[c.t("Lphi")] = np.array([lr * int(phi) for lr, phi in zip(LR, w[c.t("phi")])], dtype=object)
    _reading(monkeypatch, "zero_check", c.t("Lphi"), c.t("Lphi2"), kind="broadcast")
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), "bits", w)
    claims = verify(mode, _gadget(c), ranged(c), "bits", proof)
    assert not claims_true(mode, prover_claims, claims, truth)
    honest = lamb_step_witness(c, P0, G, ZERO, ZERO)
    honest[c.t("Lphi2")] = honest[c.t("Lphi")]
    assert _accepts(mode, c, honest)


@pytest.mark.parametrize("value", ["M", "V", "rq"])
def test_second_phase_claims_are_tied(mode, monkeypatch, value):
    """The shift (M, V) or the norm sumcheck (r_q) reads another table with the same sum: M or V
    changed at the last step (the shift's weight there is 0), r_q replaced by the other root of
    (c1 r_q + ln P)^2 at one entry. The sumcheck passes; its final claim is not what the slots
    recompose to: the tie (``Walk.slice_value``) rejects."""
    c = _c()
    w = lamb_step_witness(c, P0, G, ZERO, ZERO)
    other = np.array(w[c.t(value)], dtype=object)
    if value == "rq":
        rq, p = int(other[1, 0]), int(w[c.t("P")][1, 0])
        other[1, 0] = (-rq - 2 * c.ln * p * pow(c.c1, -1, R)) % R
        function = "norms_reduction"
    else:
        other[T - 1, 0] += 1
        function = "step_functional_reduction"
    w[c.t(value + "2")] = other
    _reading(monkeypatch, function, c.t(value), c.t(value + "2"))
    _rejected(mode, c, w, f"^lamb.{value}.slots: slots do not recompose")


@pytest.mark.parametrize("value, hooks", [
    ("M", {("M", 2, 1): lambda m: m + (1 << 20)}),
    ("V", {("V", 2, 1): lambda v: v + (1 << 40)}),
    ("rq", {("rq", 2, 3): lambda r: r + 1}),
], ids=["M", "V", "rq"])
def test_entry_claims_are_tied(mode, monkeypatch, value, hooks):
    """M, V and r_q are read by two phases (the zero-check, and the shift or the norm
    sumcheck), each claim tied to the slots on its own: the zero-check reads a cheat (every
    identity holding), the second phase and the slots the honest table. The zero-check's tie
    rejects; the second phase's would not."""
    c = _c()
    w, honest = forward(c, hooks=hooks), forward(c)
    w[c.t(value + "2")] = w[c.t(value)]
    w[c.t(value)], w[c.slots(value)] = honest[c.t(value)], honest[c.slots(value)]
    _reading(monkeypatch, "zero_check", c.t(value), c.t(value + "2"), kind="flat")
    _rejected(mode, c, w, f"^lamb.{value}.slots: slots do not recompose")


def _edit(c, w, value, j, i, delta):
    """w with one table entry moved by delta and its slots re-forged (with u = 2s - e for the
    isqrt's e, sigma = 2D - 1 - rho for rho): every range check and tie holds."""
    w = dict(w)
    name = c.sqrt.e if value == "e" else c.t(value)
    w[name] = np.array(w[name], dtype=object)
    if i is None:
        w[name][j] += delta
    else:
        w[name][j, i] += delta
    flat = w[name].reshape(-1)
    if value == "e":
        s_ = w[c.sqrt.s].reshape(-1)
        w[c.sqrt.slots("e")] = forge(c.sqrt.e_slots(), flat)
        w[c.sqrt.slots("u")] = forge(c.sqrt.u_slots(), 2 * s_ - flat)
        return w
    w[c.slots(value)] = forge(c.slot_decomposition(value), flat)
    if value == "rho":
        d = w[c.sqrt.s].reshape(-1) + SPEC.eps_int
        w[c.slots("sig")] = forge(c.slot_decomposition("sig"), 2 * d - 1 - flat)
    return w


_ALONE = [("r1", 1, 0, "(M)"), ("r2", 1, 0, "(V)"), ("e", 1, 0, "(S)"), ("rho", 1, 0, "(Q)"), ("rd", 1, 0, "(D)"),
          ("lo", 1, None, "(LO)"), ("hi", 1, None, "(HI)")]


@pytest.mark.parametrize("mode, value, j, i, caught", [pytest.param("clear", *a, id=f"clear-{a[3]}") for a in _ALONE]
                         + [pytest.param("zk", *a, id=f"zk-{a[3]}") for a in _ALONE if a[3] in ("(V)", "(LO)")])
def test_identity_alone(mode, value, j, i, caught):
    """One remainder or slack moved by one (in range, its slots and ties consistent): only its
    identity breaks, and the zero-check rejects (every identity of (E) and (P) is needed; the
    zero-knowledge mode's combined check on two of them)."""
    c = _c()
    w = _edit(c, forward(c), value, j, i, 1)
    assert violated(c, w) == {caught}
    _rejected(mode, c, w, "^lamb:lamb: ")


def test_square_of_phi_is_pinned(mode):
    """phi at step 1 moved by 5 and phi2 chosen so that lo sits mid-range (lo + hi =
    8 phi NUs - 1 whatever phi2): both slacks in range, only (PH) phi2 = phi^2 breaks."""
    c = _c()
    honest = forward(c)
    phi, nus, z = _at(honest, c, "phi", 1) + 5, _at(honest, c, "NUs", 1), _at(honest, c, "NP", 1) << c.z_shift
    phi2 = (4 * z - nus) // (4 * nus)  # lo = 4Z - (4 phi2 - 4 phi + 1) NUs ~ 4 phi NUs
    w = forward(c, hooks={("phi", 1, None): phi, ("phi2", 1, None): phi2})
    assert violated(c, w) == {"(PH)"} and not any(_out_of_range(c, w, v, 1) for v in ("lo", "hi", "phi", "phi2"))
    _rejected(mode, c, w, "^lamb:lamb: ")


def test_gated_norm_is_pinned(mode):
    """NUs at step 1 not N_U but another step's N_U, phi and the slacks computed from it (all
    in range): only (NS) NUs = (1 - f) N_U + f breaks."""
    c = _c()
    honest = forward(c)
    other = _at(honest, c, "NU", 2)
    phi = trust(_at(honest, c, "NP", 1), other, FRAC, K_LR, c.ku)
    w = forward(c, hooks={("NUs", 1, None): other, ("phi", 1, None): phi})
    assert phi != _at(honest, c, "phi", 1) and violated(c, w) == {"(NS)"}
    assert not any(_out_of_range(c, w, v, 1) for v in ("lo", "hi", "phi", "NUs"))
    _rejected(mode, c, w, "^lamb:lamb: ")
