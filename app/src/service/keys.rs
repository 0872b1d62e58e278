//! Keys and the values derived from them: resident-identity hashes, reservation secrets,
//! idempotency-key hashes, fresh references and random tokens.
//!
//! A reservation's secret is derived from its id with a server key (HMAC), so it is never
//! stored: a leaked database alone does not let anyone manage bookings, and a retried
//! request (same Idempotency-Key) can be answered with the same secret again.

use crate::domain::identity::{ResidentIdentity, SecondFactor};
use crate::domain::reference::Reference;
use crate::store::Digest;
use data_encoding::{BASE32_NOPAD, BASE64URL_NOPAD};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

type HmacSha256 = Hmac<Sha256>;

/// Length of secrets (and of the first releases' references): 16 bytes in base32.
pub const TOKEN_CHARS: usize = 26;

/// Length of a second factor's tag: 128 bits, as the secrets.
pub const PROOF_BYTES: usize = 16;

pub struct Keys {
    identity: [u8; 32],
    secret: [u8; 32],
    idempotency: [u8; 32],
    room: [u8; 32],
    ticket: [u8; 32],
    audit: [u8; 32],
    proof: [u8; 32],
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail; the fallback keeps clippy calm.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0; 32],
    };
    for part in parts {
        mac.update(&crate::num::u64_of(part.len()).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl Keys {
    /// Derives the purpose keys from the master key, so one secret serves every purpose
    /// without reusing a key across purposes.
    pub fn derive(master: &[u8]) -> Self {
        Self {
            identity: hmac(master, &[b"madoguchi/identity/v1"]),
            secret: hmac(master, &[b"madoguchi/reservation-secret/v1"]),
            idempotency: hmac(master, &[b"madoguchi/idempotency/v1"]),
            room: hmac(master, &[b"madoguchi/waiting-room/v1"]),
            ticket: hmac(master, &[b"madoguchi/ticket/v1"]),
            audit: hmac(master, &[b"madoguchi/audit-chain/v1"]),
            proof: hmac(master, &[b"madoguchi/second-factor/v1"]),
        }
    }

    /// The keyed hash of who a resident is: phone numbers and birth dates are guessable,
    /// so a plain hash would not protect them.
    pub fn identity_hash(&self, identity: &ResidentIdentity) -> Digest {
        hmac(&self.identity, &[identity.canonical().as_bytes()])
    }

    pub fn reservation_secret(&self, id: Uuid) -> String {
        let mac = hmac(&self.secret, &[id.as_bytes()]);
        BASE32_NOPAD.encode(&mac[..16])
    }

    /// Compares in constant time, case-insensitively (residents may type it).
    pub fn verify_secret(&self, id: Uuid, given: &str) -> bool {
        let expected = self.reservation_secret(id);
        let given = given.trim().to_ascii_uppercase();
        expected.as_bytes().ct_eq(given.as_bytes()).into()
    }

    /// The tag of one second factor of one booking. The booking's id is in it, so equal
    /// birth dates or addresses of two bookings do not show as equal tags.
    fn proof_tag(&self, id: Uuid, factor: &SecondFactor) -> [u8; PROOF_BYTES] {
        let mac = hmac(&self.proof, &[id.as_bytes(), factor.canonical().as_bytes()]);
        let mut tag = [0u8; PROOF_BYTES];
        tag.copy_from_slice(&mac[..PROOF_BYTES]);
        tag
    }

    /// What a booking keeps to be opened by a second factor: a tag of each factor given.
    pub fn resident_proofs(&self, id: Uuid, factors: &[SecondFactor]) -> Vec<u8> {
        factors.iter().flat_map(|f| self.proof_tag(id, f)).collect()
    }

    /// Whether `factor` is one the booking was made with (each tag compared in constant
    /// time).
    pub fn proves(&self, id: Uuid, proofs: &[u8], factor: &SecondFactor) -> bool {
        let tag = self.proof_tag(id, factor);
        proofs
            .chunks_exact(PROOF_BYTES)
            .fold(false, |found, stored| {
                found | bool::from(stored.ct_eq(&tag))
            })
    }

    /// A ticket's public token, the key of its status URL and of leaving the line: its
    /// id and 128 bits of HMAC of it, URL-safe base64 (43 characters). Ticket ids are
    /// UUIDv7 (time-ordered for the ledger's indexes), so neighbours share their
    /// timestamp and a counter and only ~32 random bits tell them apart; the MAC gives
    /// the URL 128 bits that nothing else reveals. Never stored: it is recomputed.
    pub fn ticket_token(&self, id: Uuid) -> String {
        let mac = hmac(&self.ticket, &[id.as_bytes()]);
        let mut bytes = [0u8; 32];
        bytes[..16].copy_from_slice(id.as_bytes());
        bytes[16..].copy_from_slice(&mac[..16]);
        BASE64URL_NOPAD.encode(&bytes)
    }

    /// The ticket a token names, if its MAC is right (compared in constant time).
    pub fn ticket_of(&self, token: &str) -> Option<Uuid> {
        if token.len() != TICKET_TOKEN_CHARS {
            return None;
        }
        let bytes = BASE64URL_NOPAD.decode(token.as_bytes()).ok()?;
        let (id, mac) = bytes.split_at_checked(16)?;
        let id = Uuid::from_slice(id).ok()?;
        let expected = hmac(&self.ticket, &[id.as_bytes()]);
        let ok: bool = expected.get(..16)?.ct_eq(mac).into();
        ok.then_some(id)
    }

    /// A seal of the audit chain (`service::audit`): HMAC of its parts, each
    /// length-prefixed so that no two sequences of parts give the same input.
    pub fn audit_mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let framed: Vec<Vec<u8>> = parts
            .iter()
            .map(|p| {
                let mut v = crate::num::u64_of(p.len()).to_be_bytes().to_vec();
                v.extend_from_slice(p);
                v
            })
            .collect();
        let refs: Vec<&[u8]> = framed.iter().map(Vec::as_slice).collect();
        hmac(&self.audit, &refs)
    }

    /// The signature of a waiting-room token's body.
    pub fn room_mac(&self, body: &[u8]) -> [u8; 32] {
        hmac(&self.room, &[body])
    }

    pub fn idempotency_hash(&self, key: &str) -> Digest {
        hmac(&self.idempotency, &[key.as_bytes()])
    }
}

/// Characters of a ticket token (32 bytes in unpadded base64url).
pub const TICKET_TOKEN_CHARS: usize = 43;
/// A ticket token's shape (published in the OpenAPI document).
pub const TICKET_TOKEN_PATTERN: &str = "^[A-Za-z0-9_-]{43}$";

/// The id a ticket token carries, without checking its MAC: for tools that hold tokens
/// they were given and compare them with the ledger (the load test's invariant check).
/// Never use it to authorise anything.
pub fn ticket_id_unverified(token: &str) -> Option<Uuid> {
    let bytes = BASE64URL_NOPAD.decode(token.as_bytes()).ok()?;
    Uuid::from_slice(bytes.get(..16)?).ok()
}

/// A fresh booking reference (`domain::reference`), drawn at random.
pub fn new_reference() -> Reference {
    loop {
        // About one draw in seven has an unreadable check symbol; draw again.
        if let Some(r) = Reference::from_bits(rand::rng().next_u64()) {
            return r;
        }
    }
}

/// A fresh random token: 128 bits in base32 (26 characters), for nonces and ids that
/// nobody reads aloud.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    BASE32_NOPAD.encode(&bytes)
}

