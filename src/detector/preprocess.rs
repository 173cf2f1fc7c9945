//! Letterbox geometry and an OpenCV-exact bilinear resize: frame pixels -> model input (inference thread).

/// How a model family was trained to see a frame: its resize target and padding rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LetterboxRule {
    /// super-gradients `predict` for YOLO-NAS: longest side to `input - 4` (636 for 640), centre pad.
    YoloNas,
    /// Ultralytics `LetterBox`: scale to fit the input, centre pad.
    Ultralytics,
}

/// Grey used by both families for padding (and by OpenCV's `copyMakeBorder` in their code).
pub const PAD_VALUE: u8 = 114;

/// Where a frame lands inside the model input. Computed once per frame size, it maps both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Letterbox {
    pub frame_w: u32,
    pub frame_h: u32,
    /// Model input pixels per frame pixel.
    pub scale: f64,
    /// Size of the resized frame inside the model input.
    pub resized_w: u32,
    pub resized_h: u32,
    pub pad_left: u32,
    pub pad_top: u32,
    pub input_w: u32,
    pub input_h: u32,
}

impl Letterbox {
    pub fn new(rule: LetterboxRule, frame_w: u32, frame_h: u32, input_w: u32, input_h: u32) -> Self {
        // super-gradients rescales to 636 inside 640 (its `DetectionLongestMaxSizeRescale((636, 636))`).
        let (target_w, target_h) = match rule {
            LetterboxRule::YoloNas => (input_w.saturating_sub(4).max(1), input_h.saturating_sub(4).max(1)),
            LetterboxRule::Ultralytics => (input_w, input_h),
        };
        let scale = (target_h as f64 / frame_h as f64).min(target_w as f64 / frame_w as f64);
        // Both projects round with Python's `round` (ties to even).
        let resized_w = ((frame_w as f64 * scale).round_ties_even() as u32).clamp(1, input_w);
        let resized_h = ((frame_h as f64 * scale).round_ties_even() as u32).clamp(1, input_h);
        // super-gradients: `pad // 2`; Ultralytics: `round(pad / 2 - 0.1)`; the same for whole pads.
        let pad_left = (input_w - resized_w) / 2;
        let pad_top = (input_h - resized_h) / 2;
        Letterbox { frame_w, frame_h, scale, resized_w, resized_h, pad_left, pad_top, input_w, input_h }
    }

    /// A point in model-input pixels mapped to frame pixels (not clipped).
    pub fn frame_from_model(&self, x: f32, y: f32) -> (f32, f32) {
        let s = self.scale as f32;
        ((x - self.pad_left as f32) / s, (y - self.pad_top as f32) / s)
    }

    /// A point in frame pixels mapped to model-input pixels.
    pub fn model_from_frame(&self, x: f32, y: f32) -> (f32, f32) {
        let s = self.scale as f32;
        (x * s + self.pad_left as f32, y * s + self.pad_top as f32)
    }

    /// A model-space box `[x1, y1, x2, y2]` in frame pixels, not clipped: NMS runs on these, as
    /// super-gradients' does, and clipping comes last ([`clip_box`]).
    pub fn box_from_model(&self, b: [f32; 4]) -> [f32; 4] {
        let (x1, y1) = self.frame_from_model(b[0], b[1]);
        let (x2, y2) = self.frame_from_model(b[2], b[3]);
        [x1, y1, x2, y2]
    }
}

/// A box clipped to a `width` x `height` frame.
pub fn clip_box(b: [f32; 4], width: u32, height: u32) -> [f32; 4] {
    let (w, h) = (width as f32, height as f32);
    [b[0].clamp(0.0, w), b[1].clamp(0.0, h), b[2].clamp(0.0, w), b[3].clamp(0.0, h)]
}

/// Fixed-point scale of OpenCV's bilinear weights (`INTER_RESIZE_COEF_BITS` = 11).
const COEF_SCALE: f32 = 2048.0;

/// One destination column (or row) of a bilinear resize: two source taps and their weights.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Tap {
    i0: usize,
    i1: usize,
    w0: i32,
    w1: i32,
}

