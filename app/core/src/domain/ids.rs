//! Identifiers that come from configuration and appear in URLs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An office id such as `main` or `north`: lowercase ASCII letters, digits, `-` and `_`,
/// 1–32 characters. It appears in URLs and in Redis keys (inside a cluster hash tag), so
/// the character set is deliberately narrow.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct OfficeId(String);

impl OfficeId {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let ok_len = (1..=32).contains(&raw.len());
        let ok_chars = raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok_len && ok_chars {
            Ok(Self(raw.to_owned()))
        } else {
            Err(format!(
                "office id {raw:?} must be 1–32 characters of a-z, 0-9, '-' or '_'"
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfficeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OfficeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        OfficeId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_simple_ids_and_rejects_others() {
        assert!(OfficeId::parse("main").is_ok());
        assert!(OfficeId::parse("south-2").is_ok());
        for bad in ["", "Main", "a b", "{main}", "本庁", &"x".repeat(33)] {
            assert!(OfficeId::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    proptest! {
        #[test]
        fn parsed_ids_never_contain_redis_hash_tag_braces(s in "\\PC{0,40}") {
            if let Ok(id) = OfficeId::parse(&s) {
                let has_special = id.as_str().contains(['{', '}', ':']);
                prop_assert!(!has_special, "{:?}", id);
            }
        }
    }
}
