//! Hostile uploaded archives: each is built here, in memory, and must be refused by
//! `read_archive` with a message that names the entry and says why. The bombs inflate to 10 GiB
//! but are built without ever compressing that much, and are refused after a few MiB.

use std::io::{Cursor, Write};

use domain::skills::archive::read_archive;
use domain::skills::manifest::{load_script_folder, strip_single_top_folder, FolderError};
use flate2::write::GzEncoder;
use flate2::{Compress, Compression, Crc, FlushCompress};
use tar::{EntryType, Header};
use zip::unstable::write::FileOptionsExt;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

const MIB: usize = 1024 * 1024;
const TEN_GIB: u64 = 10 << 30;
const ONLY_FILES: &str = "only regular files and folders are allowed";

type Files = Vec<(String, Vec<u8>)>;

fn refused(bytes: &[u8]) -> FolderError {
    match read_archive(bytes) {
        Ok(files) => panic!(
            "accepted: {:?}",
            files.iter().map(|(p, _)| p).collect::<Vec<_>>()
        ),
        Err(e) => e,
    }
}

#[track_caller]
fn assert_refused(bytes: &[u8], file: Option<&str>, message: &str) {
    let err = refused(bytes);
    assert_eq!(
        (err.file.as_deref(), err.message.as_str()),
        (file, message),
        "{err}"
    );
}

/// A folder as a customer zips it: everything under one top folder.
fn good_folder() -> Files {
    let data: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    [
        ("my-skill/main.py", b"print('hello')\n".to_vec()),
        ("my-skill/README.md", b"# Hello\n\nSays hello.\n".to_vec()),
        (
            "my-skill/skill.toml",
            b"name = \"Hello\"\ndescription = \"Says hello.\"\noutput = \"A greeting.\"\nrisk = \"low\"\n"
                .to_vec(),
        ),
        ("my-skill/lib/__init__.py", Vec::new()),
        ("my-skill/lib/data.bin", data),
    ]
    .into_iter()
    .map(|(p, b)| (p.to_string(), b))
    .collect()
}

fn zip_writer() -> ZipWriter<Cursor<Vec<u8>>> {
    ZipWriter::new(Cursor::new(Vec::new()))
}

fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

fn zip_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut zip = zip_writer();
    for (name, bytes) in files {
        zip.start_file(*name, stored()).unwrap();
        zip.write_all(bytes).unwrap();
    }
    zip.finish().unwrap().into_inner()
}

/// A tar header with `name` written as is: the tar writer refuses `..` and absolute paths.
fn tar_header(name: &str, kind: EntryType, size: u64) -> Header {
    let mut header = Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
    header.set_entry_type(kind);
    header.set_size(size);
    header.set_mode(if kind == EntryType::Directory {
        0o755
    } else {
        0o644
    });
    header.set_cksum();
    header
}

type TarGz = tar::Builder<GzEncoder<Vec<u8>>>;

fn tar_gz(build: impl FnOnce(&mut TarGz)) -> Vec<u8> {
    let mut tar = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::fast()));
    build(&mut tar);
    tar.into_inner().unwrap().finish().unwrap()
}

fn tar_gz_of(entries: &[(&str, EntryType, &[u8])]) -> Vec<u8> {
    tar_gz(|tar| {
        for (name, kind, bytes) in entries {
            let header = tar_header(name, *kind, bytes.len() as u64);
            tar.append(&header, *bytes).unwrap();
        }
    })
}

/// A piece of an uncompressed stream.
enum Part<'a> {
    Bytes(&'a [u8]),
    Zeros(u64),
}

/// A raw deflate stream, and the CRC-32 and length of what it inflates to.
struct Deflated {
    data: Vec<u8>,
    crc: Crc,
    len: u64,
}

/// Compresses all of `input` and flushes as asked; a sync flush ends the output byte-aligned.
fn compress(z: &mut Compress, input: &[u8], flush: FlushCompress) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len() / 64 + 1024);
    let mut done = 0;
    loop {
        let before = z.total_in();
        z.compress_vec(&input[done..], &mut out, flush).unwrap();
        done += (z.total_in() - before) as usize;
        if done == input.len() && out.len() < out.capacity() {
            return out;
        }
        out.reserve(64 * 1024);
    }
}

