//! What the stack's web UIs (the Mesos master's, Marathon's, Chronos's)
//! share, so that they have one look and one behaviour, written once:
//!
//! - [`layout`]: the page frame (navigation bar, badge, footer) and the
//!   friendly error page;
//! - [`table`]: server-side sorted, filtered and paginated tables that work
//!   without JavaScript and stay fast at 100k rows (only one page of rows
//!   is ever rendered);
//! - [`format`]: how times, sizes and resources are written;
//! - [`live`]: the change counter that tells open pages to refresh;
//! - [`assets`]: the hand-written CSS and JavaScript, embedded in the
//!   binary (no npm, no CDN: clusters often have no internet);
//! - `harness` (feature `harness`): the headless-Chromium test harness
//!   every UI's browser tests use.
//!
//! Pages are rendered on the server with askama templates (checked at
//! compile time, escaping by default). The script only enhances them:
//! table navigation without full reloads, live updates when the server
//! says something changed, and tailing a file.

pub mod assets;
pub mod blocks;
pub mod format;
#[cfg(feature = "harness")]
pub mod harness;
pub mod layout;
pub mod live;
pub mod table;

use std::fmt;

/// Markup that is safe to insert as is: built only from escaped text and
/// literal tags by the functions of this crate (and [`Html::trusted`] for
/// literals written in code).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Html(String);

impl Html {
    /// Escaped text.
    pub fn text(s: &str) -> Html {
        Html(escape(s))
    }

    /// Markup written in code, never from input.
    pub fn trusted(s: impl Into<String>) -> Html {
        Html(s.into())
    }

    /// `<a href="..">text</a>` with both escaped.
    pub fn link(href: &str, text: &str) -> Html {
        Html(format!("<a href=\"{}\">{}</a>", escape(href), escape(text)))
    }

    /// `<span class="..">text</span>`.
    pub fn span(class: &str, text: &str) -> Html {
        Html(format!(
            "<span class=\"{}\">{}</span>",
            escape(class),
            escape(text)
        ))
    }

    pub fn push(&mut self, more: &Html) {
        self.0.push_str(&more.0);
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for Html {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

// Askama inserts an `Html` without escaping it again.
impl askama::filters::HtmlSafe for Html {}

/// Escapes text for HTML content and quoted attributes, exactly as the
/// templates do (askama's HTML escaper: `&#60;`, `&#34;`, ...).
pub fn escape(s: &str) -> String {
    match askama::filters::escape(s, askama::filters::Html) {
        Ok(safe) => safe.to_string(),
        Err(never) => match never {},
    }
}

/// Percent-encodes a URL query value or path segment (everything but
/// unreserved characters), so ids with `/`, `?` or `#` survive a link.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XX` and `+` in a query value; `None` if not valid UTF-8.
pub fn url_decode(s: &str) -> Option<String> {
    decode(s, true)
}

/// Decodes `%XX` in a path segment (a `+` stays a `+`); `None` if not
/// valid UTF-8.
pub fn path_decode(s: &str) -> Option<String> {
    decode(s, false)
}

fn decode(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' if plus_is_space => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b'%' => return None,
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Parses a query string into pairs (later keys win), decoding values.
pub fn parse_query(query: Option<&str>) -> std::collections::BTreeMap<String, String> {
    let mut map = std::collections::BTreeMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if let (Some(k), Some(v)) = (url_decode(k), url_decode(v)) {
            map.insert(k, v);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            Html::text("<script>alert('x')</script> & \"y\"").as_str(),
            "&#60;script&#62;alert(&#39;x&#39;)&#60;/script&#62; &#38; &#34;y&#34;"
        );
        assert_eq!(
            Html::link("/a?b=\"c\"", "<b>").as_str(),
            "<a href=\"/a?b=&#34;c&#34;\">&#60;b&#62;</a>"
        );
    }

    #[test]
    fn url_encoding_round_trips() {
        for s in ["plain", "a b/c?d#e&f=g", "ünï", "%", "+"] {
            assert_eq!(url_decode(&url_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(url_decode("%zz"), None);
        assert_eq!(url_decode("%4"), None);
        assert_eq!(url_decode("a+b%20c").as_deref(), Some("a b c"));
        assert_eq!(path_decode("a+b%20c").as_deref(), Some("a+b c"));
    }

    #[test]
    fn query_parsing_decodes_values() {
        let q = parse_query(Some("t.q=a%20b&t.page=2&flag&bad=%zz"));
        assert_eq!(q.get("t.q").map(String::as_str), Some("a b"));
        assert_eq!(q.get("t.page").map(String::as_str), Some("2"));
        assert_eq!(q.get("flag").map(String::as_str), Some(""));
        assert!(!q.contains_key("bad"));
    }
}
