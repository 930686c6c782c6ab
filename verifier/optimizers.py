"""The optimizer step of the training walk: how claims on the stacked weights are reduced.

Every module updates every trained tensor (``MlpCircuit.trained_tensors``): the weights and
biases, then Ghost BN's gamma and beta, named by ``parameter_name`` and ``state_name``, their
gradients reduced by ``TrainingWalk.parameter_gradient`` (G_Z^T A, 2^R sum_b G_Z, or the
Hadamard dgamma = sum_b dy X of ``verifier/normalization.py``).

One module per ``train.optimizer`` (DESIGN section 10), chosen by ``optimizer_module``; the
walk (``verifier/training.py``) calls its hooks at fixed places, so the prover and the verifier
run the same reductions:

  ``relations``  phase A: the optimizer's own relations (none for plain SGD);
  ``update``     a claim sum_s kappa_s U~(s, p) = value on the summed updates U_s, the shape
                 every claim on W_t, b_t takes once W_0, b_0 are subtracted (phases 1 and 2);
  ``settle``     after phase 2: claims on the optimizer's virtual values become claims on
                 its committed slots.

Plain SGD (``SgdStep``): U_s = G_W,s = G_Z,s^T A_s, virtual (DESIGN section 5).

SGD with momentum and weight decay, design (A) of docs/momentum.md (``MomentumStep``):
U_s = buf_s, the momentum buffer, committed as range-checked slots every step with its
rounding remainder r_s, and related to the gradient by (docs/momentum.md section 2)

    2^K buf_t + r_t = mu' buf_{t-1} + 2^K G_t + lam' W_t,     mu' = mu_num 2^(K - k_mu),
                                                              lam' = lam_num 2^(K - k - k_lam),

checked at a random point (tau, p) of the stacked tensors. buf_{t-1} is the buffer shifted by
one step over the step variables, with the segment's starting buffer at t = 0 (zero in the
first segment; else the previous segment's committed checkpoint ``V*{l}.T``, which this
segment takes as ``V*{l}.0``). The relation holds on every padded step too: the padded steps
(lr 0, zero data) continue the recurrence, so no step predicate is needed, and the checkpoint
``V*{l}.T`` is the buffer at the last *real* step, read off the stacked buffer at that step's
boolean point. W_t stays virtual: W_t = W_0 - sum_{s<t} lr_s buf_s is linear in the committed
buffer. Biases alike, with G_b = 2^R sum_b G_Z.

LARS (``LarsStep``, docs/lars.md section 4; semantics ``circuits/lars.py``): the buffer v_t
carries the rate and the trust ratio, so U_s = v_s with rate 1 on every real step
(W_t = W_0 - sum_{s<t} v_s) and the buffer relation per parameter tensor g is

    2^K v_t + r_t = mu' v_{t-1} + a_t lambda_g(t) (2^(k+k_b) G_t + b P_t),
                                                        a_t = lr_num_t 2^(K - K_l - k - k_b),

at a random point (tau, p): the right side is one sumcheck over (b, s) whose step weights
eq(tau, s) a_s are public and lambda_g(s), the committed trust ratio, enters through the table
M = eq(tau, .) a lambda_g (broadcast over the batch), reduced to lambda_g in phase 2. lambda_q is the trust-ratio gadget's (``verifier/trust.py``): it leaves claims on the
stacked squared norms N_P(t, g) = sum_x P_g(t, x)^2 and N_G(t, g) = sum_x G_g(t, x)^2, which the
prover splits into per-tensor values at the claim's step point (their eq-combination over the
tensors must be the claim) and the norm sumchecks of ``verifier/norms.py`` reduce to claims on
the stacked weights (phase 2 reduces them as any) and on the stacked folded gradients G_W, G_b,
which the gradient functional reduces in phase 2. LARC (``lars_clip``) changes nothing here:
the gadget's committed ``lam`` is then the clipped multiplier m_q (``circuits/trust.py``).

LAMB (``LambStep``, docs/lamb.md section 4; semantics ``circuits/lamb.py``): the update U_s is
the committed step dP_s with rate 1 on every real step (W_t = W_0 - sum_{s<t} dP_s), and each
parameter tensor's step gadget (``verifier/lamb_step.py``: the moments, the bias-corrected
ratio r, the fused trust ratio phi and dP) runs its own phases with the relations. Its inputs are
the walk's: P is the stacked W{l} (b{l}), G the folded gradient (a gradient functional in phase
2), and M0, V0 are zero in the first segment and the previous checkpoint after. LAMB's t is the
run's step, from the statement (the bias corrections are public tables of it).
"""

