//! Volume descriptor text that does not fit its field is refused, with the
//! flag, the length and the limit named, where it used to be cut short
//! silently. The limits and the refusal are those of xorriso and
//! genisoimage, which both fail on such text; at the limit all three record
//! the text whole. The Joliet copy of a long volume id is shortened to the
//! 16 characters its field holds, as xorriso shortens it, with a warning.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;

use common::*;

/// Our flag, the mkisofs option (xorriso and genisoimage), the field's
/// byte range in the descriptor, its size.
const FIELDS: [(&str, &str, std::ops::Range<usize>); 6] = [
    ("--volume-id", "-V", 40..72),
    ("--system-id", "-sysid", 8..40),
    ("--volume-set-id", "-volset", 190..318),
    ("--publisher", "-publisher", 318..446),
    ("--preparer", "-p", 446..574),
    ("--application", "-A", 574..702),
];

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// The volume descriptor of `vd_type` (1 primary, 2 Joliet).
fn descriptor(img: &Path, vd_type: u8) -> Vec<u8> {
    let data = fs::read(img).unwrap();
    (16..32)
        .map(|i| data[i * 2048..(i + 1) * 2048].to_vec())
        .find(|d| d[0] == vd_type && &d[1..6] == b"CD001")
        .unwrap()
}

/// `text` padded with spaces to the field's size, as recorded.
fn padded(text: &str, len: usize) -> Vec<u8> {
    let mut v = text.as_bytes().to_vec();
    v.resize(len, b' ');
    v
}

#[test]
fn too_long_text_is_refused_as_xorriso_and_genisoimage_refuse_it() {
    if !have("xorriso") || !have("genisoimage") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.txt"), b"x").unwrap();
    for (flag, mkisofs, range) in FIELDS {
        let limit = range.len();
        let fits: String = (0..limit)
            .map(|i| char::from(b'A' + (i % 26) as u8))
            .collect();
        let long = format!("{fits}Z");
        // At the limit: the whole text in the field, in all three.
        let ours = t.path().join("ours.iso");
        isoforge_ok(&["create", "-q", flag, &fits, "-o", &s(&ours), &s(&src)]);
        let x = t.path().join("x.iso");
        run(Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", mkisofs, &fits, "-o"])
            .arg(&x)
            .arg(&src));
        let g = t.path().join("g.iso");
        run(Command::new("genisoimage")
            .args(["-quiet", mkisofs, &fits, "-o"])
            .arg(&g)
            .arg(&src));
        for img in [&ours, &x, &g] {
            assert_eq!(
                descriptor(img, 1)[range.clone()],
                padded(&fits, limit)[..],
                "{flag}: {}",
                img.display()
            );
        }
        // One character more: both peers fail, and so do we, naming the flag.
        let xo = Command::new("xorriso")
            .args(["-as", "mkisofs", "-quiet", mkisofs, &long, "-o"])
            .arg(t.path().join("x2.iso"))
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            !xo.status.success(),
            "xorriso accepted {flag} of {}",
            long.len()
        );
        let go = Command::new("genisoimage")
            .args(["-quiet", mkisofs, &long, "-o"])
            .arg(t.path().join("g2.iso"))
            .arg(&src)
            .output()
            .unwrap();
        assert!(
            !go.status.success(),
            "genisoimage accepted {flag} of {}",
            long.len()
        );
        let out = t.path().join("refused.iso");
        let o = isoforge(&["create", flag, &long, "-o", &s(&out), &s(&src)]);
        assert_eq!(o.status.code(), Some(2), "{flag}");
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!(
                "isoforge: {flag} is {} characters, the limit is {limit}\n",
                limit + 1
            )
        );
        assert!(!out.exists(), "{flag}: an image was written");
    }
}

#[test]
fn modify_refuses_too_long_text_too() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.txt"), b"x").unwrap();
    let img = t.path().join("a.iso");
    isoforge_ok(&["create", "-q", "-o", &s(&img), &s(&src)]);
    let out = t.path().join("b.iso");
    for (flag, len, limit) in [("-V", 33, 32), ("--publisher", 200, 128)] {
        let o = isoforge(&["modify", &s(&img), "-o", &s(&out), flag, &"Q".repeat(len)]);
        assert_eq!(o.status.code(), Some(2));
        let name = if flag == "-V" { "--volume-id" } else { flag };
        assert_eq!(
            String::from_utf8_lossy(&o.stderr),
            format!("isoforge: {name} is {len} characters, the limit is {limit}\n")
        );
        assert!(!out.exists());
    }
    // What fits is recorded whole.
    isoforge_ok(&[
        "modify",
        "-q",
        &s(&img),
        "-o",
        &s(&out),
        "-V",
        &"Q".repeat(32),
    ]);
    assert_eq!(descriptor(&out, 1)[40..72], [b'Q'; 32]);
}

#[test]
fn joliet_copy_of_a_long_volume_id_is_shortened_as_xorriso_does() {
    if !have("xorriso") {
        return;
    }
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f.txt"), b"x").unwrap();
    let label = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";
    let ours = t.path().join("ours.iso");
    let o = isoforge_ok(&["create", "-V", label, "-o", &s(&ours), &s(&src)]);
    let warn = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(
        warn.contains("Joliet volume identifier holds 16 characters")
            && warn.contains("\"ABCDEFGHIJKLMNOP\""),
        "{warn}"
    );
    let x = t.path().join("x.iso");
    let xo = run(Command::new("xorriso")
        .args(["-as", "mkisofs", "-J", "-V", label, "-o"])
        .arg(&x)
        .arg(&src));
    assert!(String::from_utf8_lossy(&xo.stderr).contains("too long for Joliet"));
    // The primary descriptor has the whole label, the Joliet one the same
    // 16 UCS-2 characters in both.
    assert_eq!(descriptor(&ours, 1)[40..72], *label.as_bytes());
    assert_eq!(descriptor(&ours, 2)[40..72], descriptor(&x, 2)[40..72]);
    // The same on modify.
    let out = t.path().join("m.iso");
    let o = isoforge_ok(&[
        "modify",
        &s(&ours),
        "-o",
        &s(&out),
        "-V",
        "ZYXWVUTSRQPONMLKJIH",
    ]);
    assert!(String::from_utf8_lossy(&o.stderr).contains("Joliet volume identifier"));
    assert_eq!(
        &descriptor(&out, 2)[40..72],
        "ZYXWVUTSRQPONMLK"
            .encode_utf16()
            .flat_map(u16::to_be_bytes)
            .collect::<Vec<u8>>()
            .as_slice()
    );
}

#[test]
fn strict_names_names_the_characters_outside_the_set() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("F.TXT"), b"x").unwrap();
    let out = t.path().join("s.iso");
    let o = isoforge(&[
        "create",
        "--strict-names",
        "-V",
        "My disc",
        "-o",
        &s(&out),
        &s(&src),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(
        e.contains("--volume-id") && e.contains("d-characters") && e.contains("'y', ' ', 'd'"),
        "{e}"
    );
    assert!(!out.exists());
    // Without strict naming such text is recorded as given, as the peers do.
    isoforge_ok(&["create", "-q", "-V", "My disc", "-o", &s(&out), &s(&src)]);
    assert_eq!(descriptor(&out, 1)[40..47], *b"My disc");
    isoforge_ok(&[
        "create",
        "-q",
        "--strict-names",
        "-V",
        "MY_DISC",
        "-o",
        &s(&out),
        &s(&src),
    ]);
}
