//! Clicks per page per minute: a tumbling-window count with a grace period,
//! its final results only (suppressed until each window closes), and the
//! running counts too.
//!
//! ```text
//! cargo run --example windowed_counts -- --bootstrap-servers 127.0.0.1:9092
//! ```
//! Reads `clicks` (key: page, value: anything, record timestamp = event
//! time); writes `clicks-per-minute` (running counts) and
//! `clicks-per-minute-final` (one record per page and minute, once the
//! minute closes), keyed `page@window-start`.

use std::time::Duration;
use weir::prelude::*;

/// Counts per page and window of `window`, accepting records up to `grace` late.
#[weir::topology]
pub fn clicks_per_window(window: Duration, grace: Duration) -> impl Topology {
    let builder = StreamsBuilder::new();
    let counts = builder
        .stream::<String, String>("clicks")
        .group_by_key()
        .windowed_by(TimeWindows::of_size_and_grace(window, grace))
        .count(named("clicks-per-window"));
    counts
        .to_stream()
        .map(|page, n| (format!("{}@{}", page.key, page.window.start), n))
        .to("clicks-per-minute");
    counts
        .suppress(until_window_closes(unbounded()))
        .to_stream()
        .map(|page, n| (format!("{}@{}", page.key, page.window.start), n))
        .to("clicks-per-minute-final");
    builder.build()
}

fn main() -> std::process::ExitCode {
    weir::run_app(
        "windowed_counts",
        "Counts `clicks` per page and minute: `clicks-per-minute` (running), `clicks-per-minute-final` (closed windows).",
        clicks_per_window(Duration::from_secs(60), Duration::from_secs(10)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_and_final_counts() {
        let driver = TopologyTestDriver::new(clicks_per_window(
            Duration::from_secs(60),
            Duration::from_secs(10),
        ));
        let clicks = driver.create_input_topic::<String, String>("clicks");
        let running = driver.create_output_topic::<String, i64>("clicks-per-minute");
        let finals = driver.create_output_topic::<String, i64>("clicks-per-minute-final");
        for ts in [1_000, 20_000, 59_999] {
            clicks.pipe_input_with_timestamp("home".into(), "c".into(), ts);
        }
        clicks.pipe_input_with_timestamp("home".into(), "c".into(), 70_000); // closes [0, 60s)
        assert_eq!(running.queue_size(), 4);
        assert_eq!(
            finals.read_key_values_to_list(),
            vec![("home@0".to_string(), 3)]
        );
    }
}
