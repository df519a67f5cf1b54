"""The strength of minibatch noise (critical learning rate, stationary loss) and the
momentum and noise experiments: closed forms against the exact moment maps to 1e-10,
Monte Carlo against exact within 4 standard errors, bad input refused."""

import numpy as np
import pytest

from toylab import SDE, SGD, GaussianLinearRegression, NoisyQuadratic, exact, simulate, theory
from toylab.cli import main
from toylab.experiments import MomentumResult, NoiseResult, momentum, noise

from .conftest import tiny_regression

H3 = np.array([1.0, 0.5, 2.0])


def gaussian(h=H3, sigma=0.3):
    h = np.asarray(h, dtype=float)
    return GaussianLinearRegression(h, np.linspace(-1.0, 1.0, len(h)), sigma)


def radius(model, lr, B, mu=0.0):
    """Spectral radius of SGD's exact second-moment map, written out independently of exact.py:
    on (x, b) for heavy ball, by pushing the basis of E z z^T through one step."""
    H, b, _ = model.quadratic_form()
    d = model.dim
    K = np.block([[np.eye(d) - lr * H, -lr * mu * np.eye(d)], [H, mu * np.eye(d)]])
    spread = np.array([[lr * lr, -lr], [-lr, 1.0]])
    cols = []
    for k in range(4 * d * d):
        M = np.zeros(4 * d * d)
        M[k] = 1.0
        M = M.reshape(2 * d, 2 * d)
        Mx = M[:d, :d]
        # homogeneous part of E Sigma_1 (the constant and first-moment terms do not move the radius)
        hr = H @ Mx @ H
        S = (np.trace(H @ Mx) * H + hr) / B if isinstance(model, GaussianLinearRegression) else np.zeros((d, d))
        cols.append((K @ M @ K.T + np.kron(spread, S)).ravel())
    return np.max(np.abs(np.linalg.eigvals(np.array(cols).T)))


# ---------------------------------------------------------------------------
# point 3: the critical learning rate


@pytest.mark.parametrize("B", [1, 2, 8, 64])
@pytest.mark.parametrize("mu", [0.0, 0.5, 0.9])
def test_critical_lr_from_the_exact_map_equals_the_closed_form(B, mu):
    model = gaussian()
    got = exact.critical_lr(model, B, mu)
    closed = theory.gaussian_critical_lr(model.h, B, mu)
    assert abs(got - closed) < 1e-10 * closed
    sde = exact.critical_lr(model, B, mu, sde=True)
    assert abs(sde - (1 - mu) * theory.gaussian_critical_lr(model.h, B, sde=True)) < 1e-10 * sde
    # the threshold is where the radius of the second-moment map (written out here) crosses 1
    assert radius(model, 0.999 * got, B, mu) < 1 < radius(model, 1.001 * got, B, mu)
    # noise sets it below the curvature bound of gradient descent, and below the SDE's
    assert got < 2 * (1 + mu) / H3.max() and got < sde


@pytest.mark.parametrize("d,B,mu", [(1, 1, 0.0), (4, 1, 0.0), (4, 3, 0.5), (10, 2, 0.9)])
def test_isotropic_closed_form(d, B, mu):
    """Every h_i = h: lr_c = 2 B (1 - mu^2) / (h ((1 + mu)(d + 1) + B (1 - mu))), SDE 2 B / (h (d + 1))."""
    h = 1.7
    assert theory.gaussian_critical_lr(np.full(d, h), B, mu) == pytest.approx(
        2 * B * (1 - mu**2) / (h * ((1 + mu) * (d + 1) + B * (1 - mu))), rel=1e-12)
    assert theory.gaussian_critical_lr(np.full(d, h), B, sde=True) == pytest.approx(2 * B / (h * (d + 1)), rel=1e-12)


def test_critical_lr_is_far_below_the_curvature_bound_at_small_batches():
    """At B = 1 in d = 8 isotropic dimensions SGD diverges at 2/(10 h), a fifth of
    2/h; as B grows it tends to the curvature bound 2/h while the SDE's grows without bound."""
    model = gaussian(np.full(8, 2.0))
    assert exact.critical_lr(model, 1) == pytest.approx(0.1, rel=1e-10)
    big = exact.critical_lr(model, 1024)
    assert 0.99 < big < 1.0
    assert exact.critical_lr(model, 1024, sde=True) > 100


def test_additive_noise_only_has_the_curvature_bound():
    """NoisyQuadratic's noise does not depend on x: SGD's threshold is 2(1 + mu)/h_max; the SDE has none."""
    model = NoisyQuadratic(np.diag([1.0, 0.5, 2.0]), np.diag([0.3, 0.2, 0.4]))
    assert exact.critical_lr(model, 1) == pytest.approx(1.0, rel=1e-12)
    assert exact.critical_lr(model, 3, 0.5) == pytest.approx(1.5, rel=1e-12)
    assert exact.critical_lr(model, 1, sde=True) == np.inf


