//! The CLI's one error type, and the exit code of each.

/// What went wrong, for the message and the exit code.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad arguments or local state (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The server could not be reached (exit 3).
    #[error("cannot reach {server}: {reason}")]
    Unreachable { server: String, reason: String },
    /// The token was refused (exit 4).
    #[error("{0}")]
    Unauthorized(String),
    /// The server answered with an error (exit 1).
    #[error("{0}")]
    Api(String),
}

impl CliError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::Api(_) => 1,
            CliError::Usage(_) => 2,
            CliError::Unreachable { .. } => 3,
            CliError::Unauthorized(_) => 4,
        }
    }
}
