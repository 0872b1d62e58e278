//! Typical congestion as a weekday × hour heatmap (SVG drawn on the server) and the
//! quiet times it suggests. Every cell carries a symbol (○ △ ×) beside its shade, so the
//! level never rests on colour alone.

use crate::domain::queue::Level;
use crate::pages::Tr;
use crate::service::queue::TypicalCell;
use std::fmt::Write;

/// One weekday hour of the office: its lines summed, the worst level kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HourCell {
    pub weekday: u32,
    pub hour: u32,
    pub avg_waiting: f64,
    pub level: Level,
}

/// Sums the office's lines per weekday hour, ordered by weekday then hour.
pub fn office_cells(cells: &[TypicalCell]) -> Vec<HourCell> {
    let mut out: Vec<HourCell> = Vec::new();
    for c in cells.iter().filter(|c| c.samples > 0) {
        match out
            .iter_mut()
            .find(|h| h.weekday == c.weekday && h.hour == c.hour)
        {
            Some(h) => {
                h.avg_waiting += c.avg_waiting;
                h.level = h.level.max(c.level);
            }
            None => out.push(HourCell {
                weekday: c.weekday,
                hour: c.hour,
                avg_waiting: c.avg_waiting,
                level: c.level,
            }),
        }
    }
    out.sort_by_key(|h| (h.weekday, h.hour));
    out
}

pub fn symbol(level: Level) -> &'static str {
    match level {
        Level::Quiet => "○",
        Level::Moderate => "△",
        Level::Crowded => "×",
    }
}

/// The quietest hours from `today` (0 = Monday) to Sunday: up to `n`, quietest first.
pub fn best_times(cells: &[HourCell], today: u32, n: usize) -> Vec<HourCell> {
    let mut left: Vec<HourCell> = cells
        .iter()
        .copied()
        .filter(|c| c.weekday >= today)
        .collect();
    left.sort_by(|a, b| {
        a.level
            .cmp(&b.level)
            .then(a.avg_waiting.total_cmp(&b.avg_waiting))
            .then((a.weekday, a.hour).cmp(&(b.weekday, b.hour)))
    });
    left.truncate(n);
    left
}

/// Mornings are clearly busier than afternoons (by a third or more): advise later.
pub fn mornings_are_busy(cells: &[HourCell]) -> bool {
    let mean = |f: &dyn Fn(&HourCell) -> bool| {
        let picked: Vec<f64> = cells
            .iter()
            .filter(|c| f(c))
            .map(|c| c.avg_waiting)
            .collect();
        (!picked.is_empty()).then(|| picked.iter().sum::<f64>() / crate::num::f64_of(picked.len()))
    };
    match (mean(&|c| c.hour < 12), mean(&|c| c.hour >= 13)) {
        (Some(morning), Some(afternoon)) => morning > 0.5 && morning >= afternoon * 4.0 / 3.0,
        _ => false,
    }
}

const CELL_W: u32 = 44;
const CELL_H: u32 = 36;
const LEFT: u32 = 40;
const TOP: u32 = 28;

/// The heatmap as inline SVG with a title for screen readers.
pub fn svg(cells: &[HourCell], tr: &Tr, title_id: &str) -> String {
    let (Some(first), Some(last)) = (
        cells.iter().map(|c| c.hour).min(),
        cells.iter().map(|c| c.hour).max(),
    ) else {
        return String::new();
    };
    let hours = last - first + 1;
    let width = LEFT + hours * CELL_W;
    let height = TOP + 7 * CELL_H;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg class="heatmap" role="img" aria-labelledby="{title_id}" viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">"#
    );
    let _ = write!(
        s,
        r#"<title id="{title_id}">{}</title>"#,
        strip_markup(tr.t("typical.title"))
    );
    for h in 0..hours {
        let _ = write!(
            s,
            r#"<text x="{}" y="18" class="hm-axis" text-anchor="middle">{}</text>"#,
            LEFT + h * CELL_W + CELL_W / 2,
            first + h
        );
    }
    for d in 0..7u32 {
        let _ = write!(
            s,
            r#"<text x="4" y="{}" class="hm-axis">{}</text>"#,
            TOP + d * CELL_H + CELL_H / 2 + 5,
            strip_markup(tr.t(&format!("weekday.{d}")))
        );
    }
    for c in cells {
        let x = LEFT + (c.hour - first) * CELL_W;
        let y = TOP + c.weekday.min(6) * CELL_H;
        let _ = write!(
            s,
            r#"<g><title>{} {}:00 {} {:.1}</title><rect x="{x}" y="{y}" width="{}" height="{}" class="hm-{}"/><text x="{}" y="{}" text-anchor="middle" class="hm-sym">{}</text></g>"#,
            strip_markup(tr.t(&format!("weekday.{}", c.weekday.min(6)))),
            c.hour,
            strip_markup(tr.t("waiting")),
            c.avg_waiting,
            CELL_W - 2,
            CELL_H - 2,
            c.level.as_str(),
            x + CELL_W / 2 - 1,
            y + CELL_H / 2 + 5,
            symbol(c.level)
        );
    }
    s.push_str("</svg>");
    s
}

