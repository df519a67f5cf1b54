"""Weight decay and the norm equilibrium of a scale-invariant loss (eqs. 9-11).

SGD on SphereRegression (the loss depends on x/|x| only) with weight decay:
|x|^2 first shrinks, then settles where the decay balances the gradient
noise, (2 - eta wd) wd R = eta (G + N), with R = E|x|^2, G = E|grad L|^2 and
N = E tr Sigma_B.  The script simulates it and checks that balance.

    python examples/weight_decay_equilibrium.py
"""

import numpy as np

from toylab import SGD, SphereRegression, simulate, theory

LR, BATCH, WD = 0.1, 4, 0.5
rng = np.random.default_rng(1)
model = SphereRegression(rng.normal(size=(8, 3)), 0.5 * rng.normal(size=8))
times = LR * np.arange(0, 121)
ens = simulate(model, SGD(LR, BATCH, weight_decay=WD), [1.0, 0.5, -0.5], times, paths=2000, seed=0, progress=False)

print("  SDE time    E|x|^2")
for i in range(0, len(times), 20):
    print(f"  {times[i]:8.1f}    {ens.mean('sq_norm')[i]:.4f}")
late = times >= times[-1] / 2
R, G, N = (ens.mean(k)[late].mean() for k in ("sq_norm", "grad_sq_norm", "noise_trace"))
sR, sG, sN = (ens.stderr(k)[late].mean() for k in ("sq_norm", "grad_sq_norm", "noise_trace"))
se = (2 - LR * WD) * WD * sR + LR * (sG + sN)  # conservative: time averages of correlated records
residual = theory.sgd_equilibrium_residual(R, G, N, LR, WD)
print(f"equilibrium: R = {R:.4f}, G = {G:.4f}, N = {N:.4f}")
print(f"eq. (11): (2 - eta wd) wd R = {(2 - LR * WD) * WD * R:.5f}, eta (G + N) = {LR * (G + N):.5f}, "
      f"residual {residual:+.2e} (conservative standard error {se:.1e})")
