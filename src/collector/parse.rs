//! A crash submission as the collector reads it: a pure function over the request headers and
//! body bytes (no I/O), so every malformed case is unit-tested without a server.

use std::io::Read;

use axum::http::header::{
    AUTHORIZATION, CONTENT_DISPOSITION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, USER_AGENT,
};
use axum::http::HeaderMap;
use bytes::Bytes;
use futures_util::FutureExt;

use crate::crash::{DumpName, DumpNameError, RawCrash};

/// Why a submission is malformed: answered `400 Discarded=malformed_<name>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Malformed {
    #[error("no Content-Type header")]
    NoContentType,
    #[error("Content-Type is not multipart/form-data or multipart/mixed")]
    WrongContentType,
    #[error("Content-Type has no boundary")]
    NoBoundary,
    #[error("no Content-Length, or 0")]
    NoContentLength,
    #[error("Content-Encoding is gzip but the body is not")]
    BadGzip,
    #[error("the JSON part is not JSON")]
    InvalidJson,
    #[error("the JSON part is not an object")]
    InvalidJsonValue,
    #[error("a dump has a reserved or empty name")]
    InvalidDumpName,
    #[error("a dump is named `dump`, where the main dump (upload_file_minidump) is stored")]
    DumpNameCollision,
    #[error("more dumps than the collector keeps for one crash")]
    TooManyDumps,
    #[error("the multipart body cannot be parsed")]
    InvalidPayloadStructure,
    #[error("no annotations")]
    NoAnnotations,
    #[error("the uuid annotation is not a crash ID")]
    InvalidUuid,
}

impl Malformed {
    /// The reason as it appears in `Discarded=malformed_<name>`.
    pub fn name(self) -> &'static str {
        match self {
            Malformed::NoContentType => "no_content_type",
            Malformed::WrongContentType => "wrong_content_type",
            Malformed::NoBoundary => "no_boundary",
            Malformed::NoContentLength => "no_content_length",
            Malformed::BadGzip => "bad_gzip",
            Malformed::InvalidJson => "invalid_json",
            Malformed::InvalidJsonValue => "invalid_json_value",
            Malformed::InvalidDumpName => "invalid_dump_name",
            Malformed::DumpNameCollision => "dump_name_collision",
            Malformed::TooManyDumps => "too_many_dumps",
            Malformed::InvalidPayloadStructure => "invalid_payload_structure",
            Malformed::NoAnnotations => "no_annotations",
            Malformed::InvalidUuid => "invalid_uuid",
        }
    }

    /// Every reason, for tests and metrics.
    pub const ALL: [Malformed; 13] = [
        Malformed::NoContentType,
        Malformed::WrongContentType,
        Malformed::NoBoundary,
        Malformed::NoContentLength,
        Malformed::BadGzip,
        Malformed::InvalidJson,
        Malformed::InvalidJsonValue,
        Malformed::InvalidDumpName,
        Malformed::DumpNameCollision,
        Malformed::TooManyDumps,
        Malformed::InvalidPayloadStructure,
        Malformed::NoAnnotations,
        Malformed::InvalidUuid,
    ];
}

/// Why a submission is refused before it gets a crash ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed: {0}")]
    Malformed(Malformed),
    /// The body as sent is over the limit (413).
    #[error("body over the size limit")]
    TooLarge,
    /// The gzip body decompresses to more than the cap (413).
    #[error("gzip body decompresses over the size limit")]
    DecompressedTooLarge,
    /// A `uuid` annotation without a valid bearer token (401).
    #[error("uuid annotation without a valid bearer token")]
    UnauthorizedUuid,
    /// A client-chosen crash ID that is already stored (409).
    #[error("the uuid annotation names a crash that is already stored")]
    UuidExists,
    /// The request bodies in flight (decompressed bytes included) would pass the collector's
    /// memory budget (503: the client retries later).
    #[error("the collector's memory budget for request bodies is spent")]
    Busy,
}

