"""Fetches the default model, YOLOv12n (COCO-80), from the crates.io package easy-yolo 0.1.3.

No YOLO-NAS weights can be downloaded here, so set-up uses the best COCO model that a package
registry carries. cargo downloads the package (a throwaway manifest in models/.cache), the zip inside
is checked against its SHA-256, and the ONNX file is written to models/yolov12n.onnx. Its weights are
AGPL-3.0 (see models/README.md): they are fetched, never committed.

Usage: python models/fetch_yolov12n.py [--out models/yolov12n.onnx]
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile

ZIP_SHA256 = "8dc4973ce4babcfb3389e455ba8c57af31a1f7e33f4a9c2b1e658cca33710206"
ONNX_SHA256 = "e548ab3a406227202334bf5a6623c9814ac6286ff04e68aeb4dc2357732d1a4f"
HERE = os.path.dirname(os.path.abspath(__file__))


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def package_dir():
    """Lets cargo download easy-yolo and tells where its sources landed."""
    cache = os.path.join(HERE, ".cache", "fetch-easy-yolo")
    os.makedirs(os.path.join(cache, "src"), exist_ok=True)
    with open(os.path.join(cache, "Cargo.toml"), "w") as f:
        f.write('[package]\nname = "fetch-easy-yolo"\nversion = "0.0.0"\nedition = "2021"\n\n'
                '[dependencies]\neasy-yolo = { version = "=0.1.3", default-features = false }\n\n[workspace]\n')
    with open(os.path.join(cache, "src", "lib.rs"), "w") as f:
        f.write("")
    manifest = os.path.join(cache, "Cargo.toml")
    try:
        subprocess.run(["cargo", "fetch", "--manifest-path", manifest], check=True)
        meta = subprocess.run(["cargo", "metadata", "--format-version", "1", "--manifest-path", manifest],
                              check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        sys.exit("fetch_yolov12n: cargo not found; install Rust (https://rustup.rs) and run `make setup` again")
    except subprocess.CalledProcessError as e:
        sys.exit(f"fetch_yolov12n: cargo could not download easy-yolo 0.1.3 from crates.io ({e}); "
                 "check the network and run `make setup` again")
    for pkg in json.loads(meta)["packages"]:
        if pkg["name"] == "easy-yolo":
            return os.path.dirname(pkg["manifest_path"])
    sys.exit("fetch_yolov12n: cargo metadata does not list easy-yolo; delete models/.cache and retry")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(HERE, "yolov12n.onnx"))
    args = ap.parse_args()
    if os.path.isfile(args.out) and sha256(args.out) == ONNX_SHA256:
        print(f"fetch_yolov12n: {args.out} is present and verified")
        return
    zpath = os.path.join(package_dir(), "yolov12n.onnx.zip")
    got = sha256(zpath)
    if got != ZIP_SHA256:
        sys.exit(f"fetch_yolov12n: {zpath} has SHA-256 {got}, expected {ZIP_SHA256}; refusing to use it")
    with zipfile.ZipFile(zpath) as z:
        data = z.read("yolov12n.onnx")
    if hashlib.sha256(data).hexdigest() != ONNX_SHA256:
        sys.exit("fetch_yolov12n: yolov12n.onnx inside the zip does not match its expected SHA-256")
    tmp = args.out + ".part"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, args.out)
    print(f"fetch_yolov12n: wrote {args.out} ({len(data) / 1e6:.1f} MB, SHA-256 verified; AGPL-3.0 weights, not committed)")


if __name__ == "__main__":
    main()
