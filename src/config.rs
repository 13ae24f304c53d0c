//! Where the spool, store and queue are when a command is not told, resolved in this one place:
//! the flag, then its environment variable (`CRASHCTL_SPOOL`, `CRASHCTL_STORE`, `CRASHCTL_QUEUE`;
//! read by the binary's flag parser), then a config file, then the embedded default under
//! `./crashctl-data/`.
//!
//! The config file is TOML: `--config FILE`, else `$CRASHCTL_CONFIG`, else `./crashctl.toml`
//! when it exists. Keys: `spool`, `store`, `queue` (strings), all optional. A relative path in
//! the file is relative to the file's directory (URLs such as `s3://` are kept as written).

use std::path::{Path, PathBuf};

/// The embedded default data directory, relative to the current directory.
pub const DEFAULT_DATA_DIR: &str = "crashctl-data";

/// Which location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Location {
    Spool,
    Store,
    Queue,
}

impl Location {
    /// The config key and the folder name under the default data directory.
    pub fn name(self) -> &'static str {
        match self {
            Location::Spool => "spool",
            Location::Store => "store",
            Location::Queue => "queue",
        }
    }

    /// The embedded default, `./crashctl-data/NAME`.
    pub fn default_path(self) -> String {
        format!("{DEFAULT_DATA_DIR}/{}", self.name())
    }
}

#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub spool: Option<String>,
    pub store: Option<String>,
    pub queue: Option<String>,
    /// Where this config came from (for messages).
    #[serde(skip)]
    pub source: Option<PathBuf>,
}

impl Config {
    /// Loads the config file: `explicit` (must exist), else `./crashctl.toml` if present, else empty.
    pub fn load(explicit: Option<&Path>) -> anyhow::Result<Config> {
        let path = match explicit {
            Some(p) => p.to_path_buf(),
            None => {
                let p = PathBuf::from("crashctl.toml");
                if !p.is_file() {
                    return Ok(Config::default());
                }
                p
            }
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("config {}: cannot read: {e}", path.display()))?;
        let mut cfg: Config = toml::from_str(&text).map_err(|e| anyhow::anyhow!("config {}: {e}", path.display()))?;
        let dir = path.parent().unwrap_or(Path::new(""));
        for value in [&mut cfg.spool, &mut cfg.store, &mut cfg.queue].into_iter().flatten() {
            *value = relative_to(dir, value);
        }
        cfg.source = Some(path);
        Ok(cfg)
    }

    /// The location: the flag (or its environment variable), else the config file.
    pub fn location(&self, which: Location, flag: Option<&str>) -> Option<String> {
        let from_file = match which {
            Location::Spool => &self.spool,
            Location::Store => &self.store,
            Location::Queue => &self.queue,
        };
        flag.map(str::to_string).or_else(|| from_file.clone())
    }

    /// The location, falling back to the embedded default.
    pub fn location_or_default(&self, which: Location, flag: Option<&str>) -> String {
        self.location(which, flag).unwrap_or_else(|| which.default_path())
    }
}

/// A path from the config file, made relative to the file's directory (URLs and absolute
/// paths unchanged).
fn relative_to(dir: &Path, value: &str) -> String {
    if value.contains("://") || Path::new(value).is_absolute() || dir.as_os_str().is_empty() {
        return value.to_string();
    }
    dir.join(value).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_flag_then_file_then_default() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "spool = \"/s\"\nstore = \"/st\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        assert_eq!(c.location(Location::Spool, Some("/flag")).as_deref(), Some("/flag"));
        assert_eq!(c.location(Location::Spool, None).as_deref(), Some("/s"));
        assert_eq!(c.location(Location::Queue, None), None);
        assert_eq!(c.location_or_default(Location::Queue, None), "crashctl-data/queue");
        std::fs::write(&p, "spoool = 1\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("c.toml"), "{e}");
    }

    #[test]
    fn relative_paths_in_the_file_are_relative_to_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, "spool = \"data/spool\"\nstore = \"s3://b/p\"\nqueue = \"/abs/q\"\n").unwrap();
        let c = Config::load(Some(&p)).unwrap();
        let spool = c.location(Location::Spool, None).unwrap();
        assert_eq!(Path::new(&spool), dir.path().join("data/spool"));
        assert_eq!(c.location(Location::Store, None).as_deref(), Some("s3://b/p"));
        assert_eq!(c.location(Location::Queue, None).as_deref(), Some("/abs/q"));
    }
}