impl Rejection {
    /// A stable name (the metrics label and the submitter's discard reason).
    pub fn name(self) -> String {
        match self {
            Rejection::Malformed(m) => format!("malformed_{}", m.name()),
            Rejection::TooLarge => "too_large".into(),
            Rejection::DecompressedTooLarge => "decompressed_too_large".into(),
            Rejection::UnauthorizedUuid => "unauthorized_uuid".into(),
            Rejection::UuidExists => "uuid_exists".into(),
            Rejection::Busy => "busy".into(),
        }
    }

    pub fn status(self) -> u16 {
        match self {
            Rejection::Malformed(_) => 400,
            Rejection::TooLarge | Rejection::DecompressedTooLarge => 413,
            Rejection::UnauthorizedUuid => 401,
            Rejection::UuidExists => 409,
            Rejection::Busy => 503,
        }
    }

    /// The response body (the 413 for the body limit has none, as nginx in front of Antenna).
    pub fn body(self) -> String {
        match self {
            Rejection::TooLarge | Rejection::Busy => String::new(),
            other => format!("Discarded={}", other.name()),
        }
    }
}

impl From<Malformed> for Rejection {
    fn from(m: Malformed) -> Rejection {
        Rejection::Malformed(m)
    }
}

/// What the headers say, checked before the body is read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestInfo {
    pub boundary: String,
    pub content_length: u64,
    /// `Content-Encoding: gzip` (exactly).
    pub gzip: bool,
    pub user_agent: String,
    /// The token of an `Authorization: Bearer <token>` header.
    pub bearer: Option<String>,
}

/// The headers' part of the checks, in Antenna's order: content type, boundary, length.
pub fn check_headers(headers: &HeaderMap) -> Result<RequestInfo, Malformed> {
    let ct = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::trim).unwrap_or("");
    if ct.is_empty() {
        return Err(Malformed::NoContentType);
    }
    let (mime, params) = ct.split_once(';').map(|(m, p)| (m.trim(), p.trim())).unwrap_or((ct, ""));
    if !["multipart/form-data", "multipart/mixed"].contains(&mime.to_ascii_lowercase().as_str()) {
        return Err(Malformed::WrongContentType);
    }
    if !params.starts_with("boundary=") {
        return Err(Malformed::NoBoundary);
    }
    let boundary = params["boundary=".len()..].split(';').next().unwrap_or("").trim().trim_matches('"');
    if boundary.is_empty() {
        return Err(Malformed::NoBoundary);
    }
    let content_length = headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    if content_length == 0 {
        return Err(Malformed::NoContentLength);
    }
    let text = |name| headers.get(name).and_then(|v: &axum::http::HeaderValue| v.to_str().ok());
    Ok(RequestInfo {
        boundary: boundary.to_string(),
        content_length,
        gzip: text(CONTENT_ENCODING) == Some("gzip"),
        user_agent: text(USER_AGENT).unwrap_or("").to_string(),
        bearer: text(AUTHORIZATION).and_then(|v| v.strip_prefix("Bearer ")).map(|t| t.trim().to_string()),
    })
}

/// A parsed submission: the client's annotations and dumps, before the collector adds anything.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub annotations: RawCrash,
    /// Dumps in the order first seen; a later part of the same name replaced the earlier.
    pub dumps: Vec<(DumpName, Bytes)>,
    /// Collector notes from parsing.
    pub notes: Vec<String>,
    /// `"json"` when an `extra` JSON part was sent, else `"multipart"`.
    pub payload: &'static str,
    /// The body was gzip-compressed.
    pub compressed: bool,
    /// Bytes as sent.
    pub payload_size: u64,
}

/// Default cap on dumps in one crash (`--max-dumps`): real crashes have 1 to 5.
pub const DEFAULT_MAX_DUMPS: usize = 100;

/// What one request may grow to while it is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// What a gzip body may inflate to (413 `decompressed_too_large` past it).
    pub max_decompressed: u64,
    /// Dumps in one crash (400 `malformed_too_many_dumps` past it).
    pub max_dumps: usize,
}

