"""The hypothesis profiles the property tests run under (tests/conftest.py).

``ci`` (the default, used by the README's test command): a bounded number of
examples, derandomised so that CI is reproducible, no deadline (numba compiles
on first call).  ``thorough``: many random examples, chosen with
``TOYLAB_HYPOTHESIS_PROFILE=thorough``.  Both print the ``@reproduce_failure``
blob of a shrunk counterexample.
"""

import os
import subprocess
import sys

from hypothesis import settings


def test_profiles_registered():
    ci, thorough = settings.get_profile("ci"), settings.get_profile("thorough")
    assert ci.deadline is None and thorough.deadline is None
    assert ci.print_blob and thorough.print_blob
    assert ci.derandomize and not thorough.derandomize
    assert ci.max_examples <= 50 < thorough.max_examples


def test_profile_chosen_by_environment():
    code = (
        "import sys; sys.path.insert(0, 'tests'); import conftest; "
        "from hypothesis import settings; print(settings.default.max_examples)"
    )
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, TOYLAB_HYPOTHESIS_PROFILE="thorough")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True, check=True)
    assert int(out.stdout.strip()) == settings.get_profile("thorough").max_examples
