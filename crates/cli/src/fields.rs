//! `userimport fields`: a profile's columns, the headers they match, their
//! kinds, allowed values and keywords, and the key order.

use std::io::Write;

use userimport::schema::{Column, FieldKind, KeyKind, Profile, Purpose, japanese_label};

use crate::Failure;
use crate::common::load_profile_named;
use crate::output::open_output;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The profile: standard, team, access or a .toml file.
    #[arg(long, default_value = "standard")]
    profile: String,
    /// Output format: text or json.
    #[arg(long, default_value = "text")]
    format: String,
}

/// One column as `fields` describes it.
#[derive(Debug)]
struct FieldInfo {
    key: String,
    /// Every header the column matches (label first, then aliases).
    headers: Vec<String>,
    /// The header of a Japanese template or export (`--lang ja`).
    header_ja: Option<String>,
    kind: String,
    required: bool,
    /// Allowed values (canonical), when the column has a fixed list.
    values: Vec<String>,
    /// Keywords and their meaning.
    keywords: Vec<String>,
}

impl FieldInfo {
    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "key": self.key,
            "headers": self.headers,
            "header_ja": self.header_ja,
            "kind": self.kind,
            "required": self.required,
            "values": self.values,
            "keywords": self.keywords,
        })
    }
}

/// How many values of a long code table are shown.
const SHOWN_VALUES: usize = 12;

pub fn run(args: Args) -> Result<u8, Failure> {
    let profile = load_profile_named(&args.profile)?;
    let fields: Vec<FieldInfo> = profile
        .columns
        .iter()
        .map(|c| describe(&profile, c))
        .collect();
    let key_order: Vec<String> = profile
        .key_order
        .iter()
        .map(|k| key_column(&profile, *k))
        .collect();
    let mut out = open_output(None)?;
    match args.format.to_ascii_lowercase().as_str() {
        "json" => {
            let json = serde_json::json!({
                "profile": profile.name,
                "key_order": key_order,
                "fields": fields.iter().map(FieldInfo::json).collect::<Vec<_>>(),
            });
            writeln!(out, "{}", serde_json::to_string_pretty(&json)?)?;
        }
        "text" => write_text(&profile, &key_order, &fields, &mut out)?,
        other => {
            return Err(Failure(format!(
                "unknown format {other:?}: use text or json"
            )));
        }
    }
    out.flush()?;
    Ok(0)
}

fn key_column(profile: &Profile, key: KeyKind) -> String {
    profile
        .column_for(key.purpose())
        .map_or_else(|| format!("{key:?}"), |c| c.key.clone())
}

fn write_text(
    profile: &Profile,
    key_order: &[String],
    fields: &[FieldInfo],
    out: &mut dyn Write,
) -> Result<(), Failure> {
    writeln!(out, "profile {:?}: {} columns", profile.name, fields.len())?;
    writeln!(
        out,
        "key order: {} (a row is matched by the first of these it has)",
        key_order.join(", ")
    )?;
    if let Some(max) = profile.limits.max_rows {
        writeln!(out, "at most {max} rows per file")?;
    }
    for field in fields {
        writeln!(out)?;
        let required = if field.required {
            " (required for new users)"
        } else {
            ""
        };
        writeln!(out, "{}{required}", field.key)?;
        let headers: Vec<String> = field.headers.iter().map(|h| format!("{h:?}")).collect();
        writeln!(out, "  headers:  {}", headers.join(", "))?;
        writeln!(out, "  kind:     {}", field.kind)?;
        if !field.values.is_empty() {
            writeln!(out, "  values:   {}", field.values.join(", "))?;
        }
        for keyword in &field.keywords {
            writeln!(out, "  keyword:  {keyword}")?;
        }
    }
    Ok(())
}

fn describe(profile: &Profile, column: &Column) -> FieldInfo {
    let mut headers = vec![column.label.clone()];
    headers.extend(column.aliases.iter().cloned());
    if !headers.iter().any(|h| h.eq_ignore_ascii_case(&column.key)) {
        headers.push(column.key.clone());
    }
    FieldInfo {
        key: column.key.clone(),
        headers,
        header_ja: japanese_label(column).map(str::to_string),
        kind: kind_text(&column.kind),
        required: column.required,
        values: values(&column.kind),
        keywords: keywords(profile, column),
    }
}

