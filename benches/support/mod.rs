//! Shared by the benchmarks: criterion's estimates, read back to report
//! ratios measured in the same run.

use std::sync::OnceLock;
use std::time::SystemTime;

static STARTED: OnceLock<SystemTime> = OnceLock::new();

/// Marks the start of this run: [`mean_ns`] ignores estimates written
/// before it (left by an earlier run).
pub fn start() {
    STARTED.get_or_init(SystemTime::now);
}

/// Mean time per iteration in nanoseconds that criterion measured for
/// `group/name` in this run. `None`, with a note on stderr, when there is
/// none (a filter left the benchmark out, or `--test` ran it once).
pub fn mean_ns(group: &str, name: &str) -> Option<f64> {
    let dir = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    let started = *STARTED.get_or_init(|| SystemTime::UNIX_EPOCH);
    let fresh = std::fs::metadata(&path)
        .and_then(|m| m.modified())
        .is_ok_and(|modified| modified >= started);
    let mean = fresh
        .then(|| std::fs::read_to_string(&path).ok())
        .flatten()
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|json| json["mean"]["point_estimate"].as_f64());
    if mean.is_none() {
        eprintln!("{group}: no estimate for `{name}` from this run ({path}): ratios not reported");
    }
    mean
}
