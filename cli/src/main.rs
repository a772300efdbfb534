//! weftctl: Weft's command line.
//!
//! `weftctl login` keeps a context (server, user, token) in `~/.config/weft/config.yaml`; every
//! other command talks to that server as that user. Errors print the server's message with every
//! failing field and exit non-zero: 1 the server refused, 2 bad usage, 3 unreachable, 4 not
//! logged in or the token was refused.

mod account;
mod client;
mod config;
mod error;
mod generate;
mod resources;
mod rollout;

use clap::{CommandFactory, Parser, Subcommand, ValueEnum};

use crate::error::CliError;

#[derive(Parser)]
#[command(name = "weftctl", version, about = "Weft's command line")]
struct Cli {
    /// Use this context instead of the current one.
    #[arg(long, global = true, env = "WEFT_CONTEXT")]
    context: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Table,
    Yaml,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Log in and keep the token as a context (made current).
    Login(account::LoginArgs),
    /// Revoke the current context's token on the server and forget it here.
    Logout,
    /// Who the server sees: user, platform admin or not, roles per tenant.
    Whoami,
    /// Contexts: list them or pick one.
    #[command(subcommand)]
    Config(account::ConfigCommand),
    /// Apply manifests (a file, a directory of .yaml/.yml/.json files, or - for stdin), all
    /// or nothing.
    Apply(resources::ApplyArgs),
    /// List resources of a kind, or show one.
    Get(resources::GetArgs),
    /// Delete one resource.
    Delete(resources::DeleteArgs),
    /// Inspect a proxy: which policies apply, in which order, and the config it receives.
    #[command(subcommand)]
    Inspect(resources::InspectCommand),
    /// API tokens for automation.
    #[command(subcommand)]
    Tokens(account::TokensCommand),
    /// Users (platform admins).
    #[command(subcommand)]
    Users(account::UsersCommand),
    /// Tenants and their members.
    #[command(subcommand)]
    Tenants(account::TenantsCommand),
    /// Canary rollouts: status and decisions, pause, resume, promote, abort.
    #[command(subcommand)]
    Rollout(rollout::RolloutCommand),
    /// Tokens for zone control planes and proxies.
    #[command(subcommand)]
    Generate(generate::GenerateCommand),
    /// Print a shell completion script.
    Completion { shell: clap_complete::Shell },
}

fn run(cli: Cli) -> Result<(), CliError> {
    let context = cli.context.as_deref();
    match cli.command {
        Command::Login(args) => account::login(args),
        Command::Logout => account::logout(context),
        Command::Whoami => account::whoami(context),
        Command::Config(command) => account::config(command),
        Command::Apply(args) => resources::apply(context, args),
        Command::Get(args) => resources::get(context, args),
        Command::Delete(args) => resources::delete(context, args),
        Command::Inspect(command) => resources::inspect(context, command),
        Command::Tokens(command) => account::tokens(context, command),
        Command::Users(command) => account::users(context, command),
        Command::Tenants(command) => account::tenants(context, command),
        Command::Rollout(command) => rollout::rollout(context, command),
        Command::Generate(command) => generate::generate(context, command),
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "weftctl",
                &mut std::io::stdout(),
            );
            Ok(())
        }
    }
}

fn main() {
    let cli = Cli::parse();
    if let Err(error) = run(cli) {
        eprintln!("weftctl: {error}");
        std::process::exit(error.exit_code());
    }
}

/// Prints `value` as YAML or JSON.
pub fn print_document(value: &serde_json::Value, output: Output) -> Result<(), CliError> {
    match output {
        Output::Json => {
            println!(
                "{}",
                serde_json::to_string_pretty(value).unwrap_or_default()
            );
        }
        Output::Yaml | Output::Table => {
            let text = serde_saphyr::to_string(value)
                .map_err(|error| CliError::Usage(format!("cannot print YAML: {error}")))?;
            print!("{text}");
        }
    }
    Ok(())
}

/// Prints rows under a header, in aligned columns.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|name| name.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:width$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|name| name.to_string()).collect());
    for row in rows {
        line(row.clone());
    }
}
