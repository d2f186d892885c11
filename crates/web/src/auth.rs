//! Who is calling: browser sessions (cookie plus CSRF token), API bearer
//! tokens, sign-in with its throttle (failures counted in the store, per
//! account and per address, for every server on it), sign-out.

use std::net::{IpAddr, SocketAddr};

use axum::Router;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use userimport::sink::{Credential, Session, new_secret, timestamp};

use crate::AppState;
use crate::engine::{Store, auth, auth_mut};
use crate::error::{ApiError, blocking};
use crate::i18n::Lang;
use crate::pages;
use crate::stored::Throttle;

/// The session cookie.
pub const SESSION_COOKIE: &str = "ui_session";
/// The anti-forgery cookie of the sign-in form (before a session exists).
pub const LOGIN_CSRF_COOKIE: &str = "ui_login_csrf";
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

/// The value of cookie `name`.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// True when the request came over TLS (directly or through a proxy that says so).
fn behind_tls(state: &AppState, headers: &HeaderMap) -> bool {
    state.config().secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Strict, Path=/, Secure behind TLS.
pub fn set_cookie(name: &str, value: &str, max_age: Option<u64>, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if let Some(age) = max_age {
        text.push_str(&format!("; Max-Age={age}"));
    }
    if secure {
        text.push_str("; Secure");
    }
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("")) // ok: hex tokens only
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
    let db = state.config().db.clone();
    let roles = state.config().allow_roles.clone();
    blocking(move || {
        let store = Store::open_existing(&db)?;
        let (actor, via) = if is_bearer {
            match auth(&store)?.token(&hash)? {
                Some(t) => (t.actor, Via::Token),
                None => return Ok(None),
            }
        } else {
            match auth(&store)?.session(&hash)? {
                Some(s) => (s.actor, Via::Session { csrf: s.csrf, hash }),
                None => return Ok(None),
            }
        };
        // A user suspended, or stripped of its role, since loses access at once.
        match auth(&store)?.credential(&actor)? {
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
    #[serde(default)]
    csrf: String,
}

/// Why a sign-in failed (the page shows one message for all, so that it
/// does not tell whether an account exists).
enum Refusal {
    Wrong,
    Throttled,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

async fn login_page(State(state): State<AppState>, lang: Lang, headers: HeaderMap) -> Response {
    let (token, fresh) = match cookie(&headers, LOGIN_CSRF_COOKIE) {
        Some(t) if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) => {
            (t.to_string(), false)
        }
        _ => match new_secret() {
            Ok((t, _)) => (t, true),
            Err(e) => return ApiError::from(e).into_response(),
        },
    };
    let page = pages::render_login(&state, lang, &token, None);
    let mut response = (StatusCode::OK, page).into_response();
    if fresh {
        let secure = behind_tls(&state, &headers);
        response.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(LOGIN_CSRF_COOKIE, &token, None, secure),
        );
    }
    response
}

async fn login(
    State(state): State<AppState>,
    lang: Lang,
    connect: Option<axum::Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LoginForm>,
) -> Response {
    let expected = cookie(&headers, LOGIN_CSRF_COOKIE).unwrap_or_default();
    if expected.is_empty() || !same(&form.csrf, expected) {
        return ApiError::csrf().into_response();
    }
    let address = connect.map(|c| c.0.0.ip());
    match sign_in(&state, &form, address).await {
        Ok(Ok(session_token)) => {
            let secure = behind_tls(&state, &headers);
            let ttl = state.config().session_ttl.as_secs();
            let mut response = Redirect::to("./").into_response();
            let h = response.headers_mut();
            h.append(
                header::SET_COOKIE,
                set_cookie(SESSION_COOKIE, &session_token, Some(ttl), secure),
            );
            h.append(
                header::SET_COOKIE,
                set_cookie(LOGIN_CSRF_COOKIE, "", Some(0), secure),
            );
            response
        }
        Ok(Err(refusal)) => {
            let (status, message) = match refusal {
                Refusal::Wrong => (StatusCode::UNAUTHORIZED, lang.t("login_failed")),
                Refusal::Throttled => (StatusCode::TOO_MANY_REQUESTS, lang.t("login_throttled")),
            };
            let page = pages::render_login(&state, lang, expected, Some(message));
            (status, page).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// Checks the form's credentials (slowly on failure, refusing once an
/// account or address failed too often) and opens a session.
async fn sign_in(
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
    let db = config.db.clone();
    let roles = config.allow_roles.clone();
    let found: Option<Credential> = blocking(move || {
        let store = Store::open_existing(&db)?;
        let found = auth(&store)?.credential(login.trim())?;
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
    let db = config.db.clone();
    blocking(move || {
        let mut store = Store::open(&db)?;
        auth_mut(&mut store)?.create_session(&hash, &session)?;
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

/// The sign-out form.
#[derive(Debug, Deserialize)]
pub struct LogoutForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    axum::Form(form): axum::Form<LogoutForm>,
) -> Result<Response, ApiError> {
    caller.check_csrf(&headers, Some(&form.csrf))?;
    if let Via::Session { hash, .. } = &caller.via {
        let (db, hash) = (state.config().db.clone(), hash.clone());
        blocking(move || {
            auth_mut(&mut Store::open(&db)?)?.delete_session(&hash)?;
            Ok(())
        })
        .await?;
    }
    let secure = behind_tls(&state, &headers);
    let mut response = Redirect::to("login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), secure),
    );
    Ok(response)
}
