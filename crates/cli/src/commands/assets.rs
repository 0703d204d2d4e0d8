//! `stowctl generate-assets DIR` (hidden): the man pages (`stowctl.1` and one per subcommand,
//! `stowctl-store-use.1`, …) and shell completions, generated from the clap grammar so they never
//! drift from it. `scripts/package.sh` puts them in the .deb.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes `DIR/man/stowctl*.1` and `DIR/completions/{stowctl.bash,_stowctl,stowctl.fish}`;
/// prints each file's path.
pub fn generate(dir: &Path) -> Result<ExitCode> {
    let man_dir = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man_dir, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    // stowctl.1 and a page per subcommand (hidden ones left out), named like git's.
    clap_mangen::generate_to(Cli::command(), &man_dir)
        .with_context(|| format!("writing man pages in {}", man_dir.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut Cli::command(), "stowctl", &completions)
            .with_context(|| format!("writing {shell} completions in {}", completions.display()))?;
        crate::outln!("{}", path.display());
    }
    let mut pages: Vec<_> = std::fs::read_dir(&man_dir)
        .with_context(|| format!("reading {}", man_dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    pages.sort();
    for page in pages {
        crate::outln!("{}", page.display());
    }
    Ok(ExitCode::SUCCESS)
}
