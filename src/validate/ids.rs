//! V1: the ids inside the protocol's JSON read as the model's. A trace names an actor by its
//! [`Id`](stateright::actor::Id) (a number: its address); the model numbers its actors from 0.
//! The mapping is made while the protocol's types are decoded, wherever a type says it holds
//! an `Id` (a newtype struct of that name, in a value or as a map's key), and nowhere else: a
//! number that merely equals an address's `Id` is left as it is.
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IntoDeserializer, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// An address's `Id` as a number, to its model `Id` as a number (V1).
pub(crate) type IdMap = BTreeMap<u64, u64>;

/// `T` decoded from `de`, each `Id` in it mapped through `ids` (one not in `ids` kept).
pub(crate) fn decode_mapped<'de, T, D>(de: D, ids: &IdMap) -> Result<T, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    T::deserialize(Mapped { inner: de, ids })
}

/// A deserializer that maps every `Id` the type asks for.
struct Mapped<'a, D> {
    inner: D,
    ids: &'a IdMap,
}

/// A visitor, seed or access of the inner deserializer, passing the mapping on to whatever it
/// deserializes next.
struct Wrap<'a, X> {
    inner: X,
    ids: &'a IdMap,
}

/// The visitor of an `Id`: the number read, mapped.
struct IdVisitor<'a, V> {
    inner: V,
    ids: &'a IdMap,
}

impl<'a, X> Wrap<'a, X> {
    fn new(inner: X, ids: &'a IdMap) -> Self {
        Wrap { inner, ids }
    }
}

macro_rules! forward_deserialize {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
            self.inner.$method(Wrap::new(visitor, self.ids))
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Mapped<'_, D> {
    type Error = D::Error;

    forward_deserialize! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_unit_struct(name, Wrap::new(visitor, self.ids))
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        if name == "Id" {
            let ids = self.ids;
            return self.inner.deserialize_newtype_struct(
                name,
                IdVisitor {
                    inner: visitor,
                    ids,
                },
            );
        }
        self.inner
            .deserialize_newtype_struct(name, Wrap::new(visitor, self.ids))
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_tuple(len, Wrap::new(visitor, self.ids))
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_tuple_struct(name, len, Wrap::new(visitor, self.ids))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_struct(name, fields, Wrap::new(visitor, self.ids))
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.inner
            .deserialize_enum(name, variants, Wrap::new(visitor, self.ids))
    }

    fn is_human_readable(&self) -> bool {
        self.inner.is_human_readable()
    }
}

macro_rules! forward_visit {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, v: $ty) -> Result<Self::Value, E> {
            self.inner.$method(v)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    forward_visit! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String visit_bytes: &[u8]
        visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        self.inner.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_some(Mapped {
            inner: de,
            ids: self.ids,
        })
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.inner.visit_newtype_struct(Mapped {
            inner: de,
            ids: self.ids,
        })
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_seq(Wrap::new(seq, self.ids))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_map(Wrap::new(map, self.ids))
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<Self::Value, A::Error> {
        self.inner.visit_enum(Wrap::new(data, self.ids))
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for IdVisitor<'_, V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.inner.expecting(f)
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        let raw = u64::deserialize(de)?;
        let id = self.ids.get(&raw).copied().unwrap_or(raw);
        self.inner
            .visit_newtype_struct(IntoDeserializer::<'de, D::Error>::into_deserializer(id))
    }
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Wrap<'_, S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        self.inner.deserialize(Mapped {
            inner: de,
            ids: self.ids,
        })
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, A::Error> {
        self.inner.next_element_seed(Wrap::new(seed, self.ids))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        self.inner.next_key_seed(Wrap::new(seed, self.ids))
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(Wrap::new(seed, self.ids))
    }

    fn size_hint(&self) -> Option<usize> {
        self.inner.size_hint()
    }
}

impl<'de, 'a, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<'a, A> {
    type Error = A::Error;
    type Variant = Wrap<'a, A::Variant>;

    fn variant_seed<V: DeserializeSeed<'de>>(
        self,
        seed: V,
    ) -> Result<(V::Value, Self::Variant), A::Error> {
        let ids = self.ids;
        let (value, variant) = self.inner.variant_seed(Wrap::new(seed, ids))?;
        Ok((value, Wrap::new(variant, ids)))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<'_, A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.inner.unit_variant()
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, seed: T) -> Result<T::Value, A::Error> {
        self.inner.newtype_variant_seed(Wrap::new(seed, self.ids))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.inner.tuple_variant(len, Wrap::new(visitor, self.ids))
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.inner
            .struct_variant(fields, Wrap::new(visitor, self.ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::multi_paxos::{ClientCommand, KvOp, KvRet, LastApplied};
    use serde_json::Value;
    use stateright::actor::Id;
    use std::collections::BTreeMap;

    // V1: an `Id` is mapped where the type says it is one, in a value or as a map's key; a
    // number that equals a known address's `Id` elsewhere is left alone.
    #[test]
    fn ids_are_mapped_where_the_type_holds_an_id() {
        let (real, model) = (139_637_976_730_552_u64, 3_u64);
        let ids = IdMap::from([(real, model)]);
        let command = ClientCommand {
            client: Id::from(real as usize),
            request: real,
            op: KvOp::Get { key: 'x' },
        };
        let json: Value = serde_json::to_value(&command).expect("encodes");
        let mapped: ClientCommand<char> = decode_mapped(&json, &ids).expect("decodes");
        assert_eq!(mapped.client, Id::from(model as usize));
        assert_eq!(mapped.request, real, "a request number is no id");
        let last = LastApplied {
            request: 1,
            op: KvOp::Get { key: 'x' },
            ret: KvRet::GetOk { value: None },
        };
        let table = BTreeMap::from([(Id::from(real as usize), last.clone())]);
        let text = serde_json::to_string(&table).expect("encodes");
        let from_text: BTreeMap<Id, LastApplied<char>> =
            decode_mapped(&mut serde_json::Deserializer::from_str(&text), &ids).expect("text");
        let value: Value = serde_json::from_str(&text).expect("JSON");
        let from_value: BTreeMap<Id, LastApplied<char>> =
            decode_mapped(&value, &ids).expect("a value");
        let expected = BTreeMap::from([(Id::from(model as usize), last)]);
        assert_eq!(from_text, expected);
        assert_eq!(from_value, expected);
        let unknown: Id = decode_mapped(&Value::from(7), &ids).expect("decodes");
        assert_eq!(unknown, Id::from(7), "an id not in the table is kept");
    }
}
