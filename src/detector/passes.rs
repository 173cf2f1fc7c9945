//! Running a frame's passes (full frame, tiles, zoom region) through the model: crops at native resolution,
//! one batch when the model's batch dimension is dynamic, else one after another; boxes back in frame
//! pixels (inference thread).

use std::time::{Duration, Instant};

use anyhow::bail;
use image::RgbImage;
use ort::session::SessionOutputs;
use ort::value::TensorRef;

use super::preprocess::Letterbox;
use super::signature::Family;
use super::tiles::{self, PassSettings, Rect};
use super::{decode, Candidates, Detection, Detector, StageTimes};

/// Most crops stacked into one run: a 1080p frame's full frame and eight tiles, while the input tensor
/// stays bounded (9 x 3 x 640 x 640 floats, 44 MB) whatever the frame size.
pub const MAX_BATCH: usize = 9;

/// Buffers of the batched runs, reused from frame to frame.
#[derive(Default)]
pub struct PassScratch {
    batch_f32: Vec<f32>,
    batch_u8: Vec<u8>,
    /// Crops run one after another even though the model could batch them: asked for (bench compares), or
    /// a batched run failed (an export declaring a dynamic batch with a reshape baked to batch 1).
    batch_off: bool,
    /// The frame size a zoom region lying outside the frame was said for (said once per size, not per frame).
    region_outside_said: Option<(u32, u32)>,
}

impl Detector {
    /// Whether the model's input declares a dynamic batch dimension.
    pub fn batch_dynamic(&self) -> bool {
        let dims = self.session.inputs().first().and_then(|i| i.dtype().tensor_shape().map(|s| s.to_vec()));
        dims.and_then(|d| d.first().copied()).is_some_and(|d| d < 0)
    }

    /// Whether several crops go through the model in one run.
    pub fn batches(&self) -> bool {
        self.batch_dynamic() && !self.tiled.batch_off
    }

    /// Runs crops one after another even when the model could batch them (to measure what batching gains).
    pub fn set_batching(&mut self, on: bool) {
        self.tiled.batch_off = !on;
    }

    /// Runs the passes `settings` gives for this frame ([`tiles::plan`]): candidates above `floor`, in frame
    /// pixels, from every pass (merged by [`Candidates::select`]).
    pub fn detect_tiled(
        &mut self,
        frame: &RgbImage,
        settings: &PassSettings,
        floor: f32,
    ) -> anyhow::Result<(Candidates, StageTimes)> {
        let (w, h) = frame.dimensions();
        if let Some(region) = settings.region.filter(|r| r.in_frame(w, h).is_none()) {
            if self.tiled.region_outside_said.replace((w, h)) != Some((w, h)) {
                crate::messages::warn(&format!(
                    "--region {region} lies outside the {w}x{h} frame: only the full frame runs; give pixels inside \
                     it or fractions of it (e.g. 0.25,0.25,0.75,0.75)"
                ));
            }
        }
        let plan = tiles::plan(w, h, self.info.input.width, self.info.input.height, settings);
        if plan.len() == 1 {
            return self.detect(frame, floor);
        }
        self.detect_passes(frame, &plan, floor)
    }

    /// Runs each pass (a rectangle of the frame, cropped at native resolution and letterboxed like a frame).
    pub fn detect_passes(
        &mut self,
        frame: &RgbImage,
        passes: &[Rect],
        floor: f32,
    ) -> anyhow::Result<(Candidates, StageTimes)> {
        let mut times = StageTimes::default();
        let mut per_pass: Vec<Candidates> = Vec::with_capacity(passes.len());
        // Runs of equal size: 10 passes are two runs of 5, not 9 and 1.
        let runs = if self.batches() { passes.len().div_ceil(MAX_BATCH) } else { passes.len() };
        for chunk in passes.chunks(passes.len().div_ceil(runs.max(1)).max(1)) {
            if chunk.len() > 1 {
                match self.run_batch(frame, chunk, floor, &mut times) {
                    Ok(cands) => {
                        per_pass.extend(cands);
                        continue;
                    }
                    Err(e) => {
                        eprintln!(
                            "nasview: WARNING: {} declares a dynamic batch but cannot run {} images at once ({e:#}); \
                             running the tiles one after another",
                            self.info.file_name,
                            chunk.len()
                        );
                        self.tiled.batch_off = true;
                    }
                }
            }
            for pass in chunk {
                let (c, t) = self.detect(&crop(frame, pass), floor)?;
                add_times(&mut times, &t);
                per_pass.push(c);
            }
        }
        let t0 = Instant::now();
        let cands = self.combine(frame, passes, per_pass);
        times.postprocess += t0.elapsed();
        Ok((cands, times))
    }

