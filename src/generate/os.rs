//! The operating systems crashes are generated for.

/// The operating systems crashes are generated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Os {
    Windows,
    Linux,
    Mac,
}

impl Os {
    pub const ALL: [Os; 3] = [Os::Windows, Os::Linux, Os::Mac];
}
