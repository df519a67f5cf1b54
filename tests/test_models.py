"""Models: gradients, exact noise covariances, noise draws, scale invariance, bad input."""

import itertools
import math

import numpy as np
import pytest

from toylab import GaussianLinearRegression, LinearRegression, NoisyQuadratic, SphereRegression

from .conftest import tiny_regression


def all_models():
    rng = np.random.default_rng(3)
    A = rng.normal(size=(6, 3))
    return [
        LinearRegression(A, rng.normal(size=6)),
        SphereRegression(A, rng.normal(size=6)),
        SphereRegression(A, np.zeros(6)),
        GaussianLinearRegression([1.0, 0.5, 2.0], [1.0, 0.0, -1.0], 0.3),
        NoisyQuadratic(np.diag([1.0, 2.0, 0.5]), 0.1 * np.eye(3) + 0.05),
    ] + moment_noise_models(rng, A)


def moment_noise_models(rng, A):
    """Finite data sets whose noise is drawn from the moment factor (noise="moments")."""
    A12 = rng.normal(size=(12, 3))
    y12 = rng.normal(size=12)
    return [
        # "auto" picks the moments here: m = 9 features, cheaper than n = 12 samples
        LinearRegression(A12, y12),
        SphereRegression(A12, y12),
        # n = 6 < m: the factor has rank n - 1 = 5; interpolated data: the residual part is zero
        LinearRegression(A, A @ np.array([1.0, -1.0, 0.5]), noise="moments"),
        SphereRegression(A, np.zeros(6), noise="moments"),
    ]


