//! `POST /api/v1` (also `/api/v1/operator`, where pymesos posts): the v1
//! operator API (spec 5). Served: GET_HEALTH, GET_FLAGS, GET_VERSION,
//! GET_METRICS, GET_LOGGING_LEVEL, SET_LOGGING_LEVEL (through
//! `mesos_daemon::logging`), LIST_FILES and READ_FILE (`/master/log`),
//! GET_STATE, GET_AGENTS, GET_FRAMEWORKS, GET_EXECUTORS, GET_TASKS,
//! GET_ROLES, GET_WEIGHTS, UPDATE_WEIGHTS, GET_MASTER, SUBSCRIBE, TEARDOWN,
//! MARK_AGENT_GONE, the quota calls, the maintenance calls,
//! DRAIN/DEACTIVATE/REACTIVATE_AGENT and the reservation and volume calls.
//! Every other call of `mesos.v1.master.Call`
//! is recognised and answered 501 with its name.
//!
//! Calls arrive as JSON or protobuf (`Content-Type`); every answer, and
//! the SUBSCRIBE stream, is written in the encoding `Accept` asks for
//! (spec 0.2, 5.1).
//!
//! The state calls copy what they show under the book's lock
//! ([`crate::operator::StateView`]) and render it on a blocking thread.

use super::policy::change;
use super::{encoded_response, parse_v1_call, response_content_type};
use crate::error::ApiError;
use crate::operator::{Parts, StateView};
use crate::server::Shared;
use crate::state_json;
use axum::body::Body;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use mesos_proto::{ContentType, Message};
use mesos_types::operator::OperatorCall;
use mesos_types::{AgentID, OperatorCallType, Resources};
use serde_json::{Map, Value as Json, json};
use std::collections::BTreeMap;
use std::sync::Arc;

