//! The request body a crash reporter sends: multipart/form-data with annotations as text parts
//! (or one `extra` JSON part) and dumps as `application/octet-stream`, optionally gzipped.
//!
//! Encoded here rather than with `reqwest::multipart::Form` because that form is a one-shot
//! stream: we need the whole body as bytes to gzip it, to resend it on retries and to hand it
//! to the collector's own parser for the spool target.

use std::io::Write;

use bytes::Bytes;

use crate::crash::RawCrash;

/// A dump to send: the form field name (sent as given; the collector sanitizes it) and bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpPart {
    pub field: String,
    /// The file name sent in the part header (the collector ignores it).
    pub filename: String,
    pub data: Bytes,
}

/// A crash as a client sends it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Outgoing {
    pub annotations: RawCrash,
    pub dumps: Vec<DumpPart>,
}

/// An encoded request body with its headers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub content_type: String,
    pub gzip: bool,
    pub bytes: Bytes,
}

/// How to encode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Annotations as one `extra` JSON part instead of one text part each.
    pub json_extra: bool,
    pub gzip: bool,
}

/// Quotes a header parameter as browsers do (`"` and line breaks percent-encoded).
fn quote(s: &str) -> String {
    s.replace('"', "%22").replace('\r', "%0D").replace('\n', "%0A")
}

fn part_header(out: &mut Vec<u8>, boundary: &str, name: &str, filename: Option<&str>, content_type: Option<&str>) {
    let _ = write!(out, "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"", quote(name));
    if let Some(f) = filename {
        let _ = write!(out, "; filename=\"{}\"", quote(f));
    }
    if let Some(ct) = content_type {
        let _ = write!(out, "\r\nContent-Type: {ct}");
    }
    out.extend_from_slice(b"\r\n\r\n");
}

/// A form part as given: `(name, filename, content type, data)`; no content type means no
/// `Content-Type` line.
pub type FormPart<'a> = (&'a str, Option<&'a str>, Option<&'a str>, &'a [u8]);

/// A multipart/form-data body of exactly these parts, in order. [`encode`] builds on it; the
/// collector's tests, the integration tests and the load tests build hand-made (and hostile)
/// bodies with it.
pub fn form_data(boundary: &str, parts: &[FormPart<'_>]) -> Vec<u8> {
    let mut out = Vec::with_capacity(parts.iter().map(|p| p.3.len() + 200).sum::<usize>() + 64);
    for (name, filename, content_type, data) in parts {
        part_header(&mut out, boundary, name, *filename, *content_type);
        out.extend_from_slice(data);
        out.extend_from_slice(b"\r\n");
    }
    let _ = write!(out, "--{boundary}--\r\n");
    out
}

/// Encodes a crash (annotations in key order, then dumps in order).
pub fn encode(crash: &Outgoing, enc: Encoding) -> Body {
    let boundary = format!("crashctl{:032x}", rand::random::<u128>());
    let texts: Vec<(&str, Vec<u8>)> = if enc.json_extra {
        vec![("extra", serde_json::to_vec(&crash.annotations).expect("JSON values always serialize"))]
    } else {
        let text = |v: &serde_json::Value| match v {
            serde_json::Value::String(s) => s.as_bytes().to_vec(),
            other => other.to_string().into_bytes(),
        };
        crash.annotations.iter().map(|(k, v)| (k.as_str(), text(v))).collect()
    };
    let (filename, ct) =
        if enc.json_extra { (Some("extra.json"), "application/json") } else { (None, "text/plain; charset=utf-8") };
    let mut parts: Vec<FormPart> = texts.iter().map(|(k, v)| (*k, filename, Some(ct), v.as_slice())).collect();
    for dump in &crash.dumps {
        parts.push((&dump.field, Some(&dump.filename), Some("application/octet-stream"), &dump.data));
    }
    let out = form_data(&boundary, &parts);
    let bytes = if enc.gzip { gzip(&out) } else { out };
    Body { content_type: format!("multipart/form-data; boundary={boundary}"), gzip: enc.gzip, bytes: bytes.into() }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::with_capacity(data.len() / 2), flate2::Compression::fast());
    e.write_all(data).expect("writing to memory");
    e.finish().expect("writing to memory")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::collector::parse::parse_request;
    use axum::http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE};
    use axum::http::{HeaderMap, HeaderValue};

    fn sample() -> Outgoing {
        let mut annotations = RawCrash::new();
        annotations.insert("ProductName".into(), "Firefox".into());
        annotations.insert("Quote\"d".into(), "line\r\nbreak".into());
        annotations.insert("Number".into(), 3.into());
        let dumps = vec![
            DumpPart {
                field: "upload_file_minidump".into(),
                filename: "a.dmp".into(),
                data: Bytes::from_static(b"MDMP\r\n--x"),
            },
            DumpPart { field: "memory_report".into(), filename: "m".into(), data: Bytes::from_static(b"mem") },
        ];
        Outgoing { annotations, dumps }
    }

    fn headers(b: &Body) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_str(&b.content_type).unwrap());
        h.insert(CONTENT_LENGTH, HeaderValue::from(b.bytes.len()));
        if b.gzip {
            h.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        h
    }

    #[test]
    fn round_trips_through_the_collector_parser() {
        for (json_extra, gzip) in [(false, false), (true, false), (false, true), (true, true)] {
            let body = encode(&sample(), Encoding { json_extra, gzip });
            let p = parse_request(&headers(&body), body.bytes.clone(), 1 << 20).unwrap();
            assert_eq!(p.annotations["ProductName"], "Firefox");
            let quoted = if json_extra { "Quote\"d" } else { "Quote%22d" };
            assert_eq!(p.annotations[quoted], "line\r\nbreak");
            let number = if json_extra { serde_json::json!(3) } else { serde_json::json!("3") };
            assert_eq!(p.annotations["Number"], number);
            assert_eq!(p.payload, if json_extra { "json" } else { "multipart" });
            assert_eq!(p.compressed, gzip);
            assert_eq!(p.dumps.len(), 2);
            assert_eq!(p.dumps[0].1, Bytes::from_static(b"MDMP\r\n--x"));
            assert!(p.notes.is_empty(), "{:?}", p.notes);
        }
    }
}
