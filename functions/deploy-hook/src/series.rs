//! Reading metric analysis series: one `GetMetricData` read per request, shared by the bake's
//! analysis, the post-promotion watch and the ECS lifecycle-hook mode.

use ops_adapters::cloudwatch;
use std::collections::BTreeMap;

use ops_domain::deploy::analysis::measure::{MetricRequest, Series, Side};
use tracing::warn;

use crate::deps::Deps;

/// Reads every request's series, in the requests' order. A failed read is that series' error (an
/// analysis measurement error, counted against `consecutive_errors`), never the invocation's:
/// the SDK has retried it already, and the domain decides what repeated errors mean.
pub(crate) async fn read_series(
    deps: &Deps,
    service: &str,
    requests: &[MetricRequest],
) -> Vec<Series> {
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let series = cloudwatch::metrics::series(
            &deps.cloudwatch,
            &request.queries,
            request.start,
            request.end,
        )
        .await
        .map_err(|error| {
            warn!(message = "A metric query failed.", %service, check = %request.check, %error);
            error.to_string()
        });
        out.push(series);
    }
    out
}

/// The series of analysis checks as the domain takes them: (check, side, series).
pub(crate) async fn read_measured(
    deps: &Deps,
    service: &str,
    requests: &[MetricRequest],
) -> Vec<(String, Side, Series)> {
    let read = read_series(deps, service, requests).await;
    requests
        .iter()
        .zip(read)
        .map(|(request, series)| (request.check.clone(), request.side, series))
        .collect()
}

/// The judge's samples as it takes them: per metric, (candidate, baseline).
pub(crate) async fn read_samples(
    deps: &Deps,
    service: &str,
    requests: &[MetricRequest],
) -> BTreeMap<String, (Series, Series)> {
    let read = read_series(deps, service, requests).await;
    let mut samples: BTreeMap<String, (Series, Series)> = BTreeMap::new();
    for (request, series) in requests.iter().zip(read) {
        let entry = samples
            .entry(request.check.clone())
            .or_insert_with(|| (Ok(Vec::new()), Ok(Vec::new())));
        match request.side {
            Side::Candidate => entry.0 = series,
            Side::Baseline => entry.1 = series,
        }
    }
    samples
}
