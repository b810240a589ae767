//! The two content types of the v1 APIs, how a request picks one (spec 0.2:
//! `Content-Type` for the body, `Accept` for the answer), and decoding and
//! encoding the API's messages in either.

use crate::{Message, transcode};
use prost::Message as _;
use prost_reflect::DynamicMessage;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value as Json;

/// `application/json` or `application/x-protobuf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ContentType {
    #[default]
    Json,
    Protobuf,
}

/// Why a request cannot be decoded or answered; [`CodecError::status`] is
/// the HTTP status Mesos gives it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CodecError {
    #[error("Expecting 'Content-Type' to be present")]
    MissingContentType,
    #[error("Expecting 'Content-Type' of application/json or application/x-protobuf, got '{0}'")]
    UnsupportedMediaType(String),
    #[error("Expecting 'Accept' to allow application/json or application/x-protobuf, got '{0}'")]
    NotAcceptable(String),
    /// The body is not a valid message (garbage, truncated, a wrong field
    /// type, a missing required field, ...): nothing was acted on.
    #[error("{0}")]
    Malformed(String),
    /// One of our own values could not be encoded (a bug, never input).
    #[error("{0}")]
    Encode(String),
}

impl CodecError {
    pub fn status(&self) -> u16 {
        match self {
            CodecError::MissingContentType | CodecError::Malformed(_) => 400,
            CodecError::UnsupportedMediaType(_) => 415,
            CodecError::NotAcceptable(_) => 406,
            CodecError::Encode(_) => 500,
        }
    }
}

pub const JSON: &str = "application/json";
pub const PROTOBUF: &str = "application/x-protobuf";

