//! Table tests of the deployment state machine: every step in every phase under every relevant
//! observation, and every operator command in every state.

use super::*;
use crate::config::Strategy;
use crate::deploy::command::{accept, CommandKind, OperatorCommand, Refusal};
use crate::deploy::{plan, Paused};
use chrono::TimeZone;

pub(crate) fn at(second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
        + Duration::seconds(second)
}

/// Canary steps: 0 register, 1 deploy api-green, 2 verify green, 3 shift 10, 4 bake, 5 shift 50,
/// 6 bake, 7 shift 100, 8 bake, 9 promote.
pub(crate) fn record_at(step: usize, phase: Phase) -> DeploymentRecord {
    let config = crate::deploy::tests::service(Strategy::Canary);
    let (steps, target) = plan("api", Strategy::Canary, &config, Some("blue")).expect("plan");
    let mut record = DeploymentRecord::new_stable(
        "api",
        Strategy::Canary,
        Release {
            task_definition: "api:1".into(),
            image: Some("r/api:1".into()),
            target: Some("blue".into()),
        },
        at(0),
    );
    record.status = DeploymentStatus::InProgress;
    record.deployment_id = Some("j0".into());
    record.candidate = (step > 0).then(|| Release {
        task_definition: "api:2".into(),
        image: Some("r/api:2".into()),
        target: Some("green".into()),
    });
    record.progress = Some(Progress {
        deployment_id: "j0".into(),
        job_id: "j0".into(),
        image: "r/api:2".into(),
        container: "app".into(),
        base_task_definition: "api:1".into(),
        task_definition: (step > 0).then(|| "api:2".to_owned()),
        target,
        steps,
        step,
        phase,
        started_at: at(0),
        step_started_at: at(100),
        warnings: Vec::new(),
        abort: None,
        outcome: None,
        finished_at: None,
        rollback_window_until: None,
        shape: "{}".into(),
        driver: None,
        written_by: None,
        paused: None,
        skip_bake: false,
        fast_forward: false,
        analysis: None,
    });
    record
}

fn me() -> Claimant {
    Claimant {
        job_id: "j3".into(),
        invocation: "r3".into(),
        chain: Some("j0".into()),
        seq: 3,
    }
}

fn other() -> Claimant {
    Claimant {
        job_id: "j9".into(),
        invocation: "r9".into(),
        chain: Some("j0".into()),
        seq: 3,
    }
}

fn decide(record: &DeploymentRecord, observed: &Observed, now: i64) -> Next {
    decide_with(record, observed, now, None)
}

/// The machine's decision at `now` as invocation `me`, with `analysis` (and the sides it
/// reads) when given.
fn decide_with(
    record: &DeploymentRecord,
    observed: &Observed,
    now: i64,
    analysis: Option<&crate::deploy::analysis::AnalysisConfig>,
) -> Next {
    let me = me();
    let sides = sides();
    let cx = Context {
        now: at(now),
        me: &me,
        lease: Duration::seconds(120),
        stabilize_timeout: Duration::seconds(600),
        gated: true,
        actor: "pipeline-job:j3",
        rollback_window_until: at(now + 3600),
        analysis,
        sides: analysis.map(|_| &sides),
    };
    next(record, observed, &cx)
}

