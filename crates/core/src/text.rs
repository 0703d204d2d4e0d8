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
    fn bytes_in_decimal_units() {
        assert_eq!(human_bytes(0), "0 B");
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(7500), "7.5 kB");
        assert_eq!(human_bytes(3_100_000), "3.1 MB");
        assert_eq!(human_bytes(77_600_000_000), "77.6 GB");
        assert_eq!(human_bytes(1_000_000), "1 MB");
    }
}
