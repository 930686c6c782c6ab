"""LARS's trust ratio as a gadget (``circuits/trust.py``, ``verifier/trust.py``,
``prover/trust.py``; docs/lars.md section 4.4, nonlinear-gadgets.md sections 5 and 8): the
semantics against ``circuits.lars.trust_ratio``, the widths and the relation bound, completeness
in both modes with both range gadgets (zero norms, eps = 0 and eps > 0, wide norms), and one
cheating witness per check, each rejected by the check meant for it; then the same for LARC's
clip mode (``clip_lr``: the output is ``circuits.lars.larc_multiplier``'s m_q).

The layout is [T', Gp] = [2, 4] (g low): step 0 is a real step, step 1 a padded one (zero
gradients), g = 3 a padded tensor (N = M = 0).
"""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest
from nonlinear_harness import accepts, claims_true, forge, keep_value, mle, prove, rejected, verify

from circuits.lars import LarsSpec, larc_multiplier, spec_from_float, trust_ratio, update_multiplier
from circuits.momentum import Dyadic
from circuits.semantics import MAX_RELATION_BITS
from circuits.sqrt import WideBitDecomposition, WideLimbDecomposition
from circuits.poly import Poly
from circuits.trust import TrustRatio
from prover.backends import get_backend
from prover.trust import trust_witness
from verifier.errors import VerifyError
from verifier.field import MODULUS as R
from verifier import trust as vtrust
from verifier.sumcheck import SumcheckProof
from verifier.trust import ranged, verify_trust_ratio

LR_SHIFT, NORM_BITS, LIMB_BITS = 16, 112, 8
#: torch's defaults at batch 64 (mean cross-entropy): E = eps 2^(2R+k+k_b) / c ~ 2^41.4.
SPEC = spec_from_float(0.9, 1e-4, 1e-3, 1e-8, inv_c=64)
SPEC_NO_EPS = replace(SPEC, eps_int=0)

_rng = random.Random(16)
#: [T', Gp] flat, g low. Entries: 0 both nonzero (N ~ 2^110: wide); 1 P = 0 (a bias at
#: zero); 2 both nonzero, ||g|| tiny (s_G = 2): eps dominates D; 3 padded tensor; 4..7 the
#: padded step (G = 0): 4 and 6 s_G = 0, 5 both zero, 7 padded.
N = [_rng.randrange(1 << 109, 1 << 110), 0, _rng.randrange(1 << 89, 1 << 90), 0,
     _rng.randrange(1 << 105, 1 << 106), 0, _rng.randrange(1 << 60, 1 << 61), 0]
M = [_rng.randrange(1 << 62, 1 << 63), _rng.randrange(1 << 40, 1 << 41), 5, 0, 0, 0, 0, 0]
I_BOTH, I_P0, I_EPS, I_PAD, I_STEP = 0, 1, 2, 3, 4


@pytest.fixture(params=["clear", "zk"])
def mode(request):
    return request.param


@pytest.fixture(params=["limbs", "bits"])
def range_kind(request):
    return request.param


def _c(range_kind="bits", spec=SPEC, norm_bits=NORM_BITS):
    return TrustRatio("lars", 1, 2, spec, LR_SHIFT, norm_bits, None if range_kind == "bits" else LIMB_BITS)


def _gadget(c):
    return lambda walk: verify_trust_ratio(walk, c)


def _kind(c):
    return "bits" if c.limb_bits is None else "limbs"


def _accepts(mode, c, witness, skip=()):
    return accepts(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, skip=skip)


def _rejected(mode, c, witness, match):
    rejected(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness, match)


def _signed(v: int) -> int:
    v %= R
    return v - R if v > R // 2 else v


def _values(c, witness, i) -> dict[str, int]:
    """Entry i of every table of the zero-check (LARC's public LR included)."""
    out = {n: int(np.asarray(witness[n]).reshape(-1)[i]) for n in vtrust.tables(c)}
    if c.clip:
        out[c.lr_table] = c.clip_lr[i >> c.group_vars]
    return out


def violated(c, witness) -> set[str]:
    """The identities of (T) that fail (mod r) at some entry of the witness's tables."""
    out = set()
    for i in range(1 << c.num_vars):
        values = _values(c, witness, i)
        out |= {label.split()[0] for label, p in c.identities() if p.evaluate(values) % R}
    return out


def _honest_division(c, s_p, s_g, eps=None):
    """(lambda, rho, sigma) of the division with roots s_p, s_g (D with ``eps`` if given)."""
    d = c.grad_coeff * s_g + c.decay_coeff * s_p + (c.eps if eps is None else eps)
    n, den = c.numerator_coeff * s_p, d << c.eta_shift
    lam = (2 * n + den) // (2 * den)
    rho = 2 * n + den - 2 * lam * den
    return lam, rho, 2 * den - 1 - rho


def cheat(c, edits: dict[int, dict[str, int]], norms=None) -> dict[str, np.ndarray]:
    """The honest witness with the values of some entries replaced (keys: s_p, e_p, s_g, e_g,
    f_p, f_g, f, lam (lambda_q), rho, sig; LARC: c, m, rho2, sig2, cmp; integers or field
    elements), t = s - 1 + f and u = 2s - e recomputed, and every slots tensor forged to
    recompose to its (edited) value mod r: a witness that passes every check but those its
    values break."""
    norms = norms or ((N_CLIP, M_CLIP) if c.clip else (N, M))
    w = {k: np.array(v, dtype=object) if v.dtype == object else v for k, v in trust_witness(c, *norms).items()}
    keys = {"s_p": c.sqrt_p.s, "e_p": c.sqrt_p.e, "s_g": c.sqrt_g.s, "e_g": c.sqrt_g.e, "f_p": c.f_p,
            "f_g": c.f_g, "f": c.flag, "lam": c.ratio, "rho": c.rho, "sig": c.sig}
    if c.clip:
        keys |= {"c": c.clip_flag, "m": c.lam} | {k: table for k, table, _ in c.sliced()[4:]}
    for i, edit in edits.items():
        for k, v in edit.items():
            w[keys[k]][i] = v
    for root, f, t in ((c.sqrt_p, c.f_p, "tP"), (c.sqrt_g, c.f_g, "tG")):
        s, e = w[root.s], w[root.e]
        w[root.slots("e")] = forge(root.e_slots(), [_signed(v) for v in e])
        w[root.slots("u")] = forge(root.u_slots(), [_signed(2 * a - b) for a, b in zip(s, e)])
        w[c.slots(t)] = forge(c.t_slots(), [_signed(a - 1 + b) for a, b in zip(s, w[f])])
    for key, table, d in c.sliced():
        w[c.slots(key)] = forge(d, [_signed(x) for x in w[table]])
    return w


def _entry(c, i, norms=None):
    norms = norms or ((N_CLIP, M_CLIP) if c.clip else (N, M))
    return c.entry(norms[0][i], norms[1][i], i >> c.group_vars)


# --- semantics and widths -----------------------------------------------------------------------


