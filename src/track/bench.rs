//! A synthetic scene for `nasview bench`: N objects moving through a 1920x1080 frame, tracked frame by frame.

use std::time::{Duration, Instant};

use crate::detector::Detection;

use super::{Tracker, TrackerConfig};

/// A small deterministic generator (64-bit LCG), so every run measures the same scene.
struct Lcg(u64);

impl Lcg {
    /// Uniform in 0..1.
    fn next(&mut self) -> f32 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 40) as f32 / (1u64 << 24) as f32
    }
}

struct Object {
    pos: [f32; 2],
    vel: [f32; 2],
    size: [f32; 2],
    class_id: usize,
}

/// The detections of `n` objects over `frames` frames: straight paths bouncing off the edges, a pixel
/// of jitter, scores from 0.2 to 0.95 (some below the threshold), one detection in twenty missed.
pub fn scene(n: usize, frames: usize) -> Vec<Vec<Detection>> {
    let (w, h) = (1920.0, 1080.0);
    let mut rng = Lcg(0x5eed ^ n as u64);
    let mut objects: Vec<Object> = (0..n)
        .map(|i| Object {
            pos: [rng.next() * (w - 100.0), rng.next() * (h - 100.0)],
            vel: [rng.next() * 8.0 - 4.0, rng.next() * 8.0 - 4.0],
            size: [30.0 + rng.next() * 60.0, 30.0 + rng.next() * 60.0],
            class_id: i % 5,
        })
        .collect();
    (0..frames)
        .map(|_| {
            let mut dets = Vec::with_capacity(n);
            for o in &mut objects {
                for k in 0..2 {
                    o.pos[k] += o.vel[k];
                    let limit = [w, h][k] - o.size[k];
                    if o.pos[k] < 0.0 || o.pos[k] > limit {
                        o.vel[k] = -o.vel[k];
                        o.pos[k] = o.pos[k].clamp(0.0, limit);
                    }
                }
                if rng.next() < 0.05 {
                    continue;
                }
                let (jx, jy) = (rng.next() * 2.0 - 1.0, rng.next() * 2.0 - 1.0);
                let (x, y) = (o.pos[0] + jx, o.pos[1] + jy);
                dets.push(Detection {
                    class_id: o.class_id,
                    score: 0.2 + rng.next() * 0.75,
                    bbox: [x, y, x + o.size[0], y + o.size[1]],
                });
            }
            dets
        })
        .collect()
}

/// Milliseconds of each `Tracker::update` over the scene (after `warmup` frames), at 30 fps, conf 0.25.
pub fn measure(n: usize, frames: usize, warmup: usize) -> Vec<f64> {
    let scene = scene(n, frames + warmup);
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut samples = Vec::with_capacity(frames);
    for (i, dets) in scene.iter().enumerate() {
        let time = Duration::from_secs_f64(i as f64 / 30.0);
        let t0 = Instant::now();
        let ids = tracker.update(dets, 0.25, time);
        let elapsed = t0.elapsed();
        std::hint::black_box(ids);
        if i >= warmup {
            samples.push(elapsed.as_secs_f64() * 1e3);
        }
    }
    samples
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scene_is_tracked_with_stable_ids() {
        // Ten objects over 100 frames: each keeps one ID, so no more than a few IDs are ever given
        // (objects that meet may briefly hide each other's detection, never swap within a class).
        let scene = scene(10, 100);
        assert!(scene.iter().all(|d| d.len() <= 10) && scene.iter().map(Vec::len).sum::<usize>() > 900);
        let mut tr = Tracker::new(TrackerConfig::default());
        for (i, dets) in scene.iter().enumerate() {
            tr.update(dets, 0.25, Duration::from_secs_f64(i as f64 / 30.0));
        }
        let ids: u64 = tr.seen.values().sum();
        assert!((10..=12).contains(&ids), "{ids} IDs for 10 objects");
        assert_eq!(measure(3, 4, 1).len(), 4);
    }
}
