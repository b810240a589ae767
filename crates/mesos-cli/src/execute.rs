//! `mesos-execute`: run one command as a throwaway framework (spec 10).
//!
//! The pure parts (choosing an offer, building the task, formatting the
//! original's output lines) live here and are unit-tested; the binary in
//! `src/bin/mesos-execute.rs` drives them over the scheduler SDK.

use clap::Parser;
use mesos_types::*;

#[derive(Parser, Debug, Clone)]
#[command(name = "mesos-execute", version = MESOS_VERSION, args_override_self = true, rename_all = "snake_case")]
pub struct ExecuteFlags {
    /// Master: `host:port`, `zk://host:2181/mesos` (the leading master,
    /// followed if another takes over) or `file:///path` holding either.
    #[arg(long)]
    pub master: String,
    /// Task name, also used as the task id.
    #[arg(long)]
    pub name: String,
    /// Command to run.
    #[arg(long)]
    pub command: Option<String>,
    /// Run the command through `/bin/sh -c` (false: `command` is an executable, no arguments).
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub shell: bool,
    /// Environment as a JSON object, e.g. `{"K":"V"}`.
    #[arg(long)]
    pub env: Option<String>,
    /// Task resources.
    #[arg(long, default_value = "cpus:1;mem:128")]
    pub resources: String,
    #[arg(long, default_value = "mesos-execute instance")]
    pub framework_name: String,
    #[arg(long, default_value = "*")]
    pub role: String,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = false)]
    pub checkpoint: bool,
    #[arg(long, num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set, default_value_t = true)]
    pub partition_aware: bool,
    /// Kill the task this long after it is RUNNING (e.g. `10secs`).
    #[arg(long)]
    pub kill_after: Option<mesos_flags::Duration>,
    /// `protobuf` (the original's default) or `json`: how calls and events
    /// are encoded on the scheduler API.
    #[arg(long, default_value = "protobuf")]
    pub content_type: String,
    #[arg(long, default_value = "mesos")]
    pub containerizer: String,
    #[arg(long)]
    pub docker_image: Option<String>,
    #[arg(long)]
    pub principal: Option<String>,
    #[arg(long)]
    pub secret: Option<String>,
    #[arg(long)]
    pub framework_capabilities: Option<String>,
}

impl ExecuteFlags {
    /// `--content_type` (checked by [`ExecuteFlags::validate`]).
    pub fn content_type(&self) -> mesos_scheduler::ContentType {
        match self.content_type.as_str() {
            "json" => mesos_scheduler::ContentType::Json,
            _ => mesos_scheduler::ContentType::Protobuf,
        }
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.command.is_none() {
            return Err("Missing flag '--command'".into());
        }
        if self.docker_image.is_some() {
            return Err(
                "--docker_image needs the Docker containerizer, which this build does not have yet"
                    .into(),
            );
        }
        if self.content_type != "protobuf" && self.content_type != "json" {
            return Err(format!(
                "Invalid --content_type '{}': expected 'json' or 'protobuf'",
                self.content_type
            ));
        }
        Resources::parse(&self.resources, "*").map_err(|e| format!("Invalid --resources: {e}"))?;
        if let Some(e) = &self.env {
            parse_env(e)?;
        }
        Ok(())
    }

    pub fn framework_info(&self, user: String) -> FrameworkInfo {
        let mut caps = vec![
            FrameworkCapability::RESERVATION_REFINEMENT,
            FrameworkCapability::TASK_KILLING_STATE,
            FrameworkCapability::REVOCABLE_RESOURCES,
        ];
        if self.partition_aware {
            caps.push(FrameworkCapability::PARTITION_AWARE);
        }
        FrameworkInfo {
            user,
            name: self.framework_name.clone(),
            checkpoint: self.checkpoint,
            role: Some(self.role.clone()),
            principal: self.principal.clone(),
            capabilities: caps
                .into_iter()
                .map(|k| Capability { kind: Some(k) })
                .collect(),
            ..Default::default()
        }
    }

