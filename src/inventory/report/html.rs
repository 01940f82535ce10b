//! The report as one self-contained HTML page: the figures, their definitions, a chart with
//! a data table for each series, and the timeline. No script, no request: the stylesheet is
//! inline and the page's own Content-Security-Policy admits it by its hash, so it works from a
//! file and forbids everything else. Every number comes from [`Figures`], as the JSON does.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::charts::{self, Chart, Series};
use super::figures::{Figures, Minute};

const STYLE: &str = "body{font:16px/1.45 system-ui,sans-serif;margin:0 auto;max-width:52rem;padding:0 .75rem;color:#111;background:#fff}\
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem}figure{margin:1rem 0}svg{width:100%;height:auto;display:block}\
.scroll{overflow-x:auto;max-width:100%}table{border-collapse:collapse;font-size:.85rem}th,td{border:1px solid #bbb;padding:.2rem .4rem;text-align:right}\
th:first-child,td:first-child{text-align:left}.missing{border:2px solid #b00;padding:.5rem}dt{font-weight:600}dd{margin:0 0 .5rem}\
code{overflow-wrap:anywhere}@media print{body{max-width:none}figure,table{break-inside:avoid}.scroll{overflow:visible}}";

pub(crate) use crate::output::escape_html as escape;

/// `12.5 %`, or a dash for no value.
pub(crate) fn percent(value: Option<f64>) -> String {
    value.map_or("—".to_owned(), |value| format!("{:.1} %", value * 100.0))
}

fn millis(value: Option<f64>) -> String {
    value.map_or("—".to_owned(), |value| format!("{value} ms"))
}

fn duration(seconds: Option<i64>) -> String {
    match seconds {
        None => "—".to_owned(),
        Some(s) if s.abs() < 60 => format!("{s} s"),
        Some(s) => format!("{} min {} s", s / 60, (s % 60).abs()),
    }
}

/// `HH:MM` of an RFC 3339 time.
fn clock(at: &str) -> String {
    at.get(11..16).unwrap_or(at).to_owned()
}

/// The page. `refresh`: seconds after which the browser reloads it (`--watch`).
pub(crate) fn page(figures: &Figures, refresh: Option<u32>) -> String {
    use base64::Engine as _;
    use sha2::Digest as _;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(STYLE.as_bytes()));
    let mut html = String::new();
    let title = format!("Drop report: {}", figures.drop);
    let _ = write!(
        html,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'sha256-{hash}'\">"
    );
    if let Some(seconds) = refresh {
        let _ = write!(html, "<meta http-equiv=\"refresh\" content=\"{seconds}\">");
    }
    let _ = write!(
        html,
        "<title>{}</title><style>{STYLE}</style></head><body>\n<h1>{}</h1>\n",
        escape(&title),
        escape(&title)
    );
    summary(&mut html, figures);
    key_figures(&mut html, figures);
    let markers = markers(figures);
    for chart in chart_specs(figures) {
        figure(&mut html, figures, &chart, &markers);
    }
    skus_and_signals(&mut html, figures);
    timeline(&mut html, figures);
    definitions(&mut html, figures);
    html.push_str("</body></html>\n");
    html
}

fn summary(html: &mut String, figures: &Figures) {
    let log = &figures.log;
    let _ = writeln!(
        html,
        "<p>From the service's event log: {} events and {} observation records, {} to {} (UTC). Start {}, end {}.</p>",
        log.events,
        log.observations,
        escape(log.first_at.as_deref().unwrap_or("—")),
        escape(log.last_at.as_deref().unwrap_or("—")),
        escape(figures.start.as_deref().unwrap_or("unknown")),
        escape(figures.end.as_deref().unwrap_or("none")),
    );
    if !figures.missing.is_empty() {
        html.push_str("<section class=\"missing\"><h2>What the log is missing</h2><ul>");
        for sentence in &figures.missing {
            let _ = write!(html, "<li>{}</li>", escape(sentence));
        }
        html.push_str("</ul></section>\n");
    }
}