@pytest.mark.parametrize("spec", [
    SPEC, SPEC_NO_EPS,
    spec_from_float(0.9, 0, 0.02, 0, inv_c=8),  # no decay, no eps: D = 2^k s_G
    LarsSpec(Dyadic(0, 0), Dyadic(3, 5), Dyadic(1, 0), 7, 1, trust_bits=8),
], ids=["torch", "eps0", "nodecay", "coarse"])
def test_semantics_is_trust_ratio(spec):
    """Every entry's (s_P, s_G, lambda_q) is ``circuits.lars.trust_ratio``'s, over norms from
    2^0 to 2^150, zeros, perfect squares and their neighbours; every identity of (T) holds over
    the integers and rho, sigma, lambda fit their widths."""
    c = _c(spec=spec, norm_bits=150)
    rng = random.Random(7)
    pairs = [(0, 0), (0, 5), (5, 0), (1, 1), (16, 15), (15, 16), (17, 24), ((1 << 150) - 1, (1 << 150) - 1)]
    pairs += [(rng.randrange(1 << rng.randrange(1, 151)), rng.randrange(1 << rng.randrange(1, 151)))
              for _ in range(300)]
    checked = 0
    for n, m in pairs:
        ref = trust_ratio(n, m, spec, LR_SHIFT)
        if ref[3] > spec.trust_limit:
            continue
        e = c.entry(n, m)
        assert (e["s_p"], e["s_g"], e["d"], e["lam"]) == ref, (n, m)
        assert 0 <= e["rho"] < 1 << c.rho_bits and 0 <= e["sig"] < 1 << c.rho_bits and 0 <= e["lam"] < 1 << c.lam_bits
        if not e["f"]:
            assert e["rho"] + e["sig"] == (2 * e["d"] << c.eta_shift) - 1
        checked += 1
    assert checked > 200
    witness = trust_witness(c, *zip(*pairs[:8]))
    assert witness[c.lam].tolist() == [trust_ratio(n, m, spec, LR_SHIFT)[3] for n, m in pairs[:8]]
    assert violated(c, witness) == set()


def test_witness_matches_the_semantics_and_the_layout():
    """The fixture's witness: lambda_q entry by entry, zero norms give 2^K_l, [T', Gp] flat in
    C order (g low), f = [s_P = 0 or s_G = 0]."""
    c = _c()
    witness = trust_witness(c, np.array(N, dtype=object).reshape(2, 4), np.array(M, dtype=object).reshape(2, 4))
    assert witness[c.lam].tolist() == [trust_ratio(n, m, SPEC, LR_SHIFT)[3] for n, m in zip(N, M)]
    assert witness[c.flag].tolist() == [0, 1, 0, 1, 1, 1, 1, 1]
    assert witness[c.lam][I_P0] == witness[c.lam][I_STEP] == 1 << SPEC.trust_bits
    assert witness[c.sqrt_p.s][I_BOTH] >= 1 << 54  # wide: N ~ 2^110, s_P ~ 2^55
    # eps matters at I_EPS: without it the ratio is another
    assert trust_ratio(N[I_EPS], M[I_EPS], SPEC_NO_EPS, LR_SHIFT)[3] > witness[c.lam][I_EPS] + 1


def test_widths_and_relation_bound():
    """The declared widths: lambda K_l + 17 bits, e/u w_s + 1 (wide past 63), rho and sigma from
    the honest D_max; the worst case of docs/lars.md (N < 2^150) stays below 2^250; a recipe
    whose division would pass 2^250 is refused by name, and so are norms past the isqrt cap."""
    c = _c("limbs", norm_bits=150)
    assert c.lam_bits == 41 and c.sqrt_p.e_slots().width == 76
    assert isinstance(c.sqrt_p.e_slots(), WideLimbDecomposition)
    assert isinstance(_c("bits", norm_bits=150).rho_slots(), WideBitDecomposition)
    assert max(c.relation_bounds().values()) <= MAX_RELATION_BITS
    s_max = math.isqrt((1 << 150) - 1)
    assert c.rho_bits == ((c.divisor(s_max, s_max) << (c.eta_shift + 1)) - 1).bit_length()
    with pytest.raises(ValueError, match=r"identity \(Q\) could reach 2\^2"):
        TrustRatio("lars", 1, 2, SPEC, 120, 150, 16)
    with pytest.raises(ValueError, match="x_bits"):
        TrustRatio("lars", 1, 2, SPEC, LR_SHIFT, 245, 16)


def test_witness_refuses_what_does_not_fit():
    c = _c()
    with pytest.raises(ValueError, match="squared norm N lies outside"):
        trust_witness(c, [1 << NORM_BITS] + N[1:], M)
    with pytest.raises(ValueError, match="squared norm M lies outside"):
        trust_witness(c, N, [-1] + M[1:])
    with pytest.raises(ValueError, match="8 entries"):
        trust_witness(c, N[:4], M[:4])
    no_decay = _c(spec=spec_from_float(0.9, 0, 1.0, 0, inv_c=64))  # ||P|| / ||g|| unbounded
    with pytest.raises(ValueError, match="exceeds 2\\^16"):
        trust_witness(no_decay, [1 << 100] + [0] * 7, [1] + [0] * 7)


# --- completeness -------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", [SPEC, SPEC_NO_EPS], ids=["eps", "eps0"])
def test_completeness(mode, range_kind, spec):
    """Zero norms (s_P = 0, s_G = 0, both; with eps = 0 both zero means D = 0), wide norms up
    to 2^110, padded steps and tensors: accepted, every claim true, the claims returned on N
    and M at one point."""
    c = _c(range_kind, spec)
    witness = trust_witness(c, N, M)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:2]] == [c.norm_p, c.norm_g] and claims[0].point == claims[1].point
    ledgered = {x.tensor for x in claims[2:]}
    assert set(c.plain_tensors()) <= ledgered and {name for name, _, _ in ranged(c)} <= ledgered


def test_completeness_worst_case_widths(range_kind):
    """N, M at 2^150 - 1 (the widest docs/lars.md admits) beside zeros, the cpu backend."""
    c = _c(range_kind, norm_bits=150)
    big = (1 << 150) - 1
    witness = trust_witness(c, [big, big, 0, big, 1, 0, 3, 0], [big, 0, big, 1, big, 0, 3, 0])
    assert accepts("clear", get_backend("cpu"), _gadget(c), ranged(c), range_kind, witness)


def test_zk_layout_depends_on_the_gadget_only():
    """Two witnesses (other norms, other zero pattern) give ZK proofs of one length."""
    c = _c("bits")
    lengths = {len(prove("zk", get_backend("reference"), _gadget(c), ranged(c), "bits", trust_witness(c, n, m))[0])
               for n, m in ((N, M), (M, N))}
    assert len(lengths) == 1


# --- soundness: each attack and the one check that catches it ----------------------------------


