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

/// A command line clap refused: help and version print as usual (exit 0); anything else is an
/// invalid request, exit 64, with `{"error": {"code", "message"}}` on stdout when `--json` is
/// among the arguments (clap's own text stays on stderr).
pub fn report_usage_error(err: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        err.kind(),
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
    ) {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    let json = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == "--json");
    let code = stowage_core::ErrorCode::InvalidRequest;
    if json {
        let text = err.render().to_string();
        // The error and its details (possible values, a tip), without the usage lines.
        let message = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .collect::<Vec<_>>()
            .join(" ");
        let message = match message.strip_prefix("error: ") {
            Some(m) => m.to_string(),
            None if message.is_empty() => "invalid arguments".to_string(),
            None => message,
        };
        println!(
            "{}",
            serde_json::json!({ "error": { "code": code, "message": message } })
        );
    }
    let _ = err.print();
    ExitCode::from(code.exit_code())
}
