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

use crate::session::{self, command_id, Session, MAX_ATTEMPTS};
use crate::{confirm, Env, Failure, Options, Output};

/// The audit action of a command: `operator_pause`, `operator_promote_full`…
pub fn action(kind: CommandKind) -> String {
    format!("operator_{}", kind.name().replace(" --", "_"))
}

/// What an operator command will change, shown before it is confirmed.
#[derive(Debug, Clone)]
pub struct Preview {
    /// What will change and who asks, one line each (text output).
    pub lines: Vec<String>,
    /// The question to confirm (`pause web?`).
    pub question: String,
    /// What will change, in one sentence.
    pub what: String,
}

/// A stored command: the lines to print (text output) and the JSON body (JSON output, the API).
#[derive(Debug, Clone)]
pub struct Done {
    /// What happened, one line each.
    pub lines: Vec<String>,
    /// The command's outcome as one JSON object.
    pub body: serde_json::Value,
}

/// Runs one operator command on `service` for `opsctl`: shows it, asks to confirm, stores it.
pub async fn run(
    kind: CommandKind,
    service: &str,
    options: &Options,
    env: &Env,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let session = Session::open(env, options).await?;
    let output = options.output;
    let done = execute(
        &session,
        kind,
        service,
        options.reason.clone(),
        |preview: &Preview| ask(preview, env, options, out),
    )
    .await?;
    done.print(output, out);
    Ok(())
}

/// Shows `preview` (text output) and asks the operator to confirm it: `opsctl`'s confirmation
/// for every command built on an `execute` core.
pub(crate) fn ask(
    preview: &Preview,
    env: &Env,
    options: &Options,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    let question = match options.output {
        Output::Text => {
            for line in &preview.lines {
                let _ = writeln!(out, "{line}");
            }
            preview.question.clone()
        }
        // In JSON mode nothing was printed yet: the question says what will change.
        Output::Json => format!("{}\n{}", preview.what, preview.question),
    };
    confirm(env, options, &question)
}

impl Done {
    /// Prints the outcome: its lines (text output) or its JSON body.
    pub fn print(&self, output: Output, out: &mut dyn Write) {
        match output {
            Output::Text => {
                for line in &self.lines {
                    let _ = writeln!(out, "{line}");
                }
            }
            Output::Json => {
                let _ = writeln!(out, "{}", self.body);
            }
        }
    }
}

/// Checks `kind` against the record of `service`, asks `confirm` with what will change, and
/// stores the command with compare-and-swap, its audit record owed in the same write and written
/// right after, naming `session.caller`. A refused or unconfirmed command writes nothing.
pub async fn execute<C>(
    session: &Session,
    kind: CommandKind,
    service: &str,
    reason: String,
    confirm: C,
) -> Result<Done, Failure>
where
    C: FnMut(&Preview) -> Result<(), Failure>,
{
    execute_bound(session, kind, service, reason, None, confirm).await
}

/// [`execute`] for a command bound to one deployment (a Slack button names the deployment it
/// was shown for): refused when another deployment is in flight by then.
pub async fn execute_bound<C>(
    session: &Session,
    kind: CommandKind,
    service: &str,
    reason: String,
    deployment_id: Option<String>,
    mut confirm: C,
) -> Result<Done, Failure>
where
    C: FnMut(&Preview) -> Result<(), Failure>,
{
    session.service(service)?;
    let now = Utc::now();
    let command = OperatorCommand {
        id: command_id(service, now),
        kind,
        by: session.caller.clone(),
        reason,
        at: now,
        deployment_id,
    };
    let mut current = session.record(service).await?;
    let (mut next, what) = command::accept(&current.value, command.clone())
        .map_err(|refusal| Failure::Refused(refusal.to_string()))?;
    let before = current.value.clone();
    confirm(&Preview {
        lines: vec![
            format!(
                "deploy {} {service} ({}): {what}",
                kind.name(),
                before.status.as_str()
            ),
            format!("command {} by {}", command.id, command.by),
        ],
        question: format!("{} {service}?", kind.name()),
        what: what.clone(),
    })?;
    // The audit record is owed in the same write as the command, so it cannot be lost.
    let audit_of = |before: &DeploymentRecord, after: &DeploymentRecord| AuditRecord {
        id: command.id.clone(),
        at: now,
        function: session.function.clone(),
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
    let mut lines = Vec::new();
    if let Some(note) = session.settle_audit(&audit, &written, &etag).await {
        lines.push(format!("note: {note}"));
    }
    let when = match kind {
        CommandKind::Retry => "recorded: it applies now",
        _ => "stored: deploy-hook carries it out at the deployment's next invocation",
    };
    lines.push(format!("{} {service}: {when}", kind.name()));
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
        "pending_commands": next.commands.len(),
    });
    Ok(Done { lines, body })
}

/// When the command takes effect.
fn applies(kind: CommandKind) -> &'static str {
    match kind {
        CommandKind::Retry => "now",
        _ => "next_invocation",
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