from __future__ import annotations

from typing import Sequence

from circuits.mlp import NORM_STATE, MlpCircuit, parameter_name, state_name

from . import field
from .claims import Claim
from .field import MODULUS as R
from .gadgets import step_functional_reduction
from .ghost_bn_step import bound_name
from .lamb_step import verify_lamb_step
from .norms import norm_reduction
from .phase import Reduction, Table
from .polynomial import eq_table, mle_evaluate
from .sumcheck import InstanceShape, Term
from .trust import verify_trust_ratio
from .values import canonical, linear_combination


class SgdStep:
    """Plain SGD: the update U_s is the gradient itself (virtual): G_Z,s^T A_s for a weight, and
    any trained tensor's (``TrainingWalk.parameter_gradient``: a bias's, Ghost BN's gamma's)."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        return []

    def rates(self, c: MlpCircuit) -> list[int]:
        """lr_s of W_t = W_0 - sum_{s<t} lr_s U_s, per padded step."""
        return c.lr_padded()

    def gradient_claims(self, walk) -> list[Reduction]:
        """Phase 2: claims the optimizer's relations left on the stacked gradients (none)."""
        return []

    def relations(self, walk) -> list[Reduction]:
        return []

    def update(self, walk, kind: str, layer: int, name: str, value, kappa: Sequence[int], point) -> Reduction:
        """sum_s kappa_s G~(s, p) = value: the trained tensor's gradient functional."""
        return walk.parameter_gradient(kind, layer, name, value, kappa, point)

    def settle(self, walk) -> None:
        pass


