//! A reservation and a persistent volume with the real binaries: a task
//! writes into its volume; the agent and then the master are SIGKILLed and
//! restarted; the reservation is still there, offered to its role only,
//! and the next task that uses the volume reads what the first one wrote.

use mesos_system_tests::*;
use mesos_types::*;
use serde_json::{Value as Json, json};
use std::path::Path;
use std::process::{Command, Stdio};

fn start_master(port: u16, work_dir: &Path) -> Proc {
    Proc(
        Command::new(bin("mesos-master"))
            .args([
                format!("--port={port}"),
                "--registry=replicated_log".into(),
                format!("--work_dir={}", work_dir.display()),
                "--allocation_interval=100ms".into(),
            ])
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

fn reserved(name: &str, value: f64) -> Json {
    json!({"name": name, "type": "SCALAR", "scalar": {"value": value},
           "reservations": [{"type": "DYNAMIC", "role": "db", "principal": "ops"}]})
}

fn volume() -> Json {
    let mut v = reserved("disk", 16.0);
    v["disk"] = json!({"persistence": {"id": "pgdata", "principal": "ops"},
                       "volume": {"container_path": "data", "mode": "RW"}});
    v
}

fn operation(kind: &str, payload: Json) -> Operation {
    let mut o = json!({ "type": kind });
    o[kind.to_ascii_lowercase()] = payload;
    serde_json::from_value(o).unwrap()
}

fn task(name: &str, agent: &AgentID, command: &str) -> Json {
    json!({
        "name": name, "task_id": {"value": name}, "agent_id": {"value": agent.value},
        "resources": [reserved("cpus", 0.2), reserved("mem", 32.0), volume()],
        "command": {"value": command}
    })
}

fn db_info() -> FrameworkInfo {
    FrameworkInfo {
        user: "root".into(),
        name: "db".into(),
        role: Some("db".into()),
        checkpoint: true,
        failover_timeout: 3600.0,
        ..Default::default()
    }
}

/// Reserved resources of role db on the only agent, as `/master/state` shows them.
async fn db_reserved(master: &str) -> Option<Json> {
    let s = master_state(master).await?;
    let r = s["slaves"][0]["reserved_resources"]["db"].clone();
    (!r.is_null()).then_some(r)
}

async fn wait_db_reserved(master: &str, what: &str) -> Json {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        if let Some(r) = db_reserved(master).await {
            return r;
        }
        assert!(std::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_volume_and_its_reservation_survive_agent_and_master_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let master = format!("127.0.0.1:{port}");
    let master_dir = dir.path().join("master");
    let mut m = start_master(port, &master_dir);
    let agent_port = free_port();
    let work_dir = dir.path().join("agent");
    let mut agent = start_agent(&master, agent_port, &work_dir, Stdio::null());
    wait_for_agents(&master, 1, "agent never registered").await;

    let mut fw = Fw::new(
        mesos_scheduler::subscribe(&master, db_info())
            .await
            .unwrap(),
    );
    let offer = fw.offer().await;
    let aid = offer.agent_id.clone();
    let ops = vec![
        operation(
            "RESERVE",
            json!({"resources": [reserved("cpus", 0.2), reserved("mem", 32.0), reserved("disk", 16.0)]}),
        ),
        operation("CREATE", json!({"volumes": [volume()]})),
        operation(
            "LAUNCH",
            json!({"task_infos": [task("writer", &aid, "echo kept-across-tasks > data/greeting")]}),
        ),
    ];
    fw.sub
        .caller
        .accept(vec![offer.id], ops, None)
        .await
        .unwrap();
    let s = fw
        .update_where(|s| s.task_id.value == "writer" && task_state::is_terminal(s.state))
        .await;
    assert_eq!(s.state, TaskState::TASK_FINISHED, "{s:?}");
    let volume_dir = work_dir.join("volumes/roles/db/pgdata");
    assert_eq!(
        std::fs::read_to_string(volume_dir.join("greeting")).unwrap(),
        "kept-across-tasks\n",
        "the volume outlives its task"
    );
    let before = wait_db_reserved(&master, "reserved").await;

    // Agent restart: it reports what it checkpointed.
    agent.kill9();
    let _agent = start_agent(&master, agent_port, &work_dir, Stdio::null());
    // Master restart: the registry has the record.
    m.kill9();
    let _m = start_master(port, &master_dir);
    wait_for_agents(&master, 1, "agent never re-registered").await;
    assert_eq!(
        wait_db_reserved(&master, "reservation lost").await,
        before,
        "the same reservation after both restarts"
    );

    // The framework comes back and reads the volume in a new task.
    let mut fw = {
        let mut info = db_info();
        info.id = Some(fw.sub.caller.framework_id.clone());
        drop(fw);
        Fw::new(mesos_scheduler::subscribe(&master, info).await.unwrap())
    };
    let offer = loop {
        let o = fw.offer().await;
        if o.resources
            .iter()
            .any(|r| mesos_types::conversions::persistence_id(r) == Some("pgdata"))
        {
            break o;
        }
        fw.sub
            .caller
            .decline(
                vec![o.id],
                Some(Filters {
                    refuse_seconds: 0.0,
                }),
            )
            .await
            .unwrap();
    };
    let reader = task(
        "reader",
        &aid,
        "test \"$(cat data/greeting)\" = kept-across-tasks",
    );
    let launch = operation("LAUNCH", json!({"task_infos": [reader]}));
    fw.sub
        .caller
        .accept(vec![offer.id], vec![launch], None)
        .await
        .unwrap();
    let s = fw
        .update_where(|s| s.task_id.value == "reader" && task_state::is_terminal(s.state))
        .await;
    assert_eq!(
        s.state,
        TaskState::TASK_FINISHED,
        "the next task sees what the first wrote: {s:?}"
    );
}
