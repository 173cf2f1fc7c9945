//! `tests/module_cycles.py` (run by `make lint`): src/ has no import cycle, and one made on purpose is found.

use std::path::Path;
use std::process::Command;

use crate::common::{root, scratch};

fn check(src: &Path) -> (i32, String) {
    let out = Command::new("python3")
        .arg(root().join("tests/module_cycles.py"))
        .arg(src)
        .output()
        .expect("python3 runs the cycle check");
    (out.status.code().unwrap_or(-1), String::from_utf8_lossy(&out.stdout).into_owned())
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[test]
fn src_has_no_import_cycle_and_a_planted_one_is_found() {
    let (code, out) = check(&root().join("src"));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("no cycle"), "{out}");

    // The drawing primitives reaching up into the tracker's drawing, which draws with them: a cycle of two.
    let dir = scratch("layers");
    let src = dir.join("src");
    copy_tree(&root().join("src"), &src);
    let canvas = src.join("canvas.rs");
    let text = std::fs::read_to_string(&canvas).unwrap();
    std::fs::write(
        &canvas,
        text.replacen("use std::cell::RefCell;", "use std::cell::RefCell;\nuse crate::track::draw::LINE;", 1),
    )
    .unwrap();
    let (code, out) = check(&src);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("canvas -> track::draw -> canvas"), "the cycle and its path: {out}");

    // Longer circles are named through every module: the loop's step contract reaching into the loop.
    copy_tree(&root().join("src"), &src);
    let step = src.join("step.rs");
    let text = std::fs::read_to_string(&step).unwrap();
    std::fs::write(&step, format!("{text}\nfn _up(_: crate::consumer::Ending) {{}}\n")).unwrap();
    let (code, out) = check(&src);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("consumer -> ") && out.contains("step"), "{out}");
}
