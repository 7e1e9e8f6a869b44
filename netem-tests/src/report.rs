//! The matrix report: Markdown tables, a comparison summary, and charts (PNG and SVG) of goodput and latency
//! against loss, one panel per RTT.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::cell::{Outcome, Workload};
use crate::matrix::Row;

const FONT_PATHS: [&str; 3] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
];

/// Registers a system TrueType font for chart text (plotters draws text itself). `false` when none is found
/// (Debian: `fonts-dejavu-core`).
fn register_font() -> bool {
    static DONE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DONE.get_or_init(|| {
        for p in FONT_PATHS {
            if let Ok(bytes) = std::fs::read(p) {
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                if plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).is_ok() {
                    return true;
                }
            }
        }
        false
    })
}

fn ordered<T: Ord + Clone>(it: impl Iterator<Item = T>) -> Vec<T> {
    it.collect::<BTreeSet<_>>().into_iter().collect()
}

/// Transport labels in the order they first appear.
fn transports(rows: &[Row]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for r in rows {
        if !v.contains(&r.transport) {
            v.push(r.transport.clone());
        }
    }
    v
}

fn losses(rows: &[Row]) -> Vec<f64> {
    let mut v: Vec<f64> = rows.iter().map(|r| r.loss_pct).collect();
    v.sort_by(f64::total_cmp);
    v.dedup();
    v
}

fn find<'a>(rows: &'a [Row], t: &str, w: Workload, loss: f64, rtt: u64) -> Option<&'a Outcome> {
    rows.iter()
        .find(|r| r.transport == t && r.workload == w && r.loss_pct == loss && r.rtt_ms == rtt)
        .map(|r| &r.outcome)
}

fn ok(o: &Outcome) -> bool {
    o.error.is_none()
}

fn goodput(o: &Outcome) -> Option<f64> {
    o.goodput_mbps.filter(|_| ok(o))
}

fn p99(o: &Outcome) -> Option<f64> {
    o.p99_ms.filter(|_| ok(o))
}

fn cell_text(o: Option<&Outcome>, w: Workload) -> String {
    let Some(o) = o else { return "".into() };
    if let Some(e) = &o.error {
        return if e.starts_with("skipped") {
            "skip".into()
        } else {
            "FAIL".into()
        };
    }
    match w {
        Workload::Bulk => o.goodput_mbps.map_or("?".into(), |g| format!("{g:.1}")),
        Workload::Interactive => match (o.p50_ms, o.p99_ms, o.max_ms) {
            (Some(a), Some(b), Some(c)) => format!("{a:.0} / {b:.0} / {c:.0}"),
            _ => "?".into(),
        },
    }
}

/// Renders the Markdown report. `header` is put under the title (conditions, command).
pub fn markdown(rows: &[Row], header: &str) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Loss x RTT matrix: ours vs kcptun vs TCP\n\n{header}\n"
    );
    let ts = transports(rows);
    let ls = losses(rows);
    let rtts = ordered(rows.iter().map(|r| r.rtt_ms));
    for (w, title, unit) in [
        (Workload::Bulk, "Bulk goodput", "Mbit/s, higher is better"),
        (
            Workload::Interactive,
            "Interactive latency (64-byte echo every 20 ms)",
            "RTT p50 / p99 / max in ms, lower is better",
        ),
    ] {
        if !rows.iter().any(|r| r.workload == w) {
            continue;
        }
        let _ = writeln!(s, "## {title} ({unit})\n");
        for &rtt in &rtts {
            let _ = writeln!(s, "### RTT {rtt} ms\n");
            let _ = write!(s, "| transport |");
            for l in &ls {
                let _ = write!(s, " loss {l}% |");
            }
            let _ = write!(s, "\n|---|");
            for _ in &ls {
                let _ = write!(s, "---:|");
            }
            s.push('\n');
            for t in &ts {
                let _ = write!(s, "| {t} |");
                for &l in &ls {
                    let _ = write!(s, " {} |", cell_text(find(rows, t, w, l, rtt), w));
                }
                s.push('\n');
            }
            s.push('\n');
        }
    }
    s.push_str(&comparisons(rows));
    let retried: Vec<&Row> = rows
        .iter()
        .filter(|r| r.outcome.connect_retries > 0)
        .collect();
    if !retried.is_empty() {
        let _ = writeln!(s, "## Cells whose connect needed retries\n");
        for r in retried {
            let _ = writeln!(
                s,
                "- {} {} loss {}% RTT {} ms: {} failed connect attempt(s)",
                r.transport,
                r.workload.name(),
                r.loss_pct,
                r.rtt_ms,
                r.outcome.connect_retries
            );
        }
        s.push('\n');
    }
    let failed: Vec<&Row> = rows.iter().filter(|r| r.outcome.error.is_some()).collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "## Failed or skipped cells\n");
        for r in failed {
            let _ = writeln!(
                s,
                "- {} {} loss {}% RTT {} ms: {}",
                r.transport,
                r.workload.name(),
                r.loss_pct,
                r.rtt_ms,
                r.outcome.error.as_deref().unwrap_or("")
            );
        }
        s.push('\n');
    }
    s
}

