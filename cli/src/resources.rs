//! Resources: apply, get, delete, inspect.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde_json::Value;
use weft_model::Kind;

use crate::client::{Body, Client};
use crate::config::Config;
use crate::error::CliError;
use crate::{Output, print_document, print_table};

/// The client of the chosen context.
pub fn client(context: Option<&str>) -> Result<Client, CliError> {
    let config = Config::load()?;
    let context = config.context(context)?;
    Ok(Client::new(&context.server, Some(&context.token)))
}

#[derive(clap::Args)]
pub struct ApplyArgs {
    /// A manifest file, a directory of them, or `-` for standard input.
    #[arg(short = 'f', long = "filename", required = true)]
    files: Vec<String>,
}

/// The manifest files of `path`: itself, or the .yaml/.yml/.json files of a directory (and
/// its subdirectories) in name order.
fn manifest_files(path: &Path) -> Result<Vec<PathBuf>, CliError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    let mut pending = vec![path.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let entries = std::fs::read_dir(&folder).map_err(|error| {
            CliError::Usage(format!("cannot read {}: {error}", folder.display()))
        })?;
        for entry in entries {
            let entry = entry.map_err(|error| {
                CliError::Usage(format!("cannot read {}: {error}", folder.display()))
            })?;
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path
                .extension()
                .and_then(|ext| ext.to_str())
                .is_some_and(|ext| matches!(ext, "yaml" | "yml" | "json"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    if found.is_empty() {
        return Err(CliError::Usage(format!(
            "{} holds no .yaml, .yml or .json files",
            path.display()
        )));
    }
    Ok(found)
}

/// All documents of the arguments, as one multi-document YAML text.
fn documents(files: &[String]) -> Result<String, CliError> {
    let mut parts = Vec::new();
    for file in files {
        if file == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|error| CliError::Usage(format!("cannot read standard input: {error}")))?;
            parts.push(text);
            continue;
        }
        for path in manifest_files(Path::new(file))? {
            let text = std::fs::read_to_string(&path).map_err(|error| {
                CliError::Usage(format!("cannot read {}: {error}", path.display()))
            })?;
            parts.push(text);
        }
    }
    let joined: Vec<String> = parts
        .into_iter()
        .map(|part| part.trim().trim_start_matches("---").trim().to_string())
        .filter(|part| !part.is_empty())
        .collect();
    if joined.is_empty() {
        return Err(CliError::Usage("no manifests to apply".into()));
    }
    Ok(joined.join("\n---\n"))
}

pub fn apply(context: Option<&str>, args: ApplyArgs) -> Result<(), CliError> {
    let text = documents(&args.files)?;
    // Checked here first with the server's own rules, so mistakes show before anything is sent.
    if let Err(errors) =
        weft_model::resource::parse_resources(&text, weft_model::resource::Author::User)
    {
        let lines: Vec<String> = errors
            .0
            .iter()
            .map(|error| format!("  {}: {}", error.field, error.message))
            .collect();
        return Err(CliError::Usage(format!(
            "the manifests are invalid; nothing was applied\n{}",
            lines.join("\n")
        )));
    }
    let answer = client(context)?.call("POST", "/api/v1/apply", Body::Yaml(&text))?;
    for item in answer["items"].as_array().into_iter().flatten() {
        let mesh = item["mesh"]
            .as_str()
            .map(|mesh| format!(" (mesh {mesh})"))
            .unwrap_or_default();
        println!(
            "{}/{}{mesh} {}",
            item["kind"].as_str().unwrap_or("?"),
            item["name"].as_str().unwrap_or("?"),
            item["result"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

/// A kind named by its name or plural, in any case.
fn kind(text: &str) -> Result<Kind, CliError> {
    let lower = text.to_lowercase();
    Kind::ALL
        .iter()
        .copied()
        .find(|kind| kind.name().to_lowercase() == lower || kind.plural() == lower)
        .ok_or_else(|| {
            let known: Vec<&str> = Kind::ALL.iter().map(|kind| kind.plural()).collect();
            CliError::Usage(format!(
                "unknown kind {text:?}; known: {}",
                known.join(", ")
            ))
        })
}

fn path_of(kind: Kind, mesh: Option<&str>, name: Option<&str>) -> Result<String, CliError> {
    let collection = if kind.is_mesh_scoped() {
        let mesh = mesh.ok_or_else(|| {
            CliError::Usage(format!("{} live in a mesh: add -m MESH", kind.plural()))
        })?;
        format!("/api/v1/meshes/{mesh}/{}", kind.plural())
    } else {
        format!("/api/v1/{}", kind.plural())
    };
    Ok(match name {
        Some(name) => format!("{collection}/{name}"),
        None => collection,
    })
}

#[derive(clap::Args)]
pub struct GetArgs {
    /// Kind, e.g. meshes, trafficroutes or TrafficRoute.
    kind: String,
    /// One resource; all of the kind when absent.
    name: Option<String>,
    #[arg(short = 'm', long)]
    mesh: Option<String>,
    /// Only resources whose labels match, e.g. `team=shop,tier!=db,env in (prod,staging)`.
    #[arg(short = 'l', long, conflicts_with = "name")]
    selector: Option<String>,
    #[arg(short = 'o', long, value_enum, default_value = "table")]
    output: Output,
}

fn age(manifest: &Value) -> String {
    manifest["metadata"]["modificationTime"]
        .as_str()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .map(|at| {
            let seconds = jiff::Timestamp::now().as_second() - at.as_second();
            match seconds {
                s if s < 120 => format!("{s}s"),
                s if s < 7200 => format!("{}m", s / 60),
                s if s < 172_800 => format!("{}h", s / 3600),
                s => format!("{}d", s / 86_400),
            }
        })
        .unwrap_or_default()
}

pub fn get(context: Option<&str>, args: GetArgs) -> Result<(), CliError> {
    let kind = kind(&args.kind)?;
    let path = path_of(kind, args.mesh.as_deref(), args.name.as_deref())?;
    let client = client(context)?;
    let items: Vec<Value> = if args.name.is_some() {
        vec![client.get(&path)?]
    } else {
        client.list(&path, args.selector.as_deref())?
    };
    match args.output {
        Output::Table => {
            let rows: Vec<Vec<String>> = items
                .iter()
                .map(|item| {
                    vec![
                        item["metadata"]["name"].as_str().unwrap_or("").to_string(),
                        item["metadata"]["mesh"].as_str().unwrap_or("-").to_string(),
                        item["metadata"]["resourceVersion"]
                            .as_str()
                            .unwrap_or("")
                            .to_string(),
                        age(item),
                    ]
                })
                .collect();
            print_table(&["NAME", "MESH", "VERSION", "CHANGED"], &rows);
        }
        Output::Json if args.name.is_none() => print_document(&Value::Array(items), Output::Json)?,
        Output::Yaml if args.name.is_none() => {
            // Several documents, ready for `weftctl apply -f`.
            for item in &items {
                println!("---");
                print_document(&without_status(item), Output::Yaml)?;
            }
        }
        output => print_document(&without_status(&items[0]), output)?,
    }
    Ok(())
}

/// A manifest as it can be applied again: without the server-owned status.
fn without_status(manifest: &Value) -> Value {
    let mut manifest = manifest.clone();
    if let Some(object) = manifest.as_object_mut() {
        object.remove("status");
    }
    manifest
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    kind: String,
    name: String,
    #[arg(short = 'm', long)]
    mesh: Option<String>,
}

pub fn delete(context: Option<&str>, args: DeleteArgs) -> Result<(), CliError> {
    let kind = kind(&args.kind)?;
    let path = path_of(kind, args.mesh.as_deref(), Some(&args.name))?;
    client(context)?.call("DELETE", &path, Body::None)?;
    println!("{}/{} deleted", kind.name(), args.name);
    Ok(())
}

#[derive(clap::Subcommand)]
pub enum InspectCommand {
    /// A proxy's policies (which apply, in which order, what each produced) and its config.
    Dataplane {
        name: String,
        #[arg(short = 'm', long)]
        mesh: String,
        #[arg(short = 'o', long, value_enum, default_value = "table")]
        output: Output,
    },
}

pub fn inspect(context: Option<&str>, command: InspectCommand) -> Result<(), CliError> {
    let InspectCommand::Dataplane { name, mesh, output } = command;
    let report =
        client(context)?.get(&format!("/api/v1/meshes/{mesh}/dataplanes/{name}/policies"))?;
    if output != Output::Table {
        return print_document(&report, output);
    }
    println!("Dataplane {name} (mesh {mesh})\n");
    let rows: Vec<Vec<String>> = report["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|policy| {
            vec![
                policy["kind"].as_str().unwrap_or("").to_string(),
                policy["name"].as_str().unwrap_or("").to_string(),
                policy["reason"].as_str().unwrap_or("").to_string(),
                policy["effect"]
                    .as_array()
                    .map(|effect| {
                        effect
                            .iter()
                            .filter_map(Value::as_str)
                            .collect::<Vec<_>>()
                            .join(", ")
                    })
                    .filter(|effect| !effect.is_empty())
                    .unwrap_or_else(|| "(overridden)".into()),
            ]
        })
        .collect();
    if rows.is_empty() {
        println!("No policy applies.\n");
    } else {
        print_table(&["KIND", "POLICY", "WHY", "SETS"], &rows);
        println!();
    }
    println!("Config:");
    print_document(&report["config"], Output::Yaml)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_name_or_plural() {
        assert_eq!(kind("trafficroutes").unwrap(), Kind::TrafficRoute);
        assert_eq!(kind("TrafficRoute").unwrap(), Kind::TrafficRoute);
        assert_eq!(kind("MESHES").unwrap(), Kind::Mesh);
        assert!(kind("pods").is_err());
    }

    #[test]
    fn mesh_scoped_kinds_need_a_mesh() {
        assert!(path_of(Kind::Timeout, None, None).is_err());
        assert_eq!(
            path_of(Kind::Timeout, Some("shop"), Some("t")).unwrap(),
            "/api/v1/meshes/shop/timeouts/t"
        );
        assert_eq!(path_of(Kind::Mesh, None, None).unwrap(), "/api/v1/meshes");
    }

    #[test]
    fn a_directory_gives_its_manifests_in_order() {
        let folder = tempfile::tempdir().unwrap();
        std::fs::create_dir(folder.path().join("policies")).unwrap();
        std::fs::write(folder.path().join("b.yaml"), "b").unwrap();
        std::fs::write(folder.path().join("a.json"), "a").unwrap();
        std::fs::write(folder.path().join("notes.txt"), "no").unwrap();
        std::fs::write(folder.path().join("policies/c.yml"), "c").unwrap();
        let names: Vec<String> = manifest_files(folder.path())
            .unwrap()
            .iter()
            .map(|path| {
                path.strip_prefix(folder.path())
                    .unwrap()
                    .display()
                    .to_string()
            })
            .collect();
        assert_eq!(names, vec!["a.json", "b.yaml", "policies/c.yml"]);
    }
}
