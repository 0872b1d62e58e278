//! The waiting room's tokens, signed with a key derived from the master key (HMAC-SHA256)
//! and carrying no personal data:
//!
//! - a **place** token, given on joining: `p.<room>.<place>.<issued ms>.<mac>`, where the
//!   place is the visitor's join number (after the opening it is their position; in the
//!   pre-queue the opening draw maps it to one);
//! - an **admission** token, given when their turn comes:
//!   `a.<room>.<place>.<expires ms>.<nonce>.<mac>`; it is good for one booking (the nonce
//!   is marked used in the hot state when a booking succeeds) and expires.
//!
//! Verification is constant-time on the MAC; a token of another room, kind or key, or
//! one altered in any byte, is refused.

use crate::service::keys::Keys;
use chrono::{DateTime, Utc};
use data_encoding::BASE64URL_NOPAD;
use subtle::ConstantTimeEq;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlaceToken {
    pub room: String,
    pub place: u64,
    pub issued_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmissionToken {
    pub room: String,
    pub place: u64,
    pub expires_ms: i64,
    /// 128 random bits: the key of the one booking this token allows.
    pub nonce: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is malformed or its signature does not match")]
    Invalid,
    #[error("the token belongs to another waiting room")]
    OtherRoom,
    #[error("the token has expired")]
    Expired,
}

fn room_ok(room: &str) -> bool {
    !room.is_empty()
        && room.len() <= 64
        && room
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn sign(keys: &Keys, body: &str) -> String {
    BASE64URL_NOPAD.encode(&keys.room_mac(body.as_bytes()))
}

fn check(keys: &Keys, body: &str, mac: &str) -> Result<(), TokenError> {
    let expected = sign(keys, body);
    if bool::from(expected.as_bytes().ct_eq(mac.as_bytes())) {
        Ok(())
    } else {
        Err(TokenError::Invalid)
    }
}

/// Splits `body.mac` at the last dot.
fn split(token: &str) -> Result<(&str, &str), TokenError> {
    if token.len() > 512 {
        return Err(TokenError::Invalid);
    }
    token.rsplit_once('.').ok_or(TokenError::Invalid)
}

/// Verifies a token's signature and splits its body: the `kind`, the room (which must
/// be `room`), then exactly `n` more fields.
fn fields<'a, const N: usize>(
    keys: &Keys,
    token: &'a str,
    kind: &str,
    room: &str,
) -> Result<[&'a str; N], TokenError> {
    let (body, mac) = split(token)?;
    check(keys, body, mac)?;
    let mut parts = body.split('.');
    if parts.next() != Some(kind) {
        return Err(TokenError::Invalid);
    }
    let of = parts.next().ok_or(TokenError::Invalid)?;
    let rest: [&str; N] = parts
        .collect::<Vec<&str>>()
        .try_into()
        .map_err(|_| TokenError::Invalid)?;
    if of != room {
        return Err(TokenError::OtherRoom);
    }
    Ok(rest)
}

/// An expiry field, refused once passed.
fn unexpired(raw: &str, now: DateTime<Utc>) -> Result<i64, TokenError> {
    let expires_ms: i64 = raw.parse().map_err(|_| TokenError::Invalid)?;
    if now.timestamp_millis() >= expires_ms {
        return Err(TokenError::Expired);
    }
    Ok(expires_ms)
}

impl PlaceToken {
    pub fn encode(&self, keys: &Keys) -> String {
        let body = format!("p.{}.{}.{}", self.room, self.place, self.issued_ms);
        let mac = sign(keys, &body);
        format!("{body}.{mac}")
    }

    pub fn decode(keys: &Keys, token: &str, room: &str) -> Result<Self, TokenError> {
        let [place, issued] = fields(keys, token, "p", room)?;
        Ok(Self {
            room: room.to_owned(),
            place: place.parse().map_err(|_| TokenError::Invalid)?,
            issued_ms: issued.parse().map_err(|_| TokenError::Invalid)?,
        })
    }
}

impl AdmissionToken {
    pub fn new(room: &str, place: u64, expires: DateTime<Utc>) -> Option<Self> {
        if !room_ok(room) {
            return None;
        }
        Some(Self {
            room: room.to_owned(),
            place,
            expires_ms: expires.timestamp_millis(),
            nonce: crate::service::keys::random_token(),
        })
    }

    pub fn encode(&self, keys: &Keys) -> String {
        let body = format!(
            "a.{}.{}.{}.{}",
            self.room, self.place, self.expires_ms, self.nonce
        );
        let mac = sign(keys, &body);
        format!("{body}.{mac}")
    }

    /// A valid, unexpired admission to `room`. Whether it was used already is the hot
    /// state's to say (one booking per token).
    pub fn decode(
        keys: &Keys,
        token: &str,
        room: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let [place, expires, nonce] = fields(keys, token, "a", room)?;
        Ok(Self {
            room: room.to_owned(),
            place: place.parse().map_err(|_| TokenError::Invalid)?,
            expires_ms: unexpired(expires, now)?,
            nonce: nonce.to_owned(),
        })
    }
}

/// A proof-of-work challenge (Hashcash): `c.<room>.<bits>.<expires ms>.<id>.<mac>`. The
/// client finds a nonce such that SHA-256(`<challenge>:<nonce>`) starts with `bits` zero
/// bits; each challenge serves one join.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub room: String,
    pub bits: u8,
    pub expires_ms: i64,
    pub id: String,
}

