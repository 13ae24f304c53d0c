//! Signature generation (socorro-siggen): the crashing thread's top frames, normalized, joined
//! by ` | `, with Socorro's lists and post rules.
//!
//! PLACEHOLDER API: the `siggen` branch replaces the internals; the types and method
//! signatures below are the contract the processor codes against.

use std::path::Path;

use crate::crash::{ProcessedCrash, RawCrash};

/// Socorro's signature lists (regular expressions), loaded at run time.
#[derive(Debug, Clone, Default)]
pub struct SigLists {}

impl SigLists {
    /// Loads a folder of lists in Socorro's format (`irrelevant_signature_re.txt`,
    /// `prefix_signature_re.txt`, `signatures_with_line_numbers_re.txt`,
    /// `signature_sentinels.txt`; one entry a line, `#` comments).
    pub fn load(_dir: &Path) -> anyhow::Result<SigLists> {
        Ok(SigLists {})
    }

    /// The documented built-in default, used without `--siglists`.
    pub fn builtin() -> SigLists {
        SigLists {}
    }
}

/// The result of signature generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Signature {
    pub signature: String,
    pub proto_signature: String,
    /// Notes for `processor_notes` (e.g. which rule changed the signature).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct SignatureGenerator {
    #[allow(dead_code)]
    lists: SigLists,
}

impl SignatureGenerator {
    pub fn new(lists: SigLists) -> SignatureGenerator {
        SignatureGenerator { lists }
    }

    /// Generates the signature from the processed crash built so far (`json_dump` in the
    /// minidump-stackwalk JSON format, `os_name`, `mdsw_status_string`, ...) and the raw
    /// crash annotations (`OOMAllocationSize`, `AbortMessage`, `IPCChannelError`, ...).
    pub fn generate(&self, _raw: &RawCrash, _processed: &ProcessedCrash) -> Signature {
        Signature { signature: "EMPTY: no crashing thread identified".into(), ..Signature::default() }
    }
}
