//! Draws a [`Map`]: a title, one lane per row (bands for ranges, marks for
//! ports), the clashes as red lines across every lane, the broken port axis,
//! and a legend that says in words what the picture shows.

use std::collections::BTreeMap;

use turnout_crds::validate::Violation;

use super::axis::{Axis, BREAK};
use super::svg::{Svg, wrap};
use super::{Map, MarkKind, Row, RowKind};

const LEFT: f64 = 170.0;
const RIGHT: f64 = 30.0;
/// Where the lanes start: lower when clash labels need the room above.
const TOP: f64 = 60.0;
const TOP_WITH_CLASHES: f64 = 96.0;
const ROW_H: f64 = 40.0;
const PLOT_WIDTH: f64 = 1000.0;
const LINE: f64 = 16.0;
/// Characters per legend line (about the width of the plot).
const WRAP: usize = 150;

const RED: &str = "#d1242f";
const GREEN: &str = "#1a7f37";
const ORANGE: &str = "#bc4c00";
const INK: &str = "#24292f";
const MUTED: &str = "#57606a";
const PALETTE: [&str; 6] = [
    "#0969da", "#8250df", "#1b7c83", "#9a6700", "#bf3989", "#4d7c0f",
];

fn colour(i: usize) -> &'static str {
    PALETTE[i % PALETTE.len()]
}

pub(super) fn draw(map: &Map) -> String {
    let axis = Axis::new(&map.intervals(), PLOT_WIDTH);
    let top = if map.violations.iter().any(|v| v.port.is_some()) {
        TOP_WITH_CLASHES
    } else {
        TOP
    };
    let rows_bottom = top + map.rows.len() as f64 * ROW_H;
    let legend = legend_lines(map);
    let height = rows_bottom + 60.0 + legend.len() as f64 * LINE + 20.0;
    let width = (LEFT + axis.width + RIGHT).max(720.0);
    let heading = [("font-size", "16"), ("font-weight", "bold")];
    let (title, fill, class) = if map.refused {
        let t = format!("Refused edit of plan {}, not applied", map.plan_name);
        (t, ("fill", RED), Some(("class", "refused")))
    } else {
        (
            format!("Port map of plan {}", map.plan_name),
            ("fill", INK),
            None,
        )
    };
    let mut svg = Svg::new(width, height, &title);
    let attrs: Vec<(&str, &str)> = heading.into_iter().chain([fill]).chain(class).collect();
    svg.text(10.0, 22.0, &title, &attrs);
    svg.text(
        10.0,
        42.0,
        &subtitle(map),
        &[("fill", MUTED), ("class", "subtitle")],
    );
    for (i, row) in map.rows.iter().enumerate() {
        lane(&mut svg, &axis, row, top + i as f64 * ROW_H, i);
    }
    clashes(&mut svg, &axis, map, (top, rows_bottom), width);
    port_axis(&mut svg, &axis, rows_bottom + 8.0);
    let mut y = rows_bottom + 64.0;
    for (text, attrs) in &legend {
        let attrs: Vec<(&str, &str)> = attrs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        svg.text(10.0, y, text, &attrs);
        y += LINE;
    }
    svg.finish()
}

fn subtitle(map: &Map) -> String {
    let clashes = map.violations.len();
    let mut parts = Vec::new();
    if map.refused {
        parts.push("the host keeps its last good state".to_string());
    }
    if let Some(o) = map.observed {
        parts.push(format!("active: {}", o.active.as_deref().unwrap_or("none")));
        if let Some(d) = o
            .desired
            .as_deref()
            .filter(|d| o.active.as_deref() != Some(*d))
        {
            parts.push(format!("wanted: {d}"));
        }
    }
    parts.push(match clashes {
        0 => "no rule broken".to_string(),
        1 => "1 rule broken (red)".to_string(),
        n => format!("{n} rules broken (red)"),
    });
    parts.join(" · ")
}

