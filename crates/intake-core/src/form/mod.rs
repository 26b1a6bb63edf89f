//! Request kinds as data: the catalog loaded from `dialogues/*.toml`.
//!
//! `fields.toml` declares every field (its type and limits) and the identification and
//! closing steps shared by all kinds; each other file declares one menu group and its
//! kinds. Text lives in fluent: a field `x` uses `field-x` (label), `field-x-prompt` and
//! `field-x-example`; a kind `k` uses `kind-k`, a group `g` uses `group-g`.
//!
//! To add a kind: add a `[[kinds]]` entry to a group file, add its `kind-<id>` message to
//! every locale, and run the catalog tests (or `waviot-support-bot check`).

mod definition;
mod load;

pub use definition::FieldTypeSpec;
pub use load::{Catalog, CatalogError, FieldDef, FieldType, Group, KindDef, StepDef};
