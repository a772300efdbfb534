//! Contexts: which server to talk to, as whom. Kept in `~/.config/weft/config.yaml`
//! (`$WEFT_CONFIG` overrides the path), readable by its owner only.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::CliError;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Config {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_context: Option<String>,
    #[serde(default)]
    pub contexts: Vec<Context>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Context {
    pub name: String,
    /// Base URL of weft-global's API, e.g. `http://127.0.0.1:5681`.
    pub server: String,
    pub user: String,
    /// A login token or an API token.
    pub token: String,
}

/// Where the config lives.
pub fn path() -> Result<PathBuf, CliError> {
    if let Some(path) = std::env::var_os("WEFT_CONFIG") {
        return Ok(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))
        .ok_or_else(|| CliError::Usage("neither HOME nor WEFT_CONFIG is set".into()))?;
    Ok(base.join("weft").join("config.yaml"))
}

impl Config {
    pub fn load() -> Result<Config, CliError> {
        let path = path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_saphyr::from_str(&text).map_err(|error| {
                CliError::Usage(format!(
                    "{} is not a weftctl config: {error}",
                    path.display()
                ))
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(error) => Err(CliError::Usage(format!(
                "cannot read {}: {error}",
                path.display()
            ))),
        }
    }

    /// Writes the config with 0600 permissions (it holds tokens).
    pub fn save(&self) -> Result<(), CliError> {
        let path = path()?;
        let failed = |error: std::io::Error| {
            CliError::Usage(format!("cannot write {}: {error}", path.display()))
        };
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(failed)?;
        }
        let text = serde_saphyr::to_string(self)
            .map_err(|error| CliError::Usage(format!("cannot encode the config: {error}")))?;
        let temporary = path.with_extension("yaml.new");
        {
            use std::io::Write;
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create(true).truncate(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            let mut file = options.open(&temporary).map_err(failed)?;
            file.write_all(text.as_bytes()).map_err(failed)?;
        }
        std::fs::rename(&temporary, &path).map_err(failed)
    }

    /// The context to use: `name`, or the current one.
    pub fn context(&self, name: Option<&str>) -> Result<&Context, CliError> {
        let wanted = name
            .or(self.current_context.as_deref())
            .ok_or_else(|| CliError::Usage("not logged in: run `weftctl login` first".into()))?;
        self.contexts
            .iter()
            .find(|context| context.name == wanted)
            .ok_or_else(|| {
                CliError::Usage(format!(
                    "no context named {wanted:?}; see `weftctl config get-contexts`"
                ))
            })
    }

    /// Adds or replaces a context and makes it current.
    pub fn upsert(&mut self, context: Context) {
        self.current_context = Some(context.name.clone());
        match self
            .contexts
            .iter_mut()
            .find(|existing| existing.name == context.name)
        {
            Some(existing) => *existing = context,
            None => self.contexts.push(context),
        }
    }
}