/// Taps as OpenCV's `resize(INTER_LINEAR)` computes them: half-pixel centres, float `fx`, weights
/// rounded to 11-bit fixed point. At the edges OpenCV clamps columns (`fx = 0`) but only the row
/// *indices* (the row weights stay as computed), so the two axes differ there.
fn taps(src_len: usize, dst_len: usize, axis: Axis) -> Vec<Tap> {
    // OpenCV stores inv_scale = dst / src and uses scale = 1 / inv_scale; keep the same rounding.
    let scale = 1.0 / (dst_len as f64 / src_len as f64);
    let last = src_len as i64 - 1;
    (0..dst_len)
        .map(|d| {
            let mut f = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut s = f.floor() as i64;
            f -= s as f32;
            if axis == Axis::Columns {
                if s < 0 {
                    (f, s) = (0.0, 0);
                }
                if s >= last {
                    (f, s) = (0.0, last);
                }
            }
            Tap {
                i0: s.clamp(0, last) as usize,
                i1: (s + 1).clamp(0, last) as usize,
                // `saturate_cast<short>` rounds half to even.
                w0: ((1.0 - f) * COEF_SCALE).round_ties_even() as i32,
                w1: (f * COEF_SCALE).round_ties_even() as i32,
            }
        })
        .collect()
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Axis {
    Columns,
    Rows,
}

/// Reusable scratch of [`resize_rgb`]: one horizontally resized row per source row in use.
#[derive(Default)]
pub struct ResizeScratch {
    rows: Vec<i32>,
    row_of: [usize; 2],
}

/// Resizes packed RGB8 exactly as OpenCV's `cv2.resize(..., interpolation=cv2.INTER_LINEAR)`:
/// horizontal pass into 11-bit fixed point, vertical pass with OpenCV's shifts and rounding.
/// `dst` receives `dst_w * dst_h * 3` bytes written with row stride `dst_stride` (in bytes).
#[allow(clippy::too_many_arguments)] // mirrors cv::resize: two images with their sizes, plus scratch
pub fn resize_rgb(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    dst: &mut [u8],
    dst_w: usize,
    dst_h: usize,
    dst_stride: usize,
    scratch: &mut ResizeScratch,
) {
    const CN: usize = 3;
    assert!(src.len() >= src_w * src_h * CN && src_w > 0 && src_h > 0);
    assert!(dst_h == 0 || dst.len() >= (dst_h - 1) * dst_stride + dst_w * CN);
    let xt = taps(src_w, dst_w, Axis::Columns);
    let yt = taps(src_h, dst_h, Axis::Rows);
    let row_len = dst_w * CN;
    scratch.rows.resize(2 * row_len, 0);
    scratch.row_of = [usize::MAX, usize::MAX];

    let hresize = |sy: usize, out: &mut [i32]| {
        let row = &src[sy * src_w * CN..(sy + 1) * src_w * CN];
        for (dx, t) in xt.iter().enumerate() {
            for c in 0..CN {
                out[dx * CN + c] = row[t.i0 * CN + c] as i32 * t.w0 + row[t.i1 * CN + c] as i32 * t.w1;
            }
        }
    };

    for (dy, t) in yt.iter().enumerate() {
        // Keep the two horizontally resized rows this output row needs; reuse them when they repeat.
        for (k, sy) in [t.i0, t.i1].into_iter().enumerate() {
            if scratch.row_of[k] == sy {
                continue;
            }
            let other = 1 - k;
            let (a, b) = scratch.rows.split_at_mut(row_len);
            let (mine, theirs) = if k == 0 { (a, &*b) } else { (b, &*a) };
            if scratch.row_of[other] == sy {
                mine.copy_from_slice(theirs);
            } else {
                hresize(sy, mine);
            }
            scratch.row_of[k] = sy;
        }
        let (r0, r1) = scratch.rows.split_at(row_len);
        let out = &mut dst[dy * dst_stride..dy * dst_stride + row_len];
        for x in 0..row_len {
            // OpenCV's VResizeLinear<uchar, int, short>: ((b0*(S0>>4))>>16) + ((b1*(S1>>4))>>16), then (+2)>>2.
            let v = ((t.w0 * (r0[x] >> 4)) >> 16) + ((t.w1 * (r1[x] >> 4)) >> 16);
            out[x] = ((v + 2) >> 2).clamp(0, 255) as u8;
        }
    }
}

/// Reusable buffers of one model input: the letterboxed RGB8 canvas and the resize scratch.
#[derive(Default)]
pub struct Preprocessor {
    canvas: Vec<u8>,
    scratch: ResizeScratch,
}

impl Preprocessor {
    /// Letterboxes a packed RGB8 frame into the model input canvas (RGB8, `input_w * input_h * 3`).
    pub fn letterbox<'a>(&'a mut self, frame: &[u8], lb: &Letterbox) -> &'a [u8] {
        let (iw, ih) = (lb.input_w as usize, lb.input_h as usize);
        self.canvas.clear();
        self.canvas.resize(iw * ih * 3, PAD_VALUE);
        let offset = (lb.pad_top as usize * iw + lb.pad_left as usize) * 3;
        resize_rgb(
            frame,
            lb.frame_w as usize,
            lb.frame_h as usize,
            &mut self.canvas[offset..],
            lb.resized_w as usize,
            lb.resized_h as usize,
            iw * 3,
            &mut self.scratch,
        );
        &self.canvas
    }
}

