//! Parsing and cross-checking the dialogue files into a [`Catalog`].

use std::collections::{BTreeMap, BTreeSet};

use crate::urgency::Urgency;

use super::definition::{FieldSpec, FieldTypeSpec, FieldsFile, GroupFile, StepSpec};

/// Name of the file holding the field catalog.
pub const FIELDS_FILE: &str = "fields.toml";

/// An error in a dialogue file, naming the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {key}: {problem}")]
pub struct CatalogError {
    /// File name (relative to `dialogues/`).
    pub file: String,
    /// Dotted key path inside the file, or `-` for the whole file.
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

impl CatalogError {
    fn new(file: &str, key: impl Into<String>, problem: impl Into<String>) -> Self {
        Self {
            file: file.to_owned(),
            key: key.into(),
            problem: problem.into(),
        }
    }
}

/// What a field's answer is parsed as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    /// Free text of `min..=max` characters.
    Text {
        /// Minimum characters.
        min: usize,
        /// Maximum characters.
        max: usize,
    },
    /// One or several modem IDs.
    ModemIds,
    /// A meter serial.
    MeterSerial,
    /// Base-station numbers.
    BaseStations,
    /// A personal-account link.
    Link,
    /// An e-mail address.
    Email,
    /// A phone number.
    Phone,
    /// A full name.
    FullName,
    /// Image files.
    Files,
    /// A location.
    Location,
}

/// A field of the catalog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldDef {
    /// Field id.
    pub id: String,
    /// Parsed type.
    pub ty: FieldType,
    /// Remembered per user.
    pub remember: bool,
    /// A shared contact must be the sender's own.
    pub own_contact: bool,
}

impl FieldDef {
    /// Fluent id of the field's label.
    pub fn label(&self) -> String {
        format!("field-{}", self.id)
    }

    /// Fluent id of the default prompt.
    pub fn prompt(&self) -> String {
        format!("field-{}-prompt", self.id)
    }

    /// Fluent id of the example of a valid answer.
    pub fn example(&self) -> String {
        format!("field-{}-example", self.id)
    }
}

/// A step of a kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepDef {
    /// Field id.
    pub field: String,
    /// May be skipped.
    pub optional: bool,
    /// Prompt override (fluent id).
    pub prompt: Option<String>,
}

/// A request kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindDef {
    /// Kind id.
    pub id: String,
    /// Group id.
    pub group: String,
    /// Urgency level.
    pub urgency: Urgency,
    /// Notice shown when the kind is chosen.
    pub notice: Option<String>,
    /// The kind's own steps, followed by identification and closing steps.
    pub steps: Vec<StepDef>,
}

impl KindDef {
    /// Fluent id of the kind's label.
    pub fn label(&self) -> String {
        format!("kind-{}", self.id)
    }
}

/// A menu group with its kinds in file order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Group id.
    pub id: String,
    /// Menu position.
    pub order: u32,
    /// Kind ids.
    pub kinds: Vec<String>,
}

impl Group {
    /// Fluent id of the group's label.
    pub fn label(&self) -> String {
        format!("group-{}", self.id)
    }
}

/// Every field, group and kind, cross-checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    fields: BTreeMap<String, FieldDef>,
    groups: Vec<Group>,
    kinds: BTreeMap<String, KindDef>,
}

/// Longest id allowed, so that callback data (`k:<id>`, `edit:<id>`) stays under 64 bytes.
const MAX_ID_LEN: usize = 40;

fn check_id(file: &str, key: &str, id: &str) -> Result<(), CatalogError> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(CatalogError::new(
            file,
            key,
            format!("`{id}` must be 1-{MAX_ID_LEN} characters of a-z, 0-9 and `-`"),
        ))
    }
}

impl Catalog {
    /// Parses and cross-checks dialogue files given as `(file name, contents)`.
    ///
    /// # Errors
    ///
    /// Every problem found, each naming its file and key: TOML syntax, unknown keys,
    /// unknown field references, duplicate ids, missing `fields.toml`.
    pub fn parse(files: &[(String, String)]) -> Result<Self, Vec<CatalogError>> {
        let mut errors = Vec::new();
        let Some((_, fields_src)) = files.iter().find(|(name, _)| name == FIELDS_FILE) else {
            return Err(vec![CatalogError::new(FIELDS_FILE, "-", "file is missing")]);
        };
        let fields_file: FieldsFile = match toml::from_str(fields_src) {
            Ok(f) => f,
            Err(e) => return Err(vec![CatalogError::new(FIELDS_FILE, "-", e.to_string())]),
        };
        let fields = parse_fields(&fields_file, &mut errors);
        let mut groups: Vec<Group> = Vec::new();
        let mut kinds = BTreeMap::new();
        for (file, src) in files.iter().filter(|(name, _)| name != FIELDS_FILE) {
            let group_file: GroupFile = match toml::from_str(src) {
                Ok(g) => g,
                Err(e) => {
                    errors.push(CatalogError::new(file, "-", e.to_string()));
                    continue;
                }
            };
            let group = parse_group(
                file,
                group_file,
                &fields_file,
                &fields,
                &groups,
                &mut kinds,
                &mut errors,
            );
            groups.push(group);
        }
        if groups.is_empty() {
            errors.push(CatalogError::new(
                "-",
                "-",
                "no group files besides fields.toml",
            ));
        }
        groups.sort_by(|a, b| a.order.cmp(&b.order).then_with(|| a.id.cmp(&b.id)));
        if errors.is_empty() {
            Ok(Self {
                fields,
                groups,
                kinds,
            })
        } else {
            Err(errors)
        }
    }

