//! Output formats shared by the commands: a human table by default, JSON or
//! YAML for scripts.

use std::io::{self, Write};

use serde::Serialize;

/// How a command prints data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// JSON, one document, for scripts.
    Json,
    /// YAML, for scripts and for reading.
    Yaml,
}

/// Writes `value` as JSON or YAML (callers handle `Table` themselves).
pub fn write_data<T: Serialize>(out: &mut dyn Write, format: Format, value: &T) -> io::Result<()> {
    match format {
        Format::Json | Format::Table => {
            serde_json::to_writer_pretty(&mut *out, value)?;
            writeln!(out)
        }
        Format::Yaml => {
            let text = serde_saphyr::to_string(value).map_err(io::Error::other)?;
            out.write_all(text.as_bytes())
        }
    }
}

/// A plain left-aligned text table.
pub struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(header: I) -> Table {
        Table {
            rows: vec![header.into_iter().map(Into::into).collect()],
        }
    }

    pub fn row<I: IntoIterator<Item = S>, S: Into<String>>(&mut self, cells: I) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn write(&self, out: &mut dyn Write, indent: &str) -> io::Result<()> {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::from(indent);
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}  ", w = widths[c]));
                }
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_aligns_columns() {
        let mut t = Table::new(["NAME", "PORT"]);
        t.row(["test-mysql", "3306"]);
        t.row(["a", "1"]);
        let mut out = Vec::new();
        t.write(&mut out, "").unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text, "NAME        PORT\ntest-mysql  3306\na           1\n");
    }
}

/// `text` (a container's log, say) on one line for a status message or an
/// Event: lines joined with ` | `, other control characters dropped, and at
/// most `limit` bytes kept from the end (the newest lines matter most).
pub fn one_line(text: &str, limit: usize) -> String {
    let joined = text
        .lines()
        .map(|l| l.chars().filter(|c| !c.is_control()).collect::<String>())
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" | ");
    if joined.len() <= limit {
        return joined;
    }
    let mut start = joined.len() - limit;
    while !joined.is_char_boundary(start) {
        start += 1;
    }
    format!("...{}", &joined[start..])
}

#[cfg(test)]
mod one_line_tests {
    use super::one_line;

    #[test]
    fn logs_become_one_bounded_line_without_control_characters() {
        assert_eq!(one_line("a\r\n\x1b[31mb\n\n", 100), "a | [31mb");
        let long = "é".repeat(100);
        let cut = one_line(&long, 11);
        assert!(cut.starts_with("...") && cut.len() <= 14, "{cut}");
    }
}
