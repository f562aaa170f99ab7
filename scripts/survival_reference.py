#!/usr/bin/env python3
"""Reference survival numbers from scipy for emreg's statistics tests.

Usage: survival_reference.py COHORTS.json  (prints results as JSON on stdout)

Input:  {"landmarks": [12, 36, 60],
         "cases": [{"a": {"times": [...], "events": [true, ...]}, "b": {...}}, ...]}
Output: {"results": [{"a": GROUP, "b": GROUP, "logrank": {"statistic": z, "pvalue": p}}]}
        GROUP = {"survival": [...], "lower": [...], "upper": [...],
                 "median": t, "median_lower": t, "median_upper": t}
Undefined values (scipy's NaN, or no crossing of 0.5) are null.
"""
import json
import math
import sys
import warnings

import numpy as np
from scipy import stats

# scipy warns wherever the log-log band is undefined (S = 1 or S = 0) and when the
# log-rank variance is zero; both are expected here and reported as null.
warnings.simplefilter("ignore", RuntimeWarning)


def number(x):
    x = float(x)
    return x if math.isfinite(x) else None


# scipy's Kaplan-Meier product can land a few ulps above an exact 1/2 (its uncensored
# branch, 1 - k/n, does not); like R's quantile.survfit, treat within sqrt(eps) as reached.
HALF = 0.5 + math.sqrt(sys.float_info.epsilon)


def first_time_at_or_below_half(times, values):
    # NaN <= HALF is False, so an undefined band never counts as crossing.
    hits = np.flatnonzero(values <= HALF)
    return number(times[hits[0]]) if hits.size else None


def censored(group):
    times = np.asarray(group["times"], dtype=float)
    events = np.asarray(group["events"], dtype=bool)
    return stats.CensoredData(uncensored=times[events], right=times[~events])


def describe(data, landmarks):
    sf = stats.ecdf(data).sf
    band = sf.confidence_interval(confidence_level=0.95, method="log-log")
    return {
        "survival": [number(v) for v in sf.evaluate(landmarks)],
        "lower": [number(v) for v in band.low.evaluate(landmarks)],
        "upper": [number(v) for v in band.high.evaluate(landmarks)],
        "median": first_time_at_or_below_half(sf.quantiles, sf.probabilities),
        # The lower band falls to 0.5 first, so it gives the lower limit of the median.
        "median_lower": first_time_at_or_below_half(band.low.quantiles, band.low.probabilities),
        "median_upper": first_time_at_or_below_half(band.high.quantiles, band.high.probabilities),
    }


def main(path):
    with open(path) as f:
        spec = json.load(f)
    landmarks = np.asarray(spec["landmarks"], dtype=float)
    results = []
    for case in spec["cases"]:
        a, b = censored(case["a"]), censored(case["b"])
        test = stats.logrank(x=a, y=b)
        results.append({
            "a": describe(a, landmarks),
            "b": describe(b, landmarks),
            "logrank": {"statistic": number(test.statistic), "pvalue": number(test.pvalue)},
        })
    json.dump({"results": results}, sys.stdout)


if __name__ == "__main__":
    main(sys.argv[1])
