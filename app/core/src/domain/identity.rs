//! Resident data at the edge: parsed into types that are valid by construction, and
//! the identity behind the one-active-booking rule. Madoguchi never asks for a PIN and
//! keeps only what a counter needs: the name in clear, everything else as a keyed hash.

use chrono::NaiveDate;
use regex::Regex;
use std::fmt;
use std::sync::LazyLock;

/// Full-width ASCII (ＡＢＣ１２３＠) and the ideographic space become their ASCII forms:
/// Japanese phone keyboards produce them, and residents should not be refused for it.
pub fn fold_width(raw: &str) -> String {
    raw.chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(u32::from(c) - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect()
}

/// Hyphen look-alikes residents type inside numbers (ASCII, minus sign, dashes, ー).
fn is_separator(c: char) -> bool {
    matches!(
        c,
        '-' | ' ' | '(' | ')' | '.' | '\u{2010}'
            ..='\u{2015}' | '\u{2212}' | '\u{30FC}' | '\u{FF70}'
    )
}

static EMAIL: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(Email::PATTERN).ok());
static PHONE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(Phone::PATTERN).ok());
static NOTICE: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(NoticeNumber::PATTERN).ok());

/// Whether `raw` has the published shape (a pattern that failed to compile accepts
/// nothing; a unit test compiles each).
fn matches(re: &LazyLock<Option<Regex>>, raw: &str) -> bool {
    re.as_ref().is_some_and(|re| re.is_match(raw))
}

/// A resident's name as given, trimmed, with runs of spaces collapsed.
#[derive(Clone, PartialEq, Eq)]
pub struct ResidentName(String);

impl ResidentName {
    pub const MAX_CHARS: usize = 100;
    /// What the API accepts (published in its OpenAPI document): any text of at most
    /// [`Self::MAX_CHARS`] characters with something besides spaces and no control
    /// characters. (Regex syntax common to Rust, ECMAScript and Python.)
    pub const PATTERN: &'static str =
        r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        // Counted as given, as the published maximum is.
        if raw.chars().count() > Self::MAX_CHARS {
            return Err("must be at most 100 characters");
        }
        if raw.chars().any(char::is_control) {
            return Err("must not contain control characters");
        }
        let folded = raw.replace('\u{3000}', " ");
        let name = folded.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() {
            return Err("must not be empty");
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// Personal data must never reach the logs, so Debug does not print it.
impl fmt::Debug for ResidentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResidentName(..)")
    }
}

/// An e-mail address, lowercased: residents type it differently every time.
#[derive(Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub const MAX_CHARS: usize = 254;
    /// What the API accepts (published in its OpenAPI document; at most
    /// [`Self::MAX_CHARS`] characters): `local@domain`, the local part 1–64 characters,
    /// the domain of dot-separated labels, full-width forms allowed (`＠`, `．`; they are
    /// folded), spaces around it ignored, no other spaces or control characters.
    pub const PATTERN: &'static str = r"^[ 　]*[^\s@＠\x00-\x1f\x7f-\x9f]{1,64}[@＠][^\s@＠.．\x00-\x1f\x7f-\x9f]+(?:[.．][^\s@＠.．\x00-\x1f\x7f-\x9f]+)+[ 　]*$";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let bad = "must be an e-mail address like name@example.jp";
        if raw.chars().count() > Self::MAX_CHARS || !matches(&EMAIL, raw) {
            return Err(bad);
        }
        let email = fold_width(raw).trim_matches(' ').to_lowercase();
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Email(..)")
    }
}

