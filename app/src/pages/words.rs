//! The fixed strings of the pages, in Japanese, English and やさしい日本語. The plain
//! Japanese strings may hold `<ruby>` furigana: they are trusted constants, never input.

use crate::pages::lang::PageLang;

/// (key, Japanese, English, やさしい日本語)
type Entry = (&'static str, &'static str, &'static str, &'static str);

pub const WORDS: &[Entry] = &[
    (
        "site.name",
        "マイナンバーカード窓口",
        "My Number Card counters",
        "マイナンバーカードの<ruby>窓口<rt>まどぐち</rt></ruby>",
    ),
    (
        "skip",
        "本文へ移動",
        "Skip to content",
        "<ruby>本文<rt>ほんぶん</rt></ruby>へ",
    ),
    ("lang.switch", "言語", "Language", "ことば"),
    ("nav.book", "予約する", "Book a visit", "よやくする"),
    (
        "nav.manage",
        "予約の確認・取消",
        "Your booking",
        "よやくを<ruby>見<rt>み</rt></ruby>る・やめる",
    ),
    ("nav.congestion", "混雑状況", "Congestion", "こんでいるか"),
    (
        "pin.warning",
        "職員が電話やメール、インターネットで暗証番号(パスワード)をお聞きすることはありません。暗証番号は誰にも教えないでください。",
        "Staff never ask for your PIN by phone, e-mail or online. Never tell anyone your PIN.",
        "<ruby>市役所<rt>しやくしょ</rt></ruby>の<ruby>人<rt>ひと</rt></ruby>は、<ruby>電話<rt>でんわ</rt></ruby>やメールで<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>を<ruby>聞<rt>き</rt></ruby>きません。<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>はだれにも<ruby>言<rt>い</rt></ruby>わないでください。",
    ),
    (
        "updated",
        "更新",
        "Updated",
        "<ruby>新<rt>あたら</rt></ruby>しくした<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "waiting",
        "待ち人数",
        "People waiting",
        "<ruby>待<rt>ま</rt></ruby>っている<ruby>人<rt>ひと</rt></ruby>",
    ),
    ("people", "人", "people", "<ruby>人<rt>にん</rt></ruby>"),
    (
        "wait",
        "待ち時間の目安",
        "Estimated wait",
        "<ruby>待<rt>ま</rt></ruby>つ<ruby>時間<rt>じかん</rt></ruby>",
    ),
    ("wait.range", "〜", "–", "〜"),
    (
        "wait.unknown",
        "算出できません",
        "Not available",
        "わかりません",
    ),
    ("level", "混雑度", "Level", "こみぐあい"),
    (
        "intake.closed",
        "本日の受付は終了しました",
        "Intake has closed for today",
        "<ruby>今日<rt>きょう</rt></ruby>の<ruby>受付<rt>うけつけ</rt></ruby>は<ruby>終<rt>お</rt></ruby>わりました",
    ),
    (
        "intake.open",
        "受付中",
        "Open",
        "<ruby>受付<rt>うけつけ</rt></ruby>しています",
    ),
    (
        "congestion.title",
        "窓口の混雑状況",
        "Counter congestion",
        "<ruby>窓口<rt>まどぐち</rt></ruby>はこんでいますか",
    ),
    (
        "congestion.lead",
        "各窓口の今の待ち人数と待ち時間の目安です。混雑する時間を避けてお越しください。",
        "People waiting and the estimated wait at each office now. Please come at a quiet time.",
        "いま<ruby>待<rt>ま</rt></ruby>っている<ruby>人<rt>ひと</rt></ruby>の<ruby>数<rt>かず</rt></ruby>と<ruby>待<rt>ま</rt></ruby>つ<ruby>時間<rt>じかん</rt></ruby>です。すいている<ruby>時間<rt>じかん</rt></ruby>に<ruby>来<rt>き</rt></ruby>てください。",
    ),
    (
        "office",
        "窓口",
        "Office",
        "<ruby>窓口<rt>まどぐち</rt></ruby>",
    ),
    ("line", "受付", "Line", "<ruby>受付<rt>うけつけ</rt></ruby>"),
    (
        "details",
        "詳しく見る",
        "Details",
        "くわしく<ruby>見<rt>み</rt></ruby>る",
    ),
    (
        "typical.title",
        "いつもの混雑(曜日・時間別)",
        "Typical congestion by weekday and hour",
        "いつもこんでいる<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "typical.none",
        "まだ集計できるデータがありません。",
        "Not enough data yet.",
        "まだデータがありません。",
    ),
    (
        "typical.caption",
        "過去8週間の平均待ち人数。○ 空いている、△ やや混雑、× 混雑。",
        "Average people waiting over the past 8 weeks. ○ quiet, △ moderate, × crowded.",
        "<ruby>前<rt>まえ</rt></ruby>の8<ruby>週間<rt>しゅうかん</rt></ruby>です。○ すいている、△ すこしこんでいる、× こんでいる。",
    ),
    (
        "best.title",
        "今週のおすすめの時間",
        "Best times to come this week",
        "すいている<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "best.none",
        "おすすめを出すためのデータがまだありません。",
        "Not enough data for a recommendation yet.",
        "まだわかりません。",
    ),
    (
        "advice.mornings",
        "午前中、特に開庁直後は混み合います。午後の遅い時間がおすすめです。",
        "Mornings, especially right after opening, are crowded. Late afternoon is quieter.",
        "<ruby>朝<rt>あさ</rt></ruby>はこみます。<ruby>午後<rt>ごご</rt></ruby>の<ruby>遅<rt>おそ</rt></ruby>い<ruby>時間<rt>じかん</rt></ruby>がすいています。",
    ),
    (
        "opendata",
        "オープンデータ(混雑の履歴)",
        "Open data (congestion history)",
        "オープンデータ",
    ),
    (
        "widget.more",
        "混雑状況を見る",
        "See congestion",
        "こみぐあいを<ruby>見<rt>み</rt></ruby>る",
    ),
    (
        "counter",
        "窓口",
        "Counter",
        "<ruby>窓口<rt>まどぐち</rt></ruby>",
    ),
    (
        "counters.open",
        "開いている窓口",
        "Counters open",
        "<ruby>開<rt>あ</rt></ruby>いている<ruby>窓口<rt>まどぐち</rt></ruby>",
    ),
    ("hour", "時", "h", "<ruby>時<rt>じ</rt></ruby>"),
    ("weekday.0", "月", "Mon", "<ruby>月<rt>げつ</rt></ruby>"),
    ("weekday.1", "火", "Tue", "<ruby>火<rt>か</rt></ruby>"),
    ("weekday.2", "水", "Wed", "<ruby>水<rt>すい</rt></ruby>"),
    ("weekday.3", "木", "Thu", "<ruby>木<rt>もく</rt></ruby>"),
    ("weekday.4", "金", "Fri", "<ruby>金<rt>きん</rt></ruby>"),
    ("weekday.5", "土", "Sat", "<ruby>土<rt>ど</rt></ruby>"),
    ("weekday.6", "日", "Sun", "<ruby>日<rt>にち</rt></ruby>"),
    (
        "notfound.title",
        "ページが見つかりません",
        "Page not found",
        "ページがありません",
    ),
    (
        "notfound.body",
        "アドレスをご確認ください。",
        "Please check the address.",
        "アドレスを<ruby>見<rt>み</rt></ruby>てください。",
    ),
    (
        "unavailable.title",
        "ただいま表示できません",
        "Temporarily unavailable",
        "いま<ruby>見<rt>み</rt></ruby>ることができません",
    ),
    (
        "unavailable.body",
        "しばらくしてからもう一度お試しください。",
        "Please try again in a moment.",
        "すこしあとで、もう<ruby>一度<rt>いちど</rt></ruby>ためしてください。",
    ),
    ("home", "トップへ", "Home", "はじめのページ"),
];