def test_critical_lr_on_a_data_set_bounds_the_moments():
    """LinearRegression: below the threshold the exact moments settle, above they grow without bound."""
    model = tiny_regression(n=12, d=3, seed=4)
    for B, sampler in ((1, "with_replacement"), (3, "without_replacement")):
        crit = exact.critical_lr(model, B, sampler=sampler)
        H = model.quadratic_form()[0]
        assert 0 < crit < 2 / np.linalg.eigvalsh(H)[-1]
        exact.stationary(model, SGD(0.99 * crit, B, sampler=sampler))
        with pytest.raises(ValueError, match="spectral radius"):
            exact.stationary(model, SGD(1.01 * crit, B, sampler=sampler))
        x0 = np.zeros(model.dim)
        alg = SGD(1.05 * crit, B, sampler=sampler)
        m = exact.moments(model, alg, x0, alg.lr * np.array([1000, 2000])).mean("sq_norm")
        assert m[1] > 2 * m[0]
    # momentum on a data set: the same threshold from the (x, b) map, and weight decay raises it
    crit = exact.critical_lr(model, 1, 0.5)
    assert exact.critical_lr(model, 1, 0.5, weight_decay=0.3) > crit


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(momentum=1.0), "momentum"),
        (dict(momentum=-0.1), "momentum"),
        (dict(sampler="reshuffle"), "reshuffle"),
        (dict(weight_decay=-1.0), "weight_decay"),
    ],
)
def test_critical_lr_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        exact.critical_lr(gaussian(), 2, **kwargs)


def test_critical_lr_refuses_a_flat_direction_and_a_nonlinear_model():
    from toylab import LinearRegression, SphereRegression

    flat = LinearRegression(np.array([[1.0, 0.0], [2.0, 0.0], [0.5, 0.0]]), np.array([1.0, 0.0, 2.0]))
    with pytest.raises(ValueError, match="singular"):
        exact.critical_lr(flat, 1)
    assert exact.critical_lr(flat, 1, weight_decay=0.1) > 0
    sphere = SphereRegression(np.eye(3), np.zeros(3))
    with pytest.raises(ValueError, match="exact moments"):
        exact.critical_lr(sphere, 1)
    with pytest.raises(ValueError, match="batch_size"):
        exact.critical_lr(tiny_regression(n=4, d=2), 5, sampler="without_replacement")


# ---------------------------------------------------------------------------
# point 4: stationary E L and tr Cov in closed form


@pytest.mark.parametrize("B,mu,frac", [(1, 0.0, 0.3), (1, 0.0, 0.95), (4, 0.0, 0.6), (2, 0.5, 0.8), (1, 0.9, 0.5)])
def test_stationary_loss_and_trace_closed_forms(B, mu, frac):
    model = gaussian()
    lr = frac * theory.gaussian_critical_lr(model.h, B, mu)
    st = exact.stationary(model, SGD(lr, B, momentum=mu))
    loss, trace = theory.gaussian_stationary(lr, model.h, model.sigma, B, mu)
    assert abs(st.mean("loss") - loss) < 1e-10 * loss
    assert abs(np.trace(st.cov) - trace) < 1e-10 * trace
    np.testing.assert_allclose(st.first, model.x_star, atol=1e-10)
    sde = exact.stationary(model, SDE(lr / (1 - mu), B))
    loss_sde, trace_sde = theory.gaussian_stationary(lr / (1 - mu), model.h, model.sigma, B, sde=True)
    assert abs(sde.mean("loss") - loss_sde) < 1e-10 * loss_sde
    assert abs(np.trace(sde.cov) - trace_sde) < 1e-10 * trace_sde
    # SGD fluctuates more than its SDE at every finite lr
    assert loss > loss_sde and trace > trace_sde


def test_stationary_closed_form_limits_and_errors():
    """lr -> 0: E L -> sigma^2/2 and SGD/SDE -> 1; past the threshold a clear error."""
    loss, _ = theory.gaussian_stationary(1e-7, H3, 0.3, 1)
    assert loss == pytest.approx(0.045, rel=1e-6)
    crit = theory.gaussian_critical_lr(H3, 1)
    with pytest.raises(ValueError, match="critical learning rate"):
        theory.gaussian_stationary(1.001 * crit, H3, 0.3, 1)
    with pytest.raises(ValueError, match="momentum"):
        theory.gaussian_stationary(0.1, H3, 0.3, 1, momentum=1.0)
    with pytest.raises(ValueError, match="h must be positive"):
        theory.gaussian_critical_lr([1.0, 0.0], 1)


