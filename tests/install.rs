//! What an installed command-line tool brings: shell completions, man pages, and `make install` putting them and
//! the binary under PREFIX.

use std::process::Command;

use crate::common::{nasview, root, scratch};

#[test]
fn completions_complete_commands_and_options_in_every_shell() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let out = nasview(&["completions", shell]);
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", String::from_utf8_lossy(&out.stderr));
        let script = String::from_utf8_lossy(&out.stdout);
        for word in ["detect", "bench", "cameras", "source", "tiles", "overwrite"] {
            assert!(script.contains(word), "{shell} script lacks {word}");
        }
    }
    // bash really completes with it: `nasview de<TAB>` gives `detect`, `nasview detect --ov<TAB>` `--overwrite`.
    let dir = scratch("completions");
    let script = dir.join("nasview.bash");
    std::fs::write(&script, nasview(&["completions", "bash"]).stdout).unwrap();
    let complete = |words: &str| {
        let line = format!(
            "source {}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); \
             _nasview nasview \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; echo \"${{COMPREPLY[*]}}\"",
            script.display()
        );
        String::from_utf8_lossy(&Command::new("bash").args(["-c", &line]).output().unwrap().stdout).trim().to_string()
    };
    assert_eq!(complete("nasview de"), "detect");
    assert_eq!(complete("nasview detect --ov"), "--overwrite");
    // An unknown shell is refused with the list.
    let out = nasview(&["completions", "tcsh"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("possible values: bash"));
}

#[test]
fn make_install_puts_binary_man_pages_and_completions_under_prefix() {
    let dir = scratch("make-install");
    let prefix = dir.join("usr");
    // `install-files` is `make install` after its `cargo build`: the binary under test is the one installed.
    let out = Command::new("make")
        .current_dir(root())
        .args(["--no-print-directory", "install-files"])
        .arg(format!("BIN={}", env!("CARGO_BIN_EXE_nasview")))
        .arg(format!("GEN={}", dir.join("generated").display()))
        .arg(format!("PREFIX={}", prefix.display()))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for file in [
        "bin/nasview",
        "share/man/man1/nasview.1",
        "share/man/man1/nasview-detect.1",
        "share/man/man1/nasview-bench.1",
        "share/bash-completion/completions/nasview",
        "share/zsh/site-functions/_nasview",
        "share/fish/vendor_completions.d/nasview.fish",
        "share/nasview/completions/nasview.ps1",
    ] {
        assert!(prefix.join(file).is_file(), "{file} not installed");
    }
    let version = Command::new(prefix.join("bin/nasview")).arg("--version").output().unwrap();
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("nasview "));
    // The man page renders, with the options and the commands.
    let man = Command::new("man").args(["-l", "-P", "cat"]).arg(prefix.join("share/man/man1/nasview.1")).output();
    if let Some(man) = man.ok().filter(|m| m.status.success()) {
        let page = String::from_utf8_lossy(&man.stdout);
        assert!(page.contains("--record") && page.contains("detect"), "{page}");
    } else {
        let page = std::fs::read_to_string(prefix.join("share/man/man1/nasview.1")).unwrap();
        assert!(page.starts_with(".ie") || page.contains(".TH nasview"), "{page}");
    }
}