/// A compact rendering of a decision, for the tables.
fn show(next: &Next) -> String {
    match next {
        Next::Observe(Observation::Alarms) => "observe alarms".into(),
        Next::Observe(Observation::Rollout { ecs_service, .. }) => {
            format!("observe rollout {ecs_service}")
        }
        Next::Observe(Observation::Change { id }) => format!("observe change {id}"),
        Next::Observe(Observation::Checks { target }) => {
            format!("observe checks {}", target.as_deref().unwrap_or("-"))
        }
        Next::Observe(Observation::Weights) => "observe weights".into(),
        Next::Observe(Observation::Metrics { requests }) => format!(
            "observe metrics {}",
            requests
                .iter()
                .map(|r| format!("{}/{:?}", r.check, r.side))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Next::Observe(Observation::Judge { requests }) => {
            format!("observe judge {} request(s)", requests.len())
        }
        Next::Observe(Observation::Hook { hook, handle, .. }) => format!(
            "observe hook {}{}",
            hook.describe(),
            handle
                .as_deref()
                .map(|h| format!(" {h}"))
                .unwrap_or_default()
        ),
        Next::Act(Change::StartHook { hook, run }) => {
            format!("act start {} as {}", hook.describe(), &run[..9])
        }
        Next::Act(Change::Register) => "act register".into(),
        Next::Act(Change::UpdateService { ecs_service, .. }) => format!("act update {ecs_service}"),
        Next::Act(Change::WriteWeights { weights }) => format!(
            "act weights {}",
            weights
                .iter()
                .map(|(t, w)| format!("{t}={w}"))
                .collect::<Vec<_>>()
                .join(",")
        ),
        Next::Record {
            record,
            note,
            again,
        } => {
            let p = record.progress.as_ref().expect("progress");
            let abort = p
                .abort
                .as_ref()
                .map(|a| format!(" abort:{:?}", a.kind))
                .unwrap_or_default();
            format!(
                "record step={}{abort}{} again={again}: {note}",
                p.step,
                if p.paused.is_some() { " paused" } else { "" }
            )
        }
        Next::Wait { note } => format!("wait: {note}"),
        Next::Revert(abort) => format!("revert {:?}", abort.kind),
        Next::Promote(record) => format!("promote {}", record.status.as_str()),
        Next::WriteAudits => "write audits".into(),
        Next::Succeeded => "succeeded".into(),
        Next::Fail { reason } => format!("fail: {reason}"),
        Next::RolledBack { record, reason } => {
            format!("rolled back (record: {}): {reason}", record.is_some())
        }
    }
}

/// Alarms quiet and the live weights as the record last wrote them (blue 100).
fn quiet() -> Observed {
    Observed {
        alarm: Some(None),
        live_weights: Some([("blue".to_owned(), 100), ("green".to_owned(), 0)].into()),
        ..Observed::default()
    }
}

fn firing() -> Observed {
    Observed {
        alarm: Some(Some(Firing {
            name: "api-5xx".into(),
            reason: "Threshold Crossed".into(),
        })),
        ..Observed::default()
    }
}

fn waiting(change: Option<&str>) -> Phase {
    Phase::Waiting {
        since: at(100),
        change_id: change.map(str::to_owned),
    }
}

fn acting(by: Claimant, since: i64) -> Phase {
    Phase::Acting {
        since: at(since),
        by: Some(by),
    }
}

#[test]
fn every_step_in_every_phase() {
    let rollout = |r: Rollout| Observed {
        rollout: Some(r),
        ..quiet()
    };
    let checks = |c: Checks| Observed {
        checks: Some(c),
        ..quiet()
    };
    let in_sync = |s: bool| Observed {
        in_sync: Some(s),
        ..quiet()
    };
    // (step, phase, observed, now, expected)
    let cases: Vec<(usize, Phase, Observed, i64, &str)> = vec![
        // register: claim and act, unless another live invocation holds it.
        (0, Phase::Ready, Observed::default(), 101, "act register"),
        (0, acting(other(), 100), Observed::default(), 130, "wait: another invocation is registering the task definition"),
        (0, acting(other(), 100), Observed::default(), 300, "act register"),
        (0, acting(me(), 100), Observed::default(), 101, "act register"),
        // deploy: update, then follow the rollout.
        (1, Phase::Ready, Observed::default(), 101, "act update api-green"),
        (1, acting(other(), 100), Observed::default(), 130, "wait: another invocation is updating ECS"),
        (1, waiting(None), Observed::default(), 130, "observe rollout api-green"),
        (1, waiting(None), rollout(Rollout::Completed { running: 2 }), 130, "record step=2 again=false: api-green rollout completed (2 running)"),
        (1, waiting(None), rollout(Rollout::Pending { running: 1, desired: 2 }), 130, "wait: waiting for api-green: 1 of 2 tasks running"),
        (1, waiting(None), rollout(Rollout::Pending { running: 1, desired: 2 }), 701, "record step=1 abort:Timeout again=true: ECS rollout of api:2 on api-green did not complete within 600 s"),
        (1, waiting(None), rollout(Rollout::Failed("circuit breaker".into())), 130, "record step=1 abort:EcsRollout again=true: ECS rollout of api:2 on api-green failed: circuit breaker"),
        // verify: alarms, then checks.
        (2, Phase::Ready, Observed::default(), 130, "observe alarms"),
        (2, Phase::Ready, firing(), 130, "record step=2 abort:Alarm again=true: alarm api-5xx is in ALARM before any traffic moved: Threshold Crossed"),
        (2, Phase::Ready, quiet(), 130, "observe checks green"),
        (2, Phase::Ready, checks(Checks::Passed(3)), 130, "record step=3 again=false: 3 health check(s) and smoke test(s) passed"),
        (2, Phase::Ready, checks(Checks::Failed { url: "http://g/health".into(), attempts: 3, detail: "HTTP 500".into() }), 130, "record step=2 abort:HealthCheck again=true: health check http://g/health failed after 3 attempt(s): HTTP 500; no traffic was shifted"),
        // shift: alarms, claim, write, wait for INSYNC.
        (3, Phase::Ready, Observed::default(), 130, "observe alarms"),
        (3, Phase::Ready, firing(), 130, "record step=3 abort:Alarm again=true: alarm api-5xx is in ALARM: Threshold Crossed"),
        (3, Phase::Ready, quiet(), 130, "act weights blue=90,green=10"),
        (3, acting(other(), 100), quiet(), 130, "wait: another invocation is shifting traffic"),
        (3, waiting(Some("C1")), Observed::default(), 130, "observe change C1"),
        (3, waiting(Some("C1")), in_sync(false), 130, "wait: waiting for Route53 INSYNC"),
        (3, waiting(Some("C1")), in_sync(true), 130, "record step=4 again=false: Route53 change INSYNC; bake time starts"),
        (3, waiting(None), Observed::default(), 130, "record step=4 again=false: Route53 change INSYNC; bake time starts"),
        // bake: alarms every invocation, then time.
        (4, Phase::Ready, Observed::default(), 130, "observe alarms"),
        (4, Phase::Ready, firing(), 130, "record step=4 abort:Alarm again=true: alarm api-5xx went into ALARM during bake 120s: Threshold Crossed"),
        (4, Phase::Ready, quiet(), 130, "wait: baking, 30 s of 120 s; alarms quiet"),
        (4, Phase::Ready, quiet(), 220, "record step=5 again=false: baked 120 s with alarms quiet"),
        // promote: the record promoted with its audit owed.
        (9, Phase::Ready, Observed::default(), 130, "promote PROMOTED"),
        (10, Phase::Ready, Observed::default(), 130, "promote PROMOTED"),
    ];
    for (step, phase, observed, now, expect) in cases {
        let record = record_at(step, phase.clone());
        let got = show(&decide(&record, &observed, now));
        assert_eq!(got, expect, "step {step} {phase:?} {observed:?} at {now}");
    }
}

#[test]
fn ended_deployments_and_owed_audits() {
    let mut record = record_at(4, Phase::Ready);
    record.status = DeploymentStatus::Promoted;
    assert_eq!(show(&decide(&record, &quiet(), 130)), "succeeded");
    let owed = release::owed_audit(
        &record,
        "deployment_promoted",
        "succeeded",
        "a",
        "r",
        None,
        at(1),
    );
    record.owe_audit(owed.clone());
    assert_eq!(show(&decide(&record, &quiet(), 130)), "write audits");
    record.status = DeploymentStatus::InProgress;
    assert_eq!(show(&decide(&record, &quiet(), 130)), "write audits");
    record.audit_owed.clear();
    record.status = DeploymentStatus::Failed;
    assert_eq!(
        show(&decide(&record, &quiet(), 130)),
        "fail: the deployment failed"
    );
    record.status = DeploymentStatus::RolledBack;
    record.rollback = Some(RollbackMark {
        trigger_id: "t".into(),
        alarm: "api-5xx".into(),
        reason: "Threshold Crossed".into(),
        started_at: at(120),
        completed_at: Some(at(121)),
        from: record.candidate.clone(),
        by: None,
    });
    assert_eq!(
        show(&decide(&record, &quiet(), 130)),
        "rolled back (record: true): alarm api-5xx rolled api back to api:1: Threshold Crossed; a rolled-back release is not deployed again"
    );
}

#[test]
fn a_change_is_recorded_after_it_is_made() {
    let claimed_record = claimed(&record_at(0, Phase::Ready), &me(), at(101));
    assert!(matches!(
        claimed_record.progress.as_ref().map(|p| &p.phase),
        Some(Phase::Acting { by: Some(by), .. }) if *by == me()
    ));
    let (registered, note) = after_change(
        &claimed_record,
        &Changed::Registered("api:2".into()),
        at(102),
    );
    let p = registered.progress.as_ref().expect("progress");
    assert_eq!(
        (p.step, &p.phase, note.as_str()),
        (1, &Phase::Ready, "registered api:2")
    );
    assert_eq!(
        registered
            .candidate
            .as_ref()
            .map(|c| c.task_definition.as_str()),
        Some("api:2")
    );
    let (updated, _) = after_change(
        &claimed(&record_at(1, Phase::Ready), &me(), at(101)),
        &Changed::ServiceUpdated,
        at(102),
    );
    assert!(matches!(
        updated.progress.as_ref().map(|p| &p.phase),
        Some(Phase::Waiting {
            change_id: None,
            ..
        })
    ));
    let (shifted, note) = after_change(
        &claimed(&record_at(3, Phase::Ready), &me(), at(101)),
        &Changed::WeightsWritten(Some("C1".into())),
        at(102),
    );
    assert_eq!(
        shifted.weights,
        [("blue".to_owned(), 90), ("green".to_owned(), 10)].into()
    );
    assert_eq!(note, "weights written (change C1); waiting for INSYNC");
}

#[test]
fn reverting_ends_failed_or_rolled_back() {
    let abort = |kind: AbortKind, by: Option<&str>| Abort {
        kind,
        reason: "why".into(),
        alarm: (kind == AbortKind::Alarm).then(|| "api-5xx".to_owned()),
        at: at(120),
        by: by.map(str::to_owned),
    };
    let weights: BTreeMap<String, u8> = [("blue".to_owned(), 100), ("green".to_owned(), 0)].into();
    let cases = [
        (
            AbortKind::HealthCheck,
            None,
            DeploymentStatus::Failed,
            false,
        ),
        (AbortKind::EcsRollout, None, DeploymentStatus::Failed, false),
        (AbortKind::Timeout, None, DeploymentStatus::Failed, false),
        (AbortKind::Alarm, None, DeploymentStatus::RolledBack, true),
        (
            AbortKind::Operator,
            Some("arn:aws:iam::1:user/ann"),
            DeploymentStatus::RolledBack,
            true,
        ),
    ];
    for (kind, by, status, remembered) in cases {
        let record = record_at(4, Phase::Ready);
        let (done, outcome) = reverted(&record, &abort(kind, by), Some(&weights), "a", at(130));
        assert_eq!(done.status, status, "{kind:?}");
        assert_eq!(done.weights, weights);
        assert_eq!(done.candidate, None);
        assert_eq!(!done.rolled_back.is_empty(), remembered, "{kind:?}");
        assert_eq!(done.audit_owed.len(), 1);
        assert_eq!(
            done.audit_owed[0].action,
            format!("deployment_{}", outcome.as_str())
        );
        assert_eq!(
            done.rollback.as_ref().and_then(|m| m.by.as_deref()),
            by,
            "{kind:?}"
        );
    }
}

fn command(kind: CommandKind, at_second: i64) -> OperatorCommand {
    OperatorCommand {
        id: format!("c{at_second}"),
        kind,
        by: "arn:aws:iam::1:user/ann".into(),
        reason: "looks off".into(),
        at: at(at_second),
        deployment_id: None,
    }
}

const ALL: [CommandKind; 6] = [
    CommandKind::Pause,
    CommandKind::Resume,
    CommandKind::Promote { full: false },
    CommandKind::Promote { full: true },
    CommandKind::Abort,
    CommandKind::Retry,
];

/// Every command in every state: refused (and why) or what the next invocation then does.
#[test]
fn every_command_in_every_state() {
    let paused = |mut r: DeploymentRecord| {
        if let Some(p) = r.progress.as_mut() {
            p.paused = Some(Paused {
                by: "arn:aws:iam::1:user/bob".into(),
                at: at(110),
                reason: String::new(),
            });
        }
        r
    };
    let with_status = |status: DeploymentStatus| {
        let mut r = record_at(4, Phase::Ready);
        r.status = status;
        r
    };
    let states: Vec<(&str, DeploymentRecord)> = vec![
        ("register", record_at(0, Phase::Ready)),
        ("deploy waiting", record_at(1, waiting(None))),
        ("shift 10", record_at(3, Phase::Ready)),
        ("bake", record_at(4, Phase::Ready)),
        ("paused bake", paused(record_at(4, Phase::Ready))),
        ("stable", with_status(DeploymentStatus::Stable)),
        ("promoted", with_status(DeploymentStatus::Promoted)),
        ("failed", with_status(DeploymentStatus::Failed)),
        ("rolled back", with_status(DeploymentStatus::RolledBack)),
    ];
    // (state, command) → expected outcome at t=130 with quiet alarms.
    let expect = |state: &str, kind: CommandKind| -> &'static str {
        use CommandKind::*;
        match (state, kind) {
            (
                "stable" | "promoted" | "failed" | "rolled back",
                Pause | Resume | Promote { .. } | Abort,
            ) => "refused: not in flight",
            ("failed" | "rolled back", Retry) => "granted",
            (_, Retry) => "refused: nothing to retry",
            ("paused bake", Pause) => "refused: pointless",
            ("register" | "deploy waiting" | "shift 10" | "bake", Resume) => "refused: pointless",
            ("register", Pause) => {
                "wait: paused by arn:aws:iam::1:user/ann since 2026-01-01T00:02:10Z (looks off)"
            }
            ("deploy waiting", Pause) => "observe rollout api-green",
            ("shift 10", Pause) => {
                "wait: paused by arn:aws:iam::1:user/ann since 2026-01-01T00:02:10Z (looks off)"
            }
            ("bake", Pause) => {
                "wait: paused by arn:aws:iam::1:user/ann since 2026-01-01T00:02:10Z (looks off)"
            }
            ("paused bake", Resume) => "wait: baking, 10 s of 120 s; alarms quiet",
            ("register", Promote { .. }) => "act register",
            ("deploy waiting", Promote { .. }) => "observe rollout api-green",
            ("shift 10", Promote { full: false }) => "act weights blue=90,green=10",
            ("shift 10", Promote { full: true }) => "act weights blue=0,green=100",
            ("bake" | "paused bake", Promote { .. }) => {
                "record step=5 again=false: bake 120s ended by an operator's promote; alarms quiet"
            }
            (_, Abort) => "revert Operator",
            _ => "unexpected",
        }
    };
    for (state, record) in &states {
        for kind in ALL {
            let want = expect(state, kind);
            let got = match accept(record, command(kind, 125)) {
                Err(Refusal::NotInFlight { .. }) => "refused: not in flight".to_owned(),
                Err(Refusal::NothingToRetry { .. }) => "refused: nothing to retry".to_owned(),
                Err(Refusal::Pointless(_)) => "refused: pointless".to_owned(),
                Err(other) => format!("refused: {other}"),
                Ok((stored, _)) if kind == CommandKind::Retry => {
                    assert_eq!(
                        stored.retry.as_ref().map(|g| g.image.as_str()),
                        Some("r/api:2")
                    );
                    // The retried release is admitted again.
                    let spec = release::ReleaseSpec {
                        image: "r/api:2".into(),
                        shape: "{}".into(),
                    };
                    assert_eq!(
                        release::admit(Some(&stored), "j7", &spec),
                        release::Admission::Free
                    );
                    "granted".to_owned()
                }
                Ok((stored, _)) => {
                    assert_eq!(stored.commands.len(), 1, "{state} {kind:?}");
                    // The next invocation applies the command, then decides again.
                    let mut current = stored;
                    let mut observed = quiet();
                    loop {
                        match decide(&current, &observed, 130) {
                            Next::Record {
                                record,
                                again: true,
                                ..
                            } => {
                                current = *record;
                                // What one step read is read again (alarms stay, as in the
                                // executor; the live weights are read afresh and unchanged).
                                observed.next_step();
                                observed.live_weights = quiet().live_weights;
                            }
                            other => break show(&other),
                        }
                    }
                }
            };
            assert_eq!(got, want, "{state} × {}", kind.name());
        }
    }
}

