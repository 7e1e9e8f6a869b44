//! `--snmplog`: kcp-go's SNMP counters appended as CSV every `--snmpperiod` seconds, as kcptun writes them.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use chrono::{DateTime, Datelike, Local, Timelike};

/// Expands the Go reference-time layout tokens kcptun users put in file names
/// (`2006 01 02 15 04 05`, also `06`, `Jan`, `Mon`) with the local time `t`.
///
/// ```
/// use chrono::TimeZone;
/// let t = chrono::Local.with_ymd_and_hms(2024, 3, 9, 7, 5, 1).unwrap();
/// assert_eq!(kcp_examples::tunnel::snmp::go_time_format("snmp-20060102.log", &t), "snmp-20240309.log");
/// ```
pub fn go_time_format(layout: &str, t: &DateTime<Local>) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let tokens: [(&str, String); 9] = [
        ("2006", format!("{:04}", t.year())),
        ("Jan", MONTHS[t.month0() as usize].to_string()),
        (
            "Mon",
            DAYS[t.weekday().num_days_from_monday() as usize].to_string(),
        ),
        ("01", format!("{:02}", t.month())),
        ("02", format!("{:02}", t.day())),
        ("15", format!("{:02}", t.hour())),
        ("04", format!("{:02}", t.minute())),
        ("05", format!("{:02}", t.second())),
        ("06", format!("{:02}", t.year() % 100)),
    ];
    let mut out = String::new();
    let mut rest = layout;
    'outer: while !rest.is_empty() {
        for (tok, val) in &tokens {
            if let Some(r) = rest.strip_prefix(tok) {
                out.push_str(val);
                rest = r;
                continue 'outer;
            }
        }
        let mut chars = rest.chars();
        if let Some(c) = chars.next() {
            out.push(c);
        }
        rest = chars.as_str();
    }
    out
}

/// Appends one CSV line (`Unix` then kcp-go's counters) to the file named by `path` (layout expanded in the
/// file-name part only, as kcptun does), writing the header first when the file is empty.
pub fn append_line(path: &str) -> std::io::Result<()> {
    let now = Local::now();
    let p = Path::new(path);
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let file = p.with_file_name(go_time_format(&name, &now));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&file)?;
    let snap = kcp::net::snmp().snapshot();
    let mut text = String::new();
    if f.metadata()?.len() == 0 {
        text.push_str("Unix,");
        text.push_str(&kcp::net::SnmpSnapshot::HEADER.join(","));
        text.push('\n');
    }
    text.push_str(&now.timestamp().to_string());
    for v in snap.values() {
        text.push(',');
        text.push_str(&v.to_string());
    }
    text.push('\n');
    f.write_all(text.as_bytes())
}

/// Runs forever: a line every `period` (nothing when `path` is empty or `period` is zero).
pub async fn run(path: String, period: u64) {
    if path.is_empty() || period == 0 {
        return;
    }
    let mut tick = tokio::time::interval(Duration::from_secs(period));
    tick.tick().await;
    loop {
        tick.tick().await;
        if let Err(e) = append_line(&path) {
            // kcptun stops logging on the first failure; say why and do the same.
            tracing::error!("snmplog {path}: {e}; SNMP logging stopped");
            return;
        }
    }
}
