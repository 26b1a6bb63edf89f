//! Localizable messages: a fluent message id plus typed arguments.
//!
//! The core never holds user-facing text; it says *which* message to show and with
//! what arguments. The adapter renders it through fluent in the user's language.

use serde::{Deserialize, Serialize};

/// One argument of a fluent message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arg {
    /// A number; fluent selects plural forms only on numbers.
    Num(i64),
    /// Any text, inserted verbatim.
    Str(String),
    /// Another message (by fluent id), rendered in the same language.
    Ref(String),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Self::Str(s.to_owned())
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Self::Str(s)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Self::Num(n)
    }
}

impl From<usize> for Arg {
    fn from(n: usize) -> Self {
        Self::Num(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<u64> for Arg {
    fn from(n: u64) -> Self {
        Self::Num(i64::try_from(n).unwrap_or(i64::MAX))
    }
}

impl From<i32> for Arg {
    fn from(n: i32) -> Self {
        Self::Num(i64::from(n))
    }
}

impl From<u32> for Arg {
    fn from(n: u32) -> Self {
        Self::Num(i64::from(n))
    }
}

/// A message to show: fluent id and named arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Msg {
    /// Fluent message id, e.g. `err-serial-length`.
    pub id: String,
    /// Named arguments, in the order given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<(String, Arg)>,
}

impl Msg {
    /// A message without arguments.
    pub fn new(id: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            args: Vec::new(),
        }
    }

    /// Adds an argument that is another message, rendered in the same language.
    #[must_use]
    pub fn arg_ref(mut self, name: &str, id: impl Into<String>) -> Self {
        self.args.push((name.to_owned(), Arg::Ref(id.into())));
        self
    }

    /// Adds a named argument.
    #[must_use]
    pub fn arg(mut self, name: &str, value: impl Into<Arg>) -> Self {
        self.args.push((name.to_owned(), value.into()));
        self
    }
}
