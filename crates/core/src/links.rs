//! Documentation links: the only web addresses Stowage hands to the browser. Checks and the
//! feature catalog name them; a link from anywhere else (a user's catalog file, a tampered page)
//! is refused.

/// The sites whose pages Stowage links to.
const SITES: &[&str] = &[
    "https://docs.docker.com/",
    "https://github.com/moby/moby/issues/",
    "https://github.com/docker/",
];

/// Whether `url` is a documentation page Stowage may open: one of its known sites over https,
/// with nothing that could be read as another address or an argument.
pub fn is_documentation_link(url: &str) -> bool {
    SITES.iter().any(|s| url.starts_with(s))
        && url.len() < 512
        && url
            .chars()
            .all(|c| c.is_ascii_graphic() && !matches!(c, '\\' | '"' | '\'' | '<' | '>' | '`'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_known_documentation_sites_over_https() {
        assert!(is_documentation_link(
            "https://docs.docker.com/engine/storage/containerd/"
        ));
        assert!(is_documentation_link(
            "https://github.com/moby/moby/issues/45450"
        ));
        for bad in [
            "http://docs.docker.com/engine/",
            "https://docs.docker.com.evil.example/",
            "https://evil.example/https://docs.docker.com/",
            "file:///etc/passwd",
            "https://docs.docker.com/ --new-window",
            "https://docs.docker.com/\nfile:///",
            "--help",
        ] {
            assert!(!is_documentation_link(bad), "{bad}");
        }
    }
}
