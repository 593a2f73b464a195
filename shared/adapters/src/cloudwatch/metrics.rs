//! CloudWatch metric data: one `GetMetricData` call that reads a deployment analysis's queries
//! (metrics and metric math, [`ops_domain::deploy::analysis::MetricQuery`]) over a window and
//! returns the values of the query that is the result, in time order.
//!
//! The queries go to CloudWatch in the API's own shape; placeholders (`{color}`, …) are the
//! domain's business and are already replaced. A result CloudWatch marks `InternalError` (retry
//! helps) or `Forbidden`, or that carries an error message (`ArithmeticError`, `Forbidden`,
//! `InternalError`, …), is an error rather than a short series, so a measurement never judges
//! half an answer. A math expression that may divide by zero (no requests in a period) should
//! say what it means there, e.g. `IF(m2 > 0, m1 / m2, 0)`.

use aws_sdk_cloudwatch::primitives::DateTime as SmithyDateTime;
use aws_sdk_cloudwatch::types::{
    Dimension, Metric, MetricDataQuery, MetricDataResult, MetricStat, ScanBy, StandardUnit,
    StatusCode,
};
use chrono::{DateTime, Utc};
use ops_domain::deploy::analysis::MetricQuery;

use crate::error::{bounded, AwsCallError, FailureKind, MAX_MESSAGE};

const OPERATION: &str = "GetMetricData";

/// The values of the returned query of `queries` in `[start, end)`, oldest first, one per
/// period that has data (CloudWatch leaves out periods without data, so a window without data
/// is an empty series).
///
/// The returned query is the one with `return_data: Some(true)`, or the last one when none says
/// so; every other query is sent with `ReturnData: false` (it feeds an expression). An empty or
/// reversed window asks nothing and returns an empty series. Queries without a metric or an
/// expression, or with more than one query marked as the result, are refused before any call
/// (a permanent [`FailureKind::Construction`] error). Pages (`NextToken`) are followed.
pub async fn series(
    client: &aws_sdk_cloudwatch::Client,
    queries: &[MetricQuery],
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<f64>, AwsCallError> {
    let (returned, request) = request_queries(queries)?;
    if end <= start {
        return Ok(Vec::new());
    }
    let mut points: Vec<(SmithyDateTime, f64)> = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let output = client
            .get_metric_data()
            .set_metric_data_queries(Some(request.clone()))
            .start_time(smithy_time(start))
            .end_time(smithy_time(end))
            .scan_by(ScanBy::TimestampAscending)
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|error| AwsCallError::from_sdk(OPERATION, &error).on(target(&returned)))?;
        for message in output.messages() {
            check_message(&returned, "the call", message.code(), message.value())?;
        }
        for result in output.metric_data_results() {
            check_result(result)?;
            if result.id() != Some(returned.as_str()) {
                continue;
            }
            let timestamps = result.timestamps();
            let values = result.values();
            if timestamps.len() != values.len() {
                return Err(AwsCallError::unexpected(
                    OPERATION,
                    format!(
                        "{} timestamps for {} values in the answer",
                        timestamps.len(),
                        values.len()
                    ),
                )
                .on(target(&returned)));
            }
            points.extend(timestamps.iter().copied().zip(values.iter().copied()));
        }
        match output.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => break,
        }
    }
    // Pages each hold part of the window; a stable sort keeps CloudWatch's order within a time.
    points.sort_by_key(|(at, _)| (at.secs(), at.subsec_nanos()));
    Ok(points.into_iter().map(|(_, value)| value).collect())
}

