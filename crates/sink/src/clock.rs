//! Times as the stores record them: RFC 3339 to the second, in UTC, so
//! that they compare as strings.

/// A time as the stores record it (RFC 3339, seconds, UTC), so that times
/// compare as strings.
pub fn timestamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The current time as the stores record it.
pub(crate) fn now() -> String {
    timestamp(chrono::Utc::now())
}
