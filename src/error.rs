//! Error messages on one line: an error with its chain of causes.

use std::error::Error;

/// `e` and its sources, `a: b: c` (`dispatch failure: io error: connection refused`); a cause
/// whose text is already in the message (many errors repeat their source) is left out.
pub fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(cause) = cur {
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cur = cause.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct E(&'static str, Option<Box<E>>);
    impl std::fmt::Display for E {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }
    impl Error for E {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    #[test]
    fn causes_are_joined_and_repeats_left_out() {
        let e = E("dispatch failure", Some(Box::new(E("io error", Some(Box::new(E("refused", None)))))));
        assert_eq!(chain(&e), "dispatch failure: io error: refused");
        let repeat = E("io error: refused", Some(Box::new(E("refused", None))));
        assert_eq!(chain(&repeat), "io error: refused");
    }
}
