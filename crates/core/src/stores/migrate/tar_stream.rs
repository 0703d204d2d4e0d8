//! A push reader of tar streams: bytes go in as they arrive (from `docker save`), entries come
//! out as a start, data pieces and an end, so an archive is never held whole in memory or on
//! disk. It reads what Go's `archive/tar` writes (ustar, GNU long names, PAX `path`).

/// What the reader found in the bytes fed to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TarEvent {
    /// A regular file begins.
    Begin { name: String, size: u64 },
    /// The next bytes of the current file.
    Data(Vec<u8>),
    /// The current file is complete.
    End,
}

/// Errors of a malformed stream.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TarError {
    /// A header whose checksum or size field does not read.
    #[error("malformed tar header at byte {0}")]
    Header(u64),
    /// The stream ended inside an entry.
    #[error("the archive ended inside an entry")]
    Truncated,
}

#[derive(Debug)]
enum State {
    Header,
    /// A regular file's body (`remaining` bytes, then `pad` bytes of padding).
    File {
        remaining: u64,
        pad: u64,
    },
    /// A metadata entry (long name, PAX) read whole; `kind` is its type flag.
    Meta {
        kind: u8,
        remaining: u64,
        pad: u64,
        body: Vec<u8>,
    },
    /// Any other entry's body, skipped.
    Skip {
        remaining: u64,
    },
    End,
}

/// The reader; see the module documentation.
#[derive(Debug)]
pub struct TarReader {
    state: State,
    header: Vec<u8>,
    offset: u64,
    next_name: Option<String>,
}

impl Default for TarReader {
    fn default() -> Self {
        Self::new()
    }
}

const BLOCK: usize = 512;
/// Metadata entries (long names, PAX) larger than this are refused as malformed.
const META_LIMIT: u64 = 1 << 20;

impl TarReader {
    /// A reader at the start of an archive.
    pub fn new() -> Self {
        TarReader {
            state: State::Header,
            header: Vec::with_capacity(BLOCK),
            offset: 0,
            next_name: None,
        }
    }

    /// Whether the end-of-archive marker was read.
    pub fn finished(&self) -> bool {
        matches!(self.state, State::End)
    }

    /// Checks the stream did not stop inside an entry.
    pub fn finish(&self) -> Result<(), TarError> {
        match self.state {
            State::Header | State::End if self.header.is_empty() => Ok(()),
            State::End => Ok(()),
            _ => Err(TarError::Truncated),
        }
    }

