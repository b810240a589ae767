//! Parsing the `--master` / `--zk` forms Mesos accepts.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MasterLocation {
    /// A fixed `host:port` (port defaults to 5050).
    Direct { host: String, port: u16 },
    /// `zk://[user:pass@]h1:2181,h2:2181/path`.
    ZooKeeper { servers: Vec<String>, path: String },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    #[error("empty master address")]
    Empty,
    #[error("invalid master address '{0}': {1}")]
    Invalid(String, String),
    #[error("failed to read master address from '{0}': {1}")]
    File(PathBuf, String),
}

impl MasterLocation {
    pub fn parse(text: &str) -> Result<MasterLocation, ParseError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(ParseError::Empty);
        }
        if let Some(path) = t.strip_prefix("file://") {
            let content = std::fs::read_to_string(path)
                .map_err(|e| ParseError::File(PathBuf::from(path), e.to_string()))?;
            return MasterLocation::parse(&content);
        }
        if let Some(rest) = t.strip_prefix("zk://") {
            let rest = rest.rsplit_once('@').map(|(_, r)| r).unwrap_or(rest);
            let (hosts, path) = rest
                .split_once('/')
                .ok_or_else(|| ParseError::Invalid(t.into(), "missing znode path".into()))?;
            let servers: Vec<String> = hosts
                .split(',')
                .filter(|h| !h.is_empty())
                .map(String::from)
                .collect();
            if servers.is_empty() {
                return Err(ParseError::Invalid(t.into(), "no ZooKeeper servers".into()));
            }
            return Ok(MasterLocation::ZooKeeper {
                servers,
                path: format!("/{}", path.trim_end_matches('/')),
            });
        }
        let hostport = t.strip_prefix("http://").unwrap_or(t).trim_end_matches('/');
        let hostport = hostport.strip_prefix("master@").unwrap_or(hostport);
        let (host, port) = match hostport.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<u16>()
                    .map_err(|_| ParseError::Invalid(t.into(), format!("bad port '{p}'")))?,
            ),
            None => (hostport, 5050),
        };
        if host.is_empty() || host.contains('/') {
            return Err(ParseError::Invalid(t.into(), "expected host:port".into()));
        }
        Ok(MasterLocation::Direct {
            host: host.to_string(),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            MasterLocation::parse("127.0.0.1:5050").unwrap(),
            MasterLocation::Direct {
                host: "127.0.0.1".into(),
                port: 5050
            }
        );
        assert_eq!(
            MasterLocation::parse("m1").unwrap(),
            MasterLocation::Direct {
                host: "m1".into(),
                port: 5050
            }
        );
        assert_eq!(
            MasterLocation::parse("http://m1:6000/").unwrap(),
            MasterLocation::Direct {
                host: "m1".into(),
                port: 6000
            }
        );
        assert_eq!(
            MasterLocation::parse("zk://u:p@h1:2181,h2:2181/mesos").unwrap(),
            MasterLocation::ZooKeeper {
                servers: vec!["h1:2181".into(), "h2:2181".into()],
                path: "/mesos".into()
            }
        );
        assert!(MasterLocation::parse("m1:notaport").is_err());
        assert!(MasterLocation::parse("zk://h1").is_err());
        assert!(MasterLocation::parse("").is_err());
    }
}
