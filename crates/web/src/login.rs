//! Signing in and out in the browser: the sign-in page with its
//! anti-forgery cookie, the form's answers (the session cookie, or the page
//! again with why), and sign-out.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use userimport::sink::new_secret;

use crate::AppState;
use crate::auth::{Caller, LoginForm, Refusal, same, sign_in, sign_out};
use crate::cookies::{LOGIN_CSRF_COOKIE, SESSION_COOKIE, behind_tls, cookie, set_cookie};
use crate::error::ApiError;
use crate::i18n::Lang;
use crate::pages::render_login;

/// The sign-in and sign-out routes.
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
    let page = render_login(&state, lang, &token, None);
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
            let page = render_login(&state, lang, expected, Some(message));
            (status, page).into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The sign-out form.
#[derive(Debug, Deserialize)]
struct LogoutForm {
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
    sign_out(&state, &caller).await?;
    let secure = behind_tls(&state, &headers);
    let mut response = Redirect::to("login").into_response();
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", Some(0), secure),
    );
    Ok(response)
}
