//! `opsctl deploy pause|resume|promote [--full]|abort|retry SERVICE`: an operator command,
//! checked against the service's deployment record ([`command::accept`]), shown, confirmed,
//! stored in the record with compare-and-swap, and audited with the caller's identity.
//!
//! The command is carried out by deploy-hook's next invocation of the deployment (`retry` is a
//! permission and takes effect at once). A refused command writes nothing; a lost
//! compare-and-swap re-reads the record and checks the command again.

use std::io::Write;

use chrono::Utc;
use ops_domain::audit::AuditRecord;
use ops_domain::deploy::command::{self, CommandKind, OperatorCommand};
use ops_domain::deployment::DeploymentRecord;
use serde_json::json;

use crate::session::{self, command_id, Session, FUNCTION, MAX_ATTEMPTS};
use crate::{confirm, Env, Failure, Options, Output};

/// The audit action of a command: `operator_pause`, `operator_promote_full`…
pub fn action(kind: CommandKind) -> String {
    format!("operator_{}", kind.name().replace(" --", "_"))
}

/// Runs one operator command on `service`.
pub async fn run(
    kind: CommandKind,
    service: &str,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    session.service(service)?;
    let now = Utc::now();
    let command = OperatorCommand {
        id: command_id(service, now),
        kind,
        by: session.caller.clone(),
        reason: options.reason.clone(),
        at: now,
        deployment_id: None,
    };
    let mut current = session.record(service).await?;
    let (mut next, what) = command::accept(&current.value, command.clone())
        .map_err(|refusal| Failure::Refused(refusal.to_string()))?;
    let before = current.value.clone();
    if options.output == Output::Text {
        let _ = writeln!(
            out,
            "deploy {} {service} ({}): {what}",
            kind.name(),
            before.status.as_str()
        );
        let _ = writeln!(out, "command {} by {}", command.id, command.by);
    }
    // In JSON mode nothing was printed yet: the question says what will change.
    let question = match options.output {
        Output::Text => format!("{} {service}?", kind.name()),
        Output::Json => format!("{what}\n{} {service}?", kind.name()),
    };
    confirm(env, options, &question)?;
    // The audit record is owed in the same write as the command, so it cannot be lost.
    let audit_of = |before: &DeploymentRecord, after: &DeploymentRecord| AuditRecord {
        id: command.id.clone(),
        at: now,
        function: FUNCTION.to_owned(),
        action: action(kind),
        actor: command.by.clone(),
        target: format!("service:{service}"),
        reason: command.reason.clone(),
        before: before.summary(),
        after: after.summary(),
        outcome: "succeeded".to_owned(),
        request_id: Some(command.id.clone()),
    };
    let mut stored = None;
    for _ in 0..MAX_ATTEMPTS {
        let audit = audit_of(&current.value, &next);
        let mut owing = next.clone();
        session::owe(&mut owing, &audit);
        if let Some(etag) = session.replace(&owing, &current.etag).await? {
            stored = Some((owing, etag, audit));
            break;
        }
        // Someone wrote the record since it was read: check the command again on what is there.
        current = session.record(service).await?;
        next = command::accept(&current.value, command.clone())
            .map_err(|refusal| Failure::Refused(format!("{refusal} (the record changed)")))?
            .0;
    }
    let Some((written, etag, audit)) = stored else {
        return Err(Failure::Failed(format!(
            "the deployment record of {service} kept changing; nothing was written, try again"
        )));
    };
    if let Some(note) = session.settle_audit(&audit, &written, &etag).await {
        if options.output == Output::Text {
            let _ = writeln!(out, "note: {note}");
        }
    }
    report(
        kind,
        service,
        &before,
        &next,
        &what,
        &command,
        options.output,
        out,
    );
    Ok(())
}

/// When the command takes effect.
fn applies(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Retry => "now",
        _ => "next_invocation",
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    kind: CommandKind,
    service: &str,
    before: &DeploymentRecord,
    after: &DeploymentRecord,
    what: &str,
    command: &OperatorCommand,
    output: Output,
    out: &mut dyn Write,
) {
    match output {
        Output::Json => {
            let body = json!({
                "ok": true,
                "service": service,
                "command": kind.name(),
                "status_before": before.status.as_str(),
                "what_will_change": what,
                "command_id": command.id,
                "by": command.by,
                "reason": command.reason,
                "applies": applies(kind),
                "pending_commands": after.commands.len(),
            });
            let _ = writeln!(out, "{body}");
        }
        Output::Text => {
            let when = match kind {
                CommandKind::Retry => "recorded: it applies now",
                _ => "stored: deploy-hook carries it out at the deployment's next invocation",
            };
            let _ = writeln!(out, "{} {service}: {when}", kind.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audit_actions_name_the_command() {
        assert_eq!(action(CommandKind::Pause), "operator_pause");
        assert_eq!(
            action(CommandKind::Promote { full: true }),
            "operator_promote_full"
        );
        assert_eq!(
            action(CommandKind::Promote { full: false }),
            "operator_promote"
        );
        assert_eq!(action(CommandKind::Retry), "operator_retry");
    }
}
