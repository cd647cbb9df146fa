//! What a command can end with: an exit code and a message for people.

use std::fmt;

/// The exit codes, as `--help` documents them.
pub mod code {
    pub const OK: u8 = 0;
    /// The run failed, timed out or was cancelled; a usage error; anything else.
    pub const FAILED: u8 = 1;
    /// Invalid input: a skill input, a file, a folder, a manifest.
    pub const INVALID: u8 = 2;
    /// Not signed in, or the token expired, was revoked or belongs to another host.
    pub const AUTH: u8 = 3;
    /// No such skill, execution, artifact, submission, or an address the server does not serve.
    pub const NOT_FOUND: u8 = 4;
    /// The server could not be reached.
    pub const UNREACHABLE: u8 = 5;
    /// Signed in, but not allowed.
    pub const FORBIDDEN: u8 = 6;
    /// The execution waits for a person's confirmation.
    pub const AWAITING: u8 = 7;
}

/// The text appended to `--help`.
pub const EXIT_CODES: &str = "\
Exit codes:
  0  success
  1  the run failed, timed out or was cancelled; a usage error; any other error
  2  invalid input (a skill input, a file, a folder, a manifest), named by field
  3  not signed in, or the token expired, was revoked or belongs to another host: log in again
  4  not found: skill, execution, artifact, submission, or an address the server does not serve
  5  the server could not be reached
  6  forbidden: signed in, but not allowed (e.g. push needs a tenant admin)
  7  the execution waits for a confirmation: `execgov-cli confirm ID`

Environment: EXECGOV_SERVER, EXECGOV_HOST and EXECGOV_TOKEN override what `login` saved;
EXECGOV_CONFIG_DIR moves the configuration (default $XDG_CONFIG_HOME/execgov or
~/.config/execgov).";

/// A command's failure: the exit code and what to tell the user.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    /// The server's own explanation, when it gave one.
    pub detail: Option<String>,
}

impl Failure {
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
            detail: None,
        }
    }

    pub fn with_detail(mut self, detail: Option<String>) -> Failure {
        self.detail = detail;
        self
    }

    pub fn failed(message: impl Into<String>) -> Failure {
        Failure::new(code::FAILED, message)
    }

    pub fn invalid(message: impl Into<String>) -> Failure {
        Failure::new(code::INVALID, message)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

pub type Outcome<T> = Result<T, Failure>;

/// A local I/O problem (config, files, folders), with what was being done.
pub fn io_failure(code: u8, what: impl fmt::Display, err: std::io::Error) -> Failure {
    Failure::new(code, format!("{what}: {err}"))
}