/// A Japanese phone number as digits, national form (0 + 9–10 digits).
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// What the API accepts (published in its OpenAPI document): a national number (0 and
    /// 9–10 more digits) or `+81` and the number without its 0, with hyphens, spaces,
    /// parentheses, dots, dashes or ー anywhere, full-width forms included.
    pub const PATTERN: &'static str = r"^[-－ 　()（）.．‐‑‒–—―−ーｰ]*(?:[0０](?:[-－ 　()（）.．‐‑‒–—―−ーｰ]*[0-9０-９]){9,10}|[+＋][-－ 　()（）.．‐‑‒–—―−ーｰ]*[8８][-－ 　()（）.．‐‑‒–—―−ーｰ]*[1１](?:[-－ 　()（）.．‐‑‒–—―−ーｰ]*[0０])*[-－ 　()（）.．‐‑‒–—―−ーｰ]*[1-9１-９](?:[-－ 　()（）.．‐‑‒–—―−ーｰ]*[0-9０-９]){8,9})[-－ 　()（）.．‐‑‒–—―−ーｰ]*$";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !matches(&PHONE, raw) {
            return Err("must be a Japanese phone number like 03-1234-5678 or 090-1234-5678");
        }
        let mut digits: String = fold_width(raw)
            .chars()
            .filter(|c| !is_separator(*c))
            .collect();
        if let Some(rest) = digits.strip_prefix("+81") {
            digits = format!("0{}", rest.trim_start_matches('0'));
        }
        Ok(Self(digits))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phone(..)")
    }
}

/// The number printed on the card-pickup notification postcard (交付通知書番号).
/// Formats differ between municipalities: 4–20 letters and digits, separators ignored.
#[derive(Clone, PartialEq, Eq)]
pub struct NoticeNumber(String);

impl NoticeNumber {
    /// What the API accepts (published in its OpenAPI document): 4–20 letters and digits
    /// (full-width too) with the separators of [`Phone::PATTERN`] anywhere.
    pub const PATTERN: &'static str = r"^[-－ 　()（）.．‐‑‒–—―−ーｰ]*[0-9A-Za-z０-９Ａ-Ｚａ-ｚ](?:[-－ 　()（）.．‐‑‒–—―−ーｰ]*[0-9A-Za-z０-９Ａ-Ｚａ-ｚ]){3,19}[-－ 　()（）.．‐‑‒–—―−ーｰ]*$";

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        if !matches(&NOTICE, raw) {
            return Err("must be the 4–20 letters and digits printed on the notification postcard");
        }
        let number: String = fold_width(raw)
            .chars()
            .filter(|c| !is_separator(*c))
            .map(|c| c.to_ascii_uppercase())
            .collect();
        Ok(Self(number))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NoticeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NoticeNumber(..)")
    }
}

/// Kanji that residents and registers write in two forms (旧字体 and 異体字 beside the
/// common form): the same family name either way. Only pairs where both forms name the
/// same family; the list is short on purpose, since a wrong fold would merge two people.
const VARIANT_KANJI: &[(char, char)] = &[
    ('髙', '高'),
    ('﨑', '崎'),
    ('嵜', '崎'),
    ('邊', '辺'),
    ('邉', '辺'),
    ('齋', '斎'),
    ('齊', '斉'),
    ('澤', '沢'),
    ('濱', '浜'),
    ('濵', '浜'),
    ('廣', '広'),
    ('國', '国'),
    ('櫻', '桜'),
    ('冨', '富'),
    ('嶋', '島'),
    ('嶌', '島'),
    ('峯', '峰'),
    ('德', '徳'),
    ('惠', '恵'),
    ('眞', '真'),
    ('實', '実'),
    ('藏', '蔵'),
    ('瀨', '瀬'),
    ('槇', '槙'),
];

/// A name as it is compared, for the one-booking rule and at reception: compatibility
/// forms folded (NFKC: full-width letters, half-width kana), spaces removed, lower case,
/// katakana as hiragana (ヤマダ and やまだ are one reading), and the kanji variants of
/// [`VARIANT_KANJI`] as their common form. 山田 and やまだ stay different: nothing here
/// knows a reading.
pub fn name_key(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfkc()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .map(|c| match c {
            'ァ'..='ヶ' => char::from_u32(u32::from(c) - 0x60).unwrap_or(c),
            _ => VARIANT_KANJI
                .iter()
                .find(|(variant, _)| *variant == c)
                .map_or(c, |(_, common)| *common),
        })
        .collect()
}

