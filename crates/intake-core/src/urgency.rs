//! Urgency levels of regulation item 8 and their reaction times.

use serde::{Deserialize, Serialize};

/// How urgent a request is; decides the reaction time and the Omnidesk priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Urgency {
    /// Reaction within 3 working hours.
    Critical,
    /// Reaction within 5 working hours.
    High,
    /// Reaction within 15 working hours.
    Medium,
    /// Reaction time agreed with support.
    Low,
}

impl Urgency {
    /// All levels, most urgent first.
    pub const ALL: [Self; 4] = [Self::Critical, Self::High, Self::Medium, Self::Low];

    /// Reaction time in working hours; `None` when it is agreed case by case.
    pub fn reaction_hours(self) -> Option<u32> {
        match self {
            Self::Critical => Some(3),
            Self::High => Some(5),
            Self::Medium => Some(15),
            Self::Low => None,
        }
    }

    /// Omnidesk's `priority` value for this level.
    pub fn omnidesk_priority(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "normal",
            Self::Low => "low",
        }
    }

    /// Stable lowercase name (`critical`, `high`, `medium`, `low`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Critical => "critical",
            Self::High => "high",
            Self::Medium => "medium",
            Self::Low => "low",
        }
    }
}

impl std::str::FromStr for Urgency {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str() == s)
            .ok_or_else(|| {
                format!("unknown urgency level `{s}` (expected critical, high, medium or low)")
            })
    }
}