    /// Reads `chunk`, returning the events it completes.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<Vec<TarEvent>, TarError> {
        let mut out = Vec::new();
        while !chunk.is_empty() {
            match &mut self.state {
                State::End => break,
                State::Header => {
                    let take = (BLOCK - self.header.len()).min(chunk.len());
                    self.header.extend_from_slice(&chunk[..take]);
                    chunk = &chunk[take..];
                    self.offset += take as u64;
                    if self.header.len() == BLOCK {
                        let h = std::mem::take(&mut self.header);
                        self.header = Vec::with_capacity(BLOCK);
                        self.on_header(&h, &mut out)?;
                    }
                }
                State::File { remaining, pad } => {
                    if *remaining > 0 {
                        let take = (*remaining).min(chunk.len() as u64) as usize;
                        out.push(TarEvent::Data(chunk[..take].to_vec()));
                        *remaining -= take as u64;
                        chunk = &chunk[take..];
                        self.offset += take as u64;
                        if *remaining == 0 {
                            out.push(TarEvent::End);
                        }
                    } else {
                        let take = (*pad).min(chunk.len() as u64) as usize;
                        *pad -= take as u64;
                        chunk = &chunk[take..];
                        self.offset += take as u64;
                    }
                    if let State::File {
                        remaining: 0,
                        pad: 0,
                    } = self.state
                    {
                        self.state = State::Header;
                    }
                }
                State::Meta {
                    kind,
                    remaining,
                    pad,
                    body,
                } => {
                    let take = (*remaining + *pad).min(chunk.len() as u64) as usize;
                    let body_take = (*remaining).min(take as u64) as usize;
                    body.extend_from_slice(&chunk[..body_take]);
                    *remaining -= body_take as u64;
                    *pad -= (take - body_take) as u64;
                    chunk = &chunk[take..];
                    self.offset += take as u64;
                    if *remaining == 0 && *pad == 0 {
                        let name = match kind {
                            b'L' => Some(cstr(body)),
                            _ => pax_path(body),
                        };
                        if name.is_some() {
                            self.next_name = name;
                        }
                        self.state = State::Header;
                    }
                }
                State::Skip { remaining } => {
                    let take = (*remaining).min(chunk.len() as u64) as usize;
                    *remaining -= take as u64;
                    chunk = &chunk[take..];
                    self.offset += take as u64;
                    if *remaining == 0 {
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(out)
    }

    fn on_header(&mut self, h: &[u8], out: &mut Vec<TarEvent>) -> Result<(), TarError> {
        if h.iter().all(|b| *b == 0) {
            // One zero block is the end marker's first half; what follows is padding.
            self.state = State::End;
            return Ok(());
        }
        let at = self.offset - BLOCK as u64;
        if !checksum_ok(h) {
            return Err(TarError::Header(at));
        }
        let size = number(&h[124..136]).ok_or(TarError::Header(at))?;
        let pad = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
        let kind = h[156];
        match kind {
            b'0' | 0 | b'7' => {
                let mut name = cstr(&h[0..100]);
                if &h[257..262] == b"ustar" {
                    let prefix = cstr(&h[345..500]);
                    if !prefix.is_empty() {
                        name = format!("{prefix}/{name}");
                    }
                }
                let name = self.next_name.take().unwrap_or(name);
                out.push(TarEvent::Begin { name, size });
                if size == 0 {
                    out.push(TarEvent::End);
                    self.state = if pad == 0 {
                        State::Header
                    } else {
                        State::Skip { remaining: pad }
                    };
                } else {
                    self.state = State::File {
                        remaining: size,
                        pad,
                    };
                }
            }
            b'L' | b'x' => {
                if size > META_LIMIT {
                    return Err(TarError::Header(at));
                }
                self.state = State::Meta {
                    kind,
                    remaining: size,
                    pad,
                    body: Vec::new(),
                };
                if size == 0 {
                    self.state = State::Header;
                }
            }
            _ => {
                self.next_name = None;
                self.state = if size + pad == 0 {
                    State::Header
                } else {
                    State::Skip {
                        remaining: size + pad,
                    }
                };
            }
        }
        Ok(())
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

/// An octal field, or GNU base-256 for large sizes.
fn number(b: &[u8]) -> Option<u64> {
    if b[0] & 0x80 != 0 {
        let mut n: u64 = (b[0] & 0x7f) as u64;
        for c in &b[1..] {
            n = n.checked_mul(256)?.checked_add(*c as u64)?;
        }
        return Some(n);
    }
    let s = cstr(b);
    let s = s.trim_matches(|c: char| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

fn checksum_ok(h: &[u8]) -> bool {
    let Some(want) = number(&h[148..156]) else {
        return false;
    };
    let sum: u64 = h
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                *b as u64
            }
        })
        .sum();
    sum == want
}

/// The `path` record of a PAX header (`"<len> path=<value>\n"` records).
fn pax_path(body: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    text.lines().find_map(|l| {
        let (_, rec) = l.split_once(' ')?;
        rec.strip_prefix("path=").map(str::to_string)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: u64, kind: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..107].copy_from_slice(b"0000644");
        let s = format!("{size:011o}");
        h[124..135].copy_from_slice(s.as_bytes());
        h[156] = kind;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u64 = h.iter().map(|b| *b as u64).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn entry(name: &str, body: &[u8], kind: u8) -> Vec<u8> {
        let mut v = header(name, body.len() as u64, kind);
        v.extend_from_slice(body);
        v.resize(v.len().div_ceil(BLOCK) * BLOCK, 0);
        v
    }

    fn archive() -> Vec<u8> {
        let mut a = entry("blobs/", b"", b'5');
        a.extend(entry("blobs/sha256/aa", &vec![7u8; 1300], b'0'));
        a.extend(entry("././@LongLink", b"a/very/long/name\0", b'L'));
        a.extend(entry("short", b"x", b'0'));
        a.extend(entry("pax", b"23 path=pax/path/name\n", b'x'));
        a.extend(entry("ignored", b"", b'0'));
        a.extend(entry("index.json", b"{}", b'0'));
        a.extend(vec![0u8; 2 * BLOCK]);
        a
    }

    /// Files and their bodies, joined from the events.
    fn files(events: &[TarEvent]) -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = Vec::new();
        let mut ended = true;
        for e in events {
            match e {
                TarEvent::Begin { name, .. } => {
                    assert!(ended);
                    ended = false;
                    out.push((name.clone(), vec![]))
                }
                TarEvent::Data(d) => out.last_mut().unwrap().1.extend(d),
                TarEvent::End => ended = true,
            }
        }
        assert!(ended);
        out
    }

    #[test]
    fn entries_come_out_whole_whatever_the_chunk_size() {
        let a = archive();
        for chunk in [1, 7, 511, 512, 513, 4096, a.len()] {
            let mut r = TarReader::new();
            let mut events = Vec::new();
            for c in a.chunks(chunk) {
                events.extend(r.feed(c).unwrap());
            }
            assert!(r.finished() && r.finish().is_ok(), "chunk {chunk}");
            let f = files(&events);
            let names: Vec<&str> = f.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(
                names,
                [
                    "blobs/sha256/aa",
                    "a/very/long/name",
                    "pax/path/name",
                    "index.json"
                ],
                "chunk {chunk}"
            );
            assert_eq!(f[0].1, vec![7u8; 1300]);
            assert_eq!(f[1].1, b"x");
            assert_eq!(f[3].1, b"{}");
        }
    }

    #[test]
    fn a_cut_stream_or_a_bad_header_is_an_error() {
        let a = archive();
        let mut r = TarReader::new();
        r.feed(&a[..BLOCK * 2 + 100]).unwrap();
        assert_eq!(r.finish(), Err(TarError::Truncated));
        let mut bad = a.clone();
        bad[BLOCK] ^= 1; // the second header's name, without fixing its checksum
        let mut r = TarReader::new();
        assert_eq!(r.feed(&bad), Err(TarError::Header(512)));
    }
}