#[test]
fn a_pause_stops_the_bake_clock_and_alarms_still_roll_back() {
    let bake = record_at(4, Phase::Ready); // bake started at 100 s
    let (paused, _) = accept(&bake, command(CommandKind::Pause, 150)).expect("accepted");
    let (paused, note) = command::apply(&paused, at(160));
    assert_eq!(note, "pause by arn:aws:iam::1:user/ann: looks off");
    // Paused for ten minutes: still waiting, no bake progress; an alarm rolls back.
    assert!(show(&decide(&paused, &quiet(), 760)).starts_with("wait: paused by"));
    assert_eq!(
        show(&decide(&paused, &Observed::default(), 760)),
        "observe alarms"
    );
    assert!(show(&decide(&paused, &firing(), 760)).contains("abort:Alarm"));
    // Resumed at 760 s: 60 s were baked before the pause; 60 s remain.
    let (resumed, _) = accept(&paused, command(CommandKind::Resume, 760)).expect("accepted");
    let (resumed, _) = command::apply(&resumed, at(760));
    assert_eq!(
        show(&decide(&resumed, &quiet(), 800)),
        "wait: baking, 100 s of 120 s; alarms quiet"
    );
    assert_eq!(
        show(&decide(&resumed, &quiet(), 820)),
        "record step=5 again=false: baked 120 s with alarms quiet"
    );
    // A paused shift before any traffic moved does not read alarms.
    let (held, _) = accept(
        &record_at(3, Phase::Ready),
        command(CommandKind::Pause, 150),
    )
    .expect("accepted");
    let (held, _) = command::apply(&held, at(150));
    assert!(show(&decide(&held, &Observed::default(), 200)).starts_with("wait: paused by"));
}