/// Asks for `n` more bytes of the memory budget; `false` refuses the request (503).
pub type Charge<'a> = &'a mut dyn FnMut(u64) -> bool;

/// Parses the body (decompressing it first when the headers say gzip). `max_decompressed`
/// caps what a gzip body may inflate to.
pub fn parse_body(info: &RequestInfo, body: Bytes, max_decompressed: u64) -> Result<Payload, Rejection> {
    let limits = Limits { max_decompressed, max_dumps: DEFAULT_MAX_DUMPS };
    parse_body_within(info, body, limits, &mut |_| true)
}

/// [`parse_body`] with every limit, charging each decompressed byte to `charge` before it is
/// kept (the collector's memory budget).
pub fn parse_body_within(
    info: &RequestInfo,
    body: Bytes,
    limits: Limits,
    charge: Charge,
) -> Result<Payload, Rejection> {
    let payload_size = body.len() as u64;
    let data = if info.gzip { gunzip(&body, limits.max_decompressed, charge)? } else { body };
    let mut payload = Payload {
        annotations: RawCrash::new(),
        dumps: Vec::new(),
        notes: Vec::new(),
        payload: "multipart",
        compressed: info.gzip,
        payload_size,
    };
    let (parts, undecodable_names) = read_parts(data, &info.boundary)?;
    for _ in 0..undecodable_names {
        payload.notes.push("a part has an undecodable name; dropped".into());
    }
    let (mut has_json, mut has_kv) = (false, false);
    for part in parts {
        match part.kind() {
            PartKind::Ignored => {}
            PartKind::Json => {
                has_json = true;
                payload.annotations = parse_json_part(&part.data)?;
            }
            PartKind::Annotation => match String::from_utf8(part.data.to_vec()) {
                Ok(text) => {
                    has_kv = true;
                    payload.annotations.insert(part.name, text.into());
                }
                Err(_) => payload.notes.push(format!("{} has an undecodable value; dropped", part.name)),
            },
            PartKind::Dump => add_dump(&mut payload, part, limits.max_dumps)?,
        }
    }
    if payload.annotations.is_empty() {
        return Err(Malformed::NoAnnotations.into());
    }
    if has_json {
        payload.payload = "json";
        if has_kv {
            payload.notes.push("includes annotations in both json-encoded extra and formdata parts".into());
        }
    }
    Ok(payload)
}

/// [`check_headers`] then [`parse_body`]: the whole request as the collector reads it.
pub fn parse_request(headers: &HeaderMap, body: Bytes, max_decompressed: u64) -> Result<Payload, Rejection> {
    let info = check_headers(headers)?;
    parse_body(&info, body, max_decompressed)
}

/// Inflates a gzip body, at most `cap` bytes, charging each piece to the budget before it is
/// kept (so many bombs at once are refused, not held in memory together).
fn gunzip(body: &[u8], cap: u64, charge: Charge) -> Result<Bytes, Rejection> {
    const PIECE: usize = 64 * 1024;
    let mut out = Vec::new();
    let mut reader = flate2::read::GzDecoder::new(body).take(cap.saturating_add(1));
    let mut piece = vec![0u8; PIECE];
    loop {
        let n = match reader.read(&mut piece) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => return Err(Malformed::BadGzip.into()),
        };
        if (out.len() + n) as u64 > cap {
            return Err(Rejection::DecompressedTooLarge);
        }
        if !charge(n as u64) {
            return Err(Rejection::Busy);
        }
        out.extend_from_slice(&piece[..n]);
    }
    Ok(out.into())
}

/// One multipart part, read whole.
struct Part {
    name: String,
    filename: Option<String>,
    content_type: Option<String>,
    data: Bytes,
}

enum PartKind {
    Ignored,
    Json,
    Annotation,
    Dump,
}

impl Part {
    fn kind(&self) -> PartKind {
        let ct = self.content_type.as_deref().unwrap_or("");
        if self.name.is_empty() {
            PartKind::Ignored
        } else if ct.starts_with("application/json") {
            PartKind::Json
        } else if (ct.is_empty() || ct.starts_with("text/plain")) && self.filename.is_none() {
            PartKind::Annotation
        } else {
            PartKind::Dump
        }
    }
}