    /// Letterboxes every crop of `chunk` into one stacked input, runs it once, decodes each image.
    fn run_batch(
        &mut self,
        frame: &RgbImage,
        chunk: &[Rect],
        floor: f32,
        times: &mut StageTimes,
    ) -> anyhow::Result<Vec<Candidates>> {
        let t0 = Instant::now();
        let uint8 = self.info.input.uint8;
        self.tiled.batch_f32.clear();
        self.tiled.batch_u8.clear();
        let mut boxes: Vec<Letterbox> = Vec::with_capacity(chunk.len());
        let (iw, ih) = (self.info.input.width, self.info.input.height);
        for pass in chunk {
            let c = crop(frame, pass);
            let lb = Letterbox::new(self.info.family.letterbox_rule(), c.width(), c.height(), iw, ih);
            if uint8 {
                self.tiled.batch_u8.extend_from_slice(self.pre.letterbox_u8(c.as_raw(), &lb));
            } else {
                self.tiled.batch_f32.extend_from_slice(self.pre.letterbox_f32(c.as_raw(), &lb));
            }
            boxes.push(lb);
        }
        let t1 = Instant::now();
        let n = chunk.len();
        let shape = [n as i64, 3, self.info.input.height as i64, self.info.input.width as i64];
        let input_name = self.session.inputs()[0].name().to_string();
        let (family, classes) = (self.info.family, self.info.labels.len());
        let outputs = if uint8 {
            let t = TensorRef::from_array_view((shape, &self.tiled.batch_u8[..]))?;
            self.session.run(ort::inputs![input_name.as_str() => t])?
        } else {
            let t = TensorRef::from_array_view((shape, &self.tiled.batch_f32[..]))?;
            self.session.run(ort::inputs![input_name.as_str() => t])?
        };
        let t2 = Instant::now();
        let mut items: Vec<(Vec<Detection>, usize)> = Vec::with_capacity(n);
        for b in 0..n {
            let mut raw = Vec::new();
            let dropped = decode_item(family, &outputs, b, n, classes, floor, &mut raw)?;
            items.push((raw, dropped));
        }
        drop(outputs);
        let mut cands = Vec::with_capacity(n);
        for ((raw, dropped), lb) in items.into_iter().zip(&boxes) {
            self.raw = raw;
            cands.push(self.frame_candidates(lb, dropped));
        }
        let t3 = Instant::now();
        add_times(times, &StageTimes { preprocess: t1 - t0, inference: t2 - t1, postprocess: t3 - t2 });
        Ok(cands)
    }

    /// Every pass's candidates (in crop pixels) shifted into the frame, marked where a crop's inner edge cut
    /// them, best first.
    fn combine(&self, frame: &RgbImage, passes: &[Rect], per_pass: Vec<Candidates>) -> Candidates {
        let (fw, fh) = frame.dimensions();
        let mut all: Vec<(Detection, bool)> = Vec::new();
        for (pass, c) in passes.iter().zip(per_pass) {
            let (dx, dy) = (pass.x as f32, pass.y as f32);
            all.extend(c.dets.into_iter().map(|d| {
                let [x1, y1, x2, y2] = d.bbox;
                let bbox = [x1 + dx, y1 + dy, x2 + dx, y2 + dy];
                (Detection { bbox, ..d }, tiles::is_cut(&bbox, pass, fw, fh))
            }));
        }
        // Descending score, ties in pass order, as `nms::sort_by_score` orders a single pass.
        all.sort_by(|a, b| b.0.score.total_cmp(&a.0.score));
        let (dets, cut): (Vec<Detection>, Vec<bool>) = all.into_iter().unzip();
        Candidates {
            dets,
            frame_w: fw,
            frame_h: fh,
            needs_nms: true,
            limits: Some(self.limits()),
            cut,
            passes: passes.len(),
        }
    }
}

