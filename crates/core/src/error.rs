//! The core's one error type: every variant names the file, field or engine it is about and maps
//! to a stable [`ErrorCode`] that the CLI turns into exit codes and the UI into messages.

use std::path::PathBuf;

use serde::Serialize;

/// Stable, machine-readable error codes shared by the CLI (`--json`, exit codes) and the UI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A file could not be parsed (bad JSON/TOML, wrong shape).
    InvalidConfig,
    /// A file could not be read or written.
    Io,
    /// The file changed on disk since Stowage read it.
    ConcurrentModification,
    /// `dockerd --validate` rejected the new configuration.
    ValidationFailed,
    /// The Engine API could not be reached or answered with an error.
    EngineUnreachable,
    /// No engine matches the request, or the request is ambiguous.
    EngineNotFound,
    /// The operation needs privileges the current user does not have.
    PermissionDenied,
    /// An external program (dockerd, systemctl, ...) failed.
    CommandFailed,
    /// A step did not finish within its time limit.
    Timeout,
    /// The request itself is not valid (unknown feature, bad argument).
    InvalidRequest,
    /// Another operation holds the engine's lock (it is changing or restarting the engine).
    Busy,
    /// Run as root through pkexec, the request asked for something root does not take from the
    /// calling user (a restart command, another daemon.json, a subcommand the app never needs).
    PrivilegeRefused,
    /// Run as root through pkexec, the engine is not one root knows (declared only in the
    /// calling user's own settings, not in `/etc/stowage/engines.toml`).
    EngineNotDeclared,
    /// Something failed inside Stowage itself (a background task panicked or was cancelled); not
    /// the request's fault.
    Internal,
    /// A host could not be reached over ssh (refused, unknown host key, no route, timeout).
    HostUnreachable,
    /// The host answers over ssh but has no `stowctl` to run.
    StowctlMissing,
    /// The host's `stowctl` does not speak this build's wire protocol (it is older).
    ProtocolMismatch,
}

impl ErrorCode {
    /// The process exit code the CLI uses for this error (0, 1, 2 and 3 are reserved for outcomes).
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorCode::InvalidRequest => 64,
            ErrorCode::InvalidConfig => 65,
            ErrorCode::EngineNotFound | ErrorCode::EngineNotDeclared => 66,
            ErrorCode::EngineUnreachable
            | ErrorCode::HostUnreachable
            | ErrorCode::StowctlMissing => 69,
            ErrorCode::CommandFailed | ErrorCode::Internal => 70,
            ErrorCode::Io => 74,
            ErrorCode::ConcurrentModification | ErrorCode::Busy => 75,
            ErrorCode::ValidationFailed | ErrorCode::ProtocolMismatch => 76,
            ErrorCode::PermissionDenied | ErrorCode::PrivilegeRefused => 77,
            ErrorCode::Timeout => 79,
        }
    }
}