/// The id of the returned query and the queries in the API's shape.
fn request_queries(
    queries: &[MetricQuery],
) -> Result<(String, Vec<MetricDataQuery>), AwsCallError> {
    let refuse = |message: String| {
        AwsCallError::other(OPERATION, FailureKind::Construction, message).with_transient(false)
    };
    let Some(last) = queries.last() else {
        return Err(refuse("no metric query to read".to_owned()));
    };
    let marked: Vec<&MetricQuery> = queries
        .iter()
        .filter(|q| q.return_data == Some(true))
        .collect();
    let returned = match marked.as_slice() {
        [] => last.id.clone(),
        [one] => one.id.clone(),
        _ => {
            return Err(refuse(format!(
                "{} queries say return_data: true; exactly one query is the result",
                marked.len()
            )))
        }
    };
    let mut request = Vec::with_capacity(queries.len());
    for query in queries {
        let mut built = MetricDataQuery::builder()
            .id(&query.id)
            .return_data(query.id == returned)
            .set_label(query.label.clone());
        match (&query.metric, &query.expression) {
            (Some(metric), None) => {
                let dimensions = metric
                    .dimensions
                    .iter()
                    .map(|(name, value)| Dimension::builder().name(name).value(value).build())
                    .collect();
                let period = i32::try_from(metric.period_seconds).map_err(|_| {
                    refuse(format!(
                        "query {}: period_seconds {} is too large",
                        bounded(&query.id, 64),
                        metric.period_seconds
                    ))
                })?;
                built = built.metric_stat(
                    MetricStat::builder()
                        .metric(
                            Metric::builder()
                                .namespace(&metric.namespace)
                                .metric_name(&metric.name)
                                .set_dimensions(Some(dimensions))
                                .build(),
                        )
                        .period(period)
                        .stat(&metric.stat)
                        .set_unit(metric.unit.as_deref().map(StandardUnit::from))
                        .build(),
                );
            }
            (None, Some(expression)) => built = built.expression(expression),
            _ => {
                return Err(refuse(format!(
                    "query {} needs exactly one of metric and expression",
                    bounded(&query.id, 64)
                )))
            }
        }
        request.push(built.build());
    }
    Ok((returned, request))
}

/// A result CloudWatch could not fully answer is an error.
fn check_result(result: &MetricDataResult) -> Result<(), AwsCallError> {
    let id = result.id().unwrap_or("?");
    for message in result.messages() {
        check_message(id, &format!("query {id}"), message.code(), message.value())?;
    }
    match result.status_code() {
        None | Some(StatusCode::Complete) | Some(StatusCode::PartialData) => Ok(()),
        Some(StatusCode::InternalError) => Err(AwsCallError::other(
            OPERATION,
            FailureKind::Service,
            format!("query {id}: CloudWatch answered InternalError"),
        )
        .with_transient(true)
        .on(target(id))),
        Some(other) => Err(AwsCallError::unexpected(
            OPERATION,
            format!("query {id}: status {}", other.as_str()),
        )
        .on(target(id))),
    }
}

/// Whether a message of CloudWatch's (`Code`, `Value`) is an error: `Forbidden` and any code
/// naming an error (`ArithmeticError`, `InternalError`, `…Exception`).
fn check_message(
    id: &str,
    about: &str,
    code: Option<&str>,
    value: Option<&str>,
) -> Result<(), AwsCallError> {
    let Some(code) = code else { return Ok(()) };
    let is_error = code == "Forbidden" || code.ends_with("Error") || code.ends_with("Exception");
    if !is_error {
        return Ok(());
    }
    let text = format!(
        "{about}: {code}: {}",
        bounded(value.unwrap_or_default(), MAX_MESSAGE)
    );
    let error = if code == "InternalError" {
        AwsCallError::other(OPERATION, FailureKind::Service, text).with_transient(true)
    } else {
        AwsCallError::unexpected(OPERATION, text)
    };
    Err(error.on(target(id)))
}

/// How an error names the call: the returned query's id.
fn target(id: &str) -> String {
    format!("metric query {}", bounded(id, 64))
}