def _with_root(c, i, s_p=None, s_g=None, eps=None):
    """Entry i recomputed from the roots s_p, s_g (the remainders e = x - s^2 adjusted, the
    division (lambda, rho, sigma) and the flags honest for those roots): every identity holds."""
    e = _entry(c, i)
    s_p = e["s_p"] if s_p is None else s_p
    s_g = e["s_g"] if s_g is None else s_g
    lam, rho, sig = _honest_division(c, s_p, s_g, eps)
    return {"s_p": s_p, "e_p": N[i] - s_p * s_p, "s_g": s_g, "e_g": M[i] - s_g * s_g, "lam": lam, "rho": rho,
            "sig": sig}


def _with_lambda(c, i, lam):
    """Entry i with lambda_q = ``lam``, the remainder solved from (Q) with the true D and the
    slack from (U): every identity holds, rho or sigma leaves its range unless lam is the one."""
    e = _entry(c, i)
    den = e["d"] << c.eta_shift
    rho = 2 * c.numerator_coeff * e["s_p"] + den - 2 * lam * den
    return {"lam": lam, "rho": rho, "sig": 2 * den - 1 - rho}


def test_ratio_from_another_tensors_norm(mode):
    """lambda at (t, g) = (0, 0) computed from tensor 2's ||P|| (its s_P, the remainder e_P
    adjusted, the division consistent): s_P(0, 2) ~ 2^45 << s_P(0, 0) ~ 2^55, so e = N - s^2
    ~ 2^110 passes e's 57 bits (and u = 2s - e < 0): RC(e_P), checked first, catches it."""
    c = _c("limbs")
    other = _entry(c, I_EPS)["s_p"]
    witness = cheat(c, {I_BOTH: _with_root(c, I_BOTH, s_p=other)})
    assert violated(c, witness) == set() and witness[c.lam][I_BOTH] != _entry(c, I_BOTH)["lam"]
    assert witness[c.sqrt_p.e][I_BOTH] >= 1 << c.sqrt_p.e_slots().width
    _rejected(mode, c, witness, "^range of lars.sP.e.slots: ")


def test_ratio_from_another_steps_norm(mode):
    """lambda at step 0 computed from step 1's ||P|| for the same tensor (s_P(1, 0) ~ 2^53 <
    s_P(0, 0) ~ 2^55), the root kept honest and the division solved around it: lambda is too
    small, so the remainder passes even its width (rho >= 2^(w_rho), sigma < 0): RC(rho)."""
    c = _c("bits")
    e = _entry(c, I_BOTH)
    lam = _honest_division(c, _entry(c, I_STEP)["s_p"], e["s_g"])[0]
    assert lam != e["lam"]
    witness = cheat(c, {I_BOTH: _with_lambda(c, I_BOTH, lam)})
    assert violated(c, witness) == set() and witness[c.rho][I_BOTH] >= 1 << c.rho_bits
    assert witness[c.sig][I_BOTH] < 0
    _rejected(mode, c, witness, "^range of lars.rho.slots: ")


def test_norm_of_another_step_is_the_callers(mode):
    """The radicand table N holds step 1's norm at step 0 and everything else follows it: the
    gadget accepts, but its claim on N is not the true norms' MLE, so the caller's norm
    sumcheck (``verifier/norms.py``) must reject: the gadget hands N back for that reason."""
    c = _c()
    swapped = list(N)
    swapped[I_BOTH] = N[I_STEP]
    witness = trust_witness(c, swapped, M)
    proof, prover_claims, _ = prove(mode, get_backend("reference"), _gadget(c), ranged(c), _kind(c), witness)
    claims = verify(mode, _gadget(c), ranged(c), _kind(c), proof)
    assert claims[0].tensor == c.norm_p
    if mode == "clear":
        assert claims[0].value == mle(swapped, claims[0].point) != mle(N, claims[0].point)


@pytest.mark.parametrize("root", ["P", "G"])
def test_root_off_by_one_up(mode, root):
    """s + 1 (e = x - (s + 1)^2 < 0, the division recomputed from it): RC(e)."""
    c = _c("limbs")
    e = _entry(c, I_BOTH)
    edit = _with_root(c, I_BOTH, **{f"s_{root.lower()}": e[f"s_{root.lower()}"] + 1})
    witness = cheat(c, {I_BOTH: edit})
    assert violated(c, witness) == set() and edit[f"e_{root.lower()}"] < 0
    _rejected(mode, c, witness, f"^range of lars.s{root}.e.slots: ")


@pytest.mark.parametrize("root", ["P", "G"])
def test_root_off_by_one_down(mode, root):
    """s - 1 (e = x - (s - 1)^2 in range, u = 2(s - 1) - e < 0): RC(u)."""
    c = _c("bits")
    e = _entry(c, I_BOTH)
    edit = _with_root(c, I_BOTH, **{f"s_{root.lower()}": e[f"s_{root.lower()}"] - 1})
    witness = cheat(c, {I_BOTH: edit})
    assert violated(c, witness) == set() and 0 <= edit[f"e_{root.lower()}"] < 1 << c.sqrt_p.e_slots().width
    _rejected(mode, c, witness, f"^range of lars.s{root}.u.slots: ")


def test_eps_omitted(mode, range_kind):
    """lambda computed with E = 0 (E ~ 2^41 dominates D at ||g|| tiny): the ratio is larger, the
    remainder solved from (Q) with the true D is negative: RC(rho)."""
    c = _c(range_kind)
    lam = _entry(c, I_EPS)["lam"]
    lam_no_eps = _honest_division(c, _entry(c, I_EPS)["s_p"], _entry(c, I_EPS)["s_g"], eps=0)[0]
    assert lam_no_eps > lam
    witness = cheat(c, {I_EPS: _with_lambda(c, I_EPS, lam_no_eps)})
    assert violated(c, witness) == set()
    _rejected(mode, c, witness, "^range of lars.rho.slots: ")


def test_lambda_off_by_one_up(mode, range_kind):
    """lambda + 1: rho = rho_h - 2d < 0, sigma = sigma_h + 2d in range: RC(rho); a verifier
    without it accepts (every claim true)."""
    c = _c(range_kind)
    witness = cheat(c, {I_BOTH: _with_lambda(c, I_BOTH, _entry(c, I_BOTH)["lam"] + 1)})
    assert violated(c, witness) == set() and witness[c.rho][I_BOTH] < 0 <= witness[c.sig][I_BOTH] < 1 << c.rho_bits
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("rho")})
    _rejected(mode, c, witness, "^range of lars.rho.slots: ")


def test_lambda_off_by_one_down(mode, range_kind):
    """lambda - 1: the remainder rho_h + 2d >= 2d (out of range, though within its width),
    sigma = sigma_h - 2d < 0: RC(sigma); a verifier without it accepts."""
    c = _c(range_kind)
    witness = cheat(c, {I_BOTH: _with_lambda(c, I_BOTH, _entry(c, I_BOTH)["lam"] - 1)})
    assert violated(c, witness) == set() and 0 <= witness[c.rho][I_BOTH] < 1 << c.rho_bits
    assert witness[c.sig][I_BOTH] < 0
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("sig")})
    _rejected(mode, c, witness, "^range of lars.sig.slots: ")


