//! What a sender is handed and how a send fails, shared by the outbox's
//! delivery, its SMTP sender and invitations.

/// A rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The body.
    pub body: String,
}

/// Why a message was not sent: a temporary failure is retried later, a
/// permanent one (an SMTP 5xx such as 550, a template that cannot render)
/// is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// What went wrong (the server's reply).
    pub message: String,
    /// True when retrying cannot help.
    pub permanent: bool,
}

impl SendError {
    /// A failure worth retrying later.
    pub fn transient(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: false,
        }
    }

    /// A failure that retrying cannot fix.
    pub fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            permanent: true,
        }
    }
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<String> for SendError {
    fn from(message: String) -> Self {
        SendError::transient(message)
    }
}

impl From<&str> for SendError {
    fn from(message: &str) -> Self {
        SendError::transient(message)
    }
}

/// True for a loopback host (a test, a local relay or proxy): the one place
/// where a plain `http://` link or SMTP credentials in clear are allowed.
pub(crate) fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}
