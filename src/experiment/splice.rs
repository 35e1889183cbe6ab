//! A study's table written into a Markdown document (a README) between two marker lines, so
//! the figures a document quotes are the study's own output, never typed in:
//!
//! ```markdown
//! <!-- plasticity:table tp_hard_activations -->
//! | variant | rule | test accuracy (mean ± std) | … |
//! <!-- /plasticity:table -->
//! ```
//!
//! `plasticity compare FILE --seeds 3 --into README.md` replaces whatever lies between the
//! markers named after the comparison (finished runs are reused, so it costs nothing when the
//! study is done). Markers may follow a line prefix, such as a TOML comment's `# `: the table's
//! lines then carry the same prefix, so a study file's header can hold its own table.

use std::path::Path;

use crate::error::{Error, Result};
use crate::io::write_atomic;

/// The line that opens comparison `name`'s table.
pub fn start_marker(name: &str) -> String {
    format!("<!-- plasticity:table {name} -->")
}

/// The line that closes a table.
pub const END_MARKER: &str = "<!-- /plasticity:table -->";

/// Where comparison `name`'s table lies in `document`: its lines, the opening marker's index
/// and line prefix, and the closing marker's index; an error names `path` and says which
/// marker is missing.
fn locate<'a>(
    document: &'a str,
    path: &Path,
    name: &str,
) -> Result<(Vec<&'a str>, usize, &'a str, usize)> {
    let start = start_marker(name);
    let missing = |what: &str| {
        Error::config(
            "--into",
            format!(
                "{}: {what} (a `{start}` line, then `{END_MARKER}` where the table ends)",
                path.display()
            ),
        )
    };
    let lines: Vec<&str> = document.split_inclusive('\n').collect();
    let (open, prefix) = (lines.iter().enumerate())
        .find_map(|(k, line)| Some((k, line.trim_end().strip_suffix(start.as_str())?)))
        .ok_or_else(|| missing("no line opens this comparison's table"))?;
    let end = format!("{prefix}{END_MARKER}");
    let close = (lines[open + 1..].iter())
        .position(|line| line.trim_end() == end)
        .map(|k| open + 1 + k)
        .ok_or_else(|| missing("the table is never closed"))?;
    Ok((lines, open, prefix, close))
}

/// `document` with the lines between `name`'s markers replaced by `table` (each line after the
/// opening marker's prefix); an error names `path` and says which marker is missing.
pub fn spliced(document: &str, path: &Path, name: &str, table: &str) -> Result<String> {
    let (lines, open, prefix, close) = locate(document, path, name)?;
    let mut out: String = lines[..=open].concat();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    for line in table.lines() {
        out.push_str(format!("{prefix}{line}").trim_end());
        out.push('\n');
    }
    out.push_str(&lines[close..].concat());
    Ok(out)
}

/// `table` (a header, a rule line, then one row per variant, its name in the first cell) merged
/// into the table already between `name`'s markers in `document`: a variant's row from `table`
/// replaces its old row, the other variants keep theirs, and rows follow `order` (the study's
/// variants; old rows of variants no longer in it are dropped). This is how re-running some
/// of a study's rows (`compare --variants`) updates its table without running the rest. An
/// error names `path` when the old table's columns differ from the new one's.
pub fn merged(
    document: &str,
    path: &Path,
    name: &str,
    table: &str,
    order: &[String],
) -> Result<String> {
    let (lines, open, prefix, close) = locate(document, path, name)?;
    let old: Vec<&str> = (lines[open + 1..close].iter())
        .map(|line| line.trim_end().strip_prefix(prefix).unwrap_or(line).trim())
        .filter(|line| !line.is_empty())
        .collect();
    let new: Vec<&str> = table.lines().filter(|l| !l.trim().is_empty()).collect();
    if new.len() < 2 {
        return Err(Error::config("--into", "the new table has no header"));
    }
    if !old.is_empty() && old.get(..2) != new.get(..2) {
        return Err(Error::config(
            "--into",
            format!(
                "{}: the table of `{name}` has other columns than this run's; run every \
                 variant (without --variants) to rewrite it",
                path.display()
            ),
        ));
    }
    fn row_of<'a>(rows: &[&'a str], want: &str) -> Option<&'a str> {
        (rows.iter().skip(2))
            .find(|row| row.trim_start_matches('|').split('|').next().map(str::trim) == Some(want))
            .copied()
    }
    let mut out = format!("{}\n{}\n", new[0], new[1]);
    for want in order {
        if let Some(row) = row_of(&new, want).or_else(|| row_of(&old, want)) {
            out.push_str(row);
            out.push('\n');
        }
    }
    spliced(document, path, name, &out)
}

/// Whether the file at `path` can take comparison `name`'s table (it reads and has both
/// markers): checked before a study trains, so a missing marker costs no training.
pub fn check(path: &Path, name: &str) -> Result<()> {
    let document = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    spliced(&document, path, name, "").map(|_| ())
}

