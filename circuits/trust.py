"""LARS's trust ratio as a gadget: lambda_q from the squared norms, per (step, tensor)
(issue 16 item 1; docs/lars.md sections 1 and 4.3-4.4; nonlinear-gadgets.md sections 5, 6, 8).

**Semantics** (``circuits.lars.trust_ratio``; k = lr_shift, beta_f = b / 2^k_b, eta = e / 2^k_e,
K_l = trust_bits, E = eps_int), per (t, g) with the squared norms N = sum P^2, M = sum G^2:

    s_P = isqrt(N),  s_G = isqrt(M)
    D = 2^(k+k_b) s_G + b s_P + E
    lambda_q = round_half_up(A s_P / (2^k_e D)),   A = e inv_c 2^(K_l+k_b)
    lambda_q = 2^K_l when s_P = 0 or s_G = 0                       (the zero-norm rule)

**Layout.** Every per-(t, g) tensor is [T', Gp] in C order (steps outermost): an MLE point is
(r_g..., r_t...), the ``group_vars`` g variables low. Names carry the gadget's ``name``.

**Tensors.** N = ``{name}.NP``, M = ``{name}.NG``: inputs, virtual (the caller's norm sumchecks
reduce the claims the gadget leaves on them). Two isqrt gadgets (``circuits.sqrt.Sqrt``, named
``{name}.sP`` and ``{name}.sG``, wide past 62 bits): s virtual, e and u = 2s - e committed as
slots. Committed slots: t_P = s_P - 1 + f_P and t_G (the zero-norm flags' range checks),
lambda_q (``lam``: the caller's too), the division's remainder rho and its slack sigma.
Committed plain tensors (0/1, no range check: the identities pin them): the flags f_P, f_G, f.
No field inverse is committed (nonlinear-gadgets.md section 8 proves f = [x = 0] by x inv =
1 - f, but a committed inverse is a 255-bit entry and Hyrax commits small integers): the range
check of t = s - 1 + f does its job, s >= 1 where f = 0.

**Relation** (T): for every (t, g), with D = 2^(k+k_b) s_G + b s_P + E (linear in the virtual
roots), s = (e + u) / 2 for each root:

    (S_P)  N = s_P^2 + e_P                     (S_G)  M = s_G^2 + e_G
    (Z_P)  s_P f_P = 0                         (Z_G)  s_G f_G = 0
    (B_P)  f_P^2 = f_P
    (F)    f = f_P + f_G - f_P f_G
    (L)    f (lambda - 2^K_l) = 0
    (Q)    2^(k_e+1) (lambda - 2^K_l f) D + (1 - f) (rho - 2 A s_P - 2^k_e D) = 0
    (U)    sigma = (1 - f) (2^(k_e+1) D - 1 - rho)
    t_P = s_P - 1 + f_P,  t_G = s_G - 1 + f_G  (linear: tied at the zero-check's point)
    RC(e_P), RC(u_P), RC(t_P), RC(e_G), RC(u_G), RC(t_G)   (w_s + 1 bits each)
    RC(lambda) in K_l + 17 bits,  RC(rho), RC(sigma) in w_rho bits.

Every identity has degree <= 2 in the witness (one zero-check with its eq factor, degree 3).

**Soundness.** RC(e), RC(u) and (S) make s_P, s_G the integer roots, in [0, 2^(w_s+1))
(``circuits.sqrt``). With RC(t), f_P = t_P - s_P + 1 is an integer in (-2^(w_s+1), 2^(w_s+1)],
so (Z_P) holds over the integers (|s_P f_P| < 2^(2 w_s + 2) < 2^250): s_P = 0, and then
f_P = t_P + 1 >= 1, or f_P = 0, and then t_P = s_P - 1 >= 0, s_P >= 1. So f_P >= 1 iff s_P = 0,
and (B_P) makes f_P = [s_P = 0]. The same for G *without* a booleanity: f_G >= 1 iff s_G = 0,
f_G = 0 otherwise. Then f = 1 - (1 - f_P)(1 - f_G) over the integers (bounded by 2^(w_s+2)):

* s_P = 0: f_P = 1, f = 1;
* s_P, s_G >= 1: f_P = f_G = 0, f = 0;
* s_P >= 1, s_G = 0: f = f_G >= 1.

So f >= 1 (nonzero mod r) exactly on a zero norm, where (L) gives lambda = 2^K_l mod r, and
lambda, an integer below 2^(K_l+17) < r, is 2^K_l: the zero-norm rule, whatever (Q) and (U)
then say. (B_G) would add nothing (f_G > 1 only changes f on an entry where lambda is already
pinned) and is not made (every check must be needed, DESIGN section 10); (B_P) is needed: with
neither booleanity, f_P = f_G = 2 on two zero norms gives f = 0 and frees lambda.

If f = 0 (both norms nonzero), D >= 2^(k+k_b) >= 1 and (Q), (U) are the division gadget's
relation (1) with shift 0 (``circuits/division.py``), n = A s_P, d = 2^k_e D, q = lambda,
r' = rho:

    2 lambda d + rho = 2 n + d,   sigma = 2d - 1 - rho,   rho, sigma >= 0,

both over the integers (``relation_bounds``: every term below 2^250 for every witness the
widths admit, so no wraparound mod r), whose single solution is lambda = floor((2n + d) / (2d))
= round_half_up(n / d), the semantics. Why (Q) is gated as written: (1 - f) lambda D has
degree 3; with (L), (1 - f) lambda = lambda - 2^K_l f, which has degree 1. The slack is gated
too: with both norms zero and E = 0, D = 0 and 2d - 1 - rho = -1 - rho has no range-checked
value. Where f = 1 and D > 0, (Q) reads 2^(k_e+1) (lambda - 2^K_l) D = 0 and pins lambda by
itself; (L) is what pins it where D = 0 (both norms zero and E = 0, or s_G = 0 with
b s_P + E = 0) and where a cheater's f_G > 1.

**Widths.** e, u, t: ``Sqrt`` with x_bits = ``norm_bits`` (w_s + 1 bits). rho, sigma: the honest
rho < 2^(k_e+1) D_max with D_max = (2^(k+k_b) + b) isqrt(2^norm_bits - 1) + E, so w_rho =
bits(2^(k_e+1) D_max - 1). lambda: K_l + 17 bits (0..2^(K_l+16) the semantics admits; a ratio
past 2^16 is refused by the witness as by ``zktrain.fixedpoint.lars``).

**LARC** (``clip_lr`` set, with ``spec.clip``; ``circuits.lars``, "LARC"; docs/lars.md section
5). ``clip_lr`` is the public lr_num per padded step (0 on the padded steps), whose table LR
(``{name}.LR``, constant over g) the verifier evaluates itself. The output ``lam`` (the slots
``slots("lam")`` the caller's buffer relation reads) becomes LARC's multiplier m_q, and lambda_q
an internal value, ``{name}.ratio`` (slots ``slots("ratio")``): the identities above read it
where they read lambda. With d = inv_c LR (the divisor of lambda_q 2^k / (inv_c lr_num)) and

    Delta = 2^(k+1) lambda - (2^(K_l+1) - 1) d      (= 2n + d - 2^(K_l+1) d, n = 2^k lambda)

round_half_up(n / d) = floor((2n + d) / (2d)) >= 2^K_l iff Delta >= 0 (for d >= 1), so the clip
is a comparison on lambda, with no quotient to commit where it binds. Committed: the flag c
(plain, 1 where m_q = 2^K_l: a zero norm, a clipped entry, or lr_num = 0), m_q in K_l + 1 bits,
the division's remainder rho2 and slack sigma2, and the comparison's slack h, all slots:

    (CM)  c (m - 2^K_l) = 0
    (CF)  f (1 - c) = 0
    (CH)  h = (2c - f - 1) Delta + c - 1
    (CQ)  2 d (m - 2^K_l c) + (1 - c) (rho2 - 2^(k+1) lambda - d) = 0
    (CU)  sigma2 = (1 - c) (2d - 1 - rho2)
    RC(m) in K_l + 1 bits,  RC(rho2), RC(sigma2) in w_2 bits,  RC(h) in w_h bits.

Every identity has degree <= 2 in the tables (LR included), so they join (T)'s zero-check; the
honest witness is c = 1, m = 2^K_l, h = Delta (0 on a zero norm), rho2 = sigma2 = 0 where the
multiplier is one, and c = 0, m = q = round_half_up(n / d) with its remainder, h = -Delta - 1
elsewhere. No booleanity of c is made, and no inverse of lr_num.

*Soundness.* lambda is the semantics' trust ratio and f is 0 off the zero norms and an integer
>= 1 on them (above). Cases on the field element c:

* c = 0. (CF) gives f = 0 (f >= 1 is nonzero mod r): both norms nonzero. (CH) reads
  h = -Delta - 1 over the integers (|h| + |Delta| + 1 < 2^250, ``relation_bounds``), so RC(h)
  gives Delta <= -1. (CQ) and (CU) read 2 d m + rho2 = 2n + d and sigma2 = 2d - 1 - rho2, over
  the integers (m < 2^(K_l+1) by RC(m), rho2, sigma2 < 2^(w_2)): rho2 + sigma2 = 2d - 1 with
  both >= 0 needs d >= 1 (so lr_num_t = 0 cannot take c = 0), and then m = floor((2n + d) / (2d))
  = q, the division gadget's argument. Delta <= -1 is q <= 2^K_l - 1, so m = q = min(q, 2^K_l).
* c = 1. (CM) gives m = 2^K_l. (CH) reads h = (1 - f) Delta: with f = 0 (both norms nonzero),
  RC(h) gives Delta >= 0, so q >= 2^K_l when d >= 1 (and d = 0 is lr_num_t = 0): 2^K_l is
  the multiplier. With f >= 1 it is a zero norm, whose multiplier is 2^K_l whatever h says.
* c not in {0, 1}. (CM) gives m = 2^K_l and (CQ) becomes (1 - c)(2^(K_l+1) d + rho2 - 2n - d)
  = 0, so rho2 = Delta over the integers and RC(rho2) gives Delta >= 0: again the multiplier is
  2^K_l. So a booleanity c^2 = c would add nothing and is not made.

Each check is needed (``tests/test_trust.py``, one attack each): without RC(h) a clip is skipped
(c = 0, m = q > 2^K_l) or claimed where q < 2^K_l (c = 1, m = 2^K_l); without (CF) a zero norm
with gamma_t > 1 takes m = q = 2^K_l / gamma_t (the float takes 1); without (CM) m is free on
the steps with lr_num = 0; without RC(m) m is a non-integer field element with rho2 + 1,
sigma2 - 1; without RC(rho2) m + 1, without RC(sigma2) m - 1 (and without (CU), m - 1 with
sigma2 left in range), without (CQ) m + 1 with rho2, sigma2 honest; (CH) ties h to Delta.

*Widths.* d_max = inv_c max(lr_num). rho2, sigma2 < 2 d_max: w_2 = bits(2 d_max - 1) (at least 1).
h: Delta <= 2^(k+1) 2^(K_l+16) where c = 1, -Delta - 1 < (2^(K_l+1) - 1) d_max where c = 0: w_h
bits for the larger. m: K_l + 1 bits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .lars import TRUST_HEADROOM, LarsSpec, larc_multiplier, round_half_up_div, trust_ratio
from .poly import Poly
from .semantics import refuse_wide_identities
from .sqrt import Decomposition, Sqrt, decomposition

# --- the gadget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRatio:
    """lambda_q per (t, g) over [2^step_vars, 2^group_vars] (g low), from the squared norms
    N, M < 2^norm_bits (module docstring). ``limb_bits`` None: bit range checks, else limbs.
    ``clip_lr``: LARC (``spec.clip``), the public lr_num of every padded step; the output is
    then LARC's multiplier m_q (module docstring, "LARC")."""

    name: str
    step_vars: int
    group_vars: int
    spec: LarsSpec
    lr_shift: int
    norm_bits: int
    limb_bits: int | None = 16
    clip_lr: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.step_vars < 0 or self.group_vars < 0:
            raise ValueError(f"{self.name}: step_vars and group_vars must be >= 0")
        if self.lr_shift < 0:
            raise ValueError(f"{self.name}: lr_shift must be >= 0")
        if self.norm_bits < 1:
            raise ValueError(f"{self.name}: norm_bits must be >= 1")
        self._check_clip_lr()
        refuse_wide_identities(self.name, self.relation_bounds(),
                               f"norm_bits {self.norm_bits}, lambda {self.lam_bits} bits, rho {self.rho_bits} bits")

    def _check_clip_lr(self) -> None:
        """LARC and the lr_num table come together: one entry >= 0 per padded step."""
        if self.spec.clip != (self.clip_lr is not None):
            raise ValueError(f"{self.name}: LARC (spec.clip) needs the public lr_num table clip_lr, and plain "
                             f"LARS takes none (spec.clip {self.spec.clip}, clip_lr "
                             f"{'None' if self.clip_lr is None else 'given'})")
        if self.clip_lr is None:
            return
        lr = self.clip_lr
        if type(lr) is not tuple or len(lr) != 1 << self.step_vars:
            got = f"{len(lr)} entries" if type(lr) is tuple else type(lr).__name__
            raise ValueError(f"{self.name}: clip_lr must be a tuple of {1 << self.step_vars} lr_num (one per "
                             f"padded step), got {got}")
        if any(type(v) is not int or v < 0 for v in lr):
            raise ValueError(f"{self.name}: clip_lr entries must be integers >= 0")

    # --- constants of the relation -------------------------------------------------------------
    @property
    def clip(self) -> bool:
        """LARC mode: the output is the clipped multiplier m_q."""
        return self.clip_lr is not None

    @property
    def num_vars(self) -> int:
        return self.step_vars + self.group_vars

    @property
    def grad_coeff(self) -> int:
        """2^(k+k_b): s_G's coefficient in D."""
        return 1 << (self.lr_shift + self.spec.beta.shift)

    @property
    def decay_coeff(self) -> int:
        """b: s_P's coefficient in D."""
        return self.spec.beta.num

    @property
    def eps(self) -> int:
        return self.spec.eps_int

    @property
    def numerator_coeff(self) -> int:
        """A = e inv_c 2^(K_l+k_b): the division's numerator is A s_P."""
        s = self.spec
        return s.eta.num * s.inv_c << (s.trust_bits + s.beta.shift)

    @property
    def eta_shift(self) -> int:
        """k_e: the division's divisor is 2^k_e D."""
        return self.spec.eta.shift

    @property
    def one(self) -> int:
        """2^K_l: lambda_q on a zero norm."""
        return 1 << self.spec.trust_bits

    def divisor(self, s_p: int, s_g: int) -> int:
        """D = 2^(k+k_b) s_G + b s_P + E."""
        return self.grad_coeff * s_g + self.decay_coeff * s_p + self.eps

    def clip_divisor(self, step: int) -> int:
        """LARC's d = inv_c lr_num_t: lambda / gamma_t at 2^-K_l is lambda_q 2^k / d."""
        return self.spec.inv_c * self.clip_lr[step]

    def clip_delta(self, lam: int, d: int) -> int:
        """Delta = 2^(k+1) lambda - (2^(K_l+1) - 1) d: >= 0 iff round_half_up(lambda 2^k / d)
        >= 2^K_l (d >= 1), and >= 0 where d = 0."""
        return (lam << (self.lr_shift + 1)) - ((2 * self.one - 1) * d)

    # --- widths --------------------------------------------------------------------------------
    @property
    def sqrt_p(self) -> Sqrt:
        """s_P = isqrt(N): e, u slots ``{name}.sP.e.slots``, ``{name}.sP.u.slots``."""
        return Sqrt(f"{self.name}.sP", self.num_vars, self.norm_bits, self.limb_bits, radicand=self.norm_p)

    @property
    def sqrt_g(self) -> Sqrt:
        """s_G = isqrt(M)."""
        return Sqrt(f"{self.name}.sG", self.num_vars, self.norm_bits, self.limb_bits, radicand=self.norm_g)

    @property
    def lam_bits(self) -> int:
        """The trust ratio lambda_q in [0, 2^(K_l + 16)]: K_l + 17 unsigned bits."""
        return self.spec.trust_bits + TRUST_HEADROOM + 1

    @property
    def max_clip_divisor(self) -> int:
        """LARC: the largest d = inv_c lr_num_t of the table."""
        return self.spec.inv_c * max(self.clip_lr)

    @property
    def rho2_bits(self) -> int:
        """LARC: rho2, sigma2 < 2 d_max (honest); at least 1 bit."""
        return max(1, (2 * self.max_clip_divisor - 1).bit_length())

    @property
    def cmp_bits(self) -> int:
        """LARC: h = Delta <= 2^(k+1) 2^(K_l+16) (c = 1), or -Delta - 1 < (2^(K_l+1) - 1) d_max
        (c = 0)."""
        clipped = self.spec.trust_limit << (self.lr_shift + 1)
        return max(clipped.bit_length(), ((2 * self.one - 1) * self.max_clip_divisor).bit_length())

    @property
    def max_divisor(self) -> int:
        """The largest honest D: both roots at isqrt(2^norm_bits - 1)."""
        s = math.isqrt((1 << self.norm_bits) - 1)
        return self.divisor(s, s)

    @property
    def rho_bits(self) -> int:
        """rho, sigma < 2^(k_e+1) D_max (honest): their width."""
        return ((self.max_divisor << (self.eta_shift + 1)) - 1).bit_length()

    def t_slots(self) -> Decomposition:
        """t = s - 1 + f in [0, 2^(w_s + 1)) (t_P and t_G): s >= 1 where f = 0."""
        return self.sqrt_p.e_slots()

    def ratio_slots(self) -> Decomposition:
        """lambda_q in [0, 2^(K_l+17)), unsigned."""
        return decomposition(self.lam_bits, False, self.limb_bits)

    def lam_slots(self) -> Decomposition:
        """The output the caller reads: lambda_q (``ratio_slots``), or LARC's m_q in [0, 2^(K_l+1))."""
        if not self.clip:
            return self.ratio_slots()
        return decomposition(self.spec.trust_bits + 1, False, self.limb_bits)

    def rho_slots(self) -> Decomposition:
        """rho in [0, 2^(w_rho)); with sigma's check, rho < 2^(k_e+1) D."""
        return decomposition(self.rho_bits, False, self.limb_bits)

    def sig_slots(self) -> Decomposition:
        """sigma = (1 - f)(2^(k_e+1) D - 1 - rho) in [0, 2^(w_rho))."""
        return decomposition(self.rho_bits, False, self.limb_bits)

    def relation_bounds(self) -> dict[str, int]:
        """Bits of the sum of the magnitudes of every term of each identity lifted to the
        integers, for every witness the widths admit (roots s < 2^(w_s+1) from their slots,
        lambda < 2^(K_l+17), rho, sigma < 2^(w_rho), f = 0: with f = 1, (Q) and (U) are 0 = 0
        and sigma = 0); the flags f_P, f_G = t - s + 1 in (-2^(w_s+1), 2^(w_s+1)] (module
        docstring). (L) needs no lift: f >= 1 is nonzero mod r. LARC adds (CQ), (CU), (CH)
        lifted where c is 0 or 1 and f = 0, and (CQ)'s rho2 = Delta where c is neither; (CM),
        (CF) need no lift (a product of field elements is 0 only if a factor is)."""
        s_max = (1 << (self.sqrt_p.s_bits + 1)) - 1
        f_max = s_max + 1  # |f_P|, |f_G|
        d_max = self.divisor(s_max, s_max)
        lam_max, rho_max = (1 << self.lam_bits) - 1, (1 << self.rho_bits) - 1
        q = (lam_max * d_max << (self.eta_shift + 1)) + rho_max + 2 * self.numerator_coeff * s_max
        q += d_max << self.eta_shift
        u = rho_max + (d_max << (self.eta_shift + 1)) + 1 + rho_max
        sqrt_bits = max(self.sqrt_p.bound_bits(), self.sqrt_g.bound_bits())
        z = s_max * f_max
        f = 1 + (1 + f_max) ** 2 + f_max  # f = 1 - (1 - f_P)(1 - f_G), and the identity's f
        tie = s_max + 1 + f_max + s_max  # t = s - 1 + f
        out = {"(S)": sqrt_bits, "(Z)": z.bit_length(), "(F)": f.bit_length(), "tie t": tie.bit_length(),
               "(Q)": q.bit_length(), "(U)": u.bit_length()}
        if self.clip:
            d = self.max_clip_divisor
            m_max = (1 << (self.spec.trust_bits + 1)) - 1
            r2_max, h_max = (1 << self.rho2_bits) - 1, (1 << self.cmp_bits) - 1
            delta = (lam_max << (self.lr_shift + 1)) + (2 * self.one - 1) * d  # |Delta|
            out["(CQ)"] = (2 * d * (m_max + self.one) + r2_max + (lam_max << (self.lr_shift + 1)) + d).bit_length()
            out["(CU)"] = (2 * r2_max + 2 * d + 1).bit_length()
            out["(CH)"] = (h_max + delta + 1).bit_length()
        return out

    # --- tensors -------------------------------------------------------------------------------
    @property
    def norm_p(self) -> str:
        """N = sum P^2 per (t, g): the input, virtual (the caller reduces its claim)."""
        return f"{self.name}.NP"

    @property
    def norm_g(self) -> str:
        """M = sum G^2 per (t, g): the input, virtual."""
        return f"{self.name}.NG"

    @property
    def lam(self) -> str:
        """The output the caller reads (lambda_q; LARC: m_q): virtual, what ``slots("lam")``
        recomposes to."""
        return f"{self.name}.lam"

    @property
    def ratio(self) -> str:
        """lambda_q: the output itself, or LARC's internal ``{name}.ratio`` (``slots("ratio")``)."""
        return f"{self.name}.ratio" if self.clip else self.lam

    @property
    def clip_flag(self) -> str:
        """LARC's c, committed: 1 where m_q = 2^K_l (a zero norm, a clip, lr_num = 0)."""
        return f"{self.name}.c"

    @property
    def lr_table(self) -> str:
        """LARC's public lr_num table LR over [T', Gp] (constant over g): the verifier's."""
        return f"{self.name}.LR"

    @property
    def rho(self) -> str:
        """The division's remainder (virtual: its slots)."""
        return f"{self.name}.rho"

    @property
    def sig(self) -> str:
        """The remainder's slack (1 - f)(2^(k_e+1) D - 1 - rho) (virtual: its slots)."""
        return f"{self.name}.sig"

    @property
    def f_p(self) -> str:
        """f_P = [s_P = 0], committed."""
        return f"{self.name}.fP"

    @property
    def f_g(self) -> str:
        return f"{self.name}.fG"

    @property
    def t_p(self) -> str:
        """t_P = s_P - 1 + f_P >= 0 (virtual: its slots ``slots("tP")``)."""
        return f"{self.name}.tP"

    @property
    def t_g(self) -> str:
        return f"{self.name}.tG"

    @property
    def flag(self) -> str:
        """f = f_P + f_G - f_P f_G, committed."""
        return f"{self.name}.f"

    def slots(self, value: str) -> str:
        """The committed slots tensor of ``tP``, ``tG``, ``lam``, ``rho``, ``sig`` (LARC: also
        ``ratio``, ``rho2``, ``sig2``, ``cmp``)."""
        return f"{self.name}.{value}.slots"

    def plain_tensors(self) -> list[str]:
        """The committed tensors that are not slots ([T', Gp]): one claim each. The flags f_P,
        f_G, f (and LARC's c)."""
        return [self.f_p, self.f_g, self.flag] + ([self.clip_flag] if self.clip else [])

    def sliced(self) -> list[tuple[str, str, Decomposition]]:
        """(slots key, table, decomposition) of every table that is what its slots recompose to:
        lambda_q, rho, sigma (LARC: then m_q, rho2, sigma2, h)."""
        out = [("lam" if not self.clip else "ratio", self.ratio, self.ratio_slots()),
               ("rho", self.rho, self.rho_slots()), ("sig", self.sig, self.sig_slots())]
        if self.clip:
            two = decomposition(self.rho2_bits, False, self.limb_bits)
            out += [("lam", self.lam, self.lam_slots()), ("rho2", f"{self.name}.rho2", two),
                    ("sig2", f"{self.name}.sig2", two),
                    ("cmp", f"{self.name}.cmp", decomposition(self.cmp_bits, False, self.limb_bits))]
        return out

    def ranged(self) -> list[tuple[str, Decomposition, int]]:
        """Every slots tensor to range-check, (name, decomposition, value_vars): e_P, u_P,
        t_P, e_G, u_G, t_G, then ``sliced``'s."""
        out = []
        for c, t in ((self.sqrt_p, "tP"), (self.sqrt_g, "tG")):
            out += [(c.slots("e"), c.e_slots(), c.num_vars), (c.slots("u"), c.u_slots(), c.num_vars),
                    (self.slots(t), self.t_slots(), self.num_vars)]
        return out + [(self.slots(key), d, self.num_vars) for key, _, d in self.sliced()]

    def committed_tensors(self) -> list[str]:
        """Every tensor the caller commits for this gadget: the slots tensors of ``ranged``
        ([T', Gp, padded_width] each) and the plain flags ([T', Gp])."""
        return [name for name, _, _ in self.ranged()] + self.plain_tensors()

    # --- the identities --------------------------------------------------------------------------
    def identities(self) -> list[tuple[str, Poly]]:
        """(T)'s identities as polynomials in the tables (each must vanish entrywise), in the
        order the verifier combines them. s_P, s_G are the isqrt gadgets' root tables."""
        v = Poly.var
        sp, sg = v(self.sqrt_p.s), v(self.sqrt_g.s)
        fp, fg, f, lam, rho, sig = (v(n) for n in (self.f_p, self.f_g, self.flag, self.ratio, self.rho, self.sig))
        d = self.grad_coeff * sg + self.decay_coeff * sp + self.eps
        two_d = (2 << self.eta_shift) * d
        plain = [
            ("(S_P) N = s_P^2 + e_P", sp * sp + v(self.sqrt_p.e) - v(self.norm_p)),
            ("(S_G) M = s_G^2 + e_G", sg * sg + v(self.sqrt_g.e) - v(self.norm_g)),
            ("(Z_P) s_P f_P = 0", sp * fp),
            ("(Z_G) s_G f_G = 0", sg * fg),
            ("(B_P) f_P^2 = f_P", fp * fp - fp),
            ("(F) f = f_P + f_G - f_P f_G", f - fp - fg + fp * fg),
            ("(L) f (lambda - 2^K_l) = 0", f * (lam - self.one)),
            ("(Q) gated division", two_d * (lam - self.one * f)
             + (1 - f) * (rho - 2 * self.numerator_coeff * sp - (1 << self.eta_shift) * d)),
            ("(U) gated slack", sig - (1 - f) * (two_d - 1 - rho)),
        ]
        return plain + (self.clip_identities() if self.clip else [])

    def clip_identities(self) -> list[tuple[str, Poly]]:
        """LARC's identities (module docstring, "LARC"), over the public LR table."""
        v = Poly.var
        tab = {k: v(t) for k, t, _ in self.sliced()}
        f, c, lam, m = v(self.flag), v(self.clip_flag), tab["ratio"], tab["lam"]
        d = self.spec.inv_c * v(self.lr_table)
        two_n = (2 << self.lr_shift) * lam
        delta = two_n - (2 * self.one - 1) * d
        return [
            ("(CM) c (m - 2^K_l) = 0", c * (m - self.one)),
            ("(CF) f (1 - c) = 0", f * (1 - c)),
            ("(CH) h = (2c - f - 1) Delta + c - 1", tab["cmp"] - (2 * c - f - 1) * delta - c + 1),
            ("(CQ) gated division", 2 * d * (m - self.one * c) + (1 - c) * (tab["rho2"] - two_n - d)),
            ("(CU) gated slack", tab["sig2"] - (1 - c) * (2 * d - 1 - tab["rho2"])),
        ]

    # --- witness ---------------------------------------------------------------------------------
    def entry(self, n: int, m: int, step: int = 0) -> dict[str, int]:
        """The integer values of one (t, g) entry (t = ``step``, LARC's only use of it). Equal to
        ``circuits.lars.trust_ratio`` by construction (``lam``: lambda_q; LARC adds ``m``, ``c``,
        ``rho2``, ``sig2``, ``cmp``)."""
        s_p, s_g = math.isqrt(n), math.isqrt(m)
        d = self.divisor(s_p, s_g)
        f_p, f_g = int(s_p == 0), int(s_g == 0)
        f = f_p | f_g
        if f:
            lam, rho, sig = self.one, 0, 0
        else:
            num, den = self.numerator_coeff * s_p, d << self.eta_shift
            lam = round_half_up_div(num, den)
            rho = 2 * num + den - 2 * lam * den
            sig = 2 * den - 1 - rho
        out = {"s_p": s_p, "s_g": s_g, "e_p": n - s_p * s_p, "e_g": m - s_g * s_g, "f_p": f_p, "f_g": f_g,
               "t_p": s_p - 1 + f_p, "t_g": s_g - 1 + f_g, "f": f, "lam": lam, "rho": rho, "sig": sig, "d": d}
        return out | self.clip_entry(lam, f, step) if self.clip else out

    def clip_entry(self, lam: int, f: int, step: int) -> dict[str, int]:
        """LARC's values for lambda_q = ``lam``, zero-norm flag ``f`` at ``step``: c, m, rho2,
        sigma2, h (module docstring, "LARC")."""
        d = self.clip_divisor(step)
        delta = self.clip_delta(lam, d)
        if f or delta >= 0:
            return {"c": 1, "m": self.one, "rho2": 0, "sig2": 0, "cmp": 0 if f else delta}
        n2 = lam << self.lr_shift
        q = round_half_up_div(n2, d)
        rho2 = 2 * n2 + d - 2 * q * d
        return {"c": 0, "m": q, "rho2": rho2, "sig2": 2 * d - 1 - rho2, "cmp": -delta - 1}

    def witness_values(self, sum_p2: np.ndarray, sum_g2: np.ndarray) -> dict[str, np.ndarray]:
        """The values of every table of (T) and of t_P, t_G, by tensor name, for the squared
        norms (Python ints, shape [T', Gp] or flat, 2^num_vars entries in [0, 2^norm_bits)):
        object arrays of Python ints, flat in C order. A ValueError for a norm out of range or a
        trust ratio past 2^(K_l+16) (never a silent saturation)."""
        n_arr = np.asarray(sum_p2, dtype=object).reshape(-1)
        m_arr = np.asarray(sum_g2, dtype=object).reshape(-1)
        if n_arr.size != 1 << self.num_vars or m_arr.size != 1 << self.num_vars:
            raise ValueError(f"{self.name}: {n_arr.size} and {m_arr.size} norms for {1 << self.num_vars} entries")
        for what, arr in (("N", n_arr), ("M", m_arr)):
            if any(not 0 <= int(x) < 1 << self.norm_bits for x in arr):
                raise ValueError(f"{self.name}: a squared norm {what} lies outside [0, 2^{self.norm_bits})")
        rows = [self.entry(int(n), int(m), i >> self.group_vars) for i, (n, m) in enumerate(zip(n_arr, m_arr))]
        limit = self.spec.trust_limit
        for i, row in enumerate(rows):
            if row["lam"] > limit:
                raise ValueError(f"{self.name}: trust ratio {row['lam']}/2^{self.spec.trust_bits} at entry {i} "
                                 f"exceeds 2^{TRUST_HEADROOM}")
            ref = trust_ratio(int(n_arr[i]), int(m_arr[i]), self.spec, self.lr_shift)
            if (row["s_p"], row["s_g"], row["lam"]) != (ref[0], ref[1], ref[3]):  # pragma: no cover
                raise AssertionError(f"{self.name}: the witness departs from circuits.lars.trust_ratio")
            if self.clip and row["m"] != larc_multiplier(row["lam"], self.clip_lr[i >> self.group_vars], self.spec,
                                                         self.lr_shift, zero_norm=bool(row["f"])):  # pragma: no cover
                raise AssertionError(f"{self.name}: the witness departs from circuits.lars.larc_multiplier")

        def col(key):
            return np.array([row[key] for row in rows], dtype=object)

        sp, sg = self.sqrt_p, self.sqrt_g
        out = {
            self.norm_p: n_arr.copy(), self.norm_g: m_arr.copy(),
            sp.s: col("s_p"), sp.e: col("e_p"), sg.s: col("s_g"), sg.e: col("e_g"),
            self.f_p: col("f_p"), self.f_g: col("f_g"), self.flag: col("f"), self.t_p: col("t_p"), self.t_g: col("t_g"),
            self.ratio: col("lam"), self.rho: col("rho"), self.sig: col("sig"),
        }
        if self.clip:
            out[self.clip_flag] = col("c")
            out |= {table: col("m" if key == "lam" else key) for key, table, _ in self.sliced()[3:]}
        return out
