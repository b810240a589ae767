//! Identifiers: every id is `{"value": "..."}` on the wire.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! id_type {
    ($($name:ident),*) => {$(
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
        pub struct $name {
            pub value: String,
        }
        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self { value: value.into() }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.value)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self { Self::new(s) }
        }
    )*};
}

id_type!(
    FrameworkID,
    AgentID,
    OfferID,
    TaskID,
    ExecutorID,
    OperationID
);

/// Longest id: ids become file names on the agent (`NAME_MAX`).
pub const MAX_ID_LEN: usize = 255;

/// Mesos's rule for ids that become path components on the agent (task,
/// executor and framework ids; `validateID` in `common/validation.cpp`),
/// with its messages.
pub fn validate_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("ID must not be empty".into());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "ID must not be greater than {MAX_ID_LEN} characters"
        ));
    }
    if id == "." || id == ".." {
        return Err(format!("'{id}' is disallowed"));
    }
    if id.chars().any(|c| c.is_control() || c == '/' || c == '\\') {
        return Err(format!("'{id}' contains invalid characters"));
    }
    Ok(())
}

/// Container ids may nest (`parent`) for nested containers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct ContainerID {
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Box<ContainerID>>,
}

/// Generates ids in the formats the Mesos master uses: frameworks
/// `<master-id>-0000`, agents `<master-id>-S0`, offers `<master-id>-O0`.
#[derive(Debug, Clone)]
pub struct IdGenerator {
    master_id: String,
    next_framework: u64,
    next_agent: u64,
    next_offer: u64,
}

impl IdGenerator {
    pub fn new(master_id: impl Into<String>) -> Self {
        Self {
            master_id: master_id.into(),
            next_framework: 0,
            next_agent: 0,
            next_offer: 0,
        }
    }

    pub fn master_id(&self) -> &str {
        &self.master_id
    }

    /// How many ids were issued so far (of every kind): moves whenever a
    /// framework, agent or offer got a new id.
    pub fn issued(&self) -> u64 {
        self.next_framework + self.next_agent + self.next_offer
    }

    pub fn framework(&mut self) -> FrameworkID {
        let id = FrameworkID::new(format!("{}-{:04}", self.master_id, self.next_framework));
        self.next_framework += 1;
        id
    }

    pub fn agent(&mut self) -> AgentID {
        let id = AgentID::new(format!("{}-S{}", self.master_id, self.next_agent));
        self.next_agent += 1;
        id
    }

    pub fn offer(&mut self) -> OfferID {
        let id = OfferID::new(format!("{}-O{}", self.master_id, self.next_offer));
        self.next_offer += 1;
        id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_follow_mesos_formats() {
        let mut g = IdGenerator::new("abc");
        assert_eq!(g.framework().value, "abc-0000");
        assert_eq!(g.framework().value, "abc-0001");
        assert_eq!(g.agent().value, "abc-S0");
        assert_eq!(g.offer().value, "abc-O0");
        assert_eq!(g.offer().value, "abc-O1");
    }

    #[test]
    fn ids_must_be_single_path_components() {
        for ok in ["t1", "a.b", "...", "x-y_z", &"x".repeat(255)] {
            assert_eq!(validate_id(ok), Ok(()), "{ok}");
        }
        assert_eq!(validate_id(""), Err("ID must not be empty".into()));
        assert_eq!(validate_id(".."), Err("'..' is disallowed".into()));
        assert_eq!(validate_id("."), Err("'.' is disallowed".into()));
        for bad in ["a/b", "a\\b", "a\0b", "a\nb", "\u{7f}"] {
            assert!(validate_id(bad).unwrap_err().contains("invalid characters"));
        }
        assert!(validate_id(&"x".repeat(256)).unwrap_err().contains("255"));
    }

    #[test]
    fn id_json_is_value_object() {
        let id = TaskID::new("t1");
        assert_eq!(serde_json::to_string(&id).unwrap(), r#"{"value":"t1"}"#);
    }
}
