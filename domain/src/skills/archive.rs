//! Submitted script folders arrive as `.zip` or `.tar.gz`; this unpacks them into memory and
//! refuses anything hostile before it is stored anywhere: paths that leave the folder, links,
//! devices, encrypted entries, and archives that unpack to more than the folder limits. Sizes
//! declared in headers are never trusted: every read is bounded by what may still be read.

use std::cell::Cell;
use std::io::{self, Cursor, Read};

use flate2::read::MultiGzDecoder;
use tar::EntryType;
use zip::{CompressionMethod, ZipArchive};

use super::manifest::{
    check_path, FolderError, MAX_FILE_BYTES, MAX_FOLDER_BYTES, MAX_FOLDER_FILES,
};

/// Entries of any kind, folders included, so that an archive of countless empty folders is
/// refused as quickly as one of countless files.
pub const MAX_ARCHIVE_ENTRIES: usize = 4 * MAX_FOLDER_FILES;

/// The unpacked tar stream as a whole: contents plus headers, padding and long names. It bounds
/// what the tar reader reads on its own (long names, the data of entries it skips).
pub const MAX_TAR_BYTES: usize = 2 * MAX_FOLDER_BYTES;

const MIB: usize = 1024 * 1024;

/// Reads a submitted script folder (.zip or .tar.gz, recognised by its first bytes, not its
/// name) into memory, refusing anything hostile before it is stored anywhere.
///
/// Folders are dropped: only files are returned, with relative `/`-separated paths, in archive
/// order. Stripping a single top folder and checking the folder itself is left to
/// `strip_single_top_folder` and `load_script_folder`.
pub fn read_archive(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, FolderError> {
    // A zip starts with a local file header, or with its end record when it is empty.
    if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06") {
        read_zip(bytes)
    } else if bytes.starts_with(&[0x1f, 0x8b]) {
        read_tar_gz(bytes)
    } else {
        Err(refusal(
            None,
            "this is not a .zip or .tar.gz archive; upload the script folder as .zip or .tar.gz",
        ))
    }
}

fn refusal(file: Option<&str>, message: impl Into<String>) -> FolderError {
    FolderError {
        file: file.map(str::to_string),
        line: None,
        column: None,
        message: message.into(),
    }
}

fn not_allowed(name: &str, what: &str) -> FolderError {
    refusal(
        Some(name),
        format!("is {what}; only regular files and folders are allowed"),
    )
}

/// What an entry is, once links, devices and the like have been refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    File,
    Folder,
}

/// The path an entry is returned under: the folder's trailing `/` dropped, then checked like
/// every path of a script folder.
fn checked_path(name: &str, kind: Kind) -> Result<String, FolderError> {
    let path = match kind {
        Kind::Folder => name.strip_suffix('/').unwrap_or(name),
        Kind::File => name,
    };
    check_path(path).map_err(|m| refusal(Some(name), m))?;
    Ok(path.to_string())
}

/// The files read so far, and the counts the limits apply to.
#[derive(Default)]
struct Unpacked {
    files: Vec<(String, Vec<u8>)>,
    entries: usize,
    file_entries: usize,
    bytes: usize,
}

impl Unpacked {
    /// Counts an entry; refuses as soon as there are too many.
    fn count(&mut self, kind: Kind) -> Result<(), FolderError> {
        self.entries += 1;
        if self.entries > MAX_ARCHIVE_ENTRIES {
            return Err(refusal(
                None,
                format!(
                    "the archive has more than {MAX_ARCHIVE_ENTRIES} entries (files and folders)"
                ),
            ));
        }
        if kind == Kind::File {
            self.file_entries += 1;
            if self.file_entries > MAX_FOLDER_FILES {
                return Err(refusal(
                    None,
                    format!("the archive has more than {MAX_FOLDER_FILES} files"),
                ));
            }
        }
        Ok(())
    }

