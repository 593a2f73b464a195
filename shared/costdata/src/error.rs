//! The one error every reader returns: which file, which data row, which column, and what is
//! wrong, so an operator can open the file and find the value.

/// A cost file could not be read into a cube.
///
/// Displayed as `<file>: row <n>: column <c>: <message>`, leaving out the parts that are `None`.
/// `row` counts data rows from 1 (the CSV header is not a row), in file order for every format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", render(.file, .row, .column, .message))]
pub struct ReadError {
    /// The file (S3 key or path) being read.
    pub file: String,
    /// 1-based data row, when the problem is in one row.
    pub row: Option<u64>,
    /// Column name, when the problem is in one column.
    pub column: Option<String>,
    /// What is wrong, in words.
    pub message: String,
}

impl ReadError {
    /// An error about the whole file.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ReadError {
            file: file.to_string(),
            row: None,
            column: None,
            message: message.into(),
        }
    }

    /// An error about one column of the file (a missing column, a column of the wrong type).
    pub fn column(file: &str, column: &str, message: impl Into<String>) -> Self {
        ReadError {
            file: file.to_string(),
            row: None,
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    /// An error about one value: the row and column it sits in.
    pub fn value(file: &str, row: u64, column: &str, message: impl Into<String>) -> Self {
        ReadError {
            file: file.to_string(),
            row: Some(row),
            column: Some(column.to_string()),
            message: message.into(),
        }
    }

    /// An error about one row as a whole (for example a CSV row with too few fields).
    pub fn row(file: &str, row: u64, message: impl Into<String>) -> Self {
        ReadError {
            file: file.to_string(),
            row: Some(row),
            column: None,
            message: message.into(),
        }
    }
}

fn render(file: &str, row: &Option<u64>, column: &Option<String>, message: &str) -> String {
    let mut out = String::with_capacity(file.len() + message.len() + 32);
    out.push_str(file);
    if let Some(row) = row {
        out.push_str(&format!(": row {row}"));
    }
    if let Some(column) = column {
        out.push_str(&format!(": column {column}"));
    }
    out.push_str(": ");
    out.push_str(message);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_leaves_out_missing_parts() {
        let full = ReadError::value("a.csv", 3, "BilledCost", "not a number: \"x\"");
        assert_eq!(
            full.to_string(),
            "a.csv: row 3: column BilledCost: not a number: \"x\""
        );
        let column = ReadError::column("a.csv", "Tags", "missing column");
        assert_eq!(column.to_string(), "a.csv: column Tags: missing column");
        let row = ReadError::row("a.csv", 7, "found 3 fields, expected 4");
        assert_eq!(row.to_string(), "a.csv: row 7: found 3 fields, expected 4");
        assert_eq!(
            ReadError::file("a.csv", "empty").to_string(),
            "a.csv: empty"
        );
    }
}
