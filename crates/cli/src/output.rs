//! Printing: JSON for `--json`, aligned tables and key/value blocks for people, and errors.

use std::process::ExitCode;

use serde::Serialize;
use stowage_core::error::ErrorReport;

/// Writes one line to stdout. A reader that went away (a closed pipe, `| head`, the app's
/// runner gone) never stops a command, least of all a transaction: the failure is logged once
/// and later lines go to the log only.
pub fn out_line(line: &str) {
    use std::io::Write;
    use std::sync::atomic::{AtomicBool, Ordering};
    static GONE: AtomicBool = AtomicBool::new(false);
    let wired;
    let line = if WIRE.load(Ordering::Relaxed) {
        match serde_json::from_str::<serde_json::Value>(line) {
            Ok(v) => {
                wired = stowage_core::wire::Line::classify(v).to_line();
                wired.as_str()
            }
            Err(_) => {
                tracing::info!(line, "not a JSON document: not on the wire");
                return;
            }
        }
    } else {
        line
    };
    if GONE.load(Ordering::Relaxed) {
        tracing::info!(line, "stdout is closed; logged instead");
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
        GONE.store(true, Ordering::Relaxed);
        tracing::warn!(error = %e, "cannot write to stdout (the reader went away); going on, output goes to the log");
        tracing::info!(line, "stdout is closed; logged instead");
    }
}

static WIRE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `--wire`: from now on every line on stdout is a line of the core's wire protocol
/// (`stowage_core::wire`), starting with the hello written here.
pub fn start_wire() {
    out_line(&stowage_core::wire::Line::Hello(stowage_core::wire::Hello::ours()).to_line());
    WIRE.store(true, std::sync::atomic::Ordering::Relaxed);
}

/// `println!` for stdout that never panics when the reader has gone (see [`out_line`]).
#[macro_export]
macro_rules! outln {
    () => {
        $crate::output::out_line("")
    };
    ($($arg:tt)*) => {
        $crate::output::out_line(&format!($($arg)*))
    };
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> anyhow::Result<()> {
    out_line(&serde_json::to_string_pretty(value)?);
    Ok(())
}

/// Prints `key  value` lines with the keys aligned.
pub fn print_pairs(pairs: &[(&str, String)]) {
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (k, v) in pairs {
        out_line(&format!("{k:<width$}  {v}"));
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
    out_line(&line(header.iter().map(|h| h.to_string()).collect()));
    for row in rows {
        out_line(&line(row.clone()));
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
        None => (stowage_core::ErrorCode::Internal.exit_code(), None),
    };
    if json {
        let body = match &report {
            Some(r) => serde_json::json!({ "error": r }),
            None => serde_json::json!({ "error": {
                "code": stowage_core::ErrorCode::Internal,
                "message": format!("{err:#}"),
            } }),
        };
        out_line(&body.to_string());
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
    let wire = std::env::args_os()
        .skip(1)
        .take_while(|a| a != "--")
        .any(|a| a == stowage_core::wire::FLAG);
    let json = wire
        || std::env::args_os()
            .skip(1)
            .take_while(|a| a != "--")
            .any(|a| a == "--json");
    if wire {
        start_wire();
    }
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
        out_line(&serde_json::json!({ "error": { "code": code, "message": message } }).to_string());
    }
    let _ = err.print();
    ExitCode::from(code.exit_code())
}
