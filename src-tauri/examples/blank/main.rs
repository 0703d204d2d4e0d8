//! A blank Tauri window built exactly like the app (same crate, profile, CSP and window size),
//! for scripts/bench-app.sh: the floor of launch time and memory for this stack.

#[tauri::command]
fn ui_painted(what: String) {
    let ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0);
    println!("STOWAGE_MARK {what} {ms}");
}

fn main() {
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![ui_painted])
        .run(tauri::generate_context!("examples/blank/tauri.conf.json"))
        .expect("the blank window runs");
}
