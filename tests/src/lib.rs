//! Test support for the ops suite: the local AWS emulator, a loopback receiver for notifier
//! calls, a CodePipeline job-result recorder, a fault-injecting proxy for chaos tests, and the
//! seeding of sample services. Used by the integration tests and by `ops-demo`.

pub mod backup_seed;
pub mod demo_backup;
pub mod emulator;
pub mod faults;
pub mod lambda;
pub mod metrics;
pub mod pipeline;
pub mod receiver;
pub mod runtime_api;
pub mod seed;

/// The workspace root (the folder with the root `Cargo.toml`).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or_default()
}

/// A name unique within this process and across concurrent test processes, for resources in a
/// shared emulator (`prefix-<pid>-<n>`).
pub fn unique(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}
