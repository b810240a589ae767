//! The thin HTTP layer: GETs and POSTs to the master and agents, turning
//! every failure into one line an operator can act on (the daemon's own
//! `message` when it gave one).

use super::CliError;
use super::views::error_message;
use serde_json::Value;
use std::time::Duration;

/// A response body with its parsed JSON.
#[derive(Debug, Clone)]
pub struct Doc {
    pub raw: String,
    pub json: Value,
}

#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    /// `http://host:port` of the master.
    pub master: String,
}

/// The innermost cause of an error (reqwest's outer layers only say
/// "error sending request").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl Client {
    pub fn new(master: String) -> Result<Client, CliError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(60))
            .build()
            .map_err(|e| CliError::msg(format!("Cannot create an HTTP client: {e}")))?;
        Ok(Client { http, master })
    }

    /// GET `path` on the master.
    pub async fn get(&self, path: &str, query: &[(&str, &str)]) -> Result<Doc, CliError> {
        let url = with_query(format!("{}{path}", self.master), query);
        self.send(self.http.get(&url), "the master", &url)
            .await
            .and_then(|raw| parse(raw, &url))
    }

    /// GET `path` on the agent at `host:port`.
    pub async fn agent_get(
        &self,
        agent: &str,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<Doc, CliError> {
        let url = with_query(format!("http://{agent}{path}"), query);
        let what = format!("agent {agent}");
        self.send(self.http.get(&url), &what, &url)
            .await
            .and_then(|raw| parse(raw, &url))
    }

    /// POSTs `body` as JSON to `path` on the master; the answer's body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<String, CliError> {
        let url = format!("{}{path}", self.master);
        self.send(self.json_post(&url, body), "the master", &url)
            .await
    }

    /// A v1 operator call on the master (`POST /api/v1`); the answer's body.
    pub async fn operator(&self, call: &Value) -> Result<String, CliError> {
        self.post("/api/v1", call).await
    }

    /// A v1 operator call on the agent at `host:port`. A 404 means the
    /// agent has no operator API at all (an older agent).
    pub async fn agent_operator(&self, agent: &str, call: &Value) -> Result<String, CliError> {
        let url = format!("http://{agent}/slave(1)/api/v1");
        let what = format!("agent {agent}");
        self.send(self.json_post(&url, call), &what, &url).await
    }

    fn json_post(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json")
            .body(body.to_string())
    }

    async fn send(
        &self,
        req: reqwest::RequestBuilder,
        what: &str,
        url: &str,
    ) -> Result<String, CliError> {
        let resp = req.send().await.map_err(|e| {
            CliError::msg(format!("Cannot reach {what} at {url}: {}", root_cause(&e)))
        })?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| {
            CliError::msg(format!(
                "Failed to read the answer of {what} ({url}): {}",
                root_cause(&e)
            ))
        })?;
        if status.is_success() {
            Ok(body)
        } else {
            Err(CliError::Http {
                status: status.as_u16(),
                message: error_message(status.as_u16(), &body),
            })
        }
    }
}

fn parse(raw: String, url: &str) -> Result<Doc, CliError> {
    let json = serde_json::from_str(&raw)
        .map_err(|e| CliError::msg(format!("{url} did not answer JSON: {e}")))?;
    Ok(Doc { raw, json })
}

/// `url?k=v&...` with keys and values percent-encoded (reqwest's `query`
/// needs a feature the workspace does not enable).
fn with_query(mut url: String, query: &[(&str, &str)]) -> String {
    for (i, (k, v)) in query.iter().enumerate() {
        url.push(if i == 0 { '?' } else { '&' });
        url.push_str(&encode(k));
        url.push('=');
        url.push_str(&encode(v));
    }
    url
}

/// Percent-encodes all but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings() {
        assert_eq!(with_query("http://m/x".into(), &[]), "http://m/x");
        assert_eq!(
            with_query(
                "http://m/x".into(),
                &[("path", "/a b/std&out"), ("offset", "-1")]
            ),
            "http://m/x?path=%2Fa%20b%2Fstd%26out&offset=-1"
        );
        assert_eq!(encode("eng/dev-1"), "eng%2Fdev-1");
        assert_eq!(encode("ü"), "%C3%BC");
    }
}
