//! Where the API token comes from: the `--token` flag, then `$CRASHSTATS_API_TOKEN`, then a
//! `CRASHSTATS_API_TOKEN=...` line in `./.env` (as crashstats-tools reads it).

use std::fmt;
use std::path::Path;

use crate::secret::Secret;

/// The environment variable (and `.env` key) holding the token.
pub const TOKEN_VAR: &str = "CRASHSTATS_API_TOKEN";

/// Where a token was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    Flag,
    Env,
    DotEnv(std::path::PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Flag => f.write_str("--token"),
            TokenSource::Env => write!(f, "${TOKEN_VAR}"),
            TokenSource::DotEnv(p) => write!(f, "{}", p.display()),
        }
    }
}

/// The token: `flag`, else the environment, else `dir/.env`. Empty values count as absent.
pub fn find_token(flag: Option<Secret>, dir: &Path) -> std::io::Result<Option<(Secret, TokenSource)>> {
    if let Some(t) = flag.filter(|t| !t.is_empty()) {
        return Ok(Some((t, TokenSource::Flag)));
    }
    if let Some(t) = std::env::var(TOKEN_VAR).ok().filter(|t| !t.is_empty()) {
        return Ok(Some((Secret::new(t), TokenSource::Env)));
    }
    let path = dir.join(".env");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    Ok(dotenv_value(&text, TOKEN_VAR).filter(|t| !t.is_empty()).map(|t| (Secret::new(t), TokenSource::DotEnv(path))))
}

/// The value of `key` in a `.env` file: `KEY=VALUE` lines, optional `export `, `#` comments,
/// values optionally in single or double quotes. The last assignment wins.
pub fn dotenv_value(text: &str, key: &str) -> Option<String> {
    let mut found = None;
    for line in text.lines() {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((k, v)) = line.split_once('=') else { continue };
        if line.starts_with('#') || k.trim() != key {
            continue;
        }
        found = Some(unquote(v.trim()));
    }
    found
}

fn unquote(v: &str) -> String {
    for q in ['"', '\''] {
        if let Some(inner) = v.strip_prefix(q).and_then(|r| r.split_once(q)).map(|(inner, _)| inner) {
            return inner.to_string();
        }
    }
    match v.find(" #") {
        Some(i) => v[..i].trim_end().to_string(),
        None => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_lines() {
        let text = "# tokens\nOTHER=1\nCRASHSTATS_API_TOKEN=first\nexport CRASHSTATS_API_TOKEN=\"quoted value\" # c\n";
        assert_eq!(dotenv_value(text, TOKEN_VAR).as_deref(), Some("quoted value"));
        assert_eq!(dotenv_value("CRASHSTATS_API_TOKEN = 'single' \n", TOKEN_VAR).as_deref(), Some("single"));
        assert_eq!(dotenv_value("CRASHSTATS_API_TOKEN=abc # note\n", TOKEN_VAR).as_deref(), Some("abc"));
        assert_eq!(dotenv_value("#CRASHSTATS_API_TOKEN=no\n", TOKEN_VAR), None);
        assert_eq!(dotenv_value("CRASHSTATS_API_TOKENX=no\n", TOKEN_VAR), None);
    }

    #[test]
    fn the_flag_wins() {
        let dir = tempfile::tempdir().unwrap();
        let got = find_token(Some(Secret::new("fromflag")), dir.path()).unwrap().unwrap();
        assert_eq!((got.0.expose(), got.1), ("fromflag", TokenSource::Flag));
    }
}
