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
        "kiosk.title",
        "発券機",
        "Ticket machine",
        "<ruby>番号札<rt>ばんごうふだ</rt></ruby>",
    ),
    (
        "kiosk.lead",
        "ご用件のボタンを押して番号札をお取りください。",
        "Press the button for your business to take a number.",
        "あなたの<ruby>用事<rt>ようじ</rt></ruby>のボタンを<ruby>押<rt>お</rt></ruby>してください。<ruby>番号札<rt>ばんごうふだ</rt></ruby>が<ruby>出<rt>で</rt></ruby>ます。",
    ),
    (
        "kiosk.your_number",
        "あなたの番号",
        "Your number",
        "あなたの<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "kiosk.ahead",
        "あなたの前に",
        "Ahead of you",
        "あなたの<ruby>前<rt>まえ</rt></ruby>に",
    ),
    (
        "kiosk.qr",
        "スマートフォンで読み取ると、順番をその場で確認できます。",
        "Scan with your phone to follow your turn.",
        "スマートフォンで<ruby>読<rt>よ</rt></ruby>むと、<ruby>順番<rt>じゅんばん</rt></ruby>がわかります。",
    ),
    (
        "kiosk.qr_alt",
        "この番号札の状況ページのQRコード",
        "QR code of this ticket's status page",
        "この<ruby>番号札<rt>ばんごうふだ</rt></ruby>のQRコード",
    ),
    (
        "kiosk.back",
        "最初の画面に戻る",
        "Back to the start",
        "はじめの<ruby>画面<rt>がめん</rt></ruby>にもどる",
    ),
    (
        "kiosk.open_status",
        "状況ページを開く",
        "Open the status page",
        "<ruby>順番<rt>じゅんばん</rt></ruby>のページを<ruby>開<rt>ひら</rt></ruby>く",
    ),
    (
        "staff.reception",
        "予約の方の受付",
        "Reception of booked residents",
        "よやくしている<ruby>人<rt>ひと</rt></ruby>の<ruby>受付<rt>うけつけ</rt></ruby>",
    ),
    (
        "staff.check_in",
        "受付して発券",
        "Check in and issue the ticket",
        "<ruby>受付<rt>うけつけ</rt></ruby>して<ruby>番号札<rt>ばんごうふだ</rt></ruby>を<ruby>出<rt>だ</rt></ruby>す",
    ),
    (
        "staff.checked_in",
        "受付しました:",
        "Checked in:",
        "<ruby>受付<rt>うけつけ</rt></ruby>しました:",
    ),
    (
        "kiosk.check_in",
        "予約の方はこちら",
        "Booked? Check in here",
        "よやくしている<ruby>人<rt>ひと</rt></ruby>はこちら",
    ),
    (
        "kiosk.check_in_lead",
        "予約確認のQRコードを読み取り口にかざすか、予約番号を入力してください。",
        "Hold the QR code of your booking confirmation to the reader, or type your booking reference.",
        "よやくのQRコードを<ruby>読<rt>よ</rt></ruby>みとるところにかざすか、よやく<ruby>番号<rt>ばんごう</rt></ruby>を<ruby>入<rt>い</rt></ruby>れてください。",
    ),
    (
        "kiosk.check_in_code",
        "予約番号(例: K7MQ-X2P4S)",
        "Booking reference (e.g. K7MQ-X2P4S)",
        "よやく<ruby>番号<rt>ばんごう</rt></ruby>(れい: K7MQ-X2P4S)",
    ),
    (
        "kiosk.check_in_submit",
        "受付する",
        "Check in",
        "<ruby>受付<rt>うけつけ</rt></ruby>する",
    ),
    (
        "kiosk.check_in_unknown",
        "この窓口の予約が見つかりません。予約番号をお確かめのうえ、わからないときは窓口でおたずねください。",
        "No booking with this reference at this office. Please check the reference, or ask at the counter.",
        "この<ruby>窓口<rt>まどぐち</rt></ruby>のよやくが<ruby>見<rt>み</rt></ruby>つかりません。よやく<ruby>番号<rt>ばんごう</rt></ruby>をたしかめてください。わからないときは<ruby>窓口<rt>まどぐち</rt></ruby>で<ruby>聞<rt>き</rt></ruby>いてください。",
    ),
    (
        "kiosk.walk_in_none",
        "この窓口では、いま番号札を発行していません。",
        "No numbers are issued at this office now.",
        "いま<ruby>番号札<rt>ばんごうふだ</rt></ruby>は<ruby>出<rt>で</rt></ruby>ません。",
    ),
    (
        "ticket.title",
        "番号札の状況",
        "Your ticket",
        "<ruby>番号札<rt>ばんごうふだ</rt></ruby>",
    ),
    (
        "ticket.position",
        "順番",
        "Place in line",
        "<ruby>順番<rt>じゅんばん</rt></ruby>",
    ),
    (
        "ticket.status",
        "状況",
        "Status",
        "いまの<ruby>様子<rt>ようす</rt></ruby>",
    ),
    (
        "ticket.waiting",
        "お待ちください",
        "Waiting",
        "<ruby>待<rt>ま</rt></ruby>ってください",
    ),
    (
        "ticket.called",
        "お呼びしています",
        "Being called",
        "<ruby>呼<rt>よ</rt></ruby>んでいます",
    ),
    (
        "ticket.serving",
        "手続き中",
        "At the counter",
        "<ruby>手続<rt>てつづ</rt></ruby>きをしています",
    ),
    (
        "ticket.done",
        "手続きが終わりました",
        "Finished",
        "<ruby>終<rt>お</rt></ruby>わりました",
    ),
    (
        "ticket.no_show",
        "不在のため取り消されました。受付にお申し出ください。",
        "Cancelled as you were not there. Please ask at reception.",
        "いなかったので<ruby>取<rt>と</rt></ruby>り<ruby>消<rt>け</rt></ruby>しました。<ruby>受付<rt>うけつけ</rt></ruby>で<ruby>言<rt>い</rt></ruby>ってください。",
    ),
    (
        "ticket.cancelled",
        "取り消されました",
        "Cancelled",
        "<ruby>取<rt>と</rt></ruby>り<ruby>消<rt>け</rt></ruby>しました",
    ),
    (
        "ticket.go_to",
        "へお越しください",
        "— please come to this counter",
        "へ<ruby>来<rt>き</rt></ruby>てください",
    ),
    (
        "ticket.live",
        "この画面は自動で更新されます。",
        "This page updates by itself.",
        "この<ruby>画面<rt>がめん</rt></ruby>は<ruby>自動<rt>じどう</rt></ruby>で<ruby>新<rt>あたら</rt></ruby>しくなります。",
    ),
    (
        "display.title",
        "呼出表示",
        "Now calling",
        "<ruby>呼<rt>よ</rt></ruby>び<ruby>出<rt>だ</rt></ruby>し",
    ),
    (
        "display.now",
        "お呼びしている番号",
        "Now calling",
        "<ruby>呼<rt>よ</rt></ruby>んでいる<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "display.recent",
        "最近お呼びした番号",
        "Recently called",
        "さっき<ruby>呼<rt>よ</rt></ruby>んだ<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "display.paused",
        "休止中",
        "Closed",
        "<ruby>休<rt>やす</rt></ruby>み",
    ),
    (
        "display.sound",
        "呼出音と音声を出す",
        "Chime and spoken calls",
        "<ruby>音<rt>おと</rt></ruby>を<ruby>出<rt>だ</rt></ruby>す",
    ),
    (
        "forbidden.title",
        "もう一度お試しください",
        "Please try again",
        "もう<ruby>一度<rt>いちど</rt></ruby>してください",
    ),
    (
        "forbidden.body",
        "画面の有効期限が切れました。前の画面に戻り、もう一度操作してください。",
        "This form has expired. Go back and try again.",
        "<ruby>時間<rt>じかん</rt></ruby>がたちました。もどって、もう<ruby>一度<rt>いちど</rt></ruby>してください。",
    ),
    (
        "staff.title",
        "窓口職員画面",
        "Counter console",
        "<ruby>職員<rt>しょくいん</rt></ruby>の<ruby>画面<rt>がめん</rt></ruby>",
    ),
    (
        "staff.sign_in",
        "職員サインイン",
        "Staff sign-in",
        "<ruby>職員<rt>しょくいん</rt></ruby>のサインイン",
    ),
    (
        "staff.token",
        "職員用トークン",
        "Staff token",
        "<ruby>職員<rt>しょくいん</rt></ruby>のトークン",
    ),
    (
        "staff.token_help",
        "管理者から渡されたトークンを入力してください。この端末のこのブラウザーだけに保存され、12時間で無効になります。",
        "Enter the token your administrator gave you. It is kept in this browser only, for 12 hours.",
        "<ruby>管理者<rt>かんりしゃ</rt></ruby>からもらったトークンを<ruby>入<rt>い</rt></ruby>れてください。",
    ),
    (
        "staff.bad_token",
        "トークンが正しくないか、無効になっています。",
        "The token is wrong or has been revoked.",
        "トークンがちがいます。",
    ),
    (
        "staff.too_many",
        "トークンの確認に失敗した回数が多いため、しばらく受け付けません。1分ほど待ってから、正しいトークンでサインインしてください。",
        "Too many unknown tokens from this device: please wait a minute, then sign in with the right token.",
        "まちがいが<ruby>多<rt>おお</rt></ruby>かったので、すこし<ruby>待<rt>ま</rt></ruby>ってください。1<ruby>分<rt>ぷん</rt></ruby>ぐらい<ruby>待<rt>ま</rt></ruby>ってから、<ruby>正<rt>ただ</rt></ruby>しいトークンでサインインしてください。",
    ),
    (
        "staff.other_office",
        "このトークンは別の窓口のものです。",
        "This token belongs to another office.",
        "このトークンは<ruby>別<rt>べつ</rt></ruby>の<ruby>窓口<rt>まどぐち</rt></ruby>のものです。",
    ),
    (
        "staff.current",
        "対応中の番号",
        "At this counter",
        "いまの<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "staff.nobody",
        "呼び出し中の方はいません。",
        "Nobody called yet.",
        "<ruby>呼<rt>よ</rt></ruby>んでいる<ruby>人<rt>ひと</rt></ruby>はいません。",
    ),
    (
        "staff.procedure",
        "手続き",
        "Procedure",
        "<ruby>手続<rt>てつづ</rt></ruby>き",
    ),
    (
        "staff.kind",
        "区分",
        "Kind",
        "<ruby>種類<rt>しゅるい</rt></ruby>",
    ),
    ("staff.reserved", "予約", "Reservation", "よやく"),
    (
        "staff.priority",
        "優先",
        "Priority",
        "<ruby>優先<rt>ゆうせん</rt></ruby>",
    ),
    (
        "staff.walk_in",
        "当日受付",
        "Walk-in",
        "<ruby>当日<rt>とうじつ</rt></ruby>",
    ),
    (
        "staff.call_next",
        "次の方を呼ぶ",
        "Call next",
        "<ruby>次<rt>つぎ</rt></ruby>の<ruby>人<rt>ひと</rt></ruby>を<ruby>呼<rt>よ</rt></ruby>ぶ",
    ),
    (
        "staff.recall",
        "再呼出",
        "Recall",
        "もう<ruby>一度<rt>いちど</rt></ruby><ruby>呼<rt>よ</rt></ruby>ぶ",
    ),
    ("staff.start", "対応開始", "Start", "はじめる"),
    ("staff.finish", "対応終了", "Finish", "おわる"),
    ("staff.no_show", "不在", "No-show", "いない"),
    (
        "staff.pause",
        "窓口を休止",
        "Pause counter",
        "<ruby>休<rt>やす</rt></ruby>む",
    ),
    (
        "staff.resume",
        "窓口を再開",
        "Resume counter",
        "<ruby>再開<rt>さいかい</rt></ruby>する",
    ),
    (
        "staff.transfer_to",
        "回送先の受付",
        "Transfer to line",
        "<ruby>回<rt>まわ</rt></ruby>す<ruby>先<rt>さき</rt></ruby>",
    ),
    (
        "staff.transfer",
        "回送する",
        "Transfer",
        "<ruby>回<rt>まわ</rt></ruby>す",
    ),
    (
        "staff.queue",
        "この窓口の受付の待ち状況",
        "Lines of this counter",
        "<ruby>待<rt>ま</rt></ruby>っている<ruby>人<rt>ひと</rt></ruby>",
    ),
    ("staff.sign_out", "サインアウト", "Sign out", "サインアウト"),
    (
        "home.title",
        "マイナンバーカードの窓口予約",
        "Book a My Number card counter visit",
        "マイナンバーカードの<ruby>窓口<rt>まどぐち</rt></ruby>をよやくする",
    ),
    (
        "home.lead",
        "電子証明書の更新やカードの受け取りは、予約すると待たずに手続きできます。",
        "Book a slot for certificate renewal or card pickup and skip the queue.",
        "よやくすると、<ruby>待<rt>ま</rt></ruby>たないで<ruby>手続<rt>てつづ</rt></ruby>きができます。",
    ),
    (
        "home.offices",
        "窓口を選ぶ",
        "Choose an office",
        "<ruby>窓口<rt>まどぐち</rt></ruby>をえらぶ",
    ),
    (
        "book.choose_procedure",
        "手続きを選ぶ",
        "Choose what you need",
        "<ruby>手続<rt>てつづ</rt></ruby>きをえらぶ",
    ),
    (
        "book.walk_in_only",
        "予約不要(当日窓口へ)",
        "no booking: walk in",
        "よやくはいりません",
    ),
    (
        "book.not_here",
        "この窓口では受け付けていません",
        "not offered here",
        "ここではできません",
    ),
    (
        "book.pick_slot",
        "ご希望の時間を選んでください。",
        "Pick a time.",
        "<ruby>時間<rt>じかん</rt></ruby>をえらんでください。",
    ),
    (
        "book.quiet_legend",
        "は、いつも空いている時間帯です。",
        "marks hours that are usually quiet.",
        "は、いつもすいている<ruby>時間<rt>じかん</rt></ruby>です。",
    ),
    (
        "book.window",
        "予約できる期間",
        "Bookable dates",
        "よやくできる<ruby>日<rt>ひ</rt></ruby>",
    ),
    (
        "book.no_slots",
        "この期間に予約できる枠はありません。",
        "No slots in this period.",
        "よやくできる<ruby>時間<rt>じかん</rt></ruby>がありません。",
    ),
    ("book.remaining", "残り", "seats: ", "のこり"),
    ("book.full", "満席", "full", "いっぱい"),
    (
        "book.earlier",
        "前の2週間",
        "Previous 2 weeks",
        "<ruby>前<rt>まえ</rt></ruby>の2<ruby>週間<rt>しゅうかん</rt></ruby>",
    ),
    (
        "book.later",
        "次の2週間",
        "Next 2 weeks",
        "<ruby>次<rt>つぎ</rt></ruby>の2<ruby>週間<rt>しゅうかん</rt></ruby>",
    ),
    (
        "form.title",
        "予約内容の入力",
        "Your details",
        "よやくの<ruby>入力<rt>にゅうりょく</rt></ruby>",
    ),
    (
        "form.other_slot",
        "別の時間を選ぶ",
        "Pick another time",
        "ほかの<ruby>時間<rt>じかん</rt></ruby>をえらぶ",
    ),
    (
        "form.no_pin",
        "暗証番号の入力は不要です。このページや職員が暗証番号をお聞きすることはありません。",
        "No PIN is needed. This page and our staff never ask for your PIN.",
        "<ruby>暗証番号<rt>あんしょうばんごう</rt></ruby>は<ruby>入<rt>い</rt></ruby>れません。だれにも<ruby>教<rt>おし</rt></ruby>えないでください。",
    ),
    ("form.name", "お名前", "Name", "なまえ"),
    ("form.required", "必須", "required", "かならず"),
    ("form.email", "メールアドレス", "E-mail", "メール"),
    (
        "form.phone",
        "電話番号",
        "Phone",
        "<ruby>電話番号<rt>でんわばんごう</rt></ruby>",
    ),
    (
        "form.contact_help",
        "メールアドレスか電話番号のどちらかを入力してください(ご本人確認に使います)。",
        "Give an e-mail address or a phone number (to tell your booking apart).",
        "メールか<ruby>電話番号<rt>でんわばんごう</rt></ruby>のどちらかを<ruby>書<rt>か</rt></ruby>いてください。",
    ),
    (
        "form.notice_number",
        "交付通知書の番号",
        "Number on the notification postcard",
        "はがき(<ruby>交付通知書<rt>こうふつうちしょ</rt></ruby>)の<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "form.notice_help",
        "届いたはがき(交付通知書)に書かれている番号です。",
        "The number printed on the postcard you received.",
        "とどいたはがきに<ruby>書<rt>か</rt></ruby>いてある<ruby>番号<rt>ばんごう</rt></ruby>です。",
    ),
    (
        "form.birth_date",
        "生年月日",
        "Date of birth",
        "<ruby>生<rt>う</rt></ruby>まれた<ruby>日<rt>ひ</rt></ruby>",
    ),
    (
        "form.certificate_expiry",
        "電子証明書の有効期限",
        "Certificate expiry date",
        "<ruby>電子証明書<rt>でんししょうめいしょ</rt></ruby>の<ruby>期限<rt>きげん</rt></ruby>",
    ),
    (
        "form.expiry_help",
        "有効期限通知書(青い封筒)に書かれています。期限の3か月前の翌日から更新できます。",
        "On the expiry notice (blue envelope). Renewal opens the day after three months before expiry.",
        "<ruby>青<rt>あお</rt></ruby>いふうとうの<ruby>手紙<rt>てがみ</rt></ruby>に<ruby>書<rt>か</rt></ruby>いてあります。",
    ),
    (
        "form.proxy",
        "代理人が手続きします",
        "A representative will come instead",
        "<ruby>本人<rt>ほんにん</rt></ruby>ではない<ruby>人<rt>ひと</rt></ruby>が<ruby>来<rt>き</rt></ruby>ます",
    ),
    ("form.submit", "予約する", "Book", "よやくする"),
    (
        "form.fix",
        "入力内容を確認してください。",
        "Please check the highlighted fields.",
        "<ruby>入力<rt>にゅうりょく</rt></ruby>を<ruby>見<rt>み</rt></ruby>なおしてください。",
    ),
    (
        "form.check",
        "入力内容を確認してください",
        "please check",
        "<ruby>見<rt>み</rt></ruby>なおしてください",
    ),
    (
        "form.start",
        "日時",
        "Time",
        "<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "form.proxy_field",
        "代理",
        "Representative",
        "<ruby>代理<rt>だいり</rt></ruby>",
    ),
    (
        "done.title",
        "予約が完了しました",
        "You are booked",
        "よやくができました",
    ),
    (
        "done.reference",
        "予約番号",
        "Booking reference",
        "よやく<ruby>番号<rt>ばんごう</rt></ruby>",
    ),
    (
        "done.secret",
        "確認コード",
        "Secret code",
        "<ruby>確認<rt>かくにん</rt></ruby>コード",
    ),
    (
        "done.keep",
        "窓口やお電話では予約番号をお伝えください。予約の確認・変更・取消は、下のQRコードかリンクからすぐに開けます(この画面でのみ表示します)。なくしても、予約番号と予約のときの連絡先(または生年月日)で開けます。",
        "Give the reference at the counter or on the phone. To view, change or cancel the booking later, the QR code or the link below opens it at once (shown only here). Without them, the reference and the contact you gave (or your date of birth) open it too.",
        "<ruby>窓口<rt>まどぐち</rt></ruby>や<ruby>電話<rt>でんわ</rt></ruby>では、よやく<ruby>番号<rt>ばんごう</rt></ruby>を<ruby>言<rt>い</rt></ruby>ってください。よやくを<ruby>見<rt>み</rt></ruby>る・かえる・やめるときは、<ruby>下<rt>した</rt></ruby>のQRコードかリンクから すぐに<ruby>開<rt>ひら</rt></ruby>けます(この<ruby>画面<rt>がめん</rt></ruby>でしか<ruby>見<rt>み</rt></ruby>られません)。なくしても、よやく<ruby>番号<rt>ばんごう</rt></ruby>と、よやくのときに<ruby>書<rt>か</rt></ruby>いたメールか<ruby>電話番号<rt>でんわばんごう</rt></ruby>(または<ruby>生<rt>う</rt></ruby>まれた<ruby>日<rt>ひ</rt></ruby>)で<ruby>開<rt>ひら</rt></ruby>けます。",
    ),
    (
        "done.arrival",
        "当日の受付",
        "On the day",
        "<ruby>当日<rt>とうじつ</rt></ruby>の<ruby>受付<rt>うけつけ</rt></ruby>",
    ),
    (
        "done.manage_qr",
        "予約の確認・変更・取消のページを開くQRコード",
        "QR code that opens the page to view, change or cancel the booking",
        "よやくを見る・かえる・やめるページをひらくQRコード",
    ),
    (
        "done.manage_link",
        "予約の確認・変更・取消",
        "View, change or cancel the booking",
        "よやくを<ruby>見<rt>み</rt></ruby>る・かえる・やめる",
    ),
    (
        "done.secret_typed",
        "手で入力するときの確認コード",
        "The secret code, to type it in by hand",
        "<ruby>手<rt>て</rt></ruby>で<ruby>入力<rt>にゅうりょく</rt></ruby>するときの<ruby>確認<rt>かくにん</rt></ruby>コード",
    ),
    (
        "done.when",
        "日時",
        "When",
        "<ruby>日<rt>ひ</rt></ruby>にちと<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "done.ics",
        "カレンダーに追加(.ics)",
        "Add to calendar (.ics)",
        "カレンダーに<ruby>入<rt>い</rt></ruby>れる",
    ),
    (
        "done.map",
        "地図を開く(OpenStreetMap)",
        "Open the map (OpenStreetMap)",
        "<ruby>地図<rt>ちず</rt></ruby>を<ruby>見<rt>み</rt></ruby>る",
    ),
    (
        "done.bring",
        "お持ちいただくもの",
        "What to bring",
        "<ruby>持<rt>も</rt></ruby>ってくるもの",
    ),
    (
        "done.after_renewal",
        "更新後しばらくの間、マイナポータルへのログイン(約1時間)、保険証としての利用(翌朝まで)、コンビニ交付(最大1日)が使えないことがあります。",
        "After renewal some services may be unavailable for a while: portal login (about an hour), use as a health-insurance card (until the next morning), convenience-store certificates (up to a day).",
        "<ruby>更新<rt>こうしん</rt></ruby>のあと、しばらく つかえないサービスがあります。",
    ),
    (
        "manage.factor_intro",
        "予約番号と、予約のときに入力した連絡先(メールアドレスか電話番号)または生年月日で開けます。",
        "Open it with the reference and the contact you gave when booking (e-mail address or phone number), or your date of birth.",
        "よやく<ruby>番号<rt>ばんごう</rt></ruby>と、よやくのときに<ruby>書<rt>か</rt></ruby>いたメールか<ruby>電話番号<rt>でんわばんごう</rt></ruby>、または<ruby>生<rt>う</rt></ruby>まれた<ruby>日<rt>ひ</rt></ruby>で<ruby>開<rt>ひら</rt></ruby>けます。",
    ),
    (
        "manage.contact",
        "予約のときの連絡先(メールアドレスか電話番号)",
        "Contact given when booking (e-mail or phone)",
        "よやくのときに<ruby>書<rt>か</rt></ruby>いたメールか<ruby>電話番号<rt>でんわばんごう</rt></ruby>",
    ),
    (
        "manage.birth_date",
        "または生年月日(カードの受け取りを予約した方)",
        "Or your date of birth (card pickup bookings)",
        "または<ruby>生<rt>う</rt></ruby>まれた<ruby>日<rt>ひ</rt></ruby>(カードを<ruby>受<rt>う</rt></ruby>け<ruby>取<rt>と</rt></ruby>るよやく)",
    ),
    (
        "manage.with_secret",
        "確認コードで開く",
        "Open with the secret code",
        "<ruby>確認<rt>かくにん</rt></ruby>コードで<ruby>開<rt>ひら</rt></ruby>く",
    ),
    (
        "manage.need_factor",
        "予約番号といっしょに、連絡先か生年月日(または確認コード)を入力してください。",
        "Enter the contact or the date of birth (or the secret code) with the reference.",
        "よやく<ruby>番号<rt>ばんごう</rt></ruby>といっしょに、メールか<ruby>電話番号<rt>でんわばんごう</rt></ruby>、または<ruby>生<rt>う</rt></ruby>まれた<ruby>日<rt>ひ</rt></ruby>を<ruby>書<rt>か</rt></ruby>いてください。",
    ),
    (
        "manage.bad_contact",
        "連絡先は、予約のときに入力したメールアドレス(name@example.jp)か電話番号(090-1234-5678)で入力してください。",
        "Enter the contact as given when booking: an e-mail address (name@example.jp) or a phone number (090-1234-5678).",
        "メール(name@example.jp)か<ruby>電話番号<rt>でんわばんごう</rt></ruby>(090-1234-5678)を、よやくのときと<ruby>同<rt>おな</rt></ruby>じように<ruby>書<rt>か</rt></ruby>いてください。",
    ),
    (
        "mail.subject.confirmation",
        "予約を受け付けました",
        "Your booking is confirmed",
        "よやくが できました",
    ),
    (
        "mail.subject.reminder",
        "ご予約の日が近づきました",
        "Your visit is coming up",
        "よやくの<ruby>日<rt>ひ</rt></ruby>が ちかく なりました",
    ),
    (
        "mail.subject.changed",
        "予約の日時が変わりました",
        "Your booking has changed",
        "よやくの<ruby>日<rt>ひ</rt></ruby>にちと<ruby>時間<rt>じかん</rt></ruby>が かわりました",
    ),
    (
        "mail.subject.cancelled",
        "予約を取り消しました",
        "Your booking is cancelled",
        "よやくを とりけしました",
    ),
    (
        "mail.intro.confirmation",
        "次の内容で予約を受け付けました。",
        "We have booked your visit as follows.",
        "つぎの<ruby>内容<rt>ないよう</rt></ruby>で よやくが できました。",
    ),
    (
        "mail.intro.reminder",
        "ご予約の日が近づきました。次の内容でお待ちしています。",
        "A reminder of your visit. We look forward to seeing you.",
        "よやくの<ruby>日<rt>ひ</rt></ruby>が ちかく なりました。まっています。",
    ),
    (
        "mail.intro.changed",
        "予約の内容が次のとおり変わりました。",
        "Your booking now reads as follows.",
        "よやくが つぎのように かわりました。",
    ),
    (
        "mail.intro.cancelled",
        "次の予約を取り消しました。もう一度予約するときは、予約のページからお申し込みください。",
        "This booking has been cancelled. To book again, use the booking page.",
        "つぎの よやくを とりけしました。また よやくするときは、よやくのページから してください。",
    ),
    (
        "mail.change_until_after",
        "まで(下のリンクから)。それ以降は窓口にお電話ください。",
        " at the latest, by the link below; after that, please phone the office.",
        "まで(<ruby>下<rt>した</rt></ruby>のリンクから)。そのあとは<ruby>窓口<rt>まどぐち</rt></ruby>に<ruby>電話<rt>でんわ</rt></ruby>してください。",
    ),
    (
        "mail.manage",
        "予約の確認・変更・取消はこちらから(このリンクは他の人に教えないでください):",
        "View, change or cancel the booking here (do not share this link):",
        "よやくを<ruby>見<rt>み</rt></ruby>る・かえる・やめるときは ここから(このリンクは ほかの<ruby>人<rt>ひと</rt></ruby>に おしえないでください):",
    ),
    (
        "mail.not_you",
        "お心当たりのない場合は、このメールを破棄してください。このメールは送信専用です。",
        "If you did not make this booking, please ignore this e-mail. Replies to it are not read.",
        "わからないときは、このメールを すててください。このメールに<ruby>返事<rt>へんじ</rt></ruby>は できません。",
    ),
    (
        "outbox.title",
        "送信メール",
        "Outgoing e-mail",
        "おくるメール",
    ),
    (
        "outbox.not_sending",
        "メールの送信(SMTP)が設定されていないため、メールは送られず、ここに保管されます。",
        "Sending (SMTP) is not configured: messages are kept here and none is sent.",
        "メールを おくる せっていが ないので、メールは おくらずに ここに のこします。",
    ),
    (
        "outbox.empty",
        "まだメールはありません。",
        "No messages yet.",
        "まだ メールは ありません。",
    ),
    (
        "outbox.admins_only",
        "このページは窓口の管理者のみ見られます。管理者のトークンでサインインしてください。",
        "Only the office's administrators can see this page. Sign in with an administrator token.",
        "この ページは かんりする<ruby>人<rt>ひと</rt></ruby>だけが<ruby>見<rt>み</rt></ruby>られます。",
    ),
    ("outbox.sent", "送信済み", "Sent", "おくりました"),
    (
        "outbox.waiting",
        "送信待ち",
        "Waiting",
        "まだ おくっていません",
    ),
    (
        "outbox.retrying",
        "再送待ち",
        "Retrying",
        "もう<ruby>一度<rt>いちど</rt></ruby> おくります",
    ),
    ("outbox.dropped", "送信しない", "Not sent", "おくりません"),
    (
        "outbox.attempts",
        "試行",
        "tries",
        "ためした<ruby>回数<rt>かいすう</rt></ruby>",
    ),
    ("outbox.to", "宛先", "To", "あてさき"),
    (
        "outbox.kind.confirmation",
        "予約の確認",
        "Confirmation",
        "よやくの かくにん",
    ),
    (
        "outbox.kind.reminder",
        "予約日前のお知らせ",
        "Reminder",
        "よやくの<ruby>日<rt>ひ</rt></ruby>の まえの おしらせ",
    ),
    (
        "outbox.kind.changed",
        "変更のお知らせ",
        "Change notice",
        "かえた おしらせ",
    ),
    (
        "outbox.kind.cancelled",
        "取消のお知らせ",
        "Cancellation notice",
        "とりけした おしらせ",
    ),
    (
        "manage.earlier",
        "前の2週間",
        "Two weeks earlier",
        "まえの 2<ruby>週間<rt>しゅうかん</rt></ruby>",
    ),
    (
        "manage.later",
        "次の2週間",
        "Two weeks later",
        "つぎの 2<ruby>週間<rt>しゅうかん</rt></ruby>",
    ),
    (
        "manage.free_times",
        "空き",
        "free times:",
        "あいている<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "manage.no_moves",
        "この2週間に空いている時間はありません。",
        "No free times in these two weeks.",
        "この 2<ruby>週間<rt>しゅうかん</rt></ruby>は あいている<ruby>時間<rt>じかん</rt></ruby>が ありません。",
    ),
    (
        "staff.find_label",
        "予約番号がないとき: お名前(一部でも)または予約時刻(9:30)",
        "Without the reference: the name (or part of it) or the booked time (9:30)",
        "よやく<ruby>番号<rt>ばんごう</rt></ruby>が ないとき: <ruby>名前<rt>なまえ</rt></ruby>か よやくの<ruby>時間<rt>じかん</rt></ruby>(9:30)",
    ),
    (
        "staff.find",
        "本日の予約を探す",
        "Find today's booking",
        "きょうの よやくを さがす",
    ),
    (
        "staff.found_today",
        "本日の予約",
        "Today's bookings",
        "きょうの よやく",
    ),
    (
        "staff.found_none",
        "本日の予約に当てはまるものはありません。",
        "No booking of today matches.",
        "きょうの よやくに あてはまるものは ありません。",
    ),
    (
        "manage.show",
        "予約を表示",
        "Show the booking",
        "よやくを<ruby>見<rt>み</rt></ruby>る",
    ),
    ("manage.confirmed", "予約済み", "Booked", "よやくしています"),
    (
        "manage.cancelled",
        "取消済み",
        "Cancelled",
        "とりけしました",
    ),
    (
        "manage.other",
        "手続き中",
        "In progress",
        "<ruby>手続<rt>てつづ</rt></ruby>き<ruby>中<rt>ちゅう</rt></ruby>",
    ),
    (
        "manage.move_to",
        "変更先の日時",
        "Move to",
        "かえる<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "manage.move",
        "日時を変更する",
        "Change the time",
        "<ruby>時間<rt>じかん</rt></ruby>をかえる",
    ),
    (
        "manage.change_until",
        "変更・取消の期限",
        "Changes and cancellation",
        "かえる・とりけすのは いつまで",
    ),
    (
        "manage.change_until_after",
        "まで(この画面で)。それ以降は窓口にお電話ください。",
        " at the latest, on this page; after that, please phone the office.",
        "まで(この<ruby>画面<rt>がめん</rt></ruby>で)。そのあとは<ruby>窓口<rt>まどぐち</rt></ruby>に<ruby>電話<rt>でんわ</rt></ruby>してください。",
    ),
    (
        "manage.cancel_ask",
        "この予約を取り消しますか?",
        "Cancel this booking?",
        "このよやくを とりけしますか?",
    ),
    (
        "manage.cancel_ask_text",
        "取り消すと元に戻せません。同じ時間にもう一度予約できるとは限りません。",
        "A cancellation cannot be undone, and the same time may not be free again.",
        "とりけすと、もとに もどせません。おなじ<ruby>時間<rt>じかん</rt></ruby>に また よやくできるとは かぎりません。",
    ),
    (
        "manage.cancel_yes",
        "取り消す",
        "Yes, cancel it",
        "とりけす",
    ),
    (
        "manage.cancel_no",
        "取り消さない",
        "No, keep it",
        "とりけさない",
    ),
    (
        "manage.cancel",
        "予約を取り消す",
        "Cancel the booking",
        "よやくをとりけす",
    ),
    (
        "manage.done_cancel",
        "予約を取り消しました。",
        "The booking is cancelled.",
        "よやくをとりけしました。",
    ),
    (
        "manage.done_move",
        "日時を変更しました。",
        "The time is changed.",
        "<ruby>時間<rt>じかん</rt></ruby>をかえました。",
    ),
    (
        "done.hours",
        "当日の開庁時間",
        "Opening hours that day",
        "その<ruby>日<rt>ひ</rt></ruby>の<ruby>開<rt>あ</rt></ruby>いている<ruby>時間<rt>じかん</rt></ruby>",
    ),
    (
        "wait.title",
        "待合室",
        "Waiting room",
        "<ruby>待<rt>ま</rt></ruby>つところ",
    ),
    (
        "wait.lead",
        "予約の受付開始直後は混み合うため、順番にご案内しています。この画面を開いたままお待ちください。",
        "Bookings are busy right after they open, so we let people in by turn. Keep this page open.",
        "よやくが<ruby>始<rt>はじ</rt></ruby>まるとこむので、<ruby>順番<rt>じゅんばん</rt></ruby>に<ruby>案内<rt>あんない</rt></ruby>します。このページを<ruby>開<rt>ひら</rt></ruby>いたまま<ruby>待<rt>ま</rt></ruby>ってください。",
    ),
    (
        "wait.release",
        "対象の予約",
        "Bookings for",
        "よやくできる<ruby>日<rt>ひ</rt></ruby>",
    ),
    (
        "wait.opens",
        "受付開始",
        "Opens",
        "<ruby>始<rt>はじ</rt></ruby>まる<ruby>時間<rt>じかん</rt></ruby>",
    ),
    ("wait.join", "順番待ちに並ぶ", "Join the line", "ならぶ"),
    (
        "wait.waiting",
        "順番をお待ちください",
        "Please wait for your turn",
        "<ruby>順番<rt>じゅんばん</rt></ruby>を<ruby>待<rt>ま</rt></ruby>ってください",
    ),
    (
        "wait.admitted",
        "順番が来ました。予約画面へ進みます",
        "Your turn: on to booking",
        "あなたの<ruby>番<rt>ばん</rt></ruby>です",
    ),
    (
        "wait.closed",
        "予約枠はすべて埋まりました",
        "All slots are taken",
        "よやくはいっぱいになりました",
    ),
    (
        "wait.closed_body",
        "申し訳ありません。今回の受付分はすべて予約済みです。",
        "Sorry: every slot of this release is booked.",
        "ごめんなさい。もうよやくできません。",
    ),
    (
        "wait.expired",
        "しばらく画面が開かれていなかったため、順番が無効になりました",
        "You lost your place because the page was closed for a while",
        "しばらく<ruby>見<rt>み</rt></ruby>ていなかったので、<ruby>順番<rt>じゅんばん</rt></ruby>がなくなりました",
    ),
    (
        "wait.ahead",
        "人があなたの前にいます",
        "people ahead of you",
        "<ruby>人<rt>にん</rt></ruby>があなたの<ruby>前<rt>まえ</rt></ruby>にいます",
    ),
    (
        "wait.ahead_n",
        "人",
        "people",
        "<ruby>人<rt>にん</rt></ruby>",
    ),
    ("wait.eta", "目安", "about", "だいたい"),
    ("wait.min", "分", "min", "<ruby>分<rt>ふん</rt></ruby>"),
    (
        "wait.minutes_n",
        "分",
        "min",
        "<ruby>分<rt>ふん</rt></ruby>",
    ),
    (
        "wait.progress",
        "順番待ちの進み具合",
        "Progress in the line",
        "<ruby>進<rt>すす</rt></ruby>みぐあい",
    ),
    (
        "wait.draw",
        "受付開始前に並んだ方の順番は、開始時刻に抽選で決まります。早く並んでも有利にはなりません。",
        "Places of those who join before the opening are drawn at the opening: joining early gives no advantage.",
        "<ruby>始<rt>はじ</rt></ruby>まる<ruby>前<rt>まえ</rt></ruby>にならんだ<ruby>人<rt>ひと</rt></ruby>の<ruby>順番<rt>じゅんばん</rt></ruby>は、くじで<ruby>決<rt>き</rt></ruby>めます。",
    ),
    (
        "wait.go",
        "予約画面へ進む",
        "Go to booking",
        "よやくへ<ruby>進<rt>すす</rt></ruby>む",
    ),
    (
        "wait.keep_open",
        "再読み込みは不要です。画面は自動で更新されます。",
        "No need to reload: this page updates by itself.",
        "このページは<ruby>自動<rt>じどう</rt></ruby>で<ruby>新<rt>あたら</rt></ruby>しくなります。",
    ),
    (
        "wait.not_open",
        "この待合室は現在受け付けていません。",
        "This waiting room is not taking places now.",
        "いまはならべません。",
    ),
    (
        "wait.proof",
        "不正な大量アクセスを防ぐため、並ぶ前に端末で短い計算を行います(1秒ほど)。",
        "To stop automated mass joining, your device does a short calculation first (about a second).",
        "たくさんの<ruby>不正<rt>ふせい</rt></ruby>なアクセスをふせぐため、<ruby>少<rt>すこ</rt></ruby>し<ruby>計算<rt>けいさん</rt></ruby>します。",
    ),
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
    (
        "too_many.title",
        "操作が続いたため、少しお待ちください",
        "Too many requests",
        "すこし<ruby>待<rt>ま</rt></ruby>ってください",
    ),
    (
        "too_many.body",
        "短い時間に多くの操作がありました。しばらく待ってから、もう一度お試しください。",
        "There were many requests from your connection in a short time. Please wait a moment and try again.",
        "<ruby>短<rt>みじか</rt></ruby>い<ruby>時間<rt>じかん</rt></ruby>に、たくさん<ruby>送<rt>おく</rt></ruby>りました。すこし<ruby>待<rt>ま</rt></ruby>ってから、もう<ruby>一度<rt>いちど</rt></ruby>ためしてください。",
    ),
    (
        "too_many.wait",
        "待ち時間の目安：約",
        "Wait about ",
        "<ruby>待<rt>ま</rt></ruby>つ<ruby>時間<rt>じかん</rt></ruby>：",
    ),
    (
        "too_many.seconds",
        "秒",
        " s (seconds)",
        "<ruby>秒<rt>びょう</rt></ruby>",
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