def test_slack_gated_on_a_zero_norm(mode):
    """s_P = 0 (f = 1): lambda = 2^K_l and sigma = (1 - f)(...) = 0; the slack of the ungated
    division there (2d - 1 - rho, in range) breaks (U): the zero-check."""
    c = _c()
    d = _entry(c, I_P0)["d"] << c.eta_shift
    witness = cheat(c, {I_P0: {"sig": 2 * d - 1}})
    assert violated(c, witness) == {"(U)"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_fraction_lambda(mode):
    """rho_h + 1, sigma_h - 1 (both in range) and lambda the field solution of (Q), not an
    integer (rule 0.3): only RC(lambda) stops it."""
    c = _c("bits")
    e = _entry(c, I_BOTH)
    den = e["d"] << c.eta_shift
    rho = e["rho"] + 1
    lam = (2 * c.numerator_coeff * e["s_p"] + den - rho) * pow(2 * den, -1, R) % R
    witness = cheat(c, {I_BOTH: {"lam": lam, "rho": rho, "sig": e["sig"] - 1}})
    assert violated(c, witness) == set() and lam >= 1 << 64
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("lam")})
    _rejected(mode, c, witness, "^range of lars.lam.slots: ")


@pytest.mark.parametrize("how", ["fP", "fG", "f"])
def test_flag_claims_a_zero_norm(mode, how):
    """Both norms nonzero, f = 1 claimed so that lambda = 2^K_l (rho = sigma = 0): with f_P = 1
    (t_P = s_P in range) only (Z_P) s_P f_P = 0 breaks; with f_G likewise (Z_G); with
    f_P = f_G = 0, only (F). The zero-check catches each."""
    c = _c()
    edit = {"f": 1, "lam": 1 << SPEC.trust_bits, "rho": 0, "sig": 0}
    edit |= {"fP": {"f_p": 1}, "fG": {"f_g": 1}, "f": {}}[how]
    witness = cheat(c, {I_BOTH: edit})
    assert violated(c, witness) == {{"fP": "(Z_P)", "fG": "(Z_G)", "f": "(F)"}[how]}
    _rejected(mode, c, witness, "^trust:lars: ")


@pytest.mark.parametrize("how", ["fP", "f"])
def test_flag_denies_a_zero_norm(mode, how):
    """s_P = 0 (s_G != 0), f = 0 claimed so that lambda = round(0 / D) = 0 (rho = d, the
    division honest). With f_P = 0 every identity holds and t_P = s_P - 1 = -1: RC(t_P); with
    f_P = 1 kept, (F) breaks: the zero-check."""
    c = _c("limbs")
    e = _entry(c, I_P0)
    assert e["s_p"] == 0 < e["s_g"]
    lam, rho, sig = _honest_division(c, 0, e["s_g"])
    assert lam == 0
    edit = {"f": 0, "lam": lam, "rho": rho, "sig": sig} | ({"f_p": 0} if how == "fP" else {})
    witness = cheat(c, {I_P0: edit})
    if how == "fP":
        assert violated(c, witness) == set()
        _rejected(mode, c, witness, "^range of lars.tP.slots: ")
    else:
        assert violated(c, witness) == {"(F)"}
        _rejected(mode, c, witness, "^trust:lars: ")


def test_flag_denies_a_zero_gradient(mode):
    """s_G = 0 on the padded step (s_P != 0), f_G = f = 0 claimed so that lambda is the division
    with D = b s_P + E (the ratio eta / (beta + eps / ||P||) instead of 1): every identity
    holds, t_G = -1: RC(t_G); a verifier without it accepts."""
    c = _c("bits")
    e = _entry(c, I_STEP)
    assert e["s_g"] == 0 < e["s_p"]
    lam, rho, sig = _honest_division(c, e["s_p"], 0)
    assert lam != 1 << SPEC.trust_bits
    witness = cheat(c, {I_STEP: {"f_g": 0, "f": 0, "lam": lam, "rho": rho, "sig": sig}})
    assert violated(c, witness) == set()
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("tG")})
    _rejected(mode, c, witness, "^range of lars.tG.slots: ")


def test_flags_not_boolean(mode):
    """Both norms zero (E > 0): f_P = f_G = 2 (t = s - 1 + f = 1 in range, (Z) holds at s = 0)
    make f = 2 + 2 - 4 = 0, and lambda = round(0 / E) = 0 with rho = 2^k_e E: only (B_P)
    f_P^2 = f_P stands in the way (a verifier without it accepts)."""
    c = _c()
    i = 5
    assert N[i] == M[i] == 0
    lam, rho, sig = _honest_division(c, 0, 0)
    witness = cheat(c, {i: {"f_p": 2, "f_g": 2, "f": 0, "lam": lam, "rho": rho, "sig": sig}})
    assert lam == 0 and violated(c, witness) == {"(B_P)"}
    _rejected(mode, c, witness, "^trust:lars: ")


@pytest.mark.parametrize("f_g", [2, 5])
def test_gradient_flag_needs_no_booleanity(f_g):
    """(B_G) is not made: f_G > 1 (t_G = f_G - 1 in range) where s_G = 0 makes f = f_G >= 1,
    and lambda is still pinned to 2^K_l by (L): with lambda = 2^K_l the cheater's witness is
    accepted only with the honest output; any other lambda breaks (L)."""
    c = _c()
    e = _entry(c, I_STEP)
    assert e["s_g"] == 0 < e["s_p"]
    den = e["d"] << c.eta_shift
    # (Q) with f = f_G: (1 - f)(2^(k_e+1+K_l) D + rho - 2 A s_P - 2^k_e D) = 0 fixes rho
    rho = 2 * c.numerator_coeff * e["s_p"] + den - (2 * den << SPEC.trust_bits)
    witness = cheat(c, {I_STEP: {"f_g": f_g, "f": f_g, "rho": rho, "sig": (1 - f_g) * (2 * den - 1 - rho)}})
    assert violated(c, witness) == set() and witness[c.lam][I_STEP] == 1 << SPEC.trust_bits
    for lam in (0, (1 << SPEC.trust_bits) - 1):
        other = cheat(c, {I_STEP: {"f_g": f_g, "f": f_g, "lam": lam}})
        assert "(L)" in violated(c, other)


@pytest.mark.parametrize("lam", [0, (1 << SPEC.trust_bits) + 1])
def test_zero_norm_ratio_is_one(mode, lam):
    """f = 1, lambda another value (rho, sigma gated to 0 need nothing). Where D > 0, (Q)'s
    2^(k_e+1) (lambda - 2^K_l f) D term breaks too; where D = 0 (both norms zero, eps = 0: the
    padded tensor) only (L) f (lambda - 2^K_l) = 0 stands in the way."""
    c = _c()
    witness = cheat(c, {I_P0: {"lam": lam}})
    assert violated(c, witness) == {"(L)", "(Q)"}
    _rejected(mode, c, witness, "^trust:lars: ")
    c = _c(spec=SPEC_NO_EPS)
    assert _entry(c, I_PAD)["d"] == 0
    witness = cheat(c, {I_PAD: {"lam": lam}})
    assert violated(c, witness) == {"(L)"}
    _rejected(mode, c, witness, "^trust:lars: ")


