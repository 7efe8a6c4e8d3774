//! One account per application of whether the Kafka brokers can be reached.
//!
//! librdkafka reconnects on its own when brokers go away, and every client
//! of every stream thread reports every failed attempt, several times over
//! (a log line, the error callback, an error from `poll`). Logged one by one
//! that is hundreds of lines a second of outage. Here it becomes one warning
//! when the brokers have been unreachable for [`CONFIRM`], a reminder every
//! [`REMINDER`] while they stay so, and one line when they answer again.
//! A lone failure followed by an answer (a connection the broker closed, an
//! error event queued before the reconnection) is logged at debug level only.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long failures must go on, without an answer in between, before
/// they are reported as an outage.
pub(crate) const CONFIRM: Duration = Duration::from_secs(1);

/// How often an ongoing outage is logged again.
pub(crate) const REMINDER: Duration = Duration::from_secs(30);

/// Whether the brokers are reachable, as the application's clients see it.
#[derive(Debug, Default)]
pub(crate) struct Connectivity {
    /// Mirrors `outage.is_some()`, read per record by [`Connectivity::reached`].
    down: AtomicBool,
    outage: Mutex<Option<Outage>>,
}

#[derive(Debug)]
struct Outage {
    /// The first failure without an answer since.
    since: Instant,
    /// When the outage was last logged; `None` while not yet confirmed.
    reported: Option<Instant>,
    /// Failures since the last log line.
    failures: u64,
    /// The last failure, for a report made by [`Connectivity::tick`].
    last: String,
}

/// Whether `error` says a broker could not be reached (as opposed to a
/// broker answering with an error).
pub(crate) fn is_unreachable(error: &KafkaError) -> bool {
    matches!(
        error.rdkafka_error_code(),
        Some(
            RDKafkaErrorCode::BrokerTransportFailure
                | RDKafkaErrorCode::AllBrokersDown
                | RDKafkaErrorCode::Resolve
                | RDKafkaErrorCode::BrokerNotAvailable
                | RDKafkaErrorCode::NetworkException
                | RDKafkaErrorCode::CoordinatorNotAvailable
                | RDKafkaErrorCode::NotCoordinator
                | RDKafkaErrorCode::CoordinatorLoadInProgress
        )
    )
}

impl Connectivity {
    /// `client` failed to reach a broker: logs it if the brokers were
    /// reachable until now, or if the last line about this outage is older
    /// than [`REMINDER`].
    pub fn unreachable(&self, client: &str, failure: &dyn Display) {
        self.unreachable_at(client, failure, Instant::now());
    }

    fn unreachable_at(&self, client: &str, failure: &dyn Display, now: Instant) {
        let mut outage = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        let o = match outage.as_mut() {
            // A lone failure long ago does not make this one an outage.
            Some(o) if o.reported.is_some() || now.duration_since(o.since) < REMINDER => o,
            _ => {
                self.down.store(true, Ordering::Release);
                outage.insert(Outage {
                    since: now,
                    reported: None,
                    failures: 0,
                    last: String::new(),
                })
            }
        };
        o.failures += 1;
        o.last = failure.to_string();
        let lasted = now.duration_since(o.since);
        match o.reported {
            None if lasted >= CONFIRM => {
                tracing::warn!(
                    client,
                    "Kafka brokers unreachable for {:.1}s: {failure}; retrying until they \
                     answer (processing waits, nothing is lost)",
                    lasted.as_secs_f64()
                );
                o.reported = Some(now);
                o.failures = 0;
            }
            Some(reported) if now.duration_since(reported) >= REMINDER => {
                tracing::warn!(
                    client,
                    "Kafka brokers still unreachable after {}s ({} failed attempts since \
                     the last report), last: {failure}; retrying",
                    lasted.as_secs(),
                    o.failures,
                );
                o.reported = Some(now);
                o.failures = 0;
            }
            _ => tracing::debug!(client, "Kafka broker unreachable: {failure}"),
        }
    }

