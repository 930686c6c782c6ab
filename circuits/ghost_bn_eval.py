"""One Ghost BN layer in evaluation mode as a standalone gadget: the relations that prove the
eval-mode semantics of ``circuits/ghost_bn.py`` (``forward_eval``) for a proof of inference
(issue 17 item 2; docs/ghost_bn.md sections 1 and 4.2). A model trained with Ghost BN predicts
with the committed running statistics RM, RV and the trained Gamma, beta of a checkpoint. Not
yet wired into the inference walk.

**Layout** (little-endian, DESIGN section 9). Per element: [N, C] in C order, N = 2^row_vars
rows (any number of samples: inference is not tied to the batch size), C = 2^feature_vars
features low: an element point is (c, r). Per feature: [C] (point (c)). Names carry the
gadget's ``name``: ``{name}.<value>``; slots ``{name}.<value>.slots``; the rsqrt's tables
``{name}.rstd.<value>`` (``circuits.sqrt.Rsqrt``).

**Semantics** (``circuits/ghost_bn.py``; R = frac_bits, S = 2R + k, R_s = rstd_bits,
a = R_s + R (``eval_rsqrt_shift``), h = R + R_s (``eval_xhat_shift``)):

    y = rsqrt_round(RV + eps_int, a)                   per feature: rstd at 2^R_s     (E1)
    2^h X + rX = (2^R x - RM) y                        X = rescale_h, x_hat at 2^R    (E2)
    2^S Y + rY = Gamma X + 2^R beta                    Y = rescale_S, the output      (E3)

with both remainders centred (``rescale``: [-2^(s-1), 2^(s-1))). Nothing is summed over the
rows: the statistics are the checkpoint's, constant over the rows (no ghost batches, no
momentum, a single rsqrt per feature). The radicand is RV + eps_int at 2^(2R) (the running
variance's scale, eps at its own), with no factor v^2 (training's V = v^2 (var + eps)).

**Committed** (range-checked slots; widths ``slot_decomposition``): per element X (``xhat_bits``:
the eval x_hat is not bounded by the semantics as training's is, see ``xhat_max``), rX (h bits),
rY (S bits); per feature the rstd's y - 1 (a), lo, hi (the wide ``circuits.sqrt.Rsqrt``
slacks) and t - 1 = y^2 - 1 (2a). No plain tensors: t reaches 2^(2a) = 2^80. **Virtual**: the
inputs x ([N, C], Q-bit: the caller's range check), Gamma, beta, RM, RV ([C]: the caller's
committed checkpoint, range-checked by the caller to ``weight_bits``, ``running_mean`` and
``running_var`` of ``GhostBnSpec.widths``); the output Y ([N, C]: the caller's ReLU
range-checks it, its Q-bit decomposition of Y - 1).

**Identities** (``element_identities``, ``feature_identities``; ``Poly``s, degree <= 2 in the
tables, 3 with eq):

    per element:  (X) 2^h X + rX - 2^R x y + RM y            y, RM broadcast over the rows
                  (Y) 2^S Y + rY - Gamma X - 2^R beta        Gamma, beta over the rows
    per feature:  (T), (LO), (HI) the rsqrt's relation (R) on V = RV + eps_int (``Rsqrt``)

No per-feature product needs committing: RM y and x y are degree 2 already.

**Soundness** (which check forces which value). Every identity is lifted to the integers by
``relation_bounds`` (every term below 2^250 for every witness the widths admit, with x, Y
within Q bits, Gamma, beta within ``weight_bits``, RM within ``running_mean`` and RV within
``running_var``: the caller's range checks; RV unsigned, so V = RV + eps_int >= eps_int >= 1
as an integer). Then (T), (LO), (HI) with RC(lo), RC(hi) and RC(y - 1) make y =
rsqrt_round(RV + eps_int, a) (``circuits.sqrt``: eps omitted, or y off by one either way,
leaves lo or hi out of range; RC(y - 1) is rule 0.3 against the half-integer y; RC(t - 1), the
price of committing t = y^2 as slots, is not claimed to suffice alone). (X) with RC(X), RC(rX)
makes X = rescale_h((2^R x - RM) y) (rule 0.3: without RC(X), X may be a field fraction and rX
absorbs it); (Y) with RC(rY) and the caller's RC(Y) makes Y = rescale_S(Gamma X + 2^R beta).
The element zero-check reads y, RM, Gamma and beta through broadcast tables: their claims are
at the element point without the row bits, y's tied to the same slots as the per-feature
zero-check's (one rstd for both), RM, Gamma, beta returned to the caller, RV's (at the feature
point) too: statistics of another feature or another checkpoint make those returned claims
false against the caller's committed tensors. Y from the training-mode batch statistics is
the semantics of other RM, RV (the returned claims are false), or with the running ones in the
tables a remainder out of range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .ghost_bn import GhostBnSpec, forward_eval
from .ghost_bn_step import objects
from .poly import Poly
from .semantics import refuse_wide_identities
from .sqrt import Decomposition, Rsqrt, decomposition, rsqrt_round


@dataclass(frozen=True)
class GhostBnEval:
    """One Ghost BN layer in eval mode over N = 2^row_vars rows and C = 2^feature_vars features
    (module docstring). ``limb_bits`` None: bit range checks, else limbs. ``spec.batch_size``
    and the momentum play no part (the rows are any number of samples)."""

    name: str
    spec: GhostBnSpec
    row_vars: int
    feature_vars: int
    limb_bits: int | None = 16
    #: The rows that are samples (a proof of inference's N), the rest padding; None: every row.
    #: Padded rows have x = 0 and must give X = Y = 0, as the inference walk's relations force
    #: zero on every padded row (its bias enters as 2^R [n < N] b): the element zero-check reads
    #: RM and beta through copies masked by [n < N] (``masked``), so there (X) and (Y) read
    #: 2^h X + rX = 0 and 2^S Y + rY = Gamma X, and the range checks leave X = rX = Y = rY = 0.
    real_rows: int | None = None

    def __post_init__(self) -> None:
        if self.row_vars < 0 or self.feature_vars < 0:
            raise ValueError(f"{self.name}: row_vars and feature_vars must be >= 0")
        if self.real_rows is not None and not 1 <= self.real_rows <= self.rows:
            raise ValueError(f"{self.name}: {self.real_rows} real rows of {self.rows}")
        refuse_wide_identities(self.name, self.relation_bounds())

    # --- shape ------------------------------------------------------------------------------------
    @property
    def element_vars(self) -> int:
        """(c, r)."""
        return self.feature_vars + self.row_vars

    @property
    def rows(self) -> int:
        return 1 << self.row_vars

    @property
    def features(self) -> int:
        return 1 << self.feature_vars

    @property
    def masked(self) -> bool:
        """Whether some rows are padding (``real_rows``): RM and beta are read masked."""
        return self.real_rows is not None and self.real_rows < self.rows

    # --- the rsqrt ----------------------------------------------------------------------------------
    @property
    def rv_bits(self) -> int:
        """RV's declared width (``running_var``, unsigned): the radicand's bound."""
        return self.spec.widths()["running_var"][0]

    @property
    def rsqrt(self) -> Rsqrt:
        """y = rsqrt_round(RV + eps_int, a) per feature, a = R_s + R: the wide ``Rsqrt`` (RV is
        64 bits at the defaults, past the narrow mode's int64 witness; the witness is C entries,
        so Python ints cost nothing, and t is committed as slots like every other value), with
        RV's declared width as the radicand's bound."""
        return Rsqrt(f"{self.name}.rstd", self.feature_vars, self.rv_bits, self.spec.eval_rsqrt_shift,
                     self.spec.eps_int, self.limb_bits, radicand=self.t("RV"), wide=True)

    # --- widths ---------------------------------------------------------------------------------------
    @property
    def y_max(self) -> int:
        """The largest rstd the semantics gives: rsqrt_round is decreasing in V and V >= eps_int."""
        return rsqrt_round(self.spec.eps_int, self.spec.eval_rsqrt_shift)

    @property
    def xhat_max(self) -> int:
        """|X| <= (|2^R x - RM|_max y_max >> h) + 1 with |2^R x| <= 2^(Q-1+R) and RM within its
        signed width: the eval x_hat is bounded only by the widths of x and RM and by eps (a
        sample far from the running mean over a small running variance), not by the semantics
        as training's |x_hat| <= sqrt(v - 1)."""
        sp = self.spec
        rm_bits = sp.widths()["running_mean"][0]
        xc = (1 << (sp.value_bits - 1 + sp.frac_bits)) + (1 << (rm_bits - 1))
        return ((xc * self.y_max) >> sp.eval_xhat_shift) + 1

    @property
    def xhat_bits(self) -> int:
        """X in two's complement: [-2^(w-1), 2^(w-1)) holds [-xhat_max, xhat_max]."""
        return self.xhat_max.bit_length() + 1

    ELEMENT_SLOTS = ("X", "rX", "rY")
    #: Every value committed as slots besides the rsqrt's (``prover.ghost_bn_step.slot_tables``).
    SLOT_VALUES = ELEMENT_SLOTS

    def slot_decomposition(self, value: str) -> Decomposition:
        """The decomposition of a value in ELEMENT_SLOTS."""
        sp = self.spec
        bits = {"X": self.xhat_bits, "rX": sp.eval_xhat_shift, "rY": sp.param_shift}[value]
        return decomposition(bits, True, self.limb_bits)

    def relation_bounds(self) -> dict[str, int]:
        """Bits of the sum of the magnitudes of every term of each identity over the integers,
        for every witness the widths admit (x, Y Q-bit, Gamma, beta ``weight_bits``, RM, RV their
        running widths: the caller's; y in [1, 2^a] by RC(y - 1))."""
        sp = self.spec
        R, S, h = sp.frac_bits, sp.param_shift, sp.eval_xhat_shift
        q, w, y = 1 << (sp.value_bits - 1), 1 << (sp.weight_bits - 1), 1 << sp.eval_rsqrt_shift
        rm = 1 << (sp.widths()["running_mean"][0] - 1)

        def top(value):
            d = self.slot_decomposition(value)
            return max(abs(d.min_value), abs(d.max_value))

        xh = top("X")
        bounds = {
            "(X)": (xh << h) + top("rX") + ((q * y) << R) + rm * y,
            "(Y)": (q << S) + top("rY") + w * xh + (w << R),
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
        """x ([N, C]), Gamma, beta, RM, RV ([C]): the caller's."""
        return [self.t(n) for n in ("x", "Gamma", "beta", "RM", "RV")]

    def ranged(self) -> list[tuple[str, Decomposition, int]]:
        """Every slots tensor to range-check, (name, decomposition, value_vars): per element X,
        rX, rY; per feature the rstd's y - 1, lo, hi, t - 1."""
        r = self.rsqrt
        out = [(self.slots(v), self.slot_decomposition(v), self.element_vars) for v in self.ELEMENT_SLOTS]
        return out + [(r.slots(v), getattr(r, f"{v}_slots")(), self.feature_vars) for v in ("y", "lo", "hi", "t")]

    def committed_tensors(self) -> list[str]:
        return [name for name, _, _ in self.ranged()]

    def slots_per_element(self) -> int:
        """Range-checked slots (limbs or bits) per element (r, c): the cost driver."""
        return sum(d.num_slots for _, d, vv in self.ranged() if vv == self.element_vars)

    def slots_per_feature(self) -> int:
        """Range-checked slots per feature."""
        return sum(d.num_slots for _, d, vv in self.ranged() if vv == self.feature_vars)

    # --- the identities -------------------------------------------------------------------------------
    def element_identities(self) -> list[tuple[str, Poly]]:
        """(E2), (E3) per element; y, RM, Gamma, beta per-feature tables broadcast over the rows
        (the verifier's tables say how)."""
        sp = self.spec
        R = sp.frac_bits
        x, X, rX, Y, rY, RM, G, beta = (Poly.var(self.t(n)) for n in ("x", "X", "rX", "Y", "rY", "RM", "Gamma",
                                                                      "beta"))
        y = Poly.var(self.rsqrt.y)
        return [
            ("(X) normalized", (1 << sp.eval_xhat_shift) * X + rX - (1 << R) * x * y + RM * y),
            ("(Y) output", (1 << sp.param_shift) * Y + rY - G * X - (1 << R) * beta),
        ]

    def feature_identities(self) -> list[tuple[str, Poly]]:
        """(E1): the rsqrt's (T), (LO), (HI) on V = RV + eps_int."""
        return self.rsqrt.identities()

    # --- witness ----------------------------------------------------------------------------------------
    def witness_values(self, x, gamma, beta, rm, rv) -> dict[str, np.ndarray]:
        """Every table's values by name, Python ints (object arrays), from the semantics of
        ``circuits/ghost_bn.py`` (``forward_eval``): per element [N, C], per feature [C].
        ``GhostBnWidthError`` when an input or the output leaves its width (the semantics' own
        checks); a ValueError for a shape that is not the gadget's."""
        N, C = self.rows, self.features
        x = objects(x, (N, C), self.t("x"))
        gamma, beta, rm, rv = (objects(a, (C,), self.t(n)) for a, n in ((gamma, "Gamma"), (beta, "beta"),
                                                                         (rm, "RM"), (rv, "RV")))
        real = self.rows if self.real_rows is None else self.real_rows
        if any(v != 0 for v in x[real:].reshape(-1)):
            raise ValueError(f"{self.t('x')}: a padded row (n >= {real}) is not zero")
        ev = forward_eval(self.spec, x, gamma, beta, rm, rv)
        r = self.rsqrt
        y, t, lo, hi = r.witness_values(rv)
        out = {self.t("x"): x, self.t("Gamma"): gamma, self.t("beta"): beta, self.t("RM"): rm, self.t("RV"): rv,
               r.y: np.asarray(ev.rstd, dtype=object), r.t: t, r.lo: lo, r.hi: hi}
        for key, val in (("X", ev.xhat), ("rX", ev.xhat_rem), ("Y", ev.out), ("rY", ev.out_rem)):
            out[self.t(key)] = np.asarray(val, dtype=object).reshape(N, C)
            out[self.t(key)][real:] = 0  # the padded rows' (X), (Y) read masked RM and beta
        if list(out[r.y]) != list(y):  # pragma: no cover - one semantics
            raise AssertionError(f"{self.name}: the rsqrt gadget's y is not the semantics' rstd")
        return out
