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
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .lars import TRUST_HEADROOM, LarsSpec, round_half_up_div, trust_ratio
from .poly import Poly
from .semantics import MAX_RELATION_BITS
from .sqrt import Decomposition, Sqrt, decomposition

# --- the gadget ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrustRatio:
    """lambda_q per (t, g) over [2^step_vars, 2^group_vars] (g low), from the squared norms
    N, M < 2^norm_bits (module docstring). ``limb_bits`` None: bit range checks, else limbs."""

    name: str
    step_vars: int
    group_vars: int
    spec: LarsSpec
    lr_shift: int
    norm_bits: int
    limb_bits: int | None = 16

    def __post_init__(self) -> None:
        if self.step_vars < 0 or self.group_vars < 0:
            raise ValueError(f"{self.name}: step_vars and group_vars must be >= 0")
        if self.lr_shift < 0:
            raise ValueError(f"{self.name}: lr_shift must be >= 0")
        if self.norm_bits < 1:
            raise ValueError(f"{self.name}: norm_bits must be >= 1")
        bounds = self.relation_bounds()
        worst = max(bounds, key=bounds.get)
        if bounds[worst] > MAX_RELATION_BITS:
            raise ValueError(
                f"{self.name}: identity {worst} could reach 2^{bounds[worst] - 1} or more for a witness the "
                f"declared widths admit (norm_bits {self.norm_bits}, lambda {self.lam_bits} bits, rho "
                f"{self.rho_bits} bits), beyond 2^{MAX_RELATION_BITS}: a relation mod r would not imply it "
                f"over the integers"
            )

    # --- constants of the relation -------------------------------------------------------------
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
        """lambda_q in [0, 2^(K_l + 16)]: K_l + 17 unsigned bits."""
        return self.spec.trust_bits + TRUST_HEADROOM + 1

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

    def lam_slots(self) -> Decomposition:
        """lambda_q in [0, 2^(K_l+17)), unsigned (the caller reads lambda_q from it)."""
        return decomposition(self.lam_bits, False, self.limb_bits)

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
        docstring). (L) needs no lift: f >= 1 is nonzero mod r."""
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
        return {"(S)": sqrt_bits, "(Z)": z.bit_length(), "(F)": f.bit_length(), "tie t": tie.bit_length(),
                "(Q)": q.bit_length(), "(U)": u.bit_length()}

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
        """lambda_q: virtual, what ``slots("lam")`` recomposes to."""
        return f"{self.name}.lam"

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
        """The committed slots tensor of ``tP``, ``tG``, ``lam``, ``rho`` or ``sig``."""
        return f"{self.name}.{value}.slots"

    def plain_tensors(self) -> list[str]:
        """The committed tensors that are not slots (0/1 entries, [T', Gp]): one claim each."""
        return [self.f_p, self.f_g, self.flag]

    def ranged(self) -> list[tuple[str, Decomposition, int]]:
        """Every slots tensor to range-check, (name, decomposition, value_vars): e_P, u_P,
        t_P, e_G, u_G, t_G, lambda_q, rho, sigma."""
        out = []
        for c, t in ((self.sqrt_p, "tP"), (self.sqrt_g, "tG")):
            out += [(c.slots("e"), c.e_slots(), c.num_vars), (c.slots("u"), c.u_slots(), c.num_vars),
                    (self.slots(t), self.t_slots(), self.num_vars)]
        return out + [(self.slots(v), d, self.num_vars)
                      for v, d in (("lam", self.lam_slots()), ("rho", self.rho_slots()), ("sig", self.sig_slots()))]

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
        fp, fg, f, lam, rho, sig = (v(n) for n in (self.f_p, self.f_g, self.flag, self.lam, self.rho, self.sig))
        d = self.grad_coeff * sg + self.decay_coeff * sp + self.eps
        two_d = (2 << self.eta_shift) * d
        return [
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

    # --- witness ---------------------------------------------------------------------------------
    def entry(self, n: int, m: int) -> dict[str, int]:
        """The integer values of one (t, g) entry. Equal to ``circuits.lars.trust_ratio`` by
        construction."""
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
        return {"s_p": s_p, "s_g": s_g, "e_p": n - s_p * s_p, "e_g": m - s_g * s_g, "f_p": f_p, "f_g": f_g,
                "t_p": s_p - 1 + f_p, "t_g": s_g - 1 + f_g, "f": f, "lam": lam, "rho": rho, "sig": sig, "d": d}

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
        rows = [self.entry(int(n), int(m)) for n, m in zip(n_arr, m_arr)]
        limit = self.spec.trust_limit
        for i, row in enumerate(rows):
            if row["lam"] > limit:
                raise ValueError(f"{self.name}: trust ratio {row['lam']}/2^{self.spec.trust_bits} at entry {i} "
                                 f"exceeds 2^{TRUST_HEADROOM}")
            ref = trust_ratio(int(n_arr[i]), int(m_arr[i]), self.spec, self.lr_shift)
            if (row["s_p"], row["s_g"], row["lam"]) != (ref[0], ref[1], ref[3]):  # pragma: no cover
                raise AssertionError(f"{self.name}: the witness departs from circuits.lars.trust_ratio")

        def col(key):
            return np.array([row[key] for row in rows], dtype=object)

        sp, sg = self.sqrt_p, self.sqrt_g
        return {
            self.norm_p: n_arr.copy(), self.norm_g: m_arr.copy(),
            sp.s: col("s_p"), sp.e: col("e_p"), sg.s: col("s_g"), sg.e: col("e_g"),
            self.f_p: col("f_p"), self.f_g: col("f_g"), self.flag: col("f"), self.t_p: col("t_p"), self.t_g: col("t_g"),
            self.lam: col("lam"), self.rho: col("rho"), self.sig: col("sig"),
        }
