//! `crashctl facet`: Super Search aggregations as crashstats-tools' `supersearchfacet` prints
//! them (table, tab, csv, markdown, json, raw), plus bars for the terminal.

use std::io::Write;

use chrono::{Duration as Span, Local, NaiveDate};
use crashctl::crashstats::facet::{self, LayoutOptions};
use crashctl::crashstats::format::{self, Ordered};
use crashctl::crashstats::SUPERSEARCH_PATH;
use crashctl::ExitCode;

use crashctl::crashstats::params::Params;
use crashctl::crashstats::{runtime, Session};

use crate::args::{formats, retry_notifier, CrashStatsArgs, Format, OutputArgs};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(mut_arg("format", |a| a.value_parser(formats(&[
    Format::Text, Format::Tab, Format::Csv, Format::Markdown, Format::Json, Format::Raw, Format::Bars,
]))))]
#[command(after_help = "Examples:\n  crashctl facet product=Firefox --facet version\n  \
        crashctl facet signature=~OOM --histogram date --format bars\n  \
        crashctl facet --agg product.version --cardinality install_time\n\n\
        Without a date filter the range is --start-date/--end-date, or --relative-range before --end-date \
        (default: the 7 days up to today).")]
pub struct Args {
    /// Super Search filters: FIELD=VALUE (as for `crashctl search`)
    #[arg(value_name = "FIELD=VALUE")]
    filters: Vec<String>,

    /// A Super Search page (or API) URL whose filters (and aggregations) to start from
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// A field to count values of (_facets); repeatable
    #[arg(long, value_name = "FIELD")]
    facet: Vec<String>,

    /// A histogram over a date or number field, per sub-field: date, or date=product,platform
    /// (_histogram.FIELD; default sub-field: product); repeatable
    #[arg(long, value_name = "FIELD[=SUB,...]")]
    histogram: Vec<String>,

    /// Histogram interval: day, week, month, hour for dates; a number for numbers
    #[arg(long, value_name = "INTERVAL")]
    interval: Option<String>,

    /// A nested aggregation a.b[.c] (_aggs.a=b); repeatable
    #[arg(long, value_name = "A.B")]
    agg: Vec<String>,

    /// Count the distinct values of a field (_facets=_cardinality.FIELD); repeatable
    #[arg(long, value_name = "FIELD")]
    cardinality: Vec<String>,

    /// How many terms per facet (_facets_size)
    #[arg(long, value_name = "N")]
    size: Option<u32>,

    /// First day (YYYY-MM-DD or a date and time)
    #[arg(long, value_name = "DATE")]
    start_date: Option<String>,

    /// Last day (YYYY-MM-DD, today or yesterday) [default: today]
    #[arg(long, value_name = "DATE")]
    end_date: Option<String>,

    /// The range before --end-date when no --start-date: Nh, Nd or Nw
    #[arg(long, value_name = "RANGE", default_value = "7d", value_parser = parse_relative)]
    relative_range: Span,

    /// Output: text is supersearchfacet's table
    #[command(flatten)]
    output: OutputArgs,

    /// Add `--` rows (and histogram columns): what the listed terms leave out
    #[arg(long)]
    leftover_count: bool,

    /// Mark Saturdays and Sundays with ` **`
    #[arg(long)]
    denote_weekends: bool,

    /// Drop non-ASCII characters from cells, as supersearchfacet does (kept by default)
    #[arg(long)]
    ascii_only: bool,

    #[command(flatten)]
    api: CrashStatsArgs,
}

/// `Nh`, `Nd`, `Nw` (supersearchfacet's relative ranges).
pub fn parse_relative(s: &str) -> Result<Span, String> {
    let bad = || format!("{s:?}: expected Nh, Nd or Nw (e.g. 7d)");
    let (num, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = num.parse().map_err(|_| bad())?;
    match unit.to_ascii_lowercase().as_str() {
        "h" => Ok(Span::hours(n)),
        "d" => Ok(Span::days(n)),
        "w" => Ok(Span::weeks(n)),
        _ => Err(bad()),
    }
}

/// `a.b.c` -> (`a.b`, `c`); `a.b._cardinality.c` -> (`a.b`, `_cardinality.c`).
fn split_agg(spec: &str) -> Option<(String, String)> {
    if let Some((path, field)) = spec.split_once("._cardinality.") {
        return Some((path.to_string(), format!("_cardinality.{field}")));
    }
    spec.rsplit_once('.').map(|(p, l)| (p.to_string(), l.to_string()))
}

fn day(s: &str, today: NaiveDate) -> anyhow::Result<NaiveDate> {
    match s {
        "today" => Ok(today),
        "yesterday" => Ok(today - Span::days(1)),
        _ => NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| anyhow::anyhow!("{s:?}: expected YYYY-MM-DD, today or yesterday")),
    }
}