/// Does a part's `Content-Disposition` give a `name` (that multer could not decode as UTF-8)?
fn has_name_param(headers: &HeaderMap) -> bool {
    let Some(cd) = headers.get(CONTENT_DISPOSITION) else { return false };
    cd.as_bytes().split(|b| *b == b';').any(|p| {
        let p = p.trim_ascii_start();
        p.len() >= 5 && p[..5].eq_ignore_ascii_case(b"name=")
    })
}

/// Splits the body into parts with multer, and counts the parts whose name is not UTF-8
/// (dropped, with a note). The stream is one in-memory chunk, so the parser never waits: the
/// future is polled once.
fn read_parts(data: Bytes, boundary: &str) -> Result<(Vec<Part>, usize), Malformed> {
    let stream = futures_util::stream::once(futures_util::future::ready(Ok::<_, std::io::Error>(data)));
    let mut mp = multer::Multipart::new(stream, boundary);
    let read_all = async move {
        let mut parts = Vec::new();
        let mut undecodable = 0;
        while let Some(mut field) = mp.next_field().await? {
            if field.name().is_none() && has_name_param(field.headers()) {
                undecodable += 1;
            }
            let name = field.name().unwrap_or("").to_string();
            let filename = field.file_name().map(str::to_string);
            let content_type =
                field.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|s| s.trim().to_string());
            // `Field::bytes` copies even a single chunk; with the whole body buffered a part is
            // one chunk, kept as a slice of multer's buffer.
            let mut chunks = Vec::new();
            while let Some(chunk) = field.chunk().await? {
                chunks.push(chunk);
            }
            let data = match chunks.len() {
                1 => chunks.pop().expect("one chunk"),
                _ => chunks.concat().into(),
            };
            parts.push(Part { name, filename, content_type, data });
        }
        Ok::<_, multer::Error>((parts, undecodable))
    };
    match read_all.now_or_never() {
        Some(Ok(parts)) => Ok(parts),
        _ => Err(Malformed::InvalidPayloadStructure),
    }
}

fn parse_json_part(data: &[u8]) -> Result<RawCrash, Malformed> {
    match serde_json::from_slice::<serde_json::Value>(data) {
        Ok(serde_json::Value::Object(map)) => Ok(map),
        Ok(_) => Err(Malformed::InvalidJsonValue),
        Err(_) => Err(Malformed::InvalidJson),
    }
}

