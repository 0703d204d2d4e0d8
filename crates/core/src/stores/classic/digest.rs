//! sha256 digests as 32 bytes (not 71-byte strings), their hex forms, and a hasher for maps keyed
//! by them.

use std::hash::{BuildHasherDefault, Hasher};

/// A sha256 digest.
pub(super) type Digest = [u8; 32];

/// A `HashMap` keyed by digests, hashed by [`DigestHasher`].
pub(super) type DigestMap<V> =
    std::collections::HashMap<Digest, V, BuildHasherDefault<DigestHasher>>;

/// A `HashSet` of digests, hashed by [`DigestHasher`].
pub(super) type DigestSet = std::collections::HashSet<Digest, BuildHasherDefault<DigestHasher>>;

/// Hashes a digest by its first 8 bytes: they are already uniformly distributed, so hashing them
/// again (SipHash over 64 hex characters was 8% of a listing) buys nothing.
#[derive(Default)]
pub(super) struct DigestHasher(u64);

impl Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 = self.0.rotate_left(17) ^ u64::from_le_bytes(b);
    }

    // The length prefix of a slice's hash: always 32 for a digest.
    fn write_usize(&mut self, _: usize) {}
}

/// The digest of 64 lowercase hex characters (what Docker writes), else `None`.
pub(super) fn from_hex(hex: &[u8]) -> Option<Digest> {
    // Each character's value, or 0xff for a character that is not lowercase hex.
    const VALUE: [u8; 256] = {
        let mut t = [0xffu8; 256];
        let mut c = 0;
        while c < 10 {
            t[b'0' as usize + c] = c as u8;
            c += 1;
        }
        let mut c = 0;
        while c < 6 {
            t[b'a' as usize + c] = 10 + c as u8;
            c += 1;
        }
        t
    };
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    let mut bad = 0u8;
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (hi, lo) = (VALUE[pair[0] as usize], VALUE[pair[1] as usize]);
        bad |= hi | lo;
        *o = hi << 4 | (lo & 15);
    }
    (bad & 0xf0 == 0).then_some(out)
}

/// The digest of `sha256:<64 hex>`, else `None`.
pub(super) fn from_prefixed(s: &str) -> Option<Digest> {
    from_hex(s.strip_prefix("sha256:")?.as_bytes())
}

/// Appends the 64 lowercase hex characters of `d` to `out`.
pub(super) fn push_hex(out: &mut String, d: &Digest) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.reserve(64);
    for b in d {
        out.push(HEX[(b >> 4) as usize] as char);
        out.push(HEX[(b & 15) as usize] as char);
    }
}

/// `sha256:<hex>`.
pub(super) fn prefixed(d: &Digest) -> String {
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    push_hex(&mut s, d);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips_and_rejects_what_docker_never_writes() {
        let hex = "00ff10a9".repeat(8);
        let d = from_hex(hex.as_bytes()).unwrap();
        assert_eq!(prefixed(&d), format!("sha256:{hex}"));
        assert_eq!(from_prefixed(&format!("sha256:{hex}")), Some(d));
        assert_eq!(from_hex(hex.to_uppercase().as_bytes()), None);
        assert_eq!(from_hex(&hex.as_bytes()[..62]), None);
        assert_eq!(from_hex(format!(".tmp-{}", &hex[5..]).as_bytes()), None);
        assert_eq!(from_prefixed(&hex), None);
    }
}
