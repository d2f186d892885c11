//! Invitation templates: those the execute dialog offers, and a template
//! checked by the library's rules before anything is sent.

use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use userimport::sink::{Invite, Recipient};

use crate::AppState;
use crate::error::ApiError;

/// An invitation template the execute dialog offers.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct InviteTemplate {
    /// `default`, `server` (offered by the operator) or `used` (queued before).
    pub source: &'static str,
    /// Its name (the operator's), or when it was last used.
    pub name: String,
    /// The template (minijinja: a `Subject:` line, a blank line, the body
    /// with `{{ link }}`).
    pub text: String,
}

/// The invitation templates to choose from: the built-in one, the
/// operator's, and those queued before (newest first).
pub async fn templates_of(state: &AppState) -> Result<Vec<InviteTemplate>, ApiError> {
    let mut list = vec![InviteTemplate {
        source: "default",
        name: "default".into(),
        text: userimport::sink::DEFAULT_TEMPLATE.to_string(),
    }];
    for (name, text) in &state.config().invite_templates {
        list.push(InviteTemplate {
            source: "server",
            name: name.clone(),
            text: text.clone(),
        });
    }
    let used = state
        .read(|store| Ok(crate::stored::imports(store)?.invite_templates(10)?))
        .await?;
    for (text, last) in used {
        if !list.iter().any(|t| t.text == text) {
            list.push(InviteTemplate {
                source: "used",
                name: last,
                text,
            });
        }
    }
    Ok(list)
}

/// An invitation template to check.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateCheck {
    /// The template text.
    pub template: String,
    /// When the invitations are due (RFC 3339), checked too.
    #[serde(default)]
    pub send_at: Option<String>,
}

/// Checks an invitation template by the library's rules (every variable
/// known, a `Subject:` line, the `{{ link }}`, the size limit) and renders
/// it for a sample user.
pub fn check_template(state: &AppState, check: &TemplateCheck) -> Result<Value, ApiError> {
    let base = state
        .config()
        .invite_base_url
        .clone()
        .unwrap_or_else(|| "https://example.invalid/set-password".into());
    let send_at = check.send_at.as_deref().filter(|s| !s.trim().is_empty());
    let bad = |e: userimport::sink::Error| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "bad_template",
            e.to_string(),
        )
    };
    let invite = Invite::new(check.template.clone(), base, send_at).map_err(bad)?;
    let sample = Recipient {
        name: Some("Hanako Tanaka".into()),
        login: Some("tanaka".into()),
        email: "hanako@example.com".into(),
    };
    let link = userimport::sink::link(&invite.base_url, "TOKEN");
    let rendered = userimport::sink::render(&invite.template, &sample, &link).map_err(bad)?;
    Ok(json!({"ok": true, "subject": rendered.subject, "body": rendered.body}))
}
