//! The Mann-Whitney U test (two-sided), as `scipy.stats.mannwhitneyu(x, y,
//! alternative='two-sided', method='auto', use_continuity=True)` computes it: the baseline
//! judge's test of whether the candidate's samples come from the same distribution as the
//! baseline's.
//!
//! - U is `x`'s statistic (U1 = R1 − n1(n1+1)/2, ranks averaged over ties).
//! - `auto`: the exact null distribution when one sample has at most 8 values and there are no
//!   ties (scipy's `_mwu_choose_method`), otherwise the normal approximation with the tie
//!   correction and the continuity correction.
//! - p = 2 × P(U ≥ max(U1, U2)), clipped to 1.
//!
//! Checked against scipy's own figures in `tests/data/mannwhitney_reference.json`, made by
//! `tests/data/mannwhitney_reference.py`.

/// The test's result.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// `x`'s U statistic.
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
}

/// Samples at or below which (on one side, without ties) the exact distribution is used.
const EXACT_MAX: usize = 8;

/// The two-sided Mann-Whitney U test of `x` against `y`; `None` when a sample is empty or holds
/// a NaN (scipy raises for both).
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    if x.is_empty() || y.is_empty() || x.iter().chain(y).any(|v| v.is_nan()) {
        return None;
    }
    let (n1, n2) = (x.len(), y.len());
    let (ranks, ties) = rank_average(x.iter().chain(y).copied().collect());
    let r1: f64 = ranks[..n1].iter().sum();
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let u = u1.max(u2);
    let tied = ties.iter().any(|t| *t > 1);
    let p = if (n1 <= EXACT_MAX || n2 <= EXACT_MAX) && !tied {
        // Without ties U is a whole number.
        exact_sf(u as u64, n1.min(n2), n1.max(n2))
    } else {
        let z = normal_z(u, n1f, n2f, &ties);
        ndtr(-z)
    };
    Some(MannWhitney {
        u: u1,
        p_value: (2.0 * p).clamp(0.0, 1.0),
    })
}

/// Ranks from 1, ties given their average rank, and the size of every group of equal values.
fn rank_average(values: Vec<f64>) -> (Vec<f64>, Vec<usize>) {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|a, b| values[*a].total_cmp(&values[*b]));
    let mut ranks = vec![0.0; values.len()];
    let mut ties = Vec::new();
    let mut i = 0;
    while i < order.len() {
        let mut j = i + 1;
        while j < order.len() && values[order[j]] == values[order[i]] {
            j += 1;
        }
        // Positions i..j (0-based) share ranks i+1..=j; their mean is (i + 1 + j) / 2.
        let rank = (i + 1 + j) as f64 / 2.0;
        for k in &order[i..j] {
            ranks[*k] = rank;
        }
        ties.push(j - i);
        i = j;
    }
    (ranks, ties)
}

/// The standardized statistic with tie and continuity corrections, in scipy's order of
/// operations (`_get_mwu_z`).
fn normal_z(u: f64, n1: f64, n2: f64, ties: &[usize]) -> f64 {
    let mu = n1 * n2 / 2.0;
    let n = n1 + n2;
    let tie_term: f64 = ties
        .iter()
        .map(|t| {
            let t = *t as f64;
            t * t * t - t
        })
        .sum();
    let s = (n1 * n2 / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)))).sqrt();
    (u - mu - 0.5) / s
}

/// The standard normal CDF, as cephes' `ndtr` computes it (scipy's `special.ndtr`).
fn ndtr(a: f64) -> f64 {
    let x = a * std::f64::consts::FRAC_1_SQRT_2;
    let z = x.abs();
    if z < std::f64::consts::FRAC_1_SQRT_2 {
        0.5 + 0.5 * libm::erf(x)
    } else {
        let y = 0.5 * libm::erfc(z);
        if x > 0.0 {
            1.0 - y
        } else {
            y
        }
    }
}

/// P(U ≥ u) under the null hypothesis for samples of `m ≤ n` values without ties: by the
/// symmetry of U about mn/2 it is P(U ≤ mn − u), summed from the frequencies of U (the
/// coefficients of the Gaussian binomial [m+n choose m]_q). Called with u ≥ mn/2, so only the
/// smaller tail is counted.
fn exact_sf(u: u64, m: usize, n: usize) -> f64 {
    let k = ((m * n) as u64).saturating_sub(u) as usize;
    let count: f64 = frequencies(m, n, k).iter().sum();
    count / binomial(m + n, m)
}

