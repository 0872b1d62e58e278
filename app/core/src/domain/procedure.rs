//! The procedure catalogue (手続き): what residents come to the counter for.

use crate::domain::text::Text;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The procedures Madoguchi knows. The ids are part of the public API.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum ProcedureId {
    /// 交付・受け取り: picking up a new card.
    CardPickup,
    /// 電子証明書の更新: renewing the electronic certificates.
    CertRenewal,
    /// 暗証番号の初期化・再設定: PIN reset or lock release.
    PinReset,
    /// 券面事項変更: address or name change on the card.
    CardUpdate,
    /// 電子証明書の新規発行: issuing new certificates (e.g. after expiry).
    CertIssue,
    /// 申請サポート: help applying for a card (photo taken at the counter).
    ApplicationSupport,
    /// 再交付申請: reissue of a lost card.
    CardReissue,
    /// 在留期間更新に伴う有効期限変更: validity change after a residence-period renewal.
    ResidenceUpdate,
}

impl ProcedureId {
    pub const ALL: [ProcedureId; 8] = [
        ProcedureId::CardPickup,
        ProcedureId::CertRenewal,
        ProcedureId::PinReset,
        ProcedureId::CardUpdate,
        ProcedureId::CertIssue,
        ProcedureId::ApplicationSupport,
        ProcedureId::CardReissue,
        ProcedureId::ResidenceUpdate,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            ProcedureId::CardPickup => "card_pickup",
            ProcedureId::CertRenewal => "cert_renewal",
            ProcedureId::PinReset => "pin_reset",
            ProcedureId::CardUpdate => "card_update",
            ProcedureId::CertIssue => "cert_issue",
            ProcedureId::ApplicationSupport => "application_support",
            ProcedureId::CardReissue => "card_reissue",
            ProcedureId::ResidenceUpdate => "residence_update",
        }
    }

    /// The catalogue entry of this procedure.
    #[allow(
        clippy::indexing_slicing,
        clippy::as_conversions,
        reason = "CATALOGUE has an entry per variant, in declaration order (tested)"
    )]
    pub fn info(self) -> &'static ProcedureInfo {
        &CATALOGUE[self as usize]
    }
}

impl fmt::Display for ProcedureId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProcedureId {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProcedureId::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                let known: Vec<&str> = ProcedureId::ALL.iter().map(|p| p.as_str()).collect();
                format!("unknown procedure {s:?}; known: {}", known.join(", "))
            })
    }
}

/// What identifies the resident of a booking for the one-active-booking rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityKind {
    /// The notification-postcard number (交付通知書番号) plus the date of birth.
    NoticeAndBirthDate,
    /// A normalised e-mail address or phone number.
    Contact,
}

/// A catalogue entry: the facts of a procedure that do not depend on the office.
#[derive(Debug)]
pub struct ProcedureInfo {
    pub id: ProcedureId,
    pub name: Text,
    /// Nominal time at the counter. Wait estimates learn from observed times instead.
    pub nominal_minutes: u16,
    /// Whether a representative (代理人) can do it at all; offices may restrict further.
    pub proxy_possible: bool,
    pub identity: IdentityKind,
    /// Whether the certificate expiry date is needed (renewal eligibility).
    pub needs_certificate_expiry: bool,
    pub bring: &'static [Text],
    pub bring_proxy: &'static [Text],
    pub fee: Option<Text>,
    /// Shown on the confirmation: services that pause after the procedure.
    pub afterwards: &'static [Text],
}

const CARD: Text = Text::new("マイナンバーカード", "Your My Number card");
const ID_DOCS: Text = Text::new(
    "本人確認書類（運転免許証、パスポートなど）",
    "Identity documents (driver's licence, passport, etc.)",
);
const PROXY_ID: Text = Text::new(
    "代理人の本人確認書類",
    "The representative's identity documents",
);
const PROXY_LETTER: Text = Text::new(
    "委任状（本人が記入したもの）",
    "A letter of authorisation filled in by the applicant",
);
const INQUIRY_ANSWER: Text = Text::new(
    "照会書兼回答書（本人あてに郵送されたものに本人が記入したもの）",
    "The inquiry-and-answer letter (照会書兼回答書) mailed to the applicant, filled in by them",
);

const AFTER_CERTIFICATES: &[Text] = &[
    Text::new(
        "マイナポータルへのログインは、手続き後1時間ほどご利用いただけないことがあります。",
        "Logging in to Myna Portal may not work for about an hour afterwards.",
    ),
    Text::new(
        "健康保険証としての利用は、翌朝以降になることがあります。",
        "Using the card as a health-insurance card may not work until the next morning.",
    ),
    Text::new(
        "コンビニ交付（証明書のコンビニ取得）は、最大1日ほどご利用いただけないことがあります。",
        "Certificates at convenience stores may be unavailable for up to a day.",
    ),
];