class MomentumStep(SgdStep):
    """SGD with momentum and weight decay, design (A): the update U_s is the committed buffer,
    one per trained tensor (``MlpCircuit.trained_tensors``: Ghost BN's gamma and beta too)."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        """The weights' and biases' buffers a segment starts from (``end = "0"``) or ends on
        (``"T"``); gamma's and beta's travel with their layer's (``MlpCircuit.norm_state_values``)."""
        return [f"{state_name('V', kind, l)}.{end}" for kind, l in c.parameter_tensors()]

    def update(self, walk, kind: str, layer: int, name: str, value, kappa: Sequence[int], point) -> Reduction:
        """sum_s kappa_s buf~(s, p) = value: one sumcheck over the steps, buf bound at p."""
        tensor = state_name("V", kind, layer)
        return step_functional_reduction(
            name, value, kappa, 0, [Table("bind", (tensor, 1, tuple(point)))],
            [lambda r_b, r_s: (tensor, tuple(point) + r_s)],
        )

    def relations(self, walk) -> list[Reduction]:
        """Per layer and parameter kind: the buffer relation at a random point, and the
        checkpoint V*{l}.T read off the buffer at the segment's last real step."""
        c, st, t, ch = walk.c, walk.st, walk.t, walk.ch
        K = c.buffer_shift
        mu = self.mu(c)
        last = tuple((c.steps - 1) >> j & 1 for j in range(c.step_vars))
        t.domain_separate(self.domain)
        out = self.trust_relations(walk)
        for kind, l in c.trained_tensors():
            n = c.parameter_vars(kind, l)
            u = tuple(t.challenge_scalars(self.domain + b"-point", n + c.step_vars))
            p, tau = u[:n], u[n:]
            v_name = state_name("V", kind, l)
            buf = walk.slice_value(c.ranged(v_name), c.buf_slots(), u)
            rem = walk.slice_value(c.ranged(state_name("RV", kind, l)), c.buf_rem_slots(), u)
            own = self.own_terms(walk, kind, l, u)
            prev = ch.evaluation(f"{v_name}.prev", u)  # buf~_{t-1} (p, tau)
            out.append(self.driving(walk, kind, l, p, tau, (1 << K) * buf + rem - mu * prev + own))
            # buf~_{t-1}(p, tau) = eq(tau, 0) start~(p) + sum_s eq(tau, s + 1) buf~(s, p).
            eq_tau = eq_table(tau)
            start = 0
            if st.committed_init:
                start = ch.evaluation(f"{v_name}.0", p)
                walk.ledger.add(Claim(f"{v_name}.0", p, start))
            shifted = eq_tau[1:] + [0]
            name = f"{self.domain.decode()}-shift{kind}{l}"
            out.append(self.update(walk, kind, l, name, prev - eq_tau[0] * start, shifted, p))
            # The checkpoint: V~_T(v) = buf~(v, last real step), from buf's slot values there.
            v = tuple(t.challenge_scalars(b"final-buffer-point", n))
            end = ch.evaluation(f"{v_name}.T", v)
            walk.ledger.add(Claim(f"{v_name}.T", v, end))
            walk.slice_value(c.ranged(v_name), c.buf_slots(), v + last, end)
        return out

    # The hooks ``relations`` composes (LarsStep overrides them).
    domain = b"momentum"

    def mu(self, c: MlpCircuit) -> int:
        return momentum_coefficients(c)[0]

    def trust_relations(self, walk) -> list[Reduction]:
        return []

    def own_terms(self, walk, kind: str, layer: int, u) -> object:
        """The relation's terms in the parameter, moved to the left: -lam' W~_t(p, tau), a
        claim phase 2 reduces."""
        name = parameter_name(kind, layer)
        param = walk.ch.evaluation(name, u)  # W~_t (p, tau)
        walk.ledger.add(Claim(name, u, param))
        return -momentum_coefficients(walk.c)[1] * param

    def driving(self, walk, kind: str, layer: int, p, tau, value) -> Reduction:
        """value = 2^K G~(p, tau): the trained tensor's gradient functional at the step point."""
        return walk.parameter_gradient(kind, layer, f"momentum-{kind}{layer}", value, eq_table(tau), p,
                                       1 << walk.c.buffer_shift)

    def settle(self, walk) -> None:
        """Claims on the virtual buffer values become claims on their committed slots: the
        slot values at each point must recompose to the claimed value."""
        c = walk.c
        for kind, l in c.trained_tensors():
            name = state_name("V", kind, l)
            for claim in walk.ledger.take(name):
                walk.slice_value(c.ranged(name), c.buf_slots(), claim.point, claim.value)


