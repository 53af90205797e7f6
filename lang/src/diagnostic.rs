//! Diagnostics as data: a code, a message, a primary span, labels and help.
//!
//! Nothing here prints. The CLI and the REPL render diagnostics (with
//! ariadne); tests compare their fields.

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Severity {
    /// The program cannot run.
    Error,
    /// The program runs, but probably not as meant.
    Warning,
}

/// A secondary label: a span with a short message.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where the label points.
    pub span: Span,
    /// What it says.
    pub message: String,
}

/// One diagnostic.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable code such as `E0101`, documented in `spec/diagnostics.md`.
    pub code: &'static str,
    /// The headline, a full sentence without a trailing period.
    pub message: String,
    /// The main location.
    pub span: Span,
    /// What the primary span's label says (may be empty).
    pub primary_label: String,
    /// Secondary labels.
    pub labels: Vec<Label>,
    /// A suggestion of what to do instead.
    pub help: Option<String>,
    /// Further notes.
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// An error with code `code`, message `message`, at `span`.
    pub fn error(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span,
            primary_label: String::new(),
            labels: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// A warning with code `code`, message `message`, at `span`.
    pub fn warning(code: &'static str, message: impl Into<String>, span: Span) -> Diagnostic {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message, span)
        }
    }

    /// Sets the label of the primary span.
    pub fn with_primary_label(mut self, label: impl Into<String>) -> Diagnostic {
        self.primary_label = label.into();
        self
    }

    /// Adds a secondary label.
    pub fn with_label(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.labels.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// Whether this diagnostic is an error.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}