/// Plain text of a trusted string (furigana readings dropped), for SVG titles.
/// The markup of a fixed string removed, its furigana kept after their kanji in
/// brackets (`<ruby>窓口<rt>まどぐち</rt></ruby>` → 窓口（まどぐち）): plain text, such as
/// an e-mail, has no ruby.
pub fn readings_in_brackets(s: &str) -> String {
    let marked = s.replace("<rt>", "<rt>（").replace("</rt>", "）</rt>");
    strip_tags(&marked)
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for ch in s.chars() {
        match ch {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => out.push(ch),
            _ => {}
        }
    }
    out
}

pub fn strip_markup(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    let mut in_reading = false;
    let mut tag = String::new();
    for ch in s.chars() {
        match ch {
            '<' => {
                in_tag = true;
                tag.clear();
            }
            '>' => {
                in_tag = false;
                match tag.as_str() {
                    "rt" => in_reading = true,
                    "/rt" => in_reading = false,
                    _ => {}
                }
            }
            _ if in_tag => tag.push(ch),
            _ if in_reading => {}
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::queue::LineId;

    fn cell(line: &str, weekday: u32, hour: u32, waiting: f64, level: Level) -> TypicalCell {
        TypicalCell {
            line: LineId::parse(line).unwrap(),
            weekday,
            hour,
            samples: 4,
            avg_waiting: waiting,
            avg_wait_p50: None,
            level,
        }
    }

    #[test]
    fn plain_text_keeps_furigana_in_brackets_and_drops_other_markup() {
        let s = "<ruby>予約<rt>よやく</rt></ruby>を<strong>かくにん</strong>";
        assert_eq!(readings_in_brackets(s), "予約（よやく）をかくにん");
        assert_eq!(strip_markup(s), "予約をかくにん");
    }

    #[test]
    fn lines_are_summed_and_the_worst_level_kept() {
        let cells = office_cells(&[
            cell("a", 0, 9, 5.0, Level::Crowded),
            cell("b", 0, 9, 1.0, Level::Quiet),
            cell("a", 0, 15, 1.0, Level::Quiet),
        ]);
        assert_eq!(cells.len(), 2);
        assert_eq!(cells[0].avg_waiting, 6.0);
        assert_eq!(cells[0].level, Level::Crowded);
    }

    #[test]
    fn best_times_skip_past_days_and_prefer_quiet_hours() {
        let cells = office_cells(&[
            cell("a", 0, 15, 0.0, Level::Quiet),
            cell("a", 2, 9, 8.0, Level::Crowded),
            cell("a", 2, 16, 1.0, Level::Quiet),
            cell("a", 3, 10, 3.0, Level::Moderate),
        ]);
        let best = best_times(&cells, 2, 2);
        assert_eq!(
            best.iter().map(|c| (c.weekday, c.hour)).collect::<Vec<_>>(),
            vec![(2, 16), (3, 10)]
        );
    }

    #[test]
    fn morning_advice_needs_clearly_busier_mornings() {
        let busy = office_cells(&[
            cell("a", 0, 9, 6.0, Level::Crowded),
            cell("a", 0, 15, 2.0, Level::Quiet),
        ]);
        assert!(mornings_are_busy(&busy));
        let even = office_cells(&[
            cell("a", 0, 9, 2.0, Level::Quiet),
            cell("a", 0, 15, 2.0, Level::Quiet),
        ]);
        assert!(!mornings_are_busy(&even));
    }

    #[test]
    fn furigana_readings_are_dropped_from_plain_text() {
        assert_eq!(
            strip_markup("<ruby>窓口<rt>まどぐち</rt></ruby>です"),
            "窓口です"
        );
    }
}