/// A row of the key figures: its name, the value shown, and the JSON's value beside it
/// (`data-value`), which the tests compare.
fn row(html: &mut String, name: &str, label: &str, shown: String, value: &impl serde::Serialize) {
    let json = serde_json::to_string(value).unwrap_or_default();
    let _ = writeln!(
        html,
        "<tr><th scope=\"row\">{}</th><td data-figure=\"{name}\" data-value=\"{}\">{}</td></tr>",
        escape(label),
        escape(&json),
        escape(&shown)
    );
}

fn key_figures(html: &mut String, figures: &Figures) {
    let sell = &figures.sell_through;
    let (abandon, fair, service) = (&figures.abandonment, &figures.fairness, &figures.service);
    html.push_str("<h2>Key figures</h2><div class=\"scroll\"><table><tbody>\n");
    row(
        html,
        "units_sold",
        "Units sold / in stock",
        format!("{} / {}", sell.units_sold, sell.units_stock),
        &sell.units_sold,
    );
    row(
        html,
        "time_to_sell_out_seconds",
        "Time to sell out",
        duration(sell.time_to_sell_out_seconds),
        &sell.time_to_sell_out_seconds,
    );
    let first = format!(
        "{} ({} of {} attempts)",
        percent(sell.first_minutes_checkout_rate),
        sell.first_minutes_confirmed,
        sell.first_minutes_attempts
    );
    row(
        html,
        "first_minutes_checkout_rate",
        "Checkout rate, first 5 minutes",
        first,
        &sell.first_minutes_checkout_rate,
    );
    let share =
        format!("{} ({} of {} holds)", percent(abandon.share), abandon.expired, abandon.holds_created);
    row(html, "abandonment_share", "Abandoned holds (expired unpaid)", share, &abandon.share);
    row(
        html,
        "abandonment_spikes",
        "Abandonment spike minutes",
        abandon.spikes.len().to_string(),
        &abandon.spikes.len(),
    );
    let customers = format!("{} of {} customers", percent(fair.top_1pct_customer_share), fair.customers);
    row(
        html,
        "top_1pct_customer_share",
        "Holds taken by the top 1 % of customers",
        customers,
        &fair.top_1pct_customer_share,
    );
    let addresses = format!("{} of {} addresses", percent(fair.top_1pct_address_share), fair.addresses);
    row(
        html,
        "top_1pct_address_share",
        "Holds taken by the top 1 % of addresses",
        addresses,
        &fair.top_1pct_address_share,
    );
    row(html, "errors", "Service errors (5xx)", service.errors.to_string(), &service.errors);
    let latency = &service.hold_latency_ms;
    let shown = format!("{} / {} / {}", millis(latency.p50), millis(latency.p95), millis(latency.p99));
    row(html, "hold_latency_ms", "Hold latency p50 / p95 / p99", shown, latency);
    let first_stock =
        format!("{} / {}", millis(service.first_stock_p50_ms), millis(service.first_stock_p95_ms));
    row(
        html,
        "first_stock_p50_ms",
        "Time to first stock shown, p50 / p95",
        first_stock,
        &service.first_stock_p50_ms,
    );
    html.push_str("</tbody></table></div>\n");
}

/// The timeline as chart markers: the minute's index, within the minute.
fn markers(figures: &Figures) -> Vec<(f64, String)> {
    let Some(first) = figures.minutes.first().and_then(|m| crate::rfc3339::parse(&m.minute).ok()) else {
        return Vec::new();
    };
    let last = figures.minutes.len() as f64;
    figures
        .timeline
        .iter()
        .filter_map(|marker| {
            let at = crate::rfc3339::parse(&marker.at).ok()?;
            let x = (at - first).as_seconds_f64() / 60.0;
            (0.0..last).contains(&x).then(|| (x, marker.kind.clone()))
        })
        .collect()
}

/// A chart's title, unit, definition's name and series (name, value per minute).
struct ChartSpec {
    id: &'static str,
    title: &'static str,
    y_label: &'static str,
    definition: &'static str,
    series: Vec<(String, Vec<Option<f64>>)>,
}

