//! A horizontal slider's pure logic: layout, hit test, dragging, and value <-> pixel mapping (UI thread).

/// A slider track at `x, y` of size `w, h` (window pixels) for a value in `min..=max`.
#[derive(Clone, Debug, PartialEq)]
pub struct Slider {
    pub label: &'static str,
    pub min: f32,
    pub max: f32,
    pub value: f32,
    pub x: f32,
    pub y: f32,
    pub w: f32,
    pub h: f32,
    dragging: bool,
}

impl Slider {
    pub fn new(label: &'static str, min: f32, max: f32, value: f32) -> Slider {
        Slider { label, min, max, value: value.clamp(min, max), x: 0.0, y: 0.0, w: 1.0, h: 1.0, dragging: false }
    }

    pub fn place(&mut self, x: f32, y: f32, w: f32, h: f32) {
        (self.x, self.y, self.w, self.h) = (x, y, w.max(1.0), h.max(1.0));
    }

    pub fn contains(&self, mx: f32, my: f32) -> bool {
        mx >= self.x && mx <= self.x + self.w && my >= self.y && my <= self.y + self.h
    }

    /// The value under window column `mx`, clamped to the range and rounded to 0.01.
    pub fn value_at(&self, mx: f32) -> f32 {
        let t = ((mx - self.x) / self.w).clamp(0.0, 1.0);
        ((self.min + t * (self.max - self.min)) * 100.0).round() / 100.0
    }

    /// Pixel column of the current value (the knob).
    pub fn knob_x(&self) -> f32 {
        self.x + (self.value - self.min) / (self.max - self.min) * self.w
    }

    /// Adds `delta` (keyboard steps), clamped. Returns whether the value changed.
    pub fn nudge(&mut self, delta: f32) -> bool {
        self.set(((self.value + delta) * 100.0).round() / 100.0)
    }

    fn set(&mut self, v: f32) -> bool {
        let v = v.clamp(self.min, self.max);
        let changed = (v - self.value).abs() > f32::EPSILON;
        self.value = v;
        changed
    }

    /// Feeds the mouse state of one refresh: a press on the track starts a drag, which follows the
    /// mouse (even outside the track) until release. Returns whether the value changed.
    pub fn update(&mut self, mouse: Option<(f32, f32)>, down: bool) -> bool {
        match (mouse, down) {
            (Some((mx, my)), true) => {
                if !self.dragging && self.contains(mx, my) {
                    self.dragging = true;
                }
                self.dragging && self.set(self.value_at(mx))
            }
            _ => {
                self.dragging = false;
                false
            }
        }
    }

    pub fn is_dragging(&self) -> bool {
        self.dragging
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf() -> Slider {
        let mut s = Slider::new("conf", 0.0, 1.0, 0.25);
        s.place(10.0, 100.0, 200.0, 20.0);
        s
    }

    #[test]
    fn maps_pixels_to_values() {
        let s = conf();
        assert_eq!(s.value_at(10.0), 0.0);
        assert_eq!(s.value_at(110.0), 0.5);
        assert_eq!(s.value_at(210.0), 1.0);
        assert_eq!(s.value_at(500.0), 1.0);
        assert_eq!(s.knob_x(), 60.0);
    }

    #[test]
    fn drag_starts_on_the_track_and_follows_until_release() {
        let mut s = conf();
        assert!(!s.update(Some((300.0, 300.0)), true), "a press elsewhere does nothing");
        assert!(!s.update(None, false));
        assert!(s.update(Some((190.0, 110.0)), true));
        assert_eq!(s.value, 0.9);
        assert!(s.update(Some((400.0, 300.0)), true), "dragging continues outside the track");
        assert_eq!(s.value, 1.0);
        assert!(!s.update(Some((50.0, 110.0)), false), "release ends the drag");
        assert_eq!(s.value, 1.0);
    }

    #[test]
    fn keyboard_steps_clamp() {
        let mut s = conf();
        assert!(s.nudge(0.05));
        assert_eq!(s.value, 0.3);
        for _ in 0..30 {
            s.nudge(-0.05);
        }
        assert_eq!(s.value, 0.0);
        assert!(!s.nudge(-0.05));
    }
}
