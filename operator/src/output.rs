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
