//! A serde deserializer over a `serde_json::Value` that remembers where it is: every field the
//! target type ignores is reported by its path, and the first error carries the path of the
//! value it came from.
//!
//! One deserializer doing both jobs, rather than two generic wrappers stacked on serde_json's,
//! because every wrapper is instantiated again for each visitor of every kind: in the console's
//! wasm that stacking cost more than the model itself.

use serde::de::value::StringDeserializer;
use serde::de::{
    self, DeserializeSeed, EnumAccess, Error as _, IntoDeserializer, MapAccess, SeqAccess,
    Unexpected, VariantAccess, Visitor,
};
use serde_json::Value;

use crate::error::at;

/// What one decode found besides the value: ignored fields and where the error happened.
#[derive(Default)]
pub(crate) struct Findings {
    pub unknown: Vec<String>,
    pub error_at: Option<String>,
}

/// Deserializes one value at `path`, writing what it finds into `findings`.
pub(crate) struct Decoder<'f> {
    pub value: Value,
    pub path: String,
    pub findings: &'f mut Findings,
}

type Error = serde_json::Error;

fn unexpected(value: &Value) -> Unexpected<'_> {
    match value {
        Value::Null => Unexpected::Unit,
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => Unexpected::Unsigned(u),
            (None, Some(i)) => Unexpected::Signed(i),
            _ => Unexpected::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Unexpected::Str(s),
        Value::Array(_) => Unexpected::Seq,
        Value::Object(_) => Unexpected::Map,
    }
}

impl Decoder<'_> {
    /// Decodes `value` at `path`; on an error remembers `path` unless a deeper one was kept.
    fn nested<'de, S: DeserializeSeed<'de>>(
        findings: &mut Findings,
        seed: S,
        value: Value,
        path: String,
    ) -> Result<S::Value, Error> {
        let result = seed.deserialize(Decoder {
            value,
            path: path.clone(),
            findings: &mut *findings,
        });
        if result.is_err() && findings.error_at.is_none() {
            findings.error_at = Some(path);
        }
        result
    }
}

impl<'de> de::Deserializer<'de> for Decoder<'_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(b),
            Value::Number(n) => match (n.as_u64(), n.as_i64()) {
                (Some(u), _) => visitor.visit_u64(u),
                (None, Some(i)) => visitor.visit_i64(i),
                _ => visitor.visit_f64(n.as_f64().unwrap_or(f64::NAN)),
            },
            Value::String(s) => visitor.visit_string(s),
            Value::Array(items) => {
                let len = items.len();
                let mut seq = Seq {
                    items: items.into_iter().enumerate(),
                    path: self.path,
                    findings: self.findings,
                };
                let value = visitor.visit_seq(&mut seq)?;
                if seq.items.next().is_some() {
                    return Err(Error::invalid_length(len, &"fewer elements in array"));
                }
                Ok(value)
            }
            Value::Object(map) => {
                let len = map.len();
                let mut access = Fields {
                    entries: map.into_iter(),
                    pending: None,
                    path: self.path,
                    findings: self.findings,
                };
                let value = visitor.visit_map(&mut access)?;
                if access.entries.next().is_some() {
                    return Err(Error::invalid_length(len, &"fewer elements in map"));
                }
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::String(variant) => visitor.visit_enum(variant.into_deserializer()),
            Value::Object(map) if map.len() == 1 => {
                let Some((variant, value)) = map.into_iter().next() else {
                    return Err(Error::invalid_length(0, &"a map with a single key"));
                };
                visitor.visit_enum(Variant {
                    variant,
                    value,
                    path: self.path,
                    findings: self.findings,
                })
            }
            other => Err(Error::invalid_type(
                unexpected(&other),
                &"a string or a map with a single key",
            )),
        }
    }

    /// The target type has no place for this value: report it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        self.findings.unknown.push(self.path);
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

struct Seq<'f> {
    items: std::iter::Enumerate<std::vec::IntoIter<Value>>,
    path: String,
    findings: &'f mut Findings,
}

impl<'de> SeqAccess<'de> for Seq<'_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        let Some((index, value)) = self.items.next() else {
            return Ok(None);
        };
        let path = format!("{}[{index}]", self.path);
        Decoder::nested(self.findings, seed, value, path).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Fields<'f> {
    entries: serde_json::map::IntoIter,
    pending: Option<(String, Value)>,
    path: String,
    findings: &'f mut Findings,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let decoded = seed.deserialize(StringDeserializer::<Error>::new(key.clone()));
        self.pending = Some((key, value));
        decoded.map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        let Some((key, value)) = self.pending.take() else {
            return Err(Error::custom("a map value was read before its key"));
        };
        let path = at(&self.path, &key);
        Decoder::nested(self.findings, seed, value, path)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An externally tagged enum variant: `{variant: value}`.
struct Variant<'f> {
    variant: String,
    value: Value,
    path: String,
    findings: &'f mut Findings,
}

impl<'de, 'f> EnumAccess<'de> for Variant<'f> {
    type Error = Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Error> {
        let tag = seed.deserialize(StringDeserializer::<Error>::new(self.variant.clone()))?;
        Ok((tag, self))
    }
}

impl<'de> VariantAccess<'de> for Variant<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            Value::Null => Ok(()),
            other => Err(Error::invalid_type(unexpected(&other), &"unit variant")),
        }
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, Error> {
        let path = at(&self.path, &self.variant);
        Decoder::nested(self.findings, seed, self.value, path)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, Error> {
        let path = at(&self.path, &self.variant);
        let result = de::Deserializer::deserialize_any(
            Decoder {
                value: self.value,
                path: path.clone(),
                findings: &mut *self.findings,
            },
            visitor,
        );
        if result.is_err() && self.findings.error_at.is_none() {
            self.findings.error_at = Some(path);
        }
        result
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        self.tuple_variant(0, visitor)
    }
}
