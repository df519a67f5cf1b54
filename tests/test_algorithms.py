"""Algorithm records: validation, step in SDE time, SVAG's coefficients."""

import dataclasses

import pytest

from toylab import GD, NGD, SDE, SGD, SVAG, EulerMaruyama
from toylab.algorithms import ALGORITHMS


def test_positional_order_and_step_times():
    assert SGD(0.1, 4).step_time == 0.1
    assert SVAG(0.1, 4, 8).step_time == 0.1 / 8
    assert NGD(0.1, 4).step_time == 0.1
    assert EulerMaruyama(0.1, 4, 0.01).step_time == 0.01
    assert GD(0.1).step_time == 0.1
    assert SDE(0.1, 4).step_time is None
    assert SVAG(0.1, 4, 8).l == 8.0


@pytest.mark.parametrize("l", [1, 1.5, 2, 7, 256])
def test_svag_coefficients(l):
    c1, c2 = SVAG(0.1, 2, l).coefficients
    assert c1 + c2 == pytest.approx(1, abs=1e-14)
    assert c1 * c1 + c2 * c2 == pytest.approx(l, rel=1e-14)
    if l == 1:
        assert (c1, c2) == (1.0, 0.0)


def test_records_are_frozen_and_describe_themselves():
    alg = SVAG(0.1, 2, 4, weight_decay=0.01, sampler="reshuffle")
    with pytest.raises(dataclasses.FrozenInstanceError):
        alg.lr = 1.0
    assert alg.describe() == {
        "algorithm": "SVAG",
        "lr": 0.1,
        "batch_size": 2,
        "l": 4.0,
        "weight_decay": 0.01,
        "sampler": "reshuffle",
    }
    assert set(ALGORITHMS) == {"sgd", "svag", "ngd", "em", "gd", "sde"}


def test_weight_decay_and_sampler_are_keyword_only():
    with pytest.raises(TypeError):
        SGD(0.1, 2, 0.01)


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: SGD(0.0, 2), ValueError, "lr must be > 0"),
        (lambda: SGD(-1, 2), ValueError, "lr must be > 0"),
        (lambda: SGD(float("nan"), 2), ValueError, "lr must be finite"),
        (lambda: SGD("0.1", 2), TypeError, "lr must be a real number"),
        (lambda: SGD(0.1, 0), ValueError, "batch_size must be >= 1"),
        (lambda: SGD(0.1, 2.5), TypeError, "batch_size must be an integer"),
        (lambda: SGD(0.1, 2, weight_decay=-0.1), ValueError, "weight_decay must be >= 0"),
        (lambda: SGD(0.1, 2, sampler="often"), ValueError, "sampler must be one of"),
        (lambda: SVAG(0.1, 2, 0.5), ValueError, "l must be >= 1"),
        (lambda: EulerMaruyama(0.1, 2, 0.0), ValueError, "dt must be > 0"),
        (lambda: EulerMaruyama(0.1, 2, -1e-3), ValueError, "dt must be > 0"),
        (lambda: NGD(0.1, 2, sampler="reshuffle"), ValueError, "sampler 'reshuffle' needs an algorithm that draws"),
        (lambda: SDE(0.1, 2, sampler="reshuffle"), ValueError, "sampler 'reshuffle' needs an algorithm that draws"),
        (lambda: GD(0.1, weight_decay=float("inf")), ValueError, "weight_decay must be finite"),
    ],
)
def test_bad_hyperparameters_name_the_argument(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