fn smithy_time(time: DateTime<Utc>) -> SmithyDateTime {
    SmithyDateTime::from_secs_and_nanos(time.timestamp(), time.timestamp_subsec_nanos())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ops_domain::deploy::analysis::MetricStat as DomainStat;

    use super::*;

    fn metric(id: &str, color: &str) -> MetricQuery {
        MetricQuery {
            id: id.to_owned(),
            expression: None,
            metric: Some(DomainStat {
                namespace: "Ops/Test".to_owned(),
                name: "Errors".to_owned(),
                dimensions: BTreeMap::from([("Color".to_owned(), color.to_owned())]),
                stat: "Sum".to_owned(),
                period_seconds: 60,
                unit: Some("Count".to_owned()),
            }),
            return_data: None,
            label: None,
        }
    }

    fn expression(id: &str, text: &str) -> MetricQuery {
        MetricQuery {
            id: id.to_owned(),
            expression: Some(text.to_owned()),
            metric: None,
            return_data: None,
            label: Some("rate".to_owned()),
        }
    }

    fn returned_flags(queries: &[MetricQuery]) -> Vec<(String, bool)> {
        let (_, request) = request_queries(queries).expect("valid queries");
        request
            .iter()
            .map(|q| {
                (
                    q.id().unwrap_or_default().to_owned(),
                    q.return_data() == Some(true),
                )
            })
            .collect()
    }

    #[test]
    fn the_last_query_is_the_result_unless_one_says_so() {
        let queries = [
            metric("m1", "green"),
            metric("m2", "green"),
            expression("e", "m1 / m2"),
        ];
        assert_eq!(
            returned_flags(&queries),
            [
                ("m1".into(), false),
                ("m2".into(), false),
                ("e".into(), true)
            ]
        );
        let mut marked = queries.clone();
        marked[0].return_data = Some(true);
        marked[2].return_data = Some(false);
        assert_eq!(
            returned_flags(&marked),
            [
                ("m1".into(), true),
                ("m2".into(), false),
                ("e".into(), false)
            ]
        );
    }

    #[test]
    fn queries_go_out_in_the_api_shape() {
        let (returned, request) = request_queries(&[metric("m1", "blue")]).expect("valid");
        assert_eq!(returned, "m1");
        let stat = request[0].metric_stat().expect("a metric stat");
        assert_eq!(stat.period(), Some(60));
        assert_eq!(stat.stat(), Some("Sum"));
        assert_eq!(stat.unit(), Some(&StandardUnit::Count));
        let metric = stat.metric().expect("a metric");
        assert_eq!(metric.namespace(), Some("Ops/Test"));
        assert_eq!(metric.metric_name(), Some("Errors"));
        assert_eq!(metric.dimensions()[0].name(), Some("Color"));
        assert_eq!(metric.dimensions()[0].value(), Some("blue"));
    }

    #[test]
    fn malformed_queries_are_refused_before_any_call() {
        let mut both = metric("m1", "green");
        both.expression = Some("m1".to_owned());
        let mut two = [metric("m1", "green"), metric("m2", "blue")];
        two[0].return_data = Some(true);
        two[1].return_data = Some(true);
        for (queries, expected) in [
            (vec![], "no metric query"),
            (vec![both], "exactly one of metric and expression"),
            (two.to_vec(), "exactly one query is the result"),
        ] {
            let error = request_queries(&queries).expect_err("refused");
            assert_eq!(error.kind, FailureKind::Construction);
            assert!(!error.is_transient());
            assert!(error.to_string().contains(expected), "{error}");
        }
    }

    #[test]
    fn error_statuses_and_messages_fail_the_read() {
        let result = |status: StatusCode, code: Option<&str>| {
            let mut builder = MetricDataResult::builder().id("e").status_code(status);
            if let Some(code) = code {
                builder = builder.messages(
                    aws_sdk_cloudwatch::types::MessageData::builder()
                        .code(code)
                        .value("Division by zero")
                        .build(),
                );
            }
            builder.build()
        };
        assert!(check_result(&result(StatusCode::Complete, None)).is_ok());
        assert!(check_result(&result(StatusCode::PartialData, None)).is_ok());
        let internal = check_result(&result(StatusCode::InternalError, None)).expect_err("error");
        assert!(internal.is_transient());
        let forbidden = check_result(&result(StatusCode::Forbidden, None)).expect_err("error");
        assert!(!forbidden.is_transient());
        let arithmetic = check_result(&result(StatusCode::Complete, Some("ArithmeticError")))
            .expect_err("error");
        assert_eq!(
            arithmetic.to_string(),
            "GetMetricData on metric query e failed: query e: ArithmeticError: Division by zero"
        );
        assert!(check_result(&result(StatusCode::Complete, Some("Info"))).is_ok());
    }
}
