//! `weftctl rollout`: where a canary stands and its decisions, and the actions on it.

use serde_json::Value;

use crate::client::Body;
use crate::error::CliError;
use crate::resources::client;
use crate::{Output, print_document, print_table};

#[derive(clap::Subcommand)]
pub enum RolloutCommand {
    /// Phase, step, weights and the newest decisions (checks with measured values and gates).
    Status {
        name: String,
        #[arg(short = 'm', long)]
        mesh: String,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Pause: the weights stay until it resumes.
    Pause(Target),
    /// Resume a paused rollout at its step.
    Resume(Target),
    /// Send all traffic to the canary now.
    Promote(Target),
    /// Send all traffic back to stable now.
    Abort(Target),
}

#[derive(clap::Args)]
pub struct Target {
    name: String,
    #[arg(short = 'm', long)]
    mesh: String,
}

fn path(mesh: &str, name: &str) -> String {
    format!("/api/v1/meshes/{mesh}/rollouts/{name}")
}

/// A number (or text) of a JSON value for a cell.
fn cell(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::Number(number) => number
            .as_f64()
            .map(|n| {
                if n.fract() == 0.0 {
                    format!("{n:.0}")
                } else {
                    format!("{n:.1}")
                }
            })
            .unwrap_or_default(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn print_status(status: &Value) {
    println!(
        "phase:   {}\nstep:    {} (canary at {} %)\nfailed:  {} check(s) in a row",
        cell(&status["phase"]),
        status["step"].as_u64().map_or(0, |step| step + 1),
        cell(&status["canaryWeight"]),
        cell(&status["failedChecks"]),
    );
    if let Some(by) = status["pausedBy"].as_str() {
        println!("paused:  by {by}");
    }
    if let Some(reason) = status["reason"].as_str() {
        println!("reason:  {reason}");
    }
    let rows: Vec<Vec<String>> = status["history"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .map(|entry| {
            let check = &entry["check"];
            let measured = if check.is_object() {
                format!(
                    "{} req, {} % ok, p99 {} ms",
                    cell(&check["measured"]["requests"]),
                    cell(&check["measured"]["successRate"]),
                    cell(&check["measured"]["p99Millis"]),
                )
            } else {
                String::new()
            };
            vec![
                cell(&entry["at"]),
                cell(&entry["by"]),
                if entry["weightBefore"] == entry["weightAfter"] {
                    cell(&entry["weightAfter"])
                } else {
                    format!(
                        "{} → {}",
                        cell(&entry["weightBefore"]),
                        cell(&entry["weightAfter"])
                    )
                },
                check["verdict"].as_str().unwrap_or_default().to_string(),
                measured,
                cell(&entry["message"]),
            ]
        })
        .collect();
    println!();
    print_table(
        &["AT", "BY", "WEIGHT", "CHECK", "MEASURED", "DECISION"],
        &rows,
    );
}

pub fn rollout(context: Option<&str>, command: RolloutCommand) -> Result<(), CliError> {
    let client = client(context)?;
    let (target, action) = match command {
        RolloutCommand::Status { name, mesh, output } => {
            let rollout = client.get(&path(&mesh, &name))?;
            match output {
                Output::Table => print_status(&rollout["status"]),
                output => print_document(&rollout["status"], output)?,
            }
            return Ok(());
        }
        RolloutCommand::Pause(target) => (target, "pause"),
        RolloutCommand::Resume(target) => (target, "resume"),
        RolloutCommand::Promote(target) => (target, "promote"),
        RolloutCommand::Abort(target) => (target, "abort"),
    };
    let status = client.call(
        "POST",
        &format!("{}/{action}", path(&target.mesh, &target.name)),
        Body::None,
    )?;
    println!(
        "rollout {}: {} (canary at {} %)",
        target.name,
        cell(&status["phase"]),
        cell(&status["canaryWeight"])
    );
    Ok(())
}
