//! CloudWatch: which gating alarms are in ALARM, and metric data for deployment analysis
//! ([`metrics`]).

pub mod metrics;

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{AlarmType, StateValue};

use crate::error::AwsCallError;
use crate::recorder::CallRecorder;

/// A CloudWatch client recording its calls into `recorder`.
pub fn client(sdk: &SdkConfig, recorder: &CallRecorder) -> aws_sdk_cloudwatch::Client {
    let config = aws_sdk_cloudwatch::config::Builder::from(sdk)
        .interceptor(recorder.clone())
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

/// An alarm in ALARM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Firing {
    /// Alarm name.
    pub name: String,
    /// Its state reason.
    pub reason: String,
}

/// The alarms matching `patterns` (exact names or globs with `*`/`?`) that are in ALARM, metric
/// and composite alike. Exact names are asked for in batches of 100; each glob by the prefix
/// before its first wildcard, then matched here. Only alarms in ALARM are returned by CloudWatch
/// (`StateValue=ALARM`), so a quiet fleet costs one small request. A failure is the
/// `DescribeAlarms` call's [`AwsCallError`].
pub async fn firing(
    client: &aws_sdk_cloudwatch::Client,
    patterns: &[String],
) -> Result<Vec<Firing>, AwsCallError> {
    let (globs, names): (Vec<&String>, Vec<&String>) =
        patterns.iter().partition(|p| p.contains(['*', '?', '[']));
    let mut found = Vec::new();
    for batch in names.chunks(100) {
        let request = client
            .describe_alarms()
            .state_value(StateValue::Alarm)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .set_alarm_names(Some(batch.iter().map(|n| (*n).clone()).collect()));
        collect(request, &mut found, |_| true).await?;
    }
    for glob in globs {
        let prefix: String = glob
            .chars()
            .take_while(|c| !matches!(c, '*' | '?' | '['))
            .collect();
        let mut request = client
            .describe_alarms()
            .state_value(StateValue::Alarm)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm);
        if !prefix.is_empty() {
            request = request.alarm_name_prefix(prefix);
        }
        collect(request, &mut found, |name| {
            ops_domain::config::glob_matches(glob, name)
        })
        .await?;
    }
    found.sort_by(|a, b| a.name.cmp(&b.name));
    found.dedup();
    Ok(found)
}

async fn collect(
    request: aws_sdk_cloudwatch::operation::describe_alarms::builders::DescribeAlarmsFluentBuilder,
    found: &mut Vec<Firing>,
    keep: impl Fn(&str) -> bool,
) -> Result<(), AwsCallError> {
    let mut token: Option<String> = None;
    loop {
        let output = request
            .clone()
            .set_next_token(token.take())
            .send()
            .await
            .map_err(|error| AwsCallError::from_sdk("DescribeAlarms", &error))?;
        let metric = output.metric_alarms().iter().map(|a| {
            (
                a.alarm_name().unwrap_or_default(),
                a.state_value(),
                a.state_reason().unwrap_or_default(),
            )
        });
        let composite = output.composite_alarms().iter().map(|a| {
            (
                a.alarm_name().unwrap_or_default(),
                a.state_value(),
                a.state_reason().unwrap_or_default(),
            )
        });
        for (name, state, reason) in metric.chain(composite) {
            if state == Some(&StateValue::Alarm) && keep(name) {
                found.push(Firing {
                    name: name.to_owned(),
                    reason: reason.to_owned(),
                });
            }
        }
        match output.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(()),
        }
    }
}
