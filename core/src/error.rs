//! The one error type of `lowbit_core`: what went wrong (`ErrorKind`) and about what (`context`).
//!
//! Every function that takes user data returns `Result<T, Error>`; nothing in this crate panics on input.

use std::fmt;

/// What kind of problem an [`Error`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A file is malformed, truncated or lies about its own layout.
    Malformed,
    /// A file uses a feature (dtype, compression, opcode) lowbit does not read.
    Unsupported,
    /// A parameter is outside its valid range (bits 0, V = 0, a percentile of 120 …).
    InvalidParameter,
    /// The tensor cannot be processed as asked (empty, NaN/Inf, shape does not fit the granularity).
    InvalidTensor,
    /// Reading or computing would go past a resource limit (memory, element count, nesting); the message
    /// names the limit. Not a fault of the file as such: a larger budget (the server) may read it.
    LimitExceeded,
}

/// An error with a human message that names the offending input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }
    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Malformed, message)
    }
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }
    pub fn param(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidParameter, message)
    }
    pub fn tensor(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidTensor, message)
    }
    pub fn limit(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::LimitExceeded, message)
    }
    /// Prefixes the message with where the error happened (a tensor or file name).
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shorthand used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
