"""Escape from a minimum (issue: escape, points 4-6): the barrier models, the two theories
against the exact SDE rate, the experiment and its command."""

import subprocess
import sys

import numpy as np
import pytest

from toylab import SDE, EulerMaruyama, exact, simulate, theory
from toylab.experiments import EscapeResult, escape
from toylab.experiments.escape import label_noise_for
from toylab.models import CircleBarrier
from toylab.models.barrier import circle_barrier_exit

from .exit_helpers import cosine_well


@pytest.mark.parametrize("dim", [1, 2])
def test_circle_barrier_loss_and_noise_in_closed_form(dim):
    rho, v, kappa = 0.4, 0.7, 0.8
    model = CircleBarrier(rho, v, dim, kappa=kappa)
    x = np.random.default_rng(0).normal(size=(20, dim)) * 2
    extra = kappa**2 * x[:, 1] ** 2 if dim == 2 else 0.0
    L = 0.5 * (1 - 2 * rho * np.cos(x[:, 0]) + rho**2 + v + extra)
    np.testing.assert_allclose(model.loss(x), L, rtol=1e-13)
    np.testing.assert_allclose(model.grad(x)[:, 0], rho * np.sin(x[:, 0]), atol=1e-13)
    if dim == 1:
        # the loss-driven noise of a square loss, Sigma_1 = 2 L + L'^2
        np.testing.assert_allclose(model.sigma1(x)[:, 0, 0], 2 * L + (rho * np.sin(x[:, 0])) ** 2, rtol=1e-13)
    else:
        np.testing.assert_allclose(model.grad(x)[:, 1], kappa**2 * x[:, 1], rtol=1e-13)
    assert model.loss_min == pytest.approx(0.5 * ((1 - rho) ** 2 + v))
    assert model.loss_saddle == pytest.approx(0.5 * ((1 + rho) ** 2 + v))
    assert model.linear_barrier == pytest.approx(2 * rho)
    # the two barriers set apart: one linear barrier, log barriers chosen by v
    assert CircleBarrier(0.3, label_noise_for(0.3, 0.5)).log_barrier == pytest.approx(0.5, rel=1e-12)


def test_the_two_dimensional_barrier_runs_the_same_on_numpy_and_cpu():
    model = CircleBarrier(0.2, 1.5, 2, kappa=1.0)
    runs = [simulate(model, EulerMaruyama(0.5, 2, 0.125), [2.5, 0.0], [5.0, 20.0], paths=200, seed=4, backend=b,
                     exit=circle_barrier_exit, progress=False) for b in ("numpy", "cpu")]
    assert 0 < runs[0].exit_count < 200
    np.testing.assert_array_equal(runs[0].exited, runs[1].exited)
    np.testing.assert_allclose(runs[0]._mean, runs[1]._mean, rtol=1e-10)


def test_the_only_way_out_is_over_the_saddle():
    """Both ends of (-pi, pi) are the saddle: the exact probability of either is 1/2, from any
    symmetric start; from an off-centre start the nearer side is likelier."""
    model = CircleBarrier(0.3, 1.5)
    assert exact.splitting_probability(model, SDE(0.25, 2), 0.0, -np.pi, np.pi) == pytest.approx(0.5, abs=1e-10)
    assert exact.splitting_probability(model, SDE(0.25, 2), 1.0, -np.pi, np.pi) > 0.5


@pytest.mark.parametrize("lr", [0.05, 0.025])
def test_kramers_rate_is_the_additive_noise_limit(lr):
    """Additive noise Sigma_1 = 1 (temperature lr/2): the exact rate over both saddles
    approaches Kramers' as barrier / T grows (the correction is O(T / barrier))."""
    model = cosine_well(0.5, 1.0, loss_driven=False)
    rate = 1 / exact.mean_exit_time(model, SDE(lr, 1), 0.0, -np.pi, np.pi)
    predicted = theory.kramers_rate(1.0, lr / 2, 0.5, -0.5, saddles=2, at_saddle=True)
    assert abs(rate / predicted - 1) < 0.3 * lr  # barrier / T = 2 / lr = 40, 80
    # reaching the saddle is twice as fast as crossing it
    assert theory.kramers_rate(1.0, lr / 2, 0.5, -0.5, saddles=2) == pytest.approx(predicted / 2, rel=1e-15)


