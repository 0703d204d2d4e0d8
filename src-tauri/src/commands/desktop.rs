//! Hand-offs to the desktop: a documentation page to the browser, a file Stowage saved to the
//! file manager. The page names what to open; Rust decides whether it may (the core's list of
//! documentation sites, the files this app saved), so the page is granted no opener permission.

use std::path::PathBuf;

use stowage_core::links::is_documentation_link;
use stowage_core::Error;
use tauri::AppHandle;
use tauri_plugin_opener::OpenerExt;

use super::CommandError;
use crate::state::AppState;

fn opener_failed(e: tauri_plugin_opener::Error) -> Error {
    Error::Command {
        command: "xdg-open".into(),
        message: e.to_string(),
    }
}

/// Opens a documentation page in the user's browser (only the sites the core lists).
#[tauri::command]
#[tracing::instrument(skip(app))]
pub async fn open_documentation(app: AppHandle, url: String) -> Result<(), CommandError> {
    if !is_documentation_link(&url) {
        return Err(Error::InvalidRequest(format!(
            "`{url}` is not a documentation page Stowage opens"
        ))
        .into());
    }
    app.opener()
        .open_url(url, None::<&str>)
        .map_err(opener_failed)?;
    Ok(())
}

/// Shows a file this app saved (a diagnostics bundle) in the file manager, selected.
#[tauri::command]
#[tracing::instrument(skip(app, state))]
pub async fn reveal_saved_file(
    app: AppHandle,
    state: tauri::State<'_, AppState>,
    path: PathBuf,
) -> Result<(), CommandError> {
    if !state.saved_by_app(&path) {
        return Err(Error::InvalidRequest(format!(
            "{} is not a file Stowage saved in this session",
            path.display()
        ))
        .into());
    }
    app.opener()
        .reveal_item_in_dir(&path)
        .map_err(opener_failed)?;
    Ok(())
}
