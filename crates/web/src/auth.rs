//! Who is calling: browser sessions (cookie plus CSRF token), API bearer
//! tokens, sign-in with its throttle (failures counted in the store, per
//! account and per address, for every server on it), sign-out. The sign-in
//! page itself is `login`'s.

use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use userimport::sink::{Credential, Session, new_secret, timestamp};

use crate::AppState;
use crate::cookies::{SESSION_COOKIE, cookie};
use crate::engine::{auth, auth_mut};
use crate::error::{ApiError, blocking};
use crate::stored::Throttle;

/// The header carrying the session's CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// How the caller proved who it is.
#[derive(Debug, Clone)]
pub enum Via {
    /// A browser session, with its CSRF token and the token's hash.
    Session {
        /// The session's anti-forgery token.
        csrf: String,
        /// The SHA-256 of the session token.
        hash: String,
    },
    /// An API bearer token.
    Token,
}

/// The signed-in user making a request: the importing actor.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The actor's login ID.
    pub actor: String,
    /// How it signed in.
    pub via: Via,
}

impl Caller {
    /// The session's CSRF token (empty for API tokens).
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token => "",
        }
    }

    /// Refuses a state-changing request from a session that does not carry
    /// its CSRF token (in the header or in `field`); API tokens need none.
    pub fn check_csrf(&self, headers: &HeaderMap, field: Option<&str>) -> Result<(), ApiError> {
        let Via::Session { csrf, .. } = &self.via else {
            return Ok(());
        };
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .or(field);
        match sent {
            Some(sent) if same(sent, csrf) => Ok(()),
            _ => Err(ApiError::csrf()),
        }
    }

    /// True for a browser session.
    pub fn is_session(&self) -> bool {
        matches!(self.via, Via::Session { .. })
    }
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// Finds the caller of a request, if it is signed in and still allowed.
pub async fn caller_of(state: &AppState, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
    let token = bearer(headers)
        .map(|t| (t.to_string(), true))
        .or_else(|| cookie(headers, SESSION_COOKIE).map(|t| (t.to_string(), false)));
    let Some((token, is_bearer)) = token else {
        return Ok(None);
    };
    let hash = userimport::sink::token_hash(&token);
    let roles = state.config().allow_roles.clone();
    state
        .read(move |store| {
            let (actor, via) = if is_bearer {
                match auth(store)?.token(&hash)? {
                    Some(t) => (t.actor, Via::Token),
                    None => return Ok(None),
                }
            } else {
                match auth(store)?.session(&hash)? {
                    Some(s) => (s.actor, Via::Session { csrf: s.csrf, hash }),
                    None => return Ok(None),
                }
            };
            // A user suspended, or stripped of its role, since loses access at once.
            match auth(store)?.credential(&actor)? {
                Some(c) if c.is_active() && c.holds_any(&roles) => Ok(Some(Caller {
                    actor: c.actor(),
                    via,
                })),
                _ => Ok(None),
            }
        })
        .await
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        caller_of(state, &parts.headers)
            .await?
            .ok_or_else(ApiError::unauthorized)
    }
}

/// The caller of a state-changing API request, which carries the
/// session's CSRF token in its header (API tokens need none).
#[derive(Debug, Clone)]
pub struct CsrfCaller(pub Caller);

impl FromRequestParts<AppState> for CsrfCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.check_csrf(&parts.headers, None)?;
        Ok(CsrfCaller(caller))
    }
}

fn account_key(login: &str) -> String {
    format!("account:{}", userimport::plan::fold(login))
}

fn address_key(addr: Option<IpAddr>) -> String {
    format!(
        "address:{}",
        addr.map(|a| a.to_string()).unwrap_or_default()
    )
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    login: String,
    password: String,
    /// The sign-in form's anti-forgery token.
    #[serde(default)]
    pub csrf: String,
}

/// Why a sign-in failed (the page shows one message for all, so that it
/// does not tell whether an account exists).
pub enum Refusal {
    /// No such allowed account, or the wrong password.
    Wrong,
    /// Too many failures for the account or the address.
    Throttled,
}

/// Checks the form's credentials (slowly on failure, refusing once an
/// account or address failed too often) and opens a session; returns the
/// session's token.
pub async fn sign_in(
    state: &AppState,
    form: &LoginForm,
    address: Option<IpAddr>,
) -> Result<Result<String, Refusal>, ApiError> {
    let config = state.config().clone();
    let (account, place) = (account_key(&form.login), address_key(address));
    let (checking, keys) = (state.clone(), (account.clone(), place.clone()));
    let locked = blocking(move || {
        let throttle = Throttle {
            account: &keys.0,
            address: &keys.1,
        };
        throttle.is_locked(&checking)
    })
    .await?;
    if locked {
        return Ok(Err(Refusal::Throttled));
    }
    let (login, password) = (form.login.clone(), form.password.clone());
    let roles = config.allow_roles.clone();
    let found: Option<Credential> = state
        .read(move |store| {
            let found = auth(store)?.credential(login.trim())?;
            // The same work whether or not the account exists.
            let ok = match &found {
                Some(c) => c.verify(&password),
                None => {
                    let _ = userimport::plan::verify_password(&password, &DUMMY_HASH);
                    false
                }
            };
            Ok(found.filter(|c| ok && c.is_active() && c.holds_any(&roles)))
        })
        .await?;
    let Some(credential) = found else {
        let recording = state.clone();
        blocking(move || {
            let throttle = Throttle {
                account: &account,
                address: &place,
            };
            throttle.record(&recording)
        })
        .await?;
        tokio::time::sleep(config.failure_delay).await;
        return Ok(Err(Refusal::Wrong));
    };
    let (token, hash) = new_secret()?;
    let (csrf, _) = new_secret()?;
    // Stored to the whole second: round up, so a session never lasts less than its TTL.
    let expires = chrono::Utc::now()
        + chrono::Duration::from_std(config.session_ttl).unwrap_or(chrono::Duration::hours(8))
        + chrono::Duration::milliseconds(999);
    let session = Session::new(&credential.actor(), &csrf, &timestamp(expires));
    state
        .write(move |store| {
            auth_mut(store)?.create_session(&hash, &session)?;
            Ok(())
        })
        .await?;
    Ok(Ok(token))
}

/// An argon2id hash of nothing anyone types, verified when the account does
/// not exist so that the answer takes as long either way.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    userimport::plan::hash_password("no one signs in with this").unwrap_or_default()
});

/// Ends the caller's browser session (an API token stays valid).
pub async fn sign_out(state: &AppState, caller: &Caller) -> Result<(), ApiError> {
    if let Via::Session { hash, .. } = &caller.via {
        let hash = hash.clone();
        state
            .write(move |store| {
                auth_mut(store)?.delete_session(&hash)?;
                Ok(())
            })
            .await?;
    }
    Ok(())
}
