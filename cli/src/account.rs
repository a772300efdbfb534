//! Logging in and out, contexts, API tokens, users and tenants.

use std::io::{BufRead, IsTerminal};

use serde_json::{Value, json};

use crate::client::{Body, Client};
use crate::config::{Config, Context};
use crate::error::CliError;
use crate::resources::client;
use crate::{Output, print_document, print_table};

#[derive(clap::Args)]
pub struct LoginArgs {
    /// weft-global's API, e.g. http://127.0.0.1:5681.
    #[arg(long, env = "WEFT_SERVER", default_value = "http://127.0.0.1:5681")]
    server: String,
    #[arg(long, short = 'u', env = "WEFT_USER", default_value = "admin")]
    user: String,
    /// Read the password from standard input (asked for on the terminal otherwise).
    #[arg(long, conflicts_with = "token_stdin")]
    password_stdin: bool,
    /// Use an API token read from standard input instead of a password.
    #[arg(long)]
    token_stdin: bool,
    /// Name of the context to keep (the server's host by default).
    #[arg(long)]
    name: Option<String>,
}

fn read_stdin_line(what: &str) -> Result<String, CliError> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|error| CliError::Usage(format!("cannot read the {what}: {error}")))?;
    let line = line.trim().to_string();
    if line.is_empty() {
        return Err(CliError::Usage(format!("no {what} on standard input")));
    }
    Ok(line)
}

fn context_name(server: &str) -> String {
    server
        .split("://")
        .nth(1)
        .unwrap_or(server)
        .trim_end_matches('/')
        .to_string()
}

pub fn login(args: LoginArgs) -> Result<(), CliError> {
    let token = if args.token_stdin {
        read_stdin_line("token")?
    } else {
        let password = if args.password_stdin || !std::io::stdin().is_terminal() {
            read_stdin_line("password")?
        } else {
            rpassword::prompt_password(format!("password of {}: ", args.user))
                .map_err(|error| CliError::Usage(format!("cannot read the password: {error}")))?
        };
        let answer = Client::new(&args.server, None).call(
            "POST",
            "/api/v1/auth/login",
            Body::Json(&json!({"username": args.user, "password": password})),
        )?;
        answer["token"]
            .as_str()
            .ok_or_else(|| CliError::Api("the server's answer has no token".into()))?
            .to_string()
    };
    // Check the token and learn whose it is.
    let whoami = Client::new(&args.server, Some(&token)).get("/api/v1/whoami")?;
    let user = whoami["user"].as_str().unwrap_or(&args.user).to_string();
    let name = args.name.unwrap_or_else(|| context_name(&args.server));
    let mut config = Config::load()?;
    config.upsert(Context {
        name: name.clone(),
        server: args.server,
        user: user.clone(),
        token,
    });
    config.save()?;
    println!("logged in as {user}; context {name:?} is current");
    Ok(())
}

pub fn logout(context: Option<&str>) -> Result<(), CliError> {
    let mut config = Config::load()?;
    let current = config.context(context)?.clone();
    let revoked = Client::new(&current.server, Some(&current.token)).call(
        "POST",
        "/api/v1/auth/logout",
        Body::None,
    );
    config
        .contexts
        .retain(|context| context.name != current.name);
    if config.current_context.as_deref() == Some(&current.name) {
        config.current_context = None;
    }
    config.save()?;
    match revoked {
        Ok(_) | Err(CliError::Unauthorized(_)) => {
            println!("logged out of {}", current.name);
            Ok(())
        }
        Err(error) => Err(error),
    }
}