    /// Reads one file, never more than one byte past what the limits still allow, whatever its
    /// header says.
    fn read(
        &mut self,
        path: String,
        data: impl Read,
        damaged: impl FnOnce(&str, io::Error) -> FolderError,
    ) -> Result<(), FolderError> {
        let room = MAX_FILE_BYTES.min(MAX_FOLDER_BYTES - self.bytes);
        let mut bytes = Vec::new();
        data.take(room as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| damaged(&path, e))?;
        if bytes.len() > MAX_FILE_BYTES {
            return Err(refusal(
                Some(&path),
                format!("larger than {} MiB", MAX_FILE_BYTES / MIB),
            ));
        }
        if bytes.len() > room {
            return Err(refusal(
                Some(&path),
                format!(
                    "the archive unpacks to more than {} MiB",
                    MAX_FOLDER_BYTES / MIB
                ),
            ));
        }
        self.bytes += bytes.len();
        self.files.push((path, bytes));
        Ok(())
    }
}

fn zip_damaged(name: Option<&str>, error: impl std::fmt::Display) -> FolderError {
    refusal(
        name,
        format!("the .zip archive is damaged or incomplete ({error})"),
    )
}

// Unix file types, as zip keeps them in the upper half of the external attributes.
const S_IFMT: u32 = 0o170000;
const S_IFIFO: u32 = 0o010000;
const S_IFCHR: u32 = 0o020000;
const S_IFDIR: u32 = 0o040000;
const S_IFBLK: u32 = 0o060000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFSOCK: u32 = 0o140000;

/// A zip entry's kind from its Unix mode when it has one, else from its name.
fn zip_kind(name: &str, unix_mode: Option<u32>) -> Result<Kind, FolderError> {
    let what = match unix_mode.map_or(0, |m| m & S_IFMT) {
        S_IFDIR => return Ok(Kind::Folder),
        // Some tools mark folders as plain files; the trailing `/` is what zip goes by.
        0 | S_IFREG if name.ends_with('/') => return Ok(Kind::Folder),
        0 | S_IFREG => return Ok(Kind::File),
        S_IFLNK => "a symbolic link",
        S_IFCHR | S_IFBLK => "a device",
        S_IFIFO => "a named pipe (FIFO)",
        S_IFSOCK => "a socket",
        _ => "of an unknown file type",
    };
    Err(not_allowed(name, what))
}

fn read_zip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, FolderError> {
    let mut zip = ZipArchive::new(Cursor::new(bytes)).map_err(|e| zip_damaged(None, e))?;
    // The crate keeps one entry per name; a repeated name would hide the others.
    if zip.has_duplicate_names() {
        return Err(refusal(
            None,
            "the archive lists the same path more than once",
        ));
    }
    // The central directory tells every entry's name and kind: all of it is checked and counted
    // before any data is inflated.
    let mut unpacked = Unpacked::default();
    let mut to_read = Vec::new();
    for index in 0..zip.len() {
        let entry = zip.by_index_data(index).map_err(|e| zip_damaged(None, e))?;
        let name = entry.name().map_err(|e| zip_damaged(None, e))?;
        let kind = zip_kind(&name, entry.unix_mode())?;
        let path = checked_path(&name, kind)?;
        unpacked.count(kind)?;
        if kind == Kind::Folder {
            continue;
        }
        if entry.encrypted() {
            return Err(refusal(
                Some(&name),
                "is encrypted; upload the folder without a password",
            ));
        }
        if !matches!(
            entry.compression(),
            CompressionMethod::Stored | CompressionMethod::Deflated
        ) {
            return Err(refusal(
                Some(&name),
                "uses a compression method other than deflate; create the archive with standard zip compression",
            ));
        }
        to_read.push((index, path));
    }
    for (index, path) in to_read {
        let file = zip
            .by_index(index)
            .map_err(|e| zip_damaged(Some(&path), e))?;
        unpacked.read(path, file, |path, e| zip_damaged(Some(path), e))?;
    }
    Ok(unpacked.files)
}

/// A reader that yields at most `left` bytes and fails (noting it in `over`) if there are more.
struct Capped<'a, R> {
    inner: R,
    left: usize,
    over: &'a Cell<bool>,
}

impl<R: Read> Read for Capped<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 && !buf.is_empty() {
            // Only the end of the stream is fine here.
            if self.inner.read(&mut [0])? == 0 {
                return Ok(0);
            }
            self.over.set(true);
            return Err(io::Error::other("the unpacked archive is over its limit"));
        }
        let n = buf.len().min(self.left);
        let read = self.inner.read(&mut buf[..n])?;
        self.left -= read;
        Ok(read)
    }
}

