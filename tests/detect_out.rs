//! `detect --out`: never writes over an input, mirrors sub-folders so equal names stay apart, says where.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::common::{model, nasview, photo, scratch};

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

fn detect(args: &[&str]) -> (i32, String) {
    let mut all = vec!["detect", "--model"];
    let m = model("yolov12n_int8.onnx");
    all.push(m.to_str().unwrap());
    all.extend_from_slice(args);
    let out = nasview(&all);
    (out.status.code().unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn out_into_the_input_folder_leaves_every_input_byte_identical() {
    let dir = scratch("out-same");
    let photos = dir.join("photos");
    std::fs::create_dir(&photos).unwrap();
    for name in ["dog.jpg", "chelsea.png"] {
        std::fs::copy(photo(name), photos.join(name)).unwrap();
    }
    let before = snapshot(&dir);
    let p = photos.to_str().unwrap();
    let (code, err) = detect(&["--out", p, p]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("the annotated copies would replace them") && err.contains("--out"), "{err}");
    assert_eq!(snapshot(&dir), before, "nothing changed");
    // Also with --overwrite, and with the folder spelled another way.
    let other = format!("{p}/../photos/");
    let (code, _) = detect(&["--overwrite", "--out", &other, p]);
    assert_eq!(code, 2);
    assert_eq!(snapshot(&dir), before, "nothing changed");

    // The advice works: a folder inside the input folder; a second run numbers its copies.
    let annotated = photos.join("annotated");
    for run in 0..2 {
        let (code, err) = detect(&["--out", annotated.to_str().unwrap(), p]);
        assert_eq!(code, 0, "{err}");
        assert!(err.contains(&format!("wrote 2 annotated image(s) under {}", annotated.display())), "{err}");
        let dog = if run == 0 { "dog.jpg" } else { "dog-1.jpg" };
        assert_eq!(image::open(annotated.join(dog)).unwrap().width(), 768);
    }
    for (path, bytes) in &before {
        assert_eq!(&std::fs::read(path).unwrap(), bytes, "{} changed", path.display());
    }
}

#[test]
fn equal_names_in_two_folders_give_two_outputs() {
    let dir = scratch("out-mirror");
    for (sub, name) in [("a", "dog.jpg"), ("b", "kite.jpg")] {
        std::fs::create_dir(dir.join(sub)).unwrap();
        std::fs::copy(photo(name), dir.join(sub).join("x.jpg")).unwrap();
    }
    let out = dir.join("out");
    let (code, err) = detect(&[
        "--out",
        out.to_str().unwrap(),
        dir.join("a/x.jpg").to_str().unwrap(),
        dir.join("b/x.jpg").to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let a = image::open(out.join("a/x.jpg")).unwrap();
    let b = image::open(out.join("b/x.jpg")).unwrap();
    let size = |p: &str| image::image_dimensions(photo(p)).unwrap();
    assert_eq!(((a.width(), a.height()), (b.width(), b.height())), (size("dog.jpg"), size("kite.jpg")));
}
