//! Booking references a person can read aloud, copy from a phone and type back: nine
//! symbols of Crockford's base32 (digits and capitals without I, L, O and U), shown as
//! `K7MQ-X2P4S`. The last symbol is Crockford's check symbol (the number modulo 37), so a
//! mistyped symbol or two swapped neighbours are caught before any lookup. References are
//! drawn only among the numbers whose check is below 32, so the check is one of the 32
//! readable symbols too (Crockford's five extra check symbols `*~$=U` never appear).
//!
//! Eight symbols carry 40 bits; with the check restriction 2^40 × 32/37 ≈ 9.5 × 10^11
//! references exist. How that keeps guessing infeasible is in docs/ARCHITECTURE.md.

use data_encoding::{Encoding, Specification};
use std::fmt;
use std::sync::LazyLock;

/// Crockford's symbols, in value order.
pub const SYMBOLS: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Bits a reference carries (eight symbols).
const BITS: u32 = 40;
/// Symbols of a reference, the check included.
pub const SYMBOL_COUNT: usize = 9;
/// What the API documents a reference to be: nine letters and digits with an optional
/// hyphen after the fourth, or a long reference of the first releases. The check symbol
/// is beyond a pattern: a reference of this form with a typo is refused by rule (422).
pub const REFERENCE_PATTERN: &str =
    "^([0-9A-TV-Za-tv-z]{4}-?[0-9A-TV-Za-tv-z]{5}|[A-Za-z2-7]{26})$";

static CROCKFORD: LazyLock<Encoding> = LazyLock::new(|| {
    let mut spec = Specification::new();
    spec.symbols.push_str(SYMBOLS);
    #[allow(
        clippy::expect_used,
        reason = "a constant specification, which every test builds"
    )]
    spec.encoding()
        .expect("Crockford's base32 is a valid specification")
});

/// A booking's reference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference(u64);

/// Why a typed reference was not taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    #[error("a reference has nine letters and digits")]
    Length,
    #[error("a reference has only digits and the letters A–Z")]
    Symbol,
    /// Well formed but the check symbol does not match: a typo.
    #[error("the reference has a typo")]
    Check,
}

impl Reference {
    /// The reference of the low 40 bits of `bits`, or `None` when their check symbol would
    /// not be readable (about one draw in seven; draw again).
    pub fn from_bits(bits: u64) -> Option<Self> {
        let n = bits & ((1 << BITS) - 1);
        (n % 37 < 32).then_some(Self(n))
    }

    /// Reads a reference as a person typed it: any case, with or without hyphens or spaces,
    /// in full-width characters (a Japanese keyboard's), with I, L or O for 1 and 0.
    pub fn parse(raw: &str) -> Result<Self, ReferenceError> {
        let mut symbols = String::with_capacity(SYMBOL_COUNT);
        for c in raw.chars() {
            let c = match half_width(c).to_ascii_uppercase() {
                '-' | ' ' | 'ー' | '‐' | '−' | '　' => continue,
                'I' | 'L' => '1',
                'O' => '0',
                c if SYMBOLS.contains(c) => c,
                _ => return Err(ReferenceError::Symbol),
            };
            if symbols.len() == SYMBOL_COUNT {
                return Err(ReferenceError::Length);
            }
            symbols.push(c);
        }
        if symbols.len() != SYMBOL_COUNT {
            return Err(ReferenceError::Length);
        }
        let (data, check) = symbols.split_at(SYMBOL_COUNT - 1);
        let bytes = CROCKFORD
            .decode(data.as_bytes())
            .map_err(|_| ReferenceError::Symbol)?;
        let n = bytes.iter().fold(0u64, |n, b| (n << 8) | u64::from(*b));
        let check = SYMBOLS.find(check).ok_or(ReferenceError::Symbol)?;
        if u64::try_from(check).ok() != Some(n % 37) {
            return Err(ReferenceError::Check);
        }
        Ok(Self(n))
    }
}