fn read_tar_gz(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, FolderError> {
    let over = Cell::new(false);
    // The tar reader fails with an error of its own when the cap stops it; `over` tells why.
    let damaged = |name: Option<&str>, e: io::Error| {
        if over.get() {
            refusal(
                name,
                format!(
                    "the archive unpacks to more than {} MiB",
                    MAX_TAR_BYTES / MIB
                ),
            )
        } else {
            refusal(
                name,
                format!("the .tar.gz archive is damaged or incomplete ({e})"),
            )
        }
    };
    let mut archive = tar::Archive::new(Capped {
        inner: MultiGzDecoder::new(bytes),
        left: MAX_TAR_BYTES,
        over: &over,
    });
    let mut unpacked = Unpacked::default();
    for entry in archive.entries().map_err(|e| damaged(None, e))? {
        let entry = entry.map_err(|e| damaged(None, e))?;
        let entry_type = entry.header().entry_type();
        // `git archive` starts with one; it describes the archive, not a file.
        if entry_type == EntryType::XGlobalHeader {
            unpacked.count(Kind::Folder)?;
            continue;
        }
        let raw = entry.path_bytes();
        let name = String::from_utf8(raw.to_vec()).map_err(|_| {
            refusal(
                Some(&String::from_utf8_lossy(&raw)),
                "the name is not valid UTF-8",
            )
        })?;
        let kind = match entry_type {
            EntryType::Regular => Kind::File,
            EntryType::Directory => Kind::Folder,
            EntryType::Symlink => return Err(not_allowed(&name, "a symbolic link")),
            EntryType::Link => return Err(not_allowed(&name, "a hard link")),
            EntryType::Char | EntryType::Block => return Err(not_allowed(&name, "a device")),
            EntryType::Fifo => return Err(not_allowed(&name, "a named pipe (FIFO)")),
            EntryType::GNUSparse => return Err(not_allowed(&name, "a sparse file")),
            other => {
                return Err(not_allowed(
                    &name,
                    &format!("a special entry (tar type {:?})", other.as_byte() as char),
                ))
            }
        };
        let relative = match name.as_str() {
            "." => "",
            n => n.strip_prefix("./").unwrap_or(n),
        };
        unpacked.count(kind)?;
        // `tar -C folder .` lists the folder itself first, as `./`.
        if kind == Kind::Folder && relative.is_empty() {
            continue;
        }
        let path = checked_path(relative, kind).map_err(|e| FolderError {
            file: Some(name.clone()),
            ..e
        })?;
        if kind == Kind::File {
            unpacked.read(path, entry, |path, e| damaged(Some(path), e))?;
        }
    }
    // Reading to the end checks the gzip checksum, which covers every byte read above.
    io::copy(&mut archive.into_inner(), &mut io::sink()).map_err(|e| damaged(None, e))?;
    Ok(unpacked.files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_formats_are_refused_naming_the_accepted_ones() {
        for bytes in [
            &b""[..],
            b"print('hi')\n",
            b"\x89PNG\r\n\x1a\n",
            b"PK",
            b"\x1f",
        ] {
            let err = read_archive(bytes).unwrap_err();
            assert_eq!(err.file, None);
            assert_eq!(
                err.message,
                "this is not a .zip or .tar.gz archive; upload the script folder as .zip or .tar.gz"
            );
        }
    }

    #[test]
    fn an_empty_zip_holds_no_files() {
        let empty = zip::ZipWriter::new(Cursor::new(Vec::new()))
            .finish()
            .unwrap()
            .into_inner();
        assert!(empty.starts_with(b"PK\x05\x06"));
        assert_eq!(read_archive(&empty).unwrap(), vec![]);
    }

    #[test]
    fn zip_kinds_follow_the_unix_mode_then_the_name() {
        assert_eq!(zip_kind("a", None).unwrap(), Kind::File);
        assert_eq!(zip_kind("a/", None).unwrap(), Kind::Folder);
        assert_eq!(zip_kind("a", Some(0o100644)).unwrap(), Kind::File);
        assert_eq!(zip_kind("a/", Some(0o100644)).unwrap(), Kind::Folder);
        assert_eq!(zip_kind("a", Some(0o040755)).unwrap(), Kind::Folder);
        for (mode, what) in [
            (0o120777, "is a symbolic link"),
            (0o020644, "is a device"),
            (0o060644, "is a device"),
            (0o010644, "is a named pipe (FIFO)"),
            (0o140644, "is a socket"),
            (0o160644, "is of an unknown file type"),
        ] {
            let err = zip_kind("x/", Some(mode)).unwrap_err();
            assert_eq!(err.file.as_deref(), Some("x/"));
            assert_eq!(
                err.message,
                format!("{what}; only regular files and folders are allowed"),
                "{mode:o}"
            );
        }
    }

    #[test]
    fn paths_are_checked_with_the_folder_rules() {
        assert_eq!(checked_path("a/b.py", Kind::File).unwrap(), "a/b.py");
        assert_eq!(checked_path("a/b/", Kind::Folder).unwrap(), "a/b");
        for (name, kind, why) in [
            ("a/", Kind::File, "empty path segments are not allowed"),
            ("/etc/", Kind::Folder, "absolute paths are not allowed"),
            (
                "a/../../b",
                Kind::File,
                "'.' and '..' are not allowed in paths",
            ),
            ("a\\b", Kind::File, "backslashes are not allowed in paths"),
        ] {
            let err = checked_path(name, kind).unwrap_err();
            assert_eq!(
                (err.file.as_deref(), err.message.as_str()),
                (Some(name), why)
            );
        }
    }

    #[test]
    fn a_file_may_fill_its_limit_but_not_one_byte_more() {
        let mut unpacked = Unpacked::default();
        let zeros = |n: usize| io::repeat(0).take(n as u64);
        let no_error = |_: &str, e: io::Error| panic!("{e}");
        unpacked
            .read("full".into(), zeros(MAX_FILE_BYTES), no_error)
            .unwrap();
        assert_eq!(unpacked.files[0].1.len(), MAX_FILE_BYTES);
        let err = unpacked
            .read("over".into(), zeros(MAX_FILE_BYTES + 1), no_error)
            .unwrap_err();
        assert_eq!(
            (err.file.as_deref(), err.message.as_str()),
            (Some("over"), "larger than 8 MiB")
        );
        // A header may claim anything; the reader endlessly producing data is what counts.
        let err = unpacked
            .read("endless".into(), io::repeat(7), no_error)
            .unwrap_err();
        assert_eq!(err.message, "larger than 8 MiB");
    }

    #[test]
    fn the_folder_limit_spans_files() {
        let mut unpacked = Unpacked::default();
        let no_error = |_: &str, e: io::Error| panic!("{e}");
        for i in 0..MAX_FOLDER_BYTES / MAX_FILE_BYTES {
            let data = io::repeat(1).take(MAX_FILE_BYTES as u64);
            unpacked.read(format!("{i}"), data, no_error).unwrap();
        }
        unpacked
            .read("empty".into(), io::empty(), no_error)
            .unwrap();
        let err = unpacked
            .read("one-more".into(), &[1u8][..], no_error)
            .unwrap_err();
        assert_eq!(
            (err.file.as_deref(), err.message.as_str()),
            (Some("one-more"), "the archive unpacks to more than 32 MiB")
        );
        assert_eq!(unpacked.bytes, MAX_FOLDER_BYTES);
    }

    #[test]
    fn counts_refuse_the_first_entry_past_a_limit() {
        let mut files = Unpacked::default();
        for _ in 0..MAX_FOLDER_FILES {
            files.count(Kind::File).unwrap();
        }
        assert_eq!(
            files.count(Kind::File).unwrap_err().message,
            "the archive has more than 1000 files"
        );
        let mut folders = Unpacked::default();
        for _ in 0..MAX_ARCHIVE_ENTRIES {
            folders.count(Kind::Folder).unwrap();
        }
        assert_eq!(
            folders.count(Kind::Folder).unwrap_err().message,
            "the archive has more than 4000 entries (files and folders)"
        );
    }

    #[test]
    fn capped_reads_stop_at_the_cap_and_say_so() {
        let over = Cell::new(false);
        let mut exact = Capped {
            inner: &[1u8, 2, 3][..],
            left: 3,
            over: &over,
        };
        let mut out = Vec::new();
        exact.read_to_end(&mut out).unwrap();
        assert_eq!((out, over.get()), (vec![1, 2, 3], false));

        let mut endless = Capped {
            inner: io::repeat(0),
            left: 1000,
            over: &over,
        };
        let mut out = Vec::new();
        assert!(endless.read_to_end(&mut out).is_err());
        assert_eq!((out.len(), over.get()), (1000, true));
    }
}
