//! What generated code reaches through `::weir::__private`: its one door
//! into the runtime. Re-exports only — every item lives in the module of its
//! concern. Not a stable API for users.

pub use core::marker::PhantomData;

// The contract: the traits generated code implements, the plan it writes.
pub use crate::topology::{
    Change, InternalTopic, InternalTopicKind, Plan, RecordCollector, SinkTopic, SourcePlan,
    SourceRecordCheck, StoreKind, StorePlan, SubTopology, SubTopologyPlan, SubVisitor, TaskContext,
    TopicRef, Topology, Uncompiled,
};

// Records, errors, serdes.
pub use crate::error::{negative_timestamp, no_such_source, ProcessError, RecordPart};
pub use crate::record::{Headers, RecordContext, SourceRecord};
pub use crate::serde::{Serde, SerdeError};

/// No headers: changelog records carry none, as in Kafka Streams.
pub static NO_HEADERS: Headers = Headers::new();

// Byte layouts.
pub use crate::format::change::{decode_change, encode_change};
pub use crate::format::record::{key, same_bytes, ser, value};
pub use crate::format::session_key::session_key;
pub use crate::format::window_key::window_changelog_key;

// Time and windows.
pub use crate::time::{
    PunctuationType, SessionWindows, SlidingStep, SlidingWindows, TimeWindows, Window, Windowed,
};

// Stores and the record cache.
pub use crate::store::cache::{DirtyEntry, RecordCache, DEFAULT_CACHE_MAX_BYTES};
pub use crate::store::{Backend, StoreError, TaskDirectory, TaskStores};

// The stateful operators' runtime half.
pub use crate::ops::cached::{
    cached_get, cached_put, cached_window_get, decode_flushed, flushed, sliding_fetch,
    write_flushed, write_flushed_window, written_through,
};
pub use crate::ops::kv::{store_get, store_put};
pub use crate::ops::session::{
    closed_sessions, drop_expired_sessions, entry_context, find_sessions, session_put,
    session_written_through, write_flushed_session,
};
pub use crate::ops::suppress::{
    log_buffered, restore_buffer, unlog_buffered, when_full, Buffered, SuppressBuffer,
};
pub use crate::ops::window::{closed_windows, late_record, window_get, window_put};
pub use crate::suppress::{Suppressed, Suppression};

// The Processor API.
pub use crate::processor::{
    send_changes, ConnectedStore, Current, FixedKeyProcessor, FixedKeyProcessorContext,
    FixedKeyRecord, Forwarded, Processor, ProcessorContext, Record, Schedules,
};
