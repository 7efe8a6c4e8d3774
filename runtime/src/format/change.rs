//! A table change on a table `group_by`'s repartition topic: the new and
//! the old value in one record (weir's own format; Kafka Streams sends two
//! records). One flag byte (bit 0: new present, bit 1: old present), the
//! new value's length (4 bytes, big-endian), the new value, the old value.

use crate::error::{ProcessError, RecordPart};
use crate::format::record::ser;
use crate::record::SourceRecord;
use crate::serde::{Serde, SerdeError};

/// Encodes a change (new and old value, either null) into `out`.
pub fn encode_change<'b, V: Serde>(
    new: &V,
    old: &V,
    out: &'b mut Vec<u8>,
    scratch: &mut Vec<u8>,
    sink: &'static str,
) -> Result<&'b [u8], ProcessError> {
    out.clear();
    out.extend_from_slice(&[0, 0, 0, 0, 0]);
    let mut flags = 0u8;
    if let Some(bytes) = ser(new, scratch, sink, RecordPart::Value)? {
        flags |= 1;
        out[1..5].copy_from_slice(&u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(bytes);
    }
    if let Some(bytes) = ser(old, scratch, sink, RecordPart::Value)? {
        flags |= 2;
        out.extend_from_slice(bytes);
    }
    out[0] = flags;
    Ok(out)
}

/// Decodes a change written by [`encode_change`] from a record's value.
pub fn decode_change<V: Serde>(record: &SourceRecord<'_>) -> Result<(V, V), ProcessError> {
    let error = |source: SerdeError| ProcessError::Deserialization {
        topic: record.context.topic.to_owned(),
        partition: record.context.partition,
        offset: record.context.offset,
        part: RecordPart::Value,
        source,
    };
    let corrupt = |what: &str| error(SerdeError::Json(format!("not a table change: {what}")));
    let bytes = record.value.ok_or_else(|| corrupt("null"))?;
    let (head, rest) = bytes
        .split_first_chunk::<5>()
        .ok_or_else(|| corrupt("too short"))?;
    let flags = head[0];
    let new_len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    let (new_bytes, old_bytes) = if flags & 1 != 0 {
        if rest.len() < new_len {
            return Err(corrupt("truncated"));
        }
        rest.split_at(new_len)
    } else {
        (&rest[..0], rest)
    };
    let decode = |present: bool, b: &[u8]| -> Result<V, ProcessError> {
        V::deserialize(present.then_some(b)).map_err(error)
    };
    Ok((
        decode(flags & 1 != 0, new_bytes)?,
        decode(flags & 2 != 0, old_bytes)?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{Headers, RecordContext};

    fn decode(bytes: &[u8]) -> Result<(Option<String>, Option<String>), ProcessError> {
        let headers = Headers::new();
        let record = SourceRecord {
            context: RecordContext {
                topic: "t",
                partition: 0,
                offset: 0,
                timestamp: 0,
                headers: &headers,
            },
            key: None,
            value: Some(bytes),
        };
        decode_change(&record)
    }

    #[test]
    fn new_and_old_either_null_round_trip() {
        let (mut out, mut scratch) = (Vec::new(), Vec::new());
        for (new, old) in [
            (Some("new".to_owned()), Some("old".to_owned())),
            (None, Some("old".to_owned())),
            (Some("new".to_owned()), None),
            (None, None),
        ] {
            let bytes = encode_change(&new, &old, &mut out, &mut scratch, "s")
                .unwrap()
                .to_vec();
            assert_eq!(decode(&bytes).unwrap(), (new, old));
        }
        assert!(decode(&[1, 0, 0, 0, 9, b'x']).is_err(), "truncated");
    }
}
