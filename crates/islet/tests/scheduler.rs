//! The scheduler driver against the real PostgreSQL: follow-ups turn due and
//! overdue with no new event, with two schedulers claiming disjoint patients.

use islet::drivers::clock::ManualClock;
use islet::drivers::scheduler::Scheduler;
use islet_engine::{Batch, ChangeKind, Engine};
use islet_fhir::SiteMapping;
use islet_guideline::{Config, State};
use islet_store::test_support::{self, TestDb};
use std::sync::Arc;
use time::macros::datetime;

fn engine() -> Engine {
    Engine::new(SiteMapping::empty(), Config::default())
}

fn cohort(patients: usize) -> Batch {
    Batch::of_items(test_support::small_tumour_cohort(patients))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_ups_turn_due_then_overdue_with_two_schedulers_and_no_new_event() {
    let db = TestDb::new().await;
    let engine = Arc::new(engine());
    let mut pg = db.store();
    let patients = 40;
    engine.process(&mut pg, &cohort(patients), datetime!(2024-02-01 00:00 UTC)).await.unwrap();
    let clock = Arc::new(ManualClock::new(datetime!(2024-02-01 00:00 UTC)));
    let scheduler = |clock: Arc<ManualClock>| Scheduler {
        engine: engine.clone(),
        store: db.store(),
        clock,
        batch: 3,
        backoff: Default::default(),
    };
    let imaging_states = |alerts: Vec<islet_engine::AlertRecord>| {
        alerts.into_iter().filter(|a| a.rule == "followup.surveillance-imaging").map(|a| a.state).collect::<Vec<_>>()
    };
    assert!(imaging_states(pg.alerts().await.unwrap()).iter().all(|s| *s == State::Scheduled));

    // Due: 14 days before 3 months after each baseline (baselines 2024-01-10 to 14).
    for (at, expected) in
        [(datetime!(2024-04-05 00:00 UTC), State::Due), (datetime!(2024-04-20 00:00 UTC), State::Overdue)]
    {
        clock.set(at);
        let (mut one, mut two) = (scheduler(clock.clone()), scheduler(clock.clone()));
        let (r1, r2) = tokio::join!(one.tick(), two.tick());
        let changed = r1.unwrap().changes.len() + r2.unwrap().changes.len();
        assert_eq!(changed, patients * 2, "each patient's two follow-ups change exactly once");
        let states = imaging_states(pg.alerts().await.unwrap());
        assert_eq!(states.len(), patients);
        assert!(states.iter().all(|s| *s == expected), "{states:?}");
    }
    // The change log has no duplicate: one raised and two updates per follow-up alert.
    let log = pg.change_log().await.unwrap();
    let updates = log.iter().filter(|c| c.change == ChangeKind::Updated).count();
    assert_eq!(updates, patients * 4);
    assert!(log.iter().filter(|c| c.change == ChangeKind::Updated).all(|c| c.cause == islet_engine::Cause::Clock));
}

/// `islet scheduler` stops cleanly on SIGTERM (what a container runtime
/// sends), not only on Ctrl-C.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scheduler_command_stops_on_sigterm() {
    let db = TestDb::new().await;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_islet"))
        .args(["scheduler", "--database-url", &db.url, "--interval", "1"])
        .spawn()
        .expect("start islet scheduler");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert!(child.try_wait().unwrap().is_none(), "it runs until told to stop");
    // SAFETY: signals our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
    let started = std::time::Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "no exit after SIGTERM");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert_eq!(status.code(), Some(0), "{status:?}");
}
