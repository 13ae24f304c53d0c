//! The processing rules: small units run in order over one crash. A rule that fails (or
//! panics) adds the note `ruleset '<name>' rule '<rule>' failed: <error>` and the next rule
//! runs. Adding a rule: write a type implementing [`ProcessorRule`], put it in [`Ruleset::rules`].

mod annotations;
mod derived;
mod meta;
mod rule;
mod signature;
mod walk;

use std::fmt;
use std::str::FromStr;

pub use rule::{annotation, lookup, run_rules, CrashContext, ProcessorRule, Tools};
pub use walk::TruncateStacks;

/// Which rules run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Ruleset {
    /// Everything: stackwalk, derived fields, signature.
    #[default]
    Default,
    /// Only the signature, on the crash's existing processed crash.
    RegenerateSignature,
}

impl Ruleset {
    pub const ALL: [Ruleset; 2] = [Ruleset::Default, Ruleset::RegenerateSignature];

    pub fn as_str(self) -> &'static str {
        match self {
            Ruleset::Default => "default",
            Ruleset::RegenerateSignature => "regenerate_signature",
        }
    }

    /// The rules, in order.
    pub fn rules(self) -> Vec<Box<dyn ProcessorRule>> {
        match self {
            Ruleset::Default => vec![
                Box::new(meta::Identity),
                Box::new(meta::CollectorMetadata),
                Box::new(meta::CrashReportKeys),
                Box::new(annotations::Product),
                Box::new(annotations::ProcessType),
                Box::new(annotations::Dates),
                Box::new(walk::MinidumpStackwalk),
                Box::new(walk::TruncateStacks),
                Box::new(derived::CrashingThread),
                Box::new(derived::OsInfo),
                Box::new(derived::CpuInfo),
                Box::new(derived::ModulesInStack),
                Box::new(derived::MissingSymbols),
                Box::new(signature::Signature),
            ],
            Ruleset::RegenerateSignature => vec![Box::new(signature::Signature)],
        }
    }

    /// Does this ruleset start from the crash's existing processed crash (and need one)?
    pub fn needs_processed(self) -> bool {
        self == Ruleset::RegenerateSignature
    }

    /// Runs every rule; failures become notes.
    pub fn run(self, cx: &mut CrashContext<'_>) {
        run_rules(self.as_str(), &self.rules(), cx);
    }
}

impl fmt::Display for Ruleset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Ruleset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ruleset::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| format!("unknown ruleset {s:?}: expected default or regenerate_signature"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::crash::{Crash, CrashId, ProcessedCrash, RawCrash};
    use crate::processor::stackwalk::Stackwalker;
    use crate::siggen::SignatureGenerator;

    struct Failing;
    impl ProcessorRule for Failing {
        fn name(&self) -> &'static str {
            "failing"
        }
        fn run(&self, _cx: &mut CrashContext<'_>) -> anyhow::Result<()> {
            anyhow::bail!("boom")
        }
    }

    #[test]
    fn lookup_walks_nested_values() {
        let mut p = ProcessedCrash::new();
        p.insert("json_dump".into(), serde_json::json!({"crash_info": {"type": "SIGSEGV"}}));
        assert_eq!(lookup(&p, "/json_dump/crash_info/type"), Some(&Value::from("SIGSEGV")));
        assert_eq!(lookup(&p, "/json_dump/nope"), None);
        assert!(lookup(&p, "/json_dump").is_some());
    }

    #[test]
    fn ruleset_names_round_trip() {
        for r in Ruleset::ALL {
            assert_eq!(r.as_str().parse::<Ruleset>().unwrap(), r);
        }
        assert!("everything".parse::<Ruleset>().is_err());
    }

    #[test]
    fn a_failing_rule_becomes_a_note_in_the_documented_form() {
        let id = CrashId::parse_lax("de1bb258-cbbf-4589-a673-34f800160918").unwrap();
        let crash = Crash::new(id, RawCrash::new());
        let tools = Tools {
            stackwalker: Stackwalker::new(&Default::default(), std::time::Duration::from_secs(5)).unwrap(),
            signer: SignatureGenerator::new(crate::siggen::SigLists::builtin()),
        };
        let mut cx = CrashContext {
            crash: &crash,
            processed: ProcessedCrash::new(),
            json_dump: None,
            notes: vec![],
            tools: &tools,
        };
        let rules: Vec<Box<dyn ProcessorRule>> = vec![Box::new(Failing), Box::new(meta::Identity)];
        run_rules("default", &rules, &mut cx);
        assert_eq!(cx.notes, vec!["ruleset 'default' rule 'failing' failed: boom".to_string()]);
        assert_eq!(cx.processed["uuid"], "de1bb258-cbbf-4589-a673-34f800160918", "the next rule still ran");
    }
}