static CATALOGUE: [ProcedureInfo; 8] = [
    ProcedureInfo {
        id: ProcedureId::CardPickup,
        name: Text::new("マイナンバーカードの交付・受け取り", "Card pickup"),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::NoticeAndBirthDate,
        needs_certificate_expiry: false,
        bring: &[
            Text::new(
                "交付通知書（はがき）",
                "The notification postcard (交付通知書)",
            ),
            ID_DOCS,
            Text::new(
                "通知カード・住民基本台帳カード（お持ちの方）",
                "Your notification card or resident register card, if you have one",
            ),
        ],
        bring_proxy: &[
            Text::new(
                "交付通知書（はがき）の委任欄に本人が記入したもの",
                "The notification postcard with the authorisation part filled in by the applicant",
            ),
            Text::new("本人の本人確認書類", "The applicant's identity documents"),
            PROXY_ID,
            Text::new(
                "本人が来庁できないことを証明する書類（診断書、施設の在所証明書など）",
                "A document showing that the applicant cannot come (medical certificate, care-home certificate, etc.)",
            ),
        ],
        fee: None,
        afterwards: &[],
    },
    ProcedureInfo {
        id: ProcedureId::CertRenewal,
        name: Text::new("電子証明書の更新", "Certificate renewal"),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: true,
        bring: &[
            CARD,
            Text::new(
                "有効期限通知書（青い封筒、お持ちの方）",
                "The expiry notice (blue envelope), if you have it",
            ),
        ],
        bring_proxy: &[CARD, PROXY_ID, PROXY_LETTER, INQUIRY_ANSWER],
        fee: None,
        afterwards: AFTER_CERTIFICATES,
    },
    ProcedureInfo {
        id: ProcedureId::PinReset,
        name: Text::new("暗証番号の初期化・再設定", "PIN reset or lock release"),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[CARD],
        bring_proxy: &[CARD, PROXY_ID, PROXY_LETTER, INQUIRY_ANSWER],
        fee: None,
        afterwards: &[],
    },
    ProcedureInfo {
        id: ProcedureId::CardUpdate,
        name: Text::new(
            "券面事項の変更（住所・氏名など）",
            "Address or name change on the card",
        ),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[CARD],
        bring_proxy: &[
            CARD,
            PROXY_ID,
            Text::new(
                "同一世帯員または法定代理人であることが分かる書類",
                "Proof that you are a household member or legal representative",
            ),
        ],
        fee: None,
        afterwards: AFTER_CERTIFICATES,
    },
    ProcedureInfo {
        id: ProcedureId::CertIssue,
        name: Text::new("電子証明書の新規発行", "New certificate issuance"),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[CARD],
        bring_proxy: &[CARD, PROXY_ID, PROXY_LETTER, INQUIRY_ANSWER],
        fee: Some(Text::new(
            "再発行したカードへの発行は200円",
            "200 yen when issued onto a reissued card",
        )),
        afterwards: AFTER_CERTIFICATES,
    },
    ProcedureInfo {
        id: ProcedureId::ApplicationSupport,
        name: Text::new(
            "マイナンバーカードの申請サポート",
            "Card application support",
        ),
        nominal_minutes: 20,
        // The photo is taken at the counter: the applicant must come in person.
        proxy_possible: false,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[
            ID_DOCS,
            Text::new(
                "交付申請書（お持ちの方）",
                "The application form, if you have one",
            ),
        ],
        bring_proxy: &[],
        fee: None,
        afterwards: &[],
    },
    ProcedureInfo {
        id: ProcedureId::CardReissue,
        name: Text::new("マイナンバーカードの再交付申請", "Lost card reissue"),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[
            ID_DOCS,
            Text::new(
                "警察に届け出た際の受理番号（紛失・盗難の場合）",
                "The police report number (if lost or stolen)",
            ),
        ],
        bring_proxy: &[PROXY_ID, PROXY_LETTER, INQUIRY_ANSWER],
        fee: Some(Text::new(
            "手数料1,000円（カード800円＋電子証明書200円）、特急発行は2,000円",
            "Fee 1,000 yen (800 card + 200 certificates); express issuance 2,000 yen",
        )),
        afterwards: &[],
    },
    ProcedureInfo {
        id: ProcedureId::ResidenceUpdate,
        name: Text::new(
            "在留期間更新に伴う有効期限の変更",
            "Card validity change after a residence-period renewal",
        ),
        nominal_minutes: 15,
        proxy_possible: true,
        identity: IdentityKind::Contact,
        needs_certificate_expiry: false,
        bring: &[CARD, Text::new("在留カード", "Your residence card")],
        bring_proxy: &[
            CARD,
            Text::new("在留カード", "The applicant's residence card"),
            PROXY_ID,
            PROXY_LETTER,
        ],
        fee: None,
        afterwards: AFTER_CERTIFICATES,
    },
];

/// Shown with every booking and ticket: fraudsters phone residents asking for the PIN.
pub const PIN_NOTICE: Text = Text::new(
    "市の職員が電話・メール・オンラインで暗証番号をお聞きすることは絶対にありません。暗証番号は誰にも教えないでください。窓口では、ご本人が端末に直接入力します。",
    "City staff never ask for your PIN by phone, e-mail or online. Never tell anyone your PIN. At the counter you type it into the terminal yourself.",
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_indexed_by_id() {
        for id in ProcedureId::ALL {
            assert_eq!(id.info().id, id);
            assert!(!id.info().bring.is_empty());
            assert_eq!(id.info().proxy_possible, !id.info().bring_proxy.is_empty());
        }
    }

    #[test]
    fn ids_round_trip_through_their_api_names() {
        for id in ProcedureId::ALL {
            assert_eq!(id.as_str().parse::<ProcedureId>(), Ok(id));
            assert_eq!(
                serde_json::to_string(&id).unwrap(),
                format!("\"{}\"", id.as_str())
            );
        }
        assert!("renewal".parse::<ProcedureId>().is_err());
    }

    #[test]
    fn no_catalogue_text_asks_for_a_pin() {
        for id in ProcedureId::ALL {
            let info = id.info();
            for t in info.bring.iter().chain(info.bring_proxy) {
                assert!(!t.ja.contains("暗証番号"), "{id}: {}", t.ja);
                assert!(!t.en.to_lowercase().contains("pin"), "{id}: {}", t.en);
            }
        }
    }
}
