//! Image references in the familiar form the docker CLI prints.

/// `docker.io/library/alpine:3` -> `alpine:3`; `docker.io/u/x:1` -> `u/x:1`; others unchanged.
pub fn familiar(name: &str) -> String {
    let rest = name.strip_prefix("docker.io/").unwrap_or(name);
    let rest = rest
        .strip_prefix("library/")
        .filter(|r| !r.contains('/'))
        .unwrap_or(rest);
    rest.to_string()
}

/// The fully qualified form of a familiar reference (`alpine` -> `docker.io/library/alpine:latest`).
pub fn qualified(reference: &str) -> String {
    let (name, suffix) = split_suffix(reference);
    let first = name.split('/').next().unwrap_or("");
    let has_registry =
        name.contains('/') && (first.contains('.') || first.contains(':') || first == "localhost");
    let full = if has_registry {
        name.to_string()
    } else if name.contains('/') {
        format!("docker.io/{name}")
    } else {
        format!("docker.io/library/{name}")
    };
    match suffix {
        Some(s) => format!("{full}{s}"),
        None => format!("{full}:latest"),
    }
}

/// Whether `reference` (as a user typed it) names `candidate` (familiar form).
pub fn matches(reference: &str, candidate: &str) -> bool {
    qualified(reference) == qualified(candidate)
}

fn split_suffix(r: &str) -> (&str, Option<&str>) {
    if let Some(i) = r.find('@') {
        return (&r[..i], Some(&r[i..]));
    }
    let last_slash = r.rfind('/').map(|i| i + 1).unwrap_or(0);
    match r[last_slash..].rfind(':') {
        Some(i) => (&r[..last_slash + i], Some(&r[last_slash + i..])),
        None => (r, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn familiar_and_qualified_forms() {
        assert_eq!(familiar("docker.io/library/bb:c8d"), "bb:c8d");
        assert_eq!(familiar("docker.io/user/x:1"), "user/x:1");
        assert_eq!(familiar("ghcr.io/o/x:1"), "ghcr.io/o/x:1");
        assert_eq!(qualified("bb"), "docker.io/library/bb:latest");
        assert_eq!(qualified("localhost:5000/x"), "localhost:5000/x:latest");
        assert_eq!(qualified("user/x@sha256:ab"), "docker.io/user/x@sha256:ab");
        assert!(matches("bb:c8d", "docker.io/library/bb:c8d"));
        assert!(!matches("bb", "bb:c8d"));
    }
}
