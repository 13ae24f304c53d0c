//! `crashctl search`, `facet`, `fetch` and `signature` against the Crash Stats stand-in
//! (tests/cli/standin.rs, written from the reference: the real webapp cannot run here).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use chrono::{TimeZone, Utc};
use crashctl::crash::{CrashId, DumpName};
use crashctl::siggen::{SigLists, SignatureGenerator};
use crashctl::store::{CrashStore, FsStore};
use serde_json::Value;

use crate::common::*;
use crate::standin::{generate, Config, FakeCrash, StandIn};

const TOKEN: &str = "tok3nS3cr3tValue0123456789abcdef";
const MASKED: &str = "tok3xxxxxxxxxxxxxxxxxxxxxxxxxxxx";

fn end() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 29, 12, 0, 0).unwrap()
}

fn server(crashes: Vec<FakeCrash>) -> StandIn {
    StandIn::start(Config { crashes, token: Some(TOKEN.into()), ..Config::default() })
}

/// Runs crashctl with the token in the environment and fast retries.
fn run_tok(env: &TestEnv, s: &StandIn, args: &[&str]) -> std::process::Output {
    let host = format!("--host={}", s.url());
    let mut all = args.to_vec();
    all.extend([host.as_str(), "--retry-base-delay=10ms"]);
    env.cmd(&all).env("CRASHSTATS_API_TOKEN", TOKEN).output().expect("run crashctl")
}

fn run_anon(env: &TestEnv, s: &StandIn, args: &[&str]) -> std::process::Output {
    let host = format!("--host={}", s.url());
    let mut all = args.to_vec();
    all.extend([host.as_str(), "--retry-base-delay=10ms"]);
    env.run(&all)
}

fn no_token_leak(o: &std::process::Output) {
    assert!(!stdout(o).contains(TOKEN) && !stderr(o).contains(TOKEN), "the token was printed");
}

fn supersearch_requests(s: &StandIn) -> Vec<crate::standin::Seen> {
    s.seen().into_iter().filter(|r| r.path == "/api/SuperSearch/").collect()
}

// ---- search ----

#[test]
fn search_pages_by_1000_with_offsets_as_supersearch_does() {
    let s = server(generate(3300, end(), 7));
    let env = TestEnv::new();
    let o = run_tok(&env, &s, &["search", "product=Firefox", "--num", "1100", "--format", "ids"]);
    assert_code(&o, 0);
    no_token_leak(&o);
    assert!(stderr(&o).contains(MASKED), "{}", stderr(&o));
    let ids: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(ids.len(), 1100);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 1100, "no duplicates across pages");
    let reqs = supersearch_requests(&s);
    let pages: Vec<(&str, &str)> =
        reqs.iter().map(|r| (r.get("_results_offset")[0], r.get("_results_number")[0])).collect();
    assert_eq!(pages, vec![("0", "1000"), ("1000", "100")]);
    for r in &reqs {
        assert_eq!(r.get("_facets_size"), vec!["0"]);
        assert_eq!(r.get("_columns"), vec!["uuid"]);
        assert_eq!(r.get("_sort"), vec!["-date"], "newest first when no date filter");
        assert_eq!(r.get("product"), vec!["Firefox"]);
        assert_eq!(r.token.as_deref(), Some(TOKEN));
    }
}

#[test]
fn search_all_past_the_10000_cap_splits_the_date_range_into_windows() {
    let crashes = generate(12_500, end(), 7);
    let want: HashSet<String> = crashes.iter().map(|c| c.id.clone()).collect();
    let s = server(crashes);
    let env = TestEnv::new();
    let o = run_tok(&env, &s, &["search", "--num", "all", "--format", "ids", "date=>=2026-11-20", "date=<2026-11-30"]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("date window"), "says so: {}", stderr(&o));
    let got: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    assert_eq!(got.len(), 12_500, "every crash once");
    assert_eq!(got.into_iter().collect::<HashSet<_>>(), want);
    for r in supersearch_requests(&s) {
        assert_eq!(r.status, 200, "no request past the cap: {:?}", r.query);
    }
}