pub fn whoami(context: Option<&str>) -> Result<(), CliError> {
    let me = client(context)?.get("/api/v1/whoami")?;
    println!(
        "{}{}",
        me["user"].as_str().unwrap_or("?"),
        if me["platformAdmin"] == true {
            " (platform admin)"
        } else {
            ""
        }
    );
    for membership in me["tenants"].as_array().into_iter().flatten() {
        println!(
            "  {} of {}",
            membership["role"].as_str().unwrap_or("?"),
            membership["tenant"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum ConfigCommand {
    /// List the contexts (* marks the current one).
    GetContexts,
    /// Make a context the current one.
    UseContext { name: String },
}

pub fn config(command: ConfigCommand) -> Result<(), CliError> {
    let mut config = Config::load()?;
    match command {
        ConfigCommand::GetContexts => {
            let rows: Vec<Vec<String>> = config
                .contexts
                .iter()
                .map(|context| {
                    let current = config.current_context.as_deref() == Some(&context.name);
                    vec![
                        if current { "*" } else { "" }.to_string(),
                        context.name.clone(),
                        context.server.clone(),
                        context.user.clone(),
                    ]
                })
                .collect();
            print_table(&["", "NAME", "SERVER", "USER"], &rows);
            Ok(())
        }
        ConfigCommand::UseContext { name } => {
            config.context(Some(&name))?;
            config.current_context = Some(name.clone());
            config.save()?;
            println!("context {name:?} is current");
            Ok(())
        }
    }
}

#[derive(clap::Subcommand)]
pub enum TokensCommand {
    /// Issue an API token (printed once).
    Create {
        name: String,
        /// Narrow the token to one tenant.
        #[arg(long)]
        tenant: Option<String>,
        /// Narrow the token to a role: owner, editor or viewer.
        #[arg(long)]
        role: Option<String>,
        /// How long it lasts, e.g. 720h (30 days by default).
        #[arg(long)]
        valid_for: Option<String>,
    },
    /// Your API tokens (platform admins: everyone's).
    List {
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
    /// Revoke an API token by id.
    Revoke { id: String },
}

pub fn tokens(context: Option<&str>, command: TokensCommand) -> Result<(), CliError> {
    let client = client(context)?;
    match command {
        TokensCommand::Create {
            name,
            tenant,
            role,
            valid_for,
        } => {
            let mut request = json!({"name": name});
            for (field, value) in [("tenant", tenant), ("role", role), ("validFor", valid_for)] {
                if let Some(value) = value {
                    request[field] = Value::String(value);
                }
            }
            let issued = client.call("POST", "/api/v1/auth/tokens", Body::Json(&request))?;
            eprintln!(
                "token {} issued; it is shown once, keep it now:",
                issued["about"]["id"].as_str().unwrap_or("?")
            );
            println!("{}", issued["token"].as_str().unwrap_or_default());
            Ok(())
        }
        TokensCommand::List { output } => {
            let list = client.get("/api/v1/auth/tokens")?;
            if output != Output::Table {
                return print_document(&list, output);
            }
            let text = |item: &Value, field: &str| item[field].as_str().unwrap_or("-").to_string();
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|item| {
                    vec![
                        text(item, "id"),
                        text(item, "name"),
                        text(item, "user"),
                        text(item, "tenant"),
                        text(item, "role"),
                        text(item, "expiresAt"),
                        if item["revokedAt"].is_string() {
                            "revoked"
                        } else {
                            "valid"
                        }
                        .into(),
                    ]
                })
                .collect();
            print_table(
                &["ID", "NAME", "USER", "TENANT", "ROLE", "EXPIRES", "STATE"],
                &rows,
            );
            Ok(())
        }
        TokensCommand::Revoke { id } => {
            client.call("DELETE", &format!("/api/v1/auth/tokens/{id}"), Body::None)?;
            println!("token {id} revoked");
            Ok(())
        }
    }
}

#[derive(clap::Subcommand)]
pub enum UsersCommand {
    List,
    /// Create a user; the password is read from standard input.
    Create {
        name: String,
        #[arg(long)]
        platform_admin: bool,
    },
    Delete {
        name: String,
    },
    /// Change a password (yours with the current one; anyone's as a platform admin). Reads
    /// the current password and then the new one from standard input, one per line.
    Passwd {
        name: String,
        /// Reset someone else's password as a platform admin (no current password).
        #[arg(long)]
        reset: bool,
    },
}

pub fn users(context: Option<&str>, command: UsersCommand) -> Result<(), CliError> {
    let client = client(context)?;
    match command {
        UsersCommand::List => {
            let list = client.get("/api/v1/users")?;
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|user| {
                    let tenants: Vec<String> = user["tenants"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|m| {
                            format!(
                                "{} ({})",
                                m["tenant"].as_str().unwrap_or("?"),
                                m["role"].as_str().unwrap_or("?")
                            )
                        })
                        .collect();
                    vec![
                        user["username"].as_str().unwrap_or("").to_string(),
                        if user["platformAdmin"] == true {
                            "yes"
                        } else {
                            ""
                        }
                        .to_string(),
                        tenants.join(", "),
                    ]
                })
                .collect();
            print_table(&["USER", "PLATFORM ADMIN", "TENANTS"], &rows);
            Ok(())
        }
        UsersCommand::Create {
            name,
            platform_admin,
        } => {
            let password = read_stdin_line("password")?;
            client.call(
                "POST",
                "/api/v1/users",
                Body::Json(&json!({"username": name, "password": password, "platformAdmin": platform_admin})),
            )?;
            println!("user {name} created");
            Ok(())
        }
        UsersCommand::Delete { name } => {
            client.call("DELETE", &format!("/api/v1/users/{name}"), Body::None)?;
            println!("user {name} deleted");
            Ok(())
        }
        UsersCommand::Passwd { name, reset } => {
            let mut request = json!({});
            if !reset {
                request["currentPassword"] = Value::String(read_stdin_line("current password")?);
            }
            request["newPassword"] = Value::String(read_stdin_line("new password")?);
            client.call(
                "PUT",
                &format!("/api/v1/users/{name}/password"),
                Body::Json(&request),
            )?;
            println!("password of {name} changed; the user's tokens are revoked");
            Ok(())
        }
    }
}

#[derive(clap::Subcommand)]
pub enum TenantsCommand {
    /// The tenants you are in (platform admins: all).
    List,
    /// A tenant's members.
    Members {
        tenant: String,
    },
    /// Add a member, or change a member's role.
    SetMember {
        tenant: String,
        user: String,
        /// owner, editor or viewer.
        role: String,
    },
    RemoveMember {
        tenant: String,
        user: String,
    },
}

pub fn tenants(context: Option<&str>, command: TenantsCommand) -> Result<(), CliError> {
    let client = client(context)?;
    match command {
        TenantsCommand::List => {
            let list = client.get("/api/v1/tenants")?;
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|tenant| {
                    vec![
                        tenant["metadata"]["name"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        tenant["spec"]["displayName"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        tenant["spec"]["members"]
                            .as_array()
                            .map_or(0, Vec::len)
                            .to_string(),
                    ]
                })
                .collect();
            print_table(&["TENANT", "DISPLAY NAME", "MEMBERS"], &rows);
            Ok(())
        }
        TenantsCommand::Members { tenant } => {
            let list = client.get(&format!("/api/v1/tenants/{tenant}/members"))?;
            let rows: Vec<Vec<String>> = list["items"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|member| {
                    vec![
                        member["user"].as_str().unwrap_or("").to_string(),
                        member["role"].as_str().unwrap_or("").to_string(),
                    ]
                })
                .collect();
            print_table(&["USER", "ROLE"], &rows);
            Ok(())
        }
        TenantsCommand::SetMember { tenant, user, role } => {
            client.call(
                "PUT",
                &format!("/api/v1/tenants/{tenant}/members/{user}"),
                Body::Json(&json!({"role": role})),
            )?;
            println!("{user} is {role} of {tenant}");
            Ok(())
        }
        TenantsCommand::RemoveMember { tenant, user } => {
            client.call(
                "DELETE",
                &format!("/api/v1/tenants/{tenant}/members/{user}"),
                Body::None,
            )?;
            println!("{user} left {tenant}");
            Ok(())
        }
    }
}