#[test]
fn promote_full_skips_to_the_last_shift_and_ends_every_bake() {
    let (cmd, _) = accept(
        &record_at(3, Phase::Ready),
        command(CommandKind::Promote { full: true }, 120),
    )
    .expect("accepted");
    let mut current = cmd;
    let mut steps = Vec::new();
    for _ in 0..20 {
        match decide(&current, &quiet(), 130) {
            Next::Record { record, .. } => {
                current = *record;
            }
            Next::Act(Change::WriteWeights { .. }) => {
                let claimed_record = claimed(&current, &me(), at(130));
                current = after_change(&claimed_record, &Changed::WeightsWritten(None), at(130)).0;
            }
            Next::Promote(record) => {
                steps.push("promote".to_owned());
                current = *record;
                break;
            }
            other => panic!("unexpected {}", show(&other)),
        }
        let p = current.progress.as_ref().expect("progress");
        steps.push(p.current().map_or("end".into(), Step::describe));
    }
    assert_eq!(
        steps,
        [
            "shift 10%",
            "shift 100%",
            "shift 100%",
            "bake 120s",
            "promote",
            "promote"
        ]
    );
    assert_eq!(current.status, DeploymentStatus::Promoted);
}

#[test]
fn commands_for_another_deployment_are_dropped() {
    let (stored, _) = accept(
        &record_at(4, Phase::Ready),
        command(CommandKind::Abort, 120),
    )
    .expect("accepted");
    let mut newer = stored;
    if let Some(p) = newer.progress.as_mut() {
        p.deployment_id = "j5".into();
    }
    match decide(&newer, &quiet(), 130) {
        Next::Record {
            record,
            note,
            again: true,
        } => {
            assert!(record.commands.is_empty());
            assert!(record.progress.as_ref().is_some_and(|p| p.abort.is_none()));
            assert_eq!(
                note,
                "dropped operator commands given for another deployment"
            );
        }
        other => panic!("unexpected {}", show(&other)),
    }
    // A second abort while one waits is refused; the queue is bounded.
    let (stored, _) = accept(
        &record_at(4, Phase::Ready),
        command(CommandKind::Abort, 120),
    )
    .expect("accepted");
    assert!(matches!(
        accept(&stored, command(CommandKind::Pause, 121)),
        Err(Refusal::Pointless(_))
    ));
}

