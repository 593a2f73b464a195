//! Logs and metrics.
//!
//! Logs: `tracing` with the Lambda runtime's subscriber, which honours `AWS_LAMBDA_LOG_FORMAT`
//! (JSON) and `AWS_LAMBDA_LOG_LEVEL`, and carries the runtime's per-invocation span (with the
//! request id) on every line.
//!
//! Metrics: CloudWatch Embedded Metric Format lines on stdout; CloudWatch Logs turns them into
//! metrics, so emitting one costs no API call. Written by hand: the format is one small JSON
//! object, and the crates that produce it bring a metrics framework this suite does not need.

use std::collections::BTreeMap;

use serde_json::{json, Value};

/// Metric namespace of the suite.
pub const NAMESPACE: &str = "OpsSuite";

/// Installs the log subscriber (call once, first thing in `main`).
pub fn init_logging() {
    lambda_runtime::tracing::init_default_subscriber();
}

/// CloudWatch units used by the suite.
#[derive(Debug, Clone, Copy)]
pub enum Unit {
    /// A count of events.
    Count,
    /// A duration.
    Milliseconds,
    /// A size.
    Bytes,
    /// A plain number.
    None,
}

impl Unit {
    fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::None => "None",
        }
    }
}

/// A set of metrics sharing dimensions, written as one EMF line.
#[derive(Debug, Clone)]
pub struct MetricSet {
    dimensions: BTreeMap<String, String>,
    metrics: Vec<(String, f64, Unit)>,
}

impl MetricSet {
    /// Metrics of one function (`Function` dimension).
    pub fn new(function: &str) -> Self {
        MetricSet {
            dimensions: [("Function".to_owned(), function.to_owned())].into(),
            metrics: Vec::new(),
        }
    }

    /// Adds a dimension (keep them low-cardinality: service names, not ids).
    pub fn dimension(mut self, name: &str, value: &str) -> Self {
        self.dimensions.insert(name.to_owned(), value.to_owned());
        self
    }

    /// Adds a metric.
    pub fn metric(mut self, name: &str, value: f64, unit: Unit) -> Self {
        self.metrics.push((name.to_owned(), value, unit));
        self
    }

    /// The EMF JSON document at `timestamp_ms`.
    pub fn to_emf(&self, timestamp_ms: i64) -> Value {
        let names: Vec<&String> = self.dimensions.keys().collect();
        let definitions: Vec<Value> = self
            .metrics
            .iter()
            .map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()}))
            .collect();
        let mut document = json!({
            "_aws": {
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": definitions}],
            }
        });
        for (name, value) in &self.dimensions {
            document[name] = value.clone().into();
        }
        for (name, value, _) in &self.metrics {
            document[name] = json!(value);
        }
        document
    }

    /// Writes the EMF line to stdout, where the Lambda log agent picks it up.
    pub fn emit(&self) {
        println!("{}", self.to_emf(chrono::Utc::now().timestamp_millis()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emf_document_declares_every_metric_and_dimension() {
        let document = MetricSet::new("alarm-rollback")
            .dimension("Service", "checkout")
            .metric("rollbacks_total", 1.0, Unit::Count)
            .metric("rollback_duration_ms", 42.0, Unit::Milliseconds)
            .to_emf(1_700_000_000_000);
        assert_eq!(document["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        let directive = &document["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], "OpsSuite");
        assert_eq!(directive["Dimensions"], json!([["Function", "Service"]]));
        assert_eq!(
            directive["Metrics"][1],
            json!({"Name": "rollback_duration_ms", "Unit": "Milliseconds"})
        );
        assert_eq!(document["Service"], "checkout");
        assert_eq!(document["rollbacks_total"], 1.0);
    }
}
