"""Makes the OpenCV references that tests/preprocess.rs compares nasview's image decoding and resize against.

Run from the project root with the set-up venv: `.venv/bin/python tests/data/make_opencv_refs.py`.
Outputs are lossless PNGs of cv2.resize(..., INTER_LINEAR) on the bundled photos and a synthetic
image, at the sizes each model family's letterbox asks for (and some odd ones), and
`jpeg_rgb.sha256`: the SHA-256 of the RGB pixels cv2.imread decodes from each bundled JPEG (the full
pictures would be megabytes). When PIL is importable (super-gradients reads photos with it), its
pixels are checked to be the same bytes first.
"""
import glob
import hashlib

import cv2
import numpy as np

OUT = "tests/data/opencv"


def jpeg_hashes():
    try:
        from PIL import Image, features
    except ImportError:
        Image = None
        print("PIL not importable here: cv2.imread only")
    lines = []
    for path in sorted(glob.glob("assets/photos/*.jpg")):
        rgb = np.ascontiguousarray(cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB))
        if Image is not None:
            pil = np.asarray(Image.open(path).convert("RGB"))
            differ = int((pil != rgb).sum())
            if differ:
                raise SystemExit(f"{path}: PIL and cv2.imread differ in {differ} bytes; which is the reference?")
        h, w = rgb.shape[:2]
        lines.append(f"{hashlib.sha256(rgb.tobytes()).hexdigest()}  {path.split('/')[-1]} {w}x{h}\n")
    with open(f"{OUT}/jpeg_rgb.sha256", "w") as f:
        f.writelines(lines)
    if Image is not None:
        print("PIL", Image.__version__, "libjpeg-turbo", features.version("libjpeg_turbo"), "agrees with cv2.imread")


def synthetic(w, h):
    # A deterministic pattern with edges and gradients in every channel.
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([(x * 37 + y * 11) % 256, (x * x + 3 * y) % 256, ((x ^ y) * 29) % 256], axis=-1)
    return img.astype(np.uint8)


def main():
    import os

    os.makedirs(OUT, exist_ok=True)
    cases = [
        ("assets/photos/chelsea.png", 636, 423),  # YOLO-NAS: 451x300 -> longest side 636
        ("assets/photos/chelsea.png", 640, 426),  # Ultralytics: fit 640
        ("assets/photos/astronaut.png", 317, 317),  # downscale by 1.6
        ("assets/photos/astronaut.png", 636, 636),  # upscale
    ]
    for path, w, h in cases:
        rgb = cv2.cvtColor(cv2.imread(path, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        out = cv2.resize(rgb, (w, h), interpolation=cv2.INTER_LINEAR)
        name = os.path.splitext(os.path.basename(path))[0]
        cv2.imwrite(f"{OUT}/{name}_{w}x{h}.png", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    src = synthetic(97, 61)
    cv2.imwrite(f"{OUT}/synthetic_97x61.png", cv2.cvtColor(src, cv2.COLOR_RGB2BGR))
    for w, h in [(40, 25), (194, 122), (13, 200), (96, 60), (97, 61)]:
        out = cv2.resize(src, (w, h), interpolation=cv2.INTER_LINEAR)
        cv2.imwrite(f"{OUT}/synthetic_to_{w}x{h}.png", cv2.cvtColor(out, cv2.COLOR_RGB2BGR))
    jpeg_hashes()
    print("cv2", cv2.__version__)


if __name__ == "__main__":
    main()