/// Packed RGB8 (HWC) to planar float RGB scaled to 0..1 (NCHW), into a reused buffer.
pub fn to_nchw_f32(canvas: &[u8], out: &mut Vec<f32>) {
    let plane = canvas.len() / 3;
    out.resize(canvas.len(), 0.0);
    let (r, rest) = out.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    for (i, px) in canvas.chunks_exact(3).enumerate() {
        r[i] = px[0] as f32 / 255.0;
        g[i] = px[1] as f32 / 255.0;
        b[i] = px[2] as f32 / 255.0;
    }
}

/// Packed RGB8 (HWC) to planar RGB8 (NCHW), for models that take uint8 and normalise inside.
pub fn to_nchw_u8(canvas: &[u8], out: &mut Vec<u8>) {
    let plane = canvas.len() / 3;
    out.resize(canvas.len(), 0);
    for (i, px) in canvas.chunks_exact(3).enumerate() {
        for c in 0..3 {
            out[c * plane + i] = px[c];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ultralytics_letterbox_of_1280x720() {
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 1280, 720, 640, 640);
        assert_eq!(lb.scale, 0.5);
        assert_eq!((lb.resized_w, lb.resized_h), (640, 360));
        assert_eq!((lb.pad_left, lb.pad_top), (0, 140));
        assert_eq!(lb.frame_from_model(320.0, 140.0), (640.0, 0.0));
        assert_eq!(lb.model_from_frame(1280.0, 720.0), (640.0, 500.0));
    }

    #[test]
    fn yolo_nas_letterbox_of_1280x720() {
        // 636 / 1280 = 0.496875; 720 * 0.496875 = 357.75 -> 358; pads (640-636)/2 = 2, (640-358)/2 = 141.
        let lb = Letterbox::new(LetterboxRule::YoloNas, 1280, 720, 640, 640);
        assert_eq!(lb.scale, 0.496875);
        assert_eq!((lb.resized_w, lb.resized_h), (636, 358));
        assert_eq!((lb.pad_left, lb.pad_top), (2, 141));
        let (x, y) = lb.frame_from_model(2.0 + 636.0, 141.0 + 357.75);
        assert!((x - 1280.0).abs() < 1e-3 && (y - 720.0).abs() < 1e-3);
    }

    #[test]
    fn letterbox_round_trips_and_clips() {
        for rule in [LetterboxRule::YoloNas, LetterboxRule::Ultralytics] {
            let lb = Letterbox::new(rule, 451, 300, 640, 640);
            let (mx, my) = lb.model_from_frame(100.0, 200.0);
            let (fx, fy) = lb.frame_from_model(mx, my);
            assert!((fx - 100.0).abs() < 1e-3 && (fy - 200.0).abs() < 1e-3);
            // A box running into the padding is clipped to the frame.
            assert_eq!(clip_box(lb.box_from_model([-50.0, -50.0, 700.0, 700.0]), 451, 300), [0.0, 0.0, 451.0, 300.0]);
        }
    }

    #[test]
    fn python_rounding_ties_to_even() {
        // 636 * 5 / 8 = 397.5 rounds to 398 (even) with Python's round, not 397.
        let lb = Letterbox::new(LetterboxRule::YoloNas, 8, 5, 640, 640);
        assert_eq!((lb.resized_w, lb.resized_h), (636, 398));
    }

    #[test]
    fn halving_averages_2x2_blocks() {
        // OpenCV turns a 2x downscale into INTER_AREA; the fixed-point bilinear gives the same (a+b+c+d+2)>>2.
        let src: Vec<u8> = [10u8, 20, 30, 40].iter().flat_map(|&v| [v, v, v]).collect();
        let mut dst = vec![0u8; 3];
        resize_rgb(&src, 2, 2, &mut dst, 1, 1, 3, &mut ResizeScratch::default());
        assert_eq!(dst, vec![25, 25, 25]);
    }

    #[test]
    fn same_size_is_a_copy() {
        let src: Vec<u8> = (0..4 * 3 * 3).map(|v| (v * 7 % 256) as u8).collect();
        let mut dst = vec![0u8; src.len()];
        resize_rgb(&src, 4, 3, &mut dst, 4, 3, 12, &mut ResizeScratch::default());
        assert_eq!(dst, src);
    }

    #[test]
    fn planar_conversion() {
        let canvas = [255u8, 0, 51, 0, 255, 102];
        let mut f = Vec::new();
        to_nchw_f32(&canvas, &mut f);
        assert_eq!(f, vec![1.0, 0.0, 0.0, 1.0, 0.2, 0.4]);
        let mut u = Vec::new();
        to_nchw_u8(&canvas, &mut u);
        assert_eq!(u, vec![255, 0, 0, 255, 51, 102]);
    }
}