/// The `date` filters supersearchfacet sends when none is given: `>=START`, `<END`.
fn date_filters(start: Option<&str>, end: Option<&str>, range: Span, today: NaiveDate) -> anyhow::Result<Vec<String>> {
    let is_bare = |s: &str| s.len() == 10 || s == "today" || s == "yesterday";
    let end_text = match end {
        Some(e) if !is_bare(e) => e.to_string(),
        e => format!("{} 23:59:59", day(e.unwrap_or("today"), today)?),
    };
    let start_text = match start {
        Some(s) if !is_bare(s) => s.to_string(),
        Some(s) => format!("{} 00:00:00", day(s, today)?),
        None => {
            let end_dt = chrono::NaiveDateTime::parse_from_str(&end_text, "%Y-%m-%d %H:%M:%S")
                .map_err(|_| anyhow::anyhow!("--end-date {end_text:?}: expected YYYY-MM-DD[ HH:MM:SS]"))?;
            (end_dt - range).format("%Y-%m-%d %H:%M:%S").to_string()
        }
    };
    Ok(vec![format!(">={start_text}"), format!("<{end_text}")])
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let mut params =
        Params::merged(args.url.as_deref(), &args.filters, &["_columns", "_results_number", "_results_offset"])?;
    let mut facets: Vec<String> = args.facet.clone();
    facets.extend(args.cardinality.iter().map(|c| format!("_cardinality.{c}")));
    if !facets.is_empty() {
        params.set("_facets", &facets);
    }
    for h in &args.histogram {
        let (field, subs) = h.split_once('=').unwrap_or((h.as_str(), "product"));
        let subs: Vec<String> = subs.split(',').map(str::to_string).collect();
        params.set(&format!("_histogram.{field}"), &subs);
        if let Some(iv) = &args.interval {
            params.set(&format!("_histogram_interval.{field}"), std::slice::from_ref(iv));
        }
    }
    for a in &args.agg {
        let (path, last) = split_agg(a).ok_or_else(|| anyhow::anyhow!("--agg {a:?}: expected FIELD.SUBFIELD"))?;
        params.set(&format!("_aggs.{path}"), &[last]);
    }
    if let Some(n) = args.size {
        params.set("_facets_size", &[n.to_string()]);
    }
    if !params.contains("date") {
        let today = Local::now().date_naive();
        let dates = date_filters(args.start_date.as_deref(), args.end_date.as_deref(), args.relative_range, today)?;
        params.set("date", &dates);
    }
    params.set("_results_number", &["0".to_string()]);
    let requested_signature = params.get_all("_facets").contains(&"signature");
    let (session, note) = Session::open(&args.api.options(), &std::env::current_dir()?, ctx.stop_flag())?;
    ctx.status(note);
    let session = session.with_notify(retry_notifier(ctx.quiet));
    let body = runtime()?.block_on(session.get_bytes(SUPERSEARCH_PATH, params.pairs()))?;
    let opts = LayoutOptions {
        leftover_count: args.leftover_count,
        denote_weekends: args.denote_weekends,
        ascii_only: args.ascii_only,
    };
    let tables = facet::tables(&body, requested_signature, opts);
    let out = match format {
        Format::Raw => {
            // the whole answer in the server's key order, without the signature facet the
            // server adds unasked (as supersearchfacet --format=raw)
            let mut v: Ordered = serde_json::from_slice(&body)?;
            if let (Ordered::Object(top), false) = (&mut v, requested_signature) {
                for (k, facets) in top.iter_mut() {
                    if let (true, Ordered::Object(f)) = (k == "facets", facets) {
                        f.retain(|(name, _)| name != "signature");
                    }
                }
            }
            v.to_pretty()
        }
        Format::Json if !tables.is_empty() => facet::to_json(&tables).to_pretty(),
        _ => tables
            .iter()
            .map(|t| {
                let table = t.table(opts);
                let body = match format {
                    Format::Tab => format::tab(&table, true),
                    Format::Csv => format::csv(&table, true),
                    Format::Markdown => format::markdown(&table),
                    Format::Bars => t.bars(50),
                    _ => format::rich_markdown(&table),
                };
                format!("{}\n{body}", t.title)
            })
            .collect::<Vec<_>>()
            .join("\n"),
    };
    if out.is_empty() {
        crate::ui::errln!("No output--something went wrong.");
        crate::ui::errln!("host: {}", session.client.host());
        crate::ui::errln!("params: {:?}", params.pairs());
        crate::ui::errln!("payload: {}", String::from_utf8_lossy(&body).chars().take(2000).collect::<String>());
        return Ok(ExitCode::SomeFailed);
    }
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::Success)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_aggregation_specs() {
        assert_eq!(split_agg("product.platform"), Some(("product".into(), "platform".into())));
        assert_eq!(split_agg("product.version.platform"), Some(("product.version".into(), "platform".into())));
        assert_eq!(
            split_agg("product.version._cardinality.install_time"),
            Some(("product.version".into(), "_cardinality.install_time".into()))
        );
        assert_eq!(split_agg("product"), None);
    }

    #[test]
    fn relative_ranges_and_default_dates() {
        assert_eq!(parse_relative("7d"), Ok(Span::days(7)));
        assert_eq!(parse_relative("2w"), Ok(Span::weeks(2)));
        assert_eq!(parse_relative("12h"), Ok(Span::hours(12)));
        assert!(parse_relative("7x").is_err() && parse_relative("d").is_err());
        let today = NaiveDate::from_ymd_opt(2026, 11, 29).unwrap();
        assert_eq!(
            date_filters(None, None, Span::days(7), today).unwrap(),
            vec![">=2026-11-22 23:59:59".to_string(), "<2026-11-29 23:59:59".to_string()]
        );
        assert_eq!(
            date_filters(Some("2026-11-01"), Some("2026-11-07"), Span::days(7), today).unwrap(),
            vec![">=2026-11-01 00:00:00".to_string(), "<2026-11-07 23:59:59".to_string()]
        );
    }
}
