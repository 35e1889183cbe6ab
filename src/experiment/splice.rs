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

/// `document` with the lines between `name`'s markers replaced by `table` (each line after the
/// opening marker's prefix); an error names `path` and says which marker is missing.
pub fn spliced(document: &str, path: &Path, name: &str, table: &str) -> Result<String> {
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
    let updated = spliced(&document, path, name, table)?;
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