fn kind_text(kind: &FieldKind) -> String {
    match kind {
        FieldKind::Text {
            min_len: 0,
            max_len,
        } => format!("text, at most {max_len} characters"),
        FieldKind::Text { min_len, max_len } => format!("text, {min_len} to {max_len} characters"),
        FieldKind::Email => "e-mail address".to_string(),
        FieldKind::Password { min_len, max_len } => {
            format!(
                "password, {min_len} to {max_len} characters (never shown or stored in plain text)"
            )
        }
        FieldKind::PasswordHash => "password hash, a PHC string (argon2id, bcrypt)".to_string(),
        FieldKind::Enum { .. } => {
            "one of the values (case-insensitive; aliases in brackets)".to_string()
        }
        FieldKind::OnOff { default } => {
            format!(
                "On or Off (blank = {})",
                if *default { "On" } else { "Off" }
            )
        }
        FieldKind::DeleteFlag => "delete flag".to_string(),
        FieldKind::Code { table } => format!("code from the {table:?} table"),
        FieldKind::Date { formats } => format!("date, as {}", formats.join(" or ")),
        FieldKind::DayCount { max } => format!("number of days, 1 to {max}"),
        FieldKind::Integer { min, max } => match (min, max) {
            (Some(a), Some(b)) => format!("whole number, {a} to {b}"),
            (Some(a), None) => format!("whole number, at least {a}"),
            (None, Some(b)) => format!("whole number, at most {b}"),
            (None, None) => "whole number".to_string(),
        },
        FieldKind::CardId => "card ID, decimal or hexadecimal (--card-id-type)".to_string(),
        FieldKind::NameList => "names, comma-separated".to_string(),
        FieldKind::IdentityList => "source:username, comma-separated".to_string(),
        FieldKind::ReadOnly => "read-only: filled on export, ignored on import".to_string(),
        other => format!("{other:?}"),
    }
}

fn values(kind: &FieldKind) -> Vec<String> {
    match kind {
        FieldKind::Enum { values } => values
            .iter()
            .map(|v| match v.aliases.is_empty() {
                true => v.canonical.clone(),
                false => format!("{} [{}]", v.canonical, v.aliases.join(", ")),
            })
            .collect(),
        FieldKind::OnOff { .. } => vec!["On".to_string(), "Off".to_string()],
        FieldKind::Code { table } => {
            let all = table.canonical_values();
            let mut shown: Vec<String> = all
                .iter()
                .take(SHOWN_VALUES)
                .map(|v| v.to_string())
                .collect();
            if all.len() > SHOWN_VALUES {
                shown.push(format!("… ({} values in all)", all.len()));
            }
            shown
        }
        _ => Vec::new(),
    }
}

fn keywords(profile: &Profile, column: &Column) -> Vec<String> {
    let mut keywords = Vec::new();
    match column.purpose {
        Purpose::MemberId => {
            keywords.push("blank = a new user (the store assigns the ID)".to_string())
        }
        Purpose::Login => keywords.push("cannot change once the user exists".to_string()),
        Purpose::Groups => {
            keywords.push("A,B adds the user to A and B; -A removes it from A".to_string());
            match &profile.groups.default_group {
                Some(group) => keywords.push(format!("blank = {group:?} for a new user")),
                None => keywords.push("blank = no change".to_string()),
            }
            keywords.push(match profile.groups.create_unknown {
                true => "unknown groups are created (listed by check)".to_string(),
                false => "groups must exist (userimport groups add)".to_string(),
            });
        }
        Purpose::Roles | Purpose::Identities => {
            keywords.push("A,B adds; -A removes".to_string());
        }
        Purpose::Status => keywords.push("blank = the first value for a new user".to_string()),
        Purpose::Delete => keywords.push("1 deletes the user; blank or 0 does not".to_string()),
        _ => {}
    }
    if let Some(keyword) = &column.clear_keyword {
        keywords.push(format!("{keyword:?} clears the stored value"));
    }
    if !matches!(column.kind, FieldKind::ReadOnly | FieldKind::DeleteFlag)
        && column.purpose != Purpose::MemberId
    {
        keywords.push("blank = keep the stored value".to_string());
    }
    keywords
}