fn column(minutes: &[Minute], value: impl Fn(&Minute) -> Option<f64>) -> Vec<Option<f64>> {
    minutes.iter().map(value).collect()
}

/// The keys a per-minute map has in any minute, sorted.
fn keys(minutes: &[Minute], map: impl Fn(&Minute) -> &BTreeMap<String, u64>) -> Vec<String> {
    let mut keys: Vec<String> = minutes.iter().flat_map(|m| map(m).keys().cloned()).collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn count(value: u64) -> Option<f64> {
    Some(value as f64)
}

/// Sold and held, per SKU.
fn units_series(figures: &Figures) -> Vec<(String, Vec<Option<f64>>)> {
    let minutes = &figures.minutes;
    let mut units = Vec::new();
    for sku in &figures.skus {
        let name = &sku.sku;
        units.push((format!("{name} sold"), column(minutes, |m| m.sold.get(name).map(|v| *v as f64))));
        units.push((format!("{name} held"), column(minutes, |m| m.held.get(name).map(|v| *v as f64))));
    }
    units
}

/// The service's errors, and the pages' failures by kind.
fn failure_series(minutes: &[Minute]) -> Vec<(String, Vec<Option<f64>>)> {
    let mut failures = vec![("service errors (5xx)".to_owned(), column(minutes, |m| count(m.errors)))];
    for kind in keys(minutes, |m| &m.beacon_failures) {
        let values = column(minutes, |m| count(m.beacon_failures.get(&kind).copied().unwrap_or(0)));
        failures.push((format!("page {kind}"), values));
    }
    failures
}

fn chart_specs(figures: &Figures) -> Vec<ChartSpec> {
    let minutes = &figures.minutes;
    let units = units_series(figures);
    let holds = vec![
        ("created".to_owned(), column(minutes, |m| count(m.holds_created))),
        ("confirmed".to_owned(), column(minutes, |m| count(m.confirmed))),
        ("expired (abandoned)".to_owned(), column(minutes, |m| count(m.expired))),
        ("released".to_owned(), column(minutes, |m| count(m.released))),
    ];
    let refusals = keys(minutes, |m| &m.refusals)
        .into_iter()
        .map(|code| {
            let values = column(minutes, |m| count(m.refusals.get(&code).copied().unwrap_or(0)));
            (code, values)
        })
        .collect();
    let latency = vec![
        ("p50".to_owned(), column(minutes, |m| m.hold_latency_ms.p50)),
        ("p95".to_owned(), column(minutes, |m| m.hold_latency_ms.p95)),
        ("p99".to_owned(), column(minutes, |m| m.hold_latency_ms.p99)),
    ];
    let failures = failure_series(minutes);
    let first_stock = vec![("p50".to_owned(), column(minutes, |m| m.first_stock_p50_ms))];
    vec![
        ChartSpec {
            id: "units",
            title: "Units sold and held per SKU",
            y_label: "units",
            definition: "units",
            series: units,
        },
        ChartSpec {
            id: "holds",
            title: "Holds per minute: created, confirmed, abandoned",
            y_label: "holds per minute",
            definition: "abandonment_share",
            series: holds,
        },
        ChartSpec {
            id: "refusals",
            title: "Hold refusals per minute, by reason",
            y_label: "refusals per minute",
            definition: "refusals",
            series: refusals,
        },
        ChartSpec {
            id: "latency",
            title: "Hold latency per minute",
            y_label: "milliseconds",
            definition: "latency",
            series: latency,
        },
        ChartSpec {
            id: "failures",
            title: "Service errors and page failures per minute",
            y_label: "per minute",
            definition: "errors",
            series: failures,
        },
        ChartSpec {
            id: "first-stock",
            title: "Time to first stock shown on the pages",
            y_label: "milliseconds",
            definition: "beacons",
            series: first_stock,
        },
    ]
}

fn figure(html: &mut String, figures: &Figures, spec: &ChartSpec, markers: &[(f64, String)]) {
    let labels: Vec<String> = figures.minutes.iter().map(|m| clock(&m.minute)).collect();
    let title_id = format!("chart-{}", spec.id);
    let chart = Chart {
        id: &title_id,
        title: spec.title,
        y_label: spec.y_label,
        minutes: &labels,
        series: spec
            .series
            .iter()
            .map(|(name, values)| Series { name: name.clone(), values: values.clone() })
            .collect(),
        markers,
    };
    let definition = figures.definitions.get(spec.definition).map_or("", String::as_str);
    let _ = write!(html, "<h2 id=\"{}\">{}</h2>\n<figure>", spec.id, escape(spec.title));
    if figures.minutes.is_empty() || spec.series.is_empty() {
        html.push_str("<p>No data for this chart in the log.</p>");
    } else {
        html.push_str(&charts::svg(&chart));
    }
    let _ = writeln!(
        html,
        "<figcaption>{} Dashed lines: the timeline below.</figcaption></figure>",
        escape(definition)
    );
    data_table(html, figures, spec);
}

fn data_table(html: &mut String, figures: &Figures, spec: &ChartSpec) {
    let _ = write!(
        html,
        "<div class=\"scroll\"><table><caption>{}: data ({})</caption><thead><tr><th scope=\"col\">minute (UTC)</th>",
        escape(spec.title),
        escape(spec.y_label)
    );
    for (name, _) in &spec.series {
        let _ = write!(html, "<th scope=\"col\">{}</th>", escape(name));
    }
    html.push_str("</tr></thead><tbody>\n");
    for (index, minute) in figures.minutes.iter().enumerate() {
        let _ = write!(html, "<tr><td>{}</td>", clock(&minute.minute));
        for (_, values) in &spec.series {
            let shown = values.get(index).copied().flatten().map_or("—".to_owned(), |v| v.to_string());
            let _ = write!(html, "<td>{shown}</td>");
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody></table></div>\n");
}

fn skus_and_signals(html: &mut String, figures: &Figures) {
    html.push_str("<h2>SKUs</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">SKU</th><th scope=\"col\">stock</th><th scope=\"col\">sold</th><th scope=\"col\">held at the end</th><th scope=\"col\">sold out at (UTC)</th></tr></thead><tbody>\n");
    for sku in &figures.skus {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&sku.sku),
            sku.stock,
            sku.sold,
            sku.held,
            escape(sku.sold_out_at.as_deref().unwrap_or("—"))
        );
    }
    html.push_str("</tbody></table></div>\n<h2>Bot and fraud signals</h2>\n");
    let definition = figures.definitions.get("repeat_rate_limited").map_or("", String::as_str);
    let _ = writeln!(html, "<p>{}</p>", escape(definition));
    let fairness = &figures.fairness;
    for (what, listed) in [
        ("Customers", &fairness.repeat_rate_limited_customers),
        ("Addresses (hashed)", &fairness.repeat_rate_limited_addresses),
    ] {
        let _ = write!(html, "<h3>{what} rate-limited 3 times or more: {}</h3>", listed.len());
        if listed.is_empty() {
            continue;
        }
        html.push_str("<ul>");
        for counted in listed {
            let _ = write!(html, "<li><code>{}</code>: {}</li>", escape(&counted.key), counted.count);
        }
        html.push_str("</ul>\n");
    }
}

fn timeline(html: &mut String, figures: &Figures) {
    html.push_str("<h2>Timeline</h2><div class=\"scroll\"><table><thead><tr><th scope=\"col\">at (UTC)</th><th scope=\"col\">what</th></tr></thead><tbody>\n");
    for marker in &figures.timeline {
        let _ = writeln!(html, "<tr><td>{}</td><td>{}</td></tr>", escape(&marker.at), escape(&marker.label));
    }
    html.push_str("</tbody></table></div>\n");
}

fn definitions(html: &mut String, figures: &Figures) {
    html.push_str("<h2>Definitions</h2><dl>\n");
    for (name, text) in &figures.definitions {
        let _ = writeln!(html, "<dt>{}</dt><dd>{}</dd>", escape(name), escape(text));
    }
    html.push_str("</dl>\n");
}
