//! SUBSCRIBE refuses a FrameworkInfo Mesos would refuse, with an ERROR
//! event, before the framework is admitted.

mod common;

use common::*;

async fn refused(info: mesos_types::FrameworkInfo) -> String {
    let m = master(&[]).await;
    let r = mesos_scheduler::subscribe(&m.endpoint(), info).await;
    let msg = match r {
        Err(mesos_scheduler::SchedulerError::Refused(msg)) => msg,
        other => panic!("expected an ERROR event, got {other:?}"),
    };
    let state = master_state(&m).await;
    assert_eq!(state["frameworks"].as_array().unwrap().len(), 0);
    msg
}

#[tokio::test]
async fn failover_timeout_beyond_a_duration_is_refused() {
    for (secs, shown) in [(1e308, "1e+308"), (2f64.powi(64), "1.84467e+19")] {
        let mut info = framework_info("ft");
        info.failover_timeout = secs;
        assert_eq!(
            refused(info).await,
            format!("The framework failover_timeout ({shown}) is invalid")
        );
    }
}

#[tokio::test]
async fn user_with_nul_is_refused() {
    let mut info = framework_info("nul");
    info.user = "ro\0ot".into();
    assert_eq!(
        refused(info).await,
        "'FrameworkInfo.user' must not contain NUL characters"
    );
}
