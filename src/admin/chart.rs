//! A bar chart drawn on the server as SVG, for the month's indicators: one bar per line,
//! its parts stacked (finished early, on time, late), scaled to the longest bar, with its
//! label and total written out. No script and no chart library: the page's table says the
//! same in numbers and is the chart's text alternative.

use crate::domain::html::escape;

/// Width of the area bars are drawn in, in SVG units.
const BARS: f64 = 520.0;
/// Width of the labels' column.
const LABELS: f64 = 330.0;
/// One bar's band, and the bar's height in it.
const BAND: f64 = 30.0;
const BAR: f64 = 20.0;

/// One series: its name in the legend and its colour.
pub struct Series {
    /// The legend's word.
    pub name: &'static str,
    /// A CSS colour.
    pub colour: &'static str,
}

/// The chart, `title` and `summary` (its accessible name and description), one bar per
/// `(label, parts)`, each part in the series of the same place.
pub fn stacked_bars<const N: usize>(
    title: &str,
    summary: &str,
    series: &[Series; N],
    bars: &[(String, [i64; N])],
) -> String {
    let longest = bars
        .iter()
        .map(|(_, parts)| parts.iter().map(|p| (*p).max(0)).sum::<i64>())
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = BARS / longest as f64;
    let legend_y = BAND * bars.len() as f64 + 12.0;
    let height = legend_y + 24.0;
    let width = LABELS + BARS + 60.0;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" \
         viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" xmlns=\"http://www.w3.org/2000/svg\">\
         <title id=\"chart-title\">{}</title><desc id=\"chart-desc\">{}</desc>",
        escape(title),
        escape(summary)
    );
    for (i, (label, parts)) in bars.iter().enumerate() {
        let y = BAND * i as f64;
        let mid = y + BAR / 2.0 + 5.0;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{mid}\" text-anchor=\"end\" font-size=\"12\">{}</text>",
            LABELS - 8.0,
            escape(&short_label(label))
        ));
        let mut x = LABELS;
        for (part, s) in parts.iter().zip(series) {
            let w = (*part).max(0) as f64 * scale;
            if w > 0.0 {
                svg.push_str(&format!(
                    "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{BAR}\" fill=\"{}\"><title>{}: {part}</title></rect>",
                    s.colour,
                    escape(s.name)
                ));
            }
            x += w;
        }
        let total: i64 = parts.iter().map(|p| (*p).max(0)).sum();
        svg.push_str(&format!(
            "<text x=\"{:.1}\" y=\"{mid}\" font-size=\"13\">{total}</text>",
            x + 6.0
        ));
    }
    let mut x = LABELS;
    for s in series {
        svg.push_str(&format!(
            "<rect x=\"{x}\" y=\"{legend_y}\" width=\"14\" height=\"14\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" font-size=\"13\">{}</text>",
            s.colour,
            x + 20.0,
            legend_y + 12.0,
            escape(s.name)
        ));
        x += 150.0;
    }
    svg.push_str("</svg>");
    svg
}

/// A label cut to what its column holds.
fn short_label(label: &str) -> String {
    super::views::cut(label, 40)
}

#[cfg(test)]
mod tests {
    use super::*;

    const THREE: [Series; 3] = [
        Series {
            name: "Trước hạn",
            colour: "#2e7d32",
        },
        Series {
            name: "Đúng hạn",
            colour: "#1565c0",
        },
        Series {
            name: "Trễ hạn",
            colour: "#c62828",
        },
    ];

    #[test]
    fn bars_are_scaled_to_the_longest_and_stacked_in_order() {
        let svg = stacked_bars(
            "t",
            "d",
            &THREE,
            &[("A".into(), [1, 2, 1]), ("B <x>".into(), [0, 0, 8])],
        );
        // 8 is the longest: 65 units a dossier.
        assert!(svg.contains(
            "<rect x=\"330.0\" y=\"0.0\" width=\"65.0\" height=\"20\" fill=\"#2e7d32\">"
        ));
        assert!(svg.contains(
            "<rect x=\"395.0\" y=\"0.0\" width=\"130.0\" height=\"20\" fill=\"#1565c0\">"
        ));
        assert!(svg.contains(
            "<rect x=\"525.0\" y=\"0.0\" width=\"65.0\" height=\"20\" fill=\"#c62828\">"
        ));
        assert!(svg.contains(
            "<rect x=\"330.0\" y=\"30.0\" width=\"520.0\" height=\"20\" fill=\"#c62828\">"
        ));
        // A part of nothing draws nothing; labels are escaped; totals are written.
        assert_eq!(svg.matches("fill=\"#2e7d32\"><title>").count(), 1);
        assert!(svg.contains(">B &lt;x&gt;</text>"));
        assert!(svg.contains(">4</text>") && svg.contains(">8</text>"));
    }

    #[test]
    fn an_empty_month_draws_no_bar_and_divides_by_nothing() {
        let svg = stacked_bars("t", "d", &THREE, &[("A".into(), [0, 0, 0])]);
        assert!(!svg.contains("<title>Trước hạn: "));
        assert!(svg.contains(">0</text>"));
        assert!(!svg.contains("NaN") && !svg.contains("inf"));
    }
}
