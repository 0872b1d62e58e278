//! Finding a booked resident at reception when the reference is not at hand: by name (as
//! staff type it: any width, spaces or none, katakana or hiragana) or by the booked time.

use crate::domain::identity::{fold_width, name_key};
use chrono::NaiveTime;

/// What reception staff typed to find today's booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceptionQuery {
    /// Nothing: the whole day.
    All,
    /// A booked time, `9:30`, `09:30` or `0930`: bookings starting then.
    Time(NaiveTime),
    /// Part of a name, normalised by [`name_key`].
    Name(String),
}

impl ReceptionQuery {
    pub fn parse(raw: &str) -> Self {
        let folded = fold_width(raw);
        let q = folded.trim();
        if q.is_empty() {
            return ReceptionQuery::All;
        }
        let time =
            NaiveTime::parse_from_str(q, "%H:%M").or_else(|_| NaiveTime::parse_from_str(q, "%H%M"));
        match time {
            Ok(t) if q.chars().all(|c| c.is_ascii_digit() || c == ':') => ReceptionQuery::Time(t),
            _ => ReceptionQuery::Name(name_key(q)),
        }
    }

    /// Whether a booking (its resident's name, if still kept, and its start) matches.
    pub fn matches(&self, name: Option<&str>, start: NaiveTime) -> bool {
        match self {
            ReceptionQuery::All => true,
            ReceptionQuery::Time(t) => *t == start,
            ReceptionQuery::Name(key) => name.is_some_and(|n| name_key(n).contains(key.as_str())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn names_are_found_as_staff_type_them() {
        let q = ReceptionQuery::parse("ﾔﾏﾀﾞ");
        assert_eq!(q, ReceptionQuery::Name("やまだ".into()), "half-width kana");
        assert!(q.matches(Some("山田 太郎（ヤマダ）"), at(9, 0)));
        let q = ReceptionQuery::parse("やまだ");
        assert!(
            q.matches(Some("ヤマダ タロウ"), at(9, 0)),
            "katakana and hiragana"
        );
        let q = ReceptionQuery::parse("山田　太");
        assert!(q.matches(Some("山田 太郎"), at(9, 0)), "spaces and width");
        assert!(!q.matches(Some("山本 太郎"), at(9, 0)));
        assert!(!q.matches(None, at(9, 0)), "a name removed after retention");
        let q = ReceptionQuery::parse("Taro");
        assert!(q.matches(Some("YAMADA Taro"), at(9, 0)), "any case");
    }

    #[test]
    fn times_are_read_with_or_without_the_colon() {
        for typed in ["9:30", "09:30", "0930", "０９：３０"] {
            assert_eq!(
                ReceptionQuery::parse(typed),
                ReceptionQuery::Time(at(9, 30)),
                "{typed}"
            );
        }
        let q = ReceptionQuery::parse("9:30");
        assert!(q.matches(None, at(9, 30)));
        assert!(!q.matches(Some("山田"), at(9, 45)));
        assert_eq!(ReceptionQuery::parse("  "), ReceptionQuery::All);
        assert!(ReceptionQuery::All.matches(None, at(13, 0)));
    }
}