/// Who a booking belongs to, for the one-active-booking-per-procedure rule. Only its
/// keyed hash is stored.
///
/// A person is their name (as [`name_key`] compares it) and birth date, not a contact:
/// a household shares one e-mail address or phone, and one person has several.
#[derive(Clone, PartialEq, Eq)]
pub enum ResidentIdentity {
    /// A card pickup: the postcard names one card of one person.
    Notice {
        number: NoticeNumber,
        birth_date: NaiveDate,
    },
    Person {
        name_key: String,
        birth_date: NaiveDate,
    },
}

impl ResidentIdentity {
    /// A person by their name (compared as [`name_key`] folds it) and birth date.
    pub fn person(name: &ResidentName, birth_date: NaiveDate) -> Self {
        ResidentIdentity::Person {
            name_key: name_key(name.as_str()),
            birth_date,
        }
    }

    /// The canonical text that is hashed. The kind prefix keeps the spaces apart.
    pub fn canonical(&self) -> String {
        match self {
            ResidentIdentity::Notice { number, birth_date } => {
                format!("notice:{}:{}", number.as_str(), birth_date)
            }
            ResidentIdentity::Person {
                name_key,
                birth_date,
            } => format!("person:{birth_date}:{name_key}"),
        }
    }
}

impl fmt::Debug for ResidentIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ResidentIdentity(..)")
    }
}

/// What a resident tells us about who they are; which parts count depends on the
/// procedure (see [`identity_for`]).
#[derive(Clone, Default)]
pub struct IdentityParts {
    pub notice_number: Option<NoticeNumber>,
    pub birth_date: Option<NaiveDate>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
}

/// The identity behind the one-active-booking rule: the postcard number and birth date
/// for a card pickup; otherwise the name and birth date, with a contact (e-mail or phone)
/// required to reach the resident. `Err` names every missing field by its place in the
/// booking body (`resident.email`), in form order.
pub fn identity_for(
    kind: crate::domain::procedure::IdentityKind,
    name: &ResidentName,
    parts: &IdentityParts,
) -> Result<ResidentIdentity, Vec<&'static str>> {
    use crate::domain::procedure::IdentityKind;
    match kind {
        IdentityKind::NoticeAndBirthDate => match (&parts.notice_number, parts.birth_date) {
            (Some(number), Some(birth_date)) => Ok(ResidentIdentity::Notice {
                number: number.clone(),
                birth_date,
            }),
            (number, birth) => Err([
                number.is_none().then_some("notice_number"),
                birth.is_none().then_some("birth_date"),
            ]
            .into_iter()
            .flatten()
            .collect()),
        },
        IdentityKind::Contact => {
            let contact = parts.email.is_some() || parts.phone.is_some();
            match parts.birth_date {
                Some(birth_date) if contact => Ok(ResidentIdentity::person(name, birth_date)),
                birth => Err([
                    (!contact).then_some("resident.email"),
                    birth.is_none().then_some("birth_date"),
                ]
                .into_iter()
                .flatten()
                .collect()),
            }
        }
    }
}

/// Something only the resident should know, that opens a booking with its reference when
/// the secret is lost: the contact given at booking, or the birth date. Only keyed hashes
/// of them are kept with the booking (`resident_proofs`).
#[derive(Clone, PartialEq, Eq)]
pub enum SecondFactor {
    Email(Email),
    Phone(Phone),
    BirthDate(NaiveDate),
}

impl SecondFactor {
    /// A contact as the resident types it: an address if it has an at sign, else a phone
    /// number.
    pub fn contact(raw: &str) -> Result<Self, &'static str> {
        if raw.contains(['@', '＠']) {
            Email::parse(raw).map(SecondFactor::Email)
        } else {
            Phone::parse(raw).map(SecondFactor::Phone)
        }
    }

    /// The factors a booking can be opened with, of what the resident gave.
    pub fn all_of(parts: &IdentityParts) -> Vec<SecondFactor> {
        let mut factors = Vec::new();
        factors.extend(parts.email.clone().map(SecondFactor::Email));
        factors.extend(parts.phone.clone().map(SecondFactor::Phone));
        factors.extend(parts.birth_date.map(SecondFactor::BirthDate));
        factors
    }

    /// The canonical text that is hashed; the kind prefix keeps the spaces apart.
    pub fn canonical(&self) -> String {
        match self {
            SecondFactor::Email(e) => format!("email:{}", e.as_str()),
            SecondFactor::Phone(p) => format!("phone:{}", p.as_str()),
            SecondFactor::BirthDate(d) => format!("birth:{d}"),
        }
    }
}

