//! JSON ⇄ protobuf, driven by a message's descriptor, with the rules of
//! Mesos's own JSON mapping (stout's `protobuf.hpp`, spec 0.0 and 0.2)
//! rather than proto3's canonical JSON:
//!
//! * keys are proto field names; keys the message does not define are
//!   ignored; `null` is an unset field (a `null` list element is an error);
//! * enums are names; an unknown name in an optional field or a list is
//!   dropped, in a required field it is an error; numbers are accepted too,
//!   because that is how an enum value we do not know is rendered;
//! * integers of any width may be numbers or strings holding one; doubles
//!   also `"Infinity"`/`"-Infinity"`; bools also `"true"`/`"false"`;
//! * bytes are standard base64; maps are objects; well-known types (the
//!   `google.protobuf.Duration` of DRAIN_AGENT) are plain messages
//!   (`{"seconds": .., "nanos": ..}`), as stout treats them;
//! * rendering emits the fields that are set (and non-empty lists), 64-bit
//!   integers as JSON numbers, enums by name.
//!
//! Rendering does not add the proto2 defaults of unset fields (stout does):
//! the JSON only ever feeds our serde types, whose own defaults are those
//! of the protos, so an unset field reads the same either way, and a
//! message survives JSON → protobuf → JSON unchanged.

use base64::Engine;
use prost_reflect::{
    Cardinality, DynamicMessage, FieldDescriptor, Kind, MapKey, MessageDescriptor, ReflectMessage,
    Value,
};
use serde_json::{Map, Number, Value as Json};
use std::collections::HashMap;

/// What was wrong with a JSON value for a message; names the field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct TranscodeError(pub String);

fn err<T>(msg: impl Into<String>) -> Result<T, TranscodeError> {
    Err(TranscodeError(msg.into()))
}

/// Builds a message of type `desc` from JSON (see the module docs); a
/// value that does not fit its field is an error naming the field.
pub fn from_json(desc: &MessageDescriptor, json: &Json) -> Result<DynamicMessage, TranscodeError> {
    build(desc, json, false)
}

/// [`from_json`] that leaves out a field whose value does not fit it,
/// instead of failing the whole message. For encoding our own answers and
/// events: the sub-messages our serde types pass through as raw JSON are
/// not validated on the way in (Mesos would have refused such a value),
/// and a protobuf client had better get the event without the bad field
/// than not at all.
pub fn from_json_lenient(
    desc: &MessageDescriptor,
    json: &Json,
) -> Result<DynamicMessage, TranscodeError> {
    build(desc, json, true)
}

fn build(
    desc: &MessageDescriptor,
    json: &Json,
    lenient: bool,
) -> Result<DynamicMessage, TranscodeError> {
    let Json::Object(obj) = json else {
        return err(format!(
            "Expecting a JSON object for message '{}'",
            desc.name()
        ));
    };
    let mut msg = DynamicMessage::new(desc.clone());
    for (key, v) in obj {
        let Some(field) = desc.get_field_by_name(key) else {
            continue; // unknown keys are ignored, as stout does
        };
        if v.is_null() {
            continue;
        }
        match field_from_json(&field, v, lenient) {
            Ok(Some(value)) => msg.set_field(&field, value),
            Ok(None) => {}
            Err(_) if lenient => {}
            Err(e) => return Err(e),
        }
    }
    if lenient {
        // A field left out may have been a required one: then this message
        // is the thing to leave out (C++ clients refuse a message that
        // lacks a required field, and with it the whole event).
        if let Some(f) = desc
            .fields()
            .find(|f| f.cardinality() == Cardinality::Required && !msg.has_field(f))
        {
            return err(format!(
                "Missing required field '{}' of '{}'",
                f.name(),
                desc.name()
            ));
        }
    }
    Ok(msg)
}

