//! Uploads: streamed from the multipart body into a mode-0600 file in the
//! upload directory, the size limit enforced while reading.

use std::path::{Path, PathBuf};

use axum::extract::Multipart;
use tokio::io::AsyncWriteExt;

use crate::error::ApiError;

/// Creates the upload directory (mode 0700).
pub fn prepare_dir(dir: &Path) -> Result<(), ApiError> {
    std::fs::create_dir_all(dir).map_err(|e| {
        ApiError::config(format!(
            "cannot create the upload directory {}: {e}",
            dir.display()
        ))
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

/// A random ID for an upload (16 bytes, hex).
pub fn new_id() -> Result<String, ApiError> {
    let (token, _) = userimport::sink::new_secret()?;
    Ok(token[..32].to_string())
}

/// True for an ID [`new_id`] could have made.
pub fn is_id(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// The upload file of `id`.
pub fn path_of(dir: &Path, id: &str) -> PathBuf {
    dir.join(format!("{id}.upload"))
}

/// What a multipart upload carried.
#[derive(Debug, Default)]
pub struct Received {
    /// The file's bytes written, and its name as the browser sent it.
    pub file: Option<(u64, String)>,
    /// The `options` part (JSON).
    pub options: Option<String>,
    /// The `csrf` part.
    pub csrf: Option<String>,
    /// Other text parts (`name`, value): the page's form fields.
    pub fields: Vec<(String, String)>,
}

/// The largest text part (options, form fields).
const MAX_TEXT_PART: usize = 64 * 1024;

/// Reads `multipart` into `path` (created 0600, never overwritten): the
/// `file` part streamed under `limit(options so far)` bytes, the other
/// parts as text. On any error the partial file is removed.
pub async fn receive(
    mut multipart: Multipart,
    path: &Path,
    limit: impl Fn(Option<&str>, &[(String, String)]) -> Result<u64, ApiError>,
) -> Result<Received, ApiError> {
    let mut received = Received::default();
    let result = async {
        while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
            let name = field.name().unwrap_or("").to_string();
            if name == "file" {
                if received.file.is_some() {
                    return Err(ApiError::bad_request("send one file part"));
                }
                let filename = field.file_name().unwrap_or("upload.csv").to_string();
                let max = limit(received.options.as_deref(), &received.fields)?;
                let bytes = write_part(field, path, max).await?;
                received.file = Some((bytes, filename));
            } else {
                let text = read_text(field).await?;
                match name.as_str() {
                    "options" => received.options = Some(text),
                    "csrf" => received.csrf = Some(text),
                    _ if received.fields.len() < 200 => received.fields.push((name, text)),
                    _ => return Err(ApiError::bad_request("too many form fields")),
                }
            }
        }
        Ok(())
    }
    .await;
    if let Err(e) = result {
        let _ = std::fs::remove_file(path);
        return Err(e);
    }
    Ok(received)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
        return ApiError::new(e.status(), "too_large", e.body_text());
    }
    ApiError::bad_request(format!(
        "the multipart body is malformed: {}",
        e.body_text()
    ))
}

async fn read_text(mut field: axum::extract::multipart::Field<'_>) -> Result<String, ApiError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        if bytes.len() + chunk.len() > MAX_TEXT_PART {
            return Err(ApiError::bad_request("a form field is too long"));
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| ApiError::bad_request("a form field is not UTF-8"))
}

/// Creates a new file (never over an existing one) that only this user
/// can read: mode 0600, as every upload and corrected file is kept.
pub fn private_file() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

async fn write_part(
    mut field: axum::extract::multipart::Field<'_>,
    path: &Path,
    max: u64,
) -> Result<u64, ApiError> {
    let file = tokio::fs::OpenOptions::from(private_file())
        .open(path)
        .await?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        written += chunk.len() as u64;
        if written > max {
            return Err(ApiError::too_large(max));
        }
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    out.into_inner().sync_data().await?;
    Ok(written)
}

/// The name of an uploaded file as shown: its last path component,
/// without control characters, at most 200 characters.
pub fn display_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let shown: String = last.chars().filter(|c| !c.is_control()).take(200).collect();
    if shown.trim().is_empty() {
        "upload.csv".to_string()
    } else {
        shown
    }
}

/// A `Content-Disposition` value for `name`: an ASCII fallback of
/// letters, digits and `.-_`, and the UTF-8 name percent-encoded.
pub fn disposition(name: &str, fallback: &str) -> String {
    let ascii = safe_name(name, fallback);
    let mut encoded = String::new();
    for b in display_name(name).bytes() {
        if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

/// A file name safe for `Content-Disposition`: letters, digits, `.-_`.
pub fn safe_name(name: &str, fallback: &str) -> String {
    let cleaned: String = name
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or("")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    let cleaned = cleaned.trim_matches('.').to_string();
    if cleaned.is_empty() {
        fallback.to_string()
    } else {
        cleaned
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_names_keep_only_safe_characters() {
        assert_eq!(safe_name("../../etc/passwd", "x.csv"), "passwd");
        assert_eq!(safe_name("a\"b\r\nc.csv", "x.csv"), "a_b__c.csv");
        assert_eq!(safe_name("社員.csv", "x.csv"), "__.csv");
        assert_eq!(safe_name("...", "x.csv"), "x.csv");
        assert_eq!(
            disposition("社員.csv", "x.csv"),
            "attachment; filename=\"__.csv\"; filename*=UTF-8''%E7%A4%BE%E5%93%A1.csv"
        );
        assert_eq!(display_name("C:\\tmp\\a\u{7}b.csv"), "ab.csv");
    }
}
