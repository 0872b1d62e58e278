//! The language of a page: Japanese, English, or やさしい日本語 (plain Japanese with
//! furigana) for resident pages.

use crate::domain::text::{Lang, Text};
use crate::domain::time::HhMm;
use crate::pages::words;
use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};

/// The cookie that remembers the chosen language (not personal data).
pub const LANG_COOKIE: &str = "lang";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PageLang {
    #[default]
    Ja,
    En,
    /// やさしい日本語: short sentences, furigana on harder kanji.
    Easy,
}

impl PageLang {
    pub fn code(self) -> &'static str {
        match self {
            PageLang::Ja => "ja",
            PageLang::En => "en",
            PageLang::Easy => "easy",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code {
            "ja" => Some(PageLang::Ja),
            "en" => Some(PageLang::En),
            "easy" => Some(PageLang::Easy),
            _ => None,
        }
    }

    /// The language of the domain's two-language texts (office names, procedures).
    pub fn text_lang(self) -> Lang {
        match self {
            PageLang::En => Lang::En,
            PageLang::Ja | PageLang::Easy => Lang::Ja,
        }
    }

    /// `?lang=` wins (and is remembered in a cookie), then the cookie, then
    /// `Accept-Language`; Japanese by default.
    pub fn of(req: &HttpRequest) -> (Self, bool) {
        if let Some(chosen) = req
            .query_string()
            .split('&')
            .find_map(|p| p.strip_prefix("lang="))
            .and_then(Self::parse)
        {
            return (chosen, true);
        }
        if let Some(c) = req.cookie(LANG_COOKIE).and_then(|c| Self::parse(c.value())) {
            return (c, false);
        }
        let accept = req
            .headers()
            .get(actix_web::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .map(Lang::from_accept_language)
            .unwrap_or_default();
        let lang = match accept {
            Lang::En => PageLang::En,
            Lang::Ja => PageLang::Ja,
        };
        (lang, false)
    }

    pub fn cookie(self) -> Cookie<'static> {
        Cookie::build(LANG_COOKIE, self.code())
            .path("/")
            .max_age(CookieDuration::days(365))
            .same_site(SameSite::Lax)
            .http_only(true)
            .finish()
    }
}

/// What templates use to speak the page's language.
#[derive(Debug, Clone)]
pub struct Tr {
    pub lang: PageLang,
    /// The page's path, for the language switch.
    pub path: String,
}

impl Tr {
    pub fn new(lang: PageLang, path: &str) -> Self {
        Self {
            lang,
            path: path.to_owned(),
        }
    }

    /// A fixed interface string (trusted markup: furigana in やさしい日本語).
    pub fn t(&self, key: &str) -> &'static str {
        words::get(key, self.lang)
    }

    /// A fixed string as plain text (for titles and attributes).
    pub fn plain(&self, key: &str) -> String {
        crate::pages::heatmap::strip_markup(self.t(key))
    }

    /// A fixed string for plain text (e-mail): in やさしい日本語 with its furigana in
    /// brackets after the kanji, since plain text has no ruby; otherwise as [`Self::plain`].
    pub fn plain_text(&self, key: &str) -> String {
        match self.lang {
            PageLang::Easy => crate::pages::heatmap::readings_in_brackets(self.t(key)),
            _ => self.plain(key),
        }
    }

    /// A configured or domain text (escaped by the template).
    pub fn text<'a>(&self, text: &'a Text) -> &'a str {
        text.get(self.lang.text_lang())
    }

    pub fn code(&self) -> &'static str {
        self.lang.code()
    }

    /// The `lang` attribute of the page.
    pub fn html_lang(&self) -> &'static str {
        match self.lang {
            PageLang::En => "en",
            PageLang::Ja | PageLang::Easy => "ja",
        }
    }

    pub fn is(&self, code: &str) -> bool {
        self.lang.code() == code
    }

    /// A place in line: "3番目" / "No. 3".
    pub fn place(&self, n: u32) -> String {
        match self.lang {
            PageLang::En => format!("No. {n}"),
            PageLang::Ja | PageLang::Easy => format!("{n}番目"),
        }
    }

    /// People: "3人" / "3 people".
    pub fn people(&self, n: u32) -> String {
        match self.lang {
            PageLang::En if n == 1 => "1 person".to_owned(),
            PageLang::En => format!("{n} people"),
            PageLang::Ja | PageLang::Easy => format!("{n}人"),
        }
    }

    /// When a booked resident may check in, and when the booking's priority ends
    /// (`QueuePolicy::early_check_in_minutes`, `late_grace_minutes`).
    pub fn arrival(&self, early_minutes: u16, priority_until: HhMm) -> String {
        match self.lang {
            PageLang::Ja => format!(
                "予約時刻の{early_minutes}分前から受付できます。{priority_until}を過ぎて受付されると予約の優先がなくなり、来られた順にお呼びします。"
            ),
            PageLang::En => format!(
                "You can check in from {early_minutes} minutes before your time. Checked in after {priority_until}, the booking loses its priority and you are called in order of arrival."
            ),
            PageLang::Easy => format!(
                "よやくの じかんの {early_minutes}ふん まえから うけつけ できます。{priority_until}より おそく なると、さきに よばれなく なります。きた じゅんばんに よびます。"
            ),
        }
    }

    /// At the kiosk's check-in: how late a booking keeps its priority.
    pub fn late_grace(&self, grace_minutes: u16) -> String {
        match self.lang {
            PageLang::Ja => format!(
                "予約時刻を{grace_minutes}分過ぎて受付されると予約の優先がなくなり、来られた順にお呼びします。"
            ),
            PageLang::En => format!(
                "Checked in more than {grace_minutes} minutes after your booked time, the booking loses its priority and you are called in order of arrival."
            ),
            PageLang::Easy => format!(
                "よやくの じかんより {grace_minutes}ふん いじょう おそく なると、さきに よばれなく なります。きた じゅんばんに よびます。"
            ),
        }
    }

    /// Minutes as words: "約 12 分" / "about 12 min".
    pub fn minutes(&self, m: u32) -> String {
        match self.lang {
            PageLang::En => format!("{m} min"),
            PageLang::Ja | PageLang::Easy => format!("{m}分"),
        }
    }
}