fn add_times(total: &mut StageTimes, t: &StageTimes) {
    total.preprocess += t.preprocess;
    total.inference += t.inference;
    total.postprocess += t.postprocess;
}

/// Sum of the stages: the frame's inference cost as the HUD shows it.
pub fn total(t: &StageTimes) -> Duration {
    t.preprocess + t.inference + t.postprocess
}

/// The pixels of `pass` (the frame itself when the pass is the full frame).
fn crop(frame: &RgbImage, pass: &Rect) -> RgbImage {
    if (pass.x, pass.y, pass.w, pass.h) == (0, 0, frame.width(), frame.height()) {
        return frame.clone();
    }
    image::imageops::crop_imm(frame, pass.x, pass.y, pass.w, pass.h).to_image()
}

/// Image `b` of `n` in an output whose first dimension is the batch; checked against the data's length.
fn image_of<T>(data: &[T], b: usize, n: usize) -> anyhow::Result<&[T]> {
    if n == 0 || b >= n || !data.len().is_multiple_of(n) {
        bail!("an output of {} values does not split into {n} images", data.len());
    }
    let per = data.len() / n;
    Ok(&data[b * per..(b + 1) * per])
}

/// Reads image `b` of a batch of `n` from the session's outputs with the family's decoder; returns the number
/// of implausible boxes it dropped.
fn decode_item(
    family: Family,
    outputs: &SessionOutputs,
    b: usize,
    n: usize,
    classes: usize,
    conf: f32,
    out: &mut Vec<Detection>,
) -> anyhow::Result<usize> {
    let f32_out = |i: usize| -> anyhow::Result<(Vec<i64>, &[f32])> {
        let (shape, data) = outputs[i].try_extract_tensor::<f32>()?;
        Ok((shape.to_vec(), data))
    };
    let check_batch = |shape: &[i64]| -> anyhow::Result<()> {
        if shape.first() != Some(&(n as i64)) {
            bail!("an output has shape {shape:?} for {n} images");
        }
        Ok(())
    };
    Ok(match family {
        Family::YoloNasRaw { boxes, scores } => {
            let (b_shape, bx) = f32_out(boxes)?;
            let (s_shape, s) = f32_out(scores)?;
            check_batch(&b_shape)?;
            check_batch(&s_shape)?;
            let c = *s_shape.last().unwrap_or(&0) as usize;
            decode::yolo_nas_raw(image_of(bx, b, n)?, image_of(s, b, n)?, c, conf, out)
        }
        Family::Ultralytics { out: o } => {
            let (shape, data) = f32_out(o)?;
            check_batch(&shape)?;
            if shape.len() != 3 {
                bail!("output0 has shape {shape:?}, expected [B,4+C,N]");
            }
            decode::ultralytics(image_of(data, b, n)?, shape[1] as usize, shape[2] as usize, conf, out)
        }
        Family::YoloNasFlat { rows } => {
            let (_, data) = f32_out(rows)?;
            decode::yolo_nas_flat_image(data, b, classes, conf, out)
        }
        Family::YoloNasBatch { num, boxes, scores, classes: cls } => {
            let (num_shape, nums) = outputs[num].try_extract_tensor::<i64>()?;
            check_batch(num_shape)?;
            let (_, bx) = f32_out(boxes)?;
            let (_, s) = f32_out(scores)?;
            let (_, c) = outputs[cls].try_extract_tensor::<i64>()?;
            let k = image_of(nums, b, n)?.first().copied().unwrap_or(0);
            decode::yolo_nas_batch(k, image_of(bx, b, n)?, image_of(s, b, n)?, image_of(c, b, n)?, classes, conf, out)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_of_a_batch() {
        let data = [1, 2, 3, 4, 5, 6];
        assert_eq!(image_of(&data, 0, 3).unwrap(), &[1, 2]);
        assert_eq!(image_of(&data, 2, 3).unwrap(), &[5, 6]);
        // Hostile shapes: a length that does not split, an image past the batch.
        assert!(image_of(&data, 0, 4).is_err());
        assert!(image_of(&data, 3, 3).is_err());
        assert!(image_of(&data, 0, 0).is_err());
    }
}
