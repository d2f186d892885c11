//! An upload received and checked, whoever sent it: the API's multipart
//! body (a `file` part and the `options` JSON) or the start page's form
//! (the file and one field per option).

use axum::extract::Multipart;
use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::imports;
use crate::upload;

/// Receives an upload (API or page) and checks it.
pub async fn receive_and_check(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    multipart: Multipart,
) -> Result<imports::Import, ApiError> {
    let id = upload::new_id()?;
    let path = upload::path_of(&state.config().upload_dir, &id);
    let limit_state = state.clone();
    let received = upload::receive(multipart, &path, |options, fields| {
        let options = options_of(options, fields);
        Ok(imports::limit_for(&limit_state, options.as_deref()))
    })
    .await?;
    let prepared = caller
        .check_csrf(headers, received.csrf.as_deref())
        .and_then(|()| {
            let (_, name) = received
                .file
                .ok_or_else(|| ApiError::bad_request("the body has no `file` part"))?;
            let options = options_of(received.options.as_deref(), &received.fields);
            Ok((
                name,
                imports::settings_for(state, caller, options.as_deref())?,
            ))
        });
    match prepared {
        Ok((name, settings)) => imports::check(state, caller, id, name, settings).await,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            Err(e)
        }
    }
}

/// The `options` JSON part, else the form's option fields as one.
fn options_of(options: Option<&str>, fields: &[(String, String)]) -> Option<String> {
    options
        .map(str::to_string)
        .or_else(|| options_from_fields(fields))
}

/// The import options a start-page form carries, as the `options` JSON.
fn options_from_fields(fields: &[(String, String)]) -> Option<String> {
    if fields.is_empty() {
        return None;
    }
    let mut options = serde_json::Map::new();
    let mut maps = Vec::new();
    for (name, value) in fields {
        let value = value.trim();
        if let Some(field) = name.strip_prefix("map.") {
            if !value.is_empty() {
                maps.push(json!(format!("{field}={value}")));
            }
            continue;
        }
        let key = if name == "profile_choice" {
            "profile"
        } else {
            name.as_str()
        };
        let v = match key {
            "generate_passwords" | "update_passwords" | "skip_invalid" => json!(value == "true"),
            "header_row" if value.is_empty() => continue,
            "header_row" => match value.parse::<u64>() {
                Ok(n) => json!(n),
                Err(_) => json!(value),
            },
            "key" | "default_group" | "sources" if value.is_empty() => continue,
            "profile" | "charset" | "delimiter" | "mode" | "merge" | "card_id_type" | "key"
            | "default_group" | "sources" => json!(value),
            _ => continue,
        };
        options.insert(key.to_string(), v);
    }
    options.insert("maps".into(), Value::Array(maps));
    serde_json::to_string(&Value::Object(options)).ok()
}