    /// A field by id.
    pub fn field(&self, id: &str) -> Option<&FieldDef> {
        self.fields.get(id)
    }

    /// A kind by id.
    pub fn kind(&self, id: &str) -> Option<&KindDef> {
        self.kinds.get(id)
    }

    /// A group by id.
    pub fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id == id)
    }

    /// Groups in menu order.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// All kinds, by id.
    pub fn kinds(&self) -> impl Iterator<Item = &KindDef> {
        self.kinds.values()
    }

    /// Every fluent message id the catalog refers to.
    pub fn message_ids(&self) -> BTreeSet<String> {
        let mut ids = BTreeSet::new();
        for f in self.fields.values() {
            ids.insert(f.label());
            ids.insert(f.prompt());
            ids.insert(f.example());
        }
        for g in &self.groups {
            ids.insert(g.label());
        }
        for k in self.kinds.values() {
            ids.insert(k.label());
            ids.extend(k.notice.clone());
            ids.extend(k.steps.iter().filter_map(|s| s.prompt.clone()));
        }
        ids
    }
}

/// The field definitions of `fields.toml`, checked; problems go to `errors`.
fn parse_fields(
    fields_file: &FieldsFile,
    errors: &mut Vec<CatalogError>,
) -> BTreeMap<String, FieldDef> {
    let mut fields = BTreeMap::new();
    for (id, spec) in &fields_file.fields {
        let key = format!("fields.{id}");
        if let Err(e) = check_id(FIELDS_FILE, &key, id) {
            errors.push(e);
        }
        let ty = field_type(spec, &key, errors);
        if spec.own_contact && ty != FieldType::Phone {
            errors.push(CatalogError::new(
                FIELDS_FILE,
                &key,
                "own-contact applies to type = \"phone\" only",
            ));
        }
        if spec.remember && ty == FieldType::Files {
            errors.push(CatalogError::new(
                FIELDS_FILE,
                &key,
                "files cannot be remembered",
            ));
        }
        fields.insert(
            id.clone(),
            FieldDef {
                id: id.clone(),
                ty,
                remember: spec.remember,
                own_contact: spec.own_contact,
            },
        );
    }
    for (list, ids) in [
        ("identification", &fields_file.identification),
        ("closing", &fields_file.closing),
    ] {
        for id in ids {
            if !fields.contains_key(id) {
                errors.push(CatalogError::new(
                    FIELDS_FILE,
                    list,
                    format!("unknown field `{id}`"),
                ));
            }
        }
    }
    fields
}

/// A field's type; `min`/`max` belong to text only.
fn field_type(spec: &FieldSpec, key: &str, errors: &mut Vec<CatalogError>) -> FieldType {
    if spec.ty != FieldTypeSpec::Text && (spec.min.is_some() || spec.max.is_some()) {
        errors.push(CatalogError::new(
            FIELDS_FILE,
            key,
            "min/max apply to type = \"text\" only",
        ));
    }
    match spec.ty {
        FieldTypeSpec::Text => {
            let min = spec.min.unwrap_or(1);
            let max = spec.max.unwrap_or(4000);
            if min == 0 || min > max || max > 4000 {
                errors.push(CatalogError::new(
                    FIELDS_FILE,
                    key,
                    "need 1 <= min <= max <= 4000",
                ));
            }
            FieldType::Text { min, max }
        }
        FieldTypeSpec::ModemIds => FieldType::ModemIds,
        FieldTypeSpec::MeterSerial => FieldType::MeterSerial,
        FieldTypeSpec::BaseStations => FieldType::BaseStations,
        FieldTypeSpec::Link => FieldType::Link,
        FieldTypeSpec::Email => FieldType::Email,
        FieldTypeSpec::Phone => FieldType::Phone,
        FieldTypeSpec::FullName => FieldType::FullName,
        FieldTypeSpec::Files => FieldType::Files,
        FieldTypeSpec::Location => FieldType::Location,
    }
}