pub async fn handle(
    shared: Arc<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (call, _): (OperatorCall, _) = parse_v1_call(
        &method,
        &headers,
        body,
        shared.flags.max_request_body_bytes,
        Message::MasterCall,
    )
    .await?;
    let ct = response_content_type(&headers)?;
    use OperatorCallType as T;
    let kind = call.kind;
    let payload = match kind {
        T::GET_HEALTH => json!({"healthy": true}),
        T::GET_FLAGS => {
            let flags: Vec<Json> = shared
                .effective_flags
                .iter()
                .map(|(k, v)| json!({"name": k, "value": v}))
                .collect();
            json!({ "flags": flags })
        }
        T::GET_VERSION => json!({ "version_info": state_json::version() }),
        T::GET_METRICS => {
            let metrics: Vec<Json> = super::metrics_snapshot(&shared)
                .await
                .into_iter()
                .map(|(name, value)| json!({"name": name, "value": value}))
                .collect();
            json!({ "metrics": metrics })
        }
        T::GET_LOGGING_LEVEL => json!({"level": shared.logging.level()}),
        T::SET_LOGGING_LEVEL => {
            let Some(s) = call.set_logging_level else {
                return Err(missing("set_logging_level"));
            };
            let nanos = u64::try_from(s.duration.nanoseconds).map_err(|_| {
                ApiError::BadRequest("'set_logging_level.duration' must not be negative".into())
            })?;
            shared
                .logging
                .set_for(s.level, std::time::Duration::from_nanos(nanos));
            return Ok(StatusCode::OK.into_response());
        }
        T::LIST_FILES => {
            let Some(l) = call.list_files else {
                return Err(missing("list_files"));
            };
            mesos_daemon::files::http::list_files(super::files::roots(&shared), &l.path).await?
        }
        T::READ_FILE => {
            let Some(r) = call.read_file else {
                return Err(missing("read_file"));
            };
            let roots = super::files::roots(&shared);
            mesos_daemon::files::http::read_file(roots, &r.path, r.offset, r.length).await?
        }
        T::GET_STATE => {
            return state_call(&shared, ct, kind, Parts::ALL, |v, e| {
                e.encode(&v.state_body())
            })
            .await;
        }
        T::GET_AGENTS => {
            return state_call(&shared, ct, kind, only(|p| p.agents = true), |v, e| {
                e.encode(&v.agents_json())
            })
            .await;
        }
        T::GET_FRAMEWORKS => {
            let parts = only(|p| p.frameworks = true);
            return state_call(&shared, ct, kind, parts, |v, e| {
                e.encode(&v.frameworks_json())
            })
            .await;
        }
        T::GET_EXECUTORS => {
            let parts = only(|p| p.executors = true);
            return state_call(&shared, ct, kind, parts, |v, e| {
                e.encode(&v.executors_json())
            })
            .await;
        }
        T::GET_TASKS => {
            return state_call(&shared, ct, kind, only(|p| p.tasks = true), |v, e| {
                e.encode(&v.tasks_body())
            })
            .await;
        }
        T::GET_ROLES => shared.read(roles),
        T::GET_WEIGHTS => shared.read(|m| {
            let infos: Vec<Json> = m
                .config
                .weights
                .iter()
                .map(|(role, w)| json!({"role": role, "weight": w}))
                .collect();
            let mut o = Map::new();
            if !infos.is_empty() {
                o.insert("weight_infos".into(), Json::Array(infos));
            }
            Json::Object(o)
        }),
        T::UPDATE_WEIGHTS => {
            let Some(u) = call.update_weights else {
                return Err(missing("update_weights"));
            };
            change(&shared, |m, r, _| {
                m.request_update_weights(u.weight_infos, r)
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::GET_QUOTA => shared.read(|m| json!({"status": m.quota_status()})),
        T::UPDATE_QUOTA => {
            let Some(u) = call.update_quota else {
                return Err(missing("update_quota"));
            };
            change(&shared, |m, r, _| {
                m.request_update_quota(u.quota_configs, u.force, r)
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::SET_QUOTA => {
            let Some(u) = call.set_quota else {
                return Err(missing("set_quota"));
            };
            change(&shared, |m, r, _| m.request_set_quota(u.quota_request, r)).await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::REMOVE_QUOTA => {
            let Some(u) = call.remove_quota else {
                return Err(missing("remove_quota"));
            };
            change(&shared, |m, r, _| m.request_remove_quota(&u.role, r)).await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::GET_MAINTENANCE_STATUS => shared.read(|m| json!({"status": m.maintenance_status()})),
        T::GET_MAINTENANCE_SCHEDULE => {
            shared.read(|m| json!({"schedule": m.maintenance.record.schedule}))
        }
        T::UPDATE_MAINTENANCE_SCHEDULE => {
            let Some(u) = call.update_maintenance_schedule else {
                return Err(missing("update_maintenance_schedule"));
            };
            change(&shared, |m, r, _| m.request_update_schedule(u.schedule, r)).await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::START_MAINTENANCE | T::STOP_MAINTENANCE => {
            let start = kind == T::START_MAINTENANCE;
            let machines = if start {
                call.start_maintenance
            } else {
                call.stop_maintenance
            };
            let Some(u) = machines else {
                return Err(missing(if start {
                    "start_maintenance"
                } else {
                    "stop_maintenance"
                }));
            };
            change(&shared, |m, r, _| {
                if start {
                    m.request_machines_down(u.machines, r)
                } else {
                    m.request_machines_up(u.machines, r)
                }
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::DRAIN_AGENT => {
            let Some(u) = call.drain_agent else {
                return Err(missing("drain_agent"));
            };
            let config = mesos_types::policy::DrainConfig {
                max_grace_period: u.max_grace_period,
                mark_gone: u.mark_gone.unwrap_or(false),
            };
            tracing::info!(agent = %u.agent_id, "operator drains the agent");
            change(&shared, |m, r, _| {
                m.request_drain_agent(&u.agent_id, config, r)
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::DEACTIVATE_AGENT => {
            let Some(u) = call.deactivate_agent else {
                return Err(missing("deactivate_agent"));
            };
            change(&shared, |m, r, _| {
                m.request_deactivate_agent(&u.agent_id, r)
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::REACTIVATE_AGENT => {
            let Some(u) = call.reactivate_agent else {
                return Err(missing("reactivate_agent"));
            };
            change(&shared, |m, r, _| {
                m.request_reactivate_agent(&u.agent_id, r)
            })
            .await?;
            return Ok(StatusCode::OK.into_response());
        }
        T::RESERVE_RESOURCES | T::UNRESERVE_RESOURCES => {
            use crate::master::reservations::ConversionKind as K;
            let (k, payload) = if kind == T::RESERVE_RESOURCES {
                (K::Reserve, call.reserve_resources)
            } else {
                (K::Unreserve, call.unreserve_resources)
            };
            let Some(p) = payload else {
                return Err(missing(&kind.to_string().to_ascii_lowercase()));
            };
            return super::reservations::convert(&shared, p.agent_id, k, p.source, p.resources)
                .await;
        }
        T::CREATE_VOLUMES | T::DESTROY_VOLUMES => {
            use crate::master::reservations::ConversionKind as K;
            let (k, payload) = if kind == T::CREATE_VOLUMES {
                (K::Create, call.create_volumes)
            } else {
                (K::Destroy, call.destroy_volumes)
            };
            let Some(p) = payload else {
                return Err(missing(&kind.to_string().to_ascii_lowercase()));
            };
            return super::reservations::convert(&shared, p.agent_id, k, Vec::new(), p.volumes)
                .await;
        }
        T::GET_MASTER => shared.read(|m| {
            let mut out = json!({"master_info": m.info, "start_time": m.start_time});
            if let Some(t) = m.elected_time {
                out["elected_time"] = json!(t);
            }
            out
        }),
        T::SUBSCRIBE => return super::operator_stream::subscribe(shared, ct).await,
        T::TEARDOWN => {
            let Some(t) = call.teardown else {
                return Err(missing("teardown"));
            };
            return teardown(shared, t.framework_id).await;
        }
        T::MARK_AGENT_GONE => {
            let Some(payload) = call.mark_agent_gone else {
                return Err(missing("mark_agent_gone"));
            };
            return mark_agent_gone(shared, payload.agent_id).await;
        }
        other => {
            return Err(ApiError::NotImplemented(format!(
                "Operator call '{other}' is not implemented yet"
            )));
        }
    };
    let body = Encoder { ct, kind }.encode(&payload)?;
    Ok(encoded_response(ct, body))
}

/// Writes a call's answer: `{"type": "<KIND>", "<kind>": payload}` in the
/// negotiated encoding, the payload serialized as it is written.
#[derive(Clone, Copy)]
struct Encoder {
    ct: ContentType,
    kind: OperatorCallType,
}

impl Encoder {
    fn encode<T: serde::Serialize>(self, payload: &T) -> Result<Vec<u8>, mesos_proto::CodecError> {
        self.ct.encode(
            Message::MasterResponse,
            &Typed {
                kind: self.kind,
                payload,
            },
        )
    }
}

/// `{"type": "<KIND>", "<kind>": payload}`.
struct Typed<'a, T> {
    kind: OperatorCallType,
    payload: &'a T,
}

impl<T: serde::Serialize> serde::Serialize for Typed<'_, T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut o = s.serialize_map(Some(2))?;
        o.serialize_entry("type", &self.kind.to_string())?;
        o.serialize_entry(&self.kind.to_string().to_ascii_lowercase(), self.payload)?;
        o.end()
    }
}

fn missing(what: &str) -> ApiError {
    ApiError::BadRequest(format!("Expecting '{what}' to be present"))
}

fn only(f: impl FnOnce(&mut Parts)) -> Parts {
    let mut p = Parts {
        agents: false,
        frameworks: false,
        executors: false,
        tasks: false,
    };
    f(&mut p);
    p
}

/// Copies `parts` under the lock once a rendering slot is free (at most
/// two such copies exist at once, with the legacy listings: each is the
/// size of the cluster), then renders and serializes the answer on a
/// blocking thread.
async fn state_call(
    shared: &Arc<Shared>,
    ct: ContentType,
    kind: OperatorCallType,
    parts: Parts,
    render: impl FnOnce(&StateView, Encoder) -> Result<Vec<u8>, mesos_proto::CodecError>
    + Send
    + 'static,
) -> Result<Response, ApiError> {
    let _slot = state_json::rendering_slot().await?;
    let view = shared.read(|m| StateView::take(m, parts));
    let body = tokio::task::spawn_blocking(move || render(&view, Encoder { ct, kind }))
        .await
        .map_err(|e| ApiError::Internal(format!("Failed to render the state: {e}")))??;
    Ok(encoded_response(ct, body))
}

/// `GetRoles`: every role with a framework, a weight or on the whitelist,
/// with its weight (default 1), its frameworks and the resources
/// allocated to it.
fn roles(m: &crate::master::Master) -> Json {
    #[derive(Default)]
    struct Role {
        frameworks: Vec<Json>,
        resources: Resources,
    }
    let mut by_name: BTreeMap<String, Role> = BTreeMap::new();
    for r in m.config.weights.keys() {
        by_name.entry(r.clone()).or_default();
    }
    for r in m.config.roles.iter().flatten().chain(m.quotas.keys()) {
        by_name.entry(r.clone()).or_default();
    }
    for f in m.frameworks.values() {
        for r in f.info.effective_roles() {
            by_name
                .entry(r)
                .or_default()
                .frameworks
                .push(json!({"value": f.id.value}));
        }
        for t in f.tasks.values().filter(|t| !t.resources_released) {
            by_name
                .entry(t.role.clone())
                .or_default()
                .resources
                .add(&t.resources);
        }
    }
    let roles: Vec<Json> = by_name
        .into_iter()
        .map(|(name, r)| {
            let weight = m.config.weights.get(&name).copied().unwrap_or(1.0);
            let mut o = Map::new();
            o.insert("name".into(), json!(name));
            o.insert("weight".into(), json!(weight));
            if !r.frameworks.is_empty() {
                o.insert("frameworks".into(), Json::Array(r.frameworks));
            }
            let res = r.resources.to_wire(true);
            if !res.is_empty() {
                o.insert("resources".into(), json!(res));
            }
            if let Some(q) = m.quotas.get(&name) {
                let consumed: Map<String, Json> = ["cpus", "mem", "disk", "gpus"]
                    .iter()
                    .map(|n| (n.to_string(), json!(r.resources.scalar(n))))
                    .filter(|(_, v)| v.as_f64() != Some(0.0))
                    .map(|(n, v)| (n, json!({"value": v})))
                    .collect();
                o.insert(
                    "quota".into(),
                    json!({"role": name, "guarantee": q.guarantees, "limit": q.limits,
                           "consumed": consumed}),
                );
            }
            Json::Object(o)
        })
        .collect();
    let mut o = Map::new();
    if !roles.is_empty() {
        o.insert("roles".into(), Json::Array(roles));
    }
    Json::Object(o)
}

/// As the scheduler's TEARDOWN: the removal is recorded in the registry
/// before it is acted on and answered (also `POST /master/teardown`).
pub(super) async fn teardown(
    shared: Arc<Shared>,
    fid: mesos_types::FrameworkID,
) -> Result<Response, ApiError> {
    tracing::info!(framework = %fid, "operator asked to tear the framework down");
    let (reply, answer) = tokio::sync::oneshot::channel();
    shared.write(|m, now| {
        if !m.frameworks.contains_key(&fid) {
            return Err(ApiError::BadRequest(
                "No framework found with specified ID".into(),
            ));
        }
        m.request_remove_framework(&fid, Some(reply), now);
        Ok(())
    })?;
    answer
        .await
        .map_err(|_| ApiError::Unavailable("The master is stopping".into()))??;
    Ok(StatusCode::OK.into_response())
}

/// Records the agent as gone in the registry, then acts on it: durable
/// before acknowledged, so a master restarted right after the 200 still
/// refuses the agent.
async fn mark_agent_gone(shared: Arc<Shared>, aid: AgentID) -> Result<Response, ApiError> {
    if aid.value.is_empty() {
        return Err(ApiError::BadRequest(
            "'mark_agent_gone.agent_id.value' must not be empty".into(),
        ));
    }
    tracing::info!(agent = %aid, "operator asked to mark the agent gone");
    let (reply, answer) = tokio::sync::oneshot::channel();
    shared.write(|m, now| m.request_mark_gone(&aid, reply, now));
    answer
        .await
        .map_err(|_| ApiError::Unavailable("The master is stopping".into()))??;
    Ok(StatusCode::OK.into_response())
}
