"""Makes the OpenCV reference resizes that tests/preprocess.rs compares nasview's resize against.

Run from the project root with the set-up venv: `.venv/bin/python tests/data/make_opencv_refs.py`.
Outputs are lossless PNGs of cv2.resize(..., INTER_LINEAR) on the bundled photos and a synthetic
image, at the sizes each model family's letterbox asks for (and some odd ones).
"""
import cv2
import numpy as np

OUT = "tests/data/opencv"


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
    print("cv2", cv2.__version__)


if __name__ == "__main__":
    main()