@pytest.mark.parametrize("lr", [0.05, 0.025])
def test_power_law_rate_is_the_loss_driven_noise_limit(lr):
    """Noise Sigma_1 = L exactly (c = lr): the exact rate approaches the power law
    sqrt(h* |h_s|)/(2 pi) (L*/L_s)^(2/c + 1/2) as 2 log(L_s/L*) / c grows."""
    model = cosine_well(0.5, 1.0, loss_driven=True)  # L* = 1, L_s = 2
    rate = 1 / exact.mean_exit_time(model, SDE(lr, 1), 0.0, -np.pi, np.pi)
    predicted = theory.power_law_rate(1.0, 2.0, lr, 0.5, -0.5, saddles=2, at_saddle=True)
    arrhenius = theory.kramers_rate(1.0, lr / 2, 0.5, -0.5, saddles=2, at_saddle=True)  # the noise of the minimum
    assert abs(rate / predicted - 1) < 0.2 * lr
    assert rate / arrhenius > 1e3  # the linear barrier is off by orders of magnitude


@pytest.mark.parametrize(
    "fn,kwargs,match",
    [
        (theory.kramers_rate, dict(barrier=1.0, temperature=0.1, curvature_min=1.0, curvature_saddle=1.0),
         "curvature_saddle must be < 0"),
        (theory.kramers_rate, dict(barrier=-1.0, temperature=0.1, curvature_min=1.0, curvature_saddle=-1.0),
         "barrier must be > 0"),
        (theory.power_law_rate, dict(loss_min=2.0, loss_saddle=1.0, noise_scale=0.1, curvature_min=1.0,
                                     curvature_saddle=-1.0), "loss_saddle must be > loss_min"),
    ],
)
def test_theory_refuses_bad_input(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


@pytest.fixture(scope="module")
def small_escape():
    barriers = [(0.3, 2.5), (0.45, label_noise_for(0.45, CircleBarrier(0.3, 2.5).log_barrier))]
    return escape(barriers, hyper=[(0.5, 2)], paths=1024, seed=3, progress=False)


def test_escape_experiment_measures_against_the_exact_rate(small_escape):
    res = small_escape
    assert res.algorithms == ("SGD", "SVAG l=2", "SVAG l=4", "SVAG l=8", "EM dt=lr/2", "EM dt=lr/4", "EM dt=lr/8")
    assert np.all(res.exits + res.censored + res.diverged == 1024) and res.diverged.sum() == 0
    np.testing.assert_allclose(res.splitting, 0.5, atol=1e-10)
    # extrapolated to the SDE, both agree with the quadrature within 4 standard errors
    assert np.all(np.abs(res.sde_z) < 4) and np.all(np.abs(res.svag_z) < 4)
    # SGD escapes more slowly than its SDE here, by more than its error
    sgd = res.column("SGD")
    assert np.all(res.exact_rate[0] - res.rate[0, :, sgd] > 4 * res.rate_stderr[0, :, sgd])
    assert "Euler-Maruyama in sqrt(dt)" in res.summary()


def test_escape_result_saves_loads_and_plots(small_escape, tmp_path):
    small_escape.save(tmp_path / "escape.npz")
    back = EscapeResult.load(tmp_path / "escape.npz")
    np.testing.assert_array_equal(back.rate, small_escape.rate)
    assert back.algorithms == small_escape.algorithms and back.summary() == small_escape.summary()
    fig = back.plot(tmp_path / "escape.png")
    assert (tmp_path / "escape.png").stat().st_size > 10_000 and len(fig.axes) == 4


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(barriers=[(1.2, 1.0)]), "rho must be in"),
        (dict(barriers=[(0.3,)]), "barriers must be"),
        (dict(hyper=[(0.5,)]), "hyper must be"),
        (dict(ls=[1, 2]), "ls must be > 1"),
        (dict(em_fractions=[0.3, 0.1]), "em_fractions"),
        (dict(em_fractions=[0.5]), "em_fractions"),
    ],
)
def test_escape_refuses_bad_input(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        escape(**kwargs, paths=64, progress=False)


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--lr", "0.1"], "unrecognized arguments: --lr"),
        (["--model", "linear"], "unrecognized arguments: --model"),
        (["--lrs", "0.1", "0.2", "--batch-sizes", "2"], "--lrs and --batch-sizes pair up"),
        (["--barriers", "0.3"], "expected RHO:V"),
    ],
)
def test_escape_command_refuses_options_it_would_ignore(argv, match):
    out = subprocess.run([sys.executable, "-m", "toylab", "escape", *argv], capture_output=True, text=True)
    assert out.returncode == 2 and match in out.stderr and out.stderr.count("\n") == 1


def test_escape_command_runs(tmp_path):
    out = subprocess.run([sys.executable, "-m", "toylab", "escape", "--lrs", "0.5", "--batch-sizes", "2",
                          "--barriers", "0.3:2.5", "--paths", "128", "--out", str(tmp_path / "e.npz")],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "escape [CircleBarrier" in out.stdout and (tmp_path / "e.npz").exists()
