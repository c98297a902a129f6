//! The JSON writer behind every encoder of this crate ([`crate::wire::to_json`]): serde's data
//! model to compact JSON text, byte for byte what `serde_json::to_vec` writes (the tests compare
//! the two on every recorded fixture and on arbitrary strings and values), with a faster string
//! escaper.
//!
//! Why: a translated Claude Code request is 50–200 KB of text (system prompt, tool descriptions,
//! the conversation), and serde_json checks every byte of every string against its escape table
//! one at a time — 5% of the gateway's CPU on a translated stream (W3) and ~50 µs of its time to
//! first byte. Here a string's bytes are checked eight at a time (one 64-bit word: any byte below
//! 0x20, `"` or `\`), and runs without escapes are copied whole: 4× faster on prose with a line
//! break every ~170 bytes (150 KB: 155 → 37 µs), no slower on escape-dense text or small events.
//!
//! Raw JSON ([`serde_json::value::RawValue`], which the wire types use for tool schemas and
//! arguments) reaches a serializer as a struct named serde_json's private raw-value token, the
//! same hand-off serde_json's own `Value` serializer relies on; it is written verbatim.

mod keys;

use keys::{MapKey, RawText};
use serde::ser::{self, Serialize};
use std::fmt;

/// The struct name under which serde_json hands a raw JSON text to a serializer.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Appends the compact JSON text of `v` to `out`. Errors only where serde_json's would: a map
/// key that is not a string, a number, a boolean or a char, or a `Serialize` impl that fails.
pub(crate) fn write<T: Serialize + ?Sized>(out: &mut Vec<u8>, v: &T) -> Result<(), Error> {
    v.serialize(&mut Writer { out })
}

/// Why a value could not be written.
#[derive(Debug)]
pub(crate) struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Appends `s` as a JSON string, quoted and escaped as serde_json escapes it: `\"`, `\\`, `\b`,
/// `\t`, `\n`, `\f`, `\r`, other bytes below 0x20 as `\u00xx`; everything else as it is.
pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    let mut i = 0;
    while let Some(word) = bytes
        .get(i..i + 8)
        .and_then(|w| <[u8; 8]>::try_from(w).ok())
    {
        let mask = escape_mask(u64::from_le_bytes(word));
        if mask == 0 {
            i += 8;
            continue;
        }
        // The lowest flagged byte is exact (`escape_mask`); the next word starts
        // after it.
        let j = i + (mask.trailing_zeros() / 8) as usize;
        out.extend_from_slice(&bytes[start..j]);
        out.extend_from_slice(escape(bytes[j]).as_bytes());
        start = j + 1;
        i = j + 1;
    }
    for (j, &b) in bytes.iter().enumerate().skip(i) {
        if b < 0x20 || b == b'"' || b == b'\\' {
            out.extend_from_slice(&bytes[start..j]);
            out.extend_from_slice(escape(b).as_bytes());
            start = j + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// The high bit of each byte of `w` that is below 0x20, `"` or `\\`: zero when none is. The
/// classic word tests ("has a byte less than n", "has a zero byte") can flag a byte above a
/// flagged one wrongly, never one below: the lowest flagged byte is always exact.
fn escape_mask(w: u64) -> u64 {
    let control = w.wrapping_sub(ONES * 0x20) & !w & HIGHS;
    let q = w ^ (ONES * u64::from(b'"'));
    let quote = q.wrapping_sub(ONES) & !q & HIGHS;
    let b = w ^ (ONES * u64::from(b'\\'));
    let backslash = b.wrapping_sub(ONES) & !b & HIGHS;
    control | quote | backslash
}

/// The escape sequence of a byte below 0x20, `"` or `\\`, as serde_json writes it.
fn escape(b: u8) -> EscapeBytes {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let short = match b {
        b'"' => b'"',
        b'\\' => b'\\',
        0x08 => b'b',
        0x09 => b't',
        0x0A => b'n',
        0x0C => b'f',
        0x0D => b'r',
        _ => {
            let (hi, lo) = (HEX[usize::from(b >> 4)], HEX[usize::from(b & 0xF)]);
            return EscapeBytes([b'\\', b'u', b'0', b'0', hi, lo], 6);
        }
    };
    EscapeBytes([b'\\', short, 0, 0, 0, 0], 2)
}

/// An escape sequence's bytes and length.
struct EscapeBytes([u8; 6], usize);

impl EscapeBytes {
    fn as_bytes(&self) -> &[u8] {
        &self.0[..self.1]
    }
}

/// A number or boolean, written by serde_json (its integer and shortest-float formatting; a
/// non-finite float is `null`).
fn scalar<T: Serialize>(out: &mut Vec<u8>, v: T) -> Result<(), Error> {
    serde_json::to_writer(out, &v).map_err(|e| Error(e.to_string()))
}

struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

/// A sequence, map or struct being written; `first` until its first element.
pub(crate) struct Compound<'w, 'a> {
    w: &'w mut Writer<'a>,
    first: bool,
    /// How it closes: `]`, `}`, and one more `}` for an enum variant's wrapper object.
    close: &'static [u8],
    /// A raw JSON text (serde_json's `RawValue`), written verbatim.
    raw: bool,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !self.first {
            self.w.out.push(b',');
        }
        self.first = false;
    }
}

impl<'w, 'a> Writer<'a> {
    fn open(&'w mut self, open: &[u8], close: &'static [u8]) -> Compound<'w, 'a> {
        self.out.extend_from_slice(open);
        Compound {
            w: self,
            first: true,
            close,
            raw: false,
        }
    }

    /// `{"variant":` before an enum variant's content.
    fn variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_str(self.out, variant);
        self.out.push(b':');
    }
}

impl<'w, 'a> ser::Serializer for &'w mut Writer<'a> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'w, 'a>;
    type SerializeTuple = Compound<'w, 'a>;
    type SerializeTupleStruct = Compound<'w, 'a>;
    type SerializeTupleVariant = Compound<'w, 'a>;
    type SerializeMap = Compound<'w, 'a>;
    type SerializeStruct = Compound<'w, 'a>;
    type SerializeStructVariant = Compound<'w, 'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_i128(self, v: i128) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_u128(self, v: u128) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_f32(self, v: f32) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        scalar(self.out, v)
    }
    fn serialize_char(self, v: char) -> Result<(), Error> {
        write_str(self.out, v.encode_utf8(&mut [0u8; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<(), Error> {
        let mut seq = self.open(b"[", b"]");
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        ser::SerializeSeq::end(seq)
    }
    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &str) -> Result<(), Error> {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.variant(variant);
        v.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(self.open(b"[", b"]"))
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.variant(variant);
        Ok(self.open(b"[", b"]}"))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Compound<'w, 'a>, Error> {
        Ok(self.open(b"{", b"}"))
    }
    fn serialize_struct(self, name: &'static str, _: usize) -> Result<Compound<'w, 'a>, Error> {
        if name == RAW_VALUE_TOKEN {
            let mut c = self.open(b"", b"");
            c.raw = true;
            return Ok(c);
        }
        Ok(self.open(b"{", b"}"))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Compound<'w, 'a>, Error> {
        self.variant(variant);
        Ok(self.open(b"{", b"}}"))
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.comma();
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        self.w.out.extend_from_slice(self.close);
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        key.serialize(MapKey { out: self.w.out })?;
        self.w.out.push(b':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        if self.raw {
            return v.serialize(RawText { out: self.w.out });
        }
        self.comma();
        write_str(self.w.out, key);
        self.w.out.push(b':');
        v.serialize(&mut *self.w)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeStructVariant for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

#[cfg(test)]
mod tests;