impl fmt::Display for Reference {
    /// `K7MQ-X2P4S`: four and five symbols, as read aloud; also the form stored.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bytes = self.0.to_be_bytes();
        let data = CROCKFORD.encode(bytes.get(3..).unwrap_or_default());
        let check = usize::try_from(self.0 % 37).unwrap_or(0);
        let (a, b) = data.split_at(4);
        write!(f, "{a}-{b}{}", SYMBOLS.get(check..=check).unwrap_or("0"))
    }
}

/// A reference as the ledger keys bookings: a short reference as it is shown
/// (`K7MQ-X2P4S`), or a long reference of the first releases (26 symbols of RFC 4648 base32), which still opens its
/// booking. Made only by parsing what a person, a link or a scanner gave.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReferenceKey(String);

/// Symbols of the first releases' references.
const LONG_SYMBOLS: usize = 26;

impl ReferenceKey {
    pub fn parse(raw: &str) -> Result<Self, ReferenceError> {
        let raw = raw.trim();
        let long = raw.len() == LONG_SYMBOLS
            && raw
                .bytes()
                .all(|b| b.is_ascii_alphabetic() || (b'2'..=b'7').contains(&b));
        if long {
            return Ok(Self(raw.to_ascii_uppercase()));
        }
        Reference::parse(raw).map(Self::from)
    }

