//! Project tooling, run as `cargo xtask <command>` (see `.cargo/config.toml`).
//!
//! - `demo`: the word-split example end to end against a local broker.
//! - `broker`: runs a local Apache Kafka broker until Ctrl-C or end of stdin.
//! - `classpath`: prints the broker's Java classpath (resolving it with Maven
//!   on first use).

use std::io::{self, Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use weir_test_kafka::{self as broker, LocalKafka, KAFKA_VERSION};

mod demo;

const USAGE: &str = "\
usage: cargo xtask <command>

commands:
  demo        run the wordcount example end to end against a local broker:
              produce lines, run it, print and check what it wrote
  broker      start a local Apache Kafka broker (single-node KRaft, 127.0.0.1),
              print `bootstrap.servers=<host:port>` on stdout and run until
              Ctrl-C, SIGTERM or end of stdin (keep stdin open when running it
              in the background, e.g. `sleep infinity | cargo xtask broker`)
  classpath   print the broker's Java classpath, resolving it with Maven first
              if needed
  help        print this message

environment:
  WEIR_KAFKA_CACHE       where the resolved classpath is cached
                         (default ~/.cache/weir/kafka-<version>)
  WEIR_KAFKA_KEEP_DIR=1  keep the broker's data and log after it stops
  JAVA_HOME              the Java (17+) to run the broker with";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") if args.len() == 1 => demo::run(),
        Some("broker") if args.len() == 1 => broker(),
        Some("classpath") if args.len() == 1 => classpath(),
        Some("help" | "-h" | "--help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(command @ ("demo" | "broker" | "classpath")) => {
            eprintln!("`{command}` takes no arguments\n\n{USAGE}");
            return ExitCode::from(2);
        }
        Some(other) => {
            eprintln!("unknown command `{other}`\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask broker`.
fn broker() -> Result<(), String> {
    // Set by SIGINT / SIGTERM / SIGHUP or end of stdin. A second Ctrl-C exits
    // at once (the broker still dies: its supervisor sees the pipe close).
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register_conditional_shutdown(signal, 1, Arc::clone(&stop))
            .and_then(|_| signal_hook::flag::register(signal, Arc::clone(&stop)))
            .map_err(|e| format!("cannot install a signal handler: {e}"))?;
    }

    eprintln!("xtask: starting Apache Kafka {KAFKA_VERSION}...");
    let mut kafka = LocalKafka::start().map_err(|e| e.to_string())?;
    println!("bootstrap.servers={}", kafka.bootstrap_servers());
    io::stdout()
        .flush()
        .map_err(|e| format!("writing stdout: {e}"))?;
    eprintln!(
        "xtask: broker log: {}\nxtask: Ctrl-C or end of stdin stops the broker",
        kafka.log_path().display()
    );

    {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut sink = [0u8; 1024];
            let mut stdin = io::stdin().lock();
            while matches!(stdin.read(&mut sink), Ok(n) if n > 0) {}
            stop.store(true, Ordering::SeqCst);
        });
    }

    while !stop.load(Ordering::SeqCst) {
        if !kafka.is_running() {
            // The log goes with the broker's directory: show its end now.
            let log = std::fs::read_to_string(kafka.log_path()).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            return Err(format!(
                "the broker exited unexpectedly; end of its log:\n{}",
                lines[lines.len().saturating_sub(40)..].join("\n")
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }
    eprintln!("xtask: stopping the broker");
    kafka.stop();
    Ok(())
}

/// `cargo xtask classpath`.
fn classpath() -> Result<(), String> {
    let classpath = broker::classpath().map_err(|e| e.to_string())?;
    println!("{classpath}");
    Ok(())
}