fn lane(svg: &mut Svg, axis: &Axis, row: &Row, y: f64, i: usize) {
    let kind = match row.kind {
        RowKind::Infrastructure => "infrastructure",
        RowKind::Version(_) => "version",
        RowKind::Foreign => "foreign",
    };
    svg.group(&[
        ("class", "lane"),
        ("data-kind", kind),
        ("data-row", &row.label),
    ]);
    if i.is_multiple_of(2) {
        svg.rect(
            0.0,
            y,
            LEFT + axis.width + RIGHT,
            ROW_H,
            &[("fill", "#f6f8fa")],
            "",
        );
    }
    let active = row.label.ends_with("(active)");
    let weight = if active { "bold" } else { "normal" };
    svg.text(
        10.0,
        y + 25.0,
        &row.label,
        &[("fill", INK), ("font-weight", weight)],
    );
    let fill = match row.kind {
        RowKind::Version(v) => colour(v),
        _ => MUTED,
    };
    let opacity = if active { "0.85" } else { "0.45" };
    for b in &row.bands {
        let Some((a, z)) = axis.span(b.from, b.to) else {
            continue;
        };
        let text = format!("{} {}-{}", b.name, b.from, b.to);
        svg.group(&[("class", "band"), ("data-range", &b.name)]);
        let tip = format!("{}: range {text}", row.label);
        svg.rect(
            LEFT + a,
            y + 8.0,
            z - a,
            24.0,
            &[("fill", fill), ("fill-opacity", opacity)],
            &tip,
        );
        // Inside the band when it fits (about 6.5 px a character at 11
        // px), else the name alone, smaller; the legend has every range.
        let fits = |t: &str, px: f64| (z - a) > t.chars().count() as f64 * px + 6.0;
        let shown = if fits(&text, 6.5) {
            Some((text.as_str(), "11"))
        } else if fits(&b.name, 5.6) {
            Some((b.name.as_str(), "10"))
        } else {
            None
        };
        if let Some((t, size)) = shown {
            let attrs = [
                ("font-size", size),
                ("fill", "#ffffff"),
                ("text-anchor", "middle"),
            ];
            svg.text(LEFT + (a + z) / 2.0, y + 24.0, t, &attrs);
        }
        svg.end();
    }
    for m in &row.marks {
        let Some(x) = axis.x(m.port) else { continue };
        let (class, fill, stroke, r) = match m.kind {
            MarkKind::Planned => ("planned", "#ffffff", INK, 4.0),
            MarkKind::Published => ("published", GREEN, "#ffffff", 5.0),
            MarkKind::Foreign => ("foreign", ORANGE, "#ffffff", 6.0),
        };
        let port = m.port.to_string();
        let attrs = [
            ("class", class),
            ("data-port", port.as_str()),
            ("fill", fill),
            ("stroke", stroke),
            ("stroke-width", "1.5"),
        ];
        svg.circle(LEFT + x, y + 20.0, r, &attrs, &m.label);
    }
    svg.end();
}

/// A red line across every lane at each port the validator names, topped by
/// the port and the rules broken there (labels that would touch are
/// stacked).
fn clashes(svg: &mut Svg, axis: &Axis, map: &Map, (top, bottom): (f64, f64), page_width: f64) {
    let mut by_port: BTreeMap<u16, Vec<&Violation>> = BTreeMap::new();
    for v in &map.violations {
        if let Some(p) = v.port {
            by_port.entry(p).or_default().push(v);
        }
    }
    let mut last_label: Option<(f64, f64)> = None;
    for (port, vs) in by_port {
        let Some(x) = axis.x(port) else { continue };
        let x = LEFT + x;
        let p = port.to_string();
        let rules: Vec<&str> = vs.iter().map(|v| v.kind.as_str()).collect();
        let label = format!("{port} {}", rules.join(", "));
        let width = label.chars().count() as f64 * 6.5;
        // Left of the line when it would run off the page.
        let (lx, anchor) = if x + 4.0 + width > page_width {
            (x - 4.0, "end")
        } else {
            (x + 4.0, "start")
        };
        let start = if anchor == "end" { lx - width } else { lx };
        // One level up when the previous label reaches this one.
        let level = match last_label {
            Some((end, lvl)) if start < end + 8.0 => lvl + 1.0,
            _ => 0.0,
        };
        last_label = Some((start + width, level));
        for v in &vs {
            svg.group(&[
                ("class", "clash"),
                ("data-rule", v.kind.as_str()),
                ("data-port", &p),
            ]);
            svg.rect(
                x - 6.0,
                top - 14.0,
                12.0,
                bottom - top + 14.0,
                &[("fill", RED), ("fill-opacity", "0.08")],
                &v.to_string(),
            );
            svg.end();
        }
        let red = [("stroke", RED), ("stroke-width", "2.5")];
        svg.line((x, top - 14.0 - level * 13.0), (x, bottom), &red);
        let attrs = [
            ("fill", RED),
            ("font-size", "11"),
            ("font-weight", "bold"),
            ("text-anchor", anchor),
        ];
        svg.text(lx, top - 18.0 - level * 13.0, &label, &attrs);
    }
}