/// Errors raised by the core.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file's content is not valid for what it should hold; `line`/`column` are 1-based.
    #[error("{}:{line}:{column}: {message}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// A field has the wrong type or value.
    #[error("{}: field `{field}`: {message}", path.display())]
    Field {
        path: PathBuf,
        field: String,
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{}: {action}: {source}", path.display())]
    Io {
        path: PathBuf,
        action: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The file changed on disk after it was read; nothing was written.
    #[error("{}: changed on disk since it was read; nothing was written (re-run to start from the current file)", path.display())]
    ConcurrentModification { path: PathBuf },
    /// `dockerd --validate` refused the new configuration; nothing was written.
    #[error("{}: dockerd rejected the new configuration; nothing was written: {message}", path.display())]
    Validation { path: PathBuf, message: String },
    /// The Engine API failed.
    #[error("engine at {host}: {message}")]
    Engine { host: String, message: String },
    /// No engine matched.
    #[error("{0}")]
    EngineNotFound(String),
    /// Not allowed for this user.
    #[error("{}: permission denied{}", path.display(), hint.as_deref().map(|h| format!(" ({h})")).unwrap_or_default())]
    PermissionDenied { path: PathBuf, hint: Option<String> },
    /// An external command failed.
    #[error("`{command}` failed: {message}")]
    Command { command: String, message: String },
    /// A step ran out of time.
    #[error("{step} did not finish within {seconds} s")]
    Timeout { step: String, seconds: u64 },
    /// The request is not valid.
    #[error("{0}")]
    InvalidRequest(String),
    /// Another operation holds the engine's lock.
    #[error("engine at {host} is busy: {} is changing or restarting it{}; nothing was changed (lock file {})",
        holder.as_ref().map(|h| h.to_string()).unwrap_or_else(|| "another Stowage process".into()),
        waited.map(|s| format!(" (waited {s} s)")).unwrap_or_default(),
        lock_file.display())]
    Busy {
        host: String,
        holder: Option<crate::lock::Holder>,
        lock_file: PathBuf,
        waited: Option<u64>,
    },
    /// Run as root through pkexec, this part of the request is not taken from the calling user;
    /// nothing was read or changed.
    #[error("refused as root (through pkexec): {what}: {reason}; nothing was changed")]
    PrivilegeRefused { what: String, reason: String },
    /// Run as root through pkexec, the engine is not declared where root reads engines.
    #[error("engine `{name}` is not one the administrator declared: an engine declared only in your own settings cannot be changed through pkexec; declare it in {} (owned by root) to allow it. Nothing was changed", file.display())]
    EngineNotDeclared { name: String, file: PathBuf },
    /// An error the root side (`pkexec stowctl`) reported: its code and its sentence, as is.
    #[error("{message}")]
    Elevated { code: ErrorCode, message: String },
    /// An error the command reported on a remote host (`ssh HOST stowctl …`): its code and
    /// sentence, as is.
    #[error("{host}: {message}")]
    Remote {
        host: String,
        code: ErrorCode,
        message: String,
    },
    /// ssh could not reach the host; nothing was run there.
    #[error("{host}: not reachable over ssh: {message}")]
    HostUnreachable { host: String, message: String },
    /// The host has no `stowctl`; nothing was changed there.
    #[error("{host}: stowctl is not installed there (or not on the ssh session's PATH): install Stowage's .deb on it (`apt install ./stowage_VERSION_amd64.deb`); until then only a read-only status comes from its Engine API (`docker system dial-stdio`)")]
    StowctlMissing { host: String },
    /// The host's `stowctl` does not speak this build's wire protocol.
    #[error("{host}: {source}")]
    Protocol {
        host: String,
        #[source]
        source: crate::wire::ProtocolError,
    },
    /// A failure inside Stowage itself (a background task that panicked or was cancelled), kept
    /// apart from the user's errors; `context` says what it was doing.
    #[error("internal error while {context}: {source}")]
    Internal {
        context: &'static str,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

impl Error {
    /// The stable code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Parse { .. } | Error::Field { .. } => ErrorCode::InvalidConfig,
            Error::Io { .. } => ErrorCode::Io,
            Error::ConcurrentModification { .. } => ErrorCode::ConcurrentModification,
            Error::Validation { .. } => ErrorCode::ValidationFailed,
            Error::Engine { .. } => ErrorCode::EngineUnreachable,
            Error::EngineNotFound(_) => ErrorCode::EngineNotFound,
            Error::PermissionDenied { .. } => ErrorCode::PermissionDenied,
            Error::Command { .. } => ErrorCode::CommandFailed,
            Error::Timeout { .. } => ErrorCode::Timeout,
            Error::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Error::Busy { .. } => ErrorCode::Busy,
            Error::PrivilegeRefused { .. } => ErrorCode::PrivilegeRefused,
            Error::EngineNotDeclared { .. } => ErrorCode::EngineNotDeclared,
            Error::Elevated { code, .. } => *code,
            Error::Remote { code, .. } => *code,
            Error::HostUnreachable { .. } => ErrorCode::HostUnreachable,
            Error::StowctlMissing { .. } => ErrorCode::StowctlMissing,
            Error::Protocol { .. } => ErrorCode::ProtocolMismatch,
            Error::Internal { .. } => ErrorCode::Internal,
        }
    }

    /// A parse error in `text` (the content of `path`) at byte `offset` (or the start when unknown).
    pub fn parse_at(
        path: &std::path::Path,
        text: &str,
        offset: Option<usize>,
        message: impl Into<String>,
    ) -> Self {
        let (line, column) = offset
            .map(|o| crate::daemon_json::document::line_col(text, o))
            .unwrap_or((1, 1));
        Error::Parse {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
        }
    }

    /// An internal error while doing `context` (e.g. a blocking task that did not join).
    pub fn internal(
        context: &'static str,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Error::Internal {
            context,
            source: source.into(),
        }
    }

    /// An I/O error about `path`; permission errors become [`Error::PermissionDenied`].
    pub fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        let path = path.into();
        if source.kind() == std::io::ErrorKind::PermissionDenied {
            return Error::PermissionDenied { path, hint: None };
        }
        Error::Io {
            path,
            action,
            source,
        }
    }
}

/// A serializable view of an error for `--json` output and the UI.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    /// Stable code.
    pub code: ErrorCode,
    /// The human sentence.
    pub message: String,
}

impl From<&Error> for ErrorReport {
    fn from(e: &Error) -> Self {
        ErrorReport {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Result alias for the core.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code as the CLI's `--json` and the app's pages receive it (README's table).
    #[test]
    fn codes_serialize_as_their_snake_case_strings() {
        let all = [
            (ErrorCode::InvalidConfig, "invalid_config", 65),
            (ErrorCode::Io, "io", 74),
            (
                ErrorCode::ConcurrentModification,
                "concurrent_modification",
                75,
            ),
            (ErrorCode::ValidationFailed, "validation_failed", 76),
            (ErrorCode::EngineUnreachable, "engine_unreachable", 69),
            (ErrorCode::EngineNotFound, "engine_not_found", 66),
            (ErrorCode::PermissionDenied, "permission_denied", 77),
            (ErrorCode::CommandFailed, "command_failed", 70),
            (ErrorCode::Timeout, "timeout", 79),
            (ErrorCode::InvalidRequest, "invalid_request", 64),
            (ErrorCode::Busy, "busy", 75),
            (ErrorCode::Internal, "internal", 70),
            (ErrorCode::HostUnreachable, "host_unreachable", 69),
            (ErrorCode::StowctlMissing, "stowctl_missing", 69),
            (ErrorCode::ProtocolMismatch, "protocol_mismatch", 76),
        ];
        for (code, text, exit) in all {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::json!(text));
            assert_eq!(code.exit_code(), exit, "{text}");
        }
    }

    #[tokio::test]
    async fn a_task_that_panics_is_an_internal_error_with_its_source() {
        let joined = tokio::task::spawn(async { panic!("boom") }).await;
        let err = Error::internal("testing", joined.unwrap_err());
        assert_eq!(err.code(), ErrorCode::Internal);
        assert!(
            err.to_string()
                .starts_with("internal error while testing: "),
            "{err}"
        );
        assert!(std::error::Error::source(&err).is_some());
        let report = serde_json::to_value(ErrorReport::from(&err)).unwrap();
        assert_eq!(report["code"], "internal");
    }
}
