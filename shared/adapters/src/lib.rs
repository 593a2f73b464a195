//! AWS and HTTP adapters of the ops suite: everything that talks to the outside world.
//!
//! One folder per service it talks to (`s3/`, `route53/`, `ecs/`, `secretsmanager/`, `cloudwatch/`,
//! `codepipeline/`, `kms/`, `lambda/`), plus the
//! notifiers (`notify/`), Slack interactivity (`slack/`: signed button presses), client construction, what every function reads from its environment
//! (`runtime`), telemetry (logs, EMF metrics) and audit writing. The functions build these once
//! per container and pass them to their handlers.

pub mod audit;
pub mod clients;
pub mod cloudwatch;
pub mod codepipeline;
pub mod ecs;
pub mod error;
pub mod kms;
pub mod lambda;
pub mod notify;
pub mod recorder;
pub mod route53;
pub mod runtime;
pub mod s3;
pub mod secretsmanager;
pub mod slack;
pub mod telemetry;

pub use clients::AwsClients;
