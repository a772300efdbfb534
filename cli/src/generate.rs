//! Tokens for control planes and proxies: a zone token for a zone control plane, a dataplane
//! token for the proxies of one service. The secret goes to standard output (once), what it
//! is to standard error.

use std::collections::BTreeMap;

use weft_api::tokens::{DataplaneTokenRequest, ZoneTokenRequest};

use crate::client::Body;
use crate::error::CliError;
use crate::resources::client;

#[derive(clap::Subcommand)]
pub enum GenerateCommand {
    /// A token a zone control plane presents to global (weft-zone --zone-token-file).
    ZoneToken {
        /// The zone's name.
        #[arg(long)]
        zone: String,
        /// How long it is valid, e.g. 720h (one year when absent).
        #[arg(long)]
        valid_for: Option<String>,
    },
    /// A token the proxies of one service present to their zone (weft-dp
    /// --dataplane-token-file).
    DataplaneToken {
        #[arg(short = 'm', long)]
        mesh: String,
        /// The service the proxies serve.
        #[arg(long)]
        service: String,
        /// A tag every inbound must carry, `name=value`; repeatable.
        #[arg(long = "tag", value_parser = parse_tag)]
        tags: Vec<(String, String)>,
        /// How long it is valid, e.g. 720h (one year when absent).
        #[arg(long)]
        valid_for: Option<String>,
    },
}

fn parse_tag(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not name=value")),
    }
}

pub fn generate(context: Option<&str>, command: GenerateCommand) -> Result<(), CliError> {
    let client = client(context)?;
    let issued = match command {
        GenerateCommand::ZoneToken { zone, valid_for } => {
            let request = serde_json::to_value(ZoneTokenRequest { valid_for })
                .map_err(|error| CliError::Usage(error.to_string()))?;
            client.call(
                "POST",
                &format!("/api/v1/zones/{}/token", checked("zone", &zone)?),
                Body::Json(&request),
            )?
        }
        GenerateCommand::DataplaneToken {
            mesh,
            service,
            tags,
            valid_for,
        } => {
            let request = serde_json::to_value(DataplaneTokenRequest {
                service,
                tags: tags.into_iter().collect::<BTreeMap<_, _>>(),
                valid_for,
            })
            .map_err(|error| CliError::Usage(error.to_string()))?;
            client.call(
                "POST",
                &format!(
                    "/api/v1/meshes/{}/dataplane-tokens",
                    checked("mesh", &mesh)?
                ),
                Body::Json(&request),
            )?
        }
    };
    eprintln!(
        "token {} issued, valid until {}; it is shown once, keep it now:",
        issued["id"].as_str().unwrap_or("?"),
        issued["expiresAt"].as_str().unwrap_or("?")
    );
    println!("{}", issued["token"].as_str().unwrap_or_default());
    Ok(())
}

/// A name for the path: a DNS label, or a message naming the flag and the problem.
fn checked<'a>(flag: &str, name: &'a str) -> Result<&'a str, CliError> {
    match weft_model::name::name_problem(name) {
        None => Ok(name),
        Some(problem) => Err(CliError::Usage(format!("--{flag} {name:?}: {problem}"))),
    }
}
