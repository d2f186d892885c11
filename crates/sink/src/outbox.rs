//! Invitations: one message per created user, queued in the store's outbox
//! in the same transaction as the user, delivered later over SMTP.
//!
//! A queued message holds the recipient, the per-user variables (name,
//! login ID, e-mail), the template and the link's base URL, never a
//! password. The single-use set-password token is drawn from the OS CSPRNG
//! when the message is delivered; only its SHA-256 is stored
//! (`password_tokens`), so no usable link rests in the store. Delivery
//! claims a message (status `sending`) before talking to the server and
//! marks it `sent` after: a message is never sent twice. A server refusal
//! puts it back in the queue with an exponential backoff; after
//! [`MAX_ATTEMPTS`] it is `failed`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use userimport_plan::NewUser;

use crate::sink::Sink;
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

/// Delivery attempts before a message is marked failed.
pub const MAX_ATTEMPTS: u32 = 5;

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

impl Invite {
    /// An invitation spec; checks that the template renders and that
    /// `send_at` is RFC 3339 (normalised to UTC).
    pub fn new(template: String, base_url: String, send_at: Option<&str>) -> Result<Invite> {
        let send_at = match send_at {
            None => crate::sink::now(),
            Some(text) => chrono::DateTime::parse_from_rfc3339(text.trim())
                .map_err(|e| {
                    Error::Refused(format!("the send-at time {text:?} is not RFC 3339: {e}"))
                })?
                .with_timezone(&chrono::Utc)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        };
        if base_url.trim().is_empty() {
            return Err(Error::Refused("the invitation base URL is empty".into()));
        }
        let invite = Invite {
            template,
            base_url,
            send_at,
        };
        render(
            &invite.template,
            &Recipient {
                name: Some("Name".into()),
                login: Some("login".into()),
                email: "user@example.com".into(),
            },
            "https://example.invalid/set-password?token=x",
        )?;
        Ok(invite)
    }
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
            name: user.attributes.get("name").cloned(),
            login: user.login.clone(),
            email: user.email.clone().filter(|e| !e.trim().is_empty())?,
        })
    }
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting to be sent (or retried).
    Queued,
    /// Claimed by a delivery; if that delivery died, it stays here and is
    /// not sent again automatically.
    Sending,
    /// Accepted by the SMTP server.
    Sent,
    /// Refused [`MAX_ATTEMPTS`] times.
    Failed,
}

impl MessageStatus {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Queued => "queued",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> MessageStatus {
        match text {
            "queued" => MessageStatus::Queued,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            _ => MessageStatus::Failed,
        }
    }
}

/// One queued invitation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    /// The message ID.
    pub id: i64,
    /// The user it invites.
    pub user_id: i64,
    /// Where it goes, and the per-user variables.
    #[serde(flatten)]
    pub recipient: Recipient,
    /// Where it stands.
    pub status: MessageStatus,
    /// When it is due (RFC 3339, UTC).
    pub send_at: String,
    /// Delivery attempts so far.
    pub attempts: u32,
    /// The earliest next attempt (backoff).
    pub next_attempt_at: String,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When the server accepted it.
    pub sent_at: Option<String>,
    /// When it was queued.
    pub created_at: String,
    /// The template.
    #[serde(skip)]
    pub template: String,
    /// The link's base URL.
    #[serde(skip)]
    pub base_url: String,
}

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The body.
    pub body: String,
}

/// Renders `template` for `to` with `link`.
pub fn render(template: &str, to: &Recipient, link: &str) -> Result<Rendered> {
    let env = minijinja::Environment::new();
    let text = env
        .render_str(
            template,
            minijinja::context! {
                name => to.name,
                login => to.login,
                email => to.email,
                link => link,
            },
        )
        .map_err(|e| Error::Refused(format!("invitation template: {e}")))?;
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
    Ok(Rendered { subject, body })
}

