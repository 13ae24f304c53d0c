//! Exit codes, as a type (documented in the README).

/// What the process tells its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    /// 0: everything asked for was done.
    Success,
    /// 1: the command ran, but some items failed (or a `stats` threshold was crossed).
    SomeFailed,
    /// 2: usage error or fatal error: nothing (more) could be done.
    Fatal,
    /// 130: interrupted by SIGINT/SIGTERM after stopping cleanly.
    Interrupted,
}

impl ExitCode {
    pub fn code(self) -> i32 {
        match self {
            ExitCode::Success => 0,
            ExitCode::SomeFailed => 1,
            ExitCode::Fatal => 2,
            ExitCode::Interrupted => 130,
        }
    }

    /// Success when nothing failed, SomeFailed otherwise.
    pub fn from_failures(failed: u64) -> ExitCode {
        if failed == 0 {
            ExitCode::Success
        } else {
            ExitCode::SomeFailed
        }
    }

    /// The more severe of two outcomes (Interrupted > Fatal > SomeFailed > Success).
    pub fn worst(self, other: ExitCode) -> ExitCode {
        fn rank(e: ExitCode) -> u8 {
            match e {
                ExitCode::Success => 0,
                ExitCode::SomeFailed => 1,
                ExitCode::Fatal => 2,
                ExitCode::Interrupted => 3,
            }
        }
        if rank(other) > rank(self) {
            other
        } else {
            self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_ordering() {
        assert_eq!(ExitCode::Success.code(), 0);
        assert_eq!(ExitCode::SomeFailed.code(), 1);
        assert_eq!(ExitCode::Fatal.code(), 2);
        assert_eq!(ExitCode::Interrupted.code(), 130);
        assert_eq!(ExitCode::from_failures(0), ExitCode::Success);
        assert_eq!(ExitCode::from_failures(3), ExitCode::SomeFailed);
        assert_eq!(ExitCode::Success.worst(ExitCode::SomeFailed), ExitCode::SomeFailed);
        assert_eq!(ExitCode::Interrupted.worst(ExitCode::Fatal), ExitCode::Interrupted);
    }
}
