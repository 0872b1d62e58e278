//! Parsing request parts into domain types ("parse, don't validate"): everything past
//! this module is valid by construction.

use crate::domain::identity::{
    Email, IdentityParts, NoticeNumber, Phone, ResidentName, looks_like_pin_field,
};
use crate::domain::text::{Lang, Text};
use crate::domain::time::{TOKYO, tokyo_date};
use crate::http::dto::ResidentBody;
use crate::http::error::{ApiError, FieldErrors, Problem};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use regex::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// The times the API takes (published in its OpenAPI document with `format: date-time`):
/// RFC 3339 with seconds and an offset.
pub const DATE_TIME_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})$";
/// The dates the API takes (`format: date`): `YYYY-MM-DD`.
pub const DATE_PATTERN: &str = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$";
/// `Idempotency-Key`: 1–255 visible ASCII characters.
pub const IDEMPOTENCY_KEY_PATTERN: &str = r"^[!-~]{1,255}$";

static DATE_TIME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(DATE_TIME_PATTERN).ok());
static DATE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(DATE_PATTERN).ok());

fn shaped(re: &LazyLock<Option<Regex>>, raw: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(raw))
}

/// A slot start in RFC 3339 (any offset), as a Tokyo wall-clock time.
pub fn parse_start(raw: &str) -> Result<NaiveDateTime, String> {
    let bad = || "must be an RFC 3339 time such as 2026-12-04T09:00:00+09:00".to_owned();
    if !shaped(&DATE_TIME, raw) {
        return Err(bad());
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&TOKYO).naive_local())
        .map_err(|_| bad())
}

pub fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    let bad = || "must be a date such as 2026-12-04".to_owned();
    if !shaped(&DATE, raw) {
        return Err(bad());
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| bad())
}

/// Refuses unknown fields; a PIN-like one gets its own, louder answer.
pub fn reject_unknown(
    unknown: &BTreeMap<String, Value>,
    prefix: &str,
    lang: Lang,
) -> Result<(), ApiError> {
    if let Some(name) = unknown.keys().find(|k| looks_like_pin_field(k)) {
        return Err(ApiError::new(
            Problem::PinNotAccepted,
            Text::new(
                "暗証番号は予約に必要ありません。市の職員が電話やインターネットで暗証番号をお聞きすることはありません。暗証番号を求める画面や電話は詐欺のおそれがあります。",
                "A PIN is never needed to book. City staff never ask for your PIN by phone or online; a form or call asking for it may be a fraud.",
            ),
            lang,
        )
        .with("field", format!("{prefix}{name}")));
    }
    if let Some(name) = unknown.keys().next() {
        return Err(ApiError::new(
            Problem::MalformedRequest,
            Text::owned(
                format!("不明な項目です: {prefix}{name}"),
                format!("Unknown field: {prefix}{name}"),
            ),
            lang,
        )
        .with("field", format!("{prefix}{name}")));
    }
    Ok(())
}

/// The resident's name and identity parts; failures go to `errors`.
pub fn parse_resident(
    body: &ResidentBody,
    notice_number: Option<&str>,
    birth_date: Option<&str>,
    errors: &mut FieldErrors,
) -> (Option<ResidentName>, IdentityParts) {
    let name = match ResidentName::parse(&body.name) {
        Ok(n) => Some(n),
        Err(e) => {
            errors.push("resident.name", e);
            None
        }
    };
    let parts = IdentityParts {
        email: errors.optional("resident.email", body.email.as_deref(), Email::parse),
        phone: errors.optional("resident.phone", body.phone.as_deref(), Phone::parse),
        notice_number: errors.optional("notice_number", notice_number, NoticeNumber::parse),
        birth_date: errors.optional("birth_date", birth_date, parse_date),
    };
    (name, parts)
}

/// A birth date of the documented form that cannot be right (422, not 400: no schema
/// says "in the past").
pub fn check_birth_date(
    parts: &IdentityParts,
    now: DateTime<Utc>,
    lang: Lang,
) -> Result<(), ApiError> {
    let mut errors = FieldErrors::default();
    if let Some(d) = parts.birth_date
        && !crate::domain::booking::plausible_birth_date(d, tokyo_date(now))
    {
        errors.push("birth_date", "must be a past date after 1900");
    }
    errors.into_rule_result(lang)
}

/// An `Idempotency-Key` header: 1–255 visible ASCII characters.
pub fn parse_idempotency_key(raw: &str) -> Result<String, &'static str> {
    if (1..=255).contains(&raw.len()) && raw.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        Ok(raw.to_owned())
    } else {
        Err("Idempotency-Key must be 1–255 visible ASCII characters (a UUID is ideal)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_read_in_tokyo_time_whatever_the_offset() {
        let a = parse_start("2026-12-04T09:00:00+09:00").unwrap();
        let b = parse_start("2026-12-04T00:00:00Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a.to_string(), "2026-12-04 09:00:00");
        assert!(parse_start("2026-12-04 09:00").is_err());
        assert!(
            parse_start("2026-12-04 09:00:00+09:00").is_err(),
            "the published shape"
        );
        assert!(parse_start(" 2026-12-04T09:00:00+09:00").is_err());
        assert!(parse_start("2026-12-04T09:00:00.5Z").is_ok());
        assert!(parse_start("2026-02-30T09:00:00Z").is_err());
        assert!(parse_start("tomorrow").is_err());
        assert!(parse_date("2026-12-04").is_ok());
        assert!(parse_date("2026-1-4").is_err());
        assert!(parse_date("2026-02-30").is_err());
    }

    #[test]
    fn idempotency_keys_are_bounded() {
        assert!(parse_idempotency_key("5f0c8c52-5d47-4a8e-9d4b-0c6b3f1e2a11").is_ok());
        assert!(parse_idempotency_key("").is_err());
        assert!(parse_idempotency_key("has space").is_err());
        assert!(parse_idempotency_key(&"k".repeat(256)).is_err());
    }
}
