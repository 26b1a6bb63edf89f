//! Logging: `tracing` with an env filter (`RUST_LOG`), human format by default and JSON
//! with `LOG_FORMAT=json`; teloxide's `log` records are bridged in.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber writing to stderr. Safe to call more than once.
pub fn init(default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let json = std::env::var("LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
