//! The writer against serde_json: the same bytes for every value.

use super::*;
use proptest::prelude::*;
use serde::Serialize;
use serde_json::json;
use serde_json::value::RawValue;

fn ours<T: Serialize + ?Sized>(v: &T) -> String {
    let mut out = Vec::new();
    write(&mut out, v).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn every_escape_is_serde_jsons() {
    let all: String = (0u8..0x80).map(char::from).collect();
    for s in [
        all.as_str(),
        "",
        "plain",
        "tab\there \"quoted\" back\\slash\nnew line\r\u{7f}\u{1f}é漢🙂",
        "\"\"\"\"\"\"\"\"\"",
        "12345678\n",
        "1234567\n8",
    ] {
        assert_eq!(ours(s), serde_json::to_string(s).unwrap(), "{s:?}");
    }
}

#[derive(Serialize)]
enum E {
    Unit,
    New(u8),
    Tuple(u8, String),
    Struct { a: Option<f64>, b: char },
}

#[derive(Serialize)]
struct S<'a> {
    raw: &'a RawValue,
    boxed: Box<RawValue>,
    e: Vec<E>,
    keys: std::collections::BTreeMap<u32, bool>,
    bytes: &'a [u8],
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<u8>,
    unit: (),
    tuple: (i64, f32, u128),
}

#[test]
fn the_data_model_is_written_as_serde_json_writes_it() {
    let raw = RawValue::from_string(r#"{"type": "object" , "x":[1, 2]}"#.into()).unwrap();
    let s = S {
        raw: &raw,
        boxed: raw.clone(),
        e: vec![
            E::Unit,
            E::New(7),
            E::Tuple(1, "t\"".into()),
            E::Struct {
                a: Some(f64::NAN),
                b: '\n',
            },
            E::Struct {
                a: Some(0.1),
                b: 'x',
            },
        ],
        keys: [(1, true), (20, false)].into(),
        bytes: b"\x00\xff",
        skipped: None,
        unit: (),
        tuple: (-5, 1.5, u128::MAX),
    };
    assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
    let v = json!({"a": [1, -2.5, "x\u{1}", null, true, {"b": {}}, []], "c": 1e300});
    assert_eq!(ours(&v), serde_json::to_string(&v).unwrap());
}

#[test]
fn a_map_with_keys_serde_json_refuses_is_an_error() {
    let m: std::collections::BTreeMap<Vec<u8>, u8> = [(vec![1], 1)].into();
    assert!(serde_json::to_string(&m).is_err());
    let mut out = Vec::new();
    assert!(write(&mut out, &m).is_err());
}

#[test]
fn every_recorded_json_fixture_is_written_as_serde_json_writes_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(ours(&v), serde_json::to_string(&v).unwrap(), "{path:?}");
            seen += 1;
        }
    }
    assert!(seen >= 3, "only {seen} fixtures in {dir:?}");
}

proptest! {
    #[test]
    fn any_string_is_escaped_as_serde_json_escapes_it(s in "\\PC*|[\\x00-\\x7f]{0,40}") {
        prop_assert_eq!(ours(&s), serde_json::to_string(&s).unwrap());
    }
}
