//! The Processor API: a user-written processor inside a compiled topology
//! (Kafka Streams' `KStream.process` with `Processor<KIn, VIn, KOut, VOut>`).
//!
//! A processor gets each record with a [`ProcessorContext`] through which it
//! forwards records downstream, reads and writes the state stores it was
//! connected to (typed views over the task's stores, logged to their
//! changelogs), and schedules punctuations on stream time or wall-clock
//! time. Records a processor forwards are run through the rest of the fused
//! chain when its `process` (or `punctuate`) call returns, in forwarding
//! order — Kafka Streams runs each forward depth-first inside the call; the
//! results differ only if a processor reads a store that a processor
//! downstream of it writes (see the README).

mod context;
mod punctuation;

pub use crate::time::PunctuationType;
pub use context::{
    send_changes, ConnectedStore, Current, FixedKeyProcessorContext, Forwarded, KeyValueStoreRef,
    ProcessorContext,
};
pub use punctuation::Schedules;

use crate::error::ProcessError;
use crate::record::Headers;

/// A punctuation being delivered to [`Processor::punctuate`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Punctuation {
    /// What [`ProcessorContext::schedule`] returned.
    pub id: usize,
    /// Stream or wall-clock time.
    pub kind: PunctuationType,
    /// The stream time or wall-clock time it fires at.
    pub timestamp: i64,
}

/// A record given to [`Processor::process`].
#[derive(Debug)]
pub struct Record<'a, K, V> {
    /// The key.
    pub key: K,
    /// The value.
    pub value: V,
    /// The record's timestamp.
    pub timestamp: i64,
    /// The record's headers.
    pub headers: &'a Headers,
}

/// A user processor. One instance per task, made by the factory given to
/// `process(..)`; `init` runs before its first record or punctuation.
pub trait Processor: Send + 'static {
    /// Input key type.
    type KeyIn;
    /// Input value type.
    type ValueIn;
    /// Output key type.
    type KeyOut;
    /// Output value type.
    type ValueOut;

    /// Called once per task before anything else: schedule punctuations here.
    fn init(&mut self, ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>) {
        let _ = ctx;
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: Record<'_, Self::KeyIn, Self::ValueIn>,
        ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>,
    ) -> Result<(), ProcessError>;

    /// A scheduled punctuation fires.
    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut ProcessorContext<'_, Self::KeyOut, Self::ValueOut>,
    ) -> Result<(), ProcessError> {
        let _ = (punctuation, ctx);
        Ok(())
    }
}

/// A record given to a [`FixedKeyProcessor`]: its key cannot be changed,
/// only its value and timestamp (Kafka Streams' `FixedKeyRecord`). A
/// processor forwards it (or a copy it kept) with
/// [`FixedKeyProcessorContext::forward`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedKeyRecord<K, V> {
    key: K,
    value: V,
    timestamp: i64,
}

impl<K, V> FixedKeyRecord<K, V> {
    /// The key.
    pub fn key(&self) -> &K {
        &self.key
    }

    /// The value.
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The timestamp.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The same key and timestamp with another value.
    pub fn with_value<V2>(self, value: V2) -> FixedKeyRecord<K, V2> {
        FixedKeyRecord {
            key: self.key,
            value,
            timestamp: self.timestamp,
        }
    }

    /// The same key and value with another timestamp.
    pub fn with_timestamp(self, timestamp: i64) -> Self {
        FixedKeyRecord { timestamp, ..self }
    }

    /// The value, taken.
    pub fn into_value(self) -> V {
        self.value
    }

    /// A record (generated code makes these from the input record).
    #[doc(hidden)]
    pub fn new(key: K, value: V, timestamp: i64) -> Self {
        FixedKeyRecord {
            key,
            value,
            timestamp,
        }
    }
}

/// A processor that keeps each record's key (Kafka Streams'
/// `FixedKeyProcessor`, run by `process_values`): a key-preserving step,
/// so an aggregation after it needs no repartition.
pub trait FixedKeyProcessor: Send + 'static {
    /// The key type (in and out).
    type Key;
    /// Input value type.
    type ValueIn;
    /// Output value type.
    type ValueOut;

    /// Called once per task before anything else.
    fn init(&mut self, ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>) {
        let _ = ctx;
    }

    /// Processes one record.
    fn process(
        &mut self,
        record: FixedKeyRecord<Self::Key, Self::ValueIn>,
        ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>,
    ) -> Result<(), ProcessError>;

    /// A scheduled punctuation fires.
    fn punctuate(
        &mut self,
        punctuation: Punctuation,
        ctx: &mut FixedKeyProcessorContext<'_, Self::Key, Self::ValueOut>,
    ) -> Result<(), ProcessError> {
        let _ = (punctuation, ctx);
        Ok(())
    }
}