/// The media types of an `Accept` header with a non-zero quality.
fn accepted(accept: &str) -> impl Iterator<Item = String> + '_ {
    accept.split(',').filter_map(|part| {
        let mut params = part.split(';');
        let media = params.next().unwrap_or("").trim().to_ascii_lowercase();
        let refused = params.any(|p| {
            let p = p.trim();
            p.strip_prefix("q=")
                .and_then(|q| q.trim().parse::<f64>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        (!refused).then_some(media)
    })
}

impl ContentType {
    /// The MIME type, as sent in `Content-Type` and `Accept`.
    pub fn mime(self) -> &'static str {
        match self {
            ContentType::Json => JSON,
            ContentType::Protobuf => PROTOBUF,
        }
    }

    /// The body's type from `Content-Type` (its parameters, such as
    /// `; charset=utf-8`, are ignored): missing → 400, other → 415.
    pub fn from_content_type(header: Option<&str>) -> Result<ContentType, CodecError> {
        let header = header.ok_or(CodecError::MissingContentType)?;
        let media = header
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match media.as_str() {
            JSON => Ok(ContentType::Json),
            PROTOBUF => Ok(ContentType::Protobuf),
            _ => Err(CodecError::UnsupportedMediaType(header.to_string())),
        }
    }

    /// The answer's type from `Accept`, as Mesos picks it: JSON if JSON is
    /// acceptable (so also with no header, `*/*` or `application/*`), else
    /// protobuf if that is, else 406. `also_json` lists media types a
    /// handler treats as JSON too (the executor API's
    /// `application/recordio`).
    pub fn negotiate(accept: Option<&str>, also_json: &[&str]) -> Result<ContentType, CodecError> {
        let Some(accept) = accept else {
            return Ok(ContentType::Json);
        };
        let types: Vec<String> = accepted(accept).collect();
        let json = types.iter().any(|t| {
            matches!(t.as_str(), "" | "*/*" | "application/*" | JSON)
                || also_json.contains(&t.as_str())
        });
        if json {
            return Ok(ContentType::Json);
        }
        if types.iter().any(|t| t == PROTOBUF) {
            return Ok(ContentType::Protobuf);
        }
        Err(CodecError::NotAcceptable(accept.to_string()))
    }

    /// Decodes a body holding a `msg` into the serde type `T`. JSON is
    /// parsed leniently as stout does ([`mesos_types::json`]); protobuf is
    /// parsed, checked for required fields, and transcoded to the same
    /// JSON first.
    pub fn decode<T: DeserializeOwned>(self, msg: Message, body: &[u8]) -> Result<T, CodecError> {
        match self {
            ContentType::Json => mesos_types::json::from_slice(body).map_err(|e| {
                CodecError::Malformed(format!(
                    "Failed to parse body into {}: {e}",
                    msg.short_name()
                ))
            }),
            ContentType::Protobuf => {
                let json = protobuf_to_json(msg, body)?;
                mesos_types::json::from_value(json).map_err(|e| {
                    CodecError::Malformed(format!(
                        "Failed to convert {} protobuf: {e}",
                        msg.short_name()
                    ))
                })
            }
        }
    }

    /// Encodes one of our serde values as a `msg` body.
    pub fn encode<T: Serialize + ?Sized>(
        self,
        msg: Message,
        value: &T,
    ) -> Result<Vec<u8>, CodecError> {
        match self {
            ContentType::Json => serde_json::to_vec(value).map_err(|e| {
                CodecError::Encode(format!("Failed to render {}: {e}", msg.short_name()))
            }),
            ContentType::Protobuf => {
                let json = serde_json::to_value(value).map_err(|e| {
                    CodecError::Encode(format!("Failed to render {}: {e}", msg.short_name()))
                })?;
                json_to_protobuf(msg, &json)
            }
        }
    }

    /// [`ContentType::encode`] framed as one RecordIO record
    /// (`<length>\n<bytes>`), for event streams.
    pub fn record<T: Serialize + ?Sized>(
        self,
        msg: Message,
        value: &T,
    ) -> Result<Vec<u8>, CodecError> {
        self.encode(msg, value)
            .map(|bytes| mesos_types::recordio::encode(&bytes))
    }
}

/// Protobuf bytes of a `msg` as the JSON our serde types read: 400-class
/// errors for garbage, truncation and missing required fields.
pub fn protobuf_to_json(msg: Message, body: &[u8]) -> Result<Json, CodecError> {
    let decoded = DynamicMessage::decode(msg.descriptor(), body).map_err(|e| {
        CodecError::Malformed(format!(
            "Failed to parse body into {} protobuf: {e}",
            msg.short_name()
        ))
    })?;
    let missing = transcode::missing_required(&decoded);
    if !missing.is_empty() {
        // A hostile body can lack a field in each of millions of elements:
        // the message names the first few, and how many there are.
        const SHOWN: usize = 10;
        let more = match missing.len().saturating_sub(SHOWN) {
            0 => String::new(),
            n => format!(" and {n} more"),
        };
        return Err(CodecError::Malformed(format!(
            "Failed to parse body into {} protobuf: missing required fields: {}{more}",
            msg.short_name(),
            missing[..missing.len().min(SHOWN)].join(", ")
        )));
    }
    Ok(transcode::to_json(&decoded))
}

/// JSON (as our serde types write it) of a `msg` as protobuf bytes; a
/// value that does not fit its field is left out
/// ([`transcode::from_json_lenient`]).
pub fn json_to_protobuf(msg: Message, json: &Json) -> Result<Vec<u8>, CodecError> {
    let m = transcode::from_json_lenient(&msg.descriptor(), json).map_err(|e| {
        CodecError::Encode(format!(
            "Failed to encode {} as protobuf: {e}",
            msg.short_name()
        ))
    })?;
    Ok(m.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_type_header() {
        use ContentType::*;
        assert_eq!(
            ContentType::from_content_type(Some("application/json")),
            Ok(Json)
        );
        assert_eq!(
            ContentType::from_content_type(Some("application/json; charset=utf-8")),
            Ok(Json)
        );
        assert_eq!(
            ContentType::from_content_type(Some("application/x-protobuf")),
            Ok(Protobuf)
        );
        assert_eq!(
            ContentType::from_content_type(None).unwrap_err().status(),
            400
        );
        let e = ContentType::from_content_type(Some("text/plain")).unwrap_err();
        assert_eq!(e.status(), 415);
        assert!(e.to_string().contains("text/plain"));
    }

    #[test]
    fn accept_negotiation_prefers_json_then_protobuf() {
        use ContentType::*;
        let n = |a: Option<&str>| ContentType::negotiate(a, &[]);
        assert_eq!(n(None), Ok(Json));
        assert_eq!(n(Some("*/*")), Ok(Json));
        assert_eq!(n(Some("application/*")), Ok(Json));
        assert_eq!(n(Some("application/x-protobuf")), Ok(Protobuf));
        assert_eq!(
            n(Some("application/x-protobuf, application/json")),
            Ok(Json)
        );
        assert_eq!(
            n(Some("application/json;q=0, application/x-protobuf")),
            Ok(Protobuf)
        );
        assert_eq!(n(Some("text/html")).unwrap_err().status(), 406);
        assert_eq!(
            ContentType::negotiate(Some("application/recordio"), &["application/recordio"]),
            Ok(Json)
        );
    }
}