@pytest.mark.parametrize("backend", ["numpy", "cpu", "cuda"])
def test_monte_carlo_momentum_on_multiplicative_noise(backend):
    """Heavy ball on GaussianLinearRegression (noise growing with the distance to x*):
    E L and E |x|^2 within 4 standard errors of the exact (x, b) moment map on every backend."""
    model = gaussian()
    mu, B = 0.5, 2
    alg = SGD(0.6 * exact.critical_lr(model, B, mu), B, momentum=mu)
    x0 = np.zeros(3)
    times = alg.step_time * np.array([3, 15, 40])
    paths = 256 if backend == "cuda" else 40_000  # CUDA runs on the simulator here (a Python thread per path)
    ens = simulate(model, alg, x0, times, paths=paths, seed=11, backend=backend, progress=False)
    ex = exact.moments(model, alg, x0, times)
    for name in ("loss", "sq_norm"):
        z = np.abs(ens.mean(name) - ex.mean(name)) / ens.stderr(name)
        assert np.all(z < 4), (name, z)


# ---------------------------------------------------------------------------
# point 5: the experiments


def test_noise_experiment_on_gaussian_and_data_set(tmp_path):
    from toylab.demos import demo_gaussian, demo_regression

    for model in (demo_gaussian(), demo_regression(n=24, d=3)):
        res = noise(model, (1, 4, 32), (1, 8), n_lrs=6, mc_fractions=(0.3, 0.6), paths=4000, seed=7,
                    progress=False)
        assert np.all(np.abs(res.mc_z) < 4), res.mc_z
        assert np.all(res.mc_diverged == 0)
        # the Monte Carlo runs are long enough: exact E L at the last step is the stationary value
        for j, B in enumerate(res.curve_batch_sizes):
            for p, lr in enumerate(res.mc_lrs[j]):
                st = exact.stationary(model, SGD(lr, int(B))).mean("loss")
                assert abs(res.mc_exact[j, p] - st) <= 1e-4 * st
        assert np.all(res.critical_sgd < res.critical_sde)
        assert np.all(res.critical_sgd < res.curvature_bound)
        assert np.all(res.loss_sgd > res.loss_sde)
        if isinstance(model, GaussianLinearRegression):
            np.testing.assert_allclose(res.critical_sgd, res.closed_sgd, rtol=1e-10)
            np.testing.assert_allclose(res.critical_sde, res.closed_sde, rtol=1e-10)
            np.testing.assert_allclose(res.loss_sgd, res.loss_closed, rtol=1e-10)
        else:
            assert np.all(np.isnan(res.closed_sgd))
        res.save(tmp_path / "n.npz")
        back = NoiseResult.load(tmp_path / "n.npz")
        np.testing.assert_array_equal(back.loss_sgd, res.loss_sgd)
        assert back.summary() == res.summary() and "critical lr B=1" in res.summary()


def test_momentum_experiment(tmp_path):
    model = NoisyQuadratic(np.diag([1.0, 0.5, 2.0]), np.array([[0.3, 0.1, 0.0], [0.1, 0.2, 0.0], [0.0, 0.0, 0.4]]))
    res = momentum(model, (0.0, 0.9), 2, n_lrs=8, mc_fractions=(0.2, 0.8), paths=4000, seed=3, progress=False)
    assert np.all(np.abs(res.mc_z) < 4), res.mc_z
    # the closed form per eigen-direction holds for a C that does not commute with H
    np.testing.assert_allclose(res.trace_closed, res.trace_sgd, rtol=1e-10)
    # towards the continuous limit the ratio tends to 1; at lr = 1/h_max momentum is closer to its SDE
    assert np.all(np.abs(res.ratio[:, 0] - 1) < 0.01)
    assert res.ratio_common[1] < res.ratio_common[0]
    # tr Cov mixes the per-direction ratios 1/(1 - lr h/(2(1 + mu))): it lies between them
    per_direction = theory.momentum_sde_ratio(res.lr_common, 0.0, np.linalg.eigvalsh(model.H))
    assert per_direction.min() < res.ratio_common[0] < per_direction.max()
    res.save(tmp_path / "m.npz")
    back = MomentumResult.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(back.trace_sgd, res.trace_sgd)
    assert back.summary() == res.summary()


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["momentum", "--momenta", "1.0"], "momenta"),
        (["momentum", "--model", "gaussian"], "minimum at x = 0"),
        (["momentum", "--lr", "0.1"], "unrecognized arguments: --lr"),
        (["noise", "--model", "sphere"], "exact moments"),
        (["noise", "--batch-size", "3"], "unrecognized arguments: --batch-size"),
        (["noise", "--batch-sizes", "0"], "batch_sizes"),
    ],
)
def test_cli_refuses(argv, needle, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1


def test_cli_runs_and_saves(tmp_path, capsys):
    assert main(["noise", "--paths", "500", "--n-lrs", "4", "--batch-sizes", "1", "8", "--curve-batch-sizes", "2",
                 "--out", str(tmp_path / "n.npz")]) == 0
    assert "critical lr B=1" in capsys.readouterr().out
    assert NoiseResult.load(tmp_path / "n.npz").config["paths"] == 500
    assert main(["momentum", "--paths", "500", "--n-lrs", "4", "--momenta", "0.3", "--json"]) == 0
    assert '"momenta"' in capsys.readouterr().out