impl Challenge {
    pub fn new(room: &str, bits: u8, expires: DateTime<Utc>) -> Self {
        Self {
            room: room.to_owned(),
            bits,
            expires_ms: expires.timestamp_millis(),
            id: crate::service::keys::random_token(),
        }
    }

    pub fn encode(&self, keys: &Keys) -> String {
        let body = format!(
            "c.{}.{}.{}.{}",
            self.room, self.bits, self.expires_ms, self.id
        );
        let mac = sign(keys, &body);
        format!("{body}.{mac}")
    }

    pub fn decode(
        keys: &Keys,
        token: &str,
        room: &str,
        now: DateTime<Utc>,
    ) -> Result<Self, TokenError> {
        let [bits, expires, id] = fields(keys, token, "c", room)?;
        Ok(Self {
            room: room.to_owned(),
            bits: bits.parse().map_err(|_| TokenError::Invalid)?,
            expires_ms: unexpired(expires, now)?,
            id: id.to_owned(),
        })
    }
}

/// Whether `nonce` solves the challenge `token` for `bits` zero bits.
pub fn solves(token: &str, nonce: &str, bits: u8) -> bool {
    use sha2::{Digest, Sha256};
    if nonce.is_empty() || nonce.len() > 64 {
        return false;
    }
    let digest = Sha256::digest(format!("{token}:{nonce}").as_bytes());
    crate::domain::waiting_room::has_leading_zero_bits(&digest, bits)
}

/// Whether a room id is acceptable in tokens and keys.
pub fn is_room_id(room: &str) -> bool {
    room_ok(room)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    fn keys(seed: u8) -> Keys {
        Keys::derive(&[seed; 32])
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).unwrap()
    }

    #[test]
    fn a_place_token_round_trips_and_names_its_room() {
        let k = keys(1);
        let t = PlaceToken {
            room: "release-2027-02".into(),
            place: 42,
            issued_ms: 1_800_000_000_000,
        };
        let s = t.encode(&k);
        assert_eq!(PlaceToken::decode(&k, &s, "release-2027-02"), Ok(t));
        assert_eq!(
            PlaceToken::decode(&k, &s, "another"),
            Err(TokenError::OtherRoom)
        );
        assert!(!s.contains("@") && s.split('.').count() == 5, "{s}");
    }

    #[test]
    fn forged_and_altered_tokens_are_refused() {
        let k = keys(1);
        let s = PlaceToken {
            room: "r".into(),
            place: 42,
            issued_ms: 1,
        }
        .encode(&k);
        // Another key (another deployment, or a guess).
        assert_eq!(
            PlaceToken::decode(&keys(2), &s, "r"),
            Err(TokenError::Invalid)
        );
        // A better place, with the old signature.
        let better = s.replacen(".42.", ".1.", 1);
        assert_eq!(
            PlaceToken::decode(&k, &better, "r"),
            Err(TokenError::Invalid)
        );
        // Every single-character change of the signature.
        let (body, mac) = s.rsplit_once('.').unwrap();
        for i in 0..mac.len() {
            let mut bytes = mac.as_bytes().to_vec();
            bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
            let altered = format!("{body}.{}", String::from_utf8(bytes).unwrap());
            assert_eq!(
                PlaceToken::decode(&k, &altered, "r"),
                Err(TokenError::Invalid)
            );
        }
        for junk in ["", ".", "p.r.1.2", "a.r.1.2.3.4", &"x".repeat(600)] {
            assert!(PlaceToken::decode(&k, junk, "r").is_err(), "{junk}");
        }
    }

    #[test]
    fn a_challenge_is_solved_by_searching_a_nonce() {
        let k = keys(1);
        let c = Challenge::new("r", 8, now() + Duration::minutes(5));
        let token = c.encode(&k);
        assert_eq!(Challenge::decode(&k, &token, "r", now()), Ok(c));
        let nonce = (0u64..)
            .map(|n| n.to_string())
            .find(|n| solves(&token, n, 8))
            .unwrap();
        assert!(solves(&token, &nonce, 8));
        assert!(!solves(&token, "", 8));
        assert_eq!(
            Challenge::decode(&k, &token, "r", now() + Duration::minutes(5)),
            Err(TokenError::Expired)
        );
        assert_eq!(
            Challenge::decode(&keys(2), &token, "r", now()),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn an_admission_expires_and_is_not_a_place_token() {
        let k = keys(1);
        let a = AdmissionToken::new("r", 7, now() + Duration::minutes(10)).unwrap();
        let s = a.encode(&k);
        assert_eq!(AdmissionToken::decode(&k, &s, "r", now()), Ok(a.clone()));
        assert_eq!(
            AdmissionToken::decode(&k, &s, "r", now() + Duration::minutes(10)),
            Err(TokenError::Expired)
        );
        assert_eq!(PlaceToken::decode(&k, &s, "r"), Err(TokenError::Invalid));
        let place = PlaceToken {
            room: "r".into(),
            place: 7,
            issued_ms: 0,
        }
        .encode(&k);
        assert_eq!(
            AdmissionToken::decode(&k, &place, "r", now()),
            Err(TokenError::Invalid),
            "a place token does not admit"
        );
        let b = AdmissionToken::new("r", 7, now() + Duration::minutes(10)).unwrap();
        assert_ne!(a.nonce, b.nonce, "each admission is its own");
        assert!(AdmissionToken::new("bad room", 1, now()).is_none());
    }
}