#[test]
fn rollout_verdicts() {
    let service = |td: &str, deployments: &[(&str, &str, &str)], running: i32| EcsService {
        task_definition: td.into(),
        desired_count: 2,
        running_count: running,
        deployments: deployments
            .iter()
            .map(|(status, td, state)| EcsDeployment {
                status: (*status).into(),
                task_definition: (*td).into(),
                rollout_state: (*state).into(),
                reason: "circuit breaker".into(),
            })
            .collect(),
    };
    let arn = "arn:aws:ecs:us-east-1:123456789012:task-definition/web:2";
    let cases = [
        (service(arn, &[("PRIMARY", arn, "COMPLETED")], 2), Rollout::Completed { running: 2 }),
        (service("web:2", &[("PRIMARY", "web:2", "IN_PROGRESS"), ("ACTIVE", "web:1", "COMPLETED")], 1), Rollout::Pending { running: 1, desired: 2 }),
        // The circuit breaker failed the new deployment and ECS rolled back to web:1.
        (service("web:1", &[("PRIMARY", "web:1", "IN_PROGRESS"), ("ACTIVE", "web:2", "FAILED")], 2), Rollout::Failed("the deployment circuit breaker stopped it and ECS rolled back (circuit breaker)".into())),
        // Someone else moved the service.
        (service("web:3", &[("PRIMARY", "web:3", "COMPLETED")], 2), Rollout::Failed("the service is now set to web:3 (changed outside this deployment or rolled back by ECS)".into())),
        // No deployment names web:2 (emulators): the running count decides.
        (service("web:2", &[("PRIMARY", "web:1", "COMPLETED")], 2), Rollout::Completed { running: 2 }),
        (service("web:2", &[("PRIMARY", "web:1", "COMPLETED")], 0), Rollout::Pending { running: 0, desired: 2 }),
    ];
    for (service, expect) in cases {
        assert_eq!(rollout_verdict(&service, "web:2"), expect, "{service:?}");
    }
}

