//! The report's charts: line charts per minute, drawn by `plotters` into SVG text, with axes,
//! units, a legend, and the drop's timeline as dashed vertical lines on every one. The SVG
//! keeps its `viewBox` and loses its fixed size, so it scales to the page's width (a phone's
//! too); the title and the data table around it are the HTML's business.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The drawing's size in SVG units: small enough that the labels (about 14 units: plotters
/// draws an 18-point font so) stay readable when a phone shrinks the chart to 360 pixels.
const SIZE: (u32, u32) = (480, 320);
/// Okabe and Ito's palette: told apart with every common colour-vision deficiency.
const PALETTE: [RGBColor; 7] = [
    RGBColor(0x00, 0x72, 0xB2),
    RGBColor(0xD5, 0x5E, 0x00),
    RGBColor(0x00, 0x9E, 0x73),
    RGBColor(0xCC, 0x79, 0xA7),
    RGBColor(0xE6, 0x9F, 0x00),
    RGBColor(0x56, 0xB4, 0xE9),
    RGBColor(0x00, 0x00, 0x00),
];

/// One line: its name in the legend, and a value per minute (`None`: no data then).
pub(crate) struct Series {
    pub(crate) name: String,
    pub(crate) values: Vec<Option<f64>>,
}

/// A chart to draw: the minutes along x, series along y.
pub(crate) struct Chart<'a> {
    /// The SVG's `<title>` id: unique in the page.
    pub(crate) id: &'a str,
    pub(crate) title: &'a str,
    pub(crate) y_label: &'a str,
    /// Each minute's label (`HH:MM`).
    pub(crate) minutes: &'a [String],
    pub(crate) series: Vec<Series>,
    /// Timeline markers: the minute's index (fractional within it) and a short label.
    pub(crate) markers: &'a [(f64, String)],
}

/// The chart as an SVG element, or a sentence saying why there is none.
pub(crate) fn svg(chart: &Chart<'_>) -> String {
    let mut text = String::new();
    if let Err(err) = draw(chart, &mut text) {
        return format!("<p>The chart could not be drawn: {err}</p>");
    }
    let (width, height) = SIZE;
    let sized = format!("width=\"{width}\" height=\"{height}\" ");
    let title = format!(
        " role=\"img\" aria-labelledby=\"{id}\"><title id=\"{id}\">{}</title>",
        super::html::escape(chart.title),
        id = chart.id
    );
    text.replacen(&sized, "", 1).replacen('>', &title, 1)
}

fn draw(chart: &Chart<'_>, text: &mut String) -> Result<(), String> {
    let root = SVGBackend::with_string(text, SIZE).into_drawing_area();
    root.fill(&WHITE).map_err(|err| err.to_string())?;
    let top =
        chart.series.iter().flat_map(|series| series.values.iter().flatten()).fold(0.0f64, |a, &b| a.max(b));
    let y_max = if top > 0.0 { top * 1.15 } else { 1.0 };
    let x_max = (chart.minutes.len().max(2) - 1) as f64;
    // Minutes sit on whole numbers; a tick between two is left unlabelled, not named twice.
    let label = |x: &f64| {
        let whole = (x - x.round()).abs() < 0.01;
        whole.then(|| chart.minutes.get(x.round().max(0.0) as usize).cloned()).flatten().unwrap_or_default()
    };
    let mut plot = ChartBuilder::on(&root)
        .margin(12)
        .margin_right(26)
        .x_label_area_size(44)
        .y_label_area_size(58)
        .build_cartesian_2d(0f64..x_max, 0f64..y_max)
        .map_err(|err| err.to_string())?;
    plot.configure_mesh()
        .x_desc("time (UTC)")
        .y_desc(chart.y_label)
        .x_labels(chart.minutes.len().clamp(2, 5))
        .y_labels(6)
        .x_label_formatter(&label)
        .y_label_formatter(&|y: &f64| if y.fract() == 0.0 { format!("{y:.0}") } else { format!("{y:.1}") })
        .label_style(("sans-serif", 18))
        .axis_desc_style(("sans-serif", 18))
        .light_line_style(WHITE)
        .draw()
        .map_err(|err| err.to_string())?;
    for (index, (x, name)) in chart.markers.iter().enumerate() {
        let grey = RGBColor(0x55, 0x55, 0x55);
        let dashes = (0..20).map(|step| {
            let from = y_max * f64::from(step) / 20.0;
            PathElement::new(vec![(*x, from), (*x, from + y_max / 40.0)], grey.stroke_width(1))
        });
        plot.draw_series(dashes).map_err(|err| err.to_string())?;
        // Staggered, so neighbouring markers' names do not sit on each other.
        let y = y_max * (0.97 - 0.07 * (index % 3) as f64);
        // Past the middle the name goes left of its line, so it never runs off the chart.
        let side = if *x > x_max / 2.0 { HPos::Right } else { HPos::Left };
        let style = ("sans-serif", 15).into_font().color(&grey).pos(Pos::new(side, VPos::Top));
        let x = if *x > x_max / 2.0 { x - x_max / 100.0 } else { x + x_max / 100.0 };
        plot.draw_series(std::iter::once(Text::new(name.clone(), (x, y), style)))
            .map_err(|err| err.to_string())?;
    }
    for (index, series) in chart.series.iter().enumerate() {
        let colour = PALETTE[index % PALETTE.len()];
        let points: Vec<(f64, f64)> =
            series.values.iter().enumerate().filter_map(|(x, y)| Some((x as f64, (*y)?))).collect();
        let line = LineSeries::new(points.iter().copied(), colour.stroke_width(2));
        plot.draw_series(line)
            .map_err(|err| err.to_string())?
            .label(series.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour.stroke_width(3)));
        let dots = points.into_iter().map(|point| Circle::new(point, 2, colour.filled()));
        plot.draw_series(dots).map_err(|err| err.to_string())?;
    }
    if !chart.series.is_empty() {
        plot.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font(("sans-serif", 16))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .draw()
            .map_err(|err| err.to_string())?;
    }
    root.present().map_err(|err| err.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_is_an_svg_that_scales_with_a_title_axes_and_a_legend() {
        let minutes = vec!["15:00".to_owned(), "15:01".to_owned(), "15:02".to_owned()];
        let markers = vec![(0.5, "start".to_owned())];
        let chart = Chart {
            id: "c1",
            title: "Units <sold>",
            y_label: "units",
            minutes: &minutes,
            series: vec![Series { name: "A sold".into(), values: vec![Some(1.0), None, Some(3.0)] }],
            markers: &markers,
        };
        let svg = svg(&chart);
        assert!(svg.starts_with("<svg "), "{svg}");
        assert!(svg.contains("viewBox=\"0 0 480 320\""), "{svg}");
        assert!(!svg.lines().next().unwrap().contains("width="), "{svg}");
        assert!(svg.contains("<title id=\"c1\">Units &lt;sold&gt;</title>"), "{svg}");
        for text in ["A sold", "units", "time (UTC)", "15:01", "start"] {
            assert!(svg.contains(text), "{text}: {svg}");
        }
    }
}
