//! Text for people: durations, the path taken (Map iterations folded), the `history` table, the live lines of
//! `run` and its closing outcome. Pure formatting of timelines; the JSON forms are the serialized structs.

use std::fmt::Write as _;

use serde_json::Value;

use crate::style::{BAD, GOOD, NOTE, PATH, paint, table};
use crate::timeline::{Attempt, AttemptResult, Note, Timeline, Tracker, Visit, VisitStatus};

/// `9ms`, `2.04s`, `3m07s`.
pub fn duration(ms: i64) -> String {
    match ms {
        ..1000 => format!("{}ms", ms.max(0)),
        1000..60_000 => format!("{:.2}s", ms as f64 / 1000.0),
        _ => format!("{}m{:02}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// `+2.037s`: an offset from the start of the execution.
pub fn offset(ms: i64) -> String {
    format!("+{:.3}s", ms as f64 / 1000.0)
}

/// The path taken: top-level states joined by `->`, each Map followed by its iterations' paths in brackets,
/// identical iterations counted (`CountGrace [2x GraceReached -> KeepCounting]`).
pub fn path(visits: &[Visit]) -> String {
    let mut parts = Vec::new();
    for (i, v) in visits.iter().enumerate().filter(|(_, v)| v.iteration.is_empty()) {
        if v.state_type != "Map" {
            parts.push(v.name.clone());
            continue;
        }
        // This Map's iterations: from here up to the Map's next visit at the top level, each one's states.
        let rest = &visits[i + 1..];
        let end = rest.iter().position(|w| w.iteration.is_empty() && w.name == v.name).unwrap_or(rest.len());
        let mut runs: Vec<(i32, Vec<&str>)> = Vec::new();
        for w in rest[..end].iter().filter(|w| w.iteration.first().is_some_and(|it| it.map == v.name)) {
            match runs.iter_mut().find(|(k, _)| *k == w.iteration[0].index) {
                Some((_, names)) => names.push(&w.name),
                None => runs.push((w.iteration[0].index, vec![&w.name])),
            }
        }
        let mut groups: Vec<(usize, String)> = Vec::new();
        for text in runs.into_iter().map(|(_, names)| names.join(" -> ")) {
            match groups.iter_mut().find(|(_, t)| *t == text) {
                Some((n, _)) => *n += 1,
                None => groups.push((1, text)),
            }
        }
        let inner: Vec<String> =
            groups.into_iter().map(|(n, t)| if n == 1 { t } else { format!("{n}x {t}") }).collect();
        parts.push(match inner.is_empty() {
            true => format!("{} [no items]", v.name),
            false => format!("{} [{}]", v.name, inner.join(" | ")),
        });
    }
    parts.join(" -> ")
}

/// `Resolve 2x (Albsync.DnsUnavailable)`, for each retried state.
pub fn retries(visits: &[Visit]) -> String {
    let mut out = Vec::new();
    for v in visits.iter().filter(|v| v.retries > 0) {
        let mut errors: Vec<&str> = v.attempts.iter().rev().skip(1).filter_map(|a| a.error.as_deref()).collect();
        errors.sort_unstable();
        errors.dedup();
        out.push(format!("{} {}x ({})", v.label(), v.retries, errors.join(", ")));
    }
    if out.is_empty() { "none".to_owned() } else { out.join("; ") }
}

fn status_word(v: &Visit) -> String {
    let base = match v.status {
        VisitStatus::Running => "running",
        VisitStatus::Succeeded => "ok",
        VisitStatus::Caught => "caught",
        VisitStatus::Failed => "failed",
    };
    match v.retries {
        0 => base.to_owned(),
        1 => format!("{base}, 1 retry"),
        n => format!("{base}, {n} retries"),
    }
}

fn error_text(error: Option<&str>, cause: Option<&str>) -> String {
    match (error, cause) {
        (Some(e), Some(c)) if !c.is_empty() => format!("{e}: {c}"),
        (Some(e), _) => e.to_owned(),
        (None, Some(c)) => c.to_owned(),
        (None, None) => "no error given".to_owned(),
    }
}

/// How an attempt ended, with its error: `failed: Albsync.DnsTimeout: slow`, `succeeded`.
fn attempt_result(a: &Attempt) -> String {
    let error = || error_text(a.error.as_deref(), a.cause.as_deref());
    match a.result {
        AttemptResult::Running => "running".to_owned(),
        AttemptResult::Succeeded => "succeeded".to_owned(),
        AttemptResult::Failed => format!("failed: {}", error()),
        AttemptResult::TimedOut => format!("timed out: {}", error()),
    }
}

fn waited(a: &Attempt) -> String {
    a.waited_ms.map(|w| format!(" after waiting {}", duration(w))).unwrap_or_default()
}

/// `web: alb.test -> targetgroup/web/0123 port 443`, from an execution input that is a binding.
pub fn binding_line(input: Option<&Value>) -> Option<String> {
    let input = input?;
    let name = input.get("name")?.as_str()?;
    let dns = input.get("dnsName")?.as_str()?;
    let tg = input.get("targetGroupArn")?.as_str()?;
    let port = input.get("port")?.as_u64()?;
    let tg = tg.rsplit(':').next().unwrap_or(tg);
    Some(format!("{name}: {dns} -> {tg} port {port}"))
}

/// The `history` command's text.
pub fn history(t: &Timeline) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "execution  {}", t.execution_arn);
    let took = t.duration_ms.map(|d| format!("  took {}", duration(d))).unwrap_or_default();
    let _ = writeln!(out, "status     {}  started {}{took}", t.status, t.started_at);
    if let Some(b) = binding_line(t.input.as_ref()) {
        let _ = writeln!(out, "binding    {b}");
    }
    let _ = writeln!(out);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for v in &t.states {
        let took = v.duration_ms.map(duration).unwrap_or_else(|| "-".to_owned());
        let word = status_word(v);
        let result = match v.status {
            VisitStatus::Failed => paint(BAD, &word),
            VisitStatus::Caught => paint(NOTE, &word),
            _ if v.retries > 0 => paint(NOTE, &word),
            _ => word,
        };
        rows.push(vec![offset(v.entered_ms), took, v.label(), v.state_type.clone(), result]);
        let show_attempts = v.attempts.len() > 1 || v.attempts.iter().any(|a| a.error.is_some());
        for a in v.attempts.iter().filter(|_| show_attempts) {
            let took = a.duration_ms.map(duration).unwrap_or_else(|| "-".to_owned());
            let line = format!("attempt {}{}: {}", a.number, waited(a), attempt_result(a));
            let line = if a.error.is_some() { paint(NOTE, &line) } else { line };
            rows.push(vec![offset(a.started_ms), took, String::new(), String::new(), line]);
        }
    }
    out.push_str(&table(&["at", "took", "state", "type", "result"], &[0, 1], rows));
    let _ = writeln!(out);
    out.push_str(&outcome(t));
    out
}

/// The closing block of `run` and `history`: path, retries, result.
pub fn outcome(t: &Timeline) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "path       {}", paint(PATH, &path(&t.states)));
    let _ = writeln!(out, "retries    {}", retries(&t.states));
    let took = t.duration_ms.map(|d| format!(" after {}", duration(d))).unwrap_or_default();
    let status = match t.status.as_str() {
        "SUCCEEDED" => paint(GOOD, &t.status),
        "RUNNING" => t.status.clone(),
        _ => paint(BAD, &t.status),
    };
    let _ = writeln!(out, "outcome    {status}{took}");
    for line in &t.summary {
        let _ = writeln!(out, "           {line}");
    }
    out
}