impl fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecondFactor(..)")
    }
}

/// Field names that look like a PIN or password. Such a field in a request is refused
/// with a warning: staff never ask for a PIN, so a form that does is a fraud.
pub fn looks_like_pin_field(name: &str) -> bool {
    let n = name.to_lowercase();
    ["pin", "password", "passcode", "暗証", "パスワード"]
        .iter()
        .any(|w| n.contains(w))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_published_patterns_compile_and_say_what_the_parsers_accept() {
        for pattern in [
            ResidentName::PATTERN,
            Email::PATTERN,
            Phone::PATTERN,
            NoticeNumber::PATTERN,
        ] {
            assert!(Regex::new(pattern).is_ok(), "{pattern}");
        }
        for ok in [
            "090-1234-5678",
            "０３（１２３４）５６７８",
            "+81 90 1234 5678",
            "0312345678",
        ] {
            assert!(Phone::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "12345",
            "090-1234-56",
            "+81 0",
            "\u{a0}0312345678",
            "03-1234-5678x",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad}");
        }
        for ok in [
            "a@b.jp",
            "  Ｙａｍａｄａ＠Ｅｘａｍｐｌｅ．ＪＰ　",
            "x.y+tag@mail.example.co.jp",
        ] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for bad in [
            "a@b",
            "a b@c.jp",
            "@c.jp",
            "a@.jp",
            "a@b..jp",
            &format!("{}@b.jp", "a".repeat(65)),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        let long_name = format!(" {}", "あ".repeat(100));
        assert!(ResidentName::parse(&long_name).is_err(), "counted as given");
    }

    proptest! {
        /// The parsers refuse exactly what the published patterns refuse (and the limits
        /// published beside them), so a client built from the document is never refused
        /// for a value's shape.
        #[test]
        fn parsers_accept_exactly_the_published_shapes(raw in "[-0-9+ ()．.０-９＋ーA-Za-zＡ-Ｚ@＠]{0,24}") {
            let re = |p: &str| Regex::new(p).map(|r| r.is_match(&raw)).unwrap_or(false);
            prop_assert_eq!(Phone::parse(&raw).is_ok(), re(Phone::PATTERN));
            prop_assert_eq!(NoticeNumber::parse(&raw).is_ok(), re(NoticeNumber::PATTERN));
            prop_assert_eq!(Email::parse(&raw).is_ok(), re(Email::PATTERN));
            prop_assert_eq!(ResidentName::parse(&raw).is_ok(), re(ResidentName::PATTERN));
        }
    }

    #[test]
    fn names_are_trimmed_and_collapsed_but_kept() {
        assert_eq!(
            ResidentName::parse("  山田\u{3000}太郎 ").unwrap().as_str(),
            "山田 太郎"
        );
        assert!(ResidentName::parse(" \u{3000} ").is_err());
        assert!(ResidentName::parse(&"あ".repeat(101)).is_err());
        assert!(ResidentName::parse("a\u{7}b").is_err());
        assert_eq!(
            format!("{:?}", ResidentName::parse("山田").unwrap()),
            "ResidentName(..)"
        );
    }

    #[test]
    fn emails_are_folded_and_lowercased() {
        assert_eq!(
            Email::parse(" Taro@Example.JP ").unwrap().as_str(),
            "taro@example.jp"
        );
        assert_eq!(
            Email::parse("ｔａｒｏ＠ｅｘａｍｐｌｅ．ｊｐ")
                .unwrap()
                .as_str(),
            "taro@example.jp"
        );
        for bad in [
            "",
            "taro",
            "taro@",
            "@example.jp",
            "a@b",
            "a b@example.jp",
            "a@@example.jp",
            "a@example..jp",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn phones_accept_the_ways_people_type_them() {
        for raw in [
            "090-1234-5678",
            "09012345678",
            "０９０ー１２３４ー５６７８",
            "+81 90 1234 5678",
            "(090)1234-5678",
        ] {
            assert_eq!(
                Phone::parse(raw).unwrap().as_str(),
                "09012345678",
                "{raw:?}"
            );
        }
        assert_eq!(Phone::parse("03-1234-5678").unwrap().as_str(), "0312345678");
        for bad in [
            "1234",
            "9012345678",
            "090-1234-56789",
            "phone",
            "090-1234-567a",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn notice_numbers_ignore_separators_and_width() {
        assert_eq!(
            NoticeNumber::parse("１２３４-５６７８ab").unwrap().as_str(),
            "12345678AB"
        );
        assert!(NoticeNumber::parse("12").is_err());
        assert!(NoticeNumber::parse("1234!").is_err());
    }

    #[test]
    fn a_contact_is_read_as_an_address_or_a_phone_number_as_typed_at_booking() {
        let typed = SecondFactor::contact(" Taro@Example.JP ").unwrap();
        assert_eq!(
            typed,
            SecondFactor::Email(Email::parse("taro@example.jp").unwrap())
        );
        let phone = SecondFactor::contact("０９０ー１２３４ー５６７８").unwrap();
        assert_eq!(phone.canonical(), "phone:09012345678");
        assert!(SecondFactor::contact("taro@").is_err());
        assert!(SecondFactor::contact("12").is_err());
        let parts = IdentityParts {
            email: Some(Email::parse("a@b.jp").unwrap()),
            birth_date: NaiveDate::from_ymd_opt(1950, 4, 1),
            ..IdentityParts::default()
        };
        let all: Vec<String> = SecondFactor::all_of(&parts)
            .iter()
            .map(SecondFactor::canonical)
            .collect();
        assert_eq!(all, ["email:a@b.jp", "birth:1950-04-01"]);
    }

    fn birth(raw: &str) -> Option<NaiveDate> {
        raw.parse().ok()
    }

    #[test]
    fn one_person_is_the_name_as_compared_and_the_birth_date_whatever_the_contact() {
        use crate::domain::procedure::IdentityKind;
        let person = |name: &str, email: Option<&str>, phone: Option<&str>, born: &str| {
            let parts = IdentityParts {
                email: email.map(|e| Email::parse(e).unwrap()),
                phone: phone.map(|p| Phone::parse(p).unwrap()),
                birth_date: birth(born),
                ..IdentityParts::default()
            };
            identity_for(
                IdentityKind::Contact,
                &ResidentName::parse(name).unwrap(),
                &parts,
            )
            .unwrap()
            .canonical()
        };
        let taro = person("山田 太郎", Some("taro@example.jp"), None, "1960-05-01");
        assert_eq!(taro, "person:1960-05-01:山田太郎");
        assert_eq!(
            person("山田　太郎", None, Some("090-1234-5678"), "1960-05-01"),
            taro,
            "another contact, full-width space"
        );
        assert_eq!(
            person("山田太郎", Some("taro+2@example.jp"), None, "1960-05-01"),
            taro,
            "an alias"
        );
        assert_ne!(
            person("山田 花子", Some("taro@example.jp"), None, "1960-05-01"),
            taro,
            "a household shares one address"
        );
        assert_ne!(
            person("山田 太郎", Some("taro@example.jp"), None, "1990-05-01"),
            taro,
            "a namesake born another day"
        );
        assert_eq!(
            person("ﾔﾏﾀﾞ ﾀﾛｳ", Some("a@b.jp"), None, "1960-05-01"),
            person("やまだ たろう", Some("c@d.jp"), None, "1960-05-01"),
            "half-width katakana and hiragana"
        );
        assert_eq!(
            person("髙橋 一郎", Some("a@b.jp"), None, "1960-05-01"),
            person("高橋 一郎", Some("a@b.jp"), None, "1960-05-01"),
            "a variant kanji"
        );
        assert_eq!(
            person("John SMITH", Some("a@b.jp"), None, "1960-05-01"),
            person("ｊｏｈｎ smith", Some("a@b.jp"), None, "1960-05-01"),
        );
    }

    #[test]
    fn identities_of_different_kinds_never_collide() {
        let born = NaiveDate::from_ymd_opt(1980, 4, 1).unwrap();
        let notice = ResidentIdentity::Notice {
            number: NoticeNumber::parse("ABCD").unwrap(),
            birth_date: born,
        };
        let person = ResidentIdentity::Person {
            name_key: "abcd".into(),
            birth_date: born,
        };
        assert_ne!(notice.canonical(), person.canonical());
    }

    #[test]
    fn the_identity_follows_the_procedure_and_names_every_missing_field() {
        use crate::domain::procedure::IdentityKind;
        let name = ResidentName::parse("山田 太郎").unwrap();
        let parts = IdentityParts {
            notice_number: Some(NoticeNumber::parse("12345678").unwrap()),
            birth_date: birth("1980-04-01"),
            email: None,
            phone: Some(Phone::parse("090-1234-5678").unwrap()),
        };
        let pickup = identity_for(IdentityKind::NoticeAndBirthDate, &name, &parts).unwrap();
        assert!(pickup.canonical().starts_with("notice:12345678:1980-04-01"));
        let contact = identity_for(IdentityKind::Contact, &name, &parts).unwrap();
        assert_eq!(contact.canonical(), "person:1980-04-01:山田太郎");
        let missing = IdentityParts {
            birth_date: None,
            ..parts.clone()
        };
        assert_eq!(
            identity_for(IdentityKind::NoticeAndBirthDate, &name, &missing).err(),
            Some(vec!["birth_date"])
        );
        assert_eq!(
            identity_for(IdentityKind::Contact, &name, &IdentityParts::default()).err(),
            Some(vec!["resident.email", "birth_date"])
        );
        assert_eq!(
            identity_for(
                IdentityKind::NoticeAndBirthDate,
                &name,
                &IdentityParts::default()
            )
            .err(),
            Some(vec!["notice_number", "birth_date"])
        );
    }

    #[test]
    fn pin_like_fields_are_recognised() {
        for name in [
            "pin",
            "PIN",
            "pin_code",
            "signing_password",
            "暗証番号",
            "パスワード",
        ] {
            assert!(looks_like_pin_field(name), "{name}");
        }
        for name in ["name", "email", "phone", "procedure", "birth_date"] {
            assert!(!looks_like_pin_field(name), "{name}");
        }
    }

    proptest! {
        #[test]
        fn parsing_is_idempotent(raw in "\\PC{0,40}") {
            if let Ok(e) = Email::parse(&raw) {
                prop_assert_eq!(Email::parse(e.as_str()).unwrap(), e);
            }
            if let Ok(p) = Phone::parse(&raw) {
                prop_assert_eq!(Phone::parse(p.as_str()).unwrap(), p);
            }
            if let Ok(n) = NoticeNumber::parse(&raw) {
                prop_assert_eq!(NoticeNumber::parse(n.as_str()).unwrap(), n);
            }
            if let Ok(n) = ResidentName::parse(&raw) {
                prop_assert_eq!(ResidentName::parse(n.as_str()).unwrap(), n);
            }
        }

        #[test]
        fn phone_numbers_with_any_separators_parse_to_the_same_digits(
            parts in proptest::collection::vec("[0-9]{2,4}", 3), sep in "[- ー−]"
        ) {
            let digits = format!("0{}", parts.concat());
            let typed = format!("0{}", parts.join(&sep));
            prop_assert_eq!(Phone::parse(&typed).map(|p| p.0), Phone::parse(&digits).map(|p| p.0));
        }
    }
}
