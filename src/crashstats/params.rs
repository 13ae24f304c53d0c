//! Super Search parameters: an ordered list of `key=value` pairs (lists are repeated keys),
//! from `FIELD=VALUE` arguments with Super Search's operators, or from the query of a Super
//! Search page URL.

use chrono::{DateTime, Duration as Days, NaiveDate, NaiveDateTime, Utc};

/// Super Search parameters in the order they will be sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

/// A `FIELD=VALUE` argument that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    #[error("{0:?}: expected FIELD=VALUE (for example signature=~OOM, product=Firefox, date=>=2026-11-01)")]
    NoEquals(String),
    #[error("{0:?}: invalid field name (letters, digits, '_' and '.')")]
    BadField(String),
    #[error("{0:?}: not a URL with a query string: {1}")]
    BadUrl(String, String),
}

impl Params {
    pub fn new() -> Params {
        Params::default()
    }

    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub fn push(&mut self, key: &str, value: impl Into<String>) {
        self.0.push((key.to_string(), value.into()));
    }

    pub fn contains(&self, key: &str) -> bool {
        self.0.iter().any(|(k, _)| k == key)
    }

    pub fn get_all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// Replaces every value of `key` by `values` (appended at the end).
    pub fn set(&mut self, key: &str, values: &[String]) {
        self.remove(key);
        for v in values {
            self.push(key, v.clone());
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    /// Drops every key starting with one of `prefixes`.
    pub fn remove_prefixed(&mut self, prefixes: &[&str]) {
        self.0.retain(|(k, _)| !prefixes.iter().any(|p| k.starts_with(p)));
    }

    /// `other`'s keys replace this one's, key by key (crashstats-tools: URL first, then the
    /// command-line arguments).
    pub fn overlay(&mut self, other: &Params) {
        let mut keys: Vec<&str> = other.0.iter().map(|(k, _)| k.as_str()).collect();
        keys.dedup();
        for k in keys {
            let values: Vec<String> = other.get_all(k).into_iter().map(str::to_string).collect();
            self.set(k, &values);
        }
    }

    /// Parses `FIELD=VALUE` arguments (`FIELD!=VALUE` negates: the value gets Super Search's
    /// `!`). One pair of surrounding double quotes around the value is removed.
    pub fn from_args<S: AsRef<str>>(args: &[S]) -> Result<Params, ParamError> {
        let mut p = Params::new();
        for arg in args {
            let arg = arg.as_ref();
            let arg = arg.strip_prefix("--").unwrap_or(arg);
            let (field, value) = arg.split_once('=').ok_or_else(|| ParamError::NoEquals(arg.to_string()))?;
            let (field, negate) = match field.strip_suffix('!') {
                Some(f) => (f, true),
                None => (field, false),
            };
            if field.is_empty() || !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
                return Err(ParamError::BadField(arg.to_string()));
            }
            let value = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            p.push(field, if negate { format!("!{value}") } else { value.to_string() });
        }
        Ok(p)
    }

    /// Filters given as `FIELD=VALUE` over the parameters of a Super Search URL (the arguments
    /// win, key by key); URL keys starting with one of `drop` are left out.
    pub fn merged<S: AsRef<str>>(url: Option<&str>, filters: &[S], drop: &[&str]) -> Result<Params, ParamError> {
        let mut params = match url {
            Some(u) => Params::from_url(u)?,
            None => Params::new(),
        };
        params.remove_prefixed(drop);
        params.overlay(&Params::from_args(filters)?);
        Ok(params)
    }

    /// The parameters of a Super Search page or API URL (`?a=1&a=2&b=3`; the fragment ignored).
    pub fn from_url(url: &str) -> Result<Params, ParamError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ParamError::BadUrl(url.to_string(), e.to_string()))?;
        let mut p = Params::new();
        for (k, v) in parsed.query_pairs() {
            p.push(&k, v.into_owned());
        }
        Ok(p)
    }
}

/// The date range of a search (`[start, end)`), from its `date` filters as Super Search fills
/// them in: no end means now, no start means end minus 7 days.
pub fn date_range(values: &[&str], now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let mut start = None;
    let mut end = None;
    for v in values {
        let (op, rest) = split_operator(v);
        let when = parse_when(rest)?;
        match op {
            ">=" => start = Some(when),
            ">" => start = Some(when + Days::milliseconds(1)),
            "<" => end = Some(when),
            "<=" => end = Some(when + Days::milliseconds(1)),
            _ => return None,
        }
    }
    let end = end.unwrap_or(now);
    let start = start.unwrap_or(end - Days::days(7));
    Some((start, end))
}

fn split_operator(v: &str) -> (&str, &str) {
    for op in [">=", "<=", ">", "<"] {
        if let Some(rest) = v.strip_prefix(op) {
            return (op, rest);
        }
    }
    ("", v)
}

/// `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS`, `YYYY-MM-DDTHH:MM:SS` (UTC) or RFC 3339.
pub fn parse_when(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
        if let Ok(d) = NaiveDateTime::parse_from_str(t, f) {
            return Some(d.and_utc());
        }
    }
    NaiveDate::parse_from_str(t, "%Y-%m-%d").ok().map(|d| d.and_hms_opt(0, 0, 0).expect("midnight").and_utc())
}

/// A date as sent to Super Search (`2026-11-01T00:00:00.000+00:00`).
pub fn format_when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3f+00:00").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_with_operators_negation_and_quotes() {
        let p = Params::from_args(&[
            "signature=~OOM",
            "product=Firefox",
            "date=>=2026-11-01",
            "product!=Fenix",
            "--version=\"140.0\"",
        ])
        .unwrap();
        let want: Vec<(String, String)> = [
            ("signature", "~OOM"),
            ("product", "Firefox"),
            ("date", ">=2026-11-01"),
            ("product", "!Fenix"),
            ("version", "140.0"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(p.pairs(), want.as_slice());
        assert!(matches!(Params::from_args(&["signature"]), Err(ParamError::NoEquals(_))));
        assert!(matches!(Params::from_args(&["a b=c"]), Err(ParamError::BadField(_))));
    }

    #[test]
    fn url_params_are_replaced_key_by_key() {
        let mut p = Params::from_url(
            "https://crash-stats.mozilla.org/search/?product=Firefox&product=Fenix&signature=~OOM&_facets=signature#facet-signature",
        )
        .unwrap();
        p.remove_prefixed(&["_facets", "_aggs", "_histogram", "_cardinality"]);
        p.overlay(&Params::from_args(&["product=Thunderbird"]).unwrap());
        assert_eq!(p.get_all("product"), vec!["Thunderbird"]);
        assert_eq!(p.get_all("signature"), vec!["~OOM"]);
        assert!(!p.contains("_facets"));
    }

    #[test]
    fn date_ranges_are_filled_in_like_super_search() {
        let now = parse_when("2026-11-29T12:00:00Z").unwrap();
        let (s, e) = date_range(&[">=2026-11-01", "<2026-11-08"], now).unwrap();
        assert_eq!(
            (format_when(s), format_when(e)),
            ("2026-11-01T00:00:00.000+00:00".into(), "2026-11-08T00:00:00.000+00:00".into())
        );
        let (s, e) = date_range(&[], now).unwrap();
        assert_eq!((e - s).num_days(), 7);
        assert_eq!(e, now);
        let (s, _) = date_range(&["<2026-11-08"], now).unwrap();
        assert_eq!(format_when(s), "2026-11-01T00:00:00.000+00:00");
        assert!(date_range(&["~2026"], now).is_none());
    }
}
