//! Where the spool, store and queue are when a command is not told: flags, then environment
//! variables (`CRASHCTL_SPOOL`, `CRASHCTL_STORE`, `CRASHCTL_QUEUE`; read by the binary), then a
//! config file, then the embedded default under `./crashctl-data/`.
//!
//! The config file is TOML: `--config FILE`, else `$CRASHCTL_CONFIG`, else `./crashctl.toml`
//! when it exists. Keys: `spool`, `store`, `queue` (strings), all optional.

use std::path::{Path, PathBuf};

/// The embedded default data directory, relative to the current directory.
pub const DEFAULT_DATA_DIR: &str = "crashctl-data";

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
        cfg.source = Some(path);
        Ok(cfg)
    }

    /// The spool location: the flag (or its environment variable), else the config file.
    pub fn spool(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_string).or_else(|| self.spool.clone())
    }

    pub fn store(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_string).or_else(|| self.store.clone())
    }

    pub fn queue(&self, flag: Option<&str>) -> Option<String> {
        flag.map(str::to_string).or_else(|| self.queue.clone())
    }

    /// The spool location, falling back to the embedded default.
    pub fn spool_or_default(&self, flag: Option<&str>) -> String {
        self.spool(flag).unwrap_or_else(|| format!("{DEFAULT_DATA_DIR}/spool"))
    }

    pub fn store_or_default(&self, flag: Option<&str>) -> String {
        self.store(flag).unwrap_or_else(|| format!("{DEFAULT_DATA_DIR}/store"))
    }

    pub fn queue_or_default(&self, flag: Option<&str>) -> String {
        self.queue(flag).unwrap_or_else(|| format!("{DEFAULT_DATA_DIR}/queue"))
    }
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
        assert_eq!(c.spool(Some("/flag")).as_deref(), Some("/flag"));
        assert_eq!(c.spool(None).as_deref(), Some("/s"));
        assert_eq!(c.queue(None), None);
        assert_eq!(c.queue_or_default(None), "crashctl-data/queue");
        std::fs::write(&p, "spoool = 1\n").unwrap();
        let e = Config::load(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("c.toml"), "{e}");
    }
}
