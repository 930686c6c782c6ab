"""Batch-size learning-rate rules, regime adaptation, the Power scheduler, critical batch size,
and the step schedules of the training registries: values at chosen points, computed by hand."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from zktrain.schedules import (
    PowerScheduler,
    critical_batch_size,
    examples_at_batch,
    min_examples,
    min_steps,
    regime_adaptation,
    scale_lr,
    steps_at_batch,
)
from zktrain.train.builders import SCHEDULES, ScheduleContext


def _optimizer(lr=1.0, groups=1):
    return torch.optim.SGD([{"params": [torch.nn.Parameter(torch.zeros(1))], "lr": lr * (i + 1)} for i in range(groups)])


# ------------------------------------------------------------------------------ scale_lr


def test_scale_lr_rules():
    assert scale_lr(0.1, 256, 1024) == pytest.approx(0.4)  # linear (Goyal et al.)
    assert scale_lr(1e-3, 256, 1024, rule="sqrt") == pytest.approx(2e-3)  # square root (Granziol et al.)
    assert scale_lr(0.1, 256, 64) == pytest.approx(0.025)
    assert scale_lr(0.1, 256, 8192, max_lr=1.0) == 1.0
    assert scale_lr(1e-3, 64, 4096, rule="sqrt", max_lr=1.0) == pytest.approx(8e-3)


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        ((0.1, 0, 512), {}, "base_batch: must be a positive integer, got 0"),
        ((0.1, 64, -3), {}, "batch: must be a positive integer, got -3"),
        ((0.1, 64, 512.0), {}, "batch: must be a positive integer, got 512.0"),
        ((-0.1, 64, 512), {}, "base_lr: must be >= 0, got -0.1"),
        ((0.1, 64, 512), {"rule": "cubic"}, "rule: must be 'linear' or 'sqrt', got 'cubic'"),
        ((0.1, 64, 512), {"max_lr": 0.0}, "max_lr: must be > 0 or None, got 0.0"),
    ],
)
def test_scale_lr_validation(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        scale_lr(*args, **kwargs)


# -------------------------------------------------------------------- regime_adaptation


def test_regime_adaptation_keeps_the_number_of_updates():
    regime = {"epochs": 30, "milestones": [10, 20], "gamma": 0.1, "warmup_epochs": 0.5}
    adapted = regime_adaptation(regime, base_batch=256, batch=2048)
    assert adapted == {"epochs": 240, "milestones": [80, 160], "gamma": 0.1, "warmup_epochs": 4.0}
    assert regime == {"epochs": 30, "milestones": [10, 20], "gamma": 0.1, "warmup_epochs": 0.5}  # a copy
    # Updates per epoch shrink by B / b, epochs grow by B / b: the update count is kept.
    n = 51_200
    assert adapted["epochs"] * (n // 2048) == regime["epochs"] * (n // 256)


def test_regime_adaptation_rounds_the_factor_up():
    assert regime_adaptation({"epochs": 10}, 256, 1000)["epochs"] == 40  # ceil(1000 / 256) = 4
    assert regime_adaptation({"epochs": 10}, 256, 256)["epochs"] == 10


def test_regime_adaptation_validation():
    with pytest.raises(ValueError, match=r"batch: must be >= base_batch \(256\)"):
        regime_adaptation({"epochs": 10}, 256, 128)
    with pytest.raises(ValueError, match=r"milestones\[1\]: must be a non-negative number of epochs, got 'x'"):
        regime_adaptation({"milestones": [1, "x"]}, 64, 128)


# ----------------------------------------------------------------------- PowerScheduler


def _power_lrs(scheduler, optimizer, samples):
    out = []
    for s in samples:
        optimizer.step()
        scheduler.step(samples=s)
        out.append(scheduler.get_last_lr()[0])
    return out


def test_power_law_phase_values():
    """a = 1, b = -1/2: eta = min(eta_max, n^-1/2); no warmup, so n = 0 gives eta_max."""
    opt = _optimizer(lr=0.05)
    sched = PowerScheduler(opt, a=1.0, b=-0.5, samples_per_step=100)
    assert sched.get_last_lr() == [0.05]
    lrs = []
    for _ in range(400):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert lrs[3] == pytest.approx(0.05)  # n = 400: 1/20 = 0.05, exactly the cap
    assert lrs[99] == pytest.approx(0.01)  # n = 10_000
    assert lrs[399] == pytest.approx(0.005)  # n = 40_000
    assert opt.param_groups[0]["lr"] == lrs[-1]


def test_power_warmup_and_decay_values():
    """Warmup to eta_power(400) = 0.05, power law, then decay from eta_power(10_000) = 0.01."""
    values = {}
    for decay in ("linear", "exponential"):
        opt = _optimizer(lr=1.0)
        sched = PowerScheduler(
            opt, a=1.0, b=-0.5, samples_per_step=100, warmup_samples=400, decay_samples=10_000,
            total_samples=20_000, decay=decay,
        )
        values[decay] = _power_lrs(sched, opt, [100] * 200)
    lin, exp = values["linear"], values["exponential"]
    assert lin[0] == pytest.approx(0.25 * 0.05)  # n = 100: 100 / 400 of the warmup target
    assert lin[3] == pytest.approx(0.05)  # n = 400
    assert lin[24] == pytest.approx(0.02)  # n = 2500: 2500^-1/2
    assert lin[99] == pytest.approx(0.01)  # n = 10_000: start of the decay
    assert lin[149] == pytest.approx(0.005)  # halfway, linear to 0
    assert exp[149] == pytest.approx(0.01 * (math.exp(0.5) - 1) / (math.e - 1))  # f(1/2)
    assert lin[199] == 0.0 and exp[199] == pytest.approx(0.0, abs=1e-15)  # n = N: final_factor 0


def test_power_decay_final_factor_and_batch_factor():
    opt = _optimizer(lr=1.0)
    sched = PowerScheduler(
        opt, a=0.5, b=-0.5, samples_per_step=100, decay_samples=100, total_samples=200, final_factor=0.1,
        batch_factor=2.0,
    )
    lrs = _power_lrs(sched, opt, [100, 100, 100])
    assert lrs[0] == pytest.approx(2.0 * 0.5 * 100**-0.5)  # beta * a * n^b at n = 100
    assert lrs[1] == pytest.approx(0.1 * 0.1)  # end of the decay: final_factor * eta_power(100)
    assert lrs[2] == pytest.approx(0.1 * 0.1)  # and it stays there


def test_power_counts_samples_not_steps():
    """Variable batch sizes: eta depends only on the samples seen."""
    opt_a, opt_b = _optimizer(), _optimizer()
    a = PowerScheduler(opt_a, a=1.0, b=-0.5, samples_per_step=64, warmup_samples=256)
    b = PowerScheduler(opt_b, a=1.0, b=-0.5, samples_per_step=64, warmup_samples=256)
    lr_a = _power_lrs(a, opt_a, [64, 192, 256, 512])
    lr_b = _power_lrs(b, opt_b, [256, 256, 512])
    assert lr_a[1] == lr_b[0] and lr_a[2] == lr_b[1] and lr_a[3] == lr_b[2]
    assert a.samples_seen == 1024


def test_power_caps_each_group_at_its_own_initial_lr():
    opt = _optimizer(lr=0.01, groups=2)  # caps 0.01 and 0.02
    sched = PowerScheduler(opt, a=1.0, b=-0.5, samples_per_step=10_000)
    opt.step()
    sched.step()  # n = 10_000: n^-1/2 = 0.01
    assert sched.get_last_lr() == pytest.approx([0.01, 0.01])
    opt.step()
    sched.step(samples=2_500)  # n = 12_500: 0.00894...
    assert sched.get_last_lr() == pytest.approx([12_500**-0.5] * 2)


def test_power_state_dict_round_trip():
    opt = _optimizer()
    sched = PowerScheduler(opt, a=1.0, b=-0.51, samples_per_step=32, warmup_samples=96, decay_samples=320, total_samples=640)
    _power_lrs(sched, opt, [32] * 7)
    opt2 = _optimizer()
    sched2 = PowerScheduler(opt2, a=1.0, b=-0.51, samples_per_step=32, warmup_samples=96, decay_samples=320, total_samples=640)
    sched2.load_state_dict(copy.deepcopy(sched.state_dict()))
    assert sched2.samples_seen == 224
    assert _power_lrs(sched, opt, [32] * 15) == _power_lrs(sched2, opt2, [32] * 15)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(a=0.0), "a: must be > 0, got 0.0"),
        (dict(b=0.5), "b: must be < 0"),
        (dict(samples_per_step=0), "samples_per_step: must be a positive integer, got 0"),
        (dict(warmup_samples=-1), "warmup_samples: must be a non-negative integer, got -1"),
        (dict(decay_samples=10), "total_samples: required when decay_samples > 0"),
        (dict(decay_samples=10, total_samples=15, warmup_samples=10), "total_samples: 15 leaves no room"),
        (dict(decay="cosine"), "decay: must be one of"),
        (dict(final_factor=1.0), r"final_factor: must be in \[0, 1\), got 1.0"),
        (dict(batch_factor=-2.0), "batch_factor: must be > 0, got -2.0"),
    ],
)
def test_power_validation(kwargs, message):
    options = dict(a=1.0, b=-0.5, samples_per_step=8) | kwargs
    with pytest.raises(ValueError, match=message):
        PowerScheduler(_optimizer(), **options)


# ---------------------------------------------------------------- critical batch size


def test_critical_batch_size_formula():
    """B_crit(L) = B* / L^(1 / alpha_B): with alpha_B = 0.25, L = 2 divides B* by 16."""
    assert critical_batch_size(2.0, 2e8, 0.25) == pytest.approx(1.25e7)
    assert critical_batch_size(1.0, 2e8, 0.21) == pytest.approx(2e8)
    # A lower loss needs a larger critical batch.
    assert critical_batch_size(1.5, 2e8, 0.21) > critical_batch_size(2.5, 2e8, 0.21)


def test_steps_compute_trade_off():
    """(S / S_min - 1)(E / E_min - 1) = 1 and B_crit = E_min / S_min when E = B S."""
    b_crit, steps = 4096.0, 10_000.0
    for batch in (256.0, 4096.0, 65_536.0):
        examples = batch * steps
        s_min, e_min = min_steps(steps, batch, b_crit), min_examples(examples, batch, b_crit)
        assert (steps / s_min - 1) * (examples / e_min - 1) == pytest.approx(1.0)
        assert e_min / s_min == pytest.approx(b_crit)
        assert steps_at_batch(s_min, batch, b_crit) == pytest.approx(steps)
        assert examples_at_batch(e_min, batch, b_crit) == pytest.approx(examples)
    assert min_steps(100.0, 4096.0, 4096.0) == 50.0  # at B = B_crit: twice S_min and twice E_min
    assert min_examples(100.0, 4096.0, 4096.0) == 50.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: critical_batch_size(0.0, 2e8, 0.21), "loss: must be > 0, got 0.0"),
        (lambda: critical_batch_size(2.0, -1.0, 0.21), "B_star: must be > 0, got -1.0"),
        (lambda: critical_batch_size(2.0, 2e8, 0), "alpha_B: must be > 0, got 0"),
        (lambda: min_steps(10.0, 0, 4.0), "batch: must be > 0, got 0"),
        (lambda: min_examples(10.0, 8, -4.0), "critical_batch: must be > 0, got -4.0"),
    ],
)
def test_critical_batch_validation(call, message):
    with pytest.raises(ValueError, match=message):
        call()


# --------------------------------------------------------- step schedules of the registry


CONTEXT = ScheduleContext(batch_size=100, train_samples=1000, steps_per_epoch=10, total_steps=100, total_samples=10_000)


def _lrs(name, steps, **options):
    """The rate used by updates 0 .. steps - 1 (the scheduler is stepped after each update)."""
    opt = _optimizer(lr=1.0)
    sched = SCHEDULES[name](opt, CONTEXT, **options)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if sched is not None:
            sched.step()
    return out


def test_constant_with_and_without_warmup():
    assert _lrs("constant", 5) == [1.0] * 5
    assert _lrs("constant", 6, warmup_epochs=0.5) == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_multistep_milestones_in_epochs():
    lrs = _lrs("multistep", 100, milestones=[3, 7], gamma=0.1)
    assert lrs[29] == 1.0 and lrs[30] == pytest.approx(0.1) and lrs[69] == pytest.approx(0.1)
    assert lrs[70] == pytest.approx(0.01) and lrs[99] == pytest.approx(0.01)


def test_cosine_values():
    lrs = _lrs("cosine", 100, warmup_epochs=2, final_factor=0.1)
    assert lrs[0] == pytest.approx(1 / 20) and lrs[19] == pytest.approx(1.0)
    assert lrs[20] == pytest.approx(1.0)  # progress 0
    assert lrs[60] == pytest.approx(0.1 + 0.9 * 0.5)  # progress 1/2
    assert lrs[99] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 79 / 80)))


def test_poly_is_the_lars_policy():
    """gamma_t = gamma_0 (1 - t / T)^2 (You, Gitman, Ginsburg 2017, Algorithm 1)."""
    lrs = _lrs("poly", 100)
    assert lrs[0] == 1.0 and lrs[50] == pytest.approx(0.25) and lrs[90] == pytest.approx(0.01)


def test_registry_power_converts_epochs_to_samples():
    opt = _optimizer(lr=1.0)
    sched = SCHEDULES["power"](opt, CONTEXT, a=1.0, b=-0.5, warmup_epochs=0.4, decay_epochs=5)
    assert (sched.warmup_samples, sched.decay_samples, sched.total_samples) == (400, 5000, 10_000)
    assert sched.samples_per_step == 100


def test_schedule_option_validation():
    with pytest.raises(ValueError, match="warmup_epochs: 10 covers the whole run"):
        SCHEDULES["cosine"](_optimizer(), CONTEXT, warmup_epochs=10)
    with pytest.raises(ValueError, match=r"gamma: must be in \(0, 1\], got 2"):
        SCHEDULES["multistep"](_optimizer(), CONTEXT, milestones=[1], gamma=2)
    with pytest.raises(ValueError, match="milestones: must be a list of positive epoch counts"):
        SCHEDULES["multistep"](_optimizer(), CONTEXT, milestones=5)
