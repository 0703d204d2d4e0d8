//! `stowctl generate-assets DIR` (hidden): the man page and shell completions, generated from
//! the clap grammar so they never drift from it. `scripts/package.sh` puts them in the .deb.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context as _, Result};
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Writes `DIR/man/stowctl.1` and `DIR/completions/{stowctl.bash,_stowctl,stowctl.fish}`.
pub fn generate(dir: &Path) -> Result<ExitCode> {
    let man_dir = dir.join("man");
    let completions = dir.join("completions");
    for d in [&man_dir, &completions] {
        std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
    }
    let mut page = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut page)?;
    let man = man_dir.join("stowctl.1");
    std::fs::write(&man, page).with_context(|| format!("writing {}", man.display()))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let path = clap_complete::generate_to(shell, &mut Cli::command(), "stowctl", &completions)
            .with_context(|| format!("writing {shell} completions in {}", completions.display()))?;
        crate::outln!("{}", path.display());
    }
    crate::outln!("{}", man.display());
    Ok(ExitCode::SUCCESS)
}
