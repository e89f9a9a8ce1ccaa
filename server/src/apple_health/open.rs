//! Opening an upload: zip or plain XML by magic bytes, export.xml found in the zip and
//! streamed decompressed, every byte counted against the zip-bomb limits.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};

use zip::CompressionMethod;
use zip::ZipArchive;

use super::{ExportError, Limits};

/// Read buffer: large reads keep the syscall and inflate overhead low.
const BUFFER: usize = 1 << 20;
/// Ratios are judged only past this many expanded bytes.
const RATIO_GRACE: u64 = 1 << 20;

/// Why a read stopped, carried inside `io::Error` through quick-xml and back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Stop {
    #[error("export.xml is larger than {0} bytes")]
    TooLarge(u64),
    #[error("zip bomb: {expanded} bytes from {compressed} compressed")]
    ZipBomb {
        compressed: u64,
        expanded: u64,
        max_ratio: u64,
    },
    #[error("damaged zip entry: {0}")]
    Damaged(String),
}

impl Stop {
    /// The export error an `io::Error` stands for.
    pub(crate) fn from_io(error: &io::Error) -> Option<ExportError> {
        let stop = error.get_ref()?.downcast_ref::<Stop>()?;
        Some(match stop {
            Stop::TooLarge(limit) => ExportError::TooLarge { limit: *limit },
            Stop::ZipBomb {
                compressed,
                expanded,
                max_ratio,
            } => ExportError::ZipBomb {
                compressed: *compressed,
                expanded: *expanded,
                max_ratio: *max_ratio,
            },
            Stop::Damaged(message) => ExportError::Truncated(message.clone()),
        })
    }
}

/// Counts expanded bytes and stops at the limits.
struct Limited<R> {
    inner: R,
    read: u64,
    max_bytes: u64,
    /// Compressed size and ratio limit, for a zip entry.
    ratio: Option<(u64, u64)>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(out) {
            Ok(n) => n,
            Err(error) if self.ratio.is_some() => {
                return Err(io::Error::other(Stop::Damaged(error.to_string())));
            }
            Err(error) => return Err(error),
        };
        self.read += n as u64;
        if self.read > self.max_bytes {
            return Err(io::Error::other(Stop::TooLarge(self.max_bytes)));
        }
        if let Some((compressed, max_ratio)) = self.ratio
            && self.read > RATIO_GRACE
            && self.read > compressed.max(1).saturating_mul(max_ratio)
        {
            return Err(io::Error::other(Stop::ZipBomb {
                compressed,
                expanded: self.read,
                max_ratio,
            }));
        }
        Ok(n)
    }
}

/// Opens an upload for [`super::Parser`]: a zip (detected by its `PK` signature, whatever the
/// name) yields its `export.xml` entry (normally `apple_health_export/export.xml`; export_cda.xml,
/// workout-routes and other entries are ignored) decompressed as it is read; anything else is
/// read as XML. Fails at once with [`ExportError::Truncated`] for a zip without a readable
/// central directory, [`ExportError::NoExportXml`], or [`ExportError::TooLarge`] /
/// [`ExportError::ZipBomb`] when the entry's declared sizes break the limits; while reading,
/// the same limits are enforced on the bytes actually produced (the parser reports them).
pub fn open(mut file: File, limits: &Limits) -> Result<Box<dyn BufRead + Send>, ExportError> {
    let mut magic = [0u8; 4];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..])? {
            0 => break,
            n => got += n,
        }
    }
    file.seek(SeekFrom::Start(0))?;
    let is_zip = got == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06");
    if !is_zip {
        return Ok(Box::new(BufReader::with_capacity(
            BUFFER,
            Limited {
                inner: file,
                read: 0,
                max_bytes: limits.max_xml_bytes,
                ratio: None,
            },
        )));
    }
    let mut archive =
        ZipArchive::new(file).map_err(|error| ExportError::Truncated(error.to_string()))?;
    let index = export_xml_index(&archive).ok_or(ExportError::NoExportXml)?;
    let (method, compressed, size, start) = {
        let entry = archive
            .by_index_raw(index)
            .map_err(|error| ExportError::Truncated(error.to_string()))?;
        let start = entry
            .data_start()
            .ok_or_else(|| ExportError::Truncated("entry without a data offset".into()))?;
        (
            entry.compression(),
            entry.compressed_size(),
            entry.size(),
            start,
        )
    };
    if size > limits.max_xml_bytes {
        return Err(ExportError::TooLarge {
            limit: limits.max_xml_bytes,
        });
    }
    if size > RATIO_GRACE && size > compressed.max(1).saturating_mul(limits.max_ratio) {
        return Err(ExportError::ZipBomb {
            compressed,
            expanded: size,
            max_ratio: limits.max_ratio,
        });
    }
    let mut file = archive.into_inner();
    let length = file.seek(SeekFrom::End(0))?;
    if start.saturating_add(compressed) > length {
        return Err(ExportError::Truncated(format!(
            "export.xml needs {compressed} bytes from offset {start}, the file has {length}"
        )));
    }
    file.seek(SeekFrom::Start(start))?;
    let raw = BufReader::with_capacity(BUFFER, file.take(compressed));
    let inner: Box<dyn Read + Send> = match method {
        CompressionMethod::Stored => Box::new(raw),
        CompressionMethod::Deflated => Box::new(flate2::bufread::DeflateDecoder::new(raw)),
        other => {
            return Err(ExportError::Truncated(format!(
                "export.xml is compressed with {other}, which owl does not read"
            )));
        }
    };
    Ok(Box::new(BufReader::with_capacity(
        BUFFER,
        Limited {
            inner,
            read: 0,
            max_bytes: limits.max_xml_bytes,
            ratio: Some((compressed, limits.max_ratio)),
        },
    )))
}

/// The entry named `export.xml` at the shallowest depth (not export_cda.xml).
fn export_xml_index<R: Read + Seek>(archive: &ZipArchive<R>) -> Option<usize> {
    archive
        .file_names_raw()
        .enumerate()
        .filter(|(_, name)| *name == b"export.xml" || name.ends_with(b"/export.xml"))
        .min_by_key(|(_, name)| name.iter().filter(|b| **b == b'/').count())
        .map(|(index, _)| index)
}
