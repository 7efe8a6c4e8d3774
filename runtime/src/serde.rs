//! Serialisation of keys and values: one trait, [`Serde`], implemented for the
//! types Kafka Streams ships serdes for, byte-compatible with them.
//!
//! Kafka has no "null" in its type system but records do: absent key or value
//! bytes. In weir a null is `None` of an `Option<T>` (or `()` for keys that are
//! always absent); a non-optional type refuses null bytes with an error instead
//! of inventing a value.

use std::fmt;

/// Why bytes could not become a value, or a value could not become bytes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SerdeError {
    /// Null (absent) bytes where the type has no null; use `Option<T>`.
    #[error("null bytes for non-nullable type `{type_name}` (use Option<{type_name}> for nullable data)")]
    UnexpectedNull {
        /// The Rust type that was asked for.
        type_name: &'static str,
    },
    /// A fixed-width type got the wrong number of bytes.
    #[error("`{type_name}` needs {expected} bytes, got {actual}")]
    WrongSize {
        /// The Rust type that was asked for.
        type_name: &'static str,
        /// Bytes the type is encoded in.
        expected: usize,
        /// Bytes that came.
        actual: usize,
    },
    /// A string that is not UTF-8.
    #[error("invalid UTF-8: {0}")]
    Utf8(String),
    /// JSON that does not parse into the type, or a value JSON cannot encode.
    #[error("JSON: {0}")]
    Json(String),
}

/// How a type becomes record bytes and back.
///
/// `serialize` writes into `out` (empty on entry, reused across records so
/// serialising allocates nothing once warm) and returns `false` for null, in
/// which case `out` is ignored. `deserialize` gets `None` for null bytes.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a Kafka key or value type: it does not implement `weir::Serde`",
    label = "`{Self}` is a key or value type of this topology",
    note = "for a type that implements serde's `Serialize`/`Deserialize`, use `weir::Json<{Self}>`; or implement `weir::Serde`"
)]
pub trait Serde: Sized {
    /// Encodes `self`; returns `Ok(false)` for null.
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError>;
    /// Decodes bytes (`None` = null).
    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError>;

    /// True when this value is null (serialises to absent bytes): Kafka
    /// Streams' `value == null` checks, without serialising.
    #[inline]
    fn is_null(&self) -> bool {
        false
    }
}

#[inline]
fn non_null<T>(data: Option<&[u8]>) -> Result<&[u8], SerdeError> {
    data.ok_or(SerdeError::UnexpectedNull {
        type_name: std::any::type_name::<T>(),
    })
}

impl Serde for String {
    #[inline]
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        out.extend_from_slice(self.as_bytes());
        Ok(true)
    }
    #[inline]
    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        let bytes = non_null::<String>(data)?;
        match std::str::from_utf8(bytes) {
            Ok(s) => Ok(s.to_owned()),
            Err(e) => Err(SerdeError::Utf8(e.to_string())),
        }
    }
}

impl Serde for Vec<u8> {
    #[inline]
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        out.extend_from_slice(self);
        Ok(true)
    }
    #[inline]
    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        Ok(non_null::<Vec<u8>>(data)?.to_vec())
    }
}

macro_rules! big_endian_serde {
    ($($t:ty),*) => {$(
        impl Serde for $t {
            #[inline]
            fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
                out.extend_from_slice(&self.to_be_bytes());
                Ok(true)
            }
            #[inline]
            fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
                let bytes = non_null::<$t>(data)?;
                let array = bytes.try_into().map_err(|_| SerdeError::WrongSize {
                    type_name: stringify!($t),
                    expected: std::mem::size_of::<$t>(),
                    actual: bytes.len(),
                })?;
                Ok(<$t>::from_be_bytes(array))
            }
        }
    )*};
}

// Kafka's IntegerSerializer, LongSerializer and DoubleSerializer write
// big-endian two's complement / IEEE 754; unsigned types use the same width.
big_endian_serde!(i32, i64, u32, u64, f64);

/// Always-null data, like Kafka's `VoidSerde`: serialises to null. Unlike
/// `VoidSerde`, deserialising ignores any bytes that are present, so a stream
/// whose keys are irrelevant can be read as `()` keys.
impl Serde for () {
    #[inline]
    fn is_null(&self) -> bool {
        true
    }
    #[inline]
    fn serialize(&self, _out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        Ok(false)
    }
    fn deserialize(_data: Option<&[u8]>) -> Result<Self, SerdeError> {
        Ok(())
    }
}