/// Ours vs kcptun with the same settings, and our defaults vs the best TCP, cell by cell.
fn comparisons(rows: &[Row]) -> String {
    let mut s = String::new();
    let ts = transports(rows);
    let cells = ordered(
        rows.iter()
            .map(|r| (r.rtt_ms, (r.loss_pct * 1000.0) as u64)),
    );
    let mut lines = Vec::new();
    for t in ts
        .iter()
        .filter(|t| t.starts_with("ours ") && *t != "ours default")
    {
        let k = t.replacen("ours", "kcptun", 1);
        if !ts.contains(&k) {
            continue;
        }
        let (mut gw, mut gn, mut pw, mut pn) = (0, 0, 0, 0);
        let mut ratios = Vec::new();
        let mut p99_ratios = Vec::new();
        for &(rtt, l) in &cells {
            let l = l as f64 / 1000.0;
            let pair = |w| Some((find(rows, t, w, l, rtt)?, find(rows, &k, w, l, rtt)?));
            if let Some((a, b)) =
                pair(Workload::Bulk).and_then(|(a, b)| Some((goodput(a)?, goodput(b)?)))
            {
                gn += 1;
                gw += usize::from(a > b);
                ratios.push(a / b.max(1e-9));
            }
            if let Some((a, b)) =
                pair(Workload::Interactive).and_then(|(a, b)| Some((p99(a)?, p99(b)?)))
            {
                pn += 1;
                pw += usize::from(a < b);
                p99_ratios.push(a / b.max(1e-9));
            }
        }
        lines.push(format!(
            "| {t} vs {k} | {gw}/{gn} | {} | {pw}/{pn} | {} |",
            median(&mut ratios).map_or("".into(), |m| format!("{m:.2}x")),
            median(&mut p99_ratios).map_or("".into(), |m| format!("{m:.2}x")),
        ));
    }
    if !lines.is_empty() {
        let _ = writeln!(
            s,
            "## Ours vs kcptun, same settings\n\nCells won (goodput higher; p99 lower) and the median ratio ours/kcptun \
             over all cells.\n\n| pair | goodput wins | median goodput ratio | p99 wins | median p99 ratio |\n|---|---:|---:|---:|---:|"
        );
        for l in lines {
            let _ = writeln!(s, "{l}");
        }
        s.push('\n');
    }
    let tcp: Vec<&String> = ts.iter().filter(|t| t.starts_with("tcp ")).collect();
    let ours: Vec<&String> = ts.iter().filter(|t| t.starts_with("ours ")).collect();
    if !tcp.is_empty() && !ours.is_empty() {
        let _ = writeln!(
            s,
            "## Best of ours vs best TCP\n\nPer cell: the best of our configurations against the best TCP \
             (goodput; p99 / mean / max latency).\n\n| RTT | loss | ours goodput | TCP goodput | ratio | ours p99 | TCP p99 | \
             ours mean | TCP mean | ours max | TCP max |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        for &(rtt, l) in &cells {
            let l = l as f64 / 1000.0;
            let best = |set: &[&String], w, f: fn(&Outcome) -> Option<f64>, max: bool| {
                set.iter()
                    .filter_map(|t| find(rows, t, w, l, rtt).and_then(f))
                    .reduce(|a, b| if (a > b) == max { a } else { b })
            };
            let mean = |o: &Outcome| o.mean_ms.filter(|_| ok(o));
            let og = best(&ours, Workload::Bulk, goodput, true);
            let tg = best(&tcp, Workload::Bulk, goodput, true);
            let op = best(&ours, Workload::Interactive, p99, false);
            let tp = best(&tcp, Workload::Interactive, p99, false);
            let om = best(&ours, Workload::Interactive, mean, false);
            let tm = best(&tcp, Workload::Interactive, mean, false);
            let most = |o: &Outcome| o.max_ms.filter(|_| ok(o));
            let ox = best(&ours, Workload::Interactive, most, false);
            let tx = best(&tcp, Workload::Interactive, most, false);
            let f = one_decimal;
            let ratio = ratio_of(og, tg);
            let _ = writeln!(
                s,
                "| {rtt} ms | {l}% | {} | {} | {ratio} | {} | {} | {} | {} | {} | {} |",
                f(og),
                f(tg),
                f(op),
                f(tp),
                f(om),
                f(tm),
                f(ox),
                f(tx)
            );
        }
        s.push('\n');
    }
    if ts.iter().any(|t| t == "ours default") && !tcp.is_empty() {
        let _ = writeln!(
            s,
            "## Our defaults vs TCP, bulk\n\nThe stack's defaults (windows sized from the measured bandwidth-delay \
             product) against each TCP (goodput, Mbit/s; ratio against the better TCP).\n\n| RTT | loss | ours default | {} | \
             ratio |\n|---:|---:|---:|{}---:|",
            tcp.iter()
                .map(|t| t.as_str())
                .collect::<Vec<_>>()
                .join(" | "),
            "---:|".repeat(tcp.len())
        );
        for &(rtt, l) in &cells {
            let l = l as f64 / 1000.0;
            let g = |t: &str| find(rows, t, Workload::Bulk, l, rtt).and_then(goodput);
            let ours = g("ours default");
            let each: Vec<Option<f64>> = tcp.iter().map(|t| g(t)).collect();
            let best = each.iter().flatten().copied().reduce(f64::max);
            let f = one_decimal;
            let ratio = ratio_of(ours, best);
            let _ = writeln!(
                s,
                "| {rtt} ms | {l}% | {} | {} | {ratio} |",
                f(ours),
                each.iter().map(|v| f(*v)).collect::<Vec<_>>().join(" | ")
            );
        }
        s.push('\n');
    }
    s
}

