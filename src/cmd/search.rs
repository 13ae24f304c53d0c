//! `crashctl search`: Super Search from the command line, output as crashstats-tools'
//! `supersearch` prints it (tab, csv, markdown byte for byte), as JSON, a table, or crash IDs.

use std::io::Write;

use crashctl::crashstats::format::{self, escape_whitespace, py_str, Ordered, Table, NO_DATA};
use crashctl::crashstats::supersearch::{self, missing_columns, SearchEvent, SearchOptions};
use crashctl::ExitCode;
use serde_json::Value;

use crashctl::crashstats::params::Params;
use crashctl::crashstats::{runtime, Session};

use crate::args::{formats, retry_notifier, CrashStatsArgs, Format, OutputArgs};
use crate::ui::Context;

#[derive(Debug, clap::Args)]
#[command(mut_arg("format", |a| a.value_parser(formats(&[Format::Text, Format::Tab, Format::Csv, Format::Json, Format::Markdown, Format::Ids]))))]
#[command(after_help = "Examples:\n  \
        crashctl search signature=~OOM product=Firefox 'date=>=2026-11-01'\n  \
        crashctl search --columns uuid,signature,version --format csv --headers\n  \
        crashctl search --url 'https://crash-stats.mozilla.org/search/?product=Fenix'\n  \
        crashctl search signature=~OOM --num all --format ids > ids.txt\n\n\
        Filters are Super Search's: FIELD=VALUE with an operator at the start of the value: \
        =exact, ~contains, ^starts with, $ends with, @regex, >= <= > < for numbers and dates, __null__, \
        __true__; FIELD!=VALUE (or a value starting with !) negates; a field given twice matches either \
        value. Examples: signature=~OOM product=Firefox date=>=2026-11-01 'platform!=Linux'.\n\n\
        Results come in pages of 1,000. Super Search stops at 10,000 results: --num all past that \
        searches date window by window (and says so).")]
pub struct Args {
    /// Super Search filters: FIELD=VALUE (e.g. signature=~OOM product=Firefox date=>=2026-11-01)
    #[arg(value_name = "FIELD=VALUE")]
    filters: Vec<String>,

    /// A Super Search page (or API) URL whose filters to start from; FIELD=VALUE arguments
    /// replace its values field by field
    #[arg(long, value_name = "URL")]
    url: Option<String>,

    /// Columns to return (Super Search fields), comma-separated [default: uuid]
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',')]
    columns: Vec<String>,

    /// Sort order, comma-separated; -FIELD sorts descending [default: -date unless a date filter is given]
    #[arg(long, value_name = "FIELD,...", value_delimiter = ',', allow_hyphen_values = true)]
    sort: Vec<String>,

    /// How many results: a number, or `all`
    #[arg(long, value_name = "N|all", default_value = "100", value_parser = parse_num)]
    num: Num,

    #[command(flatten)]
    output: OutputArgs,

    /// Print a header line in tab and csv output (as supersearch --headers)
    #[arg(long, help_heading = crate::args::OUTPUT)]
    headers: bool,

    #[command(flatten)]
    api: CrashStatsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Num(Option<usize>);

fn parse_num(s: &str) -> Result<Num, String> {
    if s == "all" {
        return Ok(Num(None));
    }
    s.parse::<usize>().map(|n| Num(Some(n))).map_err(|_| format!("{s:?}: expected a number or \"all\""))
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<ExitCode> {
    let format = args.output.get();
    let mut params =
        Params::merged(args.url.as_deref(), &args.filters, &["_facets", "_aggs", "_histogram", "_cardinality"])?;
    if !args.columns.is_empty() {
        params.set("_columns", &args.columns);
    }
    if !args.sort.is_empty() {
        params.set("_sort", &args.sort);
    }
    params.set("_facets_size", &["0".to_string()]);
    if !params.contains("_columns") {
        params.set("_columns", &["uuid".to_string()]);
    }
    if format == Format::Ids && !params.get_all("_columns").contains(&"uuid") {
        let mut cols: Vec<String> = params.get_all("_columns").iter().map(|s| s.to_string()).collect();
        cols.insert(0, "uuid".into());
        params.set("_columns", &cols);
    }
    if !params.contains("_sort") && !params.contains("date") {
        params.set("_sort", &["-date".to_string()]);
    }
    let columns: Vec<String> = params.get_all("_columns").iter().map(|s| s.to_string()).collect();
    let (session, note) = Session::open(&args.api.options(), &std::env::current_dir()?, ctx.stop_flag())?;
    ctx.status(note);
    let session = session.with_notify(retry_notifier(ctx.quiet));
    let opts = SearchOptions { params, num: args.num.0, now: chrono::Utc::now() };
    let quiet = ctx.quiet;
    let on_event = move |e: SearchEvent| {
        if let (SearchEvent::Windowing { total }, false) = (e, quiet) {
            crate::ui::errln!(
                "crashctl: {total} crashes match, more than the 10,000 Super Search returns for one query: searching date window by window"
            );
        }
    };
    let result = runtime()?.block_on(supersearch::search(&session, &opts, &on_event))?;
    if result.windows > 0 && !ctx.quiet {
        crate::ui::errln!("crashctl: searched {} date windows, {} results", result.windows, result.hits.len());
    }
    if result.truncated {
        crate::ui::errln!(
            "crashctl: warning: a one-second window held more than 10,000 crashes; only 10,000 of them were returned"
        );
    }
    let missing = missing_columns(&columns, &result.hits);
    if !missing.is_empty() {
        crate::ui::errln!(
            "crashctl: warning: the server left out column(s) {} (a field the token may not see is dropped without a word; \
             check the field name and the token's permissions)",
            missing.join(", ")
        );
    }
    let shown: Vec<String> = columns.iter().filter(|c| !missing.contains(c)).cloned().collect();
    let out = render(&result.hits, &shown, format, args.headers);
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(ExitCode::Success)
}

/// The output for `hits`, `columns` in order.
pub fn render(hits: &[serde_json::Map<String, Value>], columns: &[String], fmt: Format, headers: bool) -> String {
    let table = Table {
        headers: columns.to_vec(),
        rows: hits
            .iter()
            // a column missing from a later hit is empty (tab, csv), as in crashstats-tools
            .map(|h| columns.iter().map(|c| h.get(c).map(py_str).unwrap_or_default()).collect())
            .collect(),
    };
    match fmt {
        Format::Tab => format::tab(&table, headers),
        Format::Csv => format::csv(&table, headers),
        Format::Markdown => format::markdown(&table),
        Format::Text | Format::Prometheus | Format::Raw | Format::Bars => format::plain(&table),
        Format::Ids => {
            hits.iter().filter_map(|h| h.get("uuid").and_then(Value::as_str)).map(|id| format!("{id}\n")).collect()
        }
        Format::Json => {
            let records = hits
                .iter()
                .map(|h| {
                    Ordered::Object(
                        columns
                            .iter()
                            .map(|c| {
                                let v = match h.get(c) {
                                    None => Value::from(NO_DATA),
                                    Some(v) if !crashctl::siggen::py::py_truthy(v) => Value::from(""),
                                    Some(Value::String(s)) => Value::from(escape_whitespace(s)),
                                    Some(other) => other.clone(),
                                };
                                (c.clone(), Ordered::Value(v))
                            })
                            .collect(),
                    )
                })
                .collect();
            Ordered::Array(records).to_pretty()
        }
    }
}
