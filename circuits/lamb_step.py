"""One LAMB step as a standalone gadget: the relations that prove the step of
``circuits/lamb.py`` per (step t, entry i) over stacked tensors [T', n] (issue 16 item 2, LAMB
part; docs/lamb.md sections 4 and 4.1; nonlinear-gadgets.md sections 5-8).

**Layout.** Every per-entry tensor is [T', n] in C order (steps outermost): an MLE point is
(p, tau), the ``param_vars`` variables low. Per-step tensors are [T'] (point tau). Names carry
the gadget's ``name``. Step j of the stack is LAMB's step t = ``first_step`` + j (t counted from
1: the bias corrections of ``circuits.lamb.bias_corrections``).

**Semantics** (``circuits/lamb.py``, module docstring), with (b1, k1), (b2, k2) the betas,
lam = ln / 2^kl, R = frac_bits, k = lr_shift, KU = 2R + k + kl, c1 = 2^(KU - KR),
kd = KP + KU - 2R, cs = SV + 2KS - KB, cq = KS + KR - KA, E = eps_int:

    2^k1 M_t + r1 = b1 M_{t-1} + (2^k1 - b1) G                       r1 in [-2^(k1-1), 2^(k1-1))
    2^(k2+SV) V_t + r2 = b2 2^SV V_{t-1} + (2^k2 - b2) G^2            r2 likewise, k2 + SV bits
    s = isqrt(x), x = 2^cs B_t V                                      (wide isqrt)
    D = s + E,  2 r_q D + rho = 2^(cq+1) A_t M + D,  0 <= rho <= 2D - 1
    U = c1 r_q + ln P                                                 (virtual, exact)
    N_P = sum_i P^2, N_U = sum_i U^2 per step
    phi: (2 phi - 1)^2 N_U <= 4 Z < (2 phi + 1)^2 N_U, Z = 2^(2(KP+kl)) N_P;  2^KP on a zero norm
    2^kd dP + rd = lr_num_t inv_c phi U                               rd in [-2^(kd-1), 2^(kd-1))

(the semantics' roundings are ``(z + 2^(s-1)) >> s``: the remainder z - 2^s q is centred, a
signed ``s``-bit value). M_{t-1}, V_{t-1} are the committed M, V shifted by one step, with the
segment's starting moments ``M0``, ``V0`` ([n], the caller's) at t = 0.

**Committed per entry** (range-checked slots): M (signed ``m_bits``), V (``v_bits``), r1, r2,
the isqrt's e and u = 2s - e (s virtual), r_q (signed KR + ``ratio_bits``: |r| < 2^16 by
default), rho, sigma = 2D - 1 - rho, dP (signed ``step_bits``, by default ``p_bits`` + 1), rd (signed kd bits): 11 slots
tensors. **Per step**: flags f_P, f_U, f and Lphi = lr_num_t phi (plain, below 2^63); slots of
phi (KP + ``ratio_bits``), phi2 = phi^2, lo, hi (the fused rounding's two slacks) and
NUs = (1 - f) N_U + f. Virtual: P, G (the inputs; the
gadget returns claims on them), M_{t-1}, V_{t-1} (the shift), s, U, N_P, N_U.

**Relation (E), per entry** (one zero-check; degree <= 2 in the tables, so 3 with eq; the
public tables A, B are the verifier's steps tables):

    (M)  2^k1 M + r1 - b1 Mp - (2^k1 - b1) G = 0
    (V)  2^(k2+SV) V + r2 - 2^SV b2 Vp - (2^k2 - b2) G^2 = 0
    (S)  2^cs B V - s^2 - e = 0
    (Q)  2 r_q (s + E) + rho - 2^(cq+1) A M - (s + E) = 0
    (D)  2^kd dP + rd - inv_c Lphi (c1 r_q + ln P) = 0
    tied at the zero-check's point: sigma = 2(s + E) - 1 - rho and u = 2s - e (linear).

lr_num_t phi U has degree 3 in the witness (4 with eq): the per-step product Lphi = lr_num_t phi
is committed (per step, T' entries), and (LP) pins it.

**Relation (P), per step** (one zero-check over the step variables):

    (ZP) N_P f_P = 0        (ZU) N_U f_U = 0
    (F)  f = f_P + f_U - f_P f_U
    (L)  f (phi - 2^KP) = 0
    (NS) NUs = (1 - f) N_U + f
    (PH) phi2 = phi^2
    (LO) lo = 4 Zs - (4 phi2 - 4 phi + 1) NUs,      Zs = (1 - f) 2^(2(KP+kl)) N_P + f 2^(2 KP)
    (HI) hi = (4 phi2 + 4 phi + 1) NUs - 4 Zs - 1
    (LP) Lphi = lr_num_t phi

**Soundness.** (M), (V), (Q), (D) and (S) are the rounding, division and isqrt gadgets'
relations over the integers (``relation_bounds``: every term below 2^250 for every witness the
widths admit; the inputs P, G within ``p_bits``, ``g_bits`` and M0, V0 within ``m_bits``,
``v_bits`` are the caller's). RC(M) and RC(V)
are needed (without them M = (X - r1) / 2^k1 could be a field fraction); RC(r_q) likewise (the
division's rule 0.3); rho, sigma in range make r_q = round_half_up(2^cq A M / D), D >= E >= 1.
The flags need neither booleanity nor the range checks t = N - 1 + f of LARS's gadget
(``circuits/trust.py``), because here the fused rounding itself has no solution on a zero norm.
N_P and N_U are the true norms mod r (the norm sumcheck), integers below r. Where both are
nonzero, (ZP), (ZU) force f_P = f_U = 0 and (F) f = 0. Where f != 0 (mod r), (L) pins
phi = 2^KP, which is the semantics' value whenever some norm is zero; and f != 0 cannot happen
with both norms nonzero. Where some norm is zero and a cheater makes f = 0 (f_P = 0 denied, or
non-boolean flags with 1 - f = (1 - f_P)(1 - f_U) = 1), NUs = N_U and Zs = Z, and (LO), (HI)
lifted to the integers say (2 phi - 1)^2 N_U <= 4Z < (2 phi + 1)^2 N_U: with N_P = 0 that needs
N_U >= 1 and (2 phi - 1)^2 <= 0, impossible for an integer phi; with N_U = 0 it needs 4Z < 0.
So RC(lo) or RC(hi) rejects. Where f = 0 honestly, NUs = N_U >= 1, Zs = Z and (LO), (HI) with
RC(lo), RC(hi), RC(phi) and (PH) are the fused rounding of nonlinear-gadgets.md section 8:
phi = round(2^KP ||P|| / ||U|| 2^kl), ``circuits.lamb.trust``. (ZP) and (ZU) are needed
(f_P = 1 on a nonzero norm would set phi = 2^KP), and (F) is (f = 1 freely would too).
Where f = 1 the gated values are NUs = 1, Zs = 2^(2KP): at phi = 2^KP (the honest witness)
lo = 2^(KP+2) - 1 and hi = 2^(KP+2), both in range (phi is pinned by (L) there). RC(phi2) is
the range check of a committed wide value (Hyrax commits integers below 2^63 only): not needed
for soundness (phi2 = phi^2 with phi in range), the price of committing it. RC(NUs) is what
bounds N_U by a declared ``norm_u_bits`` (where f = 0, NUs = N_U); with the worst-case width it
is likewise the price of committing NUs.

**Not adapted** (``spec.adapt`` False: lam = 0 and no ``always_adapt``): phi = 2^KP; not built
here (``__post_init__`` refuses it by name).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .lamb import KA, KB, KP, KR, KS, SV, LambSpec, bias_corrections, trust
from .semantics import MAX_RELATION_BITS, refuse_wide_identities
from .sqrt import Decomposition, Sqrt, decomposition
from .poly import Poly


def _rescale(z, shift: int):
    """The semantics' rounding (z + 2^(shift-1)) >> shift and its centred remainder (an int,
    or entrywise on an object array)."""
    q = (z + (1 << (shift - 1))) >> shift
    return q, z - (q << shift)


@lru_cache(maxsize=64)
def _corrections(spec: LambSpec, first_step: int, steps: int) -> tuple[tuple[int, int], ...]:
    return tuple(bias_corrections(spec, first_step + j) for j in range(steps))


@dataclass(frozen=True)
class LambStep:
    """One LAMB step per (t, i) over [2^step_vars, 2^param_vars] (i low), one parameter tensor
    (module docstring). ``lr``: lr_num per stacked step (0 on padded steps); ``first_step``:
    LAMB's t of stacked step 0. Widths: P (``p_bits``), G (``g_bits``; the caller's), M
    (``m_bits``), V (``v_bits``), r and phi headroom (``ratio_bits``: |r| < 2^(ratio_bits - 1),
    phi < 2^(KP + ratio_bits - 1)). ``limb_bits`` None: bit range checks, else limbs.
    ``norm_u_bits``: N_U's declared width (NUs's range check enforces it where the norms are
    nonzero); None: the worst case of r_q and P, which caps the tensor near 2^12 entries, since
    (LO) reaches phi^2 N_U (a declared width, like the moments', lifts the cap: the witness
    refuses an N_U beyond it). ``step_bits``: dP's signed width (None: p_bits + 1). The widths
    follow the worst step's bias corrections (t = 1), whatever ``first_step`` is."""

    name: str
    step_vars: int
    param_vars: int
    spec: LambSpec
    frac_bits: int
    lr_shift: int
    lr: tuple[int, ...]
    first_step: int = 1
    p_bits: int = 56
    g_bits: int = 40
    m_bits: int = 48
    v_bits: int = 62
    ratio_bits: int = 17
    limb_bits: int | None = 16
    norm_u_bits: int | None = None
    step_bits: int | None = None

    def __post_init__(self) -> None:
        if self.step_vars < 0 or self.param_vars < 0:
            raise ValueError(f"{self.name}: step_vars and param_vars must be >= 0")
        if len(self.lr) != 1 << self.step_vars or any(int(x) < 0 for x in self.lr):
            raise ValueError(f"{self.name}: lr needs 2^step_vars = {1 << self.step_vars} entries >= 0, got {self.lr}")
        if self.first_step < 1:
            raise ValueError(f"{self.name}: LAMB counts steps from 1, got first_step {self.first_step}")
        if not self.spec.adapt:
            raise ValueError(f"{self.name}: LAMB without adaptation (lam = 0, phi = 2^KP) is not built in this gadget")
        if self.ku < KR:
            raise ValueError(f"{self.name}: 2R + k + kl = {self.ku} < KR = {KR}: U = r_q 2^(KU-KR) + ln P "
                             f"needs KU >= KR")
        (_, k1), (_, k2) = self.spec.betas()
        if k1 < 1:
            raise ValueError(f"{self.name}: betas[0]: 1 - b1 must have a shift >= 1")
        if self.lphi_bits > 62:
            raise ValueError(f"{self.name}: Lphi = lr_num phi needs {self.lphi_bits} bits > 62 (a plain tensor)")
        if self.nu_bits > MAX_RELATION_BITS:
            raise ValueError(f"{self.name}: N_U could reach 2^{self.nu_bits}, beyond 2^{MAX_RELATION_BITS}")
        bounds = self.relation_bounds()
        refuse_wide_identities(self.name, bounds, f"P {self.p_bits}, G {self.g_bits}, M {self.m_bits}, V {self.v_bits} "
                                                  f"bits, {1 << self.param_vars} entries")

    # --- constants -----------------------------------------------------------------------------
    @property
    def num_vars(self) -> int:
        return self.step_vars + self.param_vars

    @property
    def steps(self) -> int:
        return 1 << self.step_vars

    @property
    def kl(self) -> int:
        return self.spec.lam.shift

    @property
    def ln(self) -> int:
        return self.spec.lam.num

    @property
    def ku(self) -> int:
        """U at 2^KU, KU = 2R + k + kl."""
        return 2 * self.frac_bits + self.lr_shift + self.kl

    @property
    def c1(self) -> int:
        """U = c1 r_q + ln P, c1 = 2^(KU - KR)."""
        return 1 << (self.ku - KR)

    @property
    def kd(self) -> int:
        """dP = round(lr_num inv_c phi U / 2^kd), kd = KP + KU - 2R."""
        return KP + self.ku - 2 * self.frac_bits

    @property
    def cs(self) -> int:
        """x = 2^cs B V, cs = SV + 2KS - KB."""
        return SV + 2 * KS - KB

    @property
    def cq(self) -> int:
        """The division's numerator 2^cq A M, cq = KS + KR - KA."""
        return KS + KR - KA

    @property
    def z_shift(self) -> int:
        """Z = 2^z_shift N_P, z_shift = 2(KP + KU - 2R - k) = 2(KP + kl)."""
        return 2 * (KP + self.ku - 2 * self.frac_bits - self.lr_shift)

    @property
    def one(self) -> int:
        """2^KP: phi on a zero norm."""
        return 1 << KP

    def corrections(self) -> list[tuple[int, int]]:
        """(A_t, B_t) per stacked step, t = first_step + j: public, recomputed by the verifier."""
        return list(_corrections(self.spec, self.first_step, self.steps))

    @property
    def worst_corrections(self) -> tuple[int, int]:
        """(A_1, B_1): the largest bias corrections of any step (1 - b^t grows with t). The
        widths follow them, not this stack's steps, so every segment of a run has the same
        layout whatever step it starts at."""
        return _corrections(self.spec, 1, 1)[0]

    def a_table(self) -> list[int]:
        return [a for a, _ in self.corrections()]

    def b_table(self) -> list[int]:
        return [b for _, b in self.corrections()]

    def lr_table(self) -> list[int]:
        return [int(x) for x in self.lr]

    # --- widths ---------------------------------------------------------------------------------
    @property
    def x_bits(self) -> int:
        """x = 2^cs B V < 2^x_bits."""
        return (((1 << self.v_bits) - 1) * self.worst_corrections[1] << self.cs).bit_length()

    @property
    def sqrt(self) -> Sqrt:
        """s = isqrt(2^cs B V): slots ``{name}.s.e.slots``, ``{name}.s.u.slots`` (wide)."""
        return Sqrt(f"{self.name}.s", self.num_vars, self.x_bits, self.limb_bits, radicand=f"{self.name}.x")

    @property
    def s_max(self) -> int:
        return (1 << (self.sqrt.s_bits + 1)) - 1

    @property
    def d_max(self) -> int:
        """The largest D = s + E the slots admit (s < 2^(w_s + 1))."""
        return self.s_max + self.spec.eps_int

    @property
    def rq_bits(self) -> int:
        return KR + self.ratio_bits

    @property
    def phi_bits(self) -> int:
        return KP + self.ratio_bits

    @property
    def rho_bits(self) -> int:
        """rho, sigma <= 2D - 1 with D honest: s = isqrt(x) < 2^(w_s)."""
        return (2 * (math.isqrt((1 << self.x_bits) - 1) + self.spec.eps_int) - 1).bit_length()

    @property
    def dp_bits(self) -> int:
        """dP's signed width: ``step_bits``, or p_bits + 1 (a step as large as any weight)."""
        return self.p_bits + 1 if self.step_bits is None else self.step_bits

    @property
    def lr_bits(self) -> int:
        return max(1, max(self.lr_table()).bit_length())

    @property
    def lphi_bits(self) -> int:
        return self.lr_bits + self.phi_bits

    @property
    def u_max(self) -> int:
        """|U| for every admitted r_q and P."""
        return self.c1 * (1 << (self.rq_bits - 1)) + self.ln * (1 << (self.p_bits - 1))

    @property
    def np_bits(self) -> int:
        return ((1 << self.param_vars) * (1 << (self.p_bits - 1)) ** 2).bit_length()

    @property
    def nu_bits(self) -> int:
        """N_U < 2^nu_bits: ``norm_u_bits``, or the worst case 2^n u_max^2."""
        if self.norm_u_bits is not None:
            return self.norm_u_bits
        return ((1 << self.param_vars) * self.u_max**2).bit_length()

    @property
    def slack_bits(self) -> int:
        """lo, hi <= 8 phi NUs - 1."""
        return ((8 << self.phi_bits) << self.nu_bits).bit_length()

    def slot_decomposition(self, value: str) -> Decomposition:
        """The decomposition of a slots value (module docstring's widths)."""
        (_, k1), (_, k2) = self.spec.betas()
        signed, width = {
            "M": (True, self.m_bits), "V": (False, self.v_bits), "r1": (True, k1), "r2": (True, k2 + SV),
            "rq": (True, self.rq_bits), "rho": (False, self.rho_bits), "sig": (False, self.rho_bits),
            "dP": (True, self.dp_bits), "rd": (True, self.kd),
            "phi": (False, self.phi_bits), "phi2": (False, 2 * self.phi_bits), "lo": (False, self.slack_bits),
            "hi": (False, self.slack_bits), "NUs": (False, self.nu_bits),
        }[value]
        return decomposition(width, signed, self.limb_bits)

    ENTRY_SLOTS = ("M", "V", "r1", "r2", "rq", "rho", "sig", "dP", "rd")
    STEP_SLOTS = ("phi", "phi2", "lo", "hi", "NUs")

    def relation_bounds(self) -> dict[str, int]:
        """Bits of the sum of the magnitudes of every term of each identity lifted to the
        integers, for every witness the widths admit (P, G within p_bits, g_bits: the
        caller's)."""
        (b1, k1), (b2, k2) = self.spec.betas()
        g, p = 1 << (self.g_bits - 1), 1 << (self.p_bits - 1)
        m, v = 1 << (self.m_bits - 1), (1 << self.v_bits) - 1
        rq, rho = 1 << (self.rq_bits - 1), (1 << self.rho_bits) - 1
        a_max = self.worst_corrections[0]
        d = self.d_max
        lphi = (1 << self.lphi_bits) - 1
        phi = (1 << self.phi_bits) - 1
        nu, n_p = (1 << self.nu_bits) - 1, (1 << self.np_bits) - 1
        sl = (1 << self.slack_bits) - 1
        zs = (n_p << self.z_shift) + (1 << 2 * KP)
        bounds = {
            "(M)": (1 << k1) * m + (1 << (k1 - 1)) + b1 * m + ((1 << k1) - b1) * g,
            "(V)": (v << (k2 + SV)) + (1 << (k2 + SV - 1)) + (b2 * v << SV) + ((1 << k2) - b2) * g * g,
            "(Q)": 2 * rq * d + rho + (a_max * m << (self.cq + 1)) + d,
            "(D)": (1 << (self.kd + self.dp_bits - 1)) + (1 << (self.kd - 1))
            + self.spec.inv_c * lphi * (self.c1 * rq + self.ln * p),
            "(LO)": 4 * zs + (4 * phi * phi + 4 * phi + 1) * nu + sl,
            "(HI)": 4 * zs + (4 * phi * phi + 4 * phi + 1) * nu + sl + 1,
        }
        out = {k: x.bit_length() for k, x in bounds.items()}
        out["(S)"] = self.sqrt.bound_bits()
        return out

    # --- tensors --------------------------------------------------------------------------------
    def t(self, value: str) -> str:
        """A table's name: ``{name}.{value}``."""
        return f"{self.name}.{value}"

    def slots(self, value: str) -> str:
        """The committed slots tensor of a value in ENTRY_SLOTS or STEP_SLOTS."""
        return f"{self.name}.{value}.slots"

    @property
    def inputs(self) -> list[str]:
        """P, G (virtual [T', n], the caller's) and M0, V0 ([n], committed by the caller)."""
        return [self.t("P"), self.t("G"), self.t("M0"), self.t("V0")]

    def plain_tensors(self) -> list[str]:
        """The committed per-step tensors that are not slots ([T'], below 2^63): f_P, f_U, f,
        Lphi."""
        return [self.t("fP"), self.t("fU"), self.t("f"), self.t("Lphi")]

    def ranged(self) -> list[tuple[str, Decomposition, int]]:
        """Every slots tensor to range-check, (name, decomposition, value_vars): per entry M, V,
        r1, r2, the isqrt's e and u, r_q, rho, sigma, dP, rd; per step phi, phi2, lo, hi, NUs."""
        sq = self.sqrt
        out = [(self.slots(v), self.slot_decomposition(v), self.num_vars) for v in self.ENTRY_SLOTS[:4]]
        out += [(sq.slots("e"), sq.e_slots(), self.num_vars), (sq.slots("u"), sq.u_slots(), self.num_vars)]
        out += [(self.slots(v), self.slot_decomposition(v), self.num_vars) for v in self.ENTRY_SLOTS[4:]]
        return out + [(self.slots(v), self.slot_decomposition(v), self.step_vars) for v in self.STEP_SLOTS]

    def committed_tensors(self) -> list[str]:
        return [name for name, _, _ in self.ranged()] + self.plain_tensors()

    def slots_per_parameter(self) -> int:
        """Range-checked slots per parameter and step (limbs, or bits): the cost driver."""
        return sum(d.num_slots for _, d, vv in self.ranged() if vv == self.num_vars)

    # --- the identities -------------------------------------------------------------------------
    def entry_identities(self) -> list[tuple[str, Poly]]:
        """Relation (E) as polynomials in the per-entry tables (A, B public steps tables; Lphi
        the per-step table broadcast over the entries)."""
        v = Poly.var
        (b1, k1), (b2, k2) = self.spec.betas()
        P, G, M, Mp, V, Vp, r1, r2, rq, rho, dP, rd, A, B, Lphi = (v(self.t(n)) for n in (
            "P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "rq", "rho", "dP", "rd", "A", "B", "Lphi"))
        s, e = v(self.sqrt.s), v(self.sqrt.e)
        d = s + self.spec.eps_int
        u = self.c1 * rq + self.ln * P
        return [
            ("(M) first moment", (1 << k1) * M + r1 - b1 * Mp - ((1 << k1) - b1) * G),
            ("(V) second moment", (1 << (k2 + SV)) * V + r2 - (b2 << SV) * Vp - ((1 << k2) - b2) * G * G),
            ("(S) x = s^2 + e", (1 << self.cs) * B * V - s * s - e),
            ("(Q) division", 2 * rq * d + rho - (2 << self.cq) * A * M - d),
            ("(D) step", (1 << self.kd) * dP + rd - self.spec.inv_c * Lphi * u),
        ]

    def step_identities(self) -> list[tuple[str, Poly]]:
        """Relation (P) as polynomials in the per-step tables (LR public)."""
        v = Poly.var
        NP, NU, NUs, fP, fU, f, phi, phi2, lo, hi, Lphi, LR = (v(self.t(n)) for n in (
            "NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi", "Lphi", "LR"))
        zs = (1 - f) * (1 << self.z_shift) * NP + (1 << 2 * KP) * f
        return [
            ("(ZP) N_P f_P = 0", NP * fP),
            ("(ZU) N_U f_U = 0", NU * fU),
            ("(F) f = f_P + f_U - f_P f_U", f - fP - fU + fP * fU),
            ("(L) f (phi - 2^KP) = 0", f * (phi - self.one)),
            ("(NS) NUs = (1 - f) N_U + f", NUs - (1 - f) * NU - f),
            ("(PH) phi2 = phi^2", phi2 - phi * phi),
            ("(LO) lower slack", lo - 4 * zs + (4 * phi2 - 4 * phi + 1) * NUs),
            ("(HI) upper slack", hi - (4 * phi2 + 4 * phi + 1) * NUs + 4 * zs + 1),
            ("(LP) Lphi = lr_num phi", Lphi - LR * phi),
        ]

    # --- witness --------------------------------------------------------------------------------
    def witness_values(self, p0, g, m0, v0) -> dict[str, np.ndarray]:
        """Every table's values by name for P_0 ([n]), the folded gradients G ([T', n]) and the
        starting moments M0, V0 ([n]), Python ints: per-entry tables [T', n], per-step [T'],
        object arrays. P is the trajectory P_{t+1} = P_t - dP_t (``{name}.P`` [T', n]) and
        ``{name}.Pfinal`` the weights after the last step. Computed on Python ints (object
        arrays, entrywise) by the equations of ``circuits/lamb.py``; a ValueError when a value
        leaves its width."""
        T, n = self.steps, 1 << self.param_vars
        g = np.asarray(g, dtype=object).reshape(T, n)
        p = _ints(p0)
        m_prev, v_prev = _ints(m0), _ints(v0)
        if len(p) != n or len(m_prev) != n or len(v_prev) != n:
            raise ValueError(f"{self.name}: P_0, M0, V0 need {n} entries")
        (b1, k1), (b2, k2) = self.spec.betas()
        E, ln = self.spec.eps_int, self.ln
        keys = ("P", "G", "M", "Mp", "V", "Vp", "r1", "r2", "s", "e", "rq", "rho", "sig", "U", "dP", "rd")
        ent = {k: np.empty((T, n), dtype=object) for k in keys}
        stp = {k: np.empty(T, dtype=object) for k in ("NP", "NU", "NUs", "fP", "fU", "f", "phi", "phi2", "lo", "hi",
                                                       "Lphi", "A", "B", "LR")}

        def fits(val, bits, signed, what, j):
            lo, hi = (-(1 << (bits - 1)), 1 << (bits - 1)) if signed else (0, 1 << bits)
            arr = np.atleast_1d(np.asarray(val, dtype=object))
            bad = [x for x in arr if not lo <= x < hi]
            if bad:
                raise ValueError(f"{self.name}: {what} = {bad[0]} at step {j} outside its {bits}-bit range")

        corrections, lrs = self.corrections(), self.lr_table()
        for j in range(T):
            a, b = corrections[j]
            lr = lrs[j]
            gj = _ints(g[j])
            fits(gj, self.g_bits, True, "G", j)
            fits(p, self.p_bits, True, "P", j)
            m, r1 = _rescale(b1 * m_prev + ((1 << k1) - b1) * gj, k1)
            v, r2 = _rescale((b2 << SV) * v_prev + ((1 << k2) - b2) * gj * gj, k2 + SV)
            fits(m, self.m_bits, True, "M", j)
            fits(v, self.v_bits, False, "V", j)
            x = (v * b) << self.cs
            root = _isqrt(x)
            d = root + E
            num = (m * a) << self.cq
            rq = (2 * num + d) // (2 * d)  # round_half_up(num / d)
            rho = 2 * num + d - 2 * rq * d
            fits(rq, self.rq_bits, True, "r_q", j)
            u = self.c1 * rq + ln * p
            n_p, n_u = int((p * p).sum()), int((u * u).sum())
            phi = trust(n_p, n_u, self.frac_bits, self.lr_shift, self.ku)
            fits(phi, self.phi_bits, False, "phi", j)
            fits(n_u, self.nu_bits, False, "N_U", j)
            f_p, f_u = int(n_p == 0), int(n_u == 0)
            f = f_p | f_u
            nus = n_u if not f else 1
            zs = n_p << self.z_shift if not f else 1 << 2 * KP
            dp, rd = _rescale((lr * self.spec.inv_c * phi) * u, self.kd)
            fits(dp, self.dp_bits, True, "dP", j)
            row = dict(P=p, G=gj, M=m, Mp=m_prev, V=v, Vp=v_prev, r1=r1, r2=r2, s=root, e=x - root * root, rq=rq,
                       rho=rho, sig=2 * d - 1 - rho, U=u, dP=dp, rd=rd)
            for k in keys:
                ent[k][j] = row[k]
            values = {"NP": n_p, "NU": n_u, "NUs": nus, "fP": f_p, "fU": f_u, "f": f, "phi": phi, "phi2": phi * phi,
                      "lo": 4 * zs - (2 * phi - 1) ** 2 * nus, "hi": (2 * phi + 1) ** 2 * nus - 4 * zs - 1,
                      "Lphi": lr * phi, "A": a, "B": b, "LR": lr}
            for k, val in values.items():
                stp[k][j] = val
            m_prev, v_prev = m, v
            p = p - dp
        out = {self.t(k): arr for k, arr in ent.items()}
        out[self.sqrt.s], out[self.sqrt.e] = out.pop(self.t("s")), out.pop(self.t("e"))
        out.update({self.t(k): arr for k, arr in stp.items()})
        out[self.t("M0")] = np.array([int(x) for x in np.asarray(m0, dtype=object).reshape(-1)], dtype=object)
        out[self.t("V0")] = np.array([int(x) for x in np.asarray(v0, dtype=object).reshape(-1)], dtype=object)
        out[self.t("Pfinal")] = p
        return out


def _ints(values) -> np.ndarray:
    """A flat object array of Python ints."""
    return np.array([int(x) for x in np.asarray(values).reshape(-1)], dtype=object)


_isqrt = np.frompyfunc(math.isqrt, 1, 1)