/// Deflates `parts` in order. Long runs of zeros cost almost nothing: once 32 KiB of zeros
/// precede, the encoding of one MiB of zeros means the same wherever it is put, so it is
/// compressed once and repeated.
fn deflate(parts: &[Part]) -> Deflated {
    let mut z = Compress::new(Compression::default(), false);
    let mut out = Deflated {
        data: Vec::new(),
        crc: Crc::new(),
        len: 0,
    };
    let zeros = vec![0u8; MIB];
    let mut mib_crc = Crc::new();
    mib_crc.update(&zeros);
    let plain = |z: &mut Compress, out: &mut Deflated, bytes: &[u8]| {
        out.data.extend(compress(z, bytes, FlushCompress::Sync));
        out.crc.update(bytes);
        out.len += bytes.len() as u64;
    };
    for part in parts {
        match *part {
            Part::Bytes(bytes) => plain(&mut z, &mut out, bytes),
            Part::Zeros(n) => {
                let first = n.min(MIB as u64) as usize;
                plain(&mut z, &mut out, &zeros[..first]);
                let mut left = n - first as u64;
                if left >= MIB as u64 {
                    let mib = compress(&mut z, &zeros, FlushCompress::Sync);
                    while left >= MIB as u64 {
                        out.data.extend_from_slice(&mib);
                        out.crc.combine(&mib_crc);
                        out.len += MIB as u64;
                        left -= MIB as u64;
                    }
                }
                plain(&mut z, &mut out, &zeros[..left as usize]);
            }
        }
    }
    out.data
        .extend(compress(&mut z, &[], FlushCompress::Finish));
    out
}

fn gzip(parts: &[Part]) -> Vec<u8> {
    let deflated = deflate(parts);
    let mut gz = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    gz.extend(deflated.data);
    gz.extend(deflated.crc.sum().to_le_bytes());
    gz.extend((deflated.len as u32).to_le_bytes());
    gz
}

