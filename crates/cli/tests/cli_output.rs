//! The command line as a user meets it: global flags that do not take a
//! subcommand's letters, `-q` and `--color` in every command, error lines
//! that say each thing once, `ls -R`, `checksum` in `sha256sum -c` form,
//! completions and the manual page.
#![allow(clippy::unwrap_used)]

mod common;

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn s(p: &Path) -> String {
    p.to_str().unwrap().to_string()
}

/// Two small images made by isoforge itself: `a.iso` and `b.iso`, which
/// differ in one file.
fn two_images(d: &Path) -> (PathBuf, PathBuf) {
    let (ta, tb) = (d.join("ta"), d.join("tb"));
    for (t, body) in [(&ta, "one\n"), (&tb, "two\n")] {
        fs::create_dir_all(t.join("dir")).unwrap();
        fs::write(t.join("dir/f.txt"), body).unwrap();
        fs::write(t.join("same.txt"), "same\n").unwrap();
        touch(&t.join("dir/f.txt"), 1_600_000_000);
        touch(&t.join("same.txt"), 1_600_000_000);
        touch(&t.join("dir"), 1_600_000_000);
    }
    let (a, b) = (d.join("a.iso"), d.join("b.iso"));
    for (t, i) in [(&ta, &a), (&tb, &b)] {
        run(Command::new(bin())
            .env("SOURCE_DATE_EPOCH", "1700000000")
            .args(["create", "-q", "-o", &s(i), &s(t)]));
    }
    (a, b)
}

/// Runs isoforge with an environment change.
fn isoforge_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(bin());
    c.args(args).env_remove("NO_COLOR");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().unwrap()
}

#[test]
fn dash_capital_v_is_not_the_version() {
    let t = tempdir();
    let src = t.path().join("src");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("f"), b"x").unwrap();
    let out = t.path().join("x.iso");
    // As typed by mkisofs users: the label before the subcommand. It must
    // not print the version and succeed without making the image.
    let o = isoforge(&["-V", "LABEL", "create", "-o", &s(&out), &s(&src)]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stdout));
    assert!(!text(&o.stdout).contains(env!("CARGO_PKG_VERSION")));
    assert!(!out.exists());
    // In its place the volume id works, and the version has its long flag
    // and a subcommand.
    isoforge_ok(&["create", "-q", "-V", "LABEL", "-o", &s(&out), &s(&src)]);
    let info = text(&isoforge_ok(&["info", &s(&out)]).stdout);
    assert!(info.contains("Volume id      : LABEL"), "{info}");
    let want = format!("isoforge {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(text(&isoforge_ok(&["--version"]).stdout), want);
    assert_eq!(text(&isoforge_ok(&["version"]).stdout), want);
}

#[test]
fn quiet_silences_verify_and_diff_but_not_errors() {
    let t = tempdir();
    let (a, b) = two_images(t.path());
    let sum = text(&isoforge_ok(&["checksum", &s(&a)]).stdout);
    let hex = sum.split_whitespace().next().unwrap().to_string();
    // Without -q both report on standard output.
    let o = isoforge(&["verify", &s(&a), "--sha256", &hex]);
    assert_eq!(o.status.code(), Some(0));
    assert!(text(&o.stdout).contains("OK"));
    let o = isoforge(&["diff", &s(&a), &s(&b)]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o.stdout).contains("/dir/f.txt"));
    // With -q: nothing but the exit status, and failures on standard error.
    let (sa, sb) = (s(&a), s(&b));
    let cases: [(Vec<&str>, i32); 4] = [
        (vec!["-q", "verify", &sa, "--sha256", &hex], 0),
        (vec!["verify", "--quiet", &sb, "--sha256", &hex], 1),
        (vec!["-q", "diff", &sa, &sb], 1),
        (vec!["diff", "-q", &sa, &sa], 0),
    ];
    for (args, code) in cases {
        let o = isoforge(&args);
        assert_eq!(o.status.code(), Some(code), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}: {}", text(&o.stdout));
        if code == 0 || args.contains(&"diff") {
            assert!(o.stderr.is_empty(), "{args:?}: {}", text(&o.stderr));
        } else {
            let e = text(&o.stderr);
            assert_eq!(e.lines().count(), 1, "{e}");
            assert!(e.contains("b.iso") && e.contains("sha256"), "{e}");
        }
    }
    // --json is the output asked for, -q or not.
    let o = isoforge(&["-q", "diff", "--json", &s(&a), &s(&b)]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["identical"], false);
}