/// The SHA-256 of a token, hex: the only form a token is stored in.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new single-use token: 32 bytes from the OS CSPRNG, hex.
pub fn new_token() -> Result<String> {
    use rand::TryRngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| Error::Refused(format!("no OS randomness: {e}")))?;
    Ok(hex::encode(bytes))
}

/// The set-password link for `token`.
pub fn link(base_url: &str, token: &str) -> String {
    let sep = if base_url.contains('?') { '&' } else { '?' };
    format!("{base_url}{sep}token={token}")
}

/// The backoff before attempt `attempts + 1`: 30 s, 1, 2, 4 … minutes.
pub fn backoff(attempts: u32) -> Duration {
    Duration::from_secs(30u64 << attempts.min(10))
}

/// What a delivery run did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryReport {
    /// Messages the server accepted.
    pub sent: u64,
    /// Messages refused this time and queued again.
    pub retried: u64,
    /// Messages refused for the last time.
    pub failed: u64,
}

/// Sends every due message through `transport` (`send(to, subject, body)`),
/// marking each sent, or queued again with a backoff, or failed.
pub fn deliver<S: Sink + ?Sized>(
    store: &mut S,
    from: &str,
    send: &mut dyn FnMut(&str, &str, &Rendered) -> std::result::Result<(), String>,
) -> Result<DeliveryReport, S::Error> {
    let mut report = DeliveryReport::default();
    loop {
        let now = crate::sink::now();
        let batch = store.claim_due(&now, 100)?;
        if batch.is_empty() {
            return Ok(report);
        }
        for message in batch {
            let token = new_token()?;
            store.store_token(message.id, message.user_id, &token_hash(&token))?;
            let rendered = render(
                &message.template,
                &message.recipient,
                &link(&message.base_url, &token),
            );
            let result = match rendered {
                Ok(rendered) => send(from, &message.recipient.email, &rendered),
                Err(e) => Err(e.to_string()),
            };
            drop(token);
            match result {
                Ok(()) => {
                    store.mark_sent(message.id)?;
                    report.sent += 1;
                }
                Err(error) => {
                    let attempts = message.attempts + 1;
                    if attempts >= MAX_ATTEMPTS {
                        store.mark_failed(message.id, &error, None)?;
                        report.failed += 1;
                    } else {
                        let next = chrono::Utc::now()
                            + chrono::Duration::from_std(backoff(message.attempts))
                                .unwrap_or_default();
                        let next = next.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
                        store.mark_failed(message.id, &error, Some(&next))?;
                        report.retried += 1;
                    }
                }
            }
        }
    }
}

/// An SMTP sender for [`deliver`]: `smtp://HOST:PORT` (plain SMTP, no TLS:
/// for a local relay).
pub fn smtp_sender(
    url: &str,
) -> Result<impl FnMut(&str, &str, &Rendered) -> std::result::Result<(), String>> {
    use lettre::Transport;
    let rest = url
        .strip_prefix("smtp://")
        .ok_or_else(|| Error::Refused(format!("{url:?}: use smtp://HOST:PORT")))?;
    let rest = rest.trim_end_matches('/');
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (
            h.to_string(),
            p.parse::<u16>()
                .map_err(|_| Error::Refused(format!("{url:?}: bad port")))?,
        ),
        None => (rest.to_string(), 25),
    };
    let transport = lettre::SmtpTransport::builder_dangerous(host)
        .port(port)
        .timeout(Some(Duration::from_secs(30)))
        .build();
    Ok(
        move |from: &str, to: &str, m: &Rendered| -> std::result::Result<(), String> {
            let email = lettre::Message::builder()
                .from(from.parse().map_err(|e| format!("sender {from:?}: {e}"))?)
                .to(to.parse().map_err(|e| format!("recipient {to:?}: {e}"))?)
                .subject(m.subject.clone())
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(m.body.clone())
                .map_err(|e| e.to_string())?;
            transport
                .send(&email)
                .map(|_| ())
                .map_err(|e| e.to_string())
        },
    )
}
