//! The cookies the server reads and sets: the session, the sign-in form's
//! anti-forgery token and the page's language.

use axum::http::{HeaderMap, HeaderValue, header};

use crate::AppState;

/// The session cookie.
pub const SESSION_COOKIE: &str = "ui_session";
/// The anti-forgery cookie of the sign-in form (before a session exists).
pub const LOGIN_CSRF_COOKIE: &str = "ui_login_csrf";
/// The page's language, once chosen with `?lang=`.
pub const LANG_COOKIE: &str = "ui_lang";

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

/// True when the request came over TLS (directly or through a proxy that says so).
pub fn behind_tls(state: &AppState, headers: &HeaderMap) -> bool {
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

/// The `Set-Cookie` value that keeps the page's language for a year.
pub fn lang_cookie(code: &str) -> Option<HeaderValue> {
    let text = format!("{LANG_COOKIE}={code}; Path=/; SameSite=Strict; Max-Age=31536000");
    HeaderValue::from_str(&text).ok()
}
