//! Progress reporting from the library without a terminal: stages call a [`Progress`]; the
//! binary adapts it to a progress bar (or to nothing, for `--quiet`, CI and JSON output).

/// What a long-running stage tells its caller as it goes.
pub trait Progress: Send + Sync {
    /// The total is known (or learned later): items to do.
    fn set_total(&self, _total: u64) {}
    /// `n` more items done.
    fn inc(&self, _n: u64) {}
    /// A short status line (the current crash, a retry...).
    fn message(&self, _msg: &str) {}
    /// Done; clear the bar.
    fn finish(&self) {}
    /// Runs `print` with the bar out of the way (hidden, then redrawn below what was printed),
    /// so lines written to stdout or stderr on the same terminal never mix with a stale bar.
    fn suspend(&self, print: &mut dyn FnMut()) {
        print()
    }
}

/// Reports nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoProgress;

impl Progress for NoProgress {}