    /// The task for `offer`.
    pub fn task(&self, agent_id: AgentID) -> TaskInfo {
        let resources = Resources::parse(&self.resources, "*").unwrap_or_default();
        let environment = self
            .env
            .as_deref()
            .and_then(|e| parse_env(e).ok())
            .map(|vars| Environment {
                variables: vars
                    .into_iter()
                    .map(|(name, value)| EnvVariable {
                        name,
                        kind: Some(EnvVarType::VALUE),
                        value: Some(value),
                        secret: None,
                    })
                    .collect(),
            });
        TaskInfo {
            name: self.name.clone(),
            task_id: TaskID::new(self.name.clone()),
            agent_id,
            resources: resources.to_wire(true),
            command: Some(CommandInfo {
                value: self.command.clone(),
                shell: self.shell,
                environment,
                ..Default::default()
            }),
            ..Default::default()
        }
    }
}

pub fn parse_env(text: &str) -> Result<Vec<(String, String)>, String> {
    let v: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("Invalid --env JSON: {e}"))?;
    let obj = v.as_object().ok_or("--env must be a JSON object")?;
    obj.iter()
        .map(|(k, v)| match v {
            serde_json::Value::String(s) => Ok((k.clone(), s.clone())),
            other => Ok((k.clone(), other.to_string())),
        })
        .collect()
}

/// The first offer whose unreserved resources (or those reserved for `role`) hold `need`.
pub fn pick_offer<'a>(offers: &'a [Offer], need: &Resources, role: &str) -> Option<&'a Offer> {
    offers.iter().find(|o| {
        Resources::from_wire(o.resources.iter().cloned())
            .unallocated()
            .usable_by(role)
            .contains(need)
    })
}

/// The lines the original prints for a status update.
pub fn format_update(s: &TaskStatus) -> String {
    let mut out = format!(
        "Received status update {} for task '{}'",
        s.state, s.task_id
    );
    if let Some(m) = &s.message {
        out.push_str(&format!("\n  message: '{m}'"));
    }
    if let Some(src) = s.source {
        out.push_str(&format!("\n  source: {src}"));
    }
    if let Some(r) = s.reason {
        out.push_str(&format!("\n  reason: {r}"));
    }
    if let Some(h) = s.healthy {
        out.push_str(&format!("\n  healthy?: {}", u8::from(h)));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(extra: &[&str]) -> ExecuteFlags {
        let mut a = vec![
            "mesos-execute",
            "--master=m:5050",
            "--name=hello",
            "--command=echo hi",
        ];
        a.extend_from_slice(extra);
        ExecuteFlags::parse_from(a)
    }

    #[test]
    fn formats_like_the_original() {
        let mut s = TaskStatus::new("hello".into(), TaskState::TASK_FINISHED);
        s.message = Some("Command exited with status 0".into());
        s.source = Some(Source::SOURCE_EXECUTOR);
        assert_eq!(
            format_update(&s),
            "Received status update TASK_FINISHED for task 'hello'\n  message: 'Command exited with status 0'\n  source: SOURCE_EXECUTOR"
        );
    }

    #[test]
    fn picks_first_fitting_offer() {
        let mk = |id: &str, r: &str| Offer {
            id: OfferID::new(id),
            framework_id: "f".into(),
            agent_id: AgentID::new(id),
            hostname: "h".into(),
            url: None,
            resources: Resources::parse(r, "*").unwrap().to_wire(true),
            attributes: vec![],
            executor_ids: vec![],
            allocation_info: None,
            unavailability: None,
        };
        let offers = vec![mk("small", "cpus:0.5;mem:64"), mk("big", "cpus:2;mem:1024")];
        let need = Resources::parse("cpus:1;mem:128", "*").unwrap();
        assert_eq!(pick_offer(&offers, &need, "*").unwrap().id.value, "big");
        assert!(pick_offer(&offers[..1], &need, "*").is_none());
    }

    #[test]
    fn builds_task_and_validates() {
        let f = flags(&["--env={\"A\":\"1\"}", "--shell=false"]);
        f.validate().unwrap();
        let t = f.task("a1".into());
        assert_eq!(t.task_id.value, "hello");
        let c = t.command.unwrap();
        assert!(!c.shell);
        assert_eq!(
            c.environment.unwrap().variables[0].value.as_deref(),
            Some("1")
        );
        assert!(flags(&["--env=[1]"]).validate().is_err());
        assert!(flags(&["--resources=cpus:x"]).validate().is_err());
        assert!(flags(&["--docker_image=busybox"]).validate().is_err());
    }
}
