//! SMTP delivery for [`deliver`](crate::deliver): the server, its
//! security and credentials from one URL.
//!
//! | URL | connection |
//! |---|---|
//! | `smtp://HOST[:PORT]` | plain SMTP (port 25), for a local relay |
//! | `smtp://USER:PASS@HOST[:PORT]?tls=starttls` | STARTTLS required (port 587), then AUTH |
//! | `smtps://USER:PASS@HOST[:PORT]` | TLS from the start (port 465), then AUTH |
//!
//! `?ca=FILE.pem` trusts a private certificate authority besides the
//! system's roots. Credentials over a plain connection are refused unless
//! the host is a loopback address. User and password may be
//! percent-encoded. The URL is shown with its password as `***`.

#[cfg(feature = "smtp")]
use std::time::Duration;

#[cfg(feature = "smtp")]
use lettre::transport::smtp::authentication::Credentials;
#[cfg(feature = "smtp")]
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};

use crate::mail::is_loopback;
#[cfg(feature = "smtp")]
use crate::mail::{Rendered, SendError};
use crate::{Error, Result};

/// How the connection to the server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SmtpSecurity {
    /// Plain SMTP (a local relay).
    Plain,
    /// STARTTLS, required.
    StartTls,
    /// TLS from the first byte (`smtps://`).
    Tls,
}

/// An SMTP server as a URL names it (see the module docs).
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The host name or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The connection's protection.
    pub security: SmtpSecurity,
    /// User and password for AUTH.
    pub credentials: Option<(String, String)>,
    /// A PEM file of certificate authorities to trust besides the system's.
    pub ca_file: Option<std::path::PathBuf>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_string())
    }
}

impl std::fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let scheme = match self.security {
            SmtpSecurity::Tls => "smtps",
            _ => "smtp",
        };
        write!(f, "{scheme}://")?;
        if let Some((user, _)) = &self.credentials {
            write!(f, "{user}:***@")?;
        }
        write!(f, "{}:{}", self.host, self.port)?;
        if self.security == SmtpSecurity::StartTls {
            f.write_str("?tls=starttls")?;
        }
        Ok(())
    }
}

fn refuse(why: impl std::fmt::Display) -> Error {
    Error::Refused(format!("the SMTP URL: {why}"))
}

fn decode(text: &str) -> Result<String> {
    percent_encoding::percent_decode_str(text)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| refuse("the user or password is not UTF-8 once decoded"))
}

impl std::str::FromStr for SmtpUrl {
    type Err = Error;

    /// Parses `smtp://…` or `smtps://…`; errors never repeat the password.
    fn from_str(text: &str) -> Result<SmtpUrl> {
        let url = url::Url::parse(text.trim()).map_err(|e| {
            refuse(format!(
                "{e}: write smtp://HOST:PORT, smtp://USER:PASS@HOST:PORT?tls=starttls or smtps://USER:PASS@HOST:PORT"
            ))
        })?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| refuse("it names no host"))?
            .trim_matches(['[', ']'])
            .to_string();
        let mut tls = None;
        let mut ca_file = None;
        for (key, value) in url.query_pairs() {
            match key.as_ref() {
                "tls" => tls = Some(value.to_ascii_lowercase()),
                "ca" => ca_file = Some(std::path::PathBuf::from(value.as_ref())),
                other => {
                    return Err(refuse(format!(
                        "unknown parameter {other:?}: use tls or ca"
                    )));
                }
            }
        }
        let (security, default_port) = match (url.scheme(), tls.as_deref()) {
            ("smtps", None | Some("tls" | "wrapper" | "implicit")) => (SmtpSecurity::Tls, 465),
            ("smtp", None | Some("none" | "plain")) => (SmtpSecurity::Plain, 25),
            ("smtp", Some("starttls" | "required")) => (SmtpSecurity::StartTls, 587),
            (scheme @ ("smtp" | "smtps"), Some(other)) => {
                return Err(refuse(format!(
                    "tls={other:?} with {scheme}://: use smtp://…?tls=starttls or smtps://"
                )));
            }
            (other, _) => {
                return Err(refuse(format!(
                    "unknown scheme {other:?}: use smtp:// or smtps://"
                )));
            }
        };
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            (user, Some(pass)) => Some((decode(user)?, decode(pass)?)),
            (_, None) => return Err(refuse("a user needs a password (USER:PASS@HOST)")),
        };
        let parsed = SmtpUrl {
            port: url.port().unwrap_or(default_port),
            host,
            security,
            credentials,
            ca_file,
        };
        if parsed.credentials.is_some()
            && parsed.security == SmtpSecurity::Plain
            && !is_loopback(&parsed.host)
        {
            return Err(refuse(format!(
                "{parsed}: credentials would cross the network in clear: use ?tls=starttls or smtps://"
            )));
        }
        Ok(parsed)
    }
}

