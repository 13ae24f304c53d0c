//! Hostile input and faults (issue 8): fuzzing of the parser and the processing path
//! (`fuzz`), and the real `crashctl collect` under abusive clients (`load`), `kill -9`
//! (`kill`), and a full or read-only disk (`disk`). Figures: docs/reliability.md.

mod disk;
mod fuzz;
mod hostile;
mod kill;
mod load;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crashctl::generate::Generator;
use crashctl::spool::Spool;

use crate::collect::sha256;
use crate::common::{multipart, Part, BOUNDARY};

/// A crash as a client sends it, and what the spool must then hold.
pub struct Sent {
    pub body: Vec<u8>,
    /// Dump name -> sha256 of the bytes sent.
    pub dumps: BTreeMap<String, String>,
}

/// A realistic crash (generated minidump, annotations), tagged `FaultsSeq=<seq>`, each dump
/// cut to at most `max_dump` bytes.
pub fn realistic(g: &mut Generator, seq: usize, max_dump: usize) -> Sent {
    let mut s = g.submission();
    s.dumps.iter_mut().for_each(|(_, d)| d.truncate(max_dump));
    let mut texts: Vec<(String, String)> =
        s.annotations.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect();
    texts.push(("FaultsSeq".into(), seq.to_string()));
    let mut parts: Vec<Part> = texts.iter().map(|(k, v)| (k.as_str(), None, None, v.as_bytes())).collect();
    for (name, data) in &s.dumps {
        parts.push((name.as_str(), Some("fakecrash.dump"), Some("application/octet-stream"), data));
    }
    let dumps = s.dumps.iter().map(|(n, d)| (n.to_string(), sha256(d))).collect();
    Sent { body: multipart(&parts), dumps }
}

/// The request head of a multipart POST /submit with this Content-Length.
pub fn head(len: usize, extra: &str) -> String {
    format!(
        "POST /submit HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary={BOUNDARY}\r\n\
         Content-Length: {len}\r\n{extra}Connection: close\r\n\r\n"
    )
}

/// POSTs a body over a plain socket: `(status, body)`, or an I/O error (e.g. the server died).
pub fn post(addr: &str, body: &[u8], extra: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(head(body.len(), extra).as_bytes())?;
    s.write_all(body)?;
    read_answer(&mut s)
}

pub fn read_answer(s: &mut TcpStream) -> std::io::Result<(u16, String)> {
    let mut buf = Vec::new();
    s.read_to_end(&mut buf)?;
    let text = String::from_utf8_lossy(&buf);
    let status = text.split(' ').nth(1).and_then(|c| c.parse().ok());
    let status = status.ok_or_else(|| std::io::Error::other(format!("no HTTP answer: {text:?}")))?;
    Ok((status, text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default()))
}

/// The crash ID of a `CrashID=bp-<id>` answer.
pub fn crash_id(answer: &str) -> Option<String> {
    answer.trim().strip_prefix("CrashID=bp-").map(str::to_string)
}

/// Checks every crash in the spool: it loads, its dumps hash to what its raw crash says, and
/// the IDs in `expected` are there with exactly the dumps that were sent. Returns how many
/// crashes the spool holds.
pub fn check_spool(root: &Path, expected: &BTreeMap<String, BTreeMap<String, String>>) -> usize {
    let spool = Spool::open(root, false).unwrap();
    let mut seen = BTreeMap::new();
    for entry in spool.iter() {
        let entry = entry.unwrap_or_else(|e| panic!("something partial or stray in the spool: {e}"));
        let crash = spool.load(&entry).unwrap_or_else(|e| panic!("crash {} does not load: {e}", entry.id));
        let checksums = &crash.raw["metadata"]["dump_checksums"];
        let mut dumps = BTreeMap::new();
        for d in &crash.dumps {
            let hash = sha256(&d.data.read().unwrap());
            assert_eq!(checksums[d.name.as_str()], hash.as_str(), "crash {}: dump {} is not whole", crash.id, d.name);
            dumps.insert(d.name.to_string(), hash);
        }
        assert_eq!(checksums.as_object().map(|m| m.len()), Some(dumps.len()), "crash {}: dumps missing", crash.id);
        seen.insert(crash.id.to_string(), dumps);
    }
    for (id, dumps) in expected {
        assert_eq!(seen.get(id), Some(dumps), "crash {id} was answered but is not complete in the spool");
    }
    seen.len()
}

/// Entries in the spool's `.tmp` (crashes being written; none once a collector has stopped).
pub fn tmp_entries(root: &Path) -> usize {
    std::fs::read_dir(root.join(crashctl::spool::TMP_DIR)).map(|d| d.count()).unwrap_or(0)
}

/// A mount made by a test, unmounted when dropped.
pub struct Mount(PathBuf);

impl Mount {
    /// `mount ARGS... DIR`, or `None` after [`skip`] (a failure under `CI=true`) when
    /// mounting is not allowed here.
    pub fn new(dir: &Path, args: &[&str]) -> Option<Mount> {
        Mount::try_new(dir, args).map_err(|why| skip::<()>(&why)).ok()
    }

    /// `mount ARGS... DIR`, or why it was refused (for tests that can do without).
    pub fn try_new(dir: &Path, args: &[&str]) -> Result<Mount, String> {
        std::fs::create_dir_all(dir).unwrap();
        match Command::new("mount").args(args).arg(dir).output() {
            Ok(o) if o.status.success() => Ok(Mount(dir.to_path_buf())),
            Ok(o) => Err(format!("mount {args:?} refused: {}", String::from_utf8_lossy(&o.stderr).trim())),
            Err(e) => Err(format!("no mount command: {e}")),
        }
    }

    pub fn tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        Mount::new(dir, &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
    }

    /// A tmpfs when mounting is allowed, else `None` with no skip (the caller uses the disk).
    pub fn try_tmpfs(dir: &Path, size: &str) -> Option<Mount> {
        Mount::try_new(dir, &["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).ok()
    }

    /// A read-only bind mount of `dir` onto itself.
    pub fn read_only(dir: &Path) -> Option<Mount> {
        let m = Mount::new(dir, &["--bind", dir.to_str().unwrap()])?;
        m.remount("bind,ro");
        Some(m)
    }

    pub fn remount(&self, opts: &str) {
        let o = Command::new("mount").args(["-o", &format!("remount,{opts}")]).arg(&self.0).output().unwrap();
        assert!(o.status.success(), "remount {opts}: {}", String::from_utf8_lossy(&o.stderr));
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

fn skip<T>(why: &str) -> Option<T> {
    crate::common::skip(&format!("root (to mount a tmpfs): {why}"));
    None
}