#[test]
fn a_command_bound_to_another_deployment_is_refused_and_one_bound_to_this_one_is_stored() {
    let record = record_at(4, Phase::Ready);
    let current = record
        .progress
        .as_ref()
        .map(|p| p.deployment_id.clone())
        .expect("in flight");
    let bound = |id: &str| OperatorCommand {
        deployment_id: Some(id.to_owned()),
        ..command(CommandKind::Abort, 125)
    };
    match accept(&record, bound("an-older-job")) {
        Err(Refusal::OtherDeployment {
            given,
            current: now,
            ..
        }) => {
            assert_eq!(
                (given.as_str(), now.as_str()),
                ("an-older-job", current.as_str())
            );
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (stored, _) = accept(&record, bound(&current)).expect("this deployment");
    assert_eq!(stored.commands.len(), 1);
    assert_eq!(
        stored.commands[0].deployment_id.as_deref(),
        Some(current.as_str())
    );
}

#[test]
fn a_shift_reads_the_live_weights_and_stops_on_a_hand_edit() {
    let live = |blue: i64, green: i64| Observed {
        live_weights: Some([("blue".to_owned(), blue), ("green".to_owned(), green)].into()),
        alarm: Some(None),
        ..Observed::default()
    };
    let cases: Vec<(Observed, &str)> = vec![
        (
            Observed {
                alarm: Some(None),
                ..Observed::default()
            },
            "observe weights",
        ),
        // As the record last wrote them, or already at the target after a crash.
        (live(100, 0), "act weights blue=90,green=10"),
        (live(90, 10), "act weights blue=90,green=10"),
        // Anything else was changed by hand: stop, change nothing.
        (
            live(70, 30),
            "record step=3 abort:TrafficEdited again=true: the Route53 weights were changed outside this deployment: live blue=70 green=30 but the deployment last wrote blue=100 green=0; stopped without changing anything",
        ),
    ];
    for (observed, expect) in cases {
        let record = record_at(3, Phase::Ready);
        assert_eq!(
            show(&decide(&record, &observed, 130)),
            expect,
            "{observed:?}"
        );
    }
    // A target missing from the live sets weighs 0, like one missing from the record.
    let only_blue = Observed {
        live_weights: Some([("blue".to_owned(), 100)].into()),
        alarm: Some(None),
        ..Observed::default()
    };
    assert_eq!(
        show(&decide(&record_at(3, Phase::Ready), &only_blue, 130)),
        "act weights blue=90,green=10"
    );
}

#[test]
fn a_shift_never_writes_every_weight_zero() {
    let mut record = record_at(3, Phase::Ready);
    if let Some(Step::Shift { weights, .. }) =
        record.progress.as_mut().and_then(|p| p.steps.get_mut(3))
    {
        *weights = [("blue".to_owned(), 0), ("green".to_owned(), 0)].into();
    }
    let got = show(&decide(&record, &quiet(), 130));
    assert!(got.contains("abort:TrafficEdited"), "{got}");
    assert!(got.contains("every Route53 weight zero"), "{got}");
}

/// The canary record with `hook` inserted as step 2 (before verify), at `phase`.
fn with_hook(hook: Hook, at_point: HookPoint, phase: Phase) -> DeploymentRecord {
    let mut record = record_at(2, phase);
    if let Some(p) = record.progress.as_mut() {
        p.steps.insert(2, Step::Hook { at: at_point, hook });
    }
    record
}

#[test]
fn hooks_start_once_then_are_asked_until_they_answer() {
    let task = Hook::Task {
        command: vec!["./migrate".into(), "up".into()],
        container: None,
        timeout_seconds: 600,
    };
    let lambda = Hook::Lambda {
        function: "smoke".into(),
        timeout_seconds: 60,
    };
    let backup = Hook::Backup {
        plan: "db".into(),
        timeout_seconds: 900,
    };
    let answered = |status: HookStatus| Observed {
        hook: Some(status),
        ..quiet()
    };
    let task_waiting = waiting(Some("arn:task/1"));
    let cases: Vec<(Hook, Phase, Observed, i64, &str)> = vec![
        // A task is claimed and started once, under a deterministic name.
        (task.clone(), Phase::Ready, quiet(), 130, "act start task ./migrate up as hook-"),
        (task.clone(), acting(other(), 100), quiet(), 130, "wait: another invocation is starting the pre_deploy hook task ./migrate up"),
        (task.clone(), task_waiting.clone(), quiet(), 130, "observe hook task ./migrate up arn:task/1"),
        (task.clone(), task_waiting.clone(), answered(HookStatus::Running("RUNNING".into())), 130, "wait: pre_deploy hook task ./migrate up: RUNNING"),
        (task.clone(), task_waiting.clone(), answered(HookStatus::Succeeded("exit code 0".into())), 130, "record step=3 again=false: pre_deploy hook task ./migrate up succeeded: exit code 0"),
        (task.clone(), task_waiting.clone(), answered(HookStatus::Failed("exit code 1; logs /ecs/api app/app/abc".into())), 130, "record step=2 abort:Hook again=true: pre_deploy hook task ./migrate up failed: exit code 1; logs /ecs/api app/app/abc; no traffic was shifted"),
        (task.clone(), task_waiting, answered(HookStatus::Running("RUNNING".into())), 701, "record step=2 abort:Hook again=true: pre_deploy hook task ./migrate up did not finish within 600 s (RUNNING); no traffic was shifted"),
        // A Lambda hook is asked on every invocation, from the step's start.
        (lambda.clone(), Phase::Ready, quiet(), 130, "observe hook lambda smoke"),
        (lambda.clone(), Phase::Ready, answered(HookStatus::Running("in_progress".into())), 130, "wait: pre_deploy hook lambda smoke: in_progress"),
        (lambda.clone(), Phase::Ready, answered(HookStatus::Running("in_progress".into())), 161, "record step=2 abort:Hook again=true: pre_deploy hook lambda smoke did not finish within 60 s (in_progress); no traffic was shifted"),
        // A backup is asked for once, then the plan's latest snapshot is read.
        (backup.clone(), Phase::Ready, quiet(), 130, "act start backup of plan db as hook-"),
        (backup.clone(), waiting(None), quiet(), 130, "observe hook backup of plan db"),
        (backup, waiting(None), answered(HookStatus::Succeeded("snapshot s1 committed".into())), 130, "record step=3 again=false: pre_deploy hook backup of plan db succeeded: snapshot s1 committed"),
    ];
    for (hook, phase, observed, now, expect) in cases {
        let record = with_hook(hook, HookPoint::PreDeploy, phase.clone());
        let got = show(&decide(&record, &observed, now));
        assert!(
            got.starts_with(expect),
            "{phase:?} {observed:?} at {now}: {got}"
        );
    }
}

#[test]
fn hook_runs_have_short_stable_names() {
    let a = hooks::run_name("job-1", 2);
    assert_eq!(a, hooks::run_name("job-1", 2));
    assert_ne!(a, hooks::run_name("job-1", 3));
    assert_ne!(a, hooks::run_name("job-2", 2));
    assert!(a.len() <= 36, "{a}");
}

/// An error-rate check (interval 10 s, 2 measurements, no failure tolerated) and a judge.
fn analysis_config(judge: bool) -> crate::deploy::analysis::AnalysisConfig {
    let yaml = format!(
        r#"
metrics:
  error_rate:
    queries: [{{ id: e, metric: {{ namespace: App, name: Errors, dimensions: {{ Color: "{{color}}" }}, stat: Sum }} }}]
    success: "result < 0.01"
    interval_seconds: 10
    count: 2
{}"#,
        if judge {
            "judge:\n  metrics:\n    latency: { queries: [{ id: l, metric: { namespace: App, name: Latency, dimensions: { Color: \"{color}\" } } }] }\n  max_holds: 1\n"
        } else {
            ""
        }
    );
    serde_yaml_ng::from_str(&yaml).expect("analysis config")
}

fn sides() -> Sides {
    let side = |color: &str| SideNames {
        color: color.into(),
        service: format!("api-{color}"),
        target: format!("{color}.api.internal"),
    };
    Sides {
        candidate: side("green"),
        baseline: Some(side("blue")),
    }
}

fn decide_analysed(
    record: &DeploymentRecord,
    observed: &Observed,
    now: i64,
    config: &crate::deploy::analysis::AnalysisConfig,
) -> Next {
    decide_with(record, observed, now, Some(config))
}

/// Runs the machine from `record` at `now`, answering observations with `errors` (the error
/// rate read) and, for the judge, each metric's (candidate, baseline) sample centres from
/// `latency`, writing records, until it waits or acts.
fn run_bake(
    record: &mut DeploymentRecord,
    now: i64,
    config: &crate::deploy::analysis::AnalysisConfig,
    errors: f64,
    latency: impl Fn(&str) -> (f64, f64),
) -> String {
    let spread = |base: f64| -> Vec<f64> { (0..8).map(|i| base + f64::from(i)).collect() };
    let mut observed = quiet();
    for _ in 0..10 {
        match decide_analysed(record, &observed, now, config) {
            Next::Observe(Observation::Metrics { requests }) => {
                observed.metrics = Some(
                    requests
                        .iter()
                        .map(|r| (r.check.clone(), r.side, Ok(vec![errors])))
                        .collect(),
                );
            }
            Next::Observe(Observation::Judge { requests }) => {
                observed.judged = Some(
                    requests
                        .iter()
                        .map(|r| {
                            let (candidate, baseline) = latency(&r.check);
                            (
                                r.check.clone(),
                                (Ok(spread(candidate)), Ok(spread(baseline))),
                            )
                        })
                        .collect(),
                );
            }
            Next::Record {
                record: next,
                note,
                again,
            } => {
                *record = *next;
                if !again {
                    return format!("record: {note}");
                }
                observed = quiet();
            }
            other => return show(&other),
        }
    }
    panic!("the machine did not settle");
}

fn same(_: &str) -> (f64, f64) {
    (100.0, 100.0)
}

#[test]
fn analysis_measures_every_bake_invocation_and_rolls_back_a_failing_check() {
    let config = analysis_config(false);
    let mut record = record_at(4, Phase::Ready);
    // First invocation: measured (0.001 < 0.01), then still baking.
    let got = run_bake(&mut record, 101, &config, 0.001, same);
    assert!(got.starts_with("wait: baking, 1 s of 120 s"), "{got}");
    assert!(got.contains("analysis 1 of 2"), "{got}");
    // A second invocation within the interval measures nothing more.
    let before = record.clone();
    let got = run_bake(&mut record, 105, &config, 0.5, same);
    assert!(got.starts_with("wait:"), "{got}");
    assert_eq!(record, before, "nothing written within the interval");
    // The next measurement fails: rolled back like an alarm, with the check in the reason.
    let got = run_bake(&mut record, 112, &config, 0.08, same);
    assert!(got.starts_with("revert Analysis"), "{got}");
    let abort = record
        .progress
        .as_ref()
        .and_then(|p| p.abort.clone())
        .expect("abort");
    assert!(abort.reason.contains("error_rate"), "{}", abort.reason);
    assert!(abort.reason.contains("0.08"), "{}", abort.reason);
    assert!(abort.reason.contains("result < 0.01"), "{}", abort.reason);
    assert_eq!(abort.alarm.as_deref(), Some("analysis:error_rate"));
    let (done, outcome) = reverted(&record, &abort, None, "a", at(113));
    assert_eq!(outcome, Outcome::RolledBack);
    assert_eq!(done.status, DeploymentStatus::RolledBack);
}

#[test]
fn a_bake_ends_only_once_its_checks_passed_and_the_judge_agreed() {
    let config = analysis_config(true);
    let mut record = record_at(4, Phase::Ready);
    run_bake(&mut record, 101, &config, 0.001, same);
    // Baked long enough but one measurement short: it waits for the analysis.
    let got = run_bake(&mut record, 221, &config, 0.001, same);
    assert!(
        got.starts_with("record: baked 120 s"),
        "measured at 221: {got}"
    );
    assert_eq!(record.progress.as_ref().map(|p| p.step), Some(5));
    assert_eq!(
        record.history.last().map(|h| h.event.as_str()),
        Some("judge_passed")
    );
    let mut short = record_at(4, Phase::Ready);
    run_bake(&mut short, 101, &config, 0.001, same);
    let got = run_bake(&mut short, 105, &config, 0.001, same);
    assert!(got.contains("analysis 1 of 2"), "{got}");
}

#[test]
fn a_marginal_judge_holds_the_step_then_a_second_fails_it() {
    let mut config = analysis_config(true);
    if let Some(judge) = config.judge.as_mut() {
        // Two metrics: one failing scores 50, marginal.
        let latency = judge.metrics["latency"].clone();
        judge.metrics.insert("errors".into(), latency);
        judge.marginal_score = 50.0;
    }
    let slow = |metric: &str| {
        if metric == "latency" {
            (200.0, 100.0)
        } else {
            (100.0, 100.0)
        }
    };
    let mut record = record_at(4, Phase::Ready);
    run_bake(&mut record, 101, &config, 0.001, slow);
    let got = run_bake(&mut record, 225, &config, 0.001, slow);
    assert!(
        got.starts_with("record: judge marginal (1 hold(s)); baking again"),
        "{got}"
    );
    let p = record.progress.as_ref().expect("progress");
    assert_eq!(p.step, 4, "the step is held");
    assert_eq!(p.step_started_at, at(225), "its bake starts again");
    assert_eq!(p.analysis.as_ref().map(|r| r.holds), Some(1));
    assert_eq!(
        record.history.last().map(|h| h.event.as_str()),
        Some("judge_marginal")
    );
    // The same verdict after the next bake is one hold too many (max_holds 1): rolled back.
    run_bake(&mut record, 226, &config, 0.001, slow);
    let got = run_bake(&mut record, 350, &config, 0.001, slow);
    assert!(got.starts_with("revert Analysis"), "{got}");
}
