//! Reading metric analysis series: one `GetMetricData` read per request, shared by the bake's
//! analysis, the post-promotion watch and the ECS lifecycle-hook mode.

use ops_adapters::cloudwatch;
use ops_domain::deploy::analysis::measure::{MetricRequest, Series};
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