fn field_from_json(
    field: &FieldDescriptor,
    v: &Json,
    lenient: bool,
) -> Result<Option<Value>, TranscodeError> {
    if field.is_map() {
        let Json::Object(entries) = v else {
            return err(format!(
                "Expecting a JSON object for field '{}'",
                field.name()
            ));
        };
        let Kind::Message(entry) = field.kind() else {
            return err(format!("Field '{}' is not a map", field.name()));
        };
        let key_field = entry.map_entry_key_field();
        let value_field = entry.map_entry_value_field();
        let mut map = HashMap::with_capacity(entries.len());
        for (k, v) in entries {
            let key = map_key(&key_field, k)?;
            if v.is_null() {
                continue;
            }
            match scalar_or_message(&value_field, v, lenient) {
                Ok(Some(value)) => {
                    map.insert(key, value);
                }
                Ok(None) => {}
                Err(_) if lenient => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Some(Value::Map(map)));
    }
    if field.is_list() {
        let Json::Array(items) = v else {
            return err(format!(
                "Expecting a JSON array for field '{}'",
                field.name()
            ));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if item.is_null() {
                return err(format!(
                    "Not expecting a JSON null in the array of field '{}'",
                    field.name()
                ));
            }
            // An unknown enum name in a list is dropped; so is, when
            // lenient, an element that does not fit.
            match scalar_or_message(field, item, lenient) {
                Ok(Some(value)) => out.push(value),
                Ok(None) => {}
                Err(_) if lenient => {}
                Err(e) => return Err(e),
            }
        }
        return Ok(Some(Value::List(out)));
    }
    if v.is_array() {
        return err(format!(
            "Not expecting a JSON array for field '{}'",
            field.name()
        ));
    }
    scalar_or_message(field, v, lenient)
}

/// One value of `field`'s type; `None` for an enum name that does not
/// exist in an optional position.
fn scalar_or_message(
    field: &FieldDescriptor,
    v: &Json,
    lenient: bool,
) -> Result<Option<Value>, TranscodeError> {
    let name = field.name();
    let bad = |what: &str| err(format!("Expecting {what} for field '{name}', got {v}"));
    Ok(Some(match field.kind() {
        Kind::Double => match float(v) {
            Some(x) => Value::F64(x),
            None => return bad("a number"),
        },
        Kind::Float => match float(v) {
            Some(x) => Value::F32(x as f32),
            None => return bad("a number"),
        },
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => {
            match int(v).and_then(|i| i32::try_from(i).ok()) {
                Some(x) => Value::I32(x),
                None => return bad("a 32-bit integer"),
            }
        }
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => match int(v) {
            Some(x) => Value::I64(x),
            None => return bad("a 64-bit integer"),
        },
        Kind::Uint32 | Kind::Fixed32 => match uint(v).and_then(|u| u32::try_from(u).ok()) {
            Some(x) => Value::U32(x),
            None => return bad("an unsigned 32-bit integer"),
        },
        Kind::Uint64 | Kind::Fixed64 => match uint(v) {
            Some(x) => Value::U64(x),
            None => return bad("an unsigned 64-bit integer"),
        },
        Kind::Bool => match v {
            Json::Bool(b) => Value::Bool(*b),
            Json::String(s) if s == "true" => Value::Bool(true),
            Json::String(s) if s == "false" => Value::Bool(false),
            _ => return bad("a bool"),
        },
        Kind::String => match v {
            Json::String(s) => Value::String(s.clone()),
            _ => return bad("a string"),
        },
        Kind::Bytes => match v {
            Json::String(s) => match decode_base64(s) {
                Some(b) => Value::Bytes(b.into()),
                None => return bad("base64"),
            },
            _ => return bad("a base64 string"),
        },
        Kind::Enum(e) => {
            let number = match v {
                Json::String(s) => e.get_value_by_name(s).map(|x| x.number()),
                Json::Number(n) => n
                    .as_i64()
                    .and_then(|i| i32::try_from(i).ok())
                    .filter(|i| e.get_value(*i).is_some()),
                _ => return bad("an enum name"),
            };
            match number {
                Some(n) => Value::EnumNumber(n),
                None if field.cardinality() == Cardinality::Required => {
                    return err(format!("Failed to find enum for '{}'", json_text(v)));
                }
                None => return Ok(None),
            }
        }
        Kind::Message(m) => Value::Message(build(&m, v, lenient)?),
    }))
}

fn json_text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn map_key(key_field: &FieldDescriptor, k: &str) -> Result<MapKey, TranscodeError> {
    fn parse<T: std::str::FromStr>(k: &str, f: &FieldDescriptor) -> Result<T, TranscodeError> {
        k.parse()
            .map_err(|_| TranscodeError(format!("Invalid map key '{k}' for field '{}'", f.name())))
    }
    Ok(match key_field.kind() {
        Kind::String => MapKey::String(k.to_string()),
        Kind::Bool => MapKey::Bool(parse(k, key_field)?),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => MapKey::I32(parse(k, key_field)?),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => MapKey::I64(parse(k, key_field)?),
        Kind::Uint32 | Kind::Fixed32 => MapKey::U32(parse(k, key_field)?),
        Kind::Uint64 | Kind::Fixed64 => MapKey::U64(parse(k, key_field)?),
        _ => {
            return err(format!(
                "Invalid map key '{k}' for field '{}'",
                key_field.name()
            ));
        }
    })
}

fn float(v: &Json) -> Option<f64> {
    match v {
        Json::Number(n) => n.as_f64(),
        Json::String(s) => match s.trim() {
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            t => t.parse::<f64>().ok().filter(|x| x.is_finite()),
        },
        _ => None,
    }
}

fn int(v: &Json) -> Option<i64> {
    match v {
        Json::Number(n) => n.as_i64().or_else(|| integral(n.as_f64()?)),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn uint(v: &Json) -> Option<u64> {
    match v {
        Json::Number(n) => n
            .as_u64()
            .or_else(|| integral(n.as_f64()?).and_then(|i| u64::try_from(i).ok())),
        Json::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `5.0` is an integer to stout (JSON has one number type); `5.5` is not.
fn integral(f: f64) -> Option<i64> {
    (f.fract() == 0.0 && f.abs() < 9.0e15).then_some(f as i64)
}

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|e| e.decode(s).ok())
}

/// Renders a message as JSON (see the module docs).
pub fn to_json(msg: &DynamicMessage) -> Json {
    let mut out = Map::new();
    for (field, value) in msg.fields() {
        let rendered = match value {
            Value::List(items) if items.is_empty() => continue,
            Value::Map(m) if m.is_empty() => continue,
            Value::List(items) => {
                Json::Array(items.iter().map(|v| value_json(&field, v)).collect())
            }
            Value::Map(m) => map_json(&field, m),
            v => value_json(&field, v),
        };
        out.insert(field.name().to_string(), rendered);
    }
    Json::Object(out)
}

fn map_json(field: &FieldDescriptor, m: &HashMap<MapKey, Value>) -> Json {
    let value_field = match field.kind() {
        Kind::Message(entry) => entry.map_entry_value_field(),
        _ => return Json::Object(Map::new()),
    };
    let mut out = Map::new();
    for (k, v) in m {
        let key = match k {
            MapKey::Bool(b) => b.to_string(),
            MapKey::I32(i) => i.to_string(),
            MapKey::I64(i) => i.to_string(),
            MapKey::U32(u) => u.to_string(),
            MapKey::U64(u) => u.to_string(),
            MapKey::String(s) => s.clone(),
        };
        out.insert(key, value_json(&value_field, v));
    }
    Json::Object(out)
}

fn value_json(field: &FieldDescriptor, v: &Value) -> Json {
    match v {
        Value::Bool(b) => Json::Bool(*b),
        Value::I32(i) => Json::from(*i),
        Value::I64(i) => Json::from(*i),
        Value::U32(u) => Json::from(*u),
        Value::U64(u) => Json::from(*u),
        Value::F32(f) => double_json(f64::from(*f)),
        Value::F64(f) => double_json(*f),
        Value::String(s) => Json::String(s.clone()),
        Value::Bytes(b) => Json::String(base64::engine::general_purpose::STANDARD.encode(b)),
        Value::EnumNumber(n) => match field.kind() {
            Kind::Enum(e) => match e.get_value(*n) {
                Some(v) => Json::String(v.name().to_string()),
                None => Json::from(*n),
            },
            _ => Json::from(*n),
        },
        Value::Message(m) => to_json(m),
        Value::List(items) => Json::Array(items.iter().map(|v| value_json(field, v)).collect()),
        Value::Map(m) => map_json(field, m),
    }
}

fn double_json(f: f64) -> Json {
    match Number::from_f64(f) {
        Some(n) => Json::Number(n),
        None if f == f64::INFINITY => Json::from("Infinity"),
        None if f == f64::NEG_INFINITY => Json::from("-Infinity"),
        None => Json::from("NaN"),
    }
}

/// The required fields `msg` lacks, as dotted paths (`status.task_id`),
/// at any depth: what the C++ protobuf library refuses to parse or
/// serialize, and Mesos answers "Missing required fields" for.
pub fn missing_required(msg: &DynamicMessage) -> Vec<String> {
    let mut out = Vec::new();
    collect_missing(msg, "", &mut out);
    out
}

fn collect_missing(msg: &DynamicMessage, prefix: &str, out: &mut Vec<String>) {
    let desc = msg.descriptor();
    for field in desc.fields() {
        if field.cardinality() == Cardinality::Required && !msg.has_field(&field) {
            out.push(format!("{prefix}{}", field.name()));
        }
    }
    for (field, value) in msg.fields() {
        let path = format!("{prefix}{}", field.name());
        match value {
            Value::Message(m) => collect_missing(m, &format!("{path}."), out),
            Value::List(items) => {
                for (i, v) in items.iter().enumerate() {
                    if let Value::Message(m) = v {
                        collect_missing(m, &format!("{path}[{i}]."), out);
                    }
                }
            }
            Value::Map(m) => {
                for (k, v) in m {
                    if let Value::Message(m) = v {
                        collect_missing(m, &format!("{path}[{k:?}]."), out);
                    }
                }
            }
            _ => {}
        }
    }
}
