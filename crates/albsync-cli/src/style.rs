//! Presentation helpers shared by the text outputs: tables that fit their columns to the content
//! (comfy-table) and colour for the words an operator looks for (status, the path, failures).
//!
//! Colour is written as ANSI escapes into the text; [`crate::commands::emit`] prints through anstream, which
//! strips them when stdout is not a terminal or `NO_COLOR` is set (and keeps them with `CLICOLOR_FORCE`).
//! So pipes, files and the tests see plain text.

use anstyle::{AnsiColor, Style};
use comfy_table::{CellAlignment, Table, presets::NOTHING};

/// Good news: succeeded, in sync, ok.
pub const GOOD: Style = AnsiColor::Green.on_default();
/// Something an operator must act on or understand: failed, not in sync, refused.
pub const BAD: Style = AnsiColor::Red.on_default().bold();
/// Worth noticing, not wrong: caught errors, retries, pending counts.
pub const NOTE: Style = AnsiColor::Yellow.on_default();
/// The path taken.
pub const PATH: Style = Style::new().bold();

/// `writeln!` into a `String`, which cannot fail.
macro_rules! put {
    ($out:expr, $($arg:tt)*) => {{
        use std::fmt::Write as _;
        let _ = writeln!($out, $($arg)*);
    }};
}
pub(crate) use put;

/// A value's serde spelling (`keep`, `unhealthyDraining`): the words the JSON documents use, for the text.
pub fn word(value: impl serde::Serialize) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The text as a pipe or file receives it (anstream strips the colour there).
#[cfg(test)]
pub fn plain(text: &str) -> String {
    anstream::adapter::strip_str(text).to_string()
}

/// `text` in `style` (reset after it).
pub fn paint(style: Style, text: &str) -> String {
    format!("{style}{text}{style:#}")
}

/// A borderless table, columns two spaces apart and as wide as their widest cell, the columns numbered in
/// `right` aligned right, each line indented by two spaces and without trailing blanks. Colour belongs only
/// in the last column (comfy-table would count the escapes as width elsewhere).
pub fn table<R: IntoIterator<Item = String>>(
    header: &[&str],
    right: &[usize],
    rows: impl IntoIterator<Item = R>,
) -> String {
    let mut t = Table::new();
    t.load_style(NOTHING);
    if !header.is_empty() {
        t.set_header(header.iter().map(|h| h.to_string()));
    }
    for row in rows {
        t.add_row(row.into_iter().collect::<Vec<String>>());
    }
    for i in right {
        if let Some(c) = t.column_mut(*i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.lines().map(|line| format!(" {}\n", line.trim_end())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_fit_their_widest_cell() {
        let text = table(
            &["address", "target group", "note"],
            &[],
            [
                vec!["10.0.1.1".to_owned(), "unhealthy.draining".to_owned(), "a".to_owned()],
                vec!["10.0.1.22".to_owned(), "-".to_owned(), "b".to_owned()],
            ],
        );
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "  address    target group        note");
        assert_eq!(lines[1], "  10.0.1.1   unhealthy.draining  a");
        assert_eq!(lines[2], "  10.0.1.22  -                   b");
        let right = table(&[], &[0], [vec!["+0.5s".to_owned(), "x".to_owned()], vec!["+10.25s".to_owned()]]);
        assert_eq!(right, "    +0.5s  x\n  +10.25s\n");
    }

    #[test]
    fn paint_wraps_in_escapes_that_anstream_strips() {
        let s = paint(BAD, "FAILED");
        assert!(s.starts_with('\u{1b}') && s.contains("FAILED"));
        assert_eq!(plain(&s), "FAILED");
    }
}
