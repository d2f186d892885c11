//! Invitations: the message each created user is sent, a template with
//! the user's name, login ID, e-mail and a single-use set-password link.
//! A template is checked before any message is queued.

use serde::{Deserialize, Serialize};
use userimport_plan::NewUser;

use crate::clock::{now, timestamp};
use crate::mail::{Rendered, is_loopback};
use crate::{Error, Result};

/// The default invitation template: a `Subject:` line, a blank line, the
/// body. Variables: `name`, `login`, `email`, `link`.
pub const DEFAULT_TEMPLATE: &str = "Subject: Your new account{% if name %}, {{ name }}{% endif %}

Hello {{ name or login or email }},

An account has been created for you{% if login %} with the login ID {{ login }}{% endif %}.

Choose your password with this link (it works once):
{{ link }}

If you did not expect this message, you can ignore it.
";

/// How invitations are made for an apply: the template, the link's base
/// URL and when they are due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invite {
    /// A minijinja template: `Subject: …`, a blank line, the body.
    pub template: String,
    /// The set-password page; the link is `BASE?token=…`.
    pub base_url: String,
    /// When the messages are due (RFC 3339, UTC).
    pub send_at: String,
}

/// The largest invitation template accepted (as for a profile: 1 MiB).
pub const MAX_TEMPLATE_BYTES: u64 = 1024 * 1024;

impl Invite {
    /// An invitation spec. The template must render with every variable it
    /// names known (`{{ nmae }}` is an error), have a `Subject:` line and
    /// contain the set-password `{{ link }}`, and be at most
    /// [`MAX_TEMPLATE_BYTES`]; the base URL must be `https://` (or
    /// `http://` on a loopback host); `send_at` is RFC 3339 (normalised to
    /// UTC).
    pub fn new(template: String, base_url: String, send_at: Option<&str>) -> Result<Invite> {
        let send_at = match send_at {
            None => now(),
            Some(text) => timestamp(
                chrono::DateTime::parse_from_rfc3339(text.trim())
                    .map_err(|e| {
                        Error::Refused(format!("the send-at time {text:?} is not RFC 3339: {e}"))
                    })?
                    .with_timezone(&chrono::Utc),
            ),
        };
        check_base_url(&base_url)?;
        if template.len() as u64 > MAX_TEMPLATE_BYTES {
            return Err(Error::Refused(format!(
                "the invitation template has {} bytes; at most {MAX_TEMPLATE_BYTES} are accepted",
                template.len()
            )));
        }
        check_template(&template)?;
        Ok(Invite {
            template,
            base_url,
            send_at,
        })
    }

    /// Reads an invitation template file: a regular file (not a device, a
    /// FIFO or a folder) of at most [`MAX_TEMPLATE_BYTES`], in UTF-8. Its
    /// content is checked by [`Invite::new`].
    pub fn read_template(path: &std::path::Path) -> Result<String> {
        use std::io::Read;
        let shown = path.display();
        let refuse = |why: String| Error::Refused(format!("invitation template {shown}: {why}"));
        let file = std::fs::File::open(path).map_err(|e| refuse(e.to_string()))?;
        let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
        if !meta.is_file() {
            return Err(refuse("not a regular file".into()));
        }
        let mut bytes = Vec::new();
        file.take(MAX_TEMPLATE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse(e.to_string()))?;
        if bytes.len() as u64 > MAX_TEMPLATE_BYTES {
            return Err(refuse(format!(
                "larger than {MAX_TEMPLATE_BYTES} bytes; a template is a short text"
            )));
        }
        String::from_utf8(bytes).map_err(|_| refuse("not UTF-8 text".into()))
    }
}

/// The link a template is checked with: it must come out in the message.
const PROBE_LINK: &str = "https://example.invalid/set-password?token=probe-7c1d";

/// A template must render strictly, have a subject and carry the link.
fn check_template(template: &str) -> Result<()> {
    let probe = Recipient {
        name: Some("Name".into()),
        login: Some("login".into()),
        email: "user@example.com".into(),
    };
    let text = render_text(template, &probe, PROBE_LINK)?;
    let has_subject = text
        .strip_prefix("Subject:")
        .and_then(|rest| rest.lines().next())
        .is_some_and(|subject| !subject.trim().is_empty());
    if !has_subject {
        return Err(Error::Refused(
            "invitation template: it must start with a \"Subject: …\" line, then a blank line and the body"
                .into(),
        ));
    }
    if !text.contains(PROBE_LINK) {
        return Err(Error::Refused(
            "invitation template: it must contain the set-password link {{ link }}".into(),
        ));
    }
    Ok(())
}

/// The link's base URL must be `https://`, or `http://` on a loopback host
/// (a test or a local proxy), and hold no spaces or control characters.
fn check_base_url(url: &str) -> Result<()> {
    let refuse = |why: &str| {
        Err(Error::Refused(format!(
            "invitation base URL {url:?}: {why}"
        )))
    };
    if url.trim().is_empty() {
        return refuse("it is empty");
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return refuse("it contains a space or a control character");
    }
    let lower = url.to_ascii_lowercase();
    let (https, rest) = match (
        lower.strip_prefix("https://"),
        lower.strip_prefix("http://"),
    ) {
        (Some(rest), _) => (true, rest),
        (None, Some(rest)) => (false, rest),
        _ => return refuse("use https://HOST/PATH"),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    if host.is_empty() {
        return refuse("it names no host");
    }
    if !https && !is_loopback(host) {
        return refuse(
            "links must use https:// (http:// only on a loopback host such as 127.0.0.1)",
        );
    }
    Ok(())
}

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    /// The user's name.
    pub name: Option<String>,
    /// The login ID.
    pub login: Option<String>,
    /// The e-mail address.
    pub email: String,
}

impl Recipient {
    /// The recipient of a new user's invitation; `None` without an e-mail.
    pub fn of(user: &NewUser) -> Option<Recipient> {
        Some(Recipient {
            name: user.attributes.get("name").map(str::to_string),
            login: user.login.clone(),
            email: user.email.clone().filter(|e| !e.trim().is_empty())?,
        })
    }
}

/// Renders `template` for `to` with `link`; a variable the template names
/// but the message lacks is an error, not an empty string.
pub fn render(template: &str, to: &Recipient, link: &str) -> Result<Rendered> {
    let text = render_text(template, to, link)?;
    let (subject, body) = match text.strip_prefix("Subject:") {
        Some(rest) => match rest.split_once('\n') {
            Some((subject, body)) => (
                subject.trim().to_string(),
                body.trim_start_matches(['\r', '\n']).to_string(),
            ),
            None => (rest.trim().to_string(), String::new()),
        },
        None => ("Your new account".to_string(), text),
    };
    // A subject is one line, whatever the values held.
    let subject = subject.replace(['\r', '\n'], " ");
    Ok(Rendered { subject, body })
}

fn render_text(template: &str, to: &Recipient, link: &str) -> Result<String> {
    let mut env = minijinja::Environment::new();
    env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    env.render_str(
        template,
        minijinja::context! {
            name => to.name,
            login => to.login,
            email => to.email,
            link => link,
        },
    )
    .map_err(|e| Error::Refused(format!("invitation template: {e}")))
}

/// The set-password link for `token`.
pub fn link(base_url: &str, token: &str) -> String {
    let sep = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{sep}token={token}")
}