    /// A reference typed at a kiosk, or scanned there from the confirmation's QR code: a
    /// keyboard-wedge scanner types the management link, whose `#r=` part is the
    /// reference (the secret after it is not needed at the office).
    pub fn from_scan(raw: &str) -> Result<Self, ReferenceError> {
        let raw = raw.trim();
        match raw.split_once("#r=") {
            Some((_, rest)) => Self::parse(rest.split('&').next().unwrap_or_default()),
            None => Self::parse(raw),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<Reference> for ReferenceKey {
    fn from(r: Reference) -> Self {
        Self(r.to_string())
    }
}

/// The ASCII form of a full-width character (U+FF01–U+FF5E), others unchanged.
fn half_width(c: char) -> char {
    match u32::from(c) {
        0xFF01..=0xFF5E => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
        _ => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The nine symbols without the hyphen.
    fn plain(r: Reference) -> String {
        r.to_string().replace('-', "")
    }

    /// The highest reference there is.
    fn highest() -> Reference {
        (0..37u64)
            .find_map(|k| Reference::from_bits((1 << 40) - 1 - k))
            .unwrap()
    }

    fn any_reference() -> impl Strategy<Value = Reference> {
        any::<u64>().prop_filter_map("check not readable", Reference::from_bits)
    }

    #[test]
    fn a_reference_reads_as_four_and_five_symbols() {
        let r = Reference::from_bits(0).unwrap();
        assert_eq!(r.to_string(), "0000-00000");
        let r = highest();
        let shown = r.to_string();
        assert!(shown.starts_with("ZZZZ-"), "{shown}");
        assert_eq!(shown.len(), 10);
        assert_eq!(Reference::parse(&shown), Ok(r));
    }

    #[test]
    fn only_readable_check_symbols_are_drawn() {
        let drawn = (0..370u64).filter_map(Reference::from_bits).count();
        assert_eq!(drawn, 320);
    }

    #[test]
    fn people_can_type_it_as_they_like() {
        let r = highest();
        let shown = r.to_string();
        let fullwidth: String = shown
            .chars()
            .map(|c| char::from_u32(u32::from(c) + 0xFEE0).unwrap())
            .collect();
        for typed in [
            shown.clone(),
            shown.to_lowercase(),
            shown.replace('-', ""),
            shown.replace('-', " "),
            shown.replace('-', "ー"),
            format!(" {shown} "),
            fullwidth,
        ] {
            assert_eq!(Reference::parse(&typed), Ok(r), "{typed:?}");
        }
    }

    #[test]
    fn i_l_and_o_read_as_one_and_zero() {
        let r = Reference::from_bits(0).unwrap();
        assert_eq!(Reference::parse("oooo-ooooo"), Ok(r));
        let one = (0..37u64)
            .filter_map(Reference::from_bits)
            .find(|r| plain(*r).contains('1'))
            .unwrap();
        let typed = plain(one).replace('1', "l");
        assert_eq!(Reference::parse(&typed), Ok(one));
        assert_eq!(Reference::parse(&plain(one).replace('1', "I")), Ok(one));
    }

    #[test]
    fn other_shapes_are_refused_for_what_they_are() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Length));
        assert_eq!(Reference::parse("0000-0000"), Err(ReferenceError::Length));
        assert_eq!(Reference::parse("0000-000000"), Err(ReferenceError::Length));
        assert_eq!(Reference::parse("0000-0000U"), Err(ReferenceError::Symbol));
        assert_eq!(Reference::parse("0000_00000"), Err(ReferenceError::Symbol));
        assert_eq!(Reference::parse("予約0000000"), Err(ReferenceError::Symbol));
    }

    #[test]
    fn a_booking_is_keyed_by_its_stored_form_however_the_reference_was_typed() {
        let r = highest();
        let key = ReferenceKey::from(r);
        assert_eq!(key.as_str(), r.to_string());
        assert_eq!(ReferenceKey::parse(&r.to_string()), Ok(key.clone()));
        assert_eq!(ReferenceKey::parse(&plain(r).to_lowercase()), Ok(key));
        // The first releases' long references still open their bookings.
        let long = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        assert_eq!(
            ReferenceKey::parse(&long.to_lowercase()).map(|k| k.as_str().to_owned()),
            Ok(long.to_owned())
        );
        assert_eq!(ReferenceKey::parse("K7MQ"), Err(ReferenceError::Length));
    }

    #[test]
    fn a_kiosk_reads_the_reference_of_a_scanned_management_link() {
        let r = highest();
        let key = Ok(ReferenceKey::from(r));
        let link =
            format!("https://city.example/manage?lang=ja#r={r}&k=ABCDEFGHIJKLMNOPQRSTUVWXYZ");
        assert_eq!(ReferenceKey::from_scan(&link), key);
        assert_eq!(ReferenceKey::from_scan(&format!(" {}\n", plain(r))), key);
        assert_eq!(
            ReferenceKey::from_scan("https://city.example/manage#r="),
            Err(ReferenceError::Length)
        );
    }

    proptest! {
        #[test]
        fn every_reference_reads_back(r in any_reference()) {
            let shown = r.to_string();
            prop_assert_eq!(shown.len(), 10);
            prop_assert!(shown.chars().all(|c| c == '-' || SYMBOLS.contains(c)));
            prop_assert_eq!(Reference::parse(&shown), Ok(r));
            prop_assert_eq!(Reference::parse(&plain(r)), Ok(r));
        }

        /// Crockford's check catches every single mistyped symbol...
        #[test]
        fn one_mistyped_symbol_is_caught(r in any_reference(), at in 0usize..9, by in 1usize..32) {
            let mut symbols: Vec<char> = plain(r).chars().collect();
            let value = SYMBOLS.find(symbols[at]).unwrap();
            symbols[at] = SYMBOLS.chars().nth((value + by) % 32).unwrap();
            let typed: String = symbols.into_iter().collect();
            prop_assert!(Reference::parse(&typed).is_err());
        }

        /// ...and every swap of two different neighbours.
        #[test]
        fn two_swapped_neighbours_are_caught(r in any_reference(), at in 0usize..8) {
            let mut symbols: Vec<char> = plain(r).chars().collect();
            prop_assume!(symbols[at] != symbols[at + 1]);
            symbols.swap(at, at + 1);
            let typed: String = symbols.into_iter().collect();
            prop_assert!(Reference::parse(&typed).is_err());
        }
    }
}
