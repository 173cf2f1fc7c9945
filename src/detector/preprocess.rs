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
    pub rule: LetterboxRule,
    pub frame_w: u32,
    pub frame_h: u32,
    /// Model input pixels per frame pixel, as the resize was computed (one factor for both axes).
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
    /// Fits the frame inside a `input_w` x `input_h` model input (square or not), centred, padded.
    pub fn new(rule: LetterboxRule, frame_w: u32, frame_h: u32, input_w: u32, input_h: u32) -> Self {
        // super-gradients rescales to 636 inside 640 (its `DetectionLongestMaxSizeRescale((636, 636))`); for a
        // W x H export the same processing is `(H-4, W-4)` inside `(H, W)`.
        let (target_w, target_h) = match rule {
            LetterboxRule::YoloNas => (input_w.saturating_sub(4).max(1), input_h.saturating_sub(4).max(1)),
            LetterboxRule::Ultralytics => (input_w, input_h),
        };
        let (frame_w, frame_h) = (frame_w.max(1), frame_h.max(1));
        let scale = (target_h as f64 / frame_h as f64).min(target_w as f64 / frame_w as f64);
        // Both projects round with Python's `round` (ties to even).
        let resized_w = ((frame_w as f64 * scale).round_ties_even() as u32).clamp(1, input_w);
        let resized_h = ((frame_h as f64 * scale).round_ties_even() as u32).clamp(1, input_h);
        // super-gradients: `pad // 2`; Ultralytics: `round(pad / 2 - 0.1)`; the same for whole pads.
        let pad_left = (input_w - resized_w) / 2;
        let pad_top = (input_h - resized_h) / 2;
        Letterbox { rule, frame_w, frame_h, scale, resized_w, resized_h, pad_left, pad_top, input_w, input_h }
    }

    /// Model pixels per frame pixel on each axis, as the family's reference maps boxes back:
    /// Ultralytics' `scale_boxes` (8.4) divides by the gains of the *rounded* resize, `new_w / w` and
    /// `new_h / h`; super-gradients multiplies by `1 / scale` on both axes.
    fn gains(&self) -> (f32, f32) {
        match self.rule {
            LetterboxRule::Ultralytics => (
                (self.resized_w as f64 / self.frame_w as f64) as f32,
                (self.resized_h as f64 / self.frame_h as f64) as f32,
            ),
            LetterboxRule::YoloNas => (self.scale as f32, self.scale as f32),
        }
    }

    /// A point in model-input pixels mapped to frame pixels (not clipped), with the reference's own
    /// float32 arithmetic: Ultralytics `(x - pad) / gain`; super-gradients `(x - pad) * float32(1 / scale)`
    /// (its `_rescale_bboxes` multiplies float32 boxes by the inverse factors).
    pub fn frame_from_model(&self, x: f32, y: f32) -> (f32, f32) {
        let (x, y) = (x - self.pad_left as f32, y - self.pad_top as f32);
        match self.rule {
            LetterboxRule::Ultralytics => {
                let (gx, gy) = self.gains();
                (x / gx, y / gy)
            }
            LetterboxRule::YoloNas => {
                let inv = (1.0 / self.scale) as f32;
                (x * inv, y * inv)
            }
        }
    }

    /// A point in frame pixels mapped to model-input pixels (the inverse of [`Self::frame_from_model`]).
    pub fn model_from_frame(&self, x: f32, y: f32) -> (f32, f32) {
        let (gx, gy) = self.gains();
        (x * gx + self.pad_left as f32, y * gy + self.pad_top as f32)
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

/// Reusable scratch of [`resize_rgb`]: the taps of the last sizes, two horizontally resized rows and one
/// output row. Rows are RGBX (four lanes a pixel, the fourth unused), so each pixel is one SIMD lane group.
#[derive(Default)]
pub struct ResizeScratch {
    /// Two horizontally resized rows (RGBX), already shifted right by 4 as the vertical pass uses them, so
    /// they fit in i16 (at most 255 * 2049 >> 4 = 32655).
    rows: [Vec<i16>; 2],
    row_of: [usize; 2],
    /// (source length, destination length) the taps were made for.
    x_key: (usize, usize),
    y_key: (usize, usize),
    /// Per destination column: byte offset of its left source pixel and the two weights.
    xt: Vec<XTap>,
    yt: Vec<Tap>,
    /// The end of a source row with zeros after it, so every column reads 8 whole bytes.
    padded: Vec<u8>,
    /// One output row, RGBX.
    out_row: Vec<u8>,
}

/// A destination column of the horizontal pass: its left source pixel's byte offset and the weights of it
/// and its right neighbour, laid out as the SIMD pass multiplies them: `(w0, w1)` for R, G and B, then 0.
#[derive(Clone, Copy, Debug, PartialEq)]
struct XTap {
    at: u32,
    w: [i16; 8],
}

impl XTap {
    fn new(at: usize, w0: i32, w1: i32) -> XTap {
        let (w0, w1) = (w0 as i16, w1 as i16);
        XTap { at: at as u32, w: [w0, w1, w0, w1, w0, w1, 0, 0] }
    }
}

/// Bytes each column reads from its left source pixel on: both pixels (6) rounded up to one 8-byte load.
const READ: usize = 8;

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
    assert!(dst_h == 0 || dst.len() >= (dst_h - 1) * dst_stride + dst_w * 3);
    resize_rows(src, src_w, src_h, dst_w, dst_h, 0..dst_h, scratch, |dy, rgbx| {
        let row = &mut dst[dy * dst_stride..dy * dst_stride + dst_w * 3];
        for (o, p) in row.chunks_exact_mut(3).zip(rgbx.chunks_exact(4)) {
            o.copy_from_slice(&p[..3]);
        }
    });
}

