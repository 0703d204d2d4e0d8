//! Words for people: counts with their noun in the singular or plural ("1 image", "2 images",
//! never "image(s)"), and byte counts in decimal units ("7.5 kB", as `docker images` and the
//! window print them, never "7500 bytes").

/// `n` and its noun: `count(1, "image")` is "1 image", `count(2, "image")` "2 images".
pub fn count(n: u64, one: &str) -> String {
    count_as(n, one, &format!("{one}s"))
}

/// `n` and its noun, with an irregular plural: `count_as(2, "copy", "copies")`.
pub fn count_as(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// How often something happens: "once", "twice", "3 times".
pub fn times(n: u64) -> String {
    match n {
        1 => "once".into(),
        2 => "twice".into(),
        _ => count(n, "time"),
    }
}

/// Bytes in decimal units with up to three significant digits: "512 B", "7.5 kB", "1.23 GB".
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1000.0 && i < UNITS.len() - 1 {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        return format!("{n} B");
    }
    let digits = if v < 10.0 { 2 } else { 1 };
    let s = format!("{v:.digits$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s} {}", UNITS[i])
}

/// Which front door a sentence is for: the words differ only where a person acts differently
/// through it. The one rule for that lives here; checks and plans ask it rather than building
/// two sentences, and no page rewrites a core sentence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Door {
    /// `stowctl`: its own flags may be named, and the engine's own error follows the sentence.
    #[default]
    Cli,
    /// The desktop app: sentences for people, no command-line flags; the engine's own error
    /// stays in the evidence, one click away.
    App,
}

impl Door {
    /// How a person names the images the registry probes pull, through this door.
    pub fn name_probe_images(self) -> &'static str {
        match self {
            Door::Cli => "with --probe-image",
            Door::App => {
                "in the STOWAGE_PROBE_IMAGES environment variable (comma-separated) when starting Stowage"
            }
        }
    }

    /// What went wrong, said for this door: the sentence, and for the CLI the engine's own error
    /// after it (the app keeps that in the evidence).
    pub fn engine_error(self, sentence: &str, raw: Option<&str>) -> String {
        match (self, raw.map(str::trim).filter(|r| !r.is_empty())) {
            (Door::Cli, Some(raw)) => format!("{sentence} (the engine said: {raw})"),
            _ => sentence.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_agree_with_their_number() {
        assert_eq!(count(0, "image"), "0 images");
        assert_eq!(count(1, "image"), "1 image");
        assert_eq!(count(2, "container"), "2 containers");
        assert_eq!(count_as(3, "copy", "copies"), "3 copies");
        assert_eq!(times(1), "once");
        assert_eq!(times(2), "twice");
        assert_eq!(times(3), "3 times");
    }

    #[test]
    fn each_door_gets_its_words() {
        assert!(Door::Cli.name_probe_images().contains("--probe-image"));
        assert!(!Door::App.name_probe_images().contains("--"));
        let raw = "dial tcp 127.0.0.1:5999: connect: connection refused";
        assert_eq!(
            Door::App.engine_error("nothing listens there", Some(raw)),
            "nothing listens there"
        );
        assert_eq!(
            Door::Cli.engine_error("nothing listens there", Some(raw)),
            format!("nothing listens there (the engine said: {raw})")
        );
    }

    #[test]
    fn bytes_in_decimal_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(7500), "7.5 kB");
        assert_eq!(human_bytes(3_100_000), "3.1 MB");
        assert_eq!(human_bytes(77_600_000_000), "77.6 GB");
        assert_eq!(human_bytes(1_000_000), "1 MB");
    }
}
