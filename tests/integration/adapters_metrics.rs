//! `ops_adapters::cloudwatch::metrics::series` against the emulator: data points seeded per
//! color with `PutMetricData` and read back as one color's series, through metric math, and
//! from a window without data. moto returns only points inside `[start, end)`, so points are
//! seeded a few minutes in the past; and moto matches a metric with dimensions by name and
//! dimensions only (not namespace), so each test's colors carry its unique suffix.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as SmithyDateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use chrono::{DateTime, Duration, DurationRound, Utc};
use ops_adapters::cloudwatch::metrics::series;
use ops_domain::deploy::analysis::{MetricQuery, MetricStat};
use ops_tests::emulator::Emulator;

/// A CloudWatch client on the emulator, a unique namespace and color suffix, and the minute the
/// points end in.
struct Metrics {
    client: aws_sdk_cloudwatch::Client,
    namespace: String,
    suffix: String,
    now: DateTime<Utc>,
}

impl Metrics {
    async fn new() -> Metrics {
        let sdk = Emulator::shared().sdk_config().await;
        let now = Utc::now()
            .duration_trunc(Duration::minutes(1))
            .expect("a minute");
        Metrics {
            client: aws_sdk_cloudwatch::Client::new(&sdk),
            namespace: ops_tests::unique("Ops/Analysis"),
            suffix: ops_tests::unique(""),
            now,
        }
    }

    /// One point per minute of `name` for `color`, the last one a minute before `now`.
    async fn seed(&self, name: &str, color: &str, values: &[f64]) {
        let count = values.len() as i64;
        let data = values.iter().enumerate().map(|(i, value)| {
            let at = self.now - Duration::minutes(count - i as i64);
            MetricDatum::builder()
                .metric_name(name)
                .dimensions(
                    Dimension::builder()
                        .name("Color")
                        .value(format!("{color}{}", self.suffix))
                        .build(),
                )
                .timestamp(SmithyDateTime::from_secs(at.timestamp()))
                .value(*value)
                .unit(StandardUnit::Count)
                .build()
        });
        self.client
            .put_metric_data()
            .namespace(&self.namespace)
            .set_metric_data(Some(data.collect()))
            .send()
            .await
            .expect("PutMetricData");
    }

    fn query(&self, id: &str, name: &str, color: &str) -> MetricQuery {
        MetricQuery {
            id: id.to_owned(),
            expression: None,
            metric: Some(MetricStat {
                namespace: self.namespace.clone(),
                name: name.to_owned(),
                dimensions: BTreeMap::from([(
                    "Color".to_owned(),
                    format!("{color}{}", self.suffix),
                )]),
                stat: "Sum".to_owned(),
                period_seconds: 60,
                unit: Some("Count".to_owned()),
            }),
            return_data: None,
            label: None,
        }
    }

    /// The last ten minutes.
    async fn read(&self, queries: &[MetricQuery]) -> Vec<f64> {
        series(
            &self.client,
            queries,
            self.now - Duration::minutes(10),
            self.now,
        )
        .await
        .expect("GetMetricData")
    }
}

fn expression(id: &str, text: &str) -> MetricQuery {
    MetricQuery {
        id: id.to_owned(),
        expression: Some(text.to_owned()),
        metric: None,
        return_data: None,
        label: Some("error rate".to_owned()),
    }
}

#[tokio::test]
async fn one_colors_series_is_read_back_in_time_order() {
    let metrics = Metrics::new().await;
    metrics.seed("Errors", "green", &[1.0, 2.0, 3.0]).await;
    metrics.seed("Errors", "blue", &[7.0, 7.0, 7.0, 7.0]).await;

    let green = metrics
        .read(&[metrics.query("m1", "Errors", "green")])
        .await;
    assert_eq!(green, [1.0, 2.0, 3.0]);
    let blue = metrics.read(&[metrics.query("m1", "Errors", "blue")]).await;
    assert_eq!(blue, [7.0, 7.0, 7.0, 7.0]);

    // The query marked as the result is read, not the last one.
    let mut marked = metrics.query("green", "Errors", "green");
    marked.return_data = Some(true);
    let both = metrics
        .read(&[marked, metrics.query("blue", "Errors", "blue")])
        .await;
    assert_eq!(both, [1.0, 2.0, 3.0]);
}

#[tokio::test]
async fn metric_math_divides_one_series_by_another() {
    let metrics = Metrics::new().await;
    metrics.seed("Errors", "green", &[1.0, 2.0, 5.0]).await;
    metrics.seed("Requests", "green", &[10.0, 10.0, 10.0]).await;
    metrics.seed("Errors", "blue", &[9.0, 9.0, 9.0]).await;

    let rate = metrics
        .read(&[
            metrics.query("m1", "Errors", "green"),
            metrics.query("m2", "Requests", "green"),
            expression("rate", "m1 / m2"),
        ])
        .await;
    assert_eq!(rate, [0.1, 0.2, 0.5]);

    let percent = metrics
        .read(&[
            metrics.query("errors", "Errors", "green"),
            metrics.query("requests", "Requests", "green"),
            expression("percent", "100 * errors / requests"),
        ])
        .await;
    assert_eq!(percent, [10.0, 20.0, 50.0]);
}

#[tokio::test]
async fn a_window_without_data_is_an_empty_series() {
    let metrics = Metrics::new().await;
    metrics.seed("Errors", "green", &[1.0, 2.0]).await;
    let query = [metrics.query("m1", "Errors", "green")];

    let before = series(
        &metrics.client,
        &query,
        metrics.now - Duration::hours(2),
        metrics.now - Duration::hours(1),
    )
    .await
    .expect("GetMetricData");
    assert!(before.is_empty(), "{before:?}");

    let other_color = metrics
        .read(&[metrics.query("m1", "Errors", "purple")])
        .await;
    assert!(other_color.is_empty(), "{other_color:?}");

    let reversed = series(
        &metrics.client,
        &query,
        metrics.now,
        metrics.now - Duration::minutes(10),
    )
    .await
    .expect("no call");
    assert!(reversed.is_empty());
}