/// Runs `sh -c CMD` on a pseudo-terminal (util-linux `script`), returning
/// what the terminal showed.
fn on_terminal(cmd: &str, env: &[(&str, &str)]) -> String {
    let mut c = Command::new("script");
    c.args(["-q", "-e", "-c", cmd, "/dev/null"])
        .env("TERM", "xterm")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    text(&c.output().unwrap().stdout)
}

#[test]
fn color_follows_the_flag_the_terminal_and_no_color() {
    let t = tempdir();
    let (a, b) = two_images(t.path());
    const ESC: &str = "\x1b[";
    let diff = |color: &str, env: &[(&str, &str)]| {
        let o = isoforge_env(&["diff", "--color", color, &s(&a), &s(&b)], env);
        assert_eq!(o.status.code(), Some(1));
        text(&o.stdout)
    };
    // Piped: colour only when asked for, and then even with NO_COLOR (a
    // flag overrides the environment).
    assert!(diff("always", &[]).contains(ESC));
    assert!(diff("always", &[("NO_COLOR", "1")]).contains(ESC));
    assert!(!diff("never", &[]).contains(ESC));
    assert!(!diff("auto", &[]).contains(ESC));
    let plain = diff("never", &[]);
    let coloured = diff("always", &[]);
    assert_eq!(
        plain,
        coloured
            .replace("\x1b[0m", "")
            .split(ESC)
            .enumerate()
            .map(|(i, p)| if i == 0 {
                p
            } else {
                p.split_once('m').unwrap().1
            })
            .collect::<String>(),
        "colour adds escapes and nothing else"
    );
    // verify: OK in green, FAILED in red; the error prefix too.
    let hex = "0".repeat(64);
    let o = isoforge_env(
        &["--color", "always", "verify", &s(&a), "--sha256", &hex],
        &[],
    );
    assert!(
        text(&o.stdout).contains("\x1b[1;31mFAILED"),
        "{}",
        text(&o.stdout)
    );
    assert!(
        text(&o.stderr).starts_with("\x1b[1;31misoforge:"),
        "{}",
        text(&o.stderr)
    );
    let o = isoforge_env(
        &["--color", "never", "verify", &s(&a), "--sha256", &hex],
        &[],
    );
    assert!(!text(&o.stdout).contains(ESC) && !text(&o.stderr).contains(ESC));
    let o = isoforge_env(&["--color", "always", "info", "/nonexistent.iso"], &[]);
    assert!(
        text(&o.stderr).starts_with("\x1b[1;31misoforge:"),
        "{}",
        text(&o.stderr)
    );
    // auto on a terminal: colour, unless NO_COLOR is set.
    if !have("script") {
        return;
    }
    let cmd = format!("{} diff {} {}", bin().display(), s(&a), s(&b));
    assert!(
        on_terminal(&cmd, &[]).contains(ESC),
        "{}",
        on_terminal(&cmd, &[])
    );
    assert!(!on_terminal(&cmd, &[("NO_COLOR", "1")]).contains(ESC));
    let never = format!("{} --color never diff {} {}", bin().display(), s(&a), s(&b));
    assert!(!on_terminal(&never, &[]).contains(ESC));
}