class LarsStep(MomentumStep):
    """LARS, docs/lars.md section 4: the update U_s is the committed buffer v_s, which carries
    the rate and the committed trust ratio (module docstring)."""

    domain = b"lars"

    def __init__(self):
        #: The public step weights K of each tensor's M = K lambda_g, drawn in phase 1.
        self.scaled: dict[str, tuple[int, ...]] = {}

    def rates(self, c: MlpCircuit) -> list[int]:
        """The rate is inside the buffer: W_t = W_0 - sum_{s<t} v_s over the real steps (the
        padded steps' buffers, mu' times the last, are never applied)."""
        return [1] * c.steps + [0] * (c.padded_steps - c.steps)

    def mu(self, c: MlpCircuit) -> int:
        spec = c.lars_spec()
        return spec.mu.num << (c.buffer_shift - spec.mu.shift)

    def own_terms(self, walk, kind: str, layer: int, u) -> int:
        return 0  # the decay enters with the trust ratio, inside ``driving``

    def driving(self, walk, kind: str, layer: int, p, tau, value) -> Reduction:
        """value = sum_s K(s) lambda_g(s) [2^(k+k_b) G~(s, p) + b P~(s, p)], K(s) = eq(tau, s) a_s
        public, as one sumcheck over (b, s) (b low):

            sum_{b,s} M(s) [c_G GZ(s, b, p_j) A(s, b, p_i) + (b / B) P(s, p)],

        with M = K lambda_g entrywise (a table of the prover's, broadcast over the batch; the
        product keeps every term within degree 3), c_G = 2^(k+k_b) (times 2^R for a bias,
        G_b = 2^R sum_b G_Z, which has no A), P bound at p and broadcast over the batch (its
        1/B undoes the batch sum). Ends in claims on G_Z, A and the stacked P (phase 2), and on
        M, which ``gradient_claims`` reduces to lambda_g: M~(r_s) = sum_s eq(r_s, s) K(s) lambda_g(s)."""
        c = walk.c
        spec, K, k = c.lars_spec(), c.buffer_shift, c.lr_shift
        nb, ns = c.batch_vars, c.step_vars
        scale = 1 << (K - spec.trust_bits - k - spec.beta.shift)
        weights = tuple(e * lr * scale % R for e, lr in zip(eq_table(tau), c.lr_padded()))
        scaled = state_name("LAMK", kind, layer)
        self.scaled[scaled] = weights
        if kind in NORM_STATE:
            return self._norm_driving(walk, kind, layer, tuple(p), weights, value)
        gz, act, param = f"GZ{layer}", f"IN{layer}", f"{kind}{layer}"
        c_g = 1 << (k + spec.beta.shift + (0 if kind == "W" else c.frac_bits))
        p = tuple(p)
        ni = c.width_vars(layer - 1) if kind == "W" else 0
        p_i, p_j = p[:ni], p[ni:]
        tables = [Table("weighted", (f"LAM{kind}{layer}", weights, nb)), Table("bind", (gz, 2, p_j))]
        if kind == "W":
            tables.append(Table("bind", (act, 2, p_i)))
        terms = [Term(c_g, tuple(range(len(tables))))]
        if spec.beta.num:
            tables.append(Table("bind_broadcast", (param, 1, p, nb)))
            terms.append(Term(spec.beta.num * pow(2, -nb, R) % R, (0, len(tables) - 1)))
        shape = InstanceShape(nb + ns, len(tables), tuple(terms))

        def finish(evals):
            (inst,) = evals
            r_b, r_s = inst[0].point[:nb], inst[0].point[nb:]
            out = [Claim(scaled, r_s, inst[0].value), Claim(gz, p_j + r_b + r_s, inst[1].value)]
            if kind == "W":
                out.append(Claim(act, p_i + r_b + r_s, inst[2].value))
            if spec.beta.num:
                out.append(Claim(param, p + r_s, inst[-1].value))
            return out

        return Reduction(f"lars{kind}{layer}", [shape], [canonical(value)], finish, [tables], [{}])

    def _norm_driving(self, walk, kind: str, layer: int, p, weights, value) -> Reduction:
        """``driving`` for Ghost BN's gamma (beta): value = sum_s K(s) lambda_g(s) [2^(k+k_b)
        dgamma~(s, p) + b gamma~(s, p)], dgamma = sum_b dy X a Hadamard product over the features
        (``GhostBnLayers.gradient_functional``), as one sumcheck over (b, c, s) (b low):

            sum_{b,c,s} M(c, s) [c_G dy(s, b, c) X(s, b, c) + (b / B) gamma(s, c)],

        M(c, s) = eq(p, c) K(s) lambda_g(s) (the prover's table, constant over b; beta: c_G 2^R and
        no X), on the prover's copies of dy and X with b innermost. M~(r_c, r_s) = eq(p, r_c)
        (K lambda_g)~(r_s), so its claim is one on the scaled lambda at r_s (``gradient_claims``)
        once divided by eq(p, r_c) (nonzero but with probability about |c| / |F|)."""
        c, g = walk.c, walk.c.ghost_bn(layer)
        spec, k = c.lars_spec(), c.lr_shift
        nb, fv = c.batch_vars, c.width_vars(layer)
        eq_p = eq_table(p)
        outer = tuple(w * e % R for w in weights for e in eq_p)  # (c, s), c low
        operands = [g.t("dy")] + ([g.t("X")] if kind == "Gamma" else [])
        c_g = 1 << (k + spec.beta.shift + (0 if kind == "Gamma" else c.frac_bits))
        tables = [Table("weighted", (f"{state_name('LAM', kind, layer)}^c", outer, nb))]
        tables += [Table("flat", (bound_name(n, "b"),)) for n in operands]
        terms = [Term(c_g, tuple(range(len(tables))))]
        param = parameter_name(kind, layer)
        if spec.beta.num:
            tables.append(Table("broadcast", (param, nb)))
            terms.append(Term(spec.beta.num * pow(2, -nb, R) % R, (0, len(tables) - 1)))
        shape = InstanceShape(nb + fv + c.step_vars, len(tables), tuple(terms))

        def finish(evals):
            (inst,) = evals
            r = inst[0].point
            r_b, r_c, r_s = r[:nb], r[nb : nb + fv], r[nb + fv :]
            at_p = mle_evaluate(eq_p, r_c)  # eq(p, r_c)
            walk._require(at_p != 0, f"lars{kind}{layer}: eq(p, r_c) vanishes at the point")  # mutation: unreachable (probability width_vars / r; every honest LARS proof with Ghost BN runs the division it guards)
            out = [Claim(state_name("LAMK", kind, layer), r_s, linear_combination([field.inv(at_p)], [inst[0].value]))]
            out += [Claim(n, r_c + r_b + r_s, inst[1 + i].value) for i, n in enumerate(operands)]
            if spec.beta.num:
                out.append(Claim(param, r_c + r_s, inst[-1].value))
            return out

        return Reduction(f"lars{kind}{layer}", [shape], [canonical(value)], finish, [tables], [{}])

    def trust_relations(self, walk) -> list[Reduction]:
        """The trust-ratio gadget (its own phases), then its claims on the stacked squared
        norms split per tensor and reduced by norm sumchecks (in phase 1, with the buffer
        relations): over the stacked P (claims on W{l}, b{l}: phase 2) and over the stacked
        folded gradients G{kind}{l} (``gradient_claims``: phase 2)."""
        c, ch = walk.c, walk.ch
        trust = c.trust()
        params = c.trained_tensors()
        out = []
        for claim, source in zip(verify_trust_ratio(walk, trust), ("P", "G")):
            r_g, r_t = claim.point[: trust.group_vars], tuple(claim.point[trust.group_vars :])
            parts = []
            for kind, l in params:
                name = state_name(f"N{source}", kind, l)
                part = ch.evaluation(name, r_t)
                parts.append(part)
                tensor = parameter_name(kind, l) if source == "P" else state_name("G", kind, l)
                out.append(norm_reduction(tensor, Claim(name, r_t, part), c.parameter_vars(kind, l)))
            # N~(r_g, r_t) = sum_g eq(r_g, g) N_g~(r_t); the padded groups' norms are zero.
            combined = linear_combination(eq_table(r_g)[: len(params)], parts)
            walk.require_equal(combined, claim.value, f"lars: the tensors' squared norms N_{source} do not "
                                                      "combine to the trust ratio's")
        return out

    def gradient_claims(self, walk) -> list[Reduction]:
        """Phase 2: the claims on M = K lambda_g (``driving``) as step functionals of lambda_g,
        and the claims G~(p, r_t) on the stacked folded gradients (the norm sumchecks') as
        gradient functionals with step weights eq(r_t, s) (``folded_gradient_claims``)."""
        c, out = walk.c, []
        for kind, l in c.trained_tensors():
            name = state_name("LAMK", kind, l)
            weights = self.scaled[name]
            for claim in walk.ledger.take(name):
                kappa = [e * w % R for e, w in zip(eq_table(claim.point), weights)]
                lam = state_name("LAM", kind, l)
                out.append(step_functional_reduction(f"lars-trust{kind}{l}", claim.value, kappa, 0,
                                                     [Table("flat", (lam,))], [lambda r_b, r_s, lam=lam: (lam, r_s)]))
        return out + folded_gradient_claims(walk, "lars")

    def settle(self, walk) -> None:
        """As momentum's, and the claims on each tensor's lambda_g become claims on the trust
        ratio's committed slots at (g, r_s) (layout [T', groups], groups low)."""
        super().settle(walk)
        c = walk.c
        trust = c.trust()
        for g, (kind, l) in enumerate(c.trained_tensors()):
            bits = tuple(g >> j & 1 for j in range(trust.group_vars))
            for claim in walk.ledger.take(state_name("LAM", kind, l)):
                walk.slice_value(trust.slots("lam"), trust.lam_slots(), bits + tuple(claim.point), claim.value)