@pytest.mark.parametrize("root", ["P", "G"])
def test_remainder_off_by_one_alone(mode, root):
    """e + 1 with the root kept (e, u = 2s - e - 1 in range): only (S) breaks."""
    c = _c()
    key = f"e_{root.lower()}"
    witness = cheat(c, {I_BOTH: {key: _entry(c, I_BOTH)[key] + 1}})
    assert violated(c, witness) == {f"(S_{root})"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_lambda_alone(mode):
    """lambda + 1 with rho, sigma honest (all in range): only (Q) breaks."""
    c = _c()
    witness = cheat(c, {I_BOTH: {"lam": _entry(c, I_BOTH)["lam"] + 1}})
    assert violated(c, witness) == {"(Q)"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_identity_eq_is_the_verifiers(monkeypatch):
    """The prover doubles the eq table's final evaluation and moves rho's so that the combined
    polynomial keeps its value (the sumcheck's final check holds): only the eq check sees it."""
    c = _c()
    built, original = [], vtrust.trust_reduction

    def spy(*args):
        built.append(original(*args))
        return built[-1]

    monkeypatch.setattr(vtrust, "trust_reduction", spy)
    at = 1 + vtrust.tables(c).index(c.rho)

    def tamper(label, proof):
        if label != b"trust:lars":
            return proof
        (finals,) = proof.final_evals
        shape = built[-1].shapes[0]
        target = shape.evaluate(finals)
        moved = keep_value(shape, [2 * finals[0] % R, *finals[1:]], at, target)
        return SumcheckProof(proof.rounds, (tuple(moved),))

    rejected("clear", get_backend("reference"), _gadget(c), ranged(c), _kind(c), trust_witness(c, N, M),
             "lars: identity eq: the prover's evaluation", tamper=tamper)


@pytest.mark.parametrize("value", ["lam", "rho", "sig"])
def test_slots_tied_to_the_identity(mode, value):
    """The identity's table holds a cheat the range checks would refuse (lambda + 1 for lambda
    and rho, lambda - 1 for sigma), the slots tensor the honest value: it does not recompose."""
    c = _c()
    honest = trust_witness(c, N, M)
    witness = cheat(c, {I_BOTH: _with_lambda(c, I_BOTH, _entry(c, I_BOTH)["lam"] + (-1 if value == "sig" else 1))})
    witness[c.slots(value)] = honest[c.slots(value)]
    _rejected(mode, c, witness, f"^lars.{value}.slots: slots do not recompose")


@pytest.mark.parametrize("root", ["sP", "sG"])
def test_root_slots_tied_to_the_identity(mode, root):
    """The root's table holds s + 1 (which RC(e) would refuse), its e slots the honest e."""
    c = _c()
    honest = trust_witness(c, N, M)
    key = "s_p" if root == "sP" else "s_g"
    witness = cheat(c, {I_BOTH: _with_root(c, I_BOTH, **{key: _entry(c, I_BOTH)[key] + 1})})
    witness[f"lars.{root}.e.slots"] = honest[f"lars.{root}.e.slots"]
    _rejected(mode, c, witness, f"^lars.{root}.e.slots: slots do not recompose")


@pytest.mark.parametrize("t", ["tP", "tG"])
def test_flag_slots_tied_to_the_identity(mode, t):
    """f = 0 denied on a zero norm (t = s - 1 + f = -1, which RC(t) would refuse), the t slots
    holding an in-range value (the honest t = 0): they do not recompose to s - 1 + f."""
    c = _c()
    i, key = (I_P0, "f_p") if t == "tP" else (I_STEP, "f_g")
    e = _entry(c, i)
    lam, rho, sig = _honest_division(c, e["s_p"], e["s_g"])
    witness = cheat(c, {i: {key: 0, "f": 0, "lam": lam, "rho": rho, "sig": sig}})
    witness[c.slots(t)] = trust_witness(c, N, M)[c.slots(t)]
    _rejected(mode, c, witness, f"^lars.{t}.slots: slots do not recompose")


# --- the combined identity's own guards (API misuse; the walk always passes the right counts) ---


@pytest.mark.parametrize("extra", ["degree 3", "foreign table"])
def test_reduction_refuses_identities_beyond_its_tables_or_degree(monkeypatch, extra):
    """The zero-check has degree 3 with its eq factor: an identity of degree 3 in the tables,
    or one over a table the reduction does not bind, is refused before any proof is read."""
    c = _c()
    real = type(c).identities
    term = Poly.var(c.lam) * Poly.var(c.lam) * Poly.var(c.lam) if extra == "degree 3" else Poly.var("elsewhere")
    monkeypatch.setattr(type(c), "identities", lambda self: real(self) + [("(X) added", term)])
    gammas = [1] * (len(c.identities()) - 1)
    with pytest.raises(AssertionError, match="the identities leave degree 2 or the tables"):
        vtrust.trust_reduction(c, [0] * c.num_vars, gammas)


# --- LARC: the clipped multiplier (clip_lr) ---------------------------------------------------------

SPEC_CLIP = replace(SPEC, clip=True)
#: Step 0 at lr_num 2049 (gamma_t = 2049 * 64 / 2^16 ~ 2.001: d = inv_c lr_num = 2^17 + 64, so
#: the remainder rho2 < 2d has room below its 19 bits), step 1 padded (lr_num 0).
LR_CLIP = (2049, 0)
#: Entries: 0 lambda ~ 2.66 > gamma_t, clipped (q ~ 1.33 2^K_l, inside m's K_l + 1 bits); 1 P = 0
#: (a zero norm where 2^K_l / gamma_t < 2^K_l); 2 lambda ~ 0.83, not clipped (m ~ 0.42); 3
#: padded tensor; 4..7 the step with lr_num = 0 (4 both norms nonzero).
N_CLIP = [N[I_BOTH], 0, N[I_BOTH], 0, N[I_STEP], 0, N[6], 0]
M_CLIP = [1 << 66, M[I_P0], 1 << 70, 0, 1 << 60, 0, 0, 0]
J_CLIP, J_P0, J_FREE, J_LR0 = 0, 1, 2, 4
ONE = 1 << SPEC.trust_bits


def _cc(range_kind="bits", lr=LR_CLIP, norm_bits=NORM_BITS, spec=SPEC_CLIP):
    return TrustRatio("lars", 1, 2, spec, LR_SHIFT, norm_bits, None if range_kind == "bits" else LIMB_BITS, clip_lr=lr)


def _quotient(c, i, lam=None):
    """q = round_half_up(lambda_q 2^k / d) at entry i (lambda_q the honest one unless given)."""
    lam = _entry(c, i)["lam"] if lam is None else lam
    d = c.clip_divisor(i >> c.group_vars)
    return (2 * (lam << LR_SHIFT) + d) // (2 * d)


def _with_multiplier(c, i, m, flag=0):
    """Entry i with c = ``flag``, m = ``m``, rho2 solved from (CQ) and sigma2 from (CU), h from
    (CH), all for the honest lambda_q and f: every identity holds; a range check is what refuses
    a wrong m."""
    e = _entry(c, i)
    d, n2 = c.clip_divisor(i >> c.group_vars), e["lam"] << LR_SHIFT
    delta = c.clip_delta(e["lam"], d)
    if flag == 0:
        rho2 = 2 * n2 + d - 2 * m * d
        sig2 = 2 * d - 1 - rho2
    else:  # (CM) makes m = 2^K_l where c != 0; (CQ) then leaves rho2 = Delta where c != 1
        rho2 = 0 if flag == 1 else delta
        sig2 = (1 - flag) * (2 * d - 1 - rho2)
    return {"c": flag, "m": m, "rho2": rho2, "sig2": sig2, "cmp": (2 * flag - e["f"] - 1) * delta + flag - 1}


def test_clip_semantics_is_larc_multiplier():
    """Every entry's output is ``circuits.lars.larc_multiplier`` of its lambda_q (and 2^K_l on a
    zero norm), over norms from 2^0 to 2^150 and rates from 0 to 2^31 - 1; every identity holds
    over the integers and every value fits its width; both sides of the clip occur. At the
    boundary Delta = 0 (q = 2^K_l - 1/2 rounded up) the clip binds, at Delta < 0 it does not."""
    lrs = (0, 1, 7, 2048, 2049, 1 << 20, (1 << 31) - 1, 3)
    c = TrustRatio("lars", 3, 2, SPEC_CLIP, LR_SHIFT, 150, None, clip_lr=lrs)
    rng = random.Random(9)
    pairs = [(0, 0), (0, 5), (5, 0), (1, 1), (17, 24), ((1 << 150) - 1, 1)]
    pairs += [(rng.randrange(1 << rng.randrange(1, 151)), rng.randrange(1 << rng.randrange(1, 151)))
              for _ in range(120)]
    clip_names = {label.split()[0] for label, _ in c.clip_identities()}
    sides = set()
    for n, m in pairs:
        for step, lr in enumerate(lrs):
            if trust_ratio(n, m, SPEC_CLIP, LR_SHIFT)[3] > SPEC_CLIP.trust_limit:
                continue
            e = c.entry(n, m, step)
            assert e["m"] == update_multiplier(n, m, lr, SPEC_CLIP, LR_SHIFT)
            assert 0 <= e["m"] <= ONE and 0 <= e["cmp"] < 1 << c.cmp_bits
            assert 0 <= e["rho2"] < 1 << c.rho2_bits and 0 <= e["sig2"] < 1 << c.rho2_bits
            values = {c.sqrt_p.s: e["s_p"], c.sqrt_p.e: e["e_p"], c.norm_p: n, c.sqrt_g.s: e["s_g"],
                      c.sqrt_g.e: e["e_g"], c.norm_g: m, c.f_p: e["f_p"], c.f_g: e["f_g"], c.flag: e["f"],
                      c.ratio: e["lam"], c.rho: e["rho"], c.sig: e["sig"], c.clip_flag: e["c"], c.lam: e["m"],
                      "lars.rho2": e["rho2"], "lars.sig2": e["sig2"], "lars.cmp": e["cmp"], c.lr_table: lr}
            assert {label.split()[0] for label, p in c.identities() if p.evaluate(values)} == set()
            if lr and not e["f"]:
                sides.add(e["c"])
    assert sides == {0, 1} and clip_names == {"(CM)", "(CF)", "(CH)", "(CQ)", "(CU)"}
    step = lrs.index(2049)
    lam = ((2 * ONE - 1) * c.clip_divisor(step)) >> (LR_SHIFT + 1)  # Delta just below 0
    assert c.clip_delta(lam, c.clip_divisor(step)) < 0 and c.clip_entry(lam, 0, step)["c"] == 0
    at = lrs.index(2048)  # d = 2^17: lambda = (2^25 - 1) d / 2^17 is an integer, Delta = 0
    lam = 2 * ONE - 1
    assert c.clip_delta(lam, c.clip_divisor(at)) == 0
    assert c.clip_entry(lam, 0, at)["m"] == ONE == larc_multiplier(lam, 2048, SPEC_CLIP, LR_SHIFT, zero_norm=False)
    assert c.clip_entry(lam - 1, 0, at)["m"] == ONE - 1


def test_clip_witness_on_the_fixture():
    """The fixture has what the soundness cases need: a clipped entry whose quotient fits m's
    K_l + 1 bits, an unclipped one, a zero norm where 2^K_l / gamma_t < 2^K_l, and a step with
    lr_num = 0; lambda_q stays the trust ratio, internal."""
    c = _cc()
    w = trust_witness(c, N_CLIP, M_CLIP)
    assert w[c.ratio].tolist() == [trust_ratio(n, m, SPEC, LR_SHIFT)[3] for n, m in zip(N_CLIP, M_CLIP)]
    assert w[c.lam].tolist() == [update_multiplier(n, m, LR_CLIP[i >> 2], SPEC_CLIP, LR_SHIFT)
                                 for i, (n, m) in enumerate(zip(N_CLIP, M_CLIP))]
    assert w[c.clip_flag].tolist() == [1, 1, 0, 1, 1, 1, 1, 1]
    assert ONE < _quotient(c, J_CLIP) < 2 * ONE and w[c.lam][J_CLIP] == ONE
    assert 0 < w[c.lam][J_FREE] == _quotient(c, J_FREE) < ONE
    assert _quotient(c, J_P0) < ONE == w[c.lam][J_P0]  # gamma_t > 1: the float's 1, not 1 / gamma_t
    assert w[c.ratio][J_LR0] != ONE == w[c.lam][J_LR0]
    assert w["lars.rho2"][J_FREE] + 2 * c.clip_divisor(0) < 1 << c.rho2_bits
    assert violated(c, w) == set()


def test_clip_widths_and_relation_bound():
    """m_q in K_l + 1 bits, rho2 and sigma2 below 2 d_max, h in k + K_l + 18 bits (or the c = 0
    side's, if larger); LARC's identities stay below 2^250 at the widest norms and the largest
    lr_num a recipe admits, and a table that would pass it is refused by name."""
    c = _cc("limbs")
    assert c.lam_slots().width == SPEC.trust_bits + 1 and c.ratio_slots().width == c.lam_bits == 41
    assert c.rho2_bits == (2 * 64 * 2049 - 1).bit_length() == 19
    assert c.cmp_bits == LR_SHIFT + SPEC.trust_bits + 18
    wide = _cc("limbs", lr=((1 << 31) - 1, 0), norm_bits=150)
    assert max(wide.relation_bounds().values()) <= MAX_RELATION_BITS
    assert {"(CQ)", "(CU)", "(CH)"} <= set(wide.relation_bounds())
    with pytest.raises(ValueError, match=r"identity \(C[QH]\) could reach 2\^2"):
        _cc(lr=(1 << 230, 0))


@pytest.mark.parametrize("kwargs, message", [
    (dict(spec=SPEC_CLIP, clip_lr=None), r"LARC \(spec.clip\) needs the public lr_num table clip_lr"),
    (dict(spec=SPEC, clip_lr=LR_CLIP), r"plain LARS takes none"),
    (dict(spec=SPEC_CLIP, clip_lr=(1, 2, 3)), r"^lars: clip_lr must be a tuple of 2 lr_num"),
    (dict(spec=SPEC_CLIP, clip_lr=[2049, 0]), r"^lars: clip_lr must be a tuple of 2 lr_num"),
    (dict(spec=SPEC_CLIP, clip_lr=(2049, -1)), r"^lars: clip_lr entries must be integers >= 0$"),
    (dict(spec=SPEC_CLIP, clip_lr=(2049, True)), r"^lars: clip_lr entries must be integers >= 0$"),
])
def test_clip_needs_its_table(kwargs, message):
    """LARC and the public lr_num table come together, one integer >= 0 per padded step: a
    caller that forgets the table cannot build a plain LARS gadget for a LARC recipe."""
    with pytest.raises(ValueError, match=message):
        TrustRatio("lars", 1, 2, kwargs["spec"], LR_SHIFT, NORM_BITS, 8, kwargs["clip_lr"])


def test_plain_gadget_keeps_its_tables():
    """Without clip_lr the gadget is plain LARS's, table for table: no ratio, c or LR table,
    nine identities, lambda_q the output (LARS proofs keep their bytes)."""
    c = _c()
    assert not c.clip and c.ratio == c.lam and c.lam_slots() == c.ratio_slots()
    assert vtrust.tables(c) == [c.sqrt_p.s, c.sqrt_p.e, c.norm_p, c.sqrt_g.s, c.sqrt_g.e, c.norm_g,
                                c.f_p, c.f_g, c.flag, c.lam, c.rho, c.sig]
    assert [label.split()[0] for label, _ in c.identities()] == [
        "(S_P)", "(S_G)", "(Z_P)", "(Z_G)", "(B_P)", "(F)", "(L)", "(Q)", "(U)"]
    assert [name for name, _, _ in ranged(c)][-3:] == ["lars.lam.slots", "lars.rho.slots", "lars.sig.slots"]
    assert c.plain_tensors() == [c.f_p, c.f_g, c.flag]


def test_clip_completeness(mode, range_kind):
    """A clipped entry, an unclipped one, a zero norm at gamma_t > 1, a step with lr_num = 0 and
    the padded tensor: accepted, every claim true, the flag c and every new slots tensor
    ledgered, the claims on N and M returned."""
    c = _cc(range_kind)
    witness = trust_witness(c, N_CLIP, M_CLIP)
    proof, prover_claims, truth = prove(mode, get_backend("reference"), _gadget(c), ranged(c), range_kind, witness)
    claims = verify(mode, _gadget(c), ranged(c), range_kind, proof)
    assert claims_true(mode, prover_claims, claims, truth)
    assert [x.tensor for x in claims[:2]] == [c.norm_p, c.norm_g]
    ledgered = {x.tensor for x in claims[2:]}
    assert c.clip_flag in ledgered and set(c.plain_tensors()) <= ledgered
    assert {name for name, _, _ in ranged(c)} <= ledgered
    assert {"lars.ratio.slots", "lars.rho2.slots", "lars.sig2.slots", "lars.cmp.slots"} <= ledgered


def test_larc_clipping_skipped(mode, range_kind):
    """LARC's clip skipped: where lambda_q > gamma_t, c = 0 and m = q ~ 1.33 2^K_l (within m's
    K_l + 1 bits, the division honest): every identity holds and h = -Delta - 1 < 0: RC(h); a
    verifier without it accepts."""
    c = _cc(range_kind)
    q = _quotient(c, J_CLIP)
    witness = cheat(c, {J_CLIP: _with_multiplier(c, J_CLIP, q)})
    assert violated(c, witness) == set() and ONE < witness[c.lam][J_CLIP] < 1 << c.lam_slots().width
    assert witness["lars.cmp"][J_CLIP] < 0
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("cmp")})
    _rejected(mode, c, witness, "^range of lars.cmp.slots: ")