/// A fresh random master key, for a site that configured none.
pub fn generate_master_key() -> Vec<u8> {
    let mut bytes = vec![0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Parses a configured master key: hex or base64, at least 32 bytes.
pub fn parse_master_key(raw: &str) -> Result<Vec<u8>, &'static str> {
    let raw = raw.trim();
    let bytes = data_encoding::HEXLOWER_PERMISSIVE
        .decode(raw.as_bytes())
        .or_else(|_| data_encoding::BASE64.decode(raw.as_bytes()))
        .map_err(|_| "MADOGUCHI_SECRET_KEY must be hex or base64")?;
    if bytes.len() < 32 {
        return Err("MADOGUCHI_SECRET_KEY must be at least 32 bytes (64 hex characters)");
    }
    Ok(bytes)
}

/// Whether a string has the shape of a reference or secret (before any lookup).
pub fn is_token_shaped(raw: &str) -> bool {
    raw.len() == TOKEN_CHARS
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_lowercase() || (b'2'..=b'7').contains(&b))
}

/// SHA-256 over length-prefixed parts: the fingerprint of a request's meaning.
pub fn fingerprint(parts: &[&[u8]]) -> Digest {
    let mut h = Sha256::new();
    for part in parts {
        h.update(crate::num::u64_of(part.len()).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::identity::{Email, Phone};

    #[test]
    fn secrets_verify_only_for_their_reservation() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let id = Uuid::new_v4();
        let secret = keys.reservation_secret(id);
        assert_eq!(secret.len(), TOKEN_CHARS);
        assert!(is_token_shaped(&secret));
        assert!(keys.verify_secret(id, &secret));
        assert!(keys.verify_secret(id, &secret.to_lowercase()));
        assert!(!keys.verify_secret(Uuid::new_v4(), &secret));
        assert!(!keys.verify_secret(id, ""));
        let other = Keys::derive(b"another key, another deployment!");
        assert!(!other.verify_secret(id, &secret));
    }

    #[test]
    fn a_booking_opens_with_each_factor_it_was_made_with_and_no_other() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let id = Uuid::new_v4();
        let email = SecondFactor::Email(Email::parse("taro@example.jp").unwrap());
        let born = SecondFactor::BirthDate(chrono::NaiveDate::from_ymd_opt(1950, 4, 1).unwrap());
        let proofs = keys.resident_proofs(id, &[email.clone(), born.clone()]);
        assert_eq!(proofs.len(), 2 * PROOF_BYTES);
        assert!(keys.proves(id, &proofs, &email));
        assert!(keys.proves(id, &proofs, &born));
        let other_day =
            SecondFactor::BirthDate(chrono::NaiveDate::from_ymd_opt(1950, 4, 2).unwrap());
        assert!(!keys.proves(id, &proofs, &other_day));
        let phone = SecondFactor::Phone(Phone::parse("090-1234-5678").unwrap());
        assert!(!keys.proves(id, &proofs, &phone));
        assert!(
            !keys.proves(Uuid::new_v4(), &proofs, &email),
            "bound to its booking"
        );
        assert!(!keys.proves(id, &[], &email));
        assert_ne!(
            keys.resident_proofs(id, std::slice::from_ref(&email)),
            keys.resident_proofs(Uuid::new_v4(), std::slice::from_ref(&email)),
        );
    }

    #[test]
    fn ticket_tokens_name_their_ticket_only_with_the_right_mac() {
        let keys = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let id = crate::store::new_row_id();
        let token = keys.ticket_token(id);
        assert_eq!(token.len(), TICKET_TOKEN_CHARS);
        assert!(
            regex::Regex::new(TICKET_TOKEN_PATTERN)
                .unwrap()
                .is_match(&token)
        );
        assert_eq!(keys.ticket_of(&token), Some(id));
        // The id alone, a neighbour's id with this MAC, another deployment: nothing.
        assert_eq!(keys.ticket_of(&id.to_string()), None);
        let neighbour = keys.ticket_token(crate::store::new_row_id());
        let forged = format!("{}{}", &neighbour[..21], &token[21..]);
        assert_eq!(keys.ticket_of(&forged), None);
        let other = Keys::derive(b"another key, another deployment!");
        assert_eq!(other.ticket_of(&token), None);
        assert_eq!(keys.ticket_of(""), None);
    }

    #[test]
    fn identity_hashes_depend_on_the_key_and_the_identity() {
        let a = Keys::derive(b"0123456789abcdef0123456789abcdef");
        let b = Keys::derive(b"fedcba9876543210fedcba9876543210");
        let person = |name: &str, born: u32| ResidentIdentity::Person {
            name_key: crate::domain::identity::name_key(name),
            birth_date: chrono::NaiveDate::from_ymd_opt(1960, 5, born).unwrap(),
        };
        let taro = person("山田 太郎", 1);
        assert_eq!(
            a.identity_hash(&taro),
            a.identity_hash(&person("山田　太郎", 1))
        );
        assert_ne!(
            a.identity_hash(&taro),
            a.identity_hash(&person("山田 太郎", 2))
        );
        assert_ne!(a.identity_hash(&taro), b.identity_hash(&taro));
    }

    #[test]
    fn references_are_random_and_short() {
        let r1 = new_reference();
        let r2 = new_reference();
        assert_ne!(r1, r2);
        assert_eq!(r1.to_string().len(), 10);
        let t1 = random_token();
        assert_ne!(t1, random_token());
        assert!(is_token_shaped(&t1));
        assert!(!is_token_shaped("1234"));
        assert!(!is_token_shaped(&"0".repeat(TOKEN_CHARS)));
    }

    #[test]
    fn master_keys_must_be_long_enough() {
        assert!(parse_master_key(&"ab".repeat(32)).is_ok());
        assert!(parse_master_key(&"ab".repeat(16)).is_err());
        assert!(parse_master_key("not a key").is_err());
    }
}
