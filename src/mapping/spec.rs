//! The mapping files' TOML schema, exactly as the department's IT staff write it.
//!
//! These structs are configuration, not partner input: they are read once at start (or by
//! `motcua mappings check`) and compiled into [`super::Procedure`]. Each version of a file,
//! `[[versions]]` laid over the one before (`super::versions`), is serialised back to JSON: that
//! text is what the store keeps, so a dossier's rules outlive the file they came from.

use serde::{Deserialize, Serialize};

/// One mapping file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct MappingFile {
    /// The procedure itself.
    pub procedure: ProcedureSpec,
    /// Document components the applicant attaches.
    #[serde(default)]
    pub documents: Vec<DocumentSpec>,
    /// Fee lines, each possibly in several dated versions.
    #[serde(default)]
    pub fees: Vec<FeeSpec>,
    /// Form fields of `DuLieuBieuMau`.
    #[serde(default)]
    pub fields: Vec<FieldSpec>,
    /// The procedure's own longer processing times, chosen by the officer at acceptance.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// Parts of the dossier other agencies act on (contract section 9). Left out of the kept
    /// text when there are none, so that versions written before steps existed keep their ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepSpec>,
    /// Later versions of the whole procedure, oldest first, each laid over the one before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<VersionSpec>,
}

/// `[[versions]]`: the procedure's rules from a later day. What a version names replaces the
/// same thing of the version before it, whole (a list of documents, fees, fields or variants
/// is replaced, not merged); what it does not name carries over.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSpec {
    /// Day this version takes effect (`YYYY-MM-DD`); the version before ends the day before.
    pub effective_from: String,
    /// Last day this version is in force, where a text ends it without a successor.
    #[serde(default)]
    pub effective_until: Option<String>,
    /// Official name.
    #[serde(default)]
    pub name: Option<String>,
    /// Lĩnh vực.
    #[serde(default)]
    pub field: Option<String>,
    /// The unit that handles it.
    #[serde(default)]
    pub handling_unit: Option<String>,
    /// `approval` or `notice`.
    #[serde(default)]
    pub kind: Option<String>,
    /// Processing time in working days.
    #[serde(default)]
    pub processing_days: Option<u32>,
    /// Legal texts.
    #[serde(default)]
    pub legal_basis: Option<Vec<String>>,
    /// The decision that published this version.
    #[serde(default)]
    pub published_by: Option<String>,
    /// Document components.
    #[serde(default)]
    pub documents: Option<Vec<DocumentSpec>>,
    /// Fee lines.
    #[serde(default)]
    pub fees: Option<Vec<FeeSpec>>,
    /// Form fields.
    #[serde(default)]
    pub fields: Option<Vec<FieldSpec>>,
    /// Longer processing times.
    #[serde(default)]
    pub variants: Option<Vec<VariantSpec>>,
    /// The steps from this version on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Vec<StepSpec>>,
}

/// `[[variants]]`: a processing time the procedure itself provides for a case, such as
/// consulting ministries or convening an appraisal council.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Its name in the API (`accept`'s `variant`).
    pub code: String,
    /// What it is, as officers read it.
    pub name: String,
    /// Processing time in working days.
    pub processing_days: u32,
    /// The legal text that provides it.
    pub legal_basis: String,
}

/// `[procedure]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ProcedureSpec {
    /// National code stem, e.g. `1.001029`.
    pub code: String,
    /// `catalogue` (seen in a published source) or `example` (a stand-in: the real code was not found).
    pub code_source: String,
    /// Where the code (or the lack of one) comes from.
    #[serde(default)]
    pub code_note: Option<String>,
    /// Official name.
    pub name: String,
    /// Lĩnh vực.
    pub field: String,
    /// The unit that handles it (configuration: the city moves procedures between levels).
    pub handling_unit: String,
    /// `approval` (a decision is issued) or `notice` (silence is consent at the deadline).
    pub kind: String,
    /// Processing time in working days.
    pub processing_days: u32,
    /// Legal texts.
    #[serde(default)]
    pub legal_basis: Vec<String>,
    /// The decision that published the procedure, where known.
    #[serde(default)]
    pub published_by: Option<String>,
    /// Day this mapping's rules took effect (`YYYY-MM-DD`).
    pub effective_from: String,
    /// Last day these rules are in force, where a text ends them with no `[[versions]]` after.
    #[serde(default)]
    pub effective_until: Option<String>,
}

