"""``toylab reproduce``: every figure, with its data beside it, from fixed seeds.

The figures are made in a staging folder inside the output folder and moved
into place only once every one is done, with ``manifest.json`` listing what
the run produced: an interrupted run leaves the output folder as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

__all__ = ["reproduce"]


def _weak_error(out_dir, quick, backend):
    from . import exact
    from .algorithms import SDE, SVAG
    from .demos import demo_regression
    from .experiments import exact_weak_error
    from .plotting import plot_monte_carlo, plot_weak_error
    from .simulate import simulate

    written = []
    model = demo_regression()
    ls = 2.0 ** np.arange(7 if quick else 9)
    lr = 0.1
    result = exact_weak_error(model, lr, 4, ls, lr * np.arange(1, 11 if quick else 21), x0=np.zeros(model.dim))
    png, data = out_dir / "weak_error_exact.png", out_dir / "weak_error_exact.npz"
    plot_weak_error(result, png)
    result.save(data)
    written += [png, data]
    ratios = ", ".join(f"{r:.4f}" for r in result.ratios)
    print(f"weak_error_exact: slope {result.slope():.4f}; error(l)/error(2l) = {ratios}")

    # Monte Carlo on the chosen backend against the exact moments it must match.
    times = lr * np.arange(0, 21, 2)
    x0 = np.zeros(model.dim)
    runs, worst = [], 0.0
    for i, l in enumerate((1, 4)):
        alg = SVAG(lr, 4, l)
        ens = simulate(model, alg, x0, times, paths=2_000 if quick else 100_000, seed=i, backend=backend)
        exact_mean = exact.moments(model, alg, x0, times).mean("loss")
        z = np.abs(ens.mean("loss") - exact_mean)[1:] / ens.stderr("loss")[1:]
        worst = max(worst, float(z.max()))
        runs.append((f"SVAG l={l}", ens, exact_mean))
        data = out_dir / f"svag_monte_carlo_l{l}.npz"
        ens.save(data)
        written.append(data)
    sde = exact.moments(model, SDE(lr, 4), x0, times).mean("loss")
    png = out_dir / "svag_monte_carlo.png"
    plot_monte_carlo(times, runs, sde, png)
    written.append(png)
    print(f"svag_monte_carlo [{runs[0][1].config['backend']}]: largest |mean - exact| = {worst:.2f} standard errors")
    return written


def _save_data(results, names, out_dir):
    """Save each result as ``name.npz`` and print its summary; the paths written."""
    written = []
    for name, res in zip(names, results):
        res.save(out_dir / f"{name}.npz")
        written.append(out_dir / f"{name}.npz")
        print(res.summary())
    return written


def _save(result, plot, out_dir, name, *plot_args):
    """One result: ``name.png`` and ``name.npz``."""
    png = out_dir / f"{name}.png"
    plot(result, png, *plot_args)
    return [png] + _save_data([result], [name], out_dir)


def _save_group(results, names, plot, out_dir, name, *plot_args):
    """Several results in one figure ``name.png``, each saved under its own name."""
    png = out_dir / f"{name}.png"
    plot(results, png, *plot_args)
    return [png] + _save_data(results, names, out_dir)


def reproduce(out_dir, quick=False, backend="auto", executor=None):
    """Write every figure and its data into ``out_dir``, with ``manifest.json``; returns the paths written.

    Nothing in ``out_dir`` changes until every figure is made: they are staged
    in a hidden folder inside it and then moved into place.  The folder (or,
    if it does not exist, its parent) must be writable; this is checked before
    any work.
    """
    from ._io import check_writable
    from .ensemble import package_versions
    from .simulate import resolve_backend

    out_dir = Path(out_dir)
    check_writable(out_dir, folder=True)
    backend = resolve_backend(backend)
    created = not out_dir.exists()
    out_dir.mkdir(exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".reproduce-", dir=out_dir))
    try:
        written = _make_all(staging, quick, backend, executor)
        files = {}
        for path in written:
            files[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()
        manifest = {"files": files, "quick": bool(quick), "backend": backend, "versions": package_versions()}
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        names = list(files) + ["manifest.json"]
        for name in names:
            os.replace(staging / name, out_dir / name)
    except BaseException:
        if created:
            shutil.rmtree(out_dir, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return [out_dir / name for name in names]


def _make_all(out_dir, quick, backend, executor):
    """Make every figure and its data in ``out_dir``; the paths written."""
    from .demos import SPHERE_X0, demo_quadratic, demo_regression, demo_sphere
    from .demos import demo_gaussian
    from .experiments import equilibrium, escape, lsr, momentum, noise, regimes, stationary, svag_paths, weak_error
    from .plotting import (plot_equilibrium, plot_escape, plot_lsr, plot_momentum, plot_noise, plot_regimes,
                           plot_stationary, plot_svag_paths, plot_weak_error_mc)

    written = _weak_error(out_dir, quick, backend)
    # user observables are not needed below, so every backend can run them
    sphere, x0 = demo_sphere(), np.array(SPHERE_X0)

    # the loss (smooth and bounded on the sphere) is noisier: every l clear of the noise is fitted;
    # |x|^2 is precise enough to fit only l >= 4, past the O(1/l^2) term
    mc = [weak_error(sphere, 0.4, 4, ls=(1, 2, 4, 8, 16), time=2.0, x0=x0, observable=obs, weight_decay=0.5,
                     fit_from=fit_from, paths=2000 if quick else 50_000, seed=50 + 10 * i, backend=backend,
                     executor=executor)
          for i, (obs, fit_from) in enumerate((("loss", 1), ("sq_norm", 4)))]
    written += _save_group(mc, [f"weak_error_sphere_{res.observable}" for res in mc], plot_weak_error_mc, out_dir,
                           "weak_error_sphere")

    # On the linear model the quadratic loss cannot tell SGD from NGD, nor SVAG(l) from EM at lr/l
    # (equal first two moments); |x|^4 and exp(-|x|^2/2) can: the same runs, three test functions.
    # B = 1 keeps the noise of one sample, far from Gaussian.
    lin = demo_regression()
    mc = weak_error(lin, 0.1, 1, ls=(1, 2, 4, 8, 16), time=1.0, x0=np.zeros(lin.dim),
                    observable=("loss", "norm4", "gauss_bump"), paths=4000 if quick else 100_000, seed=80,
                    backend=backend, executor=executor)
    written += _save_group(mc, [f"weak_error_linear_{res.observable}" for res in mc], plot_weak_error_mc, out_dir,
                           "weak_error_linear_mc")

    res = stationary(demo_quadratic(), np.geomspace(0.01, 0.9, 12 if quick else 24), 1, ls=(2, 4, 8, 16))
    written += _save(res, plot_stationary, out_dir, "stationary")

    # heavy ball against its SDE at lr/(1 - mu); the critical learning rate of minibatch noise
    res = momentum(demo_quadratic(), (0.0, 0.5, 0.9), 1, paths=2000 if quick else 100_000, seed=90,
                   backend=backend, executor=executor)
    written += _save(res, plot_momentum, out_dir, "momentum")
    res = [noise(m, paths=2000 if quick else 100_000, seed=100 + 20 * i, backend=backend, executor=executor)
           for i, m in enumerate((demo_gaussian(), lin))]
    written += _save_group(res, ["noise_gaussian", "noise_linear"], plot_noise, out_dir, "noise")

    # escape over a barrier: the log against the linear barrier, SGD and SVAG against the SDE's exact rate
    res = escape(paths=256 if quick else 4096, seed=200, backend=backend, executor=executor)
    written += _save(res, plot_escape, out_dir, "escape")

    batch_sizes = [1, 2, 4, 8, 16, 32, 64]
    res_time = regimes(lin, batch_sizes, time=5.0, x0=np.zeros(lin.dim), executor=executor)
    written += _save_data([res_time], ["regimes_time"], out_dir)
    res = regimes(lin, batch_sizes, epochs=2.0, x0=np.zeros(lin.dim), executor=executor)
    written += _save(res, plot_regimes, out_dir, "regimes", res_time)

    res = equilibrium(sphere, 0.2, 16, 0.5, x0=x0, time=12.0, paths=500 if quick else 4000, seed=10,
                      backend=backend, executor=executor)
    written += _save(res, plot_equilibrium, out_dir, "equilibrium")

    res = lsr(sphere, 0.02, 1, 0.5, x0=x0, kappas=(1, 2, 4, 8, 16, 32, 64), time=12.0,
              paths=300 if quick else 2000, seed=20, backend=backend, executor=executor)
    written += _save(res, plot_lsr, out_dir, "lsr")

    paths_runs = []
    for lr, seed, T in ((0.05, 30, 4.0), (0.4, 40, 8.0)):
        paths_runs.append(svag_paths(sphere, lr, 4, 0.5, x0=x0, time=T, paths=300 if quick else 4000,
                                     seed=seed, backend=backend, executor=executor))
    written += _save_group(paths_runs, ["svag_paths_small_lr", "svag_paths_large_lr"], plot_svag_paths, out_dir,
                           "svag_paths", ["eta = 0.05 (SDE holds)", "eta = 0.4 (LSR fails)"])
    return written
