//! `stowctl`: Stowage's command line. Parses arguments, sets up logging, and hands each
//! subcommand to a thin adapter over `stowage-core`.

mod cli;
mod commands;
mod context;
mod output;
mod privilege;
mod remote;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // As root through pkexec nothing of the caller's environment is read (clap reads
    // STOWAGE_ENGINE, discovery DOCKER_HOST...): replaced first, before any thread starts.
    if stowage_core::privilege::caller().is_some() {
        stowage_core::privilege::environment::apply_clean_environment();
    }
    let mut args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => return output::report_usage_error(e),
    };
    if args.global.wire {
        args.global.json = true;
        output::start_wire();
    }
    init_logging(args.global.verbose);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stowctl: error: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    let json = args.global.json;
    let result = runtime.block_on(commands::run(args));
    match result {
        Ok(code) => code,
        Err(err) => output::report_error(&err, json),
    }
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let default = match verbose {
        0 => "warn",
        1 => "info,stowage_core=info",
        _ => "debug",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    // -vv also prints how long each instrumented step took.
    let spans = if verbose >= 2 {
        tracing_subscriber::fmt::format::FmtSpan::CLOSE
    } else {
        tracing_subscriber::fmt::format::FmtSpan::NONE
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(spans)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