/// Frequencies of U = 0..=k for samples of m and n values: ∏_{i=1..m} (1 − q^{n+i}) / (1 − q^i),
/// truncated after q^k. Exact in integers while they fit, then in floating point.
fn frequencies(m: usize, n: usize, k: usize) -> Vec<f64> {
    let mut exact: Vec<i128> = vec![0; k + 1];
    exact[0] = 1;
    let mut overflowed = false;
    'product: for i in 1..=m {
        // × (1 − q^(n+i)): descending, so each term reads the previous polynomial.
        let a = n + i;
        for j in (a..=k).rev() {
            match exact[j].checked_sub(exact[j - a]) {
                Some(v) => exact[j] = v,
                None => {
                    overflowed = true;
                    break 'product;
                }
            }
        }
        // ÷ (1 − q^i): ascending, c'[j] = c[j] + c'[j − i].
        for j in i..=k {
            match exact[j].checked_add(exact[j - i]) {
                Some(v) => exact[j] = v,
                None => {
                    overflowed = true;
                    break 'product;
                }
            }
        }
    }
    if !overflowed {
        return exact.iter().map(|c| *c as f64).collect();
    }
    let mut float = vec![0.0; k + 1];
    float[0] = 1.0;
    for i in 1..=m {
        let a = n + i;
        for j in (a..=k).rev() {
            float[j] -= float[j - a];
        }
        for j in i..=k {
            float[j] += float[j - i];
        }
    }
    float
}

/// C(n, k) in floating point (as scipy's `special.binom` for the total count).
fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (1..=k).fold(1.0, |acc, i| acc * (n - k + i) as f64 / i as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Reference {
        cases: Vec<Case>,
    }

    #[derive(serde::Deserialize)]
    struct Case {
        name: String,
        x: Vec<f64>,
        y: Vec<f64>,
        method: String,
        u: f64,
        p: f64,
    }

    /// scipy's own figures (`tests/data/mannwhitney_reference.py`). Tolerances: U exactly;
    /// exact p-values within 1e-12 absolute (both sides divide whole counts by C(m+n, m));
    /// asymptotic p-values within 1e-12 relative (the same formula, erfc from two libraries
    /// that agree to a few ulps; the smallest reference p is 1.4e-14).
    #[test]
    fn matches_scipy_reference_figures() {
        let reference: Reference = serde_json::from_str(include_str!(
            "../../../tests/data/mannwhitney_reference.json"
        ))
        .expect("reference data parses");
        assert!(reference.cases.len() >= 15);
        let mut methods = std::collections::BTreeSet::new();
        for case in &reference.cases {
            let got = mann_whitney_u(&case.x, &case.y).expect("non-empty samples");
            assert_eq!(got.u, case.u, "{}: U", case.name);
            let error = (got.p_value - case.p).abs();
            match case.method.as_str() {
                "exact" => assert!(
                    error < 1e-12,
                    "{}: p {} vs scipy {} (exact)",
                    case.name,
                    got.p_value,
                    case.p
                ),
                _ => assert!(
                    error <= 1e-12 * case.p,
                    "{}: p {} vs scipy {} (asymptotic, relative error {})",
                    case.name,
                    got.p_value,
                    case.p,
                    error / case.p
                ),
            }
            methods.insert(case.method.clone());
        }
        assert_eq!(methods.len(), 2, "both methods are covered");
    }

    #[test]
    fn empty_or_nan_samples_have_no_test() {
        assert_eq!(mann_whitney_u(&[], &[1.0]), None);
        assert_eq!(mann_whitney_u(&[1.0], &[]), None);
        assert_eq!(mann_whitney_u(&[1.0, f64::NAN], &[2.0]), None);
    }

    #[test]
    fn exact_frequencies_are_the_gaussian_binomial() {
        // [4 choose 2]_q = 1 + q + 2q² + q³ + q⁴.
        assert_eq!(frequencies(2, 2, 4), vec![1.0, 1.0, 2.0, 1.0, 1.0]);
        // They sum to C(m + n, m).
        let all = frequencies(5, 7, 35);
        assert_eq!(all.iter().sum::<f64>(), binomial(12, 5));
        assert_eq!(binomial(12, 5), 792.0);
    }

    #[test]
    fn ranks_average_ties() {
        let (ranks, ties) = rank_average(vec![3.0, 1.0, 3.0, 2.0]);
        assert_eq!(ranks, vec![3.5, 1.0, 3.5, 2.0]);
        assert_eq!(ties, vec![1, 1, 2]);
    }

    proptest::proptest! {
        /// U1 + U2 = n1·n2, p is a probability, and swapping the samples keeps p.
        #[test]
        fn statistic_and_p_value_are_consistent(
            x in proptest::collection::vec(0u8..20, 1..15),
            y in proptest::collection::vec(0u8..20, 1..15),
        ) {
            let x: Vec<f64> = x.into_iter().map(f64::from).collect();
            let y: Vec<f64> = y.into_iter().map(f64::from).collect();
            let xy = mann_whitney_u(&x, &y).expect("non-empty");
            let yx = mann_whitney_u(&y, &x).expect("non-empty");
            proptest::prop_assert_eq!(xy.u + yx.u, (x.len() * y.len()) as f64);
            proptest::prop_assert!((0.0..=1.0).contains(&xy.p_value));
            proptest::prop_assert!((xy.p_value - yx.p_value).abs() < 1e-12);
        }
    }
}