#[test]
fn error_lines_say_each_cause_once() {
    let t = tempdir();
    let (a, _) = two_images(t.path());
    let dir = t.path().join("adir");
    fs::create_dir(&dir).unwrap();
    let dest = t.path().join("dest");
    fs::create_dir(&dest).unwrap();
    fs::write(dest.join("same.txt"), b"mine").unwrap();
    let cut = t.path().join("cut.iso");
    fs::write(&cut, &fs::read(&a).unwrap()[..17 * 2048]).unwrap();
    let cases: Vec<Vec<String>> = vec![
        vec!["verify".into(), s(&dir), "--sha256".into(), "0".repeat(64)],
        vec!["checksum".into(), s(&dir)],
        vec!["info".into(), s(&dir)],
        vec!["ls".into(), "-r".into(), s(&cut)],
        vec!["extract".into(), s(&a), "-C".into(), s(&dest)],
        vec!["cat".into(), s(&a), "/nope".into()],
        vec![
            "ls".into(),
            "--view".into(),
            "joliet".into(),
            s(&two_plain(t.path())),
        ],
    ];
    for args in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = isoforge(&args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let e = text(&o.stderr);
        assert_eq!(e.lines().count(), 1, "{args:?}: {e}");
        let line = e.trim_end().strip_prefix("isoforge: ").unwrap();
        // No part of the message repeats another.
        let parts: Vec<&str> = line.split(": ").collect();
        for (i, p) in parts.iter().enumerate() {
            for q in &parts[i + 1..] {
                assert!(
                    !(p.len() > 3 && q.contains(p)),
                    "{args:?}: repeated {p:?} in {e}"
                );
            }
        }
        assert!(!e.contains("os error 21): Is a directory"), "{e}");
    }
    // A directory is called a directory.
    let e = text(&isoforge(&["checksum", &s(&dir)]).stderr);
    assert!(e.contains("is a directory"), "{e}");
    // The flag to use comes from the command line, once.
    let e = text(&isoforge(&["extract", &s(&a), "-C", &s(&dest)]).stderr);
    assert_eq!(e.matches("--overwrite").count(), 1, "{e}");
    let e = text(&isoforge(&["ls", "--view", "rockridge", &s(&two_plain(t.path()))]).stderr);
    assert!(e.contains("no Rock Ridge extensions; try --view"), "{e}");
}

/// An image without Rock Ridge or Joliet.
fn two_plain(d: &Path) -> PathBuf {
    let src = d.join("plain");
    fs::create_dir_all(&src).unwrap();
    fs::write(src.join("F.TXT"), b"x").unwrap();
    let img = d.join("plain.iso");
    isoforge_ok(&[
        "create",
        "-q",
        "--no-rock-ridge",
        "--no-joliet",
        "-o",
        &s(&img),
        &s(&src),
    ]);
    img
}

#[test]
fn ls_capital_r_is_recursive() {
    let t = tempdir();
    let (a, _) = two_images(t.path());
    let lower = isoforge_ok(&["ls", "-r", &s(&a)]).stdout;
    let upper = isoforge_ok(&["ls", "-R", &s(&a)]).stdout;
    assert_eq!(text(&upper), text(&lower));
    assert!(
        text(&upper).lines().any(|l| l == "/dir/f.txt"),
        "{}",
        text(&upper)
    );
    let long = isoforge_ok(&["ls", "-lR", &s(&a)]).stdout;
    assert!(text(&long).lines().any(|l| l.ends_with(" /dir/f.txt")));
}