fn median(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    Some(v[v.len() / 2])
}

fn color(label: &str, i: usize) -> RGBColor {
    match label {
        "ours fast" => RGBColor(0, 90, 200),
        "ours fast+fec" => RGBColor(0, 170, 235),
        "ours fast3" => RGBColor(20, 30, 110),
        "ours fast3+fec" => RGBColor(110, 110, 255),
        "ours default" => RGBColor(160, 0, 200),
        "kcptun fast" => RGBColor(235, 120, 0),
        "kcptun fast+fec" => RGBColor(245, 190, 60),
        "kcptun fast3" => RGBColor(170, 30, 10),
        "kcptun fast3+fec" => RGBColor(240, 90, 90),
        "tcp cubic" => RGBColor(30, 150, 30),
        "tcp bbr" => RGBColor(90, 90, 90),
        _ => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

/// One line of a panel: colour index, label, points.
type Series<'a> = (usize, &'a String, Vec<(f64, f64)>);

struct Metric {
    file: &'static str,
    title: &'static str,
    y: &'static str,
    workload: Workload,
    get: fn(&Outcome) -> Option<f64>,
    log: bool,
    /// Each panel gets its own y range (latency grows with RTT); otherwise one shared scale.
    per_panel: bool,
}

fn panels<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    rows: &[Row],
    m: &Metric,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    root.fill(&WHITE).map_err(e)?;
    let ts = transports(rows);
    let ls = losses(rows);
    let rtts = ordered(rows.iter().map(|r| r.rtt_ms));
    let (title_area, body) = root.split_vertically(50);
    title_area.titled(m.title, ("sans-serif", 24)).map_err(e)?;
    let (w, _) = body.dim_in_pixel();
    let (plots, legend) = body.split_horizontally(w.saturating_sub(230));
    let areas = plots.split_evenly((1, rtts.len().max(1)));
    let xmax = ls.iter().copied().fold(0.0, f64::max).max(1.0);
    for (area, &rtt) in areas.iter().zip(&rtts) {
        // Goodput panels share one scale (compare across RTTs); latency panels each fit their RTT's range.
        let vals: Vec<f64> = rows
            .iter()
            .filter(|r| r.workload == m.workload && (!m.per_panel || r.rtt_ms == rtt))
            .filter_map(|r| (m.get)(&r.outcome))
            .collect();
        let ymax = vals.iter().copied().fold(0.0, f64::max).max(1.0) * 1.1;
        let ymin = vals
            .iter()
            .copied()
            .fold(f64::INFINITY, f64::min)
            .clamp(0.1, ymax / 2.0)
            * 0.8;
        let mut b = ChartBuilder::on(area);
        b.caption(format!("RTT {rtt} ms"), ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(65);
        let series: Vec<Series> = ts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let pts = ls
                    .iter()
                    .filter_map(|&l| {
                        find(rows, t, m.workload, l, rtt)
                            .and_then(m.get)
                            .map(|v| (l, v))
                    })
                    .collect();
                (i, t, pts)
            })
            .collect();
        macro_rules! draw {
            ($chart:expr) => {{
                let mut chart = $chart;
                chart
                    .configure_mesh()
                    .x_desc("loss % (each way)")
                    .x_label_formatter(&|v| format!("{v:.0}"))
                    .y_label_formatter(&|v| format!("{v:.0}"))
                    .y_desc(m.y)
                    .max_light_lines(2)
                    .y_labels(12)
                    .label_style(("sans-serif", 15))
                    .axis_desc_style(("sans-serif", 16))
                    .draw()
                    .map_err(e)?;
                for (i, t, pts) in &series {
                    let c = color(t, *i);
                    let width = if t.starts_with("ours") { 3 } else { 2 };
                    chart
                        .draw_series(LineSeries::new(pts.iter().copied(), c.stroke_width(width)))
                        .map_err(e)?;
                    chart
                        .draw_series(pts.iter().map(|&p| Circle::new(p, 4, c.filled())))
                        .map_err(e)?;
                }
            }};
        }
        if m.log {
            draw!(
                b.build_cartesian_2d(-0.3..xmax + 0.3, (ymin..ymax).log_scale())
                    .map_err(e)?
            );
        } else {
            draw!(
                b.build_cartesian_2d(-0.3..xmax + 0.3, 0.0..ymax)
                    .map_err(e)?
            );
        }
    }
    for (i, t) in ts.iter().enumerate() {
        let y = 60 + i as i32 * 28;
        let c = color(t, i);
        legend
            .draw(&PathElement::new(vec![(10, y), (45, y)], c.stroke_width(4)))
            .map_err(e)?;
        legend
            .draw(&Text::new(t.clone(), (55, y - 9), ("sans-serif", 18)))
            .map_err(e)?;
    }
    root.present().map_err(e)?;
    Ok(())
}

