//! The embedding API's error type.

use std::fmt;
use std::path::PathBuf;
use vprog_lang::{Diagnostic, Span};

/// Everything that can go wrong through the embedding API. Compile and run
/// errors carry their spans; `Display` renders them with source excerpts,
/// as the `vprog` command prints them.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The program (or the name looked up in it) did not compile.
    Compile {
        /// The diagnostics, each with its code, message, span and labels.
        diagnostics: Vec<Diagnostic>,
        /// The diagnostics rendered with source excerpts (no colors).
        rendered: String,
    },
    /// A run failed: an invalid distribution parameter, an index out of
    /// range, a non-finite objective or gradient.
    Run {
        /// What went wrong, as a sentence.
        message: String,
        /// The address of the random choice the failing operation belongs
        /// to (`guide/x`), when it belongs to one.
        site: Option<String>,
        /// Where in the source the failing operation was written.
        span: Option<Span>,
        /// The error rendered with a source excerpt (no colors).
        rendered: String,
    },
    /// A file could not be read or written.
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A program has nothing of this kind and name.
    NotFound {
        /// What was looked for: "objective", "generative function",
        /// "parameter".
        kind: &'static str,
        /// The name looked for.
        name: String,
    },
    /// An argument the API was given is not valid (a host function's name,
    /// parameters of another shape, malformed JSON).
    Invalid {
        /// What is wrong, as a sentence.
        message: String,
    },
}

impl Error {
    /// The primary spans of the error, if it has any.
    pub fn spans(&self) -> Vec<Span> {
        match self {
            Error::Compile { diagnostics, .. } => diagnostics.iter().map(|d| d.span).collect(),
            Error::Run { span, .. } => span.iter().copied().collect(),
            _ => Vec::new(),
        }
    }

    /// The diagnostics of a compile error (empty for other errors).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Error::Compile { diagnostics, .. } => diagnostics,
            _ => &[],
        }
    }

    pub(crate) fn invalid(message: impl Into<String>) -> Error {
        Error::Invalid {
            message: message.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Compile { rendered, .. } | Error::Run { rendered, .. }
                if !rendered.is_empty() =>
            {
                f.write_str(rendered.trim_end())
            }
            Error::Compile { diagnostics, .. } => {
                for (i, d) in diagnostics.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    write!(f, "error[{}]: {}", d.code, d.message)?;
                }
                Ok(())
            }
            Error::Run { message, site, .. } => match site {
                Some(site) => write!(f, "{message} (at site `{site}`)"),
                None => f.write_str(message),
            },
            Error::Io { path, source } => write!(f, "cannot access `{}`: {source}", path.display()),
            Error::NotFound { kind, name } => write!(f, "there is no {kind} `{name}`"),
            Error::Invalid { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