    /// Time passes without an answer (a thread waiting on the producer):
    /// confirms or reminds of an outage as a new failure would, since
    /// librdkafka reports repeated connection failures only now and then.
    pub fn tick(&self) {
        if !self.down.load(Ordering::Relaxed) {
            return;
        }
        let last = {
            let outage = self.outage.lock().unwrap_or_else(|e| e.into_inner());
            match outage.as_ref() {
                Some(o) => o.last.clone(),
                None => return,
            }
        };
        self.unreachable_at("producer", &last, Instant::now());
    }

    /// A client got an answer from a broker: ends an outage, if any.
    #[inline]
    pub fn reached(&self) {
        if self.down.load(Ordering::Relaxed) {
            self.end(Instant::now());
        }
    }

    #[cold]
    fn end(&self, now: Instant) {
        let mut outage = self.outage.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(Outage {
            since,
            reported: Some(_),
            ..
        }) = outage.take()
        {
            tracing::info!(
                "Kafka brokers reachable again after {:.1}s",
                now.duration_since(since).as_secs_f64()
            );
        } else {
            tracing::debug!("Kafka brokers answered: no outage");
        }
        self.down.store(false, Ordering::Release);
    }

    /// Whether a client failed to reach the brokers and none got an answer
    /// since.
    pub fn is_down(&self) -> bool {
        self.down.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(links: &Connectivity) -> Option<(Instant, Option<Instant>, u64)> {
        let outage = links.outage.lock().unwrap();
        outage.as_ref().map(|o| (o.since, o.reported, o.failures))
    }

    #[test]
    fn an_outage_is_confirmed_then_reminded_then_ended() {
        let links = Connectivity::default();
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        links.reached();
        assert!(!links.is_down());
        for i in 0..100 {
            links.unreachable_at("c", &"refused", t0 + ms(i));
        }
        assert!(links.is_down());
        assert_eq!(state(&links), Some((t0, None, 100)), "not yet an outage");
        links.unreachable_at("c", &"refused", t0 + CONFIRM);
        assert_eq!(state(&links), Some((t0, Some(t0 + CONFIRM), 0)), "reported");
        links.unreachable_at("c", &"refused", t0 + CONFIRM + ms(1));
        assert_eq!(state(&links), Some((t0, Some(t0 + CONFIRM), 1)));
        let reminded = t0 + CONFIRM + REMINDER;
        links.unreachable_at("c", &"refused", reminded);
        assert_eq!(state(&links), Some((t0, Some(reminded), 0)), "reminded");
        links.reached();
        assert!(!links.is_down());
        assert_eq!(state(&links), None);
    }

    #[test]
    fn a_lone_failure_answered_or_long_ago_is_no_outage() {
        let links = Connectivity::default();
        let t0 = Instant::now();
        links.unreachable_at("c", &"closed", t0);
        links.reached();
        assert_eq!(state(&links), None);
        links.unreachable_at("c", &"closed", t0);
        let later = t0 + REMINDER + CONFIRM;
        links.unreachable_at("c", &"closed", later);
        assert_eq!(state(&links), Some((later, None, 1)), "starts afresh");
    }

    #[test]
    fn time_alone_confirms_a_pending_outage() {
        let links = Connectivity::default();
        links.tick();
        assert_eq!(state(&links), None, "no failure, no outage");
        let t0 = Instant::now() - CONFIRM;
        links.unreachable_at("c", &"refused", t0);
        links.tick();
        let (since, reported, _) = state(&links).unwrap();
        assert_eq!(since, t0);
        assert!(reported.is_some(), "confirmed by the tick");
    }

    #[test]
    fn transport_failures_are_unreachability_broker_errors_are_not() {
        let down = KafkaError::MessageConsumption(RDKafkaErrorCode::AllBrokersDown);
        assert!(is_unreachable(&down));
        let refused = KafkaError::Global(RDKafkaErrorCode::BrokerTransportFailure);
        assert!(is_unreachable(&refused));
        let unknown = KafkaError::MessageConsumption(RDKafkaErrorCode::UnknownTopicOrPartition);
        assert!(!is_unreachable(&unknown));
    }
}
