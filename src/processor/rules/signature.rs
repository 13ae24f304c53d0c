//! The signature rule: calls the signature generator (`crate::siggen`).

use super::rule::{CrashContext, ProcessorRule};

/// `signature` and `proto_signature` from the crashing thread's frames and the signature lists;
/// the generator's notes go to `processor_notes`. When it changes an existing signature, a
/// note says so.
pub struct Signature;

impl ProcessorRule for Signature {
    fn name(&self) -> &'static str {
        "signature"
    }
    fn run(&self, cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
        let old = cx.processed.get("signature").and_then(|v| v.as_str()).map(str::to_string);
        let sig = cx.tools.signer.generate(&cx.crash.raw, &cx.processed);
        if let Some(old) = old.filter(|o| *o != sig.signature) {
            cx.notes.push(format!("signature changed: {old} -> {}", sig.signature));
        }
        cx.notes.extend(sig.notes);
        cx.processed.insert("signature".into(), sig.signature.into());
        cx.processed.insert("proto_signature".into(), sig.proto_signature.into());
        Ok(())
    }
}
