"""One Ghost BN layer's training step as a standalone gadget: the relations that prove the
semantics of ``circuits/ghost_bn.py`` over stacked tensors (issue 17 item 1; docs/ghost_bn.md
sections 1 and 3, relations 1-7; nonlinear-gadgets.md sections 1, 5, 9 and 10). Not yet wired
into the training walk (docs/ghost_bn.md section 4 says what remains).

**Layout** (little-endian, DESIGN section 9). Per element: [T', B, C] in C order, C low, and
b = g v + i with the sample-within-ghost-batch bits i the low bits of b (ghost batches are
contiguous): an element point is (c, i, g, t). Per statistic: [T' G, C] (an MLE point
(c, g, t)); the running-statistics sequence j = t G + g is the high part, in the order the
semantics updates it. Per step and feature: [T', C] (point (c, t)). Per feature: [C].
Names carry the gadget's ``name``: ``{name}.<value>``; slots ``{name}.<value>.slots``.

**Semantics** (``circuits/ghost_bn.py``; R = frac_bits, S = 2R + k, a = R_s + R + n,
h = n + R_s, s_dx = S + R_s + 2R + n, K the momentum's shift, m its numerator,
d = (v - 1) 2^(K + n), eps' = v^2 eps_int):

    S1 = sum_i x,  S2 = sum_i x^2,  D = v S2 - S1^2,  y = rsqrt_round(D + eps', a)       (1), (2)
    2^h X + rX = (v x - S1) y                                                          (3)
    2^S Y + rY = Gamma X + 2^R beta                                                    (4)
    A = sum_i dy,  Bs = sum_i dy X,  K = Gamma y,  P = K Bs
    2^s_dx dx + rdx = K ((v dy - A) 2^(2R) - X Bs)                                     (5)
    dgamma = sum_b dy X,  dbeta = 2^R sum_b dy                                         (6)
    2^K RM_j + rm_j = (2^K - m) RM_(j-1) + m 2^(R-n) S1_j
    2 d RV_j + rv_j = 2 ((2^K - m)(v - 1) 2^n RV_(j-1) + m D_j) + d                    (7)

with every remainder centred (``rescale``: [-2^(s-1), 2^(s-1))) but rv in [0, 2d) (the division
gadget's public-divisor form, nonlinear-gadgets.md section 1), RM_(-1), RV_(-1) the caller's
RM0, RV0. dx keeps the semantics' single rounding: K = Gamma y is *committed* (the product
gamma y_r the semantics forms, exact) and so is P = K Bs, so that (5) reads
``2^s_dx dx + rdx - v 2^(2R) K dy + 2^(2R) K A + X P = 0``, degree 2 in the tables.

**Committed** (range-checked slots; widths ``slot_decomposition``): per element X (``xhat``
bits), rX (h), rY (S), dx (Q), rdx (s_dx); per statistic the rstd's y - 1 (a), t - 1 = y^2 - 1
(2a), lo, hi (the wide ``circuits.sqrt.Rsqrt`` slacks), K (weight_bits + a), P, RM, rm (K), RV,
rv and uv = 2d - 1 - rv. No plain tensors: every committed value past 2^63 is slots.
**Virtual**: S1, S2, D, A, Bs, RM_(j-1), RV_(j-1) (the prover's tables, reduced by sumchecks);
the inputs x, dy ([T', B, C]), Gamma, beta ([T', C]), RM0, RV0 ([C]); the output Y
([T', B, C]: the caller's ReLU range-checks it, its Q-bit decomposition of Y - 1); dgamma,
dbeta ([T', C], claims for the caller's optimizer).

**Identities** (``element_identities``, ``stat_identities``; ``Poly``s, degree <= 2 in the
tables, 3 with eq):

    per element:   (X) 2^h X + rX - v x y + S1 y                       y, S1 broadcast over i
                   (Y) 2^S Y + rY - Gamma X - 2^R beta                 Gamma, beta over (g, i)
                   (DX) 2^s_dx dx + rdx - v 2^(2R) K dy + 2^(2R) K A + X P     K, A, P over i
    per statistic: (T), (LO), (HI) the rsqrt's relation (R) with V = D + eps' (``Rsqrt``)
                   (K) K - Gamma y                                     Gamma broadcast over g
                   (P) P - K Bs
                   (RM) 2^K RM + rm - (2^K - m) RMp - m 2^(R-n) S1
                   (RV) 2 d RV + rv - 2 (2^K - m)(v - 1) 2^n RVp - 2 m D - d
    tied linearly: uv = 2d - 1 - rv; the sums S1, S2, A, Bs, D, dgamma, dbeta and the shift
    RMp, RVp are sumchecks (``verifier/ghost_bn_step.py``).

**Soundness** (which check forces which value). Every identity is lifted to the integers by
``relation_bounds`` (every term below 2^250 for every witness the widths admit, with x, dy,
Y within Q bits and Gamma, beta within ``weight_bits``: the caller's range checks). S1, S2, A,
Bs, D are the true sums of the true inputs (the sumchecks), so D in [0, v^2 (2^Q - 1)^2 / 4]
and V = D + eps' >= v^2 eps_int >= 4 as integers. Then (T), (LO), (HI) with RC(lo), RC(hi)
and RC(y - 1) make y = rsqrt_round(V, a) (``circuits.sqrt``: a variance without eps, or y off
by one either way, leaves lo or hi out of range; RC(y - 1) is rule 0.3 against the half-integer
y; RC(t - 1), the price of committing t = y^2 as slots, rejects that one too, t = h^2/4 being
no integer, but is not claimed to suffice alone); (X) with RC(X), RC(rX) makes X =
rescale_h(x_c y) (rule 0.3: without RC(X), X may be a field fraction); (Y) with RC(rY) and the
caller's RC(Y) makes Y = rescale_S(Gamma X + 2^R beta); (K), (P) pin K = Gamma y and P = K Bs
(as field elements, hence as the integers they are: RC(K) and RC(P) are the price of committing
wide values, not needed for soundness); then (DX) with RC(dx), RC(rdx) makes dx the semantics'
single rounding of Gamma y inner, with the forward's own y and X (the same committed tensors,
each zero-check's read tied to them: a dx from another rstd breaks (K), a range or a tie).
(RM) with RC(RM), RC(rm) and (RV) with RC(RV), RC(rv), RC(uv) make each state the semantics'
rounding of its predecessor's update (rule 0.3 for RM and RV; another ghost batch's S1 or D
there leaves rm, rv or uv out of range), and the shift pins each predecessor to the previous
state in the order j = t G + g, starting from the caller's RM0, RV0 (a skipped update, a
restart or another start breaks it). Statistics of another ghost batch throughout (S1, S2 and
everything after) fail the sums over i.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ghost_bn import GhostBnSpec, backward, forward_train, running_update
from .poly import Poly
from .semantics import refuse_wide_identities
from .sqrt import Decomposition, Rsqrt, decomposition


@dataclass(frozen=True)
class GhostBnStep:
    """One Ghost BN layer over T' = 2^step_vars steps and C = 2^feature_vars features, the
    batch B = ``spec.batch_size`` a power of two (module docstring). ``limb_bits`` None: bit
    range checks, else limbs."""

    name: str
    spec: GhostBnSpec
    step_vars: int
    feature_vars: int
    limb_bits: int | None = 16

    def __post_init__(self) -> None:
        if self.step_vars < 0 or self.feature_vars < 0:
            raise ValueError(f"{self.name}: step_vars and feature_vars must be >= 0")
        b = self.spec.batch_size
        if b & (b - 1):
            raise ValueError(f"{self.name}: the batch size {b} must be a power of two (a tensor axis of b bits)")
        refuse_wide_identities(self.name, self.relation_bounds())

    # --- shape ------------------------------------------------------------------------------------
    @property
    def ghost_bits(self) -> int:
        """n = log2 v: the i variables."""
        return self.spec.ghost_bits

    @property
    def batch_vars(self) -> int:
        return self.spec.batch_size.bit_length() - 1

    @property
    def group_vars(self) -> int:
        """log2 G: the g variables."""
        return self.batch_vars - self.ghost_bits

    @property
    def element_vars(self) -> int:
        """(c, i, g, t)."""
        return self.feature_vars + self.batch_vars + self.step_vars

    @property
    def stat_vars(self) -> int:
        """(c, g, t)."""
        return self.feature_vars + self.group_vars + self.step_vars

    @property
    def param_vars(self) -> int:
        """(c, t): Gamma, beta, dgamma, dbeta."""
        return self.feature_vars + self.step_vars

    @property
    def steps(self) -> int:
        return 1 << self.step_vars

    @property
    def features(self) -> int:
        return 1 << self.feature_vars

    @property
    def states(self) -> int:
        """T' G running-statistics states per feature."""
        return self.steps * self.spec.ghosts

    # --- constants ----------------------------------------------------------------------------------
    @property
    def eps(self) -> int:
        """eps' = v^2 eps_int: eps at the radicand's scale."""
        v = self.spec.virtual_batch_size
        return v * v * self.spec.eps_int

    @property
    def keep(self) -> int:
        """2^K - m."""
        return (1 << self.spec.mom_shift) - self.spec.mom_num

    @property
    def rsqrt(self) -> Rsqrt:
        """y = rsqrt_round(D + eps', a) per statistic: the wide ``Rsqrt`` with D's bound
        v^2 (2^Q - 1)^2 / 4 declared (D is the true v S2 - S1^2 of Q-bit inputs)."""
        d_max = self.spec.d_max
        return Rsqrt(f"{self.name}.rstd", self.stat_vars, d_max.bit_length(), self.spec.rsqrt_shift, self.eps,
                     self.limb_bits, radicand=self.t("D"), wide=True, x_max=d_max)

    # --- widths ---------------------------------------------------------------------------------------
    @property
    def k_bits(self) -> int:
        """K = Gamma y: |K| <= 2^(wb - 1) 2^a, signed wb + a bits."""
        return self.spec.weight_bits + self.spec.rsqrt_shift

    @property
    def bs_max(self) -> int:
        """|Bs| = |sum_i dy X| <= v 2^(Q-1) 2^(xhat_bits - 1) for every admitted X."""
        return self.spec.virtual_batch_size << (self.spec.value_bits - 1 + self.spec.xhat_bits - 1)

    @property
    def p_bits(self) -> int:
        """P = K Bs, signed."""
        return ((1 << (self.k_bits - 1)) * self.bs_max).bit_length() + 1

    ELEMENT_SLOTS = ("X", "rX", "rY", "dx", "rdx")
    STAT_SLOTS = ("K", "P", "RM", "rm", "RV", "rv", "uv")
    #: Every value committed as slots besides the rsqrt's (``prover.ghost_bn_step.slot_tables``).
    SLOT_VALUES = ELEMENT_SLOTS + STAT_SLOTS

    def slot_decomposition(self, value: str) -> Decomposition:
        """The decomposition of a value in ELEMENT_SLOTS or STAT_SLOTS (``GhostBnSpec.widths``)."""
        w = self.spec.widths()
        bits, signed = {
            "X": w["xhat"], "rX": w["xhat_remainder"], "rY": w["out_remainder"], "dx": w["g_in"],
            "rdx": w["g_in_remainder"], "K": (self.k_bits, True), "P": (self.p_bits, True),
            "RM": w["running_mean"], "rm": w["running_mean_remainder"], "RV": w["running_var"],
            "rv": w["running_var_remainder"], "uv": w["running_var_remainder"],
        }[value]
        return decomposition(bits, signed, self.limb_bits)

    def relation_bounds(self) -> dict[str, int]:
        """Bits of the sum of the magnitudes of every term of each identity over the integers,
        for every witness the widths admit (x, dy, Y Q-bit and Gamma, beta ``weight_bits``: the
        caller's; S1, S2, A, Bs, D the true sums of those)."""
        sp = self.spec
        v, n, R, S = sp.virtual_batch_size, sp.ghost_bits, sp.frac_bits, sp.param_shift
        q, w, y = 1 << (sp.value_bits - 1), 1 << (sp.weight_bits - 1), 1 << sp.rsqrt_shift
        h, sdx, Km = sp.xhat_shift, sp.dx_shift, sp.mom_shift

        def top(value):
            d = self.slot_decomposition(value)
            return max(abs(d.min_value), abs(d.max_value))

        xh, k, p = top("X"), top("K"), top("P")
        s1, s2 = v * q, v * q * q
        d, d_max = sp.var_divisor, sp.d_max
        bounds = {
            "(X)": (xh << h) + top("rX") + 2 * v * q * y,
            "(Y)": (q << S) + top("rY") + w * xh + (w << R),
            "(DX)": (q << sdx) + top("rdx") + ((v * k * q) << (2 * R)) + ((k * s1) << (2 * R)) + xh * p,
            "(K)": k + w * y,
            "(P)": p + k * self.bs_max,
            "(RM)": (top("RM") << Km) + top("rm") + self.keep * top("RM") + ((sp.mom_num * s1) << (R - n)),
            "(RV)": 2 * d * top("RV") + top("rv") + ((2 * self.keep * (v - 1) * top("RV")) << n)
            + 2 * sp.mom_num * d_max + d,
            "(D) sums": v * s2 + s1 * s1 + d_max,
            "grads": sp.batch_size * q * (xh + (1 << R)),
        }
        out = {key: x.bit_length() for key, x in bounds.items()}
        out["(R) rsqrt"] = self.rsqrt.bound_bits()
        return out

    # --- tensors --------------------------------------------------------------------------------------
    def t(self, value: str) -> str:
        """A table's name: ``{name}.{value}``."""
        return f"{self.name}.{value}"

    def slots(self, value: str) -> str:
        return f"{self.name}.{value}.slots"

    @property
    def inputs(self) -> list[str]:
        """x, dy ([T', B, C]), Gamma, beta ([T', C]), RM0, RV0 ([C]): the caller's."""
        return [self.t(n) for n in ("x", "dy", "Gamma", "beta", "RM0", "RV0")]

    def ranged(self) -> list[tuple[str, Decomposition, int]]:
        """Every slots tensor to range-check, (name, decomposition, value_vars): per element X,
        rX, rY, dx, rdx; per statistic the rstd's y - 1, lo, hi, t - 1 and K, P, RM, rm, RV,
        rv, uv."""
        r = self.rsqrt
        out = [(self.slots(v), self.slot_decomposition(v), self.element_vars) for v in self.ELEMENT_SLOTS]
        out += [(r.slots(v), getattr(r, f"{v}_slots")(), self.stat_vars) for v in ("y", "lo", "hi", "t")]
        return out + [(self.slots(v), self.slot_decomposition(v), self.stat_vars) for v in self.STAT_SLOTS]

    def committed_tensors(self) -> list[str]:
        return [name for name, _, _ in self.ranged()]

    def slots_per_element(self) -> int:
        """Range-checked slots (limbs or bits) per element (t, b, c): the cost driver."""
        return sum(d.num_slots for _, d, vv in self.ranged() if vv == self.element_vars)

    def slots_per_statistic(self) -> int:
        """Range-checked slots per (t, g, c)."""
        return sum(d.num_slots for _, d, vv in self.ranged() if vv == self.stat_vars)

    # --- the identities -------------------------------------------------------------------------------
    def element_identities(self) -> list[tuple[str, Poly]]:
        """Relations (3), (4), (5) per element; y, S1, K, A, P are statistics tables and Gamma,
        beta parameter tables, broadcast (the verifier's tables say how)."""
        sp = self.spec
        v, R = sp.virtual_batch_size, sp.frac_bits
        x, dy, X, rX, Y, rY, dx, rdx, S1, K, A, P, G, beta = (Poly.var(self.t(n)) for n in (
            "x", "dy", "X", "rX", "Y", "rY", "dx", "rdx", "S1", "K", "A", "P", "Gamma", "beta"))
        y = Poly.var(self.rsqrt.y)
        return [
            ("(X) normalized", (1 << sp.xhat_shift) * X + rX - v * x * y + S1 * y),
            ("(Y) output", (1 << sp.param_shift) * Y + rY - G * X - (1 << R) * beta),
            ("(DX) input gradient", (1 << sp.dx_shift) * dx + rdx - (v << (2 * R)) * K * dy + (1 << (2 * R)) * K * A
             + X * P),
        ]

    def stat_identities(self) -> list[tuple[str, Poly]]:
        """The rsqrt's (T), (LO), (HI) on V = D + eps', then (K), (P), (RM), (RV) per statistic
        (Gamma broadcast over g)."""
        sp = self.spec
        v, n, R, Km, m, d = (sp.virtual_batch_size, sp.ghost_bits, sp.frac_bits, sp.mom_shift, sp.mom_num,
                             sp.var_divisor)
        K, P, G, Bs, RM, RMp, rm, RV, RVp, rv, S1, D = (Poly.var(self.t(n_)) for n_ in (
            "K", "P", "Gamma", "Bs", "RM", "RMp", "rm", "RV", "RVp", "rv", "S1", "D"))
        y = Poly.var(self.rsqrt.y)
        return self.rsqrt.identities() + [
            ("(K) K = Gamma y", K - G * y),
            ("(P) P = K Bs", P - K * Bs),
            ("(RM) running mean", (1 << Km) * RM + rm - self.keep * RMp - ((m << (R - n)) * S1)),
            ("(RV) running variance", 2 * d * RV + rv - ((2 * self.keep * (v - 1)) << n) * RVp - 2 * m * D - d),
        ]

    # --- witness ----------------------------------------------------------------------------------------
    def witness_values(self, x, dy, gamma, beta, rm0, rv0) -> dict[str, np.ndarray]:
        """Every table's values by name, Python ints (object arrays), from the semantics of
        ``circuits/ghost_bn.py`` step by step (``forward_train``, ``running_update`` carried
        over the steps, ``backward``): per element [T', B, C], per statistic [T' G, C], per
        step and feature [T', C], RM0, RV0 [C]. ``GhostBnWidthError`` when an input or a result
        leaves its width (the semantics' own checks)."""
        T, B, C = self.steps, self.spec.batch_size, self.features
        x, dy = (objects(a, (T, B, C), self.t(n)) for a, n in ((x, "x"), (dy, "dy")))
        gamma, beta = (objects(a, (T, C), self.t(n)) for a, n in ((gamma, "Gamma"), (beta, "beta")))
        rm, rv = (objects(a, (C,), self.t(n)) for a, n in ((rm0, "RM0"), (rv0, "RV0")))
        out = {self.t("RM0"): rm, self.t("RV0"): rv, self.t("x"): x, self.t("dy"): dy, self.t("Gamma"): gamma,
               self.t("beta"): beta}
        rows: dict[str, list] = {}
        for j in range(T):
            fw = forward_train(self.spec, x[j], gamma[j], beta[j], step=j)
            ru = running_update(self.spec, rm, rv, fw.s1, fw.d, step=j)
            bw = backward(self.spec, fw.xhat, fw.rstd, gamma[j], dy[j], step=j)
            for key, val in (("X", fw.xhat), ("rX", fw.xhat_rem), ("Y", fw.out), ("rY", fw.out_rem),
                             ("dx", bw.g_in), ("rdx", bw.g_in_rem), ("S1", fw.s1), ("S2", fw.s2), ("D", fw.d),
                             ("y", fw.rstd), ("K", bw.coef), ("A", bw.a_sum), ("Bs", bw.b_sum),
                             ("RM", ru.means[1:]), ("RMp", ru.means[:-1]), ("rm", ru.mean_rem),
                             ("RV", ru.variances[1:]), ("RVp", ru.variances[:-1]), ("rv", ru.var_rem),
                             ("dgamma", bw.g_gamma), ("dbeta", bw.g_beta)):
                rows.setdefault(key, []).append(np.asarray(val, dtype=object))
            rm, rv = ru.running_mean, ru.running_var
        for key, parts in rows.items():  # per element [T', B, C] and per step [T', C] as stacked
            arr = np.stack(parts)
            out[self.t(key)] = arr if key in _STACKED else arr.reshape(self.states, C)
        out[self.rsqrt.y] = out.pop(self.t("y"))
        r = self.rsqrt
        _, t, lo, hi = r.witness_values(out[self.t("D")].reshape(-1))
        out[r.t], out[r.lo], out[r.hi] = (a.reshape(self.states, C) for a in (t, lo, hi))
        out[self.t("P")] = out[self.t("K")] * out[self.t("Bs")]
        out[self.t("uv")] = 2 * self.spec.var_divisor - 1 - out[self.t("rv")]
        return out


#: The semantics' per-element and per-step results, kept as stacked; the others are statistics.
_STACKED = frozenset(("X", "rX", "Y", "rY", "dx", "rdx", "dgamma", "dbeta"))


def objects(values, shape: tuple[int, ...], what: str) -> np.ndarray:
    """An object array of Python ints of ``shape`` (a ValueError naming ``what`` otherwise).
    A list is read as objects from the start: numpy's own dtype inference would make a list
    holding 2^64 - 1 (a running variance at the top of its width) float64."""
    arr = values if isinstance(values, np.ndarray) else np.array(values, dtype=object)
    if arr.shape != shape:
        raise ValueError(f"{what}: expected shape {shape}, got {arr.shape}")
    return np.vectorize(int, otypes=[object])(arr) if arr.size else arr.astype(object)
