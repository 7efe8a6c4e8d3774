//! What a record carries besides its key and value.

/// Record headers, in order; a header value may be null, as in Kafka.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Headers(Vec<(String, Option<Vec<u8>>)>);

impl Headers {
    /// No headers (allocates nothing).
    pub const fn new() -> Self {
        Headers(Vec::new())
    }
    /// Appends a header (Kafka allows repeated keys).
    pub fn add(&mut self, key: impl Into<String>, value: Option<&[u8]>) -> &mut Self {
        self.0.push((key.into(), value.map(<[u8]>::to_vec)));
        self
    }
    /// Builder form of [`Headers::add`].
    pub fn with(mut self, key: impl Into<String>, value: impl AsRef<[u8]>) -> Self {
        self.add(key, Some(value.as_ref()));
        self
    }
    /// The last value for `key`, as Kafka's `Headers.lastHeader`.
    pub fn last(&self, key: &str) -> Option<Option<&[u8]>> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref())
    }
    /// All headers in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&[u8]>)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_deref()))
    }
    /// Number of headers.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Removes all headers, keeping the allocation.
    pub fn clear(&mut self) {
        self.0.clear();
    }
}

/// Where the record being processed came from: Kafka Streams' `RecordContext`.
/// Stateless operators keep timestamp and headers, so one context serves the
/// whole fused chain and every record it produces.
#[derive(Debug, Clone, Copy)]
pub struct RecordContext<'a> {
    /// Source topic.
    pub topic: &'a str,
    /// Source partition.
    pub partition: i32,
    /// Offset in the source partition.
    pub offset: i64,
    /// Record timestamp, milliseconds since the epoch.
    pub timestamp: i64,
    /// Record headers.
    pub headers: &'a Headers,
}

/// One consumed record in its serialised form: the processor entry point.
#[derive(Debug, Clone, Copy)]
pub struct SourceRecord<'a> {
    /// Where it came from, with timestamp and headers.
    pub context: RecordContext<'a>,
    /// Key bytes (`None` = null).
    pub key: Option<&'a [u8]>,
    /// Value bytes (`None` = null).
    pub value: Option<&'a [u8]>,
}