/// Crashes whose signatures hold what the formats must escape.
fn tricky() -> Vec<FakeCrash> {
    let mut a = FakeCrash::new(1, end() - chrono::Duration::hours(1), "Firefox", "a\tb|c\nd");
    a.fields.insert("version".into(), Value::Null);
    let b = FakeCrash::new(2, end() - chrono::Duration::hours(2), "Firefox", "x,\"y\" | ü");
    vec![a, b]
}

#[test]
fn search_tab_csv_markdown_are_byte_identical_to_supersearch() {
    let crashes = tricky();
    let (a, b) = (crashes[0].id.clone(), crashes[1].id.clone());
    let s = server(crashes);
    let env = TestEnv::new();
    let cols = ["search", "--columns", "uuid,signature,version"];
    let fmt = |extra: &[&str]| {
        let mut args = cols.to_vec();
        args.extend(extra);
        let o = run_anon(&env, &s, &args);
        assert_code(&o, 0);
        stdout(&o)
    };
    // rules: str() of each value (null -> None), \t \r \n escaped as two characters, TAB-joined
    assert_eq!(fmt(&["--format", "tab"]), format!("{a}\ta\\tb|c\\nd\tNone\n{b}\tx,\"y\" | ü\t142.0\n"));
    assert_eq!(
        fmt(&["--format", "tab", "--headers"]),
        format!("uuid\tsignature\tversion\n{a}\ta\\tb|c\\nd\tNone\n{b}\tx,\"y\" | ü\t142.0\n")
    );
    // csv: excel dialect, minimal quoting with "" doubling, lines end in \n
    assert_eq!(
        fmt(&["--format", "csv", "--headers"]),
        format!("uuid,signature,version\n{a},a\\tb|c\\nd,None\n{b},\"x,\"\"y\"\" | ü\",142.0\n")
    );
    // markdown: header always, one dash per header character, | escaped
    assert_eq!(
        fmt(&["--format", "markdown"]),
        format!("uuid | signature | version\n---- | --------- | -------\n{a} | a\\tb\\|c\\nd | None\n{b} | x,\"y\" \\| ü | 142.0\n")
    );
    let json: Value = serde_json::from_str(&fmt(&["--format", "json"])).unwrap();
    assert_eq!(json[0]["signature"], "a\\tb|c\\nd");
    assert_eq!(json[0]["version"], "", "falsy values are empty strings");
}

#[test]
fn search_warns_when_the_server_drops_columns_the_token_may_not_see() {
    let s = server(generate(5, end(), 1));
    let env = TestEnv::new();
    let o = run_anon(&env, &s, &["search", "--columns", "uuid,email", "--format", "tab", "--headers"]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("left out column(s) email"), "{}", stderr(&o));
    assert!(stdout(&o).starts_with("uuid\n"), "only the columns that came back: {}", stdout(&o));
    // with a token that may see it, no warning
    let o = run_tok(&env, &s, &["search", "--columns", "uuid,email"]);
    assert_code(&o, 0);
    assert!(!stderr(&o).contains("left out"), "{}", stderr(&o));
    assert!(stdout(&o).contains("@example.com"));
}

#[test]
fn search_url_keeps_its_filters_and_arguments_replace_them() {
    let s = server(generate(60, end(), 3));
    let env = TestEnv::new();
    let url = format!(
        "{}/search/?product=Fenix&signature=~Foo&_facets=signature&_columns=uuid&_columns=product#facet-signature",
        s.url()
    );
    let o = run_anon(&env, &s, &["search", "--url", &url, "signature=~OOM", "--format", "tab"]);
    assert_code(&o, 0);
    let r = &supersearch_requests(&s)[0];
    assert_eq!(r.get("product"), vec!["Fenix"]);
    assert_eq!(r.get("signature"), vec!["~OOM"], "the argument replaces the URL's value");
    assert!(r.get("_facets").is_empty(), "aggregations of the URL are dropped");
    assert_eq!(r.get("_columns"), vec!["uuid", "product"]);
    assert!(!stdout(&o).is_empty());
    assert!(stdout(&o).lines().all(|l| l.ends_with("\tFenix")), "{}", stdout(&o));
}