/// Looks a string up; an unknown key shows itself (a test checks every key in the
/// templates exists, so this happens only in development).
pub fn get(key: &str, lang: PageLang) -> &'static str {
    match WORDS.iter().find(|(k, ..)| *k == key) {
        Some((_, ja, en, easy)) => match lang {
            PageLang::Ja => ja,
            PageLang::En => en,
            PageLang::Easy => easy,
        },
        None => {
            tracing::debug!(key, "missing page string");
            "?"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key a template asks for exists, in all three languages.
    #[test]
    fn every_key_in_the_templates_exists() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for call in ["tr.t(\"", "tr.plain(\""] {
                for piece in text.split(call).skip(1) {
                    let key = piece.split('"').next().unwrap();
                    let found = WORDS.iter().find(|(k, ..)| *k == key);
                    let (_, ja, en, easy) = found.unwrap_or_else(|| panic!("no string {key:?}"));
                    assert!(
                        !ja.is_empty() && !en.is_empty() && !easy.is_empty(),
                        "{key}"
                    );
                    checked += 1;
                }
            }
        }
        assert!(
            checked > 20,
            "only {checked} keys found: is the scan broken?"
        );
    }

    #[test]
    fn keys_are_unique() {
        let mut keys: Vec<&str> = WORDS.iter().map(|(k, ..)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len());
    }
}