/// A zip of one deflated Unix file, written by hand so that its sizes can say anything.
fn zip_by_hand(name: &str, deflated: &Deflated, declared_size: u64) -> Vec<u8> {
    let zip64 = declared_size >= u64::from(u32::MAX);
    let (size, compressed, extra) = if zip64 {
        let mut extra = Vec::new();
        extra.extend(1u16.to_le_bytes());
        extra.extend(16u16.to_le_bytes());
        extra.extend(declared_size.to_le_bytes());
        extra.extend((deflated.data.len() as u64).to_le_bytes());
        (u32::MAX, u32::MAX, extra)
    } else {
        (declared_size as u32, deflated.data.len() as u32, Vec::new())
    };
    let version: u16 = if zip64 { 45 } else { 20 };
    let common = |z: &mut Vec<u8>| {
        z.extend(version.to_le_bytes());
        z.extend(0u16.to_le_bytes()); // flags
        z.extend(8u16.to_le_bytes()); // deflate
        z.extend(0u16.to_le_bytes()); // time
        z.extend(0x21u16.to_le_bytes()); // 1980-01-01
        z.extend(deflated.crc.sum().to_le_bytes());
        z.extend(compressed.to_le_bytes());
        z.extend(size.to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend((extra.len() as u16).to_le_bytes());
    };
    let mut z = Vec::new();
    z.extend(0x04034b50u32.to_le_bytes());
    common(&mut z);
    z.extend(name.as_bytes());
    z.extend(&extra);
    z.extend(&deflated.data);
    let directory = z.len();
    z.extend(0x02014b50u32.to_le_bytes());
    z.extend((3u16 << 8 | version).to_le_bytes()); // made by Unix
    common(&mut z);
    z.extend(0u16.to_le_bytes()); // comment
    z.extend(0u16.to_le_bytes()); // disk
    z.extend(0u16.to_le_bytes()); // internal attributes
    z.extend((0o100644u32 << 16).to_le_bytes());
    z.extend(0u32.to_le_bytes()); // local header at 0
    z.extend(name.as_bytes());
    z.extend(&extra);
    let directory_len = z.len() - directory;
    z.extend(0x06054b50u32.to_le_bytes());
    z.extend([0; 4]); // disks
    z.extend(1u16.to_le_bytes());
    z.extend(1u16.to_le_bytes());
    z.extend((directory_len as u32).to_le_bytes());
    z.extend((directory as u32).to_le_bytes());
    z.extend(0u16.to_le_bytes());
    z
}

/// 10 GiB of zeros, deflated: about 10 MB.
fn ten_gib_of_zeros() -> Deflated {
    deflate(&[Part::Zeros(TEN_GIB)])
}

#[test]
fn the_cheap_zero_streams_inflate_to_exactly_what_they_claim() {
    let header = b"some header";
    let deflated = deflate(&[
        Part::Bytes(header),
        Part::Zeros(3 * MIB as u64 + 5),
        Part::Bytes(b"end"),
    ]);
    let mut inflated = Vec::new();
    std::io::copy(
        &mut flate2::read::DeflateDecoder::new(&deflated.data[..]),
        &mut inflated,
    )
    .unwrap();
    let mut expected = header.to_vec();
    expected.resize(header.len() + 3 * MIB + 5, 0);
    expected.extend(b"end");
    assert!(inflated == expected, "inflated {} bytes", inflated.len());
    assert_eq!(deflated.len, expected.len() as u64);
    let mut crc = Crc::new();
    crc.update(&expected);
    assert_eq!(deflated.crc.sum(), crc.sum());

    // The same construction, as a whole zip and a whole gzip, reads back through the crates.
    let zip = zip_by_hand(
        "zeros.bin",
        &deflate(&[Part::Zeros(3 * MIB as u64)]),
        3 << 20,
    );
    assert_eq!(
        read_archive(&zip).unwrap(),
        vec![("zeros.bin".to_string(), vec![0; 3 * MIB])]
    );
    let gz = gzip(&[Part::Bytes(b"abc"), Part::Zeros(2 * MIB as u64 + 1)]);
    let mut inflated = Vec::new();
    std::io::copy(&mut flate2::read::GzDecoder::new(&gz[..]), &mut inflated).unwrap();
    assert_eq!(inflated.len(), 3 + 2 * MIB + 1);
}

#[test]
fn a_good_zip_round_trips_exactly() {
    let folder = good_folder();
    let mut zip = zip_writer();
    zip.add_directory("my-skill/", SimpleFileOptions::default())
        .unwrap();
    zip.add_directory("my-skill/lib/", SimpleFileOptions::default())
        .unwrap();
    for (i, (path, bytes)) in folder.iter().enumerate() {
        // Both ways zip keeps a file.
        let options = if i % 2 == 0 {
            SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
        } else {
            stored()
        };
        zip.start_file(path.as_str(), options.unix_permissions(0o644))
            .unwrap();
        zip.write_all(bytes).unwrap();
    }
    let zip = zip.finish().unwrap().into_inner();

    let files = read_archive(&zip).unwrap();
    assert!(
        files == folder,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let folder = load_script_folder(strip_single_top_folder(files)).unwrap();
    assert_eq!(folder.kind, "python");
    assert_eq!(folder.manifest.slug, "hello");
}

#[test]
fn a_good_tar_gz_round_trips_exactly() {
    let mut folder = good_folder();
    // Longer than the 100 bytes of a tar header: the writer adds a GNU long name.
    let deep = format!("my-skill/{}deep.py", "nested/".repeat(20));
    folder.push((deep.clone(), b"x = 1\n".to_vec()));
    let tar = tar_gz(|tar| {
        // `git archive` starts with a pax global header; `tar -C dir .` lists `./` first.
        let comment = b"52 comment=0123456789012345678901234567890123456789\n";
        let global = tar_header("pax_global_header", EntryType::XGlobalHeader, 52);
        tar.append(&global, &comment[..]).unwrap();
        tar.append(&tar_header("./", EntryType::Directory, 0), &[][..])
            .unwrap();
        tar.append(&tar_header("./my-skill/", EntryType::Directory, 0), &[][..])
            .unwrap();
        for (path, bytes) in &folder {
            if path == &deep {
                let mut header = Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(0o644);
                tar.append_data(&mut header, path, &bytes[..]).unwrap();
            } else {
                let name = format!("./{path}");
                let header = tar_header(&name, EntryType::Regular, bytes.len() as u64);
                tar.append(&header, &bytes[..]).unwrap();
            }
        }
    });

    let files = read_archive(&tar).unwrap();
    assert!(
        files == folder,
        "{:?}",
        files.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    let folder = load_script_folder(strip_single_top_folder(files)).unwrap();
    assert_eq!(folder.kind, "python");
    assert!(folder
        .files
        .iter()
        .any(|(p, _)| p.starts_with("nested/nested/")));
}

#[test]
fn paths_that_leave_the_folder_are_refused() {
    let dots = "'.' and '..' are not allowed in paths";
    for name in ["../../etc/x", "my-skill/../../x", "a/./b"] {
        assert_refused(&zip_of(&[(name, b"x")]), Some(name), dots);
        assert_refused(
            &tar_gz_of(&[(name, EntryType::Regular, b"x")]),
            Some(name),
            dots,
        );
    }
    // A leading `./` is fine in tar, but not one that then climbs out.
    assert_refused(
        &tar_gz_of(&[("./../x", EntryType::Regular, b"x")]),
        Some("./../x"),
        dots,
    );
    // Folders too, even though they are not returned.
    let mut zip = zip_writer();
    zip.add_directory("../up/", SimpleFileOptions::default())
        .unwrap();
    assert_refused(&zip.finish().unwrap().into_inner(), Some("../up/"), dots);
    assert_refused(
        &tar_gz_of(&[("../up/", EntryType::Directory, b"")]),
        Some("../up/"),
        dots,
    );
    assert_refused(
        &zip_of(&[("..\\..\\x", b"x")]),
        Some("..\\..\\x"),
        "backslashes are not allowed in paths",
    );
}

#[test]
fn absolute_paths_are_refused() {
    let absolute = "absolute paths are not allowed";
    assert_refused(&zip_of(&[("/etc/x", b"x")]), Some("/etc/x"), absolute);
    assert_refused(
        &tar_gz_of(&[("/etc/x", EntryType::Regular, b"x")]),
        Some("/etc/x"),
        absolute,
    );
}

#[test]
fn symbolic_links_are_refused() {
    let message = format!("is a symbolic link; {ONLY_FILES}");
    let mut zip = zip_writer();
    zip.start_file("my-skill/main.py", stored()).unwrap();
    zip.write_all(b"print(1)\n").unwrap();
    zip.add_symlink(
        "my-skill/passwd",
        "/etc/passwd",
        SimpleFileOptions::default(),
    )
    .unwrap();
    let zip = zip.finish().unwrap().into_inner();
    assert_refused(&zip, Some("my-skill/passwd"), &message);

    let tar = tar_gz(|tar| {
        let mut header = tar_header("my-skill/passwd", EntryType::Symlink, 0);
        header.set_link_name("/etc/passwd").unwrap();
        header.set_cksum();
        tar.append(&header, &[][..]).unwrap();
    });
    assert_refused(&tar, Some("my-skill/passwd"), &message);
}

#[test]
fn tar_hard_links_devices_and_fifos_are_refused() {
    let tar = tar_gz(|tar| {
        let main = tar_header("my-skill/main.py", EntryType::Regular, 3);
        tar.append(&main, &b"x=1"[..]).unwrap();
        let mut header = tar_header("my-skill/shadow", EntryType::Link, 0);
        header.set_link_name("/etc/shadow").unwrap();
        header.set_cksum();
        tar.append(&header, &[][..]).unwrap();
    });
    assert_refused(
        &tar,
        Some("my-skill/shadow"),
        &format!("is a hard link; {ONLY_FILES}"),
    );

    for (kind, what) in [
        (EntryType::Char, "a device"),
        (EntryType::Block, "a device"),
        (EntryType::Fifo, "a named pipe (FIFO)"),
        (EntryType::Continuous, "a special entry (tar type '7')"),
    ] {
        let tar = tar_gz(|tar| {
            let mut header = tar_header("dev/thing", kind, 0);
            header.set_device_major(1).unwrap();
            header.set_device_minor(3).unwrap();
            header.set_cksum();
            tar.append(&header, &[][..]).unwrap();
        });
        assert_refused(&tar, Some("dev/thing"), &format!("is {what}; {ONLY_FILES}"));
    }

    // A sparse file of no data at all that reads as a 10 GiB hole.
    let tar = tar_gz(|tar| {
        let mut header = tar_header("hole.bin", EntryType::GNUSparse, 0);
        let gnu = header.as_gnu_mut().unwrap();
        gnu.set_real_size(TEN_GIB);
        gnu.sparse[0].set_offset(TEN_GIB);
        gnu.sparse[0].set_length(0);
        header.set_cksum();
        tar.append(&header, &[][..]).unwrap();
    });
    assert_refused(
        &tar,
        Some("hole.bin"),
        &format!("is a sparse file; {ONLY_FILES}"),
    );
}

#[test]
fn zip_devices_fifos_and_sockets_are_refused() {
    for (mode, what) in [
        (0o020644, "a device"),
        (0o060644, "a device"),
        (0o010644, "a named pipe (FIFO)"),
        (0o140644, "a socket"),
    ] {
        let mut zip = zip_writer();
        zip.start_file("thing", stored().external_attributes(mode << 16))
            .unwrap();
        let zip = zip.finish().unwrap().into_inner();
        assert_refused(&zip, Some("thing"), &format!("is {what}; {ONLY_FILES}"));
    }
}

#[test]
fn a_10_gib_zip_bomb_is_refused_at_the_file_limit() {
    let zeros = ten_gib_of_zeros();
    assert!(zeros.data.len() < 16 * MIB, "{}", zeros.data.len());
    assert_eq!(zeros.len, TEN_GIB);
    // Honest headers (zip64) ...
    assert_refused(
        &zip_by_hand("bomb.bin", &zeros, TEN_GIB),
        Some("bomb.bin"),
        "larger than 8 MiB",
    );
    // ... and headers claiming 100 bytes: the data is not believed either.
    let err = refused(&zip_by_hand("bomb.bin", &zeros, 100));
    assert_eq!(err.file.as_deref(), Some("bomb.bin"));
    assert!(
        err.message
            .starts_with("the .zip archive is damaged or incomplete"),
        "{err}"
    );
}

#[test]
fn a_10_gib_tar_gz_bomb_is_refused_at_the_file_limit() {
    let header = tar_header("my-skill/bomb.bin", EntryType::Regular, TEN_GIB);
    let bomb = gzip(&[Part::Bytes(header.as_bytes()), Part::Zeros(TEN_GIB + 1024)]);
    assert!(bomb.len() < 16 * MIB, "{}", bomb.len());
    assert_refused(&bomb, Some("my-skill/bomb.bin"), "larger than 8 MiB");
}

#[test]
fn tar_gz_bombs_in_what_tar_reads_on_its_own_are_capped() {
    // A GNU long name the tar reader would read whole into memory.
    let long_name = tar_header("././@LongLink", EntryType::GNULongName, TEN_GIB);
    let bomb = gzip(&[
        Part::Bytes(long_name.as_bytes()),
        Part::Zeros(TEN_GIB + 1024),
    ]);
    assert_refused(&bomb, None, "the archive unpacks to more than 64 MiB");

    // A folder claiming data, which the tar reader would skip by inflating it.
    let folder = tar_header("my-skill/", EntryType::Directory, TEN_GIB);
    let bomb = gzip(&[Part::Bytes(folder.as_bytes()), Part::Zeros(TEN_GIB + 1024)]);
    assert_refused(&bomb, None, "the archive unpacks to more than 64 MiB");
}

#[test]
fn files_that_together_exceed_the_folder_limit_are_refused() {
    let seven_mib = vec![7u8; 7 * MIB];
    let names: Vec<String> = (1..=5).map(|i| format!("my-skill/part{i}.bin")).collect();
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (n.as_str(), &seven_mib[..])).collect();
    let message = "the archive unpacks to more than 32 MiB";
    assert_refused(&zip_of(&files), Some("my-skill/part5.bin"), message);

    let mut parts = Vec::new();
    let headers: Vec<Header> = names
        .iter()
        .map(|n| tar_header(n, EntryType::Regular, 7 * MIB as u64))
        .collect();
    for header in &headers {
        parts.push(Part::Bytes(header.as_bytes()));
        parts.push(Part::Zeros(7 * MIB as u64));
    }
    parts.push(Part::Zeros(1024));
    assert_refused(&gzip(&parts), Some("my-skill/part5.bin"), message);
}

#[test]
fn archives_of_100000_tiny_files_are_refused() {
    let message = "the archive has more than 1000 files";
    let mut zip = zip_writer();
    for i in 0..100_000 {
        zip.start_file(format!("f/{i}"), stored()).unwrap();
        zip.write_all(b"x").unwrap();
    }
    assert_refused(&zip.finish().unwrap().into_inner(), None, message);

    let tar = tar_gz(|tar| {
        for i in 0..100_000 {
            let header = tar_header(&format!("f/{i}"), EntryType::Regular, 1);
            tar.append(&header, &b"x"[..]).unwrap();
        }
    });
    assert_refused(&tar, None, message);
}

#[test]
fn archives_of_100000_empty_folders_are_refused() {
    let message = "the archive has more than 4000 entries (files and folders)";
    let mut zip = zip_writer();
    for i in 0..100_000 {
        zip.add_directory(format!("d{i}/"), SimpleFileOptions::default())
            .unwrap();
    }
    assert_refused(&zip.finish().unwrap().into_inner(), None, message);

    let tar = tar_gz(|tar| {
        for i in 0..100_000 {
            let header = tar_header(&format!("d{i}/"), EntryType::Directory, 0);
            tar.append(&header, &[][..]).unwrap();
        }
    });
    assert_refused(&tar, None, message);
}

#[test]
fn encrypted_zip_entries_are_refused() {
    let mut zip = zip_writer();
    zip.start_file(
        "my-skill/main.py",
        SimpleFileOptions::default()
            .with_deprecated_encryption(b"secret")
            .unwrap(),
    )
    .unwrap();
    zip.write_all(b"print('hidden')\n").unwrap();
    assert_refused(
        &zip.finish().unwrap().into_inner(),
        Some("my-skill/main.py"),
        "is encrypted; upload the folder without a password",
    );
}

/// Rewrites a 16-bit field of every local and central header of a zip.
fn patch_headers(zip: &mut [u8], local_offset: usize, central_offset: usize, value: u16) {
    for i in 0..zip.len() - 4 {
        let at = match &zip[i..i + 4] {
            b"PK\x03\x04" => i + local_offset,
            b"PK\x01\x02" => i + central_offset,
            _ => continue,
        };
        zip[at..at + 2].copy_from_slice(&value.to_le_bytes());
    }
}

#[test]
fn odd_zips_are_refused() {
    // Another compression method (12 is bzip2) in otherwise stored data.
    let mut zip = zip_of(&[("main.py", b"print(1)\n")]);
    patch_headers(&mut zip, 8, 10, 12);
    assert_refused(
        &zip,
        Some("main.py"),
        "uses a compression method other than deflate; create the archive with standard zip compression",
    );

    // The same name twice: the zip crate would keep only one of them.
    let mut zip = zip_of(&[("a.py", b"print(1)\n"), ("b.py", b"print(2)\n")]);
    let at = zip.windows(4).rposition(|w| w == b"b.py").unwrap();
    zip[at] = b'a';
    let first = zip.windows(4).position(|w| w == b"b.py").unwrap();
    zip[first] = b'a';
    assert_refused(&zip, None, "the archive lists the same path more than once");
}

#[test]
fn damaged_archives_are_refused() {
    let zip = zip_of(&[("my-skill/main.py", b"print('hello world')\n")]);
    let err = refused(&zip[..zip.len() / 2]);
    assert_eq!(err.file, None);
    assert!(
        err.message
            .starts_with("the .zip archive is damaged or incomplete ("),
        "{err}"
    );
    // One byte of the data changed: the CRC catches it.
    let mut flipped = zip.clone();
    let at = flipped.windows(5).position(|w| w == b"hello").unwrap();
    flipped[at] = b'J';
    let err = refused(&flipped);
    assert_eq!(err.file.as_deref(), Some("my-skill/main.py"));
    assert!(err.message.contains("damaged"), "{err}");

    let tar = tar_gz_of(&[("my-skill/main.py", EntryType::Regular, b"print(1)\n")]);
    let err = refused(&tar[..tar.len() / 2]);
    assert!(
        err.message
            .starts_with("the .tar.gz archive is damaged or incomplete ("),
        "{err}"
    );
    // The gzip checksum covers what the tar reader already took.
    let mut bad_crc = tar.clone();
    let crc = bad_crc.len() - 8;
    bad_crc[crc] ^= 1;
    let err = refused(&bad_crc);
    assert!(err.message.contains("damaged"), "{err}");
    // A tar header whose checksum does not match.
    let mut header = tar_header("main.py", EntryType::Regular, 0);
    header.as_old_mut().name[0] = b'M';
    let err = refused(&gzip(&[Part::Bytes(header.as_bytes()), Part::Zeros(1024)]));
    assert!(err.message.contains("damaged"), "{err}");
}

#[test]
fn unknown_formats_are_refused() {
    let message =
        "this is not a .zip or .tar.gz archive; upload the script folder as .zip or .tar.gz";
    // An uncompressed tar, a script, and a 7z archive.
    let mut plain_tar = tar::Builder::new(Vec::new());
    plain_tar
        .append(&tar_header("main.py", EntryType::Regular, 1), &b"x"[..])
        .unwrap();
    let plain_tar = plain_tar.into_inner().unwrap();
    for bytes in [
        &plain_tar[..],
        b"#!/bin/sh\necho hi\n",
        b"7z\xbc\xaf\x27\x1c\x00\x04",
        b"",
    ] {
        assert_refused(bytes, None, message);
    }
}
