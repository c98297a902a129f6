//! The CLI's error: one line for the user, and the exit code (2 for usage and configuration
//! errors the user must fix, 1 for failures at run time).

use std::fmt;

#[derive(Debug)]
pub struct CliError {
    message: String,
    code: u8,
}

impl CliError {
    /// A usage or configuration error: exit code 2.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 2,
        }
    }

    /// A failure while doing the work: exit code 1.
    pub fn failed(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
            code: 1,
        }
    }

    /// A failure with a specific exit code (127: command not found, as shells use).
    pub fn with_code(message: impl Into<String>, code: u8) -> CliError {
        CliError {
            message: message.into(),
            code,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.code
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

pub type Result<T> = std::result::Result<T, CliError>;
