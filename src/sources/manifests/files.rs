//! Reading manifest files without trusting them: only regular files are opened (a FIFO,
//! socket or device in a folder would block or never end), a file is read once however many
//! paths lead to it, and nothing larger than the cap is ever held in memory.

use std::collections::HashSet;
use std::fs::Metadata;
use std::io::Read;
use std::path::Path;

/// `(device, inode)`: the identity of a file or folder whatever path reached it.
pub type FileId = (u64, u64);

#[cfg(unix)]
pub fn file_id(m: &Metadata) -> FileId {
    use std::os::unix::fs::MetadataExt;
    (m.dev(), m.ino())
}

#[cfg(not(unix))]
pub fn file_id(_: &Metadata) -> FileId {
    (0, 0)
}

/// Files and folders already read in one pass.
#[derive(Default)]
pub struct Seen(HashSet<FileId>);

impl Seen {
    /// True the first time this file or folder is met.
    pub fn first(&mut self, m: &Metadata) -> bool {
        !cfg!(unix) || self.0.insert(file_id(m))
    }
}

/// What a path is, for a message: "a FIFO", "a socket", ...
pub fn special_kind(m: &Metadata) -> Option<&'static str> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let t = m.file_type();
        if t.is_fifo() {
            return Some("a FIFO");
        }
        if t.is_socket() {
            return Some("a socket");
        }
        if t.is_char_device() {
            return Some("a character device");
        }
        if t.is_block_device() {
            return Some("a block device");
        }
    }
    if m.is_file() || m.is_dir() {
        None
    } else {
        Some("not a regular file")
    }
}

/// `.yaml`, `.yml` or `.json` in any case, as kubectl picks files in a folder.
pub fn is_manifest_name(p: &Path) -> bool {
    p.extension()
        .and_then(|x| x.to_str())
        .is_some_and(|x| ["yaml", "yml", "json"].iter().any(|e| x.eq_ignore_ascii_case(e)))
}

/// Reads a regular file of at most `max` bytes as UTF-8.
pub fn read_regular(path: &Path, max: u64) -> Result<String, String> {
    let shown = path.display();
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true);
    // Should the path turn into a FIFO between the check and the open, the open must not block.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.custom_flags(libc::O_NONBLOCK);
    }
    let file = opts.open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read {shown}: {e}"))?;
    if let Some(kind) = special_kind(&meta) {
        return Err(format!("{shown} is {kind}, not a manifest file: not read"));
    }
    if meta.len() > max {
        return Err(over_cap(&shown.to_string(), max));
    }
    read_capped(file, &shown.to_string(), max)
}

/// Reads at most `max` bytes from any reader (stdin, a pipe); more is refused.
pub fn read_capped(r: impl Read, origin: &str, max: u64) -> Result<String, String> {
    let mut bytes = Vec::new();
    r.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| format!("cannot read {origin}: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(over_cap(origin, max));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!("{origin} is not UTF-8 text (invalid byte at offset {}): not read", e.utf8_error().valid_up_to())
    })
}

fn over_cap(origin: &str, max: u64) -> String {
    format!("{origin} is larger than {max} bytes (kubernetes.max_manifest_bytes): not read")
}
