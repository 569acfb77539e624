//! Writing private files durably, for the device and the server alike: created whole
//! (never over an existing file or a planted link), readable by their owner alone
//! (0600), synced, and their folder synced so that a new name survives a power cut.

use std::io::Write;
use std::path::Path;

/// Creates `path` with `bytes`: never an existing file, 0600, synced.
pub fn create_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

/// Syncs the folder holding `path`: a file created or renamed there keeps its name
/// after a power cut only once this returns.
pub fn sync_parent(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let parent = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::File::open(parent)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}