class LambStep(SgdStep):
    """LAMB, docs/lamb.md section 4: one step gadget per parameter tensor
    (``verifier/lamb_step.py``, its own phases, run with the relations), whose committed step dP
    is the update U_s with rate 1 on every real step: W_t = W_0 - sum_{s<t} dP_s (the padded
    steps' dP, at lr 0, is 0 by the gadget's (D), and their rate is 0 besides).

    The gadget's inputs are the walk's: its claims on P (at its zero-check's point and at its
    norm sumcheck's) are claims on the stacked weights W{l} (b{l}), which phase 2 reduces like
    any; its claim on the folded gradient G is a gradient functional in phase 2
    (``folded_gradient_claims``, as LARS's norms'); its claims on the starting moments M0, V0 are
    zero in the first segment (checked) and the previous segment's checkpoints ``M*{l}.0``,
    ``V*{l}.0`` after. The checkpoints ``M*{l}.T``, ``V*{l}.T`` are read off the moments' slots at
    the segment's last real step (the padded steps run the recurrence on: LAMB's t counts them,
    which changes nothing, since their moments are never used)."""

    def state_tensors(self, c: MlpCircuit, end: str) -> list[str]:
        """The weights' and biases' first and second moments a segment starts from (``end =
        "0"``) or ends on; gamma's and beta's travel with their layer's (``norm_state_values``)."""
        return [f"{m}{kind}{l}.{end}" for m in ("M", "V") for kind, l in c.parameter_tensors()]

    def rates(self, c: MlpCircuit) -> list[int]:
        return [1] * c.steps + [0] * (c.padded_steps - c.steps)

    @staticmethod
    def gadget(walk, kind: str, layer: int):
        """The tensor's step gadget, with LAMB's t counted from 1 at the run's first step."""
        return walk.c.lamb_step(kind, layer, walk.st.first_step + 1)

    def update(self, walk, kind: str, layer: int, name: str, value, kappa: Sequence[int], point) -> Reduction:
        """sum_s kappa_s dP~(s, p) = value: one sumcheck over the steps, dP bound at p."""
        dp = self.gadget(walk, kind, layer).t("dP")
        return step_functional_reduction(name, value, kappa, 0, [Table("bind", (dp, 1, tuple(point)))],
                                         [lambda r_b, r_s: (dp, tuple(point) + r_s)])

    def relations(self, walk) -> list[Reduction]:
        """Per trained tensor (Ghost BN's gamma and beta too): the step gadget (its own phases),
        its inputs' claims handed to the walk, and the checkpoints M*{l}.T, V*{l}.T
        (``bn{l}.MGamma.T``, ...) read off the moments at the last real step."""
        c, st, t, ch = walk.c, walk.st, walk.t, walk.ch
        last = tuple((c.steps - 1) >> j & 1 for j in range(c.step_vars))
        t.domain_separate(b"lamb")
        for kind, l in c.trained_tensors():
            gadget = self.gadget(walk, kind, l)
            p_entry, grad, p_norm, m0, v0 = verify_lamb_step(walk, gadget)
            walk.ledger.add(Claim(parameter_name(kind, l), p_entry.point, p_entry.value))
            walk.ledger.add(Claim(parameter_name(kind, l), p_norm.point, p_norm.value))
            walk.ledger.add(Claim(state_name("G", kind, l), grad.point, grad.value))
            for mom, start in (("M", m0), ("V", v0)):
                name = state_name(mom, kind, l)
                if st.committed_init:
                    walk.ledger.add(Claim(f"{name}.0", start.point, start.value))
                else:
                    walk.require_equal(start.value, 0, f"lamb: the first segment's moments {name} do not start at zero")
            v = tuple(t.challenge_scalars(b"final-moments-point", gadget.param_vars))
            for mom in ("M", "V"):
                end = ch.evaluation(f"{state_name(mom, kind, l)}.T", v)
                walk.ledger.add(Claim(f"{state_name(mom, kind, l)}.T", v, end))
                walk.slice_value(gadget.slots(mom), gadget.slot_decomposition(mom), v + last, end)
        return []

    def gradient_claims(self, walk) -> list[Reduction]:
        return folded_gradient_claims(walk, "lamb")

    def settle(self, walk) -> None:
        """Claims on each tensor's dP (the updates') become claims on its committed slots."""
        for kind, l in walk.c.trained_tensors():
            gadget = self.gadget(walk, kind, l)
            for claim in walk.ledger.take(gadget.t("dP")):
                walk.slice_value(gadget.slots("dP"), gadget.slot_decomposition("dP"), claim.point, claim.value)