/// Writes `goodput`, `latency_p50`, `latency_p99` and `latency_max` charts as PNG and SVG into `dir`; returns
/// the files written (none, with a note, when no font is available).
pub fn charts(rows: &[Row], dir: &Path) -> Result<Vec<PathBuf>, String> {
    if !register_font() {
        return Err("no TrueType font found for chart text (install fonts-dejavu-core)".into());
    }
    let metrics = [
        Metric {
            file: "goodput",
            title: "Bulk goodput vs loss (Mbit/s, higher is better)",
            y: "goodput Mbit/s",
            workload: Workload::Bulk,
            get: goodput,
            log: false,
            per_panel: false,
        },
        Metric {
            file: "latency_p50",
            title: "64-byte echo RTT, median (ms, lower is better)",
            y: "p50 RTT ms",
            workload: Workload::Interactive,
            get: |o| o.p50_ms.filter(|_| o.error.is_none()),
            log: false,
            per_panel: true,
        },
        Metric {
            file: "latency_p99",
            title: "64-byte echo RTT, 99th percentile (ms, lower is better)",
            y: "p99 RTT ms",
            workload: Workload::Interactive,
            get: p99,
            log: false,
            per_panel: true,
        },
        Metric {
            file: "latency_max",
            title: "64-byte echo RTT, maximum (ms, lower is better)",
            y: "max RTT ms",
            workload: Workload::Interactive,
            get: |o| o.max_ms.filter(|_| o.error.is_none()),
            log: false,
            per_panel: true,
        },
    ];
    let mut out = Vec::new();
    for m in &metrics {
        if !rows
            .iter()
            .any(|r| r.workload == m.workload && (m.get)(&r.outcome).is_some())
        {
            continue;
        }
        let n = ordered(rows.iter().map(|r| r.rtt_ms)).len().max(1) as u32;
        let size = (230 + 560 * n.max(2), 560);
        let png = dir.join(format!("{}.png", m.file));
        panels(&BitMapBackend::new(&png, size).into_drawing_area(), rows, m)?;
        let svg = dir.join(format!("{}.svg", m.file));
        panels(&SVGBackend::new(&svg, size).into_drawing_area(), rows, m)?;
        out.push(png);
        out.push(svg);
    }
    Ok(out)
}

/// Writes `report.md` and the charts into `dir`; returns the report's path.
pub fn write_report(rows: &[Row], dir: &Path, header: &str) -> std::io::Result<PathBuf> {
    let mut header = header.to_string();
    match charts(rows, dir) {
        Ok(files) => {
            for f in files
                .iter()
                .filter(|f| f.extension().is_some_and(|e| e == "png"))
            {
                if let Some(name) = f.file_name() {
                    let name = name.to_string_lossy();
                    let _ = write!(header, "\n![{name}]({name})\n");
                }
            }
        }
        Err(e) => {
            let _ = write!(header, "\n(charts not drawn: {e})\n");
        }
    }
    let path = dir.join("report.md");
    std::fs::write(&path, markdown(rows, &header))?;
    Ok(path)
}

/// A table cell: the value with one decimal, or empty.
fn one_decimal(v: Option<f64>) -> String {
    v.map_or(String::new(), |v| format!("{v:.1}"))
}

/// A table cell: `a / b` as `1.23x`, or empty when either is missing.
fn ratio_of(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) => format!("{:.2}x", a / b.max(1e-9)),
        _ => String::new(),
    }
}