def test_larc_clip_claimed_below_gamma(mode):
    """The flag lying the other way: where lambda_q < gamma_t, c = 1 and m = 2^K_l (rho2 =
    sigma2 = 0): every identity holds, h = Delta < 0: RC(h)."""
    c = _cc()
    witness = cheat(c, {J_FREE: _with_multiplier(c, J_FREE, ONE, flag=1)})
    assert violated(c, witness) == set() and witness["lars.cmp"][J_FREE] < 0
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("cmp")})
    _rejected(mode, c, witness, "^range of lars.cmp.slots: ")


def test_larc_multiplier_off_by_one_up(mode, range_kind):
    """m + 1 on the unclipped entry: rho2 = rho2_h - 2d < 0: RC(rho2); a verifier without it
    accepts."""
    c = _cc(range_kind)
    witness = cheat(c, {J_FREE: _with_multiplier(c, J_FREE, _quotient(c, J_FREE) + 1)})
    assert violated(c, witness) == set() and witness["lars.rho2"][J_FREE] < 0
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("rho2")})
    _rejected(mode, c, witness, "^range of lars.rho2.slots: ")


def test_larc_multiplier_off_by_one_down(mode, range_kind):
    """m - 1: rho2 = rho2_h + 2d (>= 2d, within its width), sigma2 = sigma2_h - 2d < 0:
    RC(sigma2); a verifier without it accepts."""
    c = _cc(range_kind)
    witness = cheat(c, {J_FREE: _with_multiplier(c, J_FREE, _quotient(c, J_FREE) - 1)})
    assert violated(c, witness) == set() and 0 <= witness["lars.rho2"][J_FREE] < 1 << c.rho2_bits
    assert witness["lars.sig2"][J_FREE] < 0
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("sig2")})
    _rejected(mode, c, witness, "^range of lars.sig2.slots: ")


