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

use crate::clock::{now, timestamp};
use crate::invite::{link, render};
use crate::mail::{Rendered, SendError};
use crate::sink::Sink;
use crate::{Error, Result};

/// The stores name invitations through here.
pub(crate) use crate::invite::{Invite, Recipient};

/// Delivery attempts before a message is marked failed.
pub const MAX_ATTEMPTS: u32 = 5;

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

/// The invitations a store keeps queued (SQLite and PostgreSQL; not
/// [`MemorySink`](crate::MemorySink)). Messages are queued by
/// [`Sink::write`] itself, in the transaction of the users they invite
/// ([`Batch::invite`](crate::Batch::invite)); [`deliver`] takes them out.
pub trait Outbox: Sink {
    /// Every queued message, oldest first.
    fn outbox(&self) -> Result<Vec<Message>, Self::Error>;

    /// Claims up to `limit` messages due at `now` (queued, `send_at` and
    /// backoff passed): they become `sending`, so no other delivery takes
    /// them.
    fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>, Self::Error>;

    /// Stores the SHA-256 of a message's set-password token (replacing an
    /// earlier one of the same message).
    fn store_token(&mut self, message: i64, user: i64, hash: &str) -> Result<(), Self::Error>;

    /// Marks a message sent.
    fn mark_sent(&mut self, message: i64) -> Result<(), Self::Error>;

    /// Records a failed attempt: queued again from `retry_at`, or (`None`)
    /// failed for good.
    fn mark_failed(
        &mut self,
        message: i64,
        error: &str,
        retry_at: Option<&str>,
    ) -> Result<(), Self::Error>;
}

/// Forwards every method of [`Outbox`] behind a pointer.
macro_rules! forward_outbox {
    ($($ptr:ty),*) => {$(
        impl<S: Outbox + ?Sized> Outbox for $ptr {
            fn outbox(&self) -> Result<Vec<Message>, Self::Error> {
                (**self).outbox()
            }
            fn claim_due(&mut self, now: &str, limit: usize) -> Result<Vec<Message>, Self::Error> {
                (**self).claim_due(now, limit)
            }
            fn store_token(
                &mut self,
                message: i64,
                user: i64,
                hash: &str,
            ) -> Result<(), Self::Error> {
                (**self).store_token(message, user, hash)
            }
            fn mark_sent(&mut self, message: i64) -> Result<(), Self::Error> {
                (**self).mark_sent(message)
            }
            fn mark_failed(
                &mut self,
                message: i64,
                error: &str,
                retry_at: Option<&str>,
            ) -> Result<(), Self::Error> {
                (**self).mark_failed(message, error, retry_at)
            }
        }
    )*};
}

forward_outbox!(&mut S, Box<S>);

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

/// Sends every due message through `send(from, to, message)`, marking each
/// sent, or queued again with a backoff, or failed (at once when the
/// failure is permanent, such as an SMTP 550; after [`MAX_ATTEMPTS`]
/// otherwise).
pub fn deliver<S: Outbox + ?Sized>(
    store: &mut S,
    from: &str,
    send: &mut dyn FnMut(&str, &str, &Rendered) -> std::result::Result<(), SendError>,
) -> Result<DeliveryReport, S::Error> {
    let mut report = DeliveryReport::default();
    loop {
        let batch = store.claim_due(&now(), 100)?;
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
                Err(e) => Err(SendError::permanent(e.to_string())),
            };
            drop(token);
            match result {
                Ok(()) => {
                    store.mark_sent(message.id)?;
                    report.sent += 1;
                }
                Err(SendError {
                    message: error,
                    permanent,
                }) => {
                    let attempts = message.attempts + 1;
                    if permanent || attempts >= MAX_ATTEMPTS {
                        store.mark_failed(message.id, &error, None)?;
                        report.failed += 1;
                    } else {
                        let next = timestamp(
                            chrono::Utc::now()
                                + chrono::Duration::from_std(backoff(message.attempts))
                                    .unwrap_or_default(),
                        );
                        store.mark_failed(message.id, &error, Some(&next))?;
                        report.retried += 1;
                    }
                }
            }
        }
    }
}