/// The resize of [`resize_rgb`] for the destination rows `rows` only, handing each finished output row
/// (RGBX: `dst_w * 4` bytes, the fourth of each pixel unused) to `sink` with its row index, so a caller can
/// write it wherever it likes (e.g. into tensor planes) and split the rows between threads.
#[allow(clippy::too_many_arguments)] // the resize's sizes, the rows wanted, scratch and the sink
pub fn resize_rows(
    src: &[u8],
    src_w: usize,
    src_h: usize,
    dst_w: usize,
    dst_h: usize,
    rows: std::ops::Range<usize>,
    scratch: &mut ResizeScratch,
    mut sink: impl FnMut(usize, &[u8]),
) {
    const CN: usize = 3;
    assert!(src.len() >= src_w * src_h * CN && src_w > 0 && src_h > 0);
    // Taps depend only on the sizes: made once per size, not per frame.
    if scratch.x_key != (src_w, dst_w) || scratch.xt.len() != dst_w {
        // Where the right tap is not the next pixel (the clamped edges), its weight is 0, so reading the
        // next pixel (or padding) instead changes nothing.
        let xt = taps(src_w, dst_w, Axis::Columns);
        debug_assert!(xt.iter().all(|t| t.i1 == t.i0 + 1 || t.w1 == 0));
        scratch.xt = xt.iter().map(|t| XTap::new(t.i0 * CN, t.w0, t.w1)).collect();
        scratch.x_key = (src_w, dst_w);
    }
    if scratch.y_key != (src_h, dst_h) || scratch.yt.len() != dst_h {
        scratch.yt = taps(src_h, dst_h, Axis::Rows);
        scratch.y_key = (src_h, dst_h);
    }
    let row_len = dst_w * 4;
    let src_len = src_w * CN;
    scratch.rows.iter_mut().for_each(|r| r.resize(row_len, 0));
    scratch.out_row.resize(row_len, 0);
    scratch.row_of = [usize::MAX, usize::MAX];
    let wanted = rows.start.min(dst_h)..rows.end.min(dst_h);
    let ResizeScratch { rows, row_of, xt, yt, padded, out_row, .. } = scratch;
    // Columns whose 8-byte read stays inside the source row read it in place; the last few (at most three
    // pixels' worth) read a padded copy of the row's end. Offsets grow with the column, so it is a prefix.
    let in_place = xt.partition_point(|t| t.at as usize + READ <= src_len);
    let tail_from = xt.get(in_place).map_or(src_len, |t| t.at as usize);
    let simd = simd::available();

    let mut hresize = |sy: usize, out: &mut [i16]| {
        let row = &src[sy * src_len..(sy + 1) * src_len];
        let (head, tail) = out.split_at_mut(in_place * 4);
        if simd {
            simd::hresize(row, &xt[..in_place], 0, head);
        } else {
            hresize_scalar(row, &xt[..in_place], 0, head);
        }
        padded.clear();
        padded.extend_from_slice(&row[tail_from..]);
        padded.resize(padded.len() + READ, 0);
        hresize_scalar(padded, &xt[in_place..], tail_from, tail);
    };

    for (dy, t) in yt.iter().enumerate().take(wanted.end).skip(wanted.start) {
        // Keep the two horizontally resized rows this output row needs; reuse them when they repeat. Going
        // down, the lower row of one output row is often the upper row of the next: the two buffers swap
        // places instead of copying the row.
        if row_of[0] != t.i0 && row_of[1] == t.i0 {
            rows.swap(0, 1);
            row_of.swap(0, 1);
        }
        let [r0, r1] = rows;
        if row_of[0] != t.i0 {
            hresize(t.i0, r0);
            row_of[0] = t.i0;
        }
        if row_of[1] != t.i1 {
            if t.i1 == t.i0 {
                r1.copy_from_slice(r0); // the clamped first and last rows
            } else {
                hresize(t.i1, r1);
            }
            row_of[1] = t.i1;
        }
        vresize(r0, r1, t.w0 as i16, t.w1 as i16, out_row);
        sink(dy, out_row);
    }
}

