//! Constant-velocity Kalman filter of a box (centre x, centre y, width, height), one track each (main thread).
//!
//! ByteTrack's filter has an 8-dimensional state with diagonal process and measurement noise and a
//! transition that only couples each coordinate with its own velocity, so it falls apart exactly into
//! four independent filters of (position, velocity). That is what is kept here: four 2x2 filters,
//! cheaper than one 8x8 and small enough to check by hand.

/// One coordinate and its velocity, with their covariance `[[pp, pv], [pv, vv]]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Axis {
    pub pos: f32,
    pub vel: f32,
    pub pp: f32,
    pub pv: f32,
    pub vv: f32,
}

impl Axis {
    /// Starts at a measurement, at rest, with the given standard deviations of position and velocity.
    pub fn new(pos: f32, pos_std: f32, vel_std: f32) -> Axis {
        Axis { pos, vel: 0.0, pp: pos_std * pos_std, pv: 0.0, vv: vel_std * vel_std }
    }

    /// Moves the state `dt` steps ahead: x = F x, P = F P F' + Q, with F = [[1, dt], [0, 1]] and
    /// Q = diag(q_pos, q_vel).
    pub fn predict(&mut self, dt: f32, q_pos: f32, q_vel: f32) {
        self.pos += dt * self.vel;
        self.pp += 2.0 * dt * self.pv + dt * dt * self.vv + q_pos;
        self.pv += dt * self.vv;
        self.vv += q_vel;
    }

    /// Folds in a measurement `z` of the position with variance `r`.
    pub fn update(&mut self, z: f32, r: f32) {
        let s = self.pp + r;
        if s <= 0.0 || !s.is_finite() || !z.is_finite() {
            return;
        }
        let (k_pos, k_vel) = (self.pp / s, self.pv / s);
        let innovation = z - self.pos;
        self.pos += k_pos * innovation;
        self.vel += k_vel * innovation;
        // P = (I - K H) P, written out for the 2x2 case.
        let (pp, pv, vv) = (self.pp, self.pv, self.vv);
        self.pp = pp - k_pos * pp;
        self.pv = pv - k_pos * pv;
        self.vv = vv - k_vel * pv;
    }
}

/// Noise of the box filter, as fractions of the box size (ByteTrack's weights: 1/20 and 1/160).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Noise {
    pub position: f32,
    pub velocity: f32,
}

impl Default for Noise {
    fn default() -> Self {
        Noise { position: 1.0 / 20.0, velocity: 1.0 / 160.0 }
    }
}

/// A box as four filtered coordinates: centre x, centre y, width, height (x and width scale with the
/// width, y and height with the height, as in BoT-SORT's xywh variant of ByteTrack's filter).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BoxFilter {
    pub axes: [Axis; 4],
    noise: Noise,
}

/// `[x1, y1, x2, y2]` to `[cx, cy, w, h]`.
pub fn to_cxcywh(b: &[f32; 4]) -> [f32; 4] {
    [(b[0] + b[2]) / 2.0, (b[1] + b[3]) / 2.0, b[2] - b[0], b[3] - b[1]]
}

/// Smallest width or height a filtered box keeps, in pixels.
const MIN_SIDE: f32 = 1.0;

impl BoxFilter {
    pub fn new(bbox: &[f32; 4], noise: Noise) -> BoxFilter {
        let z = to_cxcywh(bbox);
        let scale = [z[2], z[3], z[2], z[3]].map(|s| s.max(MIN_SIDE));
        // ByteTrack starts with twice the position noise and ten times the velocity noise.
        let axes =
            std::array::from_fn(|i| Axis::new(z[i], 2.0 * noise.position * scale[i], 10.0 * noise.velocity * scale[i]));
        BoxFilter { axes, noise }
    }

    fn scales(&self) -> [f32; 4] {
        let (w, h) = (self.axes[2].pos.max(MIN_SIDE), self.axes[3].pos.max(MIN_SIDE));
        [w, h, w, h]
    }

    /// Moves the box `dt` steps (frames of the reference rate) ahead; process noise grows with `dt`.
    pub fn predict(&mut self, dt: f32) {
        let scales = self.scales();
        let n = self.noise;
        for (a, s) in self.axes.iter_mut().zip(scales) {
            a.predict(dt, (n.position * s).powi(2) * dt, (n.velocity * s).powi(2) * dt);
        }
        for a in &mut self.axes[2..] {
            a.pos = a.pos.max(MIN_SIDE);
        }
    }

    pub fn update(&mut self, bbox: &[f32; 4]) {
        let z = to_cxcywh(bbox);
        let scales = self.scales();
        for ((a, z), s) in self.axes.iter_mut().zip(z).zip(scales) {
            a.update(z, (self.noise.position * s).powi(2));
        }
        for a in &mut self.axes[2..] {
            a.pos = a.pos.max(MIN_SIDE);
        }
    }

    /// A track that is not seen stops growing or shrinking (ByteTrack zeroes the size velocity of
    /// lost tracks): a box hidden for a second should come back at its size.
    pub fn freeze_size(&mut self) {
        for a in &mut self.axes[2..] {
            a.vel = 0.0;
        }
    }

