//! The [`RecordCollector`] of the Kafka runtime: hands records to the
//! stream thread's producer.

use super::callbacks::{changelog_opaque, ProducerCtx};
use super::routing::Routing;
use crate::error::ProcessError;
use crate::record::{Headers, RecordContext};
use crate::topology::{RecordCollector, SinkTopic};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord};
use std::fmt;
use std::io::Write;
use std::time::Duration;

/// How long to serve the producer before retrying a send on a full queue.
const QUEUE_FULL_WAIT: Duration = Duration::from_millis(100);

/// Sends produced records with the source record's timestamp and headers.
pub(crate) struct KafkaCollector<'a> {
    pub producer: &'a BaseProducer<ProducerCtx>,
    pub routing: &'a Routing,
    /// Records handed to the producer.
    pub produced: &'a mut u64,
}

fn kafka_headers(headers: &Headers) -> OwnedHeaders {
    headers.iter().fold(
        OwnedHeaders::new_with_capacity(headers.len()),
        |h, (key, value)| h.insert(Header { key, value }),
    )
}

impl RecordCollector for KafkaCollector<'_> {
    fn send(
        &mut self,
        topic: SinkTopic<'_>,
        key: Option<&[u8]>,
        value: Option<&[u8]>,
        context: &RecordContext<'_>,
    ) -> Result<(), ProcessError> {
        // A changelog record goes to the task's own partition (that of the
        // record being processed), as Kafka Streams writes changelogs; its
        // delivery report feeds the task's checkpoint.
        let (topic, partition, delivery_opaque) = match topic {
            SinkTopic::Named(t) => (t, None, 0),
            SinkTopic::Internal(i) => {
                let name = self.routing.internal(i).ok_or_else(|| ProcessError::Send {
                    topic: format!("internal topic #{i}"),
                    reason: "the topology's plan has no such internal topic".into(),
                })?;
                if self.routing.is_changelog(i) {
                    (name, Some(context.partition), changelog_opaque(i))
                } else {
                    (name, None, 0)
                }
            }
        };
        let mut record: BaseRecord<'_, [u8], [u8], usize> = BaseRecord {
            topic,
            partition,
            payload: value,
            key,
            timestamp: (context.timestamp >= 0).then_some(context.timestamp),
            headers: (!context.headers.is_empty()).then(|| kafka_headers(context.headers)),
            delivery_opaque,
        };
        let mut waited = false;
        loop {
            match self.producer.send(record) {
                Ok(()) => {
                    *self.produced += 1;
                    return Ok(());
                }
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back)) => {
                    // Back-pressure: serve delivery reports until there is room.
                    if !waited {
                        tracing::debug!(topic, "producer queue full, waiting");
                        waited = true;
                    }
                    record = back;
                    self.producer.poll(QUEUE_FULL_WAIT);
                }
                Err((e, _)) => {
                    return Err(ProcessError::Send {
                        topic: topic.to_owned(),
                        reason: e.to_string(),
                    })
                }
            }
        }
    }

    fn print(&mut self, line: fmt::Arguments<'_>) {
        let mut out = std::io::stdout().lock();
        // A closed stdout must not stop the stream.
        let _ = writeln!(out, "{line}");
    }
}
