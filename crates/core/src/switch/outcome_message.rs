//! How a change or restart ended, in one sentence: the app's outcome panel and `stowctl` say it
//! alike.

use super::OutcomeKind;
use crate::engine::store::ImageStore;

impl OutcomeKind {
    /// The sentence for this ending: `active_store` is the store running at the end, `error`
    /// what went wrong, `restart_only` whether it was a bare restart (no daemon.json change).
    pub fn message(
        self,
        active_store: Option<ImageStore>,
        error: Option<&str>,
        restart_only: bool,
    ) -> String {
        let store = active_store.map(ImageStore::as_str).unwrap_or("unknown");
        let error = error.unwrap_or("unknown error");
        match self {
            OutcomeKind::Applied if restart_only => {
                format!("The engine restarted and answers again; it runs the {store} image store.")
            }
            OutcomeKind::Applied => format!("Done: the engine runs the {store} image store."),
            OutcomeKind::Unchanged => "Nothing to change: the engine already runs as asked.".into(),
            OutcomeKind::RolledBack => format!(
                "The change did not work, so Stowage put the previous daemon.json back; the engine runs the {store} image store again."
            ),
            OutcomeKind::Failed if restart_only => format!("The engine did not come back: {error}"),
            OutcomeKind::Failed => format!("The change failed: {error}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_ending_in_words() {
        let c = Some(ImageStore::Containerd);
        assert_eq!(
            OutcomeKind::Applied.message(c, None, false),
            "Done: the engine runs the containerd image store."
        );
        assert_eq!(
            OutcomeKind::Applied.message(c, None, true),
            "The engine restarted and answers again; it runs the containerd image store."
        );
        assert_eq!(
            OutcomeKind::Failed.message(None, Some("dockerd exited"), true),
            "The engine did not come back: dockerd exited"
        );
        assert!(OutcomeKind::RolledBack
            .message(Some(ImageStore::Classic), None, false)
            .ends_with("runs the classic image store again."));
    }
}