def folded_gradient_claims(walk, label: str) -> list[Reduction]:
    """Phase 2: the claims G~(p, r_t) on the stacked folded gradients G{kind}{l} (an optimizer
    gadget's; Ghost BN's ``bn{l}.GGamma``) as gradient functionals with step weights eq(r_t, s):
    G_W = G_Z^T A, G_b = 2^R sum_b G_Z, dgamma = sum_b dy X (``TrainingWalk.parameter_gradient``)."""
    c, out = walk.c, []
    for kind, l in c.trained_tensors():
        n = c.parameter_vars(kind, l)
        for claim in walk.ledger.take(state_name("G", kind, l)):
            p, r_t = claim.point[:n], claim.point[n:]
            out.append(walk.parameter_gradient(kind, l, f"{label}-gradient-{kind}{l}", claim.value, eq_table(r_t), p))
    return out


def momentum_coefficients(c: MlpCircuit) -> tuple[int, int]:
    """(mu', lam') = (mu_num 2^(K - k_mu), lam_num 2^(K - k - k_lam)): mu and the folded decay
    at the buffer relation's scale 2^K (module docstring)."""
    spec, K = c.momentum_spec(), c.momentum_shift
    lam = spec.lam.num << (K - c.lr_shift - spec.lam.shift) if spec.lam.num else 0
    return spec.mu.num << (K - spec.mu.shift), lam


def optimizer_module(c: MlpCircuit) -> SgdStep:
    """The walk's optimizer step for the circuit's ``optimizer``."""
    return {"sgd": SgdStep, "sgd_momentum": MomentumStep, "lars": LarsStep, "lamb": LambStep}[c.optimizer]()
