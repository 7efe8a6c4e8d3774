//! A small command-line parser for example executables (no dependencies):
//!
//! ```text
//! wordcount [--bootstrap-servers HOST:PORT] [--application-id ID] [--threads N]
//!           [--config KEY=VALUE]... [--max-idle-ms MS] [--help]
//! ```
//!
//! ```no_run
//! let args = weir_runtime::cli::AppArgs::from_env("wordcount", "Counts words.");
//! let config = args.config().expect("validated by from_env");
//! ```

use crate::config::{ConfigError, StreamsConfig};

/// A command line that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CliError {
    /// A flag weir does not know.
    #[error("unknown argument `{0}`")]
    Unknown(String),
    /// A flag given without its value.
    #[error("`{0}` needs a value")]
    MissingValue(String),
    /// A value that does not parse.
    #[error("invalid value `{value}` for `{flag}`: expected {expected}")]
    InvalidValue {
        /// The flag.
        flag: String,
        /// The value given.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
}

/// Parsed command-line arguments of a weir application.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AppArgs {
    /// `--bootstrap-servers` (default `localhost:9092`, unless `--config
    /// bootstrap.servers=...` is given).
    pub bootstrap_servers: Option<String>,
    /// `--application-id` (default: the executable's name given to
    /// [`AppArgs::from_env`] / [`AppArgs::named`]).
    pub application_id: Option<String>,
    /// `--threads`: `num.stream.threads`.
    pub threads: Option<usize>,
    /// `--config KEY=VALUE`, in order.
    pub config: Vec<String>,
    /// `--max-idle-ms`: stop once no record arrived for that long.
    pub max_idle_ms: Option<u64>,
    /// `--help` / `-h` was given.
    pub help: bool,
    /// The default application id.
    pub name: String,
}

/// The usage text for an executable `name`.
pub fn usage(name: &str, about: &str) -> String {
    format!(
        "{about}

Usage: {name} [OPTIONS]

Options:
  --bootstrap-servers <HOST:PORT>  Kafka brokers [default: localhost:9092]
  --application-id <ID>            application.id: consumer group and internal topic prefix [default: {name}]
  --threads <N>                    num.stream.threads [default: 1]
  --config <KEY=VALUE>             any Kafka Streams key, or consumer.*/producer.*/admin.* (repeatable)
  --max-idle-ms <MS>               stop once no record has arrived for MS milliseconds
  -h, --help                       print this help
"
    )
}

fn number<T: std::str::FromStr>(
    flag: &str,
    value: String,
    expected: &'static str,
) -> Result<T, CliError> {
    value.parse().map_err(|_| CliError::InvalidValue {
        flag: flag.to_owned(),
        value,
        expected,
    })
}

