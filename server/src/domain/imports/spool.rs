//! Spool files: an import's upload written to disk as it arrives (never held whole in memory),
//! with its SHA-256 computed on the way, so that completing an upload needs no second read.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The directory of spool files (OWL_DATA_DIR/imports by default).
#[derive(Debug, Clone)]
pub struct Spool {
    dir: PathBuf,
}

impl Spool {
    /// Spool files under `dir`, created when missing.
    pub fn new(dir: impl Into<PathBuf>) -> std::io::Result<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir)?;
        Ok(Spool { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of import `id`.
    pub fn path(&self, id: Uuid) -> PathBuf {
        self.dir.join(format!("{id}.upload"))
    }

    /// Starts the spool file of import `id` (empty).
    pub fn create(&self, id: Uuid) -> std::io::Result<SpoolWriter> {
        let file = File::create(self.path(id))?;
        Ok(SpoolWriter {
            file,
            hasher: Sha256::new(),
            len: 0,
        })
    }

    /// Reopens the spool file of import `id` to append after `len` bytes (a resumed upload
    /// whose writer this process does not hold): bytes past `len` are cut off and the kept
    /// ones re-hashed.
    pub fn reopen(&self, id: Uuid, len: u64) -> std::io::Result<SpoolWriter> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(self.path(id))?;
        file.set_len(len)?;
        let mut hasher = Sha256::new();
        let mut buffer = vec![0u8; 1 << 20];
        file.seek(SeekFrom::Start(0))?;
        let mut reader = (&mut file).take(len);
        loop {
            let n = reader.read(&mut buffer)?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
        }
        file.seek(SeekFrom::Start(len))?;
        Ok(SpoolWriter { file, hasher, len })
    }

    /// Removes the spool file of import `id`; a missing one is fine.
    pub fn remove(&self, id: Uuid) {
        match std::fs::remove_file(self.path(id)) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => tracing::warn!(import = %id, %error, "spool file not removed"),
        }
    }
}

/// An open spool file: appends bytes and hashes them.
#[derive(Debug)]
pub struct SpoolWriter {
    file: File,
    hasher: Sha256,
    len: u64,
}

impl SpoolWriter {
    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `data` (blocking IO: call it off the async threads).
    pub fn append(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.file.write_all(data)?;
        self.hasher.update(data);
        self.len += data.len() as u64;
        metrics::counter!(crate::metrics::IMPORT_BYTES).increment(data.len() as u64);
        Ok(())
    }

    /// Flushes to disk and returns the length and the lowercase hex SHA-256 of everything
    /// written.
    pub fn finish(self) -> std::io::Result<(u64, String)> {
        self.file.sync_data()?;
        Ok((self.len, hex::encode(self.hasher.finalize())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reopened_spool_hashes_like_one_written_at_once() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let spool = Spool::new(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let id = Uuid::now_v7();
        let mut w = spool.create(id).unwrap_or_else(|e| panic!("{e}"));
        w.append(b"hello ").unwrap_or_else(|e| panic!("{e}"));
        w.append(b"garbage").unwrap_or_else(|e| panic!("{e}"));
        drop(w);
        let mut w = spool.reopen(id, 6).unwrap_or_else(|e| panic!("{e}"));
        w.append(b"world").unwrap_or_else(|e| panic!("{e}"));
        let (len, sha) = w.finish().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(len, 11);
        assert_eq!(sha, hex::encode(Sha256::digest(b"hello world")));
        spool.remove(id);
        assert!(!spool.path(id).exists());
    }
}
