//! The README's path for a fresh machine holds: the Rust version it asks
//! for is the one `Cargo.toml` requires, the install command names the
//! crate that builds the `isoforge` binary, the commands that follow use
//! that binary, and every file it points to is in this repository.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

#[test]
fn readme_asks_for_the_rust_version_cargo_requires() {
    let cargo = std::fs::read_to_string(root().join("Cargo.toml")).unwrap();
    let version = cargo
        .lines()
        .find_map(|l| l.trim().strip_prefix("rust-version = "))
        .map(|v| v.trim_matches('"').to_string())
        .expect("rust-version in Cargo.toml");
    let r = readme();
    assert!(
        r.contains(&format!("Rust {version} or later")),
        "README: Rust {version}?"
    );
    assert!(
        r.contains(&format!("rustup toolchain install {version}")),
        "README does not install Rust {version}"
    );
}

#[test]
fn readme_installs_the_binary_then_uses_it() {
    let r = readme();
    let install = "cargo install --path crates/cli";
    let at = r.find(install).expect("an install command");
    let cli = std::fs::read_to_string(root().join("crates/cli/Cargo.toml")).unwrap();
    assert!(
        cli.contains("name = \"isoforge\""),
        "crates/cli builds no isoforge binary"
    );
    // After installing, the commands are the binary's, not `cargo run`.
    let after = &r[at..];
    for cmd in ["\n    isoforge info ", "\n    isoforge create -o "] {
        assert!(after.contains(cmd), "no {cmd:?} after the install command");
    }
    let before_tests = &r[..r.find("## Tests").unwrap_or(r.len())];
    assert!(
        !before_tests.contains("cargo run --release --"),
        "{before_tests}"
    );
}

#[test]
fn readme_points_only_into_the_repository() {
    let r = readme();
    assert!(!r.contains("../"), "README points outside the repository");
    assert!(
        !r.contains("/work/"),
        "README points to a machine's directory"
    );
    // Every path of the repository it names exists.
    let mut named = 0;
    for (i, quoted) in r.split('`').enumerate() {
        let candidate = quoted.split_whitespace().next().unwrap_or("");
        let in_repo = [
            "crates/", "bench/", "fuzz/", "tests/", "xtask/", "docs/", ".ci/",
        ]
        .iter()
        .any(|p| candidate.starts_with(p));
        if i % 2 == 1 && in_repo {
            named += 1;
            assert!(
                root().join(candidate).exists(),
                "README names {candidate}, which is not in the repository"
            );
        }
    }
    assert!(named >= 3, "{named} repository paths found");
    for example in ["build_image.rs", "extract_safely.rs", "modify_image.rs"] {
        assert!(r.contains(example));
        assert!(root()
            .join("crates/isoforge/examples")
            .join(example)
            .exists());
    }
}
