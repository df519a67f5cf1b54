"""The ``toylab`` command line: ``reproduce`` and one command per experiment.

Every command takes the model (a built-in demo or ``--data FILE.npz`` with
arrays ``A`` and ``y``), hyperparameters, ``--paths``, ``--seed`` and
``--backend``; ``--json`` prints the result, ``--out FILE.npz`` saves it (it
loads back with the result class's ``load``).  Sweeps run serially, on
``--workers N`` local processes, or on a Dask cluster with ``--scheduler``.
Bad options get one line on stderr and exit code 2.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from .demos import MODELS, SPHERE_X0
from .simulate import BUILTIN_OBSERVABLES


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args, **kwargs):
        # no prefixes: `noise --batch-size 3` must not silently become --batch-sizes 3
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message):
        # One line and exit code 2, never a traceback.
        self.exit(2, f"{self.prog}: error: {message}\n")


class UsageError(Exception):
    """A bad option value found after parsing (reported like a parser error)."""


# ---------------------------------------------------------------------------
# models


def load_model(kind, data=None):
    """The demo model ``kind``, or ``kind`` ('linear' or 'sphere') on the data set in ``data``."""
    if data is None:
        return MODELS[kind]()
    from .models import LinearRegression, SphereRegression

    if kind not in ("linear", "sphere"):
        raise UsageError(f"--data needs --model linear or sphere (a finite data set), got --model {kind}")
    from ._io import read_npz

    try:
        arrays = read_npz(data)
    except FileNotFoundError:
        raise UsageError(f"--data {data}: no such file") from None
    except ValueError as err:
        raise UsageError(f"--data {err} (need arrays A of shape (n, d) and y of shape (n,))") from None
    missing = [k for k in ("A", "y") if k not in arrays]
    if missing:
        raise UsageError(f"--data {data}: missing array(s) {', '.join(missing)} (need A of shape (n, d), y of "
                         f"shape (n,); it holds {', '.join(sorted(arrays)) or 'nothing'})")
    A, y = arrays["A"], arrays["y"]
    try:
        return (LinearRegression if kind == "linear" else SphereRegression)(A, y)
    except (TypeError, ValueError) as err:
        raise UsageError(f"--data {data}: {err}") from None


def _x0(args, model):
    if args.x0 is not None:
        if len(args.x0) != model.dim:
            raise UsageError(f"--x0 has {len(args.x0)} values, the model has dimension {model.dim}")
        return np.array(args.x0, dtype=float)
    if model.scale_invariant:
        x0 = np.ones(model.dim)
        x0[: min(3, model.dim)] = SPHERE_X0[: min(3, model.dim)]
        return x0
    return np.zeros(model.dim)


def _executor(args):
    from .experiments import Executor

    return Executor(workers=getattr(args, "workers", None), scheduler=getattr(args, "scheduler", None))


# ---------------------------------------------------------------------------
# commands


def _cmd_weak_error(args, model):
    from . import exact
    from .experiments import exact_weak_error, weak_error

    if not 1 <= args.levels <= MAX_LEVELS:
        raise UsageError(f"--levels must be between 1 and {MAX_LEVELS}, got {args.levels}")
    if args.levels > 12:
        # SVAG(l) takes l steps per SGD step: the largest l dominates the cost
        print(f"toylab weak-error: --levels {args.levels} runs SVAG up to l = {2 ** (args.levels - 1)}, "
              f"{2 ** (args.levels - 1)} times as many steps as SGD; this can take long", file=sys.stderr)
    ls = 2.0 ** np.arange(args.levels)
    exact_path = getattr(model, "has_exact_moments", False) and args.observable in exact.OBSERVABLES
    if exact_path:
        given = [opt for opt in MONTE_CARLO_ONLY if opt in args.given]
        if given:
            raise UsageError(f"{given[0]} is not used: the weak error on a linear model with a quadratic "
                             "observable is exact (no Monte Carlo)")
    if not exact_path:
        # no exact moments (SphereRegression): Monte Carlo against two extrapolated references
        return weak_error(model, args.lr, args.batch_size, ls=ls, time=args.lr * args.steps, x0=_x0(args, model),
                          observable=args.observable, weight_decay=args.weight_decay, paths=args.paths,
                          seed=args.seed, backend=args.backend, executor=_executor(args))
    times = args.lr * np.arange(1, args.steps + 1)
    return exact_weak_error(model, args.lr, args.batch_size, ls, times, x0=_x0(args, model),
                            observable=args.observable, weight_decay=args.weight_decay)


def _cmd_equilibrium(args, model):
    from .experiments import equilibrium

    return equilibrium(model, args.lr, args.batch_size, args.weight_decay, x0=_x0(args, model), time=args.time,
                       ls=args.ls, dts=args.dts, paths=args.paths, seed=args.seed, backend=args.backend,
                       executor=_executor(args))


def _cmd_lsr(args, model):
    from .experiments import lsr

    return lsr(model, args.lr, args.batch_size, args.weight_decay, x0=_x0(args, model), kappas=args.kappas,
               C=args.C, time=args.time, paths=args.paths, seed=args.seed, backend=args.backend,
               executor=_executor(args))


def _cmd_stationary(args, model):
    from .experiments import stationary

    return stationary(model, args.lrs, args.batch_size, ls=args.ls, weight_decay=args.weight_decay)


def _cmd_momentum(args, model):
    from .experiments import momentum

    return momentum(model, args.momenta, args.batch_size, n_lrs=args.n_lrs, paths=args.paths, seed=args.seed,
                    backend=args.backend, executor=_executor(args))


def _cmd_noise(args, model):
    from .experiments import noise

    return noise(model, args.batch_sizes, args.curve_batch_sizes, n_lrs=args.n_lrs, paths=args.paths,
                 seed=args.seed, backend=args.backend, executor=_executor(args))


def _barrier(text):
    """An argparse type: ``RHO:V``, a CircleBarrier's rho and label noise."""
    try:
        rho, v = (float(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected RHO:V (two numbers), got {text!r}") from None
    return rho, v


def _cmd_escape(args, model):
    from .experiments import escape
    from .experiments.escape import DEFAULT_BARRIERS

    if len(args.lrs) != len(args.batch_sizes):
        raise UsageError(f"--lrs and --batch-sizes pair up: give as many of each, got {len(args.lrs)} and "
                         f"{len(args.batch_sizes)}")
    barriers = args.barriers if args.barriers is not None else DEFAULT_BARRIERS
    return escape(barriers, hyper=[(lr, B) for lr, B in zip(args.lrs, args.batch_sizes)], ls=args.ls,
                  em_fractions=args.em_fractions, horizon=args.horizon, paths=args.paths, seed=args.seed,
                  backend=args.backend, executor=_executor(args))


def _cmd_regimes(args, model):
    from .experiments import regimes

    budget = {"steps": args.budget_steps} if args.budget_steps is not None else (
        {"time": args.budget_time} if args.budget_time is not None else {"epochs": args.epochs})
    return regimes(model, args.batch_sizes, **budget, x0=_x0(args, model),
                   weight_decay=args.weight_decay, executor=_executor(args))


def _cmd_simulate(args, model):
    from .algorithms import GD, NGD, SGD, SVAG, EulerMaruyama
    from .simulate import simulate

    common = {"weight_decay": args.weight_decay}
    alg = {
        "sgd": lambda: SGD(args.lr, args.batch_size, sampler=args.sampler, **common),
        "svag": lambda: SVAG(args.lr, args.batch_size, args.l, sampler=args.sampler, **common),
        "ngd": lambda: NGD(args.lr, args.batch_size, **common),
        "em": lambda: EulerMaruyama(args.lr, args.batch_size, args.dt or args.lr / 10, **common),
        "gd": lambda: GD(args.lr, **common),
    }[args.algorithm]()
    # the record times k T / records must be whole numbers of steps: refused, never rounded
    step = alg.step_time
    steps = np.arange(args.records + 1) * (args.time / args.records) / step
    if np.any(np.abs(steps - np.round(steps)) > 1e-9 * np.maximum(1.0, steps)):
        unit = "--dt" if args.algorithm == "em" else "--lr"
        raise UsageError(
            f"--time {args.time:g} with --records {args.records} puts records between the steps of {unit} "
            f"{step:g}: each time k * {args.time:g} / {args.records} must be a whole number of steps"
        )
    times = np.round(steps) * step
    return simulate(model, alg, _x0(args, model), times, paths=args.paths, seed=args.seed, backend=args.backend)


def _summary(result):
    return result.summary() if hasattr(result, "summary") else repr(result)


def _as_json(result):
    return result.to_json()


COMMANDS = {
    "weak-error": (_cmd_weak_error, "weak error of SVAG(l) against the SDE, l = 1, 2, 4, ... (Theorem 4.3): "
                   "exact on linear models, Monte Carlo on the sphere",
                   "linear"),
    "equilibrium": (_cmd_equilibrium, "equilibria of SGD, SVAG and Euler-Maruyama with weight decay (eqs. 9-12)",
                    "sphere"),
    "lsr": (_cmd_lsr, "predicted and observed breakdown of the linear scaling rule (Theorem 5.6, eq. 14)", "sphere"),
    "stationary": (_cmd_stationary, "exact stationary covariance of SGD and SVAG against the SDE's", "quadratic"),
    "momentum": (_cmd_momentum, "stationary fluctuations of heavy-ball SGD against its SDE at lr/(1 - mu), "
                 "exactly and by Monte Carlo (Liu, Ziyin & Ueda)", "quadratic"),
    "noise": (_cmd_noise, "critical learning rate of minibatch noise against B, and the stationary loss of SGD "
              "against its SDE's (Ziyin et al.)", "gaussian"),
    "escape": (_cmd_escape, "escape rates of SGD, SVAG and the SDE over a barrier, against the log and the "
               "linear barrier (Mori et al.), with the SDE's exact rate", "barrier"),
    "regimes": (_cmd_regimes, "best learning rate against batch size for a fixed budget (Smith et al.)", "linear"),
    "simulate": (_cmd_simulate, "simulate one algorithm and print the observables' means", "linear"),
}


#: Common options a command does not take (it would ignore them): not offered, so refused.
NOT_TAKEN = {
    "momentum": {"data", "x0", "lr", "weight_decay"},
    "noise": {"x0", "lr", "batch_size", "weight_decay"},
    "stationary": {"x0", "lr", "paths", "seed", "backend", "workers", "scheduler"},
    "regimes": {"lr", "batch_size", "paths", "seed", "backend"},
    # the escape experiment runs on its own family of barrier models (--barriers)
    "escape": {"model", "data", "x0", "lr", "batch_size", "weight_decay"},
}

#: Options of ``simulate`` that an algorithm does not use: refused when given.
UNUSED_BY_ALGORITHM = {
    "sgd": ("--l", "--dt"),
    "svag": ("--dt",),
    "ngd": ("--l", "--dt", "--sampler"),
    "em": ("--l", "--sampler"),
    "gd": ("--l", "--dt", "--sampler", "--batch-size"),
}

#: Largest ``weak-error --levels``: l up to 2**19 steps per SGD step.
MAX_LEVELS = 20

#: Options the exact weak error (linear model, quadratic observable) does not use.
MONTE_CARLO_ONLY = ("--paths", "--seed", "--backend", "--workers", "--scheduler")


def _add_common(p, default_model, skip=()):
    if "model" not in skip:
        p.add_argument("--model", choices=sorted(MODELS), default=default_model, help="built-in demo model")
    common = [
        ("data", ("--data",), dict(metavar="FILE.npz", help="run on your data set: arrays A (n, d) and y (n,)")),
        ("x0", ("--x0",), dict(type=float, nargs="+", help="start point (default: 0, or (1, .5, -.5) on the sphere)")),
        ("lr", ("--lr",), dict(type=_positive(float), default=0.1, help="learning rate eta")),
        ("batch_size", ("--batch-size",), dict(type=_positive(int), default=4, help="batch size B")),
        ("weight_decay", ("--weight-decay",), dict(type=float, default=0.0, help="weight decay lambda")),
        ("paths", ("--paths",), dict(type=_positive(int), default=2000, help="Monte Carlo paths per run")),
        ("seed", ("--seed",), dict(type=int, default=0, help="random seed (run i of a sweep uses seed + i)")),
        ("backend", ("--backend",), dict(default="cpu", choices=["auto", "cpu", "cuda", "numpy"],
                                         help="simulation backend")),
        ("workers", ("--workers",), dict(type=_positive(int), help="run a sweep's configurations on N local processes")),
        ("scheduler", ("--scheduler",), dict(metavar="ADDRESS", help="run a sweep on a Dask cluster (tcp://host:port)")),
    ]
    for name, flags, kwargs in common:
        if name not in skip:
            p.add_argument(*flags, **kwargs)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--out", metavar="FILE.npz", help="save the result (loads back with its class's load)")


def _positive(kind):
    """An argparse type: a number of ``kind`` > 0."""

    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    convert.__name__ = kind.__name__
    return convert


def build_parser():
    parser = _Parser(prog="toylab", description="When does SGD behave like its SDE? Exact toy models and simulators.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"toylab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    fmt = argparse.ArgumentDefaultsHelpFormatter
    rep = sub.add_parser("reproduce", help="write every figure and its data under figures/", formatter_class=fmt)
    rep.add_argument("--out", default="figures", help="folder for the figures and their data")
    rep.add_argument("--quick", action="store_true", help="small sizes, for a fast check")
    rep.add_argument("--backend", default="auto", choices=["auto", "cpu", "cuda", "numpy"],
                     help="simulation backend (auto: cuda where a GPU is usable, else cpu)")
    rep.add_argument("--workers", type=int, help="run sweeps on N local processes")
    rep.add_argument("--scheduler", metavar="ADDRESS", help="run sweeps on a Dask cluster")
    for name, (_, help_, default_model) in COMMANDS.items():
        p = sub.add_parser(name, help=help_, description=help_, formatter_class=fmt)
        _add_common(p, default_model, NOT_TAKEN.get(name, ()))
        if name == "weak-error":
            p.add_argument("--levels", type=int, default=9, help="l = 1, 2, ..., 2^(levels-1)")
            p.add_argument("--steps", type=int, default=20, help="SGD steps of the horizon (SDE time steps x lr)")
            p.add_argument("--observable", default="loss", choices=list(BUILTIN_OBSERVABLES),
                           help="test function g; exact on linear models for the quadratic ones, "
                           "Monte Carlo (with the SGD-NGD non-Gaussian gap) otherwise")
        if name in ("equilibrium", "lsr"):
            p.set_defaults(weight_decay=0.5, lr=0.2 if name == "equilibrium" else 0.02,
                           batch_size=16 if name == "equilibrium" else 1)
            p.add_argument("--time", type=float, default=12.0, help="SDE time of each run")
        if name == "equilibrium":
            p.add_argument("--ls", type=float, nargs="+", default=[2, 4, 8], help="SVAG parameters l")
            p.add_argument("--dts", type=float, nargs="+", help="Euler-Maruyama steps (default lr/4, lr/8, lr/16)")
        if name == "lsr":
            p.add_argument("--kappas", type=float, nargs="+", default=[1, 2, 4, 8, 16, 32], help="scalings kappa")
            p.add_argument("--C", type=float, default=2**0.5, help="closeness constant of Definition 5.1")
        if name == "stationary":
            p.add_argument("--lrs", type=float, nargs="+",
                           default=[round(float(v), 4) for v in np.geomspace(0.01, 0.9, 12)],
                           help="learning rates")
            p.add_argument("--ls", type=float, nargs="+", default=[2, 4, 8, 16], help="SVAG parameters l")
        if name == "momentum":
            p.set_defaults(batch_size=1, paths=20_000)
            p.add_argument("--momenta", type=float, nargs="+", default=[0.0, 0.5, 0.9], help="momentum values mu")
        if name == "noise":
            p.set_defaults(paths=20_000)
            p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64],
                           help="batch sizes of the critical learning rates")
            p.add_argument("--curve-batch-sizes", type=int, nargs="+", default=[1, 4, 16],
                           help="batch sizes of the stationary-loss curves")
        if name in ("momentum", "noise"):
            p.add_argument("--n-lrs", type=int, default=24, help="learning rates per curve")
        if name == "escape":
            p.set_defaults(paths=4096)
            p.add_argument("--lrs", type=_positive(float), nargs="+", default=[0.25, 0.5, 0.5],
                           help="learning rates, one per batch size")
            p.add_argument("--batch-sizes", type=_positive(int), nargs="+", default=[2, 4, 2],
                           help="batch sizes, one per learning rate")
            p.add_argument("--ls", type=float, nargs="+", default=[2, 4, 8], help="SVAG parameters l (> 1)")
            p.add_argument("--em-fractions", type=float, nargs="+", default=[0.5, 0.25, 0.125],
                           help="Euler-Maruyama steps dt / lr (1/2^k, at least two)")
            p.add_argument("--barriers", type=_barrier, nargs="+", metavar="RHO:V",
                           help="CircleBarrier(rho, label noise v) models (default: rho 0.3 with v 1, 1.5, 2.5, "
                           "and rho 0.15, 0.45, 0.6 at the log barrier of 0.3:1.5)")
            p.add_argument("--horizon", type=_positive(float), default=6.0,
                           help="run length in units of the SDE's exact mean escape time")
        if name == "regimes":
            p.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 2, 4, 8, 16, 32, 64])
            budget = p.add_mutually_exclusive_group()
            budget.add_argument("--epochs", type=float, default=2.0, help="budget in epochs")
            budget.add_argument("--budget-steps", type=int, help="budget in SGD steps (instead of epochs)")
            budget.add_argument("--budget-time", type=float, help="budget in SDE time (instead of epochs)")
        if name == "simulate":
            p.add_argument("--algorithm", choices=["sgd", "svag", "ngd", "em", "gd"], default="sgd")
            p.add_argument("--l", type=_positive(float), default=4.0, help="SVAG parameter")
            p.add_argument("--dt", type=_positive(float), help="Euler-Maruyama step (default lr/10)")
            p.add_argument("--sampler", default="with_replacement",
                           choices=["with_replacement", "without_replacement", "reshuffle"])
            p.add_argument("--time", type=_positive(float), default=2.0, help="SDE time horizon")
            p.add_argument("--records", type=_positive(int), default=10,
                           help="record times after 0 (each a whole number of steps)")
    return parser