/// One live line of `run` for a note, or none.
pub fn progress(tracker: &Tracker, note: &Note, at_ms: i64) -> Option<String> {
    let visit = |i: &usize| tracker.visits().get(*i);
    let (who, what) = match note {
        Note::Entered(i) => visit(i).map(|v| (v.label(), v.state_type.clone()))?,
        Note::AttemptFailed(i) => {
            let (v, a) = visit(i).and_then(|v| Some((v, v.attempts.last()?)))?;
            (v.label(), paint(NOTE, &format!("attempt {} {}", a.number, attempt_result(a))))
        }
        Note::Retrying(i) => {
            let (v, a) = visit(i).and_then(|v| Some((v, v.attempts.last()?)))?;
            (v.label(), format!("retry {}{}", a.number - 1, waited(a)))
        }
        Note::MapItems(i) => visit(i).map(|v| match v.items.unwrap_or(0) {
            0 => (v.label(), "no items".to_owned()),
            1 => (v.label(), "1 item".to_owned()),
            n => (v.label(), format!("{n} items")),
        })?,
        Note::IterationFailed(it) => (format!("{}[{}]", it.map, it.index), "iteration failed".to_owned()),
        Note::Ended { status, error, cause } => {
            let line = match status.as_str() {
                "SUCCEEDED" => format!("execution {}", paint(GOOD, "SUCCEEDED")),
                other => format!("execution {}: {}", paint(BAD, other), error_text(error.as_deref(), cause.as_deref())),
            };
            return Some(format!("  {:>9}  {line}", offset(at_ms)));
        }
    };
    Some(format!("  {:>9}  {who:<40} {what}", offset(at_ms)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::Timeline;
    use crate::timeline::tests::{info, retried_run};
    use serde_json::json;

    /// The text as a pipe or file receives it (anstream strips the colour there).
    fn plain(text: &str) -> String {
        anstream::adapter::strip_str(text).to_string()
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(9), "9ms");
        assert_eq!(duration(2037), "2.04s");
        assert_eq!(duration(187_000), "3m07s");
        assert_eq!(offset(2037), "+2.037s");
    }

    #[test]
    fn the_path_folds_identical_map_iterations() {
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        assert_eq!(
            path(&t.states),
            "Resolve -> CountGrace [GraceReached -> KeepCounting | GraceReached -> Expire] -> Synced"
        );
        let mut same = t.states.clone();
        same[4].name = "KeepCounting".into();
        assert_eq!(path(&same), "Resolve -> CountGrace [2x GraceReached -> KeepCounting] -> Synced");
    }

    #[test]
    fn retries_name_the_state_the_count_and_the_errors() {
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        assert_eq!(retries(&t.states), "Resolve 2x (Albsync.DnsUnavailable)");
        assert_eq!(retries(&t.states[1..]), "none");
    }

    #[test]
    fn the_history_table_lists_attempts_with_waits_and_errors() {
        let t = Timeline::build(&info("SUCCEEDED"), &retried_run());
        let text = plain(&history(&t));
        assert!(text.contains("status     SUCCEEDED  started 1970-01-01T00:00:01.000Z  took 2.04s\n"), "{text}");
        let resolve = text.lines().find(|l| l.contains("Resolve ")).expect("row");
        assert!(
            resolve.contains("+0.000s") && resolve.contains("2.03s") && resolve.ends_with("ok, 2 retries"),
            "{resolve}"
        );
        assert!(
            text.contains("attempt 2 after waiting 1.00s: failed: Albsync.DnsUnavailable: alb.test: SERVFAIL"),
            "{text}"
        );
        assert!(text.contains("CountGrace[1] > Expire"), "{text}");
        assert!(text.contains("path       Resolve -> CountGrace ["), "{text}");
        assert!(text.contains("outcome    SUCCEEDED after 2.04s\n           succeeded at Synced\n"), "{text}");
    }

    #[test]
    fn live_lines_show_failures_and_retries() {
        let mut tracker = Tracker::new(None);
        let mut lines = Vec::new();
        for e in retried_run() {
            if let Some(note) = tracker.ingest(&e) {
                let at = tracker.offset(e.at_ms);
                lines.extend(progress(&tracker, &note, at).map(|l| plain(&l)));
            }
        }
        assert!(lines[0].trim_start().starts_with("+0.000s  Resolve"), "{lines:?}");
        assert!(lines[1].ends_with("attempt 1 failed: Albsync.DnsUnavailable: alb.test: SERVFAIL"), "{lines:?}");
        assert!(lines[2].ends_with("retry 1 after waiting 1.00s"), "{lines:?}");
        assert!(lines.iter().any(|l| l.ends_with("CountGrace                               2 items")), "{lines:?}");
        assert_eq!(lines.last().map(|l| l.trim_start()), Some("+2.041s  execution SUCCEEDED"));
    }

    #[test]
    fn a_binding_input_is_summarized_on_one_line() {
        let input = json!({"name": "web", "dnsName": "alb.test", "port": 443,
            "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/0123"});
        assert_eq!(binding_line(Some(&input)).as_deref(), Some("web: alb.test -> targetgroup/web/0123 port 443"));
        assert_eq!(binding_line(None), None);
    }
}