#[cfg(feature = "smtp")]
impl SmtpUrl {
    fn tls_parameters(&self) -> Result<TlsParameters> {
        let mut builder = TlsParameters::builder(self.host.clone());
        if let Some(path) = &self.ca_file {
            let pem =
                std::fs::read(path).map_err(|e| refuse(format!("ca={}: {e}", path.display())))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| refuse(format!("ca={}: {e}", path.display())))?;
            builder = builder.add_root_certificate(cert);
        }
        builder.build_rustls().map_err(refuse)
    }

    fn transport(&self) -> Result<lettre::SmtpTransport> {
        let tls = match self.security {
            SmtpSecurity::Plain => Tls::None,
            SmtpSecurity::StartTls => Tls::Required(self.tls_parameters()?),
            SmtpSecurity::Tls => Tls::Wrapper(self.tls_parameters()?),
        };
        let mut builder = lettre::SmtpTransport::builder_dangerous(self.host.clone())
            .port(self.port)
            .tls(tls)
            .timeout(Some(Duration::from_secs(30)));
        if let Some((user, pass)) = &self.credentials {
            builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
        }
        Ok(builder.build())
    }
}

#[cfg(feature = "smtp")]
/// An SMTP sender for [`deliver`](crate::deliver), from a URL (see the
/// module docs). Every message gets a Message-ID; a 5xx reply (550 no such
/// user …) is a permanent failure, anything else is retried later.
pub fn smtp_sender(
    url: &str,
) -> Result<impl FnMut(&str, &str, &Rendered) -> std::result::Result<(), SendError>> {
    use lettre::Transport;
    let transport = url.parse::<SmtpUrl>()?.transport()?;
    Ok(
        move |from: &str, to: &str, m: &Rendered| -> std::result::Result<(), SendError> {
            let email = lettre::Message::builder()
                .message_id(None)
                .from(
                    from.parse()
                        .map_err(|e| SendError::permanent(format!("sender {from:?}: {e}")))?,
                )
                .to(to
                    .parse()
                    .map_err(|e| SendError::permanent(format!("recipient {to:?}: {e}")))?)
                .subject(m.subject.clone())
                .header(lettre::message::header::ContentType::TEXT_PLAIN)
                .body(m.body.clone())
                .map_err(|e| SendError::permanent(e.to_string()))?;
            transport.send(&email).map(|_| ()).map_err(|e| SendError {
                permanent: e.is_permanent(),
                message: e.to_string(),
            })
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_security_port_and_credentials_and_never_show_the_password() {
        let url: SmtpUrl = "smtp://relay.example.com".parse().unwrap();
        assert_eq!((url.security, url.port), (SmtpSecurity::Plain, 25));
        let url: SmtpUrl = "smtp://me%40corp:p%3Ass@mail.example.com?tls=starttls"
            .parse()
            .unwrap();
        assert_eq!((url.security, url.port), (SmtpSecurity::StartTls, 587));
        assert_eq!(
            url.credentials,
            Some(("me@corp".to_string(), "p:ss".to_string()))
        );
        assert_eq!(
            url.to_string(),
            "smtp://me@corp:***@mail.example.com:587?tls=starttls"
        );
        let url: SmtpUrl = "smtps://me:secret@mail.example.com".parse().unwrap();
        assert_eq!((url.security, url.port), (SmtpSecurity::Tls, 465));
        assert!(!format!("{url} {url:?}").contains("secret"));
        for bad in [
            "smtp://me:secret@mail.example.com",
            "http://mail.example.com",
            "smtp://mail.example.com?tls=sometimes",
            "smtp://me:secret@mail.example.com?x=1",
            "smtp://",
        ] {
            let err = bad.parse::<SmtpUrl>().unwrap_err().to_string();
            assert!(!err.contains("secret"), "{bad}: {err}");
        }
        // On loopback, a test relay may take AUTH in clear.
        assert!("smtp://me:secret@127.0.0.1:2525".parse::<SmtpUrl>().is_ok());
    }
}