def main(argv=None):
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    # the options given on the command line (no prefixes are allowed, so the tokens are exact)
    args.given = {tok.split("=", 1)[0] for tok in argv if tok.startswith("--")}
    try:
        if args.command == "simulate":
            unused = [opt for opt in UNUSED_BY_ALGORITHM[args.algorithm] if opt in args.given]
            if unused:
                raise UsageError(f"{unused[0]} is not used by --algorithm {args.algorithm}")
        if getattr(args, "out", None) and args.command != "reproduce":
            from ._io import check_writable

            try:
                check_writable(args.out)
            except ValueError as err:
                raise UsageError(f"--out {err}") from None
        if args.command == "reproduce":
            from .reproduce import reproduce

            executor = _executor(args)
            for path in reproduce(args.out, quick=args.quick, backend=args.backend, executor=executor):
                print(f"wrote {path}")
            return 0
        fn = COMMANDS[args.command][0]
        model = load_model(args.model, getattr(args, "data", None)) if hasattr(args, "model") else None
        result = fn(args, model)
    except UsageError as err:
        parser.exit(2, f"toylab {args.command}: error: {err}\n")
    except (ValueError, TypeError) as err:
        # validation errors of the library name the argument: report them as usage errors
        parser.exit(2, f"toylab {args.command}: error: {err}\n")
    except RuntimeError as err:  # e.g. no usable GPU for --backend cuda
        parser.exit(2, f"toylab {args.command}: error: {err}\n")
    except KeyboardInterrupt:
        # one line (over any progress bar), the shell's code for SIGINT
        print(f"\rtoylab {args.command}: interrupted", file=sys.stderr)
        return 130
    print(_as_json(result) if args.json else _summary(result))
    if args.out:
        result.save(args.out)
        print(f"wrote {args.out}", file=sys.stderr if args.json else sys.stdout)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