/// Nullable data: `None` is null bytes.
impl<T: Serde> Serde for Option<T> {
    #[inline]
    fn is_null(&self) -> bool {
        self.as_ref().is_none_or(T::is_null)
    }
    #[inline]
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        match self {
            Some(v) => v.serialize(out),
            None => Ok(false),
        }
    }
    #[inline]
    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        match data {
            None => Ok(None),
            Some(_) => T::deserialize(data).map(Some),
        }
    }
}

/// A serde type carried as JSON (UTF-8, as Kafka's JSON serdes write it).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Json<T>(pub T);

impl<T: fmt::Debug> fmt::Debug for Json<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl<T: ::serde::Serialize + ::serde::de::DeserializeOwned> Serde for Json<T> {
    #[inline]
    fn serialize(&self, out: &mut Vec<u8>) -> Result<bool, SerdeError> {
        serde_json::to_writer(out, &self.0).map_err(|e| SerdeError::Json(e.to_string()))?;
        Ok(true)
    }
    #[inline]
    fn deserialize(data: Option<&[u8]>) -> Result<Self, SerdeError> {
        let bytes = non_null::<Json<T>>(data)?;
        serde_json::from_slice(bytes)
            .map(Json)
            .map_err(|e| SerdeError::Json(e.to_string()))
    }
}

/// Serialises `value` into a fresh buffer; `None` for null. For tests and
/// tooling; the hot path serialises into reused buffers.
pub fn to_bytes<T: Serde>(value: &T) -> Result<Option<Vec<u8>>, SerdeError> {
    let mut out = Vec::new();
    Ok(value.serialize(&mut out)?.then_some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Serde + PartialEq + fmt::Debug>(value: T) -> Option<Vec<u8>> {
        let bytes = to_bytes(&value).unwrap();
        assert_eq!(T::deserialize(bytes.as_deref()).unwrap(), value);
        bytes
    }

    #[test]
    fn primitives_match_kafka_serializers() {
        // Bytes as org.apache.kafka.common.serialization.*Serializer writes them.
        assert_eq!(round_trip(1i32), Some(vec![0, 0, 0, 1]));
        assert_eq!(round_trip(-2i32), Some(vec![0xff, 0xff, 0xff, 0xfe]));
        assert_eq!(round_trip(258i64), Some(vec![0, 0, 0, 0, 0, 0, 1, 2]));
        assert_eq!(round_trip(7u32), Some(vec![0, 0, 0, 7]));
        assert_eq!(round_trip(u64::MAX), Some(vec![0xff; 8]));
        assert_eq!(round_trip(1.5f64), Some(vec![0x3f, 0xf8, 0, 0, 0, 0, 0, 0]));
        assert_eq!(
            round_trip("héllo".to_string()),
            Some("héllo".as_bytes().to_vec())
        );
        assert_eq!(round_trip(vec![1u8, 2, 3]), Some(vec![1, 2, 3]));
    }

    #[test]
    fn nulls_are_explicit() {
        assert_eq!(round_trip(()), None);
        assert_eq!(round_trip(None::<String>), None);
        assert_eq!(round_trip(Some(3i64)), Some(vec![0, 0, 0, 0, 0, 0, 0, 3]));
        assert_eq!(<() as Serde>::deserialize(Some(b"ignored")), Ok(()));
        let err = String::deserialize(None).unwrap_err();
        assert!(
            err.to_string().contains("Option<alloc::string::String>"),
            "{err}"
        );
    }

    #[test]
    fn malformed_bytes_are_errors_not_panics() {
        assert_eq!(
            i64::deserialize(Some(&[1, 2, 3])),
            Err(SerdeError::WrongSize {
                type_name: "i64",
                expected: 8,
                actual: 3
            })
        );
        assert!(matches!(
            String::deserialize(Some(&[0xff, 0xfe])),
            Err(SerdeError::Utf8(_))
        ));
        assert!(matches!(
            Json::<Vec<i32>>::deserialize(Some(b"{not json")),
            Err(SerdeError::Json(_))
        ));
    }

    #[test]
    fn json_round_trips() {
        #[derive(::serde::Serialize, ::serde::Deserialize, PartialEq, Debug)]
        struct Order {
            id: u32,
            item: String,
        }
        let bytes = round_trip(Json(Order {
            id: 7,
            item: "tea".into(),
        }))
        .unwrap();
        assert_eq!(bytes, br#"{"id":7,"item":"tea"}"#);
    }
}