    /// The filtered box as `[x1, y1, x2, y2]`.
    pub fn bbox(&self) -> [f32; 4] {
        let [cx, cy, w, h] = self.axes.map(|a| a.pos);
        [cx - w / 2.0, cy - h / 2.0, cx + w / 2.0, cy + h / 2.0]
    }

    pub fn centre(&self) -> [f32; 2] {
        [self.axes[0].pos, self.axes[1].pos]
    }

    /// Velocity of the centre in pixels per step.
    pub fn velocity(&self) -> [f32; 2] {
        [self.axes[0].vel, self.axes[1].vel]
    }

    /// How the box's corners move in `dt` steps at its velocities (the prediction's mean, without
    /// changing the filter): `[dx1, dy1, dx2, dy2]`. A side never shrinks below `MIN_SIDE`.
    pub fn displacement(&self, dt: f32) -> [f32; 4] {
        let [vx, vy, vw, vh] = self.axes.map(|a| a.vel * dt);
        let grow = |v: f32, side: f32| (side + v).max(MIN_SIDE) - side;
        let (dw, dh) = (grow(vw, self.axes[2].pos), grow(vh, self.axes[3].pos));
        [vx - dw / 2.0, vy - dh / 2.0, vx + dw / 2.0, vy + dh / 2.0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn axis_predict_and_update_by_hand() {
        // Start: position 0 with variance 4, velocity 0 with variance 1.
        let mut a = Axis::new(0.0, 2.0, 1.0);
        // Predict one step with Q = diag(1, 1): pp = 4 + 0 + 1 + 1 = 6, pv = 0 + 1 = 1, vv = 1 + 1 = 2.
        a.predict(1.0, 1.0, 1.0);
        assert_eq!((a.pos, a.vel, a.pp, a.pv, a.vv), (0.0, 0.0, 6.0, 1.0, 2.0));
        // Measure 10 with variance 4: S = 10, K = (0.6, 0.1); pos = 6, vel = 1;
        // pp = 6 - 0.6 * 6 = 2.4, pv = 1 - 0.6 * 1 = 0.4, vv = 2 - 0.1 * 1 = 1.9.
        a.update(10.0, 4.0);
        assert!(close(a.pos, 6.0) && close(a.vel, 1.0), "{a:?}");
        assert!(close(a.pp, 2.4) && close(a.pv, 0.4) && close(a.vv, 1.9), "{a:?}");
        // Two steps ahead: pos = 6 + 2 * 1 = 8; pp = 2.4 + 2*2*0.4 + 4*1.9 + 0 = 11.6; pv = 0.4 + 2*1.9 = 4.2.
        a.predict(2.0, 0.0, 0.0);
        assert!(close(a.pos, 8.0) && close(a.pp, 11.6) && close(a.pv, 4.2) && close(a.vv, 1.9), "{a:?}");
    }

    #[test]
    fn a_non_finite_measurement_is_ignored() {
        let mut a = Axis::new(5.0, 1.0, 1.0);
        let before = a;
        a.update(f32::NAN, 1.0);
        assert_eq!(a, before);
    }

    #[test]
    fn box_filter_starts_at_the_box_with_bytetrack_noise() {
        // A 40x100 box centred at (50, 100): x and w scale with 40, y and h with 100.
        let f = BoxFilter::new(&[30.0, 50.0, 70.0, 150.0], Noise::default());
        assert_eq!(f.axes.map(|a| a.pos), [50.0, 100.0, 40.0, 100.0]);
        // Position std 2 * 40 / 20 = 4 (variance 16); velocity std 10 * 40 / 160 = 2.5 (variance 6.25).
        assert!(close(f.axes[0].pp, 16.0) && close(f.axes[0].vv, 6.25));
        // Along y: 2 * 100 / 20 = 10 (variance 100); 10 * 100 / 160 = 6.25 (variance 39.0625).
        assert!(close(f.axes[1].pp, 100.0) && close(f.axes[1].vv, 39.0625));
        assert_eq!(f.bbox(), [30.0, 50.0, 70.0, 150.0]);
    }

    #[test]
    fn box_filter_learns_a_constant_velocity() {
        // A 20x20 box moving 4 px per step to the right.
        let mut f = BoxFilter::new(&[0.0, 0.0, 20.0, 20.0], Noise::default());
        for step in 1..=20 {
            f.predict(1.0);
            let x = 4.0 * step as f32;
            f.update(&[x, 0.0, x + 20.0, 20.0]);
        }
        let v = f.velocity();
        assert!((v[0] - 4.0).abs() < 0.1 && v[1].abs() < 1e-3, "velocity {v:?}");
        // Five unseen steps: the prediction keeps going at 4 px per step and keeps the size.
        f.freeze_size();
        for _ in 0..5 {
            f.predict(1.0);
        }
        let b = f.bbox();
        assert!((b[0] - 100.0).abs() < 1.0 && (b[2] - b[0] - 20.0).abs() < 0.1, "{b:?}");
    }
}
