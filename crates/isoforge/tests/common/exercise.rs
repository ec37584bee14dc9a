//! Opens untrusted bytes as an image and uses every read API on it under
//! tight limits and byte budgets, checking oracles along the way. Shared by
//! the `image_walk` fuzz target and the stable corpus replay test.
//!
//! Errors from the library are expected outcomes and are collected; a panic
//! (from the library or from a failed oracle) is a finding.

use std::collections::HashSet;
use std::io::Read;

use isoforge::{Entry, FileType, Image, Limits, ReadOptions, View};

/// Entries taken from one view's walk.
pub const MAX_ENTRIES_PER_VIEW: usize = 4096;
/// Bytes read from one file (each of the two reads).
pub const MAX_FILE_BYTES: u64 = 1 << 20;
/// Bytes read from all files of one image.
pub const MAX_TOTAL_BYTES: u64 = 8 << 20;
/// Entries checked with `lookup` per view.
pub const MAX_LOOKUPS: usize = 16;

/// What one run did.
#[derive(Debug, Default)]
pub struct Report {
    /// Whether `Image::open_with` succeeded.
    pub opened: bool,
    /// Views walked.
    pub views: usize,
    /// Entries produced by all walks.
    pub entries: u64,
    /// Files whose contents were read (twice).
    pub files_read: u64,
    /// Bytes of file contents read.
    pub bytes_read: u64,
    /// Lookups checked against the walk.
    pub lookups: u64,
    /// Errors returned by the library, as displayed.
    pub errors: Vec<String>,
}

/// Limits well below the defaults, so one input cannot take long.
pub fn tight_limits() -> Limits {
    let mut l = Limits::default();
    l.max_depth = 32;
    l.max_entries_per_dir = 4096;
    l.max_total_entries = 20_000;
    l.max_ce_chain = 32;
    l.max_name_bytes = 1024;
    l.max_symlink_bytes = 4096;
    l.max_extents_per_file = 256;
    l.max_boot_entries = 256;
    l.max_path_table_bytes = 1 << 20;
    l.max_dir_bytes = 1 << 20;
    l.max_total_dir_bytes = 8 << 20;
    l
}

/// Reads at most `cap` bytes of a file.
fn read_capped(img: &Image<&[u8]>, e: &Entry, cap: u64) -> Result<Vec<u8>, String> {
    let r = img.open_file(e).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    r.take(cap)
        .read_to_end(&mut out)
        .map_err(|e| e.to_string())?;
    Ok(out)
}

/// Whether `lookup(e.path)` must find exactly `e`: every component is a plain
/// name (no `/`, not empty, `.` or `..`) and no prefix of the path is shared
/// by two entries of the walk.
fn lookup_is_exact(e: &Entry, duplicated: &HashSet<&str>) -> bool {
    let comps: Vec<&str> = e.path.split('/').skip(1).collect();
    if comps.len() != e.depth as usize
        || comps
            .iter()
            .any(|c| c.is_empty() || *c == "." || *c == "..")
    {
        return false;
    }
    let mut end = 0;
    for c in &comps {
        end += 1 + c.len();
        if duplicated.contains(&e.path[..end]) {
            return false;
        }
    }
    true
}

