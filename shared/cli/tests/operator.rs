//! `opsctl deploy …` and `opsctl rollback …` against the emulator: refusals that write nothing,
//! commands stored and audited with the caller's identity, confirmation, JSON output, and
//! rollbacks of promoted and stable services that put Route53 and ECS back.

mod support;

use ops_domain::deploy::CommandKind;
use ops_domain::deployment::DeploymentStatus;
use support::World;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_refused_on_a_stable_record_writes_nothing() {
    let world = World::new().await;
    world.put_record(&world.worker_stable()).await;
    let before = world.record("worker").await;
    let run = world.run("deploy pause worker --yes").await;
    assert!(run.exited(1), "{}", run.err);
    assert!(
        run.err
            .contains("worker has no deployment in flight (status STABLE)"),
        "{}",
        run.err
    );
    assert_eq!(world.record("worker").await, before);
    assert!(world.audits().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_on_a_deployment_in_flight_is_stored_and_audited_with_the_caller() {
    let world = World::new().await;
    world.put_record(&world.web_in_flight()).await;
    let run = world
        .run("deploy pause web --yes --reason=investigating")
        .await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    assert!(run.out.contains("holds at promote"), "{}", run.out);
    let caller = world.caller().await;
    assert!(caller.starts_with("arn:aws:"), "{caller}");
    let record = world.record("web").await.value;
    assert_eq!(record.commands.len(), 1);
    let command = &record.commands[0];
    assert_eq!(command.kind, CommandKind::Pause);
    assert_eq!(command.by, caller);
    assert_eq!(command.reason, "investigating");
    assert_eq!(command.deployment_id.as_deref(), Some("job-1"));
    let audits = world.audits().await;
    assert_eq!(audits.len(), 1);
    let audit = &audits[0];
    assert_eq!(audit.id, command.id);
    assert_eq!(audit.function, "opsctl");
    assert_eq!(audit.action, "operator_pause");
    assert_eq!(audit.actor, caller);
    assert_eq!(audit.target, "service:web");
    assert_eq!(audit.reason, "investigating");
    assert_eq!(audit.before["status"], "IN_PROGRESS");
    assert_eq!(audit.after, record.summary());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_or_confirmation_nothing_is_written() {
    let world = World::new().await;
    world.put_record(&world.web_in_flight()).await;
    let before = world.record("web").await;

    // No terminal and no --yes: refused after showing what would change.
    let run = world.run("deploy abort web").await;
    assert!(run.exited(1), "{}", run.err);
    assert!(
        run.out.contains("stops: traffic and services back on"),
        "{}",
        run.out
    );
    assert!(run.err.contains("pass --yes"), "{}", run.err);

    // A terminal, and the operator answers no.
    let mut env = world.env();
    env.interactive = true;
    env.confirm = Box::new(|question| {
        assert_eq!(question, "abort web?");
        false
    });
    let run = world.run_in(&env, "deploy abort web").await;
    assert!(run.exited(1), "{}", run.err);
    assert!(run.err.contains("not confirmed"), "{}", run.err);
    assert_eq!(world.record("web").await, before);
    assert!(world.audits().await.is_empty());

    // The same with yes: stored.
    env.confirm = Box::new(|_| true);
    let run = world.run_in(&env, "deploy abort web").await;
    assert!(run.exited(0), "{}", run.err);
    let record = world.record("web").await.value;
    assert_eq!(record.commands.len(), 1);
    assert_eq!(record.commands[0].kind, CommandKind::Abort);
    assert_eq!(world.audits().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_output_parses_for_results_and_errors() {
    let world = World::new().await;
    world.put_record(&world.web_in_flight()).await;
    let run = world
        .run("deploy promote web --full --yes --output json")
        .await;
    assert!(run.exited(0), "{}", run.err);
    let body = run.json();
    assert_eq!(body["ok"], true);
    assert_eq!(body["service"], "web");
    assert_eq!(body["command"], "promote --full");
    assert_eq!(body["status_before"], "IN_PROGRESS");
    assert_eq!(body["by"], world.caller().await.as_str());
    assert_eq!(body["applies"], "next_invocation");
    assert!(body["what_will_change"]
        .as_str()
        .is_some_and(|text| text.contains("straight to 100 %")));
    let record = world.record("web").await.value;
    assert_eq!(body["command_id"], record.commands[0].id.as_str());

    // Errors are one JSON object too: an unknown service and a missing record.
    let run = world.run("deploy pause nosuch --yes --output json").await;
    assert!(run.exited(1));
    let body = run.json();
    assert_eq!(body["ok"], false);
    assert_eq!(body["error"], "not_found");
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("nosuch is not in the suite config (services: web, worker)")));
    let run = world.run("rollback worker --yes --output json").await;
    assert!(run.exited(1));
    assert!(run.json()["message"]
        .as_str()
        .is_some_and(|m| m.contains("worker has no deployment record")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_a_promoted_canary_puts_weights_and_the_ecs_service_back() {
    let world = World::new().await;
    world.put_record(&world.web_promoted()).await;
    // The blue service drifted onto the candidate: the rollback puts it back too.
    world.set_service_td("web-blue", &world.web[1]).await;
    let run = world
        .run("rollback web --yes --reason=checkout-errors --output json")
        .await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    let body = run.json();
    assert_eq!(body["status_before"], "PROMOTED");
    assert_eq!(body["status_after"], "ROLLED_BACK");
    assert_eq!(body["ecs_updated"], true);
    assert_eq!(world.weights().await, (100, 0));
    assert_eq!(world.service_td("web-blue").await, world.web[0]);

    let caller = world.caller().await;
    let record = world.record("web").await.value;
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(record.candidate, None);
    assert_eq!(
        record.weights,
        [("blue".to_owned(), 100), ("green".to_owned(), 0)].into()
    );
    let mark = record.rollback.as_ref().expect("rollback mark");
    assert_eq!(mark.by.as_deref(), Some(caller.as_str()));
    assert_eq!(mark.alarm, "operator");
    assert_eq!(mark.reason, "checkout-errors");
    assert!(mark.trigger_id.starts_with("operator-web-"));
    assert!(mark.completed_at.is_some());
    assert_eq!(
        mark.from.as_ref().map(|r| r.task_definition.as_str()),
        Some(world.web[1].as_str())
    );
    let audits = world.audits().await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].action, "rollback");
    assert_eq!(audits[0].actor, format!("operator:{caller}"));
    assert_eq!(audits[0].before["status"], "PROMOTED");
    assert_eq!(audits[0].after["status"], "ROLLED_BACK");

    // Rolled back is final: a second rollback is refused and changes nothing.
    let again = world.record("web").await;
    let run = world.run("rollback web --yes").await;
    assert!(run.exited(1));
    assert!(run.err.contains("nothing to roll back"), "{}", run.err);
    assert_eq!(world.record("web").await, again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_prints_the_plan_and_changes_nothing() {
    let world = World::new().await;
    world.put_record(&world.web_promoted()).await;
    let before = world.record("web").await;
    let run = world.run("rollback web --dry-run").await;
    assert!(run.exited(0), "{}", run.err);
    assert!(
        run.out.contains("blue 0 -> 100, green 100 -> 0"),
        "{}",
        run.out
    );
    assert!(
        run.out.contains("dry run: nothing was changed"),
        "{}",
        run.out
    );
    let run = world.run("rollback web --dry-run --output json").await;
    assert!(run.exited(0), "{}", run.err);
    let body = run.json();
    assert_eq!(body["dry_run"], true);
    assert_eq!(body["to"], world.web[0].as_str());
    assert_eq!(body["traffic"]["weights"]["blue"], 100);
    assert_eq!(body["traffic"]["live"]["green"], 100);
    assert_eq!(body["ecs"]["service"], "web-blue");
    assert_eq!(world.record("web").await, before);
    assert_eq!(world.weights().await, (0, 100));
    assert_eq!(world.service_td("web-blue").await, world.web[0]);
    assert!(world.audits().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_a_stable_rolling_service_moves_the_ecs_service() {
    let world = World::new().await;
    world.put_record(&world.worker_stable()).await;
    let before = world.record("worker").await;

    // No previous release on record and no --to; a revision of another family; an unknown one.
    for (line, expect) in [
        ("rollback worker --yes", "no previous release on record"),
        (
            &format!("rollback worker --yes --to {}", world.web[0]) as &str,
            "runs family",
        ),
        (
            &format!("rollback worker --yes --to {}-worker:99", world.prefix),
            "not found",
        ),
    ] {
        let run = world.run(line).await;
        assert!(run.exited(1), "{line}: {}", run.err);
        assert!(run.err.contains(expect), "{line}: {}", run.err);
    }
    assert_eq!(world.record("worker").await, before);
    assert_eq!(world.service_td("worker").await, world.worker[1]);

    let run = world
        .run(&format!(
            "rollback worker --yes --to {}-worker:1",
            world.prefix
        ))
        .await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    assert!(run.out.contains("worker rolled back"), "{}", run.out);
    assert_eq!(world.service_td("worker").await, world.worker[0]);
    let record = world.record("worker").await.value;
    assert_eq!(record.status, DeploymentStatus::RolledBack);
    assert_eq!(record.stable.task_definition, world.worker[0]);
    let mark = record.rollback.expect("mark");
    assert_eq!(mark.by.as_deref(), Some(world.caller().await.as_str()));
    assert_eq!(
        mark.from.map(|r| r.task_definition),
        Some(world.worker[1].clone())
    );
    let audits = world.audits().await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].before["stable"], world.worker[1].as_str());
    assert_eq!(audits[0].after["stable"], world.worker[0].as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_is_refused_in_flight_past_the_window_and_for_a_stable_traffic_shifting_service() {
    let world = World::new().await;
    world.put_record(&world.web_in_flight()).await;
    let run = world.run("rollback web --yes").await;
    assert!(run.exited(1));
    assert!(run.err.contains("opsctl deploy abort web"), "{}", run.err);

    let mut late = world.web_promoted();
    if let Some(progress) = late.progress.as_mut() {
        progress.rollback_window_until = Some(chrono::Utc::now() - chrono::Duration::minutes(1));
    }
    world.put_record(&late).await;
    let run = world.run("rollback web --yes").await;
    assert!(run.exited(1));
    assert!(
        run.err.contains("rollback window of web is over"),
        "{}",
        run.err
    );

    world.put_record(&world.web_promoted()).await;
    let run = world
        .run(&format!("rollback web --yes --to {}", world.web[1]))
        .await;
    assert!(run.exited(1));
    assert!(
        run.err
            .contains("--to applies to a STABLE service: web is PROMOTED"),
        "{}",
        run.err
    );

    let mut stable = world.web_promoted();
    stable.status = DeploymentStatus::Stable;
    world.put_record(&stable).await;
    let run = world.run("rollback web --yes").await;
    assert!(run.exited(1));
    assert!(run.err.contains("scaled to zero"), "{}", run.err);
    assert_eq!(world.weights().await, (0, 100));
    assert!(world.audits().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_changed_between_read_and_write_is_read_and_checked_again() {
    let world = World::new().await;
    let record = world.web_in_flight();
    world.put_record(&record).await;

    // Another writer changes something else: the pause is checked again and stored on top.
    let mut touched = record.clone();
    touched.push_history(
        chrono::Utc::now(),
        "other_writer",
        "an invocation ran".into(),
    );
    let run = world
        .run_in(&world.env_racing(touched), "deploy pause web")
        .await;
    assert!(run.exited(0), "{}", run.err);
    let stored = world.record("web").await.value;
    assert!(stored.history.iter().any(|h| h.event == "other_writer"));
    assert_eq!(stored.commands.len(), 1);
    assert_eq!(world.audits().await.len(), 1);

    // Another operator paused first: checked again, the pause is pointless and nothing is
    // written on top of theirs.
    world.put_record(&record).await;
    let mut paused = record.clone();
    let mut theirs = stored.commands[0].clone();
    theirs.id = "someone-else".into();
    paused.commands = vec![theirs];
    let run = world
        .run_in(&world.env_racing(paused.clone()), "deploy pause web")
        .await;
    assert!(run.exited(1), "{}", run.err);
    assert!(
        run.err.contains("already paused (the record changed)"),
        "{}",
        run.err
    );
    assert_eq!(world.record("web").await.value, paused);
    assert_eq!(world.audits().await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_claimed_by_an_alarm_meanwhile_is_left_to_it() {
    let world = World::new().await;
    let record = world.web_promoted();
    world.put_record(&record).await;
    let mut claimed = record.clone();
    claimed.status = DeploymentStatus::RollingBack;
    claimed.rollback = Some(ops_domain::deployment::RollbackMark {
        trigger_id: "t-alarm".into(),
        alarm: "web-5xx".into(),
        reason: "5xx over 5%".into(),
        started_at: chrono::Utc::now(),
        completed_at: None,
        from: record.candidate.clone(),
        by: None,
    });
    let run = world
        .run_in(&world.env_racing(claimed.clone()), "rollback web")
        .await;
    assert!(run.exited(1), "{}", run.err);
    assert!(
        run.err.contains("a rollback of web (web-5xx) is under way"),
        "{}",
        run.err
    );
    assert_eq!(world.record("web").await.value, claimed);
    assert_eq!(world.weights().await, (0, 100));
    assert!(world.audits().await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_left_unfinished_past_its_lease_is_completed() {
    let world = World::new().await;
    let mut record = world.web_promoted();
    record.status = DeploymentStatus::RollingBack;
    record.rollback = Some(ops_domain::deployment::RollbackMark {
        trigger_id: "operator-earlier".into(),
        alarm: "operator".into(),
        reason: "first attempt".into(),
        started_at: chrono::Utc::now() - chrono::Duration::minutes(10),
        completed_at: None,
        from: record.candidate.clone(),
        by: Some("arn:aws:iam::123456789012:user/first".into()),
    });
    world.put_record(&record).await;
    let run = world.run("rollback web --yes").await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    assert_eq!(world.weights().await, (100, 0));
    let done = world.record("web").await.value;
    assert_eq!(done.status, DeploymentStatus::RolledBack);
    assert_eq!(
        done.rollback.and_then(|mark| mark.by),
        Some(world.caller().await)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollback_of_a_stable_rolling_service_goes_back_to_its_previous_release() {
    let world = World::new().await;
    let mut record = world.worker_stable();
    record.previous = Some(ops_domain::deployment::Release {
        task_definition: world.worker[0].clone(),
        image: Some("registry.example/worker:1".into()),
        target: None,
    });
    world.put_record(&record).await;
    let run = world.run("rollback worker --yes --reason=regression").await;
    assert!(run.exited(0), "{} {}", run.out, run.err);
    assert_eq!(world.service_td("worker").await, world.worker[0]);
    let done = world.record("worker").await.value;
    assert_eq!(done.status, DeploymentStatus::RolledBack);
    assert_eq!(done.stable.task_definition, world.worker[0]);
    assert_eq!(
        done.stable.image.as_deref(),
        Some("registry.example/worker:1")
    );
    assert_eq!(done.previous, None);
    let audits = world.audits().await;
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].reason, "regression");
}