fn add_dump(payload: &mut Payload, part: Part, max_dumps: usize) -> Result<(), Malformed> {
    let name = DumpName::sanitize(&part.name).map_err(|e| match e {
        DumpNameError::Reserved(_) | DumpNameError::Malformed(_) => Malformed::InvalidDumpName,
        DumpNameError::Collides(_) => Malformed::DumpNameCollision,
    })?;
    let ct = part.content_type.as_deref().unwrap_or("");
    if ct != "application/octet-stream" {
        payload.notes.push(format!("unknown content type: {name} {ct}"));
    }
    let full = payload.dumps.len() >= max_dumps;
    match payload.dumps.iter_mut().find(|(n, _)| *n == name) {
        Some(slot) => slot.1 = part.data,
        None if full => return Err(Malformed::TooManyDumps),
        None => payload.dumps.push((name, part.data)),
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use axum::http::HeaderValue;

    pub(crate) const B: &str = "XyZzY";

    /// A test part: `(name, filename, content type, data)`.
    pub(crate) type TestPart<'a> = crate::submitter::encode::FormPart<'a>;

    pub(crate) fn headers(ct: Option<&str>, len: usize, gzip: bool) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(ct) = ct {
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
        }
        h.insert(CONTENT_LENGTH, HeaderValue::from_str(&len.to_string()).unwrap());
        if gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        h
    }

    /// A multipart body: `(name, filename, content type, data)` parts.
    pub(crate) fn body(parts: &[TestPart]) -> Vec<u8> {
        crate::submitter::encode::form_data(B, parts)
    }

    fn parse(parts: &[TestPart]) -> Result<Payload, Rejection> {
        let b = body(parts);
        let ct = format!("multipart/form-data; boundary={B}");
        parse_request(&headers(Some(&ct), b.len(), false), b.into(), 1 << 20)
    }

    const DUMP: TestPart = ("upload_file_minidump", Some("fakecrash.dump"), Some("application/octet-stream"), b"MDMP");

    #[test]
    fn form_fields_and_dumps() {
        let p = parse(&[
            ("ProductName", None, None, b"Firefox"),
            ("Version", None, Some("text/plain; charset=utf-8"), b"140.0"),
            DUMP,
            ("upload_file_minidump_browser", Some("b.dmp"), Some("application/octet-stream"), b"MDMP2"),
            ("", None, None, b"nameless is ignored"),
        ])
        .unwrap();
        assert_eq!(p.annotations["ProductName"], "Firefox");
        assert_eq!(p.annotations["Version"], "140.0");
        assert_eq!(p.annotations.len(), 2);
        let names: Vec<&str> = p.dumps.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["upload_file_minidump", "upload_file_minidump_browser"]);
        assert_eq!(p.payload, "multipart");
        assert!(p.notes.is_empty(), "{:?}", p.notes);
    }

    #[test]
    fn json_extra_replaces_earlier_fields_and_later_ones_merge() {
        let p = parse(&[
            ("Early", None, None, b"dropped"),
            ("extra", Some("extra.json"), Some("application/json"), br#"{"ProductName":"Firefox","N":1}"#),
            ("Late", None, None, b"kept"),
            DUMP,
        ])
        .unwrap();
        assert_eq!(p.payload, "json");
        assert!(!p.annotations.contains_key("Early"));
        assert_eq!(p.annotations["N"], 1);
        assert_eq!(p.annotations["Late"], "kept");
        assert_eq!(p.notes, ["includes annotations in both json-encoded extra and formdata parts"]);
        let only_json = parse(&[("extra", None, Some("application/json"), br#"{"A":"b"}"#)]).unwrap();
        assert!(only_json.notes.is_empty());
    }

    #[test]
    fn dump_names_sanitized_duplicates_last_wins_notes_for_odd_types() {
        let p = parse(&[
            ("P", None, None, b"x"),
            ("../../etc/passwd", Some("x"), Some("application/octet-stream"), b"one"),
            ("../../etc/passwd", Some("x"), Some("application/octet-stream"), b"two"),
            ("memory_report", Some("m.json.gz"), Some("application/gzip"), b"m"),
            ("text_with_filename", Some("t.txt"), Some("text/plain"), b"t"),
        ])
        .unwrap();
        assert_eq!(p.dumps[0].0.as_str(), "etcpasswd");
        assert_eq!(p.dumps[0].1, Bytes::from_static(b"two"));
        assert_eq!(p.dumps.len(), 3);
        assert_eq!(
            p.notes,
            [
                "unknown content type: memory_report application/gzip",
                "unknown content type: text_with_filename text/plain"
            ]
        );
    }

    #[test]
    fn undecodable_text_is_dropped_with_a_note() {
        let p = parse(&[("P", None, None, b"x"), ("Bad", None, None, b"\xff\xfe")]).unwrap();
        assert!(!p.annotations.contains_key("Bad"));
        assert_eq!(p.notes, ["Bad has an undecodable value; dropped"]);
    }

    #[test]
    fn gzip_bodies_and_the_decompressed_cap() {
        use std::io::Write;
        let raw = body(&[("ProductName", None, None, b"Firefox"), DUMP]);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(&raw).unwrap();
        let gz = enc.finish().unwrap();
        let ct = format!("multipart/form-data; boundary={B}");
        let p = parse_request(&headers(Some(&ct), gz.len(), true), gz.clone().into(), 1 << 20).unwrap();
        assert!(p.compressed);
        assert_eq!(p.payload_size, gz.len() as u64);
        assert_eq!(p.annotations["ProductName"], "Firefox");
        let capped = parse_request(&headers(Some(&ct), gz.len(), true), gz.clone().into(), raw.len() as u64 - 1);
        assert_eq!(capped, Err(Rejection::DecompressedTooLarge));
        assert!(parse_request(&headers(Some(&ct), gz.len(), true), gz.clone().into(), raw.len() as u64).is_ok());
        // gzip without the header fails parsing
        let e = parse_request(&headers(Some(&ct), gz.len(), false), gz.into(), 1 << 20).unwrap_err();
        assert_eq!(e, Rejection::Malformed(Malformed::InvalidPayloadStructure));
    }

    fn malformed(ct: Option<&str>, len: usize, gzip: bool, b: &[u8]) -> String {
        parse_request(&headers(ct, len, gzip), Bytes::copy_from_slice(b), 1 << 20).unwrap_err().name()
    }

    #[test]
    fn every_malformed_reason() {
        let mp = format!("multipart/form-data; boundary={B}");
        let good = body(&[("P", None, None, b"x")]);
        assert_eq!(malformed(None, 10, false, &good), "malformed_no_content_type");
        assert_eq!(malformed(Some("text/plain"), 10, false, &good), "malformed_wrong_content_type");
        assert_eq!(malformed(Some("application/json; boundary=x"), 10, false, &good), "malformed_wrong_content_type");
        assert_eq!(malformed(Some("multipart/form-data"), 10, false, &good), "malformed_no_boundary");
        assert_eq!(malformed(Some("multipart/form-data; charset=x"), 10, false, &good), "malformed_no_boundary");
        assert_eq!(malformed(Some(&mp), 0, false, &good), "malformed_no_content_length");
        assert_eq!(malformed(Some(&mp), good.len(), true, &good), "malformed_bad_gzip");
        let mixed = format!("multipart/mixed; boundary={B}");
        assert!(parse_request(&headers(Some(&mixed), good.len(), false), good.clone().into(), 1 << 20).is_ok());
        let bad = |parts: &[TestPart]| {
            let b = body(parts);
            malformed(Some(&mp), b.len(), false, &b)
        };
        assert_eq!(bad(&[("extra", None, Some("application/json"), b"{nope")]), "malformed_invalid_json");
        assert_eq!(bad(&[("extra", None, Some("application/json"), b"[1,2]")]), "malformed_invalid_json_value");
        for reserved in ["raw_crash", "dump_names", "processed_crash", "../..", "raw_crash!"] {
            let r = bad(&[("P", None, None, b"x"), (reserved, Some("f"), Some("application/octet-stream"), b"d")]);
            assert_eq!(r, "malformed_invalid_dump_name", "{reserved}");
        }
        assert_eq!(bad(&[DUMP]), "malformed_no_annotations");
        assert_eq!(bad(&[]), "malformed_no_annotations");
        assert_eq!(malformed(Some(&mp), 7, false, b"garbage"), "malformed_invalid_payload_structure");
        let truncated = &good[..good.len() - 8];
        assert_eq!(malformed(Some(&mp), truncated.len(), false, truncated), "malformed_invalid_payload_structure");
    }

    #[test]
    fn header_details() {
        let mut h = headers(Some("multipart/form-data; boundary=\"abc\"; charset=utf-8"), 5, false);
        h.insert(USER_AGENT, HeaderValue::from_static("Breakpad/1.0"));
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer s3cret"));
        h.insert(CONTENT_ENCODING, HeaderValue::from_static("GZIP"));
        let info = check_headers(&h).unwrap();
        assert_eq!(info.boundary, "abc");
        assert_eq!(info.user_agent, "Breakpad/1.0");
        assert_eq!(info.bearer.as_deref(), Some("s3cret"));
        assert!(!info.gzip, "only exactly `gzip` means gzip");
        assert_eq!(Rejection::TooLarge.body(), "");
        assert_eq!(Rejection::UnauthorizedUuid.body(), "Discarded=unauthorized_uuid");
        assert_eq!(Rejection::UnauthorizedUuid.status(), 401);
    }
}
