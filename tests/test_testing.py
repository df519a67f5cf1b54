"""toylab.testing: the public tools the property tests use, exact against the closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toylab import GD, NGD, SGD, SVAG, GaussianLinearRegression, LinearRegression, simulate, theory
from toylab.testing import one_step_distribution
from toylab.testing.strategies import finite_setups, finite_sums, hyperparameters, points, samplers


@settings(max_examples=40, deadline=None)
@given(setup=finite_setups(), l=st.sampled_from([1.0, 2.0, 4.5]))
def test_one_step_distribution_has_the_moments_of_lemma_4_7(setup, l):
    """E Delta, E Delta Delta^T and E Delta^(x)3 over the enumerated next states equal
    theory.step_moments (Lemma 4.7) to a relative 1e-10."""
    model, x, lr, B, wd, sampler = setup
    alg = SVAG(lr, B, l, weight_decay=wd, sampler=sampler) if l > 1 else SGD(lr, B, weight_decay=wd, sampler=sampler)
    states, p = one_step_distribution(model, alg, x)
    assert abs(p.sum() - 1) < 1e-12 and len(np.unique(states, axis=0)) == len(states)
    delta = states - x
    exact = theory.step_moments(model, alg, x)
    scale = 1e-10 * (1 + np.abs(exact["second"]).max())
    np.testing.assert_allclose(p @ delta, exact["mean"], atol=scale)
    np.testing.assert_allclose(np.einsum("k,ki,kj->ij", p, delta, delta), exact["second"], atol=scale)
    np.testing.assert_allclose(np.einsum("k,ki,kj,kl->ijl", p, delta, delta, delta), exact["third"],
                               atol=1e-10 * (1 + np.abs(exact["third"]).max()))


def test_one_step_distribution_by_hand_and_with_momentum():
    model = LinearRegression(np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
    states, p = one_step_distribution(model, SGD(0.1, 1), np.array([1.0]))
    assert states.ravel().tolist() == pytest.approx([0.8, 0.9]) and p.tolist() == [0.5, 0.5]
    # heavy ball from b = 0.5: b' = mu b + g, x' = x - lr b'
    states, p = one_step_distribution(model, SGD(0.1, 1, momentum=0.5), np.array([1.0]), velocity=[0.5])
    np.testing.assert_allclose(states, [[1 - 0.1 * 2.25, 2.25], [1 - 0.1 * 1.25, 1.25]])  # rows sorted
    # without replacement, B = n: one batch, the full gradient
    states, p = one_step_distribution(model, SGD(0.1, 2, sampler="without_replacement"), np.array([1.0]))
    np.testing.assert_allclose(states, [[0.85]])
    assert p.tolist() == [1.0]
    states, p = one_step_distribution(model, GD(0.1), np.array([1.0]))
    np.testing.assert_allclose(states, [[0.85]])


def test_one_step_distribution_refuses_what_it_cannot_enumerate():
    model = LinearRegression(np.array([[1.0], [2.0]]), np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="Gaussian noise"):
        one_step_distribution(model, NGD(0.1, 1), np.array([1.0]))
    with pytest.raises(TypeError, match="finite data set"):
        one_step_distribution(GaussianLinearRegression([1.0], [0.0], 0.1), SGD(0.1, 1), np.array([1.0]))
    big = LinearRegression(np.ones((40, 1)), np.zeros(40))
    with pytest.raises(ValueError, match="too many to enumerate"):
        one_step_distribution(big, SVAG(0.1, 4, 2), np.array([1.0]))


@settings(max_examples=10, deadline=None)
@given(model=finite_sums(), hp=hyperparameters(), sampler=samplers(), data=st.data())
def test_finite_sum_strategy_one_step_mean_matches_monte_carlo(model, hp, sampler, data):
    """A drawn FiniteSum: the exact one-step mean of SGD equals the numpy backend's one-step
    Monte Carlo mean within 4 standard errors."""
    x = data.draw(points(model.dim))
    B = min(hp["batch_size"], model.n_samples)
    alg = SGD(hp["lr"], B, sampler=sampler, weight_decay=hp["weight_decay"])
    states, p = one_step_distribution(model, alg, x)
    mean = p @ states
    ens = simulate(model, alg, x, [alg.step_time], paths=4000, seed=1, backend="numpy", progress=False,
                   observables={"x0": lambda z: z[..., 0]})
    se = ens.stderr("x0")[-1]
    assert abs(ens.mean("x0")[-1] - mean[0]) <= 4 * se + 1e-12


def test_the_property_testing_page_example_runs():
    """docs/property_testing.md's example is a working property test."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "docs" / "property_testing.md").read_text()
    namespace = {}
    exec(re.search(r"```python\n(.*?)```", text, re.S).group(1), namespace)
    namespace["test_svag_second_moment"]()


@pytest.mark.parametrize("name,args", [
    ("sgd_vs_sde_2d", ["--lr", "0.1", "--paths", "500"]),
    ("svag_convergence", ["--lr", "0.1", "--levels", "4"]),
    ("weight_decay_equilibrium", ["--lr", "0.1", "--paths", "300"]),
])
def test_every_example_takes_its_parameters_and_writes_its_figure(name, args, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    out = tmp_path / f"{name}.png"
    run = subprocess.run([sys.executable, str(root / "examples" / f"{name}.py"), *args, "--out", str(out)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env=dict(os.environ, PYTHONPATH=str(root)))
    assert run.returncode == 0, run.stderr[-2000:]
    assert out.stat().st_size > 10_000 and f"wrote {out}" in run.stdout
