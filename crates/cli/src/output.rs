//! Printing: JSON for `--json`, aligned tables and key/value blocks for people, and errors.

use std::process::ExitCode;

use serde::Serialize;
use stowage_core::error::ErrorReport;

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints `key  value` lines with the keys aligned.
pub fn print_pairs(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        println!("{k:<width$}  {v}");
    }
}

/// Prints a table with a header row, columns padded to their widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i == last {
                    c.clone()
                } else {
                    format!("{c:<w$}", w = widths[i])
                }
            })
            .collect::<Vec<_>>()
            .join("   ")
    };
    println!("{}", line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        println!("{}", line(row.clone()));
    }
}

/// `-` for unknown values.
pub fn or_dash<T: ToString>(v: Option<T>) -> String {
    v.map(|x| x.to_string()).unwrap_or_else(|| "-".into())
}

/// Prints an error (as a sentence, and as JSON with `--json`) and returns its exit code.
pub fn report_error(err: &anyhow::Error, json: bool) -> ExitCode {
    let (code, report) = match err.downcast_ref::<stowage_core::Error>() {
        Some(core) => (core.code().exit_code(), Some(ErrorReport::from(core))),
        None => (70, None),
    };
    if json {
        let body = match &report {
            Some(r) => serde_json::json!({ "error": r }),
            None => {
                serde_json::json!({ "error": { "code": "internal", "message": format!("{err:#}") } })
            }
        };
        println!("{body}");
    }
    eprintln!("stowctl: error: {err:#}");
    ExitCode::from(code)
}
