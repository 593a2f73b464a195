"""Reference figures for the Mann-Whitney U test (tests/mannwhitney_reference.rs).

Run with scipy installed:  python3 mannwhitney_reference.py > mannwhitney_reference.json

Each case is scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='auto',
use_continuity=True); "method" records which of exact / asymptotic 'auto' chose (scipy
picks exact when one sample has at most 8 values and no value is tied).
"""

import json
import sys

import numpy as np
import scipy
from scipy import stats


def method(x, y):
    tied = len(np.unique(np.concatenate([x, y]))) < len(x) + len(y)
    return "exact" if (len(x) <= 8 or len(y) <= 8) and not tied else "asymptotic"


def rounded(values, digits):
    return [round(float(v), digits) for v in values]


rng = np.random.default_rng(20240613)
cases = [
    # scipy's documentation example (Mann & Whitney's male / female ages).
    ("scipy docs: males vs females", [19, 22, 16, 29, 24], [20, 11, 17, 12]),
    ("fully separated, 3 vs 3", [1, 2, 3], [4, 5, 6]),
    ("one value each", [1], [2]),
    ("interleaved, 4 vs 4", [1, 3, 5, 7], [2, 4, 6, 8]),
    ("8 vs 8 without ties", rounded(rng.normal(10, 2, 8), 6), rounded(rng.normal(12, 2, 8), 6)),
    ("3 vs 40 without ties (exact: one side small)", rounded(rng.normal(0, 1, 3), 6), rounded(rng.normal(0.5, 1, 40), 6)),
    ("7 vs 12 without ties", rounded(rng.exponential(1.0, 7), 6), rounded(rng.exponential(2.0, 12), 6)),
    ("9 vs 9 without ties (asymptotic)", rounded(rng.normal(0, 1, 9), 6), rounded(rng.normal(1, 1, 9), 6)),
    ("small with ties", [1, 2, 2, 3], [2, 3, 4, 4, 5]),
    ("identical samples", [1.0, 1.0, 1.0], [1.0, 1.0, 1.0]),
    ("identical two-valued samples", [0, 1, 0, 1], [0, 1, 0, 1]),
    ("error counts with many zeros", [0, 0, 0, 1, 0, 2, 0, 0, 3, 1], [0, 0, 0, 0, 0, 0, 1, 0, 0, 0]),
    ("latency in ms, rounded (ties)", rounded(rng.normal(120, 15, 30), 0), rounded(rng.normal(150, 15, 30), 0)),
    ("50 vs 60 continuous", rounded(rng.normal(0, 1, 50), 9), rounded(rng.normal(0.3, 1, 60), 9)),
    ("200 vs 150 continuous, same distribution", rounded(rng.normal(5, 1, 200), 9), rounded(rng.normal(5, 1, 150), 9)),
    ("40 vs 40 fully separated (tiny p)", list(range(1, 41)), list(range(41, 81))),
    ("negative values, 12 vs 5", rounded(rng.normal(-3, 1, 12), 6), rounded(rng.normal(-2, 1, 5), 6)),
    ("x higher, 20 vs 25 error rates", rounded(rng.uniform(0.01, 0.05, 20), 8), rounded(rng.uniform(0.0, 0.02, 25), 8)),
    ("the same ten values on both sides", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
]

out = {
    "scipy": scipy.__version__,
    "call": "scipy.stats.mannwhitneyu(x, y, alternative='two-sided', method='auto', use_continuity=True)",
    "cases": [],
}
for name, x, y in cases:
    x = [float(v) for v in x]
    y = [float(v) for v in y]
    result = stats.mannwhitneyu(x, y, alternative="two-sided", method="auto", use_continuity=True)
    out["cases"].append(
        {
            "name": name,
            "x": x,
            "y": y,
            "method": method(np.array(x), np.array(y)),
            "u": float(result.statistic),
            "p": float(result.pvalue),
        }
    )
json.dump(out, sys.stdout, indent=1)
sys.stdout.write("\n")
