//! `modify` on hostile images: files whose extents overlap must not make the
//! new image grow far beyond the old one.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

#[path = "hostile/builder.rs"]
mod builder;

use std::sync::Arc;

use builder::*;
use isoforge::modify::{modify, ModifyOptions};
use isoforge::source::ReadAt;
use isoforge::Error;

#[test]
fn overlapping_extents_cannot_inflate_the_new_image() {
    // 2,000 files of about 0.9 MB whose extents overlap inside a 2 MB image:
    // copied one by one they would need 1.8 GB.
    let blocks = 1000u32;
    let mut iso = Iso::new(blocks);
    let recs: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| {
            let name = format!("F{i:04}.;1");
            file(name.as_bytes(), 100 + i % 400, 900_000 - (i / 400) * 2048)
        })
        .collect();
    let n = iso.dir(ROOT, 0, ROOT, &[], &recs);
    let root_len = u32::try_from(n.div_ceil(BLOCK) * BLOCK).unwrap();
    iso.dir(ROOT, root_len, ROOT, &[], &recs);
    let pt = path_table(&[(ROOT, 1, b"\0")], false);
    iso.put(PVD, &pvd(ROOT, root_len, blocks, pt.len() as u32));
    let src: Arc<dyn ReadAt> = Arc::new(iso.data);
    let err = modify(src, &ModifyOptions::default()).unwrap_err();
    match &err {
        Error::Corrupt(c) => {
            assert_eq!(c.structure(), "directory record");
            assert!(c.to_string().contains("overlap"), "{err}");
        }
        other => panic!("expected a corrupt-image error, got {other:?}"),
    }
}

#[test]
fn files_sharing_one_extent_are_written_once() {
    // 2,000 names for one 0.9 MB extent: hard links or deduplicated copies.
    let blocks = 1000u32;
    let mut iso = Iso::new(blocks);
    let recs: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| file(format!("F{i:04}.;1").as_bytes(), 100, 900_000))
        .collect();
    let n = iso.dir(ROOT, 0, ROOT, &[], &recs);
    let root_len = u32::try_from(n.div_ceil(BLOCK) * BLOCK).unwrap();
    iso.dir(ROOT, root_len, ROOT, &[], &recs);
    let pt = path_table(&[(ROOT, 1, b"\0")], false);
    iso.put(PVD, &pvd(ROOT, root_len, blocks, pt.len() as u32));
    let src: Arc<dyn ReadAt> = Arc::new(iso.data);
    let m = modify(src, &ModifyOptions::default()).unwrap();
    assert!(m.plan.image_len() < 4 << 20, "{} bytes", m.plan.image_len());
}

#[test]
fn hidden_flags_are_kept() {
    let blocks = 40u32;
    let mut iso = Iso::new(blocks);
    iso.put(30, b"shown");
    iso.put(31, b"hidden");
    let recs = vec![
        dir_record(b"A.;1", 30, 5, 0, &[]),
        dir_record(b"B.;1", 31, 6, 0x01, &[]),
    ];
    iso.dir(ROOT, BLOCK as u32, ROOT, &[], &recs);
    let src: Arc<dyn ReadAt> = Arc::new(iso.data);
    let m = modify(src, &ModifyOptions::default()).unwrap();
    let mut out = Vec::new();
    m.plan.write_to(&mut out, &|_| {}).unwrap();
    let img = isoforge::Image::open(out).unwrap();
    let entries: Vec<isoforge::Entry> = img
        .walk(isoforge::View::Iso9660)
        .unwrap()
        .map(|e| e.unwrap())
        .collect();
    let flag = |name: &str| entries.iter().find(|e| e.name == name).unwrap().hidden;
    assert!(!flag("A"), "{entries:?}");
    assert!(flag("B"), "{entries:?}");
}
