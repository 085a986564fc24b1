//! The JSON zone file the `albsync-testdns` binary serves from, and its validation.
//!
//! ```json
//! {"names": {"alb.test.": {"a": ["10.0.1.1"], "aaaa": [], "mode": "ok", "maxAnswers": 8}}}
//! ```
//! Every field of a name is optional (`a`/`aaaa`/`ns`: none, `mode`: `ok`, `maxAnswers`: 8). `ns` lists name
//! server host names, for `lookup.mode: authoritative` on the stand-in. Unknown
//! fields are errors, so a misspelt `maxanswers` is reported instead of silently ignored.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use hickory_proto::rr::Name;
use serde::Deserialize;

use crate::record::{DEFAULT_MAX_ANSWERS, Mode, Record};
use crate::server::normalize;

/// Why a zone file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum ZoneError {
    /// The file could not be read.
    #[error("cannot read zone file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The file is not valid JSON of the expected shape (the message gives line and column).
    #[error("zone file is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// A key of `names` is not a DNS name.
    #[error("zone file names {name:?}, which is not a valid DNS name: {reason}")]
    InvalidName {
        /// The key as written.
        name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Two keys denote the same name (they differ only in case or the trailing dot).
    #[error("zone file names {name:?} twice (names are case-insensitive, trailing dot optional)")]
    DuplicateName {
        /// The key seen second.
        name: String,
    },
    /// `maxAnswers` is 0.
    #[error("zone file gives {name:?} maxAnswers 0; it must be at least 1")]
    ZeroMaxAnswers {
        /// The name.
        name: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZoneFile {
    names: BTreeMap<String, Entry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    a: Vec<Ipv4Addr>,
    #[serde(default)]
    aaaa: Vec<Ipv6Addr>,
    #[serde(default)]
    ns: Vec<String>,
    #[serde(default)]
    mode: ModeName,
    #[serde(default = "default_max_answers")]
    max_answers: usize,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ModeName {
    #[default]
    Ok,
    Servfail,
    Nxdomain,
    Refused,
    Drop,
}

impl From<ModeName> for Mode {
    fn from(name: ModeName) -> Self {
        match name {
            ModeName::Ok => Self::Ok,
            ModeName::Servfail => Self::ServFail,
            ModeName::Nxdomain => Self::NxDomain,
            ModeName::Refused => Self::Refused,
            ModeName::Drop => Self::Drop,
        }
    }
}

fn default_max_answers() -> usize {
    DEFAULT_MAX_ANSWERS
}

/// Reads and validates a zone file.
pub fn load(path: &Path) -> Result<Vec<(String, Record)>, ZoneError> {
    let text = std::fs::read_to_string(path).map_err(|source| ZoneError::Read { path: path.to_path_buf(), source })?;
    parse(&text)
}

/// Validates zone file text; names come back in the stored spelling (lower case, no trailing
/// dot).
pub fn parse(text: &str) -> Result<Vec<(String, Record)>, ZoneError> {
    let file: ZoneFile = serde_json::from_str(text)?;
    let mut seen = HashSet::new();
    let mut records = Vec::with_capacity(file.names.len());
    for (name, entry) in file.names {
        check_name(&name)?;
        if entry.max_answers == 0 {
            return Err(ZoneError::ZeroMaxAnswers { name });
        }
        for host in &entry.ns {
            check_name(host)?;
        }
        let key = normalize(&name);
        if !seen.insert(key.clone()) {
            return Err(ZoneError::DuplicateName { name });
        }
        let record = Record {
            a: entry.a,
            aaaa: entry.aaaa,
            ns: entry.ns,
            max_answers: entry.max_answers,
            mode: entry.mode.into(),
            ..Record::default()
        };
        records.push((key, record));
    }
    Ok(records)
}

fn check_name(name: &str) -> Result<(), ZoneError> {
    let invalid = |reason: &str| ZoneError::InvalidName { name: name.to_owned(), reason: reason.to_owned() };
    if normalize(name).is_empty() {
        return Err(invalid("empty"));
    }
    if name.chars().any(|c| c.is_whitespace() || !c.is_ascii()) {
        return Err(invalid("contains whitespace or non-ASCII characters"));
    }
    Name::from_ascii(name).map_err(|error| invalid(&error.to_string()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_and_normalizes_the_name() {
        let records = parse(
            r#"{"names": {"ALB.Test.": {"a": ["10.0.1.1"], "aaaa": ["fd00::1"], "mode": "servfail", "maxAnswers": 3}}}"#,
        )
        .expect("valid zone");
        assert_eq!(records.len(), 1);
        let (name, record) = &records[0];
        assert_eq!(name, "alb.test");
        assert_eq!(record.a, vec![Ipv4Addr::new(10, 0, 1, 1)]);
        assert_eq!(record.aaaa, vec!["fd00::1".parse::<Ipv6Addr>().expect("ipv6")]);
        assert_eq!(record.mode, Mode::ServFail);
        assert_eq!(record.max_answers, 3);
    }

    #[test]
    fn reads_name_servers_and_refuses_one_that_is_not_a_name() {
        let records = parse(r#"{"names": {"alb.test": {"ns": ["ns1.alb.test."]}}}"#).expect("valid zone");
        assert_eq!(records[0].1.ns, vec!["ns1.alb.test.".to_owned()]);
        let error = parse(r#"{"names": {"alb.test": {"ns": ["a b"]}}}"#).expect_err("invalid");
        assert!(error.to_string().contains("a b"), "{error}");
    }

    #[test]
    fn omitted_fields_take_their_defaults() {
        let records = parse(r#"{"names": {"alb.test": {}}}"#).expect("valid zone");
        assert_eq!(records[0].1, Record::default());
    }

    #[test]
    fn accepts_every_mode_spelling() {
        for (spelling, mode) in [
            ("ok", Mode::Ok),
            ("servfail", Mode::ServFail),
            ("nxdomain", Mode::NxDomain),
            ("refused", Mode::Refused),
            ("drop", Mode::Drop),
        ] {
            let text = format!(r#"{{"names": {{"a.test": {{"mode": "{spelling}"}}}}}}"#);
            assert_eq!(parse(&text).expect("valid zone")[0].1.mode, mode);
            assert_eq!(mode.as_str(), spelling);
        }
    }

    #[test]
    fn rejects_an_unknown_mode_naming_it() {
        let error = parse(r#"{"names": {"a.test": {"mode": "flaky"}}}"#).expect_err("invalid");
        assert!(error.to_string().contains("flaky"), "{error}");
    }

    #[test]
    fn rejects_a_misspelt_field() {
        let error = parse(r#"{"names": {"a.test": {"maxanswers": 2}}}"#).expect_err("unknown field");
        assert!(error.to_string().contains("maxanswers"), "{error}");
    }

    #[test]
    fn rejects_an_address_that_does_not_parse() {
        let error = parse(r#"{"names": {"a.test": {"a": ["10.0.0.300"]}}}"#).expect_err("bad ip");
        assert!(matches!(error, ZoneError::Json(_)), "{error}");
    }

    #[test]
    fn rejects_an_ipv6_address_in_a() {
        assert!(parse(r#"{"names": {"a.test": {"a": ["fd00::1"]}}}"#).is_err());
    }

    #[test]
    fn rejects_names_that_collide_after_normalization() {
        let error = parse(r#"{"names": {"a.test": {}, "A.TEST.": {}}}"#).expect_err("duplicate");
        assert!(matches!(error, ZoneError::DuplicateName { .. }), "{error}");
    }

    #[test]
    fn rejects_an_invalid_name() {
        for name in ["", ".", "a b.test", "a..test"] {
            let text = format!(r#"{{"names": {{"{name}": {{}}}}}}"#);
            let error = parse(&text).expect_err(name);
            assert!(matches!(error, ZoneError::InvalidName { .. }), "{name}: {error}");
        }
    }

    #[test]
    fn rejects_zero_max_answers() {
        let error = parse(r#"{"names": {"a.test": {"maxAnswers": 0}}}"#).expect_err("zero");
        assert!(matches!(error, ZoneError::ZeroMaxAnswers { .. }), "{error}");
    }

    #[test]
    fn rejects_a_file_without_names() {
        assert!(parse("{}").is_err());
        assert!(parse("not json").is_err());
    }
}
