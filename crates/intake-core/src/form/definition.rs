//! Serde shapes of the files in `dialogues/` (strict: unknown keys are errors).

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::urgency::Urgency;

/// `dialogues/fields.toml`: the field catalog and the steps every kind shares.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FieldsFile {
    /// Fields that identify the user (regulation item 4); asked once, then remembered.
    pub identification: Vec<String>,
    /// Optional fields asked at the end of every kind (e.g. additional information).
    #[serde(default)]
    pub closing: Vec<String>,
    /// Every field a kind may ask, by id.
    pub fields: BTreeMap<String, FieldSpec>,
}

/// One field of the catalog.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FieldSpec {
    /// What the answer is parsed as.
    #[serde(rename = "type")]
    pub ty: FieldTypeSpec,
    /// Minimum length in characters (`text` only).
    pub min: Option<usize>,
    /// Maximum length in characters (`text` only).
    pub max: Option<usize>,
    /// Remember the answer per user and prefill it next time.
    #[serde(default)]
    pub remember: bool,
    /// A shared contact must be the sender's own (`phone` only).
    #[serde(default)]
    pub own_contact: bool,
}

/// Field types known to the core.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FieldTypeSpec {
    /// Free text with length bounds.
    Text,
    /// One or several modem (device) IDs.
    ModemIds,
    /// A meter serial number.
    MeterSerial,
    /// One or several base-station numbers.
    BaseStations,
    /// A link to an object in the personal account.
    Link,
    /// An e-mail address.
    Email,
    /// A phone number (contact button or typed).
    Phone,
    /// A person's full name.
    FullName,
    /// Screenshots or photos (JPG, GIF, PNG, BMP).
    Files,
    /// A location (shared or described as text).
    Location,
}

/// A group file: `dialogues/<group>.toml`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupFile {
    /// The menu group these kinds appear under.
    pub group: GroupSpec,
    /// The request kinds of this group.
    pub kinds: Vec<KindSpec>,
}

/// A menu group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct GroupSpec {
    /// Stable id; the button label is the fluent message `group-<id>`.
    pub id: String,
    /// Position in the top menu (ascending).
    pub order: u32,
}

/// A request kind (regulation item 8).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KindSpec {
    /// Stable id; the label is the fluent message `kind-<id>`.
    pub id: String,
    /// Urgency level of this kind.
    pub urgency: Urgency,
    /// Fluent message shown when the kind is chosen (e.g. the hotline number).
    pub notice: Option<String>,
    /// The kind's own steps, in order.
    pub steps: Vec<StepSpec>,
}

/// One step of a kind.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct StepSpec {
    /// Field id from `fields.toml`.
    pub field: String,
    /// The step may be skipped.
    #[serde(default)]
    pub optional: bool,
    /// Fluent id of a prompt replacing the field's default `field-<id>-prompt`.
    pub prompt: Option<String>,
}