/// One group file: the group and its kinds (added to `kinds`), checked against the
/// groups and kinds read before it.
fn parse_group(
    file: &str,
    group_file: GroupFile,
    fields_file: &FieldsFile,
    fields: &BTreeMap<String, FieldDef>,
    groups: &[Group],
    kinds: &mut BTreeMap<String, KindDef>,
    errors: &mut Vec<CatalogError>,
) -> Group {
    let gid = group_file.group.id.clone();
    if let Err(e) = check_id(file, "group.id", &gid) {
        errors.push(e);
    }
    if groups.iter().any(|g| g.id == gid) {
        errors.push(CatalogError::new(
            file,
            "group.id",
            format!("group `{gid}` is defined twice"),
        ));
    }
    if group_file.kinds.is_empty() {
        errors.push(CatalogError::new(
            file,
            "kinds",
            "a group needs at least one kind",
        ));
    }
    let mut group = Group {
        id: gid.clone(),
        order: group_file.group.order,
        kinds: Vec::new(),
    };
    for (i, kind) in group_file.kinds.into_iter().enumerate() {
        let kkey = format!("kinds[{i}]");
        if let Err(e) = check_id(file, &format!("{kkey}.id"), &kind.id) {
            errors.push(e);
        }
        if kinds.contains_key(&kind.id) {
            errors.push(CatalogError::new(
                file,
                format!("{kkey}.id"),
                format!("kind `{}` is defined twice", kind.id),
            ));
        }
        if kind.steps.is_empty() {
            errors.push(CatalogError::new(file, format!("{kkey}.steps"), "no steps"));
        }
        let steps = kind_steps(file, &kkey, kind.steps, fields_file, fields, errors);
        group.kinds.push(kind.id.clone());
        kinds.insert(
            kind.id.clone(),
            KindDef {
                id: kind.id,
                group: gid.clone(),
                urgency: kind.urgency,
                notice: kind.notice,
                steps,
            },
        );
    }
    group
}

/// A kind's own steps, checked, followed by the identification and closing steps every
/// kind gets (those it does not ask itself).
fn kind_steps(
    file: &str,
    kkey: &str,
    own: Vec<StepSpec>,
    fields_file: &FieldsFile,
    fields: &BTreeMap<String, FieldDef>,
    errors: &mut Vec<CatalogError>,
) -> Vec<StepDef> {
    let mut steps = Vec::new();
    let mut seen = BTreeSet::new();
    for (j, step) in own.into_iter().enumerate() {
        let skey = format!("{kkey}.steps[{j}].field");
        if !fields.contains_key(&step.field) {
            errors.push(CatalogError::new(
                file,
                &skey,
                format!("unknown field `{}`", step.field),
            ));
        }
        if !seen.insert(step.field.clone()) {
            errors.push(CatalogError::new(
                file,
                &skey,
                format!("field `{}` appears twice", step.field),
            ));
        }
        steps.push(StepDef {
            field: step.field,
            optional: step.optional,
            prompt: step.prompt,
        });
    }
    for (ids, optional) in [
        (&fields_file.identification, false),
        (&fields_file.closing, true),
    ] {
        for id in ids {
            if seen.insert(id.clone()) {
                steps.push(StepDef {
                    field: id.clone(),
                    optional,
                    prompt: None,
                });
            }
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(extra: &str) -> Vec<(String, String)> {
        vec![
            (
                FIELDS_FILE.to_owned(),
                r#"
identification = ["email"]
closing = ["additional-info"]
[fields.description]
type = "text"
min = 10
[fields.email]
type = "email"
remember = true
[fields.additional-info]
type = "text"
"#
                .to_owned(),
            ),
            ("g.toml".to_owned(), extra.to_owned()),
        ]
    }

    #[test]
    fn a_kind_gets_identification_and_closing_steps_appended() {
        let catalog = Catalog::parse(&files(
            r#"
group = { id = "g", order = 1 }
[[kinds]]
id = "k"
urgency = "high"
steps = [{ field = "description" }]
"#,
        ))
        .expect("valid catalog");
        let kind = catalog.kind("k").expect("kind k");
        let fields: Vec<_> = kind.steps.iter().map(|s| s.field.as_str()).collect();
        assert_eq!(fields, ["description", "email", "additional-info"]);
        assert!(kind.steps[2].optional);
    }

    #[test]
    fn unknown_keys_and_fields_are_reported_with_file_and_key() {
        let errors = Catalog::parse(&files(
            r#"
group = { id = "g", order = 1 }
[[kinds]]
id = "k"
urgency = "high"
steps = [{ field = "nope" }]
"#,
        ))
        .expect_err("unknown field");
        assert_eq!(errors[0].file, "g.toml");
        assert_eq!(errors[0].key, "kinds[0].steps[0].field");

        let errors = Catalog::parse(&files(
            r#"
group = { id = "g", order = 1, colour = "red" }
"#,
        ))
        .expect_err("unknown key");
        assert!(errors[0].problem.contains("colour"), "{errors:?}");
    }
}
