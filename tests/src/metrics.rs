//! A live metric feed for analysis tests: a background task that puts one datapoint per metric
//! and target into CloudWatch every 200 ms at the current time, with values a test changes while
//! a deployment runs (a canary whose error rate starts to rise). Values carry a small
//! deterministic jitter so that samples are not all tied. The one dimension is `Target` (a
//! config's `{target}`, the color's record value, unique per test world): moto matches a query
//! with dimensions on the metric name and dimensions only, not the namespace, so a dimension
//! shared between concurrent tests would mix their data.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum};

/// Values per (metric, target), put every 200 ms while the feed runs.
pub struct MetricFeed {
    values: Arc<Mutex<BTreeMap<(String, String), f64>>>,
    task: tokio::task::JoinHandle<()>,
    /// The namespace the feed writes to (unique per test: moto keeps metrics per region).
    pub namespace: String,
}

impl MetricFeed {
    /// Starts feeding `namespace` (dimension `Target`).
    pub fn start(client: aws_sdk_cloudwatch::Client, namespace: &str) -> MetricFeed {
        let values: Arc<Mutex<BTreeMap<(String, String), f64>>> = Arc::default();
        let shared = values.clone();
        let ns = namespace.to_owned();
        let task = tokio::spawn(async move {
            let mut tick: u32 = 0;
            loop {
                tick = tick.wrapping_add(1);
                let now = DateTime::from_secs_f64(
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map(|d| d.as_secs_f64())
                        .unwrap_or_default(),
                );
                let snapshot: Vec<((String, String), f64)> = shared
                    .lock()
                    .map(|v| v.iter().map(|(k, v)| (k.clone(), *v)).collect())
                    .unwrap_or_default();
                let data: Vec<MetricDatum> = snapshot
                    .into_iter()
                    .enumerate()
                    .map(|(i, ((metric, target), value))| {
                        let jitter = 1.0 + 0.04 * (f64::from(tick) * 1.7 + i as f64).sin();
                        MetricDatum::builder()
                            .metric_name(metric)
                            .dimensions(Dimension::builder().name("Target").value(target).build())
                            .timestamp(now)
                            .value(value * jitter)
                            .build()
                    })
                    .collect();
                if !data.is_empty() {
                    let _ = client
                        .put_metric_data()
                        .namespace(&ns)
                        .set_metric_data(Some(data))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        MetricFeed {
            values,
            task,
            namespace: namespace.to_owned(),
        }
    }

    /// From now on, `metric` of `target` is about `value`.
    pub fn set(&self, metric: &str, target: &str, value: f64) {
        if let Ok(mut values) = self.values.lock() {
            values.insert((metric.to_owned(), target.to_owned()), value);
        }
    }
}

impl Drop for MetricFeed {
    fn drop(&mut self) {
        self.task.abort();
    }
}
