//! S3: the state store (conditional writes) and the suite configuration source.

pub mod backup;
mod config_source;
mod state;

pub use config_source::{ConfigLoadError, ConfigSource};
pub use state::{Listed, StateError, StateStore, Versioned};