/// Writes `table` into the file at `path` between comparison `name`'s markers (atomically:
/// the file is whole before and after).
pub fn splice_into(path: &Path, name: &str, table: &str) -> Result<()> {
    let document = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    write_if_changed(path, &document, spliced(&document, path, name, table)?)
}

/// Merges `table` into the file at `path` between comparison `name`'s markers, keeping the
/// rows of variants `table` lacks, in `order` (see [`merged`]; atomically).
pub fn merge_into(path: &Path, name: &str, table: &str, order: &[String]) -> Result<()> {
    let document = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    write_if_changed(
        path,
        &document,
        merged(&document, path, name, table, order)?,
    )
}

/// Writes `updated` to `path` atomically unless it equals `document`.
fn write_if_changed(path: &Path, document: &str, updated: String) -> Result<()> {
    if updated != document {
        write_atomic(path, updated.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TABLE: &str = "| a | b |\n|---|---|\n| 1 | 2 |\n";

    #[test]
    fn the_table_replaces_what_lies_between_its_markers_only() {
        let document = "# Study\n\ntext\n<!-- plasticity:table other -->\nkeep\n\
                        <!-- /plasticity:table -->\n<!-- plasticity:table study -->\n\
                        | old | table |\n<!-- /plasticity:table -->\nafter\n";
        let out = spliced(document, Path::new("R.md"), "study", TABLE).unwrap();
        assert_eq!(
            out,
            "# Study\n\ntext\n<!-- plasticity:table other -->\nkeep\n\
             <!-- /plasticity:table -->\n<!-- plasticity:table study -->\n\
             | a | b |\n|---|---|\n| 1 | 2 |\n<!-- /plasticity:table -->\nafter\n"
        );
        // Splicing the same table again changes nothing.
        assert_eq!(
            spliced(&out, Path::new("R.md"), "study", TABLE).unwrap(),
            out
        );
    }

    #[test]
    fn markers_after_a_prefix_give_the_table_that_prefix() {
        let document = "name = \"study\"\n# <!-- plasticity:table study -->\n# old\n\
                        # <!-- /plasticity:table -->\n<!-- /plasticity:table -->\nseed = 0\n";
        let out = spliced(document, Path::new("s.toml"), "study", TABLE).unwrap();
        assert_eq!(
            out,
            "name = \"study\"\n# <!-- plasticity:table study -->\n# | a | b |\n# |---|---|\n\
             # | 1 | 2 |\n# <!-- /plasticity:table -->\n<!-- /plasticity:table -->\nseed = 0\n"
        );
        // A closing marker without the prefix does not close a prefixed table.
        let unclosed = "# <!-- plasticity:table study -->\n<!-- /plasticity:table -->\n";
        assert!(spliced(unclosed, Path::new("s.toml"), "study", TABLE).is_err());
    }

    #[test]
    fn merging_replaces_the_new_rows_keeps_the_others_and_follows_the_order() {
        let document = "x = 1\n# <!-- plasticity:table study -->\n# | variant | acc |\n\
                        # |---|---:|\n# | a | 0.1 |\n# | b | 0.2 |\n# | gone | 0.3 |\n\
                        # <!-- /plasticity:table -->\n";
        let table = "| variant | acc |\n|---|---:|\n| d | 0.4 |\n| b | 0.5 |\n";
        let order = ["a", "d", "b"].map(String::from);
        let out = merged(document, Path::new("s.toml"), "study", table, &order).unwrap();
        assert_eq!(
            out,
            "x = 1\n# <!-- plasticity:table study -->\n# | variant | acc |\n# |---|---:|\n\
             # | a | 0.1 |\n# | d | 0.4 |\n# | b | 0.5 |\n# <!-- /plasticity:table -->\n"
        );
        // Merging the same rows again changes nothing.
        let again = merged(&out, Path::new("s.toml"), "study", table, &order).unwrap();
        assert_eq!(again, out);
        // Other columns: the whole study must run again.
        let other = "| variant | loss |\n|---|---:|\n| b | 0.5 |\n";
        let message = merged(document, Path::new("s.toml"), "study", other, &order)
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("s.toml") && message.contains("other columns"),
            "{message}"
        );
        // An empty table takes the new rows.
        let empty = "<!-- plasticity:table study -->\n<!-- /plasticity:table -->\n";
        let out = merged(empty, Path::new("R.md"), "study", table, &order).unwrap();
        assert!(out.contains("| d | 0.4 |\n| b | 0.5 |\n"), "{out}");
    }

    #[test]
    fn missing_markers_name_the_file_and_the_marker() {
        let no_start = spliced("text\n", Path::new("R.md"), "study", TABLE).unwrap_err();
        let message = no_start.to_string();
        assert!(
            message.contains("R.md") && message.contains("no line opens"),
            "{message}"
        );
        assert!(
            message.contains("<!-- plasticity:table study -->"),
            "{message}"
        );
        let unclosed = "<!-- plasticity:table study -->\n| old |\n";
        let message = spliced(unclosed, Path::new("R.md"), "study", TABLE)
            .unwrap_err()
            .to_string();
        assert!(message.contains("never closed"), "{message}");
    }
}
