//! A resident's message, rendered when it is sent from the booking as it is then (the
//! outbox keeps no text): in the booking's language, plain text, with the booking as an
//! `.ics` event and its management link.

use crate::domain::office::Municipality;
use crate::pages::booking::{confirmation, reservation_ics};
use crate::pages::{PageLang, Tr};
use crate::store::Reservation;
use crate::store::mail::MailKind;
use chrono::{DateTime, Utc};

/// What goes into the e-mail.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedMail {
    pub subject: String,
    pub text: String,
    /// The booking as an iCalendar event (not for a cancellation).
    pub ics: Option<String>,
}

impl std::fmt::Debug for RenderedMail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RenderedMail(..)")
    }
}

/// The message of `kind` about `r`. `origin` is the site's public address (for the
/// management link); `secret` opens the booking from that link.
pub fn render(
    kind: MailKind,
    r: &Reservation,
    municipality: &Municipality,
    origin: &str,
    secret: String,
    now: DateTime<Utc>,
) -> RenderedMail {
    let lang = r
        .contact_lang
        .as_deref()
        .and_then(PageLang::parse)
        .unwrap_or(PageLang::Ja);
    let tr = Tr::new(lang, "/");
    let c = confirmation(municipality, &tr, origin, r, secret);
    let site = tr.plain_text("site.name");
    let subject = format!(
        "【{site}】{} {}",
        tr.plain_text(&format!("mail.subject.{}", kind.as_str())),
        c.reference
    );
    let line = |key: &str, value: &str| format!("{}: {value}", tr.plain_text(key));
    let mut text = vec![
        tr.plain_text(&format!("mail.intro.{}", kind.as_str())),
        String::new(),
        line("done.reference", &c.reference),
        line("staff.procedure", &c.procedure_name),
        line("done.when", &c.when),
        line("office", &format!("{} {}", c.office_name, c.address)),
    ];
    if let Some(phone) = &c.phone {
        text.push(format!("☎ {phone}"));
    }
    if kind != MailKind::Cancelled {
        if !c.hours.is_empty() {
            text.push(line("done.hours", &c.hours));
        }
        text.push(String::new());
        text.push(line("done.arrival", &c.arrival));
        text.push(String::new());
        text.push(format!("{}:", tr.plain_text("done.bring")));
        text.extend(c.bring.iter().map(|b| format!("・{b}")));
        text.push(String::new());
        if !c.change_until.is_empty() {
            text.push(format!(
                "{}: {}{}",
                tr.plain_text("manage.change_until"),
                c.change_until,
                tr.plain_text("mail.change_until_after")
            ));
        }
        text.push(tr.plain_text("mail.manage"));
        text.push(c.manage_link.clone());
    }
    text.push(String::new());
    text.push(tr.plain_text("pin.warning"));
    text.push(tr.plain_text("mail.not_you"));
    text.push(format!("— {site}"));
    RenderedMail {
        subject,
        text: text.join("\n") + "\n",
        ics: (kind != MailKind::Cancelled).then(|| reservation_ics(municipality, &tr, r, now)),
    }
}