#[test]
fn checksum_lines_check_with_the_sum_tools() {
    let t = tempdir();
    let d = t.path();
    let (a, b) = two_images(d);
    fs::write(d.join("weird name.bin"), bytes(9, 100_000)).unwrap();
    for (algo, tool) in [
        ("sha256", "sha256sum"),
        ("md5", "md5sum"),
        ("sha1", "sha1sum"),
        ("sha512", "sha512sum"),
    ] {
        if !have(tool) {
            return;
        }
        let o = Command::new(bin())
            .args([
                "checksum",
                "--algo",
                algo,
                "a.iso",
                "b.iso",
                "weird name.bin",
            ])
            .current_dir(d)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
        assert_eq!(text(&o.stdout).lines().count(), 3, "{}", text(&o.stdout));
        // The tool itself accepts every line and finds every file good.
        let mut check = Command::new(tool)
            .args(["-c", "--strict", "-"])
            .current_dir(d)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        check.stdin.take().unwrap().write_all(&o.stdout).unwrap();
        let c = check.wait_with_output().unwrap();
        assert!(c.status.success(), "{tool} -c: {}", text(&c.stdout));
        assert_eq!(
            text(&c.stdout).matches(": OK").count(),
            3,
            "{}",
            text(&c.stdout)
        );
        // Standard input, as `-`: exactly what the tool prints for it.
        let data = fs::read(&b).unwrap();
        let pipe = |cmd: &mut Command| {
            let mut p = cmd
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            let mut i = p.stdin.take().unwrap();
            let data = data.clone();
            let w = std::thread::spawn(move || i.write_all(&data));
            let out = p.wait_with_output().unwrap();
            w.join().unwrap().unwrap();
            text(&out.stdout)
        };
        assert_eq!(
            pipe(Command::new(bin()).args(["checksum", "--algo", algo, "-"])),
            pipe(&mut Command::new(tool))
        );
    }
    // Every algorithm of every image in one call: image by image.
    let o = isoforge_ok(&["checksum", "--algo", "md5,sha1", &s(&a), &s(&b)]);
    let lines: Vec<String> = text(&o.stdout).lines().map(String::from).collect();
    assert_eq!(lines.len(), 4);
    assert!(lines[0].ends_with("a.iso") && lines[1].ends_with("a.iso"));
    assert_eq!(lines[0].split_whitespace().next().unwrap().len(), 32);
    assert_eq!(lines[1].split_whitespace().next().unwrap().len(), 40);
    assert!(lines[3].ends_with("b.iso"));
    // Standard input can be read once.
    assert_eq!(isoforge(&["checksum", "-", "-"]).status.code(), Some(2));
}

#[test]
fn completions_and_manual_page_come_from_the_parser() {
    let t = tempdir();
    let script = t.path().join("isoforge.bash");
    fs::write(&script, isoforge_ok(&["completions", "bash"]).stdout).unwrap();
    run(Command::new("bash").arg("-n").arg(&script));
    let body = fs::read_to_string(&script).unwrap();
    // Generated from the same definitions: subcommands and their flags.
    for word in [
        "implant-md5",
        "--volume-id",
        "--ignore-layout",
        "--implanted-md5",
    ] {
        assert!(body.contains(word), "{word}");
    }
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let o = isoforge_ok(&["completions", shell]);
        assert!(text(&o.stdout).contains("checksum"), "{shell}");
    }
    // zsh is not an oracle the suite requires: checked when present.
    let zsh = Command::new("zsh").arg("--version").output().is_ok();
    if !zsh {
        eprintln!("skipping the zsh syntax check: zsh is not installed");
    }
    if zsh {
        let z = t.path().join("_isoforge");
        fs::write(&z, isoforge_ok(&["completions", "zsh"]).stdout).unwrap();
        run(Command::new("zsh").arg("-n").arg(&z));
    }
    let page = t.path().join("isoforge.1");
    fs::write(&page, isoforge_ok(&["man"]).stdout).unwrap();
    let roff = fs::read_to_string(&page).unwrap();
    for word in ["ISOFORGE CREATE", "volume\\-id", "EXAMPLES"] {
        assert!(roff.contains(word), "{word}");
    }
    if have("groff") {
        // -ww: every warning; -z: no output. Nothing may be reported.
        let o = Command::new("groff")
            .args(["-man", "-Tutf8", "-ww", "-z"])
            .arg(&page)
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{}",
            text(&o.stderr)
        );
    }
    if have("man") {
        let o = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANWIDTH", "80")
            .env_remove("MAN_KEEP_FORMATTING")
            .output()
            .unwrap();
        assert!(
            o.status.success() && o.stderr.is_empty(),
            "{}",
            text(&o.stderr)
        );
        let shown = text(&o.stdout);
        assert!(shown.contains("isoforge verify"), "{shown}");
    }
    // The top-level help: what the tool is, and three examples.
    let help = text(&isoforge_ok(&["--help"]).stdout);
    let first = help.lines().next().unwrap();
    assert!(first.contains("ISO 9660") && first.len() <= 80, "{first}");
    let examples: Vec<&str> = help
        .lines()
        .skip_while(|l| *l != "Examples:")
        .skip(1)
        .filter(|l| l.trim_start().starts_with("isoforge "))
        .collect();
    assert_eq!(examples.len(), 3, "{help}");
}