MODELS = all_models()
IDS = [f"{type(m).__name__}{i}" for i, m in enumerate(MODELS)]
POINT = np.array([0.7, -0.4, 1.3])


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_gradient_matches_central_differences(model):
    h = 1e-6
    fd = np.array([(model.loss(POINT + h * e) - model.loss(POINT - h * e)) / (2 * h) for e in np.eye(3)])
    np.testing.assert_allclose(model.grad(POINT), fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model", [m for m in MODELS if m.finite], ids=[i for i, m in zip(IDS, MODELS) if m.finite])
def test_gradient_is_the_mean_of_the_per_sample_gradients(model):
    # the closed forms (H x - b; P_u (H u - b) / |x| on the sphere) against the definition, to rounding
    x = np.stack([POINT, -2.5 * POINT[::-1], np.array([1e-3, 2.0, -0.5])])
    mean = model.per_sample_grads(x).mean(axis=-2)
    np.testing.assert_allclose(model.grad(x), mean, rtol=1e-12, atol=1e-14 * np.abs(mean).max())


@pytest.mark.parametrize("model", [m for m in MODELS if m.finite], ids=[i for i, m in zip(IDS, MODELS) if m.finite])
def test_per_sample_gradients_match_central_differences(model):
    h = 1e-6
    for i in range(model.n_samples):
        sub = type(model)(model.A[i : i + 1], model.y[i : i + 1])
        fd = np.array([(sub.loss(POINT + h * e) - sub.loss(POINT - h * e)) / (2 * h) for e in np.eye(3)])
        np.testing.assert_allclose(model.per_sample_grads(POINT)[i], fd, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_vectorised_over_leading_axes(model):
    X = np.stack([POINT, 2 * POINT, -POINT]).reshape(3, 1, 3)
    for fn in (model.loss, model.grad, model.sigma1, model.sigma1_trace):
        stacked = fn(X)
        for i in range(3):
            np.testing.assert_allclose(stacked[i, 0], fn(X[i, 0]), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_sigma1_trace_is_trace(model):
    np.testing.assert_allclose(model.sigma1_trace(POINT), np.trace(model.sigma1(POINT)), rtol=1e-12)


def enumerate_batch_grads(model, x, B, replacement):
    n = model.n_samples
    batches = (
        itertools.product(range(n), repeat=B) if replacement else itertools.combinations(range(n), B)
    )
    return np.array([model.batch_grad(x, np.array(b)) for b in batches])


@pytest.mark.parametrize("cls", [LinearRegression, SphereRegression])
@pytest.mark.parametrize("n,B", [(4, 1), (4, 2), (5, 3), (3, 3)])
@pytest.mark.parametrize("sampler", ["with_replacement", "without_replacement"])
def test_noise_cov_equals_enumeration_over_every_batch(cls, n, B, sampler):
    model = tiny_regression(n=n, d=3, seed=n + B, cls=cls)
    g = enumerate_batch_grads(model, POINT, B, sampler == "with_replacement")
    # every batch is equally likely: the covariance over the enumeration is exact
    np.testing.assert_allclose(g.mean(axis=0), model.grad(POINT), rtol=1e-12, atol=1e-14)
    emp = np.cov(g.T, bias=True)
    np.testing.assert_allclose(model.noise_cov(POINT, B, sampler), emp, rtol=1e-10, atol=1e-14)


def test_without_replacement_factor():
    model = tiny_regression(n=7, d=3)
    s1 = model.noise_cov(POINT, 1)
    for B in range(1, 8):
        np.testing.assert_allclose(model.noise_cov(POINT, B), s1 / B, rtol=1e-13)
        np.testing.assert_allclose(model.noise_cov(POINT, B, "without_replacement"), (7 - B) / 6 * s1 / B, rtol=1e-13)
    assert np.allclose(model.noise_cov(POINT, 7, "without_replacement"), 0)


def sampled_batch_grads(model, x, B, count, seed=0):
    z = np.random.default_rng(seed).normal(size=(count, model.grad_normals(B)))
    return model.sampled_batch_grad(np.broadcast_to(x, (count, 3)), z, B)


@pytest.mark.parametrize("model", [m for m in MODELS if not m.finite], ids=[i for i, m in zip(IDS, MODELS) if not m.finite])
@pytest.mark.parametrize("B", [1, 3])
def test_population_noise_cov_matches_sampled_batch_gradients(model, B):
    count = 200_000
    g = sampled_batch_grads(model, POINT, B, count)
    mean_se = g.std(axis=0) / math.sqrt(count)
    assert np.all(np.abs(g.mean(axis=0) - model.grad(POINT)) < 4 * mean_se)
    dev = g - g.mean(axis=0)
    prod = dev[:, :, None] * dev[:, None, :]
    emp = prod.mean(axis=0)
    se = prod.std(axis=0) / math.sqrt(count)
    exact = model.noise_cov(POINT, B)
    assert np.all(np.abs(emp - exact) < 4 * se), (emp, exact, se)


@pytest.mark.parametrize("model", MODELS, ids=IDS)
@pytest.mark.parametrize("sampler", ["with_replacement", "without_replacement"])
def test_noise_draw_has_covariance_sigma_b_exactly(model, sampler):
    if sampler not in model.samplers:
        pytest.raises(ValueError, model.noise, POINT, np.zeros(model.noise_dim), 2, sampler)
        return
    # The draw is linear in z: feeding the unit vectors gives the matrix M with
    # noise = M z, and Cov = M M^T must equal Sigma_B(x) exactly.
    M = model.noise(np.broadcast_to(POINT, (model.noise_dim, 3)), np.eye(model.noise_dim), 2, sampler).T
    np.testing.assert_allclose(M @ M.T, model.noise_cov(POINT, 2, sampler), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("y", [np.zeros(6), np.arange(6.0)])
def test_sphere_regression_is_scale_invariant(y):
    A = np.random.default_rng(0).normal(size=(6, 3))
    model = SphereRegression(A, y)
    g = model.per_sample_grads(POINT)
    np.testing.assert_allclose(g @ POINT, 0, atol=1e-14)
    for c in (0.01, 0.5, 3.0, 1e4):
        np.testing.assert_allclose(model.loss(c * POINT), model.loss(POINT), rtol=1e-13)
        # grad l_i(c x) = grad l_i(x) / c, from differentiating l_i(c x) = l_i(x)
        np.testing.assert_allclose(model.per_sample_grads(c * POINT), g / c, rtol=1e-12, atol=1e-15)


def test_sphere_with_zero_targets_is_quadratic_on_the_sphere():
    A = np.random.default_rng(1).normal(size=(6, 3))
    u = POINT / np.linalg.norm(POINT)
    assert np.isclose(SphereRegression(A, np.zeros(6)).loss(POINT), 0.5 * u @ (A.T @ A / 6) @ u, rtol=1e-13)


def test_gaussian_loss_and_covariance_closed_forms(gaussian):
    r = POINT - gaussian.x_star
    H = np.diag(gaussian.h)
    assert np.isclose(gaussian.loss(POINT), 0.5 * r @ H @ r + 0.5 * 0.09)
    expected = ((r @ H @ r + 0.09) * H + np.outer(H @ r, H @ r)) / 4
    np.testing.assert_allclose(gaussian.noise_cov(POINT, 4), expected, rtol=1e-13)


# ---- bad input --------------------------------------------------------------


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: LinearRegression(np.ones((3, 2)), np.ones(4)), "y must have shape"),
        (lambda: LinearRegression(np.ones(3), np.ones(3)), "A must be 2-dimensional"),
        (lambda: LinearRegression([[1.0, np.nan]], [1.0]), "A contains NaN or inf"),
        (lambda: LinearRegression([[1.0, 2.0]], [np.inf]), "y contains NaN or inf"),
        (lambda: SphereRegression(np.ones((0, 2)), np.ones(0)), "A must have at least one row"),
        (lambda: GaussianLinearRegression([1.0, -1.0], [0, 0], 1.0), "h must be >= 0"),
        (lambda: GaussianLinearRegression([1.0, 1.0], [0, 0, 0], 1.0), "x_star must have shape"),
        (lambda: GaussianLinearRegression([1.0], [0], -1.0), "sigma must be >= 0"),
        (lambda: NoisyQuadratic([[1.0, 2.0], [0.0, 1.0]], np.eye(2)), "H must be symmetric"),
        (lambda: NoisyQuadratic(np.eye(2), -np.eye(2)), "C must be positive semi-definite"),
        (lambda: NoisyQuadratic(np.eye(2), np.eye(3)), r"C must be of shape \(2, 2\)"),
    ],
)
def test_bad_model_input_names_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_bad_types_raise_type_error():
    with pytest.raises(TypeError, match="A must be an array of numbers"):
        LinearRegression("data", [1.0])
    with pytest.raises(TypeError, match="sigma must be a real number"):
        GaussianLinearRegression([1.0], [0.0], "big")


def test_bad_points_and_batches(regression, gaussian):
    with pytest.raises(ValueError, match="x0 must have shape"):
        regression.check_point(np.zeros(2))
    with pytest.raises(ValueError, match="x0 must be nonzero"):
        SphereRegression(regression.A, regression.y).check_point(np.zeros(3))
    with pytest.raises(ValueError, match="batch_size=9 exceeds the data set size n=8"):
        regression.noise_cov(POINT, 9, "without_replacement")
    with pytest.raises(ValueError, match="batch_size must be >= 1"):
        regression.noise_cov(POINT, 0)
    with pytest.raises(ValueError, match="sampler 'reshuffle' needs a finite data set"):
        gaussian.noise_cov(POINT, 2, "reshuffle")
    with pytest.raises(ValueError, match="sampler must be one of"):
        regression.noise_cov(POINT, 2, "sometimes")
    # with replacement, a batch larger than the data set is fine
    assert regression.noise_cov(POINT, 20).shape == (3, 3)