impl AppArgs {
    /// Parses arguments (without the program name). `--flag value` and
    /// `--flag=value` are both accepted.
    pub fn parse(args: impl Iterator<Item = String>) -> Result<AppArgs, CliError> {
        let mut out = AppArgs::default();
        let mut args = args;
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
                _ => (arg, None),
            };
            let takes_value = matches!(
                flag.as_str(),
                "--bootstrap-servers"
                    | "--application-id"
                    | "--threads"
                    | "--config"
                    | "--max-idle-ms"
            );
            if !takes_value {
                match flag.as_str() {
                    "--help" | "-h" if inline.is_none() => {
                        out.help = true;
                        continue;
                    }
                    _ => {
                        let shown = match inline {
                            Some(v) => format!("{flag}={v}"),
                            None => flag,
                        };
                        return Err(CliError::Unknown(shown));
                    }
                }
            }
            let value = match inline {
                Some(v) => v,
                None => args
                    .next()
                    .ok_or_else(|| CliError::MissingValue(flag.clone()))?,
            };
            match flag.as_str() {
                "--bootstrap-servers" => out.bootstrap_servers = Some(value),
                "--application-id" => out.application_id = Some(value),
                "--threads" => {
                    let n: usize = number(&flag, value.clone(), "a positive integer")?;
                    if n == 0 {
                        return Err(CliError::InvalidValue {
                            flag,
                            value,
                            expected: "a positive integer",
                        });
                    }
                    out.threads = Some(n);
                }
                "--config" => out.config.push(value),
                _ => out.max_idle_ms = Some(number(&flag, value, "milliseconds")?),
            }
        }
        Ok(out)
    }

    /// Sets the default application id.
    pub fn named(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    /// Parses the process's arguments. `--help` prints the usage and exits
    /// with status 0; a bad argument or configuration prints the error and
    /// the usage to stderr and exits with status 2.
    pub fn from_env(name: &str, about: &str) -> AppArgs {
        let parsed = AppArgs::parse(std::env::args().skip(1)).map(|a| a.named(name));
        let args = match parsed {
            Ok(a) if a.help => {
                print!("{}", usage(name, about));
                std::process::exit(0)
            }
            Ok(a) => a,
            Err(e) => {
                eprintln!("error: {e}\n\n{}", usage(name, about));
                std::process::exit(2)
            }
        };
        if let Err(e) = args.config() {
            eprintln!("error: {e}\n\n{}", usage(name, about));
            std::process::exit(2)
        }
        args
    }

    /// The configuration: defaults, then `--config` entries, then the
    /// explicit flags.
    pub fn config(&self) -> Result<StreamsConfig, ConfigError> {
        let mut c = StreamsConfig::new(self.name.clone());
        c.bootstrap_servers = "localhost:9092".into();
        for pair in &self.config {
            c.set_pair(pair)?;
        }
        if let Some(s) = &self.bootstrap_servers {
            c.set("bootstrap.servers", s)?;
        }
        if let Some(id) = &self.application_id {
            c.set("application.id", id)?;
        }
        if let Some(n) = self.threads {
            c.set("num.stream.threads", &n.to_string())?;
        }
        if let Some(ms) = self.max_idle_ms {
            c.max_idle_ms = Some(ms);
        }
        c.validate()?;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<AppArgs, CliError> {
        AppArgs::parse(args.iter().map(|s| (*s).to_owned()))
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap().named("wordcount");
        let c = a.config().unwrap();
        assert_eq!(c.application_id, "wordcount");
        assert_eq!(c.bootstrap_servers, "localhost:9092");
        assert_eq!(c.num_stream_threads, 1);
        assert_eq!(c.max_idle_ms, None);
        assert!(!a.help);
    }

    #[test]
    fn every_flag() {
        let a = parse(&[
            "--bootstrap-servers",
            "k1:9092,k2:9092",
            "--application-id=my-app",
            "--threads",
            "3",
            "--config",
            "commit.interval.ms=100",
            "--config=consumer.fetch.min.bytes=1",
            "--max-idle-ms",
            "5000",
        ])
        .unwrap()
        .named("wordcount");
        let c = a.config().unwrap();
        assert_eq!(c.bootstrap_servers, "k1:9092,k2:9092");
        assert_eq!(c.application_id, "my-app");
        assert_eq!(c.num_stream_threads, 3);
        assert_eq!(c.commit_interval_ms, 100);
        assert_eq!(c.consumer["fetch.min.bytes"], "1");
        assert_eq!(c.max_idle_ms, Some(5000));
    }

    #[test]
    fn config_entries_set_what_flags_do_not() {
        let a = parse(&[
            "--config",
            "bootstrap.servers=k:1",
            "--config",
            "num.stream.threads=2",
        ])
        .unwrap()
        .named("x");
        let c = a.config().unwrap();
        assert_eq!(c.bootstrap_servers, "k:1");
        assert_eq!(c.num_stream_threads, 2);
        // An explicit flag wins over --config.
        let a = parse(&["--threads", "4", "--config", "num.stream.threads=2"])
            .unwrap()
            .named("x");
        assert_eq!(a.config().unwrap().num_stream_threads, 4);
    }

    #[test]
    fn help() {
        assert!(parse(&["--help"]).unwrap().help);
        assert!(parse(&["-h"]).unwrap().help);
        let u = usage("wordcount", "Counts words.");
        assert!(u.starts_with("Counts words.\n\nUsage: wordcount [OPTIONS]"));
        assert!(u.contains("--max-idle-ms"));
    }

    #[test]
    fn errors() {
        assert_eq!(
            parse(&["--frobnicate"]),
            Err(CliError::Unknown("--frobnicate".into()))
        );
        assert_eq!(
            parse(&["positional"]),
            Err(CliError::Unknown("positional".into()))
        );
        assert_eq!(
            parse(&["--threads"]),
            Err(CliError::MissingValue("--threads".into()))
        );
        assert!(matches!(
            parse(&["--threads", "0"]),
            Err(CliError::InvalidValue { ref flag, .. }) if flag == "--threads"
        ));
        assert!(parse(&["--max-idle-ms", "soon"])
            .unwrap_err()
            .to_string()
            .contains("expected milliseconds"));
        let bad = parse(&["--config", "nope"]).unwrap().named("x");
        assert_eq!(bad.config(), Err(ConfigError::NotKeyValue("nope".into())));
        let unknown = parse(&["--config", "no.such.key=1"]).unwrap().named("x");
        assert_eq!(
            unknown.config(),
            Err(ConfigError::UnknownKey("no.such.key".into()))
        );
        // No name and no --application-id: application.id is missing.
        assert_eq!(
            parse(&[]).unwrap().config(),
            Err(ConfigError::Missing("application.id"))
        );
    }
}
