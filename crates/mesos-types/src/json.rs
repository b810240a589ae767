//! Parsing JSON request bodies the way Mesos's JSON-to-protobuf parser does
//! (spec 0.0): an explicit `null` is an unset field whatever the field's type,
//! numbers may arrive as strings, doubles as `"Infinity"`, bools as `"true"`.
//!
//! Nulls are handled once for every field by [`from_slice`]: it removes
//! `null` object members before typed deserialization, so serde sees an
//! absent field (its default, or "missing field" if it is required, which is
//! what Mesos answers too). Numbers and bools given as strings need to know
//! the field's type, so those fields carry `deserialize_with` helpers from
//! [`de`]; the helpers work in every serde path, including the buffered one
//! of internally tagged enums such as the agent protocol's `AgentCall`.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses a request body leniently (see the module docs).
///
/// A body without the bytes `null` anywhere parses directly; only a body
/// that mentions `null` pays for the intermediate `Value` and the pre-pass.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<T> {
    if !contains_null(bytes) {
        return serde_json::from_slice(bytes);
    }
    let mut v: Value = serde_json::from_slice(bytes)?;
    strip_nulls(&mut v);
    serde_json::from_value(v)
}

/// [`from_slice`] for an already parsed value.
pub fn from_value<T: DeserializeOwned>(mut v: Value) -> serde_json::Result<T> {
    strip_nulls(&mut v);
    serde_json::from_value(v)
}

fn contains_null(bytes: &[u8]) -> bool {
    bytes.windows(4).any(|w| w == b"null")
}

/// Removes every object member whose value is `null`, at any depth. Array
/// elements are left alone: a `null` inside a list is not an unset field.
pub fn strip_nulls(v: &mut Value) {
    // Iterative so that a deeply nested body cannot exhaust the stack
    // (serde_json's parser already caps depth at 128, but values can come
    // from elsewhere).
    let mut stack = vec![v];
    while let Some(v) = stack.pop() {
        match v {
            Value::Object(m) => {
                m.retain(|_, x| !x.is_null());
                stack.extend(m.values_mut());
            }
            Value::Array(a) => stack.extend(a.iter_mut()),
            _ => {}
        }
    }
}

/// `deserialize_with` helpers for scalar fields: each accepts the JSON type
/// of the field or a string holding it.
pub mod de {
    use serde::Deserialize;
    use serde::de::{Deserializer, Error};
    use serde_json::Value;

    /// A protobuf scalar type as stout parses it from JSON.
    pub trait Scalar: Sized {
        const NAME: &'static str;
        fn from_json(v: &Value) -> Option<Self>;
    }

    macro_rules! int_scalar {
        ($($t:ty),*) => {$(
            impl Scalar for $t {
                const NAME: &'static str = stringify!($t);
                fn from_json(v: &Value) -> Option<Self> {
                    match v {
                        Value::Number(n) => {
                            if let Some(i) = n.as_i64() {
                                <$t>::try_from(i).ok()
                            } else {
                                n.as_u64().and_then(|u| <$t>::try_from(u).ok())
                            }
                        }
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }
                }
            }
        )*};
    }
    int_scalar!(i32, i64, u32, u64);

    impl Scalar for f64 {
        const NAME: &'static str = "double";
        fn from_json(v: &Value) -> Option<Self> {
            match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => match s.trim() {
                    "Infinity" => Some(f64::INFINITY),
                    "-Infinity" => Some(f64::NEG_INFINITY),
                    // Rust also reads "inf" and "NaN"; stout does not.
                    t => t.parse::<f64>().ok().filter(|x| x.is_finite()),
                },
                _ => None,
            }
        }
    }

    impl Scalar for bool {
        const NAME: &'static str = "bool";
        fn from_json(v: &Value) -> Option<Self> {
            match v {
                Value::Bool(b) => Some(*b),
                Value::String(s) if s == "true" => Some(true),
                Value::String(s) if s == "false" => Some(false),
                _ => None,
            }
        }
    }

    fn convert<T: Scalar, E: Error>(v: &Value) -> Result<T, E> {
        T::from_json(v).ok_or_else(|| E::custom(format!("expected a {}, got {v}", T::NAME)))
    }

    /// A required or defaulted scalar field.
    pub fn scalar<'de, D: Deserializer<'de>, T: Scalar>(d: D) -> Result<T, D::Error> {
        convert(&Value::deserialize(d)?)
    }

    /// An optional scalar field (`null` is unset).
    pub fn opt<'de, D: Deserializer<'de>, T: Scalar>(d: D) -> Result<Option<T>, D::Error> {
        match Option::<Value>::deserialize(d)? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => convert(&v).map(Some),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    struct T {
        #[serde(default, deserialize_with = "de::scalar")]
        a: f64,
        #[serde(default, deserialize_with = "de::opt")]
        b: Option<u32>,
        #[serde(default, deserialize_with = "de::scalar")]
        c: bool,
        #[serde(default)]
        v: Vec<String>,
    }

    #[test]
    fn nulls_are_unset_and_scalars_may_be_strings() {
        let t: T = from_slice(br#"{"a":"Infinity","b":"42","c":"true","v":null}"#).unwrap();
        assert_eq!(
            t,
            T {
                a: f64::INFINITY,
                b: Some(42),
                c: true,
                v: vec![]
            }
        );
        let t: T = from_slice(br#"{"a":null,"b":null,"c":null,"v":["x"]}"#).unwrap();
        assert_eq!(t.a, 0.0);
        assert_eq!(t.b, None);
        assert_eq!(t.v, vec!["x".to_string()]);
        assert_eq!(
            from_slice::<T>(br#"{"a":"-Infinity"}"#).unwrap().a,
            f64::NEG_INFINITY
        );
    }

    #[test]
    fn wrong_or_out_of_range_scalars_are_errors() {
        for bad in [
            r#"{"a":"NaN"}"#,
            r#"{"a":"inf"}"#,
            r#"{"a":"x"}"#,
            r#"{"b":"-1"}"#,
            r#"{"b":4294967296}"#,
            r#"{"c":"yes"}"#,
            r#"{"c":1}"#,
            r#"{"v":[null]}"#,
        ] {
            assert!(from_slice::<T>(bad.as_bytes()).is_err(), "{bad}");
        }
    }

    #[test]
    fn strip_nulls_reaches_every_depth_but_keeps_array_elements() {
        let mut v = serde_json::json!({"a":null,"b":[{"c":null,"d":1},null],"e":{"f":{"g":null}}});
        strip_nulls(&mut v);
        assert_eq!(v, serde_json::json!({"b":[{"d":1},null],"e":{"f":{}}}));
    }
}
