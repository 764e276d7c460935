"""The unbiased pass@k estimator of Chen et al. (2021).

With ``n`` samples of which ``c`` pass, the probability that at least one of ``k`` samples drawn without
replacement passes is

.. math::

    \\text{pass@}k = 1 - \\binom{n-c}{k} \\Big/ \\binom{n}{k}
                 = 1 - \\prod_{i=n-c+1}^{n} \\left(1 - \\frac{k}{i}\\right) \\quad (n - c \\ge k),

and 1 when ``n - c < k``. The product form avoids the huge binomials.

References:
    Chen et al. 2021, "Evaluating Large Language Models Trained on Code", https://arxiv.org/abs/2107.03374
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _check(n: int, c: int, k: int) -> None:
    for name, value in (("n", n), ("c", c), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got c={c}, n={n}")
    if not 1 <= k <= n:
        raise ValueError(f"need 1 <= k <= n, got k={k}, n={n}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The unbiased estimate of pass@k from ``c`` passing samples out of ``n``.

    Args:
        n: samples drawn per problem (``n >= 1``).
        c: samples that passed (``0 <= c <= n``).
        k: the budget (``1 <= k <= n``).

    Returns:
        ``1 - prod_{i=n-c+1}^{n} (1 - k / i)``, or 1.0 when ``n - c < k``.

    Raises:
        ValueError: non-integers or arguments out of range.

    Examples:
        >>> round(pass_at_k(10, 3, 1), 12)
        0.3
        >>> pass_at_k(5, 4, 2)
        1.0
    """
    _check(n, c, k)
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(num_samples: Sequence[int], num_correct: Sequence[int], k: int) -> float:
    """The benchmark pass@k: :func:`pass_at_k` averaged over problems.

    Raises:
        ValueError: sequences of different or zero length, or any bad ``(n, c, k)``.
    """
    if len(num_samples) != len(num_correct) or not num_samples:
        raise ValueError(f"need equal, non-zero lengths, got {len(num_samples)} and {len(num_correct)}")
    return float(np.mean([pass_at_k(int(n), int(c), k) for n, c in zip(num_samples, num_correct)]))
