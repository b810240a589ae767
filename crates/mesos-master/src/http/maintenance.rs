//! Maintenance over the legacy endpoints: `/maintenance/schedule` (GET,
//! POST a `Schedule`), `/maintenance/status` (GET), `/machine/down` and
//! `/machine/up` (POST a JSON array of `MachineID`). Changes are answered
//! once the registry records them (see `master::maintenance`).

use super::policy::{change, json_body};
use super::to_vec;
use crate::error::ApiError;
use crate::server::Shared;
use axum::body::Body;
use axum::http::Method;
use mesos_types::policy::{MachineID, Schedule};
use std::sync::Arc;

pub async fn schedule(
    shared: Arc<Shared>,
    method: Method,
    body: Body,
) -> Result<Vec<u8>, ApiError> {
    match method {
        Method::GET | Method::HEAD => {
            let s = shared.read(|m| m.maintenance.record.schedule.clone());
            Ok(to_vec(&serde_json::to_value(s).unwrap_or_default()))
        }
        Method::POST => {
            let s: Schedule = json_body(&shared, body, "a maintenance Schedule").await?;
            tracing::info!(
                windows = s.windows.len(),
                "operator updates the maintenance schedule"
            );
            change(&shared, |m, reply, _| m.request_update_schedule(s, reply)).await?;
            Ok(Vec::new())
        }
        _ => Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'GET' or 'POST', received '{method}'"
        ))),
    }
}

pub fn status(shared: &Shared, method: &Method) -> Result<Vec<u8>, ApiError> {
    super::get_only(method)?;
    let s = shared.read(|m| m.maintenance_status());
    Ok(to_vec(&serde_json::to_value(s).unwrap_or_default()))
}

/// `POST /machine/down` (`down`) or `/machine/up`.
pub async fn machines(
    shared: Arc<Shared>,
    method: Method,
    body: Body,
    down: bool,
) -> Result<Vec<u8>, ApiError> {
    if method != Method::POST {
        return Err(ApiError::MethodNotAllowed(format!(
            "Expecting 'POST', received '{method}'"
        )));
    }
    let ids: Vec<MachineID> = json_body(&shared, body, "a list of MachineID").await?;
    tracing::info!(count = ids.len(), down, "operator changes machine modes");
    change(&shared, |m, reply, _| {
        if down {
            m.request_machines_down(ids, reply)
        } else {
            m.request_machines_up(ids, reply)
        }
    })
    .await?;
    Ok(Vec::new())
}