/// The axis: a line per region with its first and last port, and a break
/// mark between regions.
fn port_axis(svg: &mut Svg, axis: &Axis, y: f64) {
    svg.group(&[("class", "axis")]);
    let ink = [("stroke", INK), ("stroke-width", "1")];
    for (i, r) in axis.regions.iter().enumerate() {
        let (a, z) = (LEFT + r.x, LEFT + r.x + r.width);
        svg.line((a, y), (z, y), &ink);
        let tick = |svg: &mut Svg, x: f64| svg.line((x, y), (x, y + 5.0), &ink);
        let attrs = |anchor: &'static str| {
            [
                ("fill", MUTED),
                ("font-size", "10"),
                ("text-anchor", anchor),
            ]
        };
        if r.lo == r.hi {
            tick(svg, a + r.width / 2.0);
            svg.text(
                a + r.width / 2.0,
                y + 17.0,
                &r.lo.to_string(),
                &attrs("middle"),
            );
        } else {
            tick(svg, a + 8.0);
            tick(svg, z - 8.0);
            svg.text(a + 2.0, y + 17.0, &r.lo.to_string(), &attrs("start"));
            // A narrow region puts its last port on a second line.
            let dy = if r.width < 90.0 { 29.0 } else { 17.0 };
            svg.text(z - 2.0, y + dy, &r.hi.to_string(), &attrs("end"));
        }
        if i + 1 < axis.regions.len() {
            let bx = z + BREAK / 2.0;
            svg.line((bx - 5.0, y + 5.0), (bx - 1.0, y - 5.0), &ink);
            svg.line((bx + 1.0, y + 5.0), (bx + 5.0, y - 5.0), &ink);
        }
    }
    svg.end();
}

type Attrs = Vec<(&'static str, String)>;

/// The legend, line by line: symbols, ranges by version, broken rules.
fn legend_lines(map: &Map) -> Vec<(String, Attrs)> {
    let plain = || vec![("fill", INK.to_string())];
    let mut out: Vec<(String, Attrs)> = vec![(
        "○ planned port   ● published (seen running)   ● foreign listener (orange)   | clash (red)   // axis break: empty ports left out".to_string(),
        vec![("fill", MUTED.to_string())],
    )];
    for row in map.rows.iter().filter(|r| !r.bands.is_empty()) {
        let ranges: Vec<String> = row
            .bands
            .iter()
            .map(|b| format!("{} {}-{}", b.name, b.from, b.to))
            .collect();
        out.push((format!("{}: {}", row.label, ranges.join(", ")), plain()));
    }
    for v in &map.violations {
        let at = v.port.map_or_else(String::new, |p| format!("port {p}, "));
        let text = format!("✗ {at}{}: {}", v.kind, v.message);
        for line in wrap(&text, WRAP) {
            out.push((
                line,
                vec![
                    ("fill", RED.to_string()),
                    ("class", "violation".to_string()),
                ],
            ));
        }
    }
    out
}
