//! Byte layouts: every format weir reads or writes, in one place.
//!
//! | module | layout | compatible with |
//! |---|---|---|
//! | [`record`] | a record's key and value through their [`Serde`](crate::Serde) | Kafka's serializers |
//! | [`timestamped`] | `[timestamp: 8 bytes BE][value]` | Kafka Streams' `ValueAndTimestamp` (timestamped stores, changelog restoration) |
//! | [`window_key`] | `[key][window start: 8][sequence: 4]` | Kafka Streams' `WindowKeySchema` (window changelogs, cache keys) |
//! | [`session_key`] | `[key][session end: 8][session start: 8]` | Kafka Streams' `SessionKeySchema` (session stores and changelogs) |
//! | [`change`] | `[flags: 1][new length: 4][new][old]` | weir's own (a table `group_by`'s repartition topic) |
//! | [`buffered`] | buffer time, record context, value | weir's own (a `suppress` buffer's changelog) |
//!
//! Windowed keys of output topics (`Windowed<K>`, `SessionWindowed<K>`) are
//! serdes, in [`crate::time`].

pub mod buffered;
pub mod change;
pub mod record;
pub mod session_key;
pub mod timestamped;
pub mod window_key;