#[test]
fn search_with_a_bad_token_fails_with_the_servers_message_and_masks_it() {
    let s = StandIn::start(Config {
        crashes: generate(3, end(), 1),
        token: Some("another-token-entirely".into()),
        ..Config::default()
    });
    let env = TestEnv::new();
    let o = run_tok(&env, &s, &["search"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("API Token not matched"), "{}", stderr(&o));
    no_token_leak(&o);
    let o = run_anon(&env, &s, &["search", "not-a-filter"]);
    assert_code(&o, 2);
    assert!(stderr(&o).contains("expected FIELD=VALUE"), "{}", stderr(&o));
}

// ---- facet ----

fn counts_by(crashes: &[FakeCrash], field: &str) -> Vec<(String, usize)> {
    let mut m: BTreeMap<String, usize> = BTreeMap::new();
    for c in crashes {
        *m.entry(c.fields[field].as_str().unwrap().to_string()).or_default() += 1;
    }
    let mut v: Vec<_> = m.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    v
}

#[test]
fn facet_tables_are_supersearchfacets() {
    let crashes = generate(40, end(), 3);
    let counts = counts_by(&crashes, "product");
    let s = server(crashes);
    let env = TestEnv::new();
    let o = run_anon(&env, &s, &["facet", "--facet", "product", "--format", "tab", "date=>=2026-11-01"]);
    assert_code(&o, 0);
    let mut want = String::from("product\nproduct\tcount\n");
    for (p, n) in &counts {
        want.push_str(&format!("{p}\t{n}\n"));
    }
    want.push_str("total\t40\n");
    assert_eq!(stdout(&o), want);
    let r = &supersearch_requests(&s)[0];
    assert_eq!(r.get("_results_number"), vec!["0"]);
    assert_eq!(r.get("_facets"), vec!["product"]);
    // rich's markdown box: ` a | b ` padded, a dash rule, trailing spaces kept
    let o = run_anon(&env, &s, &["facet", "--facet", "product", "date=>=2026-11-01"]);
    let w = counts.iter().map(|(p, _)| p.len()).max().unwrap().max("product".len());
    let mut want = format!("product\n {:<w$} | count \n{}|-------\n", "product", "-".repeat(w + 2));
    for (p, n) in &counts {
        want.push_str(&format!(" {p:<w$} | {n:<5} \n"));
    }
    want.push_str(&format!(" {:<w$} | {:<5} \n", "total", 40));
    assert_eq!(stdout(&o), want);
    // without a date filter: the 7 days up to today, as two date filters
    let o = run_anon(&env, &s, &["facet", "--facet", "product", "--format", "csv"]);
    assert_code(&o, 0);
    let last = supersearch_requests(&s).pop().unwrap();
    let dates = last.get("date");
    assert_eq!(dates.len(), 2);
    assert!(dates[0].starts_with(">=") && dates[1].starts_with('<'), "{dates:?}");
}

#[test]
fn facet_histogram_bars_mark_weekends_and_keep_non_ascii() {
    let crashes = generate(30, end(), 5);
    let mut per_day: BTreeMap<String, usize> = BTreeMap::new();
    for c in &crashes {
        *per_day.entry(c.date.format("%Y-%m-%d").to_string()).or_default() += 1;
    }
    let s = server(crashes);
    let env = TestEnv::new();
    let o = run_anon(&env, &s, &["facet", "--histogram", "date", "--format", "bars", "date=>=2026-11-01"]);
    assert_code(&o, 0);
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(lines.len(), per_day.len(), "{out}");
    for (line, (d, n)) in lines.iter().zip(&per_day) {
        let weekend = matches!(d.as_str(), "2026-11-28" | "2026-11-29" | "2026-11-22");
        let fields: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(fields[0], d);
        assert_eq!(fields[1] == "*", weekend, "{line}");
        assert!(line.contains(&format!(" {n} ")), "{line}");
        assert!(line.contains('█'));
    }
    let o = run_anon(
        &env,
        &s,
        &["facet", "--histogram", "date=product", "--format", "tab", "--denote-weekends", "date=>=2026-11-01"],
    );
    assert!(stdout(&o).contains("\n2026-11-28 **\t"), "{}", stdout(&o));
    assert!(stdout(&o).starts_with("histogram_date.product\nhistogram_date\tFenix\tFirefox\tThunderbird\ttotal\n"));
    // the signature facet keeps non-ASCII terms (supersearchfacet drops them)
    let o = run_anon(&env, &s, &["facet", "--facet", "signature", "--format", "tab", "date=>=2026-11-01"]);
    assert!(stdout(&o).contains("Überfunktion\t"), "{}", stdout(&o));
    let o =
        run_anon(&env, &s, &["facet", "--facet", "signature", "--format", "tab", "--ascii-only", "date=>=2026-11-01"]);
    assert!(stdout(&o).contains("\nberfunktion\t"), "{}", stdout(&o));
}

#[test]
fn facet_cardinality_and_nested_aggregations() {
    let s = server(generate(12, end(), 2));
    let env = TestEnv::new();
    let o = run_anon(&env, &s, &["facet", "--cardinality", "platform", "--format", "tab", "date=>=2026-11-01"]);
    assert_code(&o, 0);
    assert_eq!(stdout(&o), "cardinality_platform\ncardinality_platform\tvalue\nvalue\t2\n");
    let o = run_anon(&env, &s, &["facet", "--agg", "product.platform", "--format", "json", "date=>=2026-11-01"]);
    assert_code(&o, 0);
    let v = json(&o);
    let rows = v["product / platform"].as_array().expect("nested key");
    assert!(rows.iter().any(|r| r["product / platform"] == "Firefox / Windows NT"), "{v}");
    assert_eq!(rows.last().unwrap()["count"], 12, "a total row");
    assert_eq!(supersearch_requests(&s).last().unwrap().get("_aggs.product"), vec!["platform"]);
}

// ---- fetch ----

fn ids_of(crashes: &[FakeCrash]) -> Vec<String> {
    crashes.iter().map(|c| c.id.clone()).collect()
}

#[test]
fn fetch_into_a_v1_store_that_the_store_reads_whole() {
    let crashes = generate(6, end(), 2);
    let ids = ids_of(&crashes);
    let s = server(crashes);
    let env = TestEnv::new();
    let o = env
        .cmd(&["fetch", "--dumps", "--processed", "--store", "st", &format!("--host={}", s.url())])
        .env("CRASHSTATS_API_TOKEN", TOKEN)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(ids.join("\n").as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert_code(&o, 0);
    no_token_leak(&o);
    let store = FsStore::open(env.path("st"), false).unwrap();
    for id in &ids {
        let id = CrashId::parse_lax(id).unwrap();
        let crash = store.get_crash(&id).unwrap();
        assert_eq!(crash.dumps.len(), 2);
        assert!(env.path("st/v1/dump").join(id.as_str()).is_file(), "main dump as v1/dump/ID");
        assert!(store.get_processed(&id).unwrap().is_some());
        assert_eq!(store.get_dump(&id, &DumpName::main()).unwrap(), format!("MDMP main dump of {id}").into_bytes());
    }
    // every dump was asked for by its request name (`dump` for the main one)
    let names: HashSet<String> =
        s.seen().iter().filter(|r| r.get("format") == vec!["raw"]).map(|r| r.get("name")[0].to_string()).collect();
    assert_eq!(names, ["dump", "upload_file_minidump_content"].iter().map(|s| s.to_string()).collect());
}

/// The shared test data (minidumps, symbols); under CI=true its absence fails the test.
fn testdata() -> Option<std::path::PathBuf> {
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/testdata"));
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(std::env::var("CI").is_err(), "{} is absent (CI=true: no test passes by skipping)", dir.display());
    None
}

#[test]
fn fetched_crashes_are_processed_by_process_store_at_once() {
    let Some(data) = testdata() else { return };
    let mut crashes = generate(1, end(), 1);
    crashes[0].dumps[0].1 = std::fs::read(data.join("minidumps/test.dmp")).unwrap();
    let id = crashes[0].id.clone();
    let s = server(crashes);
    let env = TestEnv::new();
    assert_code(&run_tok(&env, &s, &["fetch", "--store", "st", "--dumps", &id]), 0);
    let symbols = data.join("symbols");
    let o = env.run(&["process", "--store", "st", "--symbols-path", symbols.to_str().unwrap(), &id]);
    assert_code(&o, 0);
    let store = FsStore::open(env.path("st"), false).unwrap();
    let p = store.get_processed(&CrashId::parse_lax(&id).unwrap()).unwrap().expect("processed");
    assert_eq!(p["json_dump"]["crashing_thread"]["frames"][0]["function"], "`anonymous namespace'::CrashFunction");
}

#[test]
fn fetch_data_layout_is_byte_for_byte_crashstats_tools() {
    let crashes = generate(2, end(), 1);
    let id = crashes[0].id.clone();
    let raw = crashes[0].raw.clone();
    let processed = crashes[0].processed.clone().unwrap();
    let s = server(crashes);
    let env = TestEnv::new();
    let o = run_tok(&env, &s, &["fetch", "--layout", "fetch-data", "--store", "out", "--dumps", "--processed", &id]);
    assert_code(&o, 0);
    // what Python's json.dump(indent=2, sort_keys=True) writes, computed by Python itself
    let python = |v: &Value| -> Vec<u8> {
        let out = std::process::Command::new("python3")
            .args([
                "-c",
                "import json,sys; sys.stdout.write(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True))",
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(v.to_string().as_bytes())?;
                c.wait_with_output()
            })
            .expect("python3 (needed to check crashstats-tools' JSON formatting)");
        out.stdout
    };
    let day = format!("20{}", &id[30..]);
    assert_eq!(std::fs::read(env.path("out/raw_crash").join(&day).join(&id)).unwrap(), python(&raw));
    assert_eq!(std::fs::read(env.path("out/processed_crash").join(&id)).unwrap(), python(&processed));
    assert_eq!(
        std::fs::read_to_string(env.path("out/dump_names").join(&id)).unwrap(),
        "[\"upload_file_minidump\", \"upload_file_minidump_content\"]"
    );
    assert_eq!(
        std::fs::read(env.path("out/upload_file_minidump").join(&id)).unwrap(),
        format!("MDMP main dump of {id}").into_bytes()
    );
    assert!(env.path("out/upload_file_minidump_content").join(&id).is_file());
    assert!(!env.path("out/v1").exists() && !env.path("out/dump").exists());
}

#[test]
fn fetch_404_names_the_crash_and_the_run_goes_on() {
    let crashes = generate(3, end(), 1);
    let ids = ids_of(&crashes);
    let s = server(crashes);
    let env = TestEnv::new();
    let missing = "00000000-dead-4000-a000-000000261101";
    let o =
        run_tok(&env, &s, &["fetch", "--store", "st", "--processed", &ids[0], missing, &ids[1], &ids[2], "not-an-id"]);
    // an incomplete crash is 1, an invalid ID given is 2 (the rule of every command), the worst wins
    assert_code(&o, 2);
    let err = stderr(&o);
    assert!(err.contains(&format!("crash {missing}: no raw crash on the server (HTTP 404)")), "{err}");
    assert!(err.contains("skipping \"not-an-id\""), "{err}");
    assert!(err.contains("3 complete, 1 incomplete"), "{err}");
    let store = FsStore::open(env.path("st"), false).unwrap();
    for id in &ids {
        assert!(store.has_raw(&CrashId::parse_lax(id).unwrap()).unwrap(), "{id} fetched despite the 404 before it");
    }
}

#[test]
fn fetch_403_for_dumps_names_the_permission_and_keeps_the_rest() {
    let crashes = generate(2, end(), 1);
    let ids = ids_of(&crashes);
    let s = StandIn::start(Config { crashes, token: Some(TOKEN.into()), view_rawdump: false, ..Config::default() });
    let env = TestEnv::new();
    let o =
        run_tok(&env, &s, &["fetch", "--store", "st", "--dumps", "--processed", "--format", "json", &ids[0], &ids[1]]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("View Raw Dumps"), "{}", stderr(&o));
    let report = json(&o);
    assert_eq!(report["incomplete"], 2);
    for c in report["crashes"].as_array().unwrap() {
        assert_eq!(c["problems"][0]["kind"], "forbidden");
        assert!(c["fetched"].as_array().unwrap().contains(&Value::from("processed crash")));
    }
    let store = FsStore::open(env.path("st"), false).unwrap();
    let id = CrashId::parse_lax(&ids[0]).unwrap();
    assert!(store.has_raw(&id).unwrap() && store.has_processed(&id).unwrap(), "what it may fetch is saved");
}

#[test]
fn fetch_rerun_skips_what_is_there_and_overwrite_fetches_again() {
    let crashes = generate(4, end(), 1);
    let ids = ids_of(&crashes);
    let s = server(crashes);
    let env = TestEnv::new();
    let mut args = vec!["fetch", "--store", "st", "--dumps", "--processed"];
    args.extend(ids.iter().map(String::as_str));
    assert_code(&run_tok(&env, &s, &args), 0);
    let first = s.seen().len();
    assert_eq!(first, 4 * 4, "raw, two dumps, processed per crash");
    let o = run_tok(&env, &s, &args);
    assert_code(&o, 0);
    assert_eq!(s.seen().len(), first, "nothing fetched again");
    assert!(stderr(&o).contains("16 objects already there"), "{}", stderr(&o));
    args.push("--overwrite");
    assert_code(&run_tok(&env, &s, &args), 0);
    assert_eq!(s.seen().len(), 2 * first);
}

#[test]
fn fetch_retries_429_and_5xx_per_request() {
    let crashes = generate(2, end(), 1);
    let ids = ids_of(&crashes);
    let s = server(crashes);
    s.fail_next("/api/RawCrash/", &[429, 500, 502]);
    s.fail_next(&format!("/api/ProcessedCrash/?{}", ids[1]), &[503]);
    let env = TestEnv::new();
    let o = run_tok(&env, &s, &["fetch", "--store", "st", "--processed", &ids[0], &ids[1]]);
    assert_code(&o, 0);
    assert!(stderr(&o).contains("HTTP 429"), "{}", stderr(&o));
    let statuses: Vec<u16> = s.seen().iter().map(|r| r.status).collect();
    assert_eq!(statuses.iter().filter(|&&st| st != 200).count(), 4, "{statuses:?}");
    // past the retries, the crash is reported and the run still ends with a summary
    s.fail_next(&format!("/api/ProcessedCrash/?{}", ids[0]), &[500; 10]);
    let o = run_tok(&env, &s, &["fetch", "--store", "st2", "--processed", "--retries", "2", &ids[0], &ids[1]]);
    assert_code(&o, 1);
    assert!(stderr(&o).contains("gave up after 3 attempts"), "{}", stderr(&o));
}

#[test]
fn fetch_under_a_rate_limit_slows_down_together_and_finishes() {
    let crashes = generate(40, end(), 1);
    let ids = ids_of(&crashes);
    let s =
        StandIn::start(Config { crashes, token: Some(TOKEN.into()), per_second_limit: Some(20), ..Config::default() });
    let env = TestEnv::new();
    let mut args = vec!["fetch", "--store", "st", "--processed", "-j", "10", "--retries", "8"];
    args.extend(ids.iter().map(String::as_str));
    let o = run_tok(&env, &s, &args);
    assert_code(&o, 0);
    let seen = s.seen();
    let throttled = seen.iter().filter(|r| r.status == 429).count();
    assert!(throttled > 0, "the limit was reached");
    // after the first 429 everyone is paced at 1,000/min (below the 20/s limit): the 429s last
    // until the first burst leaves the server's one-second window, not one per request
    assert!(throttled < 40, "{throttled} 429s for {} requests", seen.len());
    assert_eq!(seen.iter().filter(|r| r.status == 200).count(), 80);
}

// ---- signature ----

#[test]
fn signature_shows_old_and_new_and_only_changes_with_changed() {
    let mut crashes = generate(4, end(), 1);
    let generator = SignatureGenerator::new(SigLists::builtin());
    let expected: Vec<String> = crashes
        .iter()
        .map(|c| {
            let raw = c.raw.as_object().unwrap().clone();
            generator.generate(&raw, c.processed.as_ref().unwrap().as_object().unwrap()).signature
        })
        .collect();
    // the server already has the regenerated signature for the first crash
    crashes[0].processed.as_mut().unwrap()["signature"] = Value::from(expected[0].clone());
    let ids = ids_of(&crashes);
    let s = server(crashes);
    let env = TestEnv::new();
    let o =
        run_tok(&env, &s, &["signature", "--format", "json", &ids[0], &ids[1], "00000000-dead-4000-a000-000000261101"]);
    assert_code(&o, 1);
    let rows = json_lines(&o);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["changed"], false);
    assert_eq!(rows[1]["old"], "mozilla::dom::Foo");
    assert_eq!(rows[1]["new"], expected[1].as_str());
    assert_eq!(rows[1]["changed"], true);
    assert!(stderr(&o).contains("no processed crash on the server"), "{}", stderr(&o));
    let o = run_tok(&env, &s, &["signature", "--changed", &ids[0], &ids[1]]);
    assert_code(&o, 0);
    let out = stdout(&o);
    assert!(!out.contains(&ids[0]) && out.contains(&ids[1]), "{out}");
    assert!(out.contains("mozilla::dom::Foo") && out.contains(&expected[1]), "{out}");
    let o = run_tok(&env, &s, &["signature", "--changed", "--format", "ids", &ids[0], &ids[1]]);
    assert_eq!(stdout(&o), format!("{}\n", ids[1]), "what to pipe into reprocess");
    // other lists, other signatures
    let lists = env.path("lists");
    std::fs::create_dir_all(&lists).unwrap();
    for f in ["irrelevant_signature_re.txt", "signatures_with_line_numbers_re.txt", "signature_sentinels.txt"] {
        std::fs::write(lists.join(f), "").unwrap();
    }
    std::fs::write(lists.join("prefix_signature_re.txt"), "crashy_function_.*\n").unwrap();
    let o = run_tok(&env, &s, &["signature", "--format", "json", "--siglists", lists.to_str().unwrap(), &ids[1]]);
    assert_code(&o, 0);
    assert_eq!(json_lines(&o)[0]["new"], "crashy_function_1 | caller");
}

#[test]
fn read_only_commands_default_to_crash_stats_and_take_crashstats_host() {
    let s = server(generate(2, end(), 1));
    let env = TestEnv::new();
    let o = env.cmd(&["search", "--num", "1"]).env("CRASHSTATS_HOST", s.url()).output().unwrap();
    assert_code(&o, 0);
    assert_eq!(supersearch_requests(&s).len(), 1, "the request went to $CRASHSTATS_HOST");
    let help = stdout(&env.run(&["fetch", "--help"]));
    assert!(help.contains("https://crash-stats.mozilla.org"), "{help}");
    let _ = Duration::ZERO;
}