/// Runs every read API over `data`. Panics only when an oracle fails.
pub fn exercise(data: &[u8]) -> Report {
    let mut report = Report::default();
    let opts = ReadOptions::default().limits(tight_limits());
    let img = match Image::open_with(data, &opts) {
        Ok(img) => img,
        Err(e) => {
            report.errors.push(e.to_string());
            return report;
        }
    };
    report.opened = true;
    let _ = img.info().has_udf();
    let _ = img.diagnostics().len();
    let mut budget = MAX_TOTAL_BYTES;
    for view in img.views() {
        report.views += 1;
        // The UDF file system has no path tables.
        if view != View::Udf {
            if let Err(e) = img.check_path_tables(view) {
                report.errors.push(e.to_string());
            }
        }
        if let Ok(root) = img.root(view) {
            if let Err(e) = img.read_dir(&root, view) {
                report.errors.push(e.to_string());
            }
        }
        let walk = match img.walk(view) {
            Ok(w) => w,
            Err(e) => {
                report.errors.push(e.to_string());
                continue;
            }
        };
        let mut seen: Vec<Entry> = Vec::new();
        for e in walk.take(MAX_ENTRIES_PER_VIEW) {
            match e {
                Ok(e) => seen.push(e),
                Err(e) => {
                    report.errors.push(e.to_string());
                    break;
                }
            }
        }
        report.entries += seen.len() as u64;

        // Oracle: reading a file twice gives the same bytes (or the same error).
        for e in seen.iter().filter(|e| e.file_type == FileType::File) {
            if budget == 0 {
                break;
            }
            let cap = MAX_FILE_BYTES.min(budget);
            let _ = img.data_ranges(e);
            let first = read_capped(&img, e, cap);
            let second = read_capped(&img, e, cap);
            assert_eq!(
                first, second,
                "{}: two reads of the same file differ",
                e.path
            );
            if let Err(err) = &first {
                report.errors.push(err.clone());
            }
            if let Ok(bytes) = &first {
                assert!(bytes.len() as u64 <= cap, "{}: read past its cap", e.path);
                if e.zisofs.is_none() && bytes.len() as u64 != cap {
                    // A stored file reads exactly its declared size.
                    assert_eq!(bytes.len() as u64, e.size, "{}: size differs", e.path);
                }
                budget -= bytes.len() as u64;
                report.bytes_read += bytes.len() as u64;
            }
            report.files_read += 1;
        }

        // Oracle: lookup finds what the walk found.
        let mut paths = HashSet::new();
        let mut duplicated = HashSet::new();
        for e in &seen {
            if !paths.insert(e.path.as_str()) {
                duplicated.insert(e.path.as_str());
            }
        }
        for e in seen
            .iter()
            .filter(|e| lookup_is_exact(e, &duplicated))
            .take(MAX_LOOKUPS)
        {
            let found = match img.lookup(&e.path, view) {
                Ok(f) => f,
                Err(err) => panic!("walk found {} but lookup failed: {err}", e.path),
            };
            assert_eq!(
                (&found.path, found.file_type, &found.extents, found.size),
                (&e.path, e.file_type, &e.extents, e.size),
                "lookup of {} found a different entry",
                e.path
            );
            report.lookups += 1;
        }
    }
    let _ = img.resolve_view(View::Auto);
    report
}

/// Parses every 512-byte-aligned window of `data` as each UDF descriptor
/// type, at the location its tag records (so that descriptors of images
/// with any block size are checked), or where no tag head parses, at the
/// location the window would have with 512-byte blocks; whatever parses
/// must encode to bytes that parse to the same value. Returns how many
/// descriptors of each kind went round. Panics only when that oracle fails.
pub fn udf_descriptors(data: &[u8]) -> UdfRoundTrips {
    use isoforge_format::udf::{
        anchor::Anchor, fid::Fid, fileset::FileSet, icb::FileEntry, lvid::Integrity,
        partition::SparingTable, tag::Tag, volume::*,
    };
    let mut n = UdfRoundTrips::default();
    for (i, w) in data.chunks(512).enumerate().take(4096) {
        let loc = Tag::parse_head(w).map_or(i as u32, |t| t.location);
        if let Ok(a) = Anchor::parse(w, loc) {
            assert_eq!(Anchor::parse(&a.encode(loc), loc).ok(), Some(a));
        }
        if let Ok(p) = PartitionDescriptor::parse(w, loc) {
            let b = p.encode(loc).expect("partition descriptor encodes");
            assert_eq!(PartitionDescriptor::parse(&b, loc).ok(), Some(p));
        }
        if let Ok(l) = LogicalVolume::parse(w, loc) {
            if let Ok(b) = l.encode(loc) {
                let again = LogicalVolume::parse(&b, loc).expect("encoded LVD parses");
                assert_eq!(again.maps.len(), l.maps.len());
                assert_eq!(again.block_size, l.block_size);
            }
        }
        if let Ok(f) = FileSet::parse(w, loc) {
            if let Ok(b) = f.encode(loc) {
                assert_eq!(FileSet::parse(&b, loc).map(|x| x.root).ok(), Some(f.root));
                n.file_sets += 1;
            }
        }
        if let Ok(fe) = FileEntry::parse(w, loc) {
            let b = fe.encode(loc).expect("file entry encodes");
            let again = FileEntry::parse(&b, loc).expect("encoded file entry parses");
            assert_eq!(
                (again.info_len, again.ad, again.ea),
                (fe.info_len, fe.ad, fe.ea)
            );
            n.file_entries += 1;
        }
        if let Ok((fid, _)) = Fid::parse(w) {
            let mut b = Vec::new();
            fid.encode(fid.location, &mut b).expect("FID encodes");
            let (again, _) = Fid::parse(&b).expect("encoded FID parses");
            assert_eq!((again.name, again.icb), (fid.name, fid.icb));
            n.fids += 1;
        }
        let _ = Integrity::parse(w, loc);
        let _ = SparingTable::parse(w, loc);
        let _ = PrimaryVolume::parse(w, loc);
        let _ = ImplUseVolume::parse(w, loc);
    }
    n
}

/// How many UDF descriptors of each kind [`udf_descriptors`] encoded back.
#[derive(Debug, Default)]
pub struct UdfRoundTrips {
    /// File set descriptors.
    pub file_sets: usize,
    /// File entries and extended file entries.
    pub file_entries: usize,
    /// File identifier descriptors.
    pub fids: usize,
}