/// `[[steps]]`: a part of the dossier another agency acts on (một cửa liên thông).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    /// The step's id, unique in the procedure (letters, digits and `-`).
    pub id: String,
    /// The agency's e-ID, one of the configuration's `[[agencies]]`.
    pub agency: String,
    /// What the agency does, in Vietnamese.
    pub name: String,
    /// Working days the agency has, counted from the forwarding.
    pub working_days: u32,
    /// The form fields the agency receives (targets in the department's model): no more of
    /// the citizen's data than its part needs.
    #[serde(default)]
    pub fields: Vec<String>,
    /// The document components the agency receives.
    #[serde(default)]
    pub documents: Vec<String>,
    /// Steps that must be done before this one is forwarded; none: it may run beside others.
    #[serde(default)]
    pub after: Vec<String>,
    /// The text that makes the agency act.
    pub legal_basis: String,
}

/// `[[documents]]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentSpec {
    /// `MaThanhPhanHoSo`.
    pub code: String,
    /// Name of the component.
    pub name: String,
    /// Whether the applicant must attach it.
    #[serde(default)]
    pub required: bool,
}

/// `[[fees]]`: one version of one fee line.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSpec {
    /// `phi` or `le_phi`.
    pub kind: String,
    /// Fee code.
    pub code: String,
    /// Fee name.
    pub name: String,
    /// Legal text that sets the rate.
    pub legal_basis: String,
    /// Day the rate took effect (`YYYY-MM-DD`); the newest version in force at arrival applies.
    pub effective_from: String,
    /// A fixed amount in VND.
    #[serde(default)]
    pub amount: Option<i64>,
    /// An amount per unit, the unit counted by the integer form field named in `unit`.
    #[serde(default)]
    pub per_unit: Option<i64>,
    /// Target name of the integer field that counts units (with `per_unit` or `tiers`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Cap on a per-unit amount.
    #[serde(default)]
    pub max: Option<i64>,
    /// Amount by bands of units: the first band whose `up_to` covers the count.
    #[serde(default)]
    pub tiers: Vec<TierSpec>,
    /// Due only when an `enum` form field holds a value (a change of owner, say).
    #[serde(default)]
    pub when: Option<WhenSpec>,
}

/// `when = { field = "...", equals = "..." }` of a fee line.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WhenSpec {
    /// Target name of an `enum` field.
    pub field: String,
    /// The value that makes the fee due.
    pub equals: String,
}

/// One band of a tiered fee.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TierSpec {
    /// Highest count in this band; absent in the last band.
    #[serde(default)]
    pub up_to: Option<i64>,
    /// Amount in VND.
    pub amount: i64,
}

/// `[[fields]]`: one form field and how it maps.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FieldSpec {
    /// Path in `DuLieuBieuMau`, segments separated by `/` (same for XML and JSON).
    pub source: String,
    /// Name in the department's model; dots make nested objects (`business.name`).
    pub target: String,
    /// The label on the paper form.
    #[serde(default)]
    pub label: Option<String>,
    /// `text`, `integer`, `decimal`, `money`, `date`, `enum`, `phone`, `email`, `identity`, `list`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether the field must be present.
    #[serde(default)]
    pub required: bool,
    /// Shortest text, in characters.
    #[serde(default)]
    pub min_len: Option<usize>,
    /// Longest text, in characters.
    #[serde(default)]
    pub max_len: Option<usize>,
    /// A regular expression the whole text must match.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Smallest number.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest number.
    #[serde(default)]
    pub max: Option<f64>,
    /// Most digits after the decimal point (`decimal`).
    #[serde(default)]
    pub scale: Option<u32>,
    /// `dd/MM/yyyy` (default) or `yyyyMMddHHmmss` (`date`).
    #[serde(default)]
    pub format: Option<String>,
    /// Allowed values (`enum`).
    #[serde(default)]
    pub values: Vec<EnumValueSpec>,
    /// `personal_id`, `old_id`, `tax_code` or `any` (`identity`).
    #[serde(default)]
    pub identity: Option<String>,
    /// Item fields (`list`), read relative to each item.
    #[serde(default)]
    pub items: Vec<FieldSpec>,
    /// Fewest items (`list`).
    #[serde(default)]
    pub min_items: Option<usize>,
    /// Most items (`list`).
    #[serde(default)]
    pub max_items: Option<usize>,
}

/// One allowed value of an `enum` field.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnumValueSpec {
    /// The value as sent.
    pub code: String,
    /// What it means.
    pub label: String,
}