/// One source row to one RGBX row of 11-bit fixed point, shifted right by 4 (OpenCV's `HResizeLinear` and
/// the first shift of its `VResizeLinear`). `row[at - base..]` holds at least [`READ`] bytes for every tap.
fn hresize_scalar(row: &[u8], xt: &[XTap], base: usize, out: &mut [i16]) {
    for (o, t) in out.chunks_exact_mut(4).zip(xt) {
        let p = &row[t.at as usize - base..][..READ];
        let (w0, w1) = (t.w[0] as i32, t.w[1] as i32);
        for c in 0..3 {
            o[c] = ((p[c] as i32 * w0 + p[c + 3] as i32 * w1) >> 4) as i16;
        }
    }
}

/// The vertical pass, OpenCV's `VResizeLinear<uchar, int, short>`: `((b0 * S0) >> 16) + ((b1 * S1) >> 16)`
/// on rows already shifted by 4, then `(v + 2) >> 2`, saturated to a byte. Each `(w * s) >> 16` is the high
/// half of a 16-bit product, so the compiler makes it one `pmulhw` per 8 values.
fn vresize(r0: &[i16], r1: &[i16], w0: i16, w1: i16, out: &mut [u8]) {
    let done = simd::vresize(r0, r1, w0, w1, out);
    for ((o, &a), &b) in out.iter_mut().zip(r0).zip(r1).skip(done) {
        let v = ((w0 as i32 * a as i32) >> 16) + ((w1 as i32 * b as i32) >> 16);
        *o = ((v + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// The horizontal pass with SSE4.1 on x86-64 (checked at run time): every column's two source pixels come in
/// one 8-byte load, one shuffle pairs each channel with its neighbour and one `pmaddwd` weighs all three.
/// The scalar pass costs ~20 instructions a pixel: with this one the letterbox of a demo frame went from 1.5 to
/// 0.9 ms on one thread (`cargo bench --bench overhead`).
#[cfg(target_arch = "x86_64")]
mod simd {
    use super::XTap;
    use std::arch::x86_64::*;

    pub fn available() -> bool {
        is_x86_feature_detected!("sse4.1") && is_x86_feature_detected!("ssse3")
    }

    /// [`super::hresize_scalar`] for columns whose [`super::READ`] bytes lie inside `row` (checked per column
    /// by slicing, as a load's bounds); the caller checks [`available`] first.
    pub fn hresize(row: &[u8], xt: &[XTap], base: usize, out: &mut [i16]) {
        assert!(available());
        // SAFETY: the CPU has SSE4.1 and SSSE3 (asserted above); the function itself only loads from and
        // stores to slices of the length it reads and writes.
        unsafe { hresize_sse41(row, xt, base, out) }
    }

    #[target_feature(enable = "sse4.1,ssse3")]
    fn hresize_sse41(row: &[u8], xt: &[XTap], base: usize, out: &mut [i16]) {
        // Bytes p0..p5 of a column (R G B of the left pixel, then of the right) as i16 pairs
        // (p0, p3), (p1, p4), (p2, p5), (0, 0): pmaddwd with (w0, w1) pairs gives R, G, B, 0 in i32.
        let pairs = _mm_setr_epi8(0, -1, 3, -1, 1, -1, 4, -1, 2, -1, 5, -1, -1, -1, -1, -1);
        let column = |t: &XTap| {
            let p = &row[t.at as usize - base..][..super::READ];
            // SAFETY: `p` holds the 8 bytes loaded.
            let p = unsafe { _mm_loadl_epi64(p.as_ptr() as *const __m128i) };
            // SAFETY: `t.w` holds the 8 i16 loaded.
            let w = unsafe { _mm_loadu_si128(t.w.as_ptr() as *const __m128i) };
            _mm_srai_epi32::<4>(_mm_madd_epi16(_mm_shuffle_epi8(p, pairs), w))
        };
        let mut cols = xt.chunks_exact(2);
        let mut outs = out.chunks_exact_mut(8);
        for (two, o) in (&mut cols).zip(&mut outs) {
            // Two columns packed to 8 i16 (values fit: at most 32655).
            let v = _mm_packs_epi32(column(&two[0]), column(&two[1]));
            // SAFETY: `o` holds the 8 i16 (16 bytes) stored.
            unsafe { _mm_storeu_si128(o.as_mut_ptr() as *mut __m128i, v) };
        }
        let done = (xt.len() / 2) * 2;
        if let ([t], Some(o)) = (cols.remainder(), out.get_mut(done * 4..done * 4 + 4)) {
            let v = _mm_packs_epi32(column(t), _mm_setzero_si128());
            let mut four = [0i16; 8];
            // SAFETY: `four` holds the 16 bytes stored.
            unsafe { _mm_storeu_si128(four.as_mut_ptr() as *mut __m128i, v) };
            o.copy_from_slice(&four[..4]);
        }
    }

    /// [`super::vresize`] on whole runs of 16 values with SSE2 (every x86-64 has it): `(w * s) >> 16` is
    /// `pmulhw`, eight values an instruction (the compiler widened it to 32-bit products instead). Returns
    /// how many values it wrote; the caller does the rest.
    pub fn vresize(r0: &[i16], r1: &[i16], w0: i16, w1: i16, out: &mut [u8]) -> usize {
        // SAFETY: every x86-64 CPU has SSE2; the function only loads from and stores to slices of the length
        // it reads and writes.
        unsafe { vresize_sse2(r0, r1, w0, w1, out) }
    }

    #[target_feature(enable = "sse2")]
    fn vresize_sse2(r0: &[i16], r1: &[i16], w0: i16, w1: i16, out: &mut [u8]) -> usize {
        let (w0, w1, two) = (_mm_set1_epi16(w0), _mm_set1_epi16(w1), _mm_set1_epi16(2));
        let mut done = 0;
        for ((o, a), b) in out.chunks_exact_mut(16).zip(r0.chunks_exact(16)).zip(r1.chunks_exact(16)) {
            // SAFETY: each load reads 8 i16 of a 16-value chunk, the store writes the 16-byte chunk `o`.
            unsafe {
                let half = |k: usize| {
                    let a = _mm_loadu_si128(a.as_ptr().add(k) as *const __m128i);
                    let b = _mm_loadu_si128(b.as_ptr().add(k) as *const __m128i);
                    let v = _mm_add_epi16(_mm_mulhi_epi16(a, w0), _mm_mulhi_epi16(b, w1));
                    _mm_srai_epi16::<2>(_mm_add_epi16(v, two))
                };
                _mm_storeu_si128(o.as_mut_ptr() as *mut __m128i, _mm_packus_epi16(half(0), half(8)));
            }
            done += 16;
        }
        done
    }

    /// [`super::planes_f32`] for whole groups of four pixels; returns how many pixels it wrote. The caller
    /// checks [`available`] first.
    pub fn planes_f32(rgbx: &[u8], r: &mut [f32], g: &mut [f32], b: &mut [f32]) -> usize {
        assert!(available());
        // SAFETY: the CPU has SSE4.1 and SSSE3 (asserted above); the function only loads from and stores to
        // slices of the length it reads and writes.
        unsafe { planes_f32_sse41(rgbx, r, g, b) }
    }

    #[target_feature(enable = "sse4.1,ssse3")]
    fn planes_f32_sse41(rgbx: &[u8], r: &mut [f32], g: &mut [f32], b: &mut [f32]) -> usize {
        // Four RGBX pixels to R0..R3 G0..G3 B0..B3, each widened to i32, converted and divided by 255 (the
        // same float32 division as the scalar `v as f32 / 255.0`, so the same bits).
        let by_channel = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, -1, -1, -1, -1);
        let scale = _mm_set1_ps(255.0);
        let unit = |v: __m128i| _mm_div_ps(_mm_cvtepi32_ps(_mm_cvtepu8_epi32(v)), scale);
        let mut done = 0;
        let planes = r.chunks_exact_mut(4).zip(g.chunks_exact_mut(4)).zip(b.chunks_exact_mut(4));
        for (px, ((r, g), b)) in rgbx.chunks_exact(16).zip(planes) {
            // SAFETY: the load reads the 16-byte chunk `px`; each store writes a 4-float chunk.
            unsafe {
                let v = _mm_shuffle_epi8(_mm_loadu_si128(px.as_ptr() as *const __m128i), by_channel);
                _mm_storeu_ps(r.as_mut_ptr(), unit(v));
                _mm_storeu_ps(g.as_mut_ptr(), unit(_mm_srli_si128::<4>(v)));
                _mm_storeu_ps(b.as_mut_ptr(), unit(_mm_srli_si128::<8>(v)));
            }
            done += 4;
        }
        done
    }
}

/// Other architectures: the scalar passes.
#[cfg(not(target_arch = "x86_64"))]
mod simd {
    use super::XTap;

    pub fn available() -> bool {
        false
    }

    pub fn hresize(row: &[u8], xt: &[XTap], base: usize, out: &mut [i16]) {
        super::hresize_scalar(row, xt, base, out)
    }

    pub fn vresize(_: &[i16], _: &[i16], _: i16, _: i16, _: &mut [u8]) -> usize {
        0
    }

    pub fn planes_f32(_: &[u8], _: &mut [f32], _: &mut [f32], _: &mut [f32]) -> usize {
        0
    }
}

/// `v / 255` as float32 division gives it (the references' `/ 255` on float32).
fn unit(v: u8) -> f32 {
    v as f32 / 255.0
}

/// An RGBX row into three float planes scaled to 0..1, four pixels at a time with SSE4.1 (instead of a table
/// lookup per byte): with the `pmulhw` vertical pass, the letterbox of a demo frame went from 1.2 to 0.6 ms.
fn planes_f32(rgbx: &[u8], r: &mut [f32], g: &mut [f32], b: &mut [f32]) {
    let done = if simd::available() { simd::planes_f32(rgbx, r, g, b) } else { 0 };
    // `done` is at most the shortest of the four.
    for (((px, r), g), b) in rgbx.chunks_exact(4).skip(done).zip(&mut r[done..]).zip(&mut g[done..]).zip(&mut b[done..])
    {
        *r = unit(px[0]);
        *g = unit(px[1]);
        *b = unit(px[2]);
    }
}

/// An RGBX row into three byte planes.
fn planes_u8(rgbx: &[u8], r: &mut [u8], g: &mut [u8], b: &mut [u8]) {
    for (((px, r), g), b) in rgbx.chunks_exact(4).zip(r).zip(g).zip(b) {
        (*r, *g, *b) = (px[0], px[1], px[2]);
    }
}

/// One model input tensor, reused from frame to frame, and the placement its padding was written for.
#[derive(Default)]
struct Tensor<T> {
    data: Vec<T>,
    padded_for: Option<Letterbox>,
}

/// Reusable state of one model input: the resize scratch, the byte-to-float table and the input
/// tensors. The padding is written only when the placement changes; the resized area every frame.
#[derive(Default)]
pub struct Preprocessor {
    /// One per half of the rows (two threads).
    scratch: [ResizeScratch; 2],
    f32: Tensor<f32>,
    u8: Tensor<u8>,
    /// Split the rows of large frames between two threads. Only when the cores are otherwise idle: on
    /// this 2-core machine under a load average of 14 the second thread waited to be scheduled and the
    /// letterbox of a 960x540 frame took 5.7-7.4 ms instead of 2.4-2.8 ms on one thread.
    pub two_threads: bool,
}

impl Preprocessor {
    /// `two_threads`: see the field.
    pub fn new(two_threads: bool) -> Self {
        Preprocessor { two_threads, ..Preprocessor::default() }
    }

    /// Letterboxes a packed RGB8 frame straight into a planar float tensor `[3, H, W]` scaled to 0..1:
    /// each resized row goes to its place in the three planes, with no intermediate canvas.
    pub fn letterbox_f32(&mut self, frame: &[u8], lb: &Letterbox) -> &[f32] {
        let (scratch, split) = (&mut self.scratch, self.two_threads);
        letterbox_planar(scratch, split, frame, lb, &mut self.f32, unit(PAD_VALUE), planes_f32);
        &self.f32.data
    }

    /// As [`Self::letterbox_f32`], into planar RGB8, for models that take uint8 and normalise inside.
    pub fn letterbox_u8(&mut self, frame: &[u8], lb: &Letterbox) -> &[u8] {
        letterbox_planar(&mut self.scratch, self.two_threads, frame, lb, &mut self.u8, PAD_VALUE, planes_u8);
        &self.u8.data
    }
}

/// Resized pixels (output rows times columns) from which the rows are split between two threads: a
/// 960x540 frame into 640x640 (636x358) takes ~0.5 ms on one core of this machine with the SIMD passes
/// (~0.45 ms on two: `cargo bench --bench overhead`), a thread ~30 us to start.
const SPLIT_MIN: usize = 100_000;

fn letterbox_planar<T: Copy + Send>(
    scratch: &mut [ResizeScratch; 2],
    two_threads: bool,
    frame: &[u8],
    lb: &Letterbox,
    out: &mut Tensor<T>,
    pad: T,
    write_row: impl Fn(&[u8], &mut [T], &mut [T], &mut [T]) + Sync,
) {
    let (iw, ih) = (lb.input_w as usize, lb.input_h as usize);
    let plane = iw * ih;
    if out.data.len() != 3 * plane || out.padded_for != Some(*lb) {
        out.data.clear();
        out.data.resize(3 * plane, pad);
        out.padded_for = Some(*lb);
    }
    let (left, top, rw) = (lb.pad_left as usize, lb.pad_top as usize, lb.resized_w as usize);
    let (fw, fh, rh) = (lb.frame_w as usize, lb.frame_h as usize, lb.resized_h as usize);
    let (r, rest) = out.data.split_at_mut(plane);
    let (g, b) = rest.split_at_mut(plane);
    // Rows [0, mid) go to the planes' first parts, [mid, rh) to the rest, which starts at plane index `cut`.
    let mid = if two_threads && rw * rh >= SPLIT_MIN { rh / 2 } else { rh };
    let cut = (top + mid) * iw;
    let (r0, r1) = r.split_at_mut(cut);
    let (g0, g1) = g.split_at_mut(cut);
    let (b0, b1) = b.split_at_mut(cut);
    let fill = |scratch: &mut ResizeScratch, rows: std::ops::Range<usize>, planes: [&mut [T]; 3], base: usize| {
        let [r, g, b] = planes;
        resize_rows(frame, fw, fh, rw, rh, rows, scratch, |dy, row| {
            let at = (top + dy) * iw + left - base;
            write_row(row, &mut r[at..at + rw], &mut g[at..at + rw], &mut b[at..at + rw]);
        });
    };
    let [s0, s1] = scratch;
    if mid == rh {
        fill(s0, 0..rh, [r0, g0, b0], 0);
        return;
    }
    std::thread::scope(|s| {
        s.spawn(|| fill(s1, mid..rh, [r1, g1, b1], cut));
        fill(s0, 0..mid, [r0, g0, b0], 0);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packed RGB8 (HWC) to planar float RGB scaled to 0..1 (NCHW), into a reused buffer.
    fn to_nchw_f32(canvas: &[u8], out: &mut Vec<f32>) {
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
    fn to_nchw_u8(canvas: &[u8], out: &mut Vec<u8>) {
        let plane = canvas.len() / 3;
        out.resize(canvas.len(), 0);
        for (i, px) in canvas.chunks_exact(3).enumerate() {
            for c in 0..3 {
                out[c * plane + i] = px[c];
            }
        }
    }

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
    fn non_square_input_plain_fit() {
        // 1280x720 into 640x384: scale min(384/720, 640/1280) = 0.5 -> 640x360, 12 px above and below.
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 1280, 720, 640, 384);
        assert_eq!(lb.scale, 0.5);
        assert_eq!((lb.resized_w, lb.resized_h, lb.pad_left, lb.pad_top), (640, 360, 0, 12));
        // 1000x1000: scale min(0.384, 0.64) = 0.384 -> 384x384, pad (640-384)/2 = 128 left and right.
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 1000, 1000, 640, 384);
        assert_eq!(lb.scale, 0.384);
        assert_eq!((lb.resized_w, lb.resized_h, lb.pad_left, lb.pad_top), (384, 384, 128, 0));
        assert_eq!(lb.frame_from_model(128.0 + 192.0, 192.0), (500.0, 500.0));
    }

    #[test]
    fn non_square_input_yolo_nas_rule() {
        // super-gradients' (H-4, W-4) inside (H, W): 636x380 in 640x384.
        // 1280x720: min(380/720, 636/1280) = 0.496875 -> 636 x round(357.75) = 358; pads 2 and (384-358)/2 = 13.
        let lb = Letterbox::new(LetterboxRule::YoloNas, 1280, 720, 640, 384);
        assert_eq!(lb.scale, 0.496875);
        assert_eq!((lb.resized_w, lb.resized_h, lb.pad_left, lb.pad_top), (636, 358, 2, 13));
        // 1000x1000: min(0.38, 0.636) = 0.38 -> 380x380; pads (640-380)/2 = 130 and 2.
        let lb = Letterbox::new(LetterboxRule::YoloNas, 1000, 1000, 640, 384);
        assert_eq!((lb.resized_w, lb.resized_h, lb.pad_left, lb.pad_top), (380, 380, 130, 2));
        // super-gradients: (x - pad) * float32(1 / 0.38).
        let (x, y) = lb.frame_from_model(130.0 + 190.0, 2.0 + 38.0);
        assert_eq!((x, y), (190.0 * (1.0 / 0.38f64) as f32, 38.0 * (1.0 / 0.38f64) as f32));
        assert!((x - 500.0).abs() < 1e-4 && (y - 100.0).abs() < 1e-4);
    }

    #[test]
    fn ultralytics_box_mapping_uses_the_rounded_resize() {
        // Ultralytics 8.4 scale_boxes: gain = min(640/300, 640/451); new = (round(451*gain), round(300*gain))
        // = (640, 426); gain_x = 640/451, gain_y = 426/300 = 1.42; pad_x = 0, pad_y = round(214/2 - 0.1) = 107.
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 451, 300, 640, 640);
        assert_eq!((lb.resized_w, lb.resized_h, lb.pad_left, lb.pad_top), (640, 426, 0, 107));
        // y: (249 - 107) / 1.42 = 100 exactly (one gain of 640/451 would give 100.066).
        assert_eq!(lb.frame_from_model(640.0, 249.0), (451.0, 142.0 / 1.42f32));
        assert!((lb.frame_from_model(0.0, 249.0).1 - 100.0).abs() < 1e-4);
        // 500x333: gain 1.28 -> (640, round(426.24) = 426); gain_y = 426/333; pad_y = 107; 213 * 333/426 = 166.5.
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 500, 333, 640, 640);
        assert_eq!((lb.resized_h, lb.pad_top), (426, 107));
        let (x, y) = lb.frame_from_model(320.0, 320.0);
        assert_eq!(x, 320.0 / 1.28f32);
        assert_eq!(y, 213.0 / (426.0f64 / 333.0) as f32);
        assert!((y - 166.5).abs() < 1e-4);
        // 1280x720 into 640x384 (non-square): gains 0.5 and 0.5, pad_y 12: (100, 112) -> (200, 200).
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 1280, 720, 640, 384);
        assert_eq!(lb.box_from_model([100.0, 112.0, 300.0, 372.0]), [200.0, 200.0, 600.0, 720.0]);
        // 3x1000 (thin): round(3 * 0.64) = 2 -> gain_x = 2/3, pad_x = round(638/2 - 0.1) = 319.
        let lb = Letterbox::new(LetterboxRule::Ultralytics, 3, 1000, 640, 640);
        assert_eq!((lb.resized_w, lb.pad_left), (2, 319));
        assert_eq!(lb.frame_from_model(321.0, 0.0).0, 2.0 / (2.0f64 / 3.0) as f32);
    }

    #[test]
    fn letterbox_straight_into_the_tensor_equals_canvas_then_planes() {
        let (mut one, mut two) = (Preprocessor::default(), Preprocessor::new(true));
        // Frame sizes in turn, so the padding of one placement must be rewritten for the next; the large
        // ones are resized by two threads (rows split in half), the small ones by one.
        let cases = [
            (37u32, 20u32, 32u32, 24u32),
            (20, 37, 32, 24),
            (960, 540, 640, 384),
            (700, 900, 640, 384),
            (37, 20, 32, 24),
        ];
        for (fw, fh, iw, ih) in cases {
            let frame: Vec<u8> = (0..fw * fh * 3).map(|v| (v * (fw % 7 + 2) % 251) as u8).collect();
            for rule in [LetterboxRule::YoloNas, LetterboxRule::Ultralytics] {
                let lb = Letterbox::new(rule, fw, fh, iw, ih);
                let (iw, ih) = (iw as usize, ih as usize);
                let mut canvas = vec![PAD_VALUE; iw * ih * 3];
                let offset = (lb.pad_top as usize * iw + lb.pad_left as usize) * 3;
                let (rw, rh) = (lb.resized_w as usize, lb.resized_h as usize);
                assert_eq!(rw * rh >= SPLIT_MIN, iw > 32);
                let mut scratch = ResizeScratch::default();
                resize_rgb(&frame, fw as usize, fh as usize, &mut canvas[offset..], rw, rh, iw * 3, &mut scratch);
                let (mut want_f, mut want_u) = (Vec::new(), Vec::new());
                to_nchw_f32(&canvas, &mut want_f);
                to_nchw_u8(&canvas, &mut want_u);
                for pre in [&mut one, &mut two] {
                    assert!(pre.letterbox_f32(&frame, &lb) == &want_f[..], "{fw}x{fh} into {iw}x{ih}");
                    assert!(pre.letterbox_u8(&frame, &lb) == &want_u[..], "{fw}x{fh} into {iw}x{ih}");
                }
            }
        }
    }

    #[test]
    fn simd_passes_equal_the_scalar_ones() {
        if !simd::available() {
            eprintln!("no SSE4.1 here: only the scalar passes run");
            return;
        }
        // Odd widths, upscales and downscales, so columns clamp at both edges and pair counts are odd.
        for (src_w, dst_w) in [(1usize, 1usize), (2, 5), (7, 3), (97, 40), (97, 194), (960, 636), (13, 13)] {
            let row: Vec<u8> = (0..src_w * 3).map(|v| (v * 37 % 256) as u8).collect();
            let xt: Vec<XTap> =
                taps(src_w, dst_w, Axis::Columns).iter().map(|t| XTap::new(t.i0 * 3, t.w0, t.w1)).collect();
            let mut padded = row.clone();
            padded.resize(row.len() + READ, 0);
            let mut want = vec![0i16; dst_w * 4];
            hresize_scalar(&padded, &xt, 0, &mut want);
            // The SIMD pass on the columns that read inside the row, from the row itself, as resize_rows runs it.
            let in_place = xt.partition_point(|t| t.at as usize + READ <= row.len());
            let mut got = want.clone();
            got[..in_place * 4].fill(-1);
            simd::hresize(&row, &xt[..in_place], 0, &mut got[..in_place * 4]);
            assert_eq!(got, want, "hresize {src_w} -> {dst_w}");
        }
        // Vertical pass and float planes on 37 values / 37 pixels: two whole SIMD runs and a scalar rest.
        let r0: Vec<i16> = (0..37 * 4).map(|v| (v * 911 % 32656) as i16).collect();
        let r1: Vec<i16> = (0..37 * 4).map(|v| (v * 577 % 32656) as i16).collect();
        let (mut got, mut want) = (vec![0u8; 37 * 4], vec![0u8; 37 * 4]);
        vresize(&r0, &r1, 1365, 683, &mut got);
        for ((o, &a), &b) in want.iter_mut().zip(&r0).zip(&r1) {
            *o = ((((1365 * a as i32) >> 16) + ((683 * b as i32) >> 16) + 2) >> 2).clamp(0, 255) as u8;
        }
        assert_eq!(got, want);
        assert!(got.iter().any(|&v| v > 200) && got.iter().any(|&v| v < 50));
        let rgbx: Vec<u8> = (0..37 * 4).map(|v| (v * 53 % 256) as u8).collect();
        let mut planes = vec![-1.0f32; 37 * 3];
        let (r, rest) = planes.split_at_mut(37);
        let (g, b) = rest.split_at_mut(37);
        planes_f32(&rgbx, r, g, b);
        let want: Vec<f32> = (0..3).flat_map(|c| rgbx.chunks_exact(4).map(move |p| p[c] as f32 / 255.0)).collect();
        assert!(planes == want);
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