def test_larc_slack_identity(mode):
    """m - 1 with rho2 = rho2_h + 2d (in range) and sigma2 left honest (in range): only (CU)."""
    c = _cc()
    edit = _with_multiplier(c, J_FREE, _quotient(c, J_FREE) - 1)
    edit["sig2"] = _entry(c, J_FREE)["sig2"]
    witness = cheat(c, {J_FREE: edit})
    assert violated(c, witness) == {"(CU)"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_larc_division_identity(mode):
    """m + 1 with rho2, sigma2 honest (all in range): only (CQ)."""
    c = _cc()
    witness = cheat(c, {J_FREE: {"m": _quotient(c, J_FREE) + 1}})
    assert violated(c, witness) == {"(CQ)"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_larc_fraction_multiplier(mode):
    """rho2_h + 1, sigma2_h - 1 (in range) and m the field solution of (CQ), not an integer:
    only RC(m) stops it; a verifier without it accepts."""
    c = _cc()
    e, d = _entry(c, J_FREE), c.clip_divisor(0)
    rho2 = e["rho2"] + 1
    m = (2 * (e["lam"] << LR_SHIFT) + d - rho2) * pow(2 * d, -1, R) % R
    witness = cheat(c, {J_FREE: {"m": m, "rho2": rho2, "sig2": e["sig2"] - 1}})
    assert violated(c, witness) == set() and m >= 1 << 64
    if mode == "clear":
        assert _accepts(mode, c, witness, skip={c.slots("lam")})
    _rejected(mode, c, witness, "^range of lars.lam.slots: ")


def test_larc_zero_norm_takes_one(mode):
    """P = 0 at gamma_t > 1: c = 0 and m = q = round(2^K_l / gamma_t) < 2^K_l (the division and
    h in range): only (CF) f (1 - c) = 0 keeps the float's multiplier 1."""
    c = _cc()
    q = _quotient(c, J_P0)
    witness = cheat(c, {J_P0: _with_multiplier(c, J_P0, q)})
    assert q < ONE and violated(c, witness) == {"(CF)"}
    _rejected(mode, c, witness, "^trust:lars: ")


@pytest.mark.parametrize("m", [0, ONE - 1])
def test_larc_zero_rate_takes_one(mode, m):
    """lr_num = 0, c = 1 and another m: (CQ) multiplies m by d = 0 there, so only (CM)
    c (m - 2^K_l) = 0 pins it."""
    c = _cc()
    witness = cheat(c, {J_LR0: {"m": m}})
    assert violated(c, witness) == {"(CM)"}
    _rejected(mode, c, witness, "^trust:lars: ")


def test_larc_zero_rate_cannot_deny_the_flag(mode):
    """lr_num = 0 and c = 0 (m = 0): (CQ) makes rho2 = 2^(k+1) lambda_q, (CU) sigma2 = -1 -
    rho2: every identity holds, and rho2 is beyond its width: RC(rho2)."""
    c = _cc()
    witness = cheat(c, {J_LR0: _with_multiplier(c, J_LR0, 0)})
    assert violated(c, witness) == set() and witness["lars.rho2"][J_LR0] >= 1 << c.rho2_bits
    assert witness["lars.sig2"][J_LR0] < 0
    _rejected(mode, c, witness, "^range of lars.rho2.slots: ")


def test_larc_flag_needs_no_booleanity(mode):
    """c = 2 where lambda_q < gamma_t, to pass m = 2^K_l: (CM) holds, (CQ) forces rho2 = Delta
    < 0 (every identity holds with sigma2, h solved), and RC(rho2) refuses it; where the clip
    binds, c = 2 gives m = 2^K_l, the right multiplier (rho2 = Delta >= 0)."""
    c = _cc()
    witness = cheat(c, {J_FREE: _with_multiplier(c, J_FREE, ONE, flag=2)})
    assert violated(c, witness) == set() and witness["lars.rho2"][J_FREE] < 0
    _rejected(mode, c, witness, "^range of lars.rho2.slots: ")
    other = cheat(c, {J_CLIP: _with_multiplier(c, J_CLIP, ONE, flag=2)})
    assert violated(c, other) == set() and other["lars.rho2"][J_CLIP] >= 0 and other[c.lam][J_CLIP] == ONE


def test_larc_comparison_identity(mode):
    """h + 1 on the clipped entry (in range, c honest): only (CH)."""
    c = _cc()
    witness = cheat(c, {J_CLIP: {"cmp": _entry(c, J_CLIP)["cmp"] + 1}})
    assert violated(c, witness) == {"(CH)"}
    _rejected(mode, c, witness, "^trust:lars: ")


@pytest.mark.parametrize("key", ["ratio", "lam", "rho2", "sig2", "cmp"])
def test_clip_slots_tied_to_the_identity(mode, key):
    """The identity's table holds a cheat that every identity accepts and a range check would
    refuse (lambda_q + 1 with its divisions solved; m + 1, m - 1; the clip skipped), the slots
    tensor the honest value: it does not recompose."""
    c = _cc()
    honest = trust_witness(c, N_CLIP, M_CLIP)
    if key == "ratio":
        e = _entry(c, J_FREE)
        edit = _with_lambda(c, J_FREE, e["lam"] + 1)
        clip = c.clip_entry(e["lam"] + 1, 0, 0)
        edit |= {"m": clip["m"], "rho2": clip["rho2"], "sig2": clip["sig2"], "cmp": clip["cmp"]}
        i = J_FREE
    elif key == "cmp":
        i, edit = J_CLIP, _with_multiplier(c, J_CLIP, _quotient(c, J_CLIP))
    else:
        i = J_FREE
        edit = _with_multiplier(c, J_FREE, _quotient(c, J_FREE) + (-1 if key == "sig2" else 1))
    witness = cheat(c, {i: edit})
    assert violated(c, witness) == set()
    witness[c.slots(key)] = honest[c.slots(key)]
    _rejected(mode, c, witness, f"^lars.{key}.slots: slots do not recompose")


def test_clip_lr_table_is_the_verifiers(mode):
    """An honest proof for one lr_num table, checked against another (step 0 at 2050): the
    verifier evaluates LR itself, so the proof fails (clear: the public table's evaluation; ZK:
    the zero-check's final check)."""
    c = _cc()
    proof, _, _ = prove(mode, get_backend("reference"), _gadget(c), ranged(c), "bits", trust_witness(c, N_CLIP, M_CLIP))
    other = _cc(lr=(2050, 0))
    with pytest.raises(VerifyError, match="^trust:lars: "):
        verify(mode, _gadget(other), ranged(other), "bits", proof)


def test_clip_lr_evaluation_is_the_verifiers(monkeypatch):
    """The prover moves LR's final evaluation and rho2's so that the combined polynomial keeps
    its value (the sumcheck's final check holds): only the public table's check sees it."""
    c = _cc()
    built, original = [], vtrust.trust_reduction

    def spy(*args):
        built.append(original(*args))
        return built[-1]

    monkeypatch.setattr(vtrust, "trust_reduction", spy)
    every = vtrust.tables(c)
    at_lr, at_rho2 = 1 + len(every), 1 + every.index("lars.rho2")

    def tamper(label, proof):
        if label != b"trust:lars":
            return proof
        (finals,) = proof.final_evals
        shape = built[-1].shapes[0]
        target = shape.evaluate(finals)
        moved = list(finals)
        moved[at_lr] = (finals[at_lr] + 1) % R
        keep_value(shape, moved, at_rho2, target)
        return SumcheckProof(proof.rounds, (tuple(moved),))

    rejected("clear", get_backend("reference"), _gadget(c), ranged(c), _kind(c), trust_witness(c, N_CLIP, M_CLIP),
             "trust:lars: public table lars.LR: the prover's evaluation", tamper=tamper)
