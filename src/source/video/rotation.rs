//! A stream's display matrix turned into the filters that show it upright, as the `ffmpeg` CLI's autorotate does (pure).

/// The angle the picture must turn by, clockwise, in degrees within [0, 360): the negated angle of libavutil's
/// `av_display_rotation_get` (which is itself the negated angle of the matrix's first row), rounded and
/// wrapped as the CLI does.
pub fn clockwise_degrees(matrix: &[i32; 9]) -> f64 {
    // 16.16 fixed point; the scale of each column is divided out so a scaled matrix gives the same angle.
    let m = |i: usize| f64::from(matrix[i]) / 65536.0;
    let scale0 = m(0).hypot(m(3));
    let scale1 = m(1).hypot(m(4));
    if scale0 == 0.0 || scale1 == 0.0 {
        return 0.0;
    }
    let theta = (m(1) / scale1).atan2(m(0) / scale0).to_degrees().round();
    // Wrapped into [0, 360), with the CLI's tolerance so -0.1 stays 0 rather than becoming 359.9.
    theta - 360.0 * (theta / 360.0 + 0.9 / 360.0).floor()
}

/// The filter chain (libavfilter syntax) that turns a decoded picture upright for this display matrix, or None
/// when it already is. Mirrors the cases of the CLI: a transpose for 90° and 270° (with a flip when the matrix
/// also mirrors), flips for 180°, a vertical flip for a mirrored 0°, and `rotate` for any other angle.
pub fn upright_filters(matrix: Option<&[i32; 9]>) -> Option<String> {
    let matrix = matrix?;
    let theta = clockwise_degrees(matrix);
    let near = |angle: f64| (theta - angle).abs() < 1.0;
    let filters = if near(90.0) {
        if matrix[3] > 0 { "transpose=cclock_flip" } else { "transpose=clock" }.to_string()
    } else if near(180.0) {
        let flips: Vec<&str> = [(matrix[0] < 0, "hflip"), (matrix[4] < 0, "vflip")]
            .iter()
            .filter_map(|&(on, f)| on.then_some(f))
            .collect();
        if flips.is_empty() {
            return None;
        }
        flips.join(",")
    } else if near(270.0) {
        if matrix[3] < 0 { "transpose=clock_flip" } else { "transpose=cclock" }.to_string()
    } else if theta.abs() > 1.0 && (theta - 360.0).abs() > 1.0 {
        format!("rotate={:.6}", theta.to_radians())
    } else if matrix[4] < 0 {
        "vflip".to_string()
    } else {
        return None;
    };
    Some(filters)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: i32 = 1 << 16;

    /// A matrix whose first row turns the picture `degrees` clockwise (16.16; the last entry is 2.30).
    fn turning(degrees: f64) -> [i32; 9] {
        let (s, c) = degrees.to_radians().sin_cos();
        let fix = |v: f64| (v * 65536.0).round() as i32;
        [fix(c), fix(s), 0, fix(-s), fix(c), 0, 0, 0, 1 << 30]
    }

    #[test]
    fn phone_rotations_become_the_clis_transposes() {
        // What `ffmpeg -i in.mp4 -c copy -metadata:s:v:0 rotate=90` writes (ffprobe: "rotation=90"); the CLI
        // decodes it through transpose=cclock (checked pixel for pixel against `-vf transpose=cclock`).
        let phone = [0, -ONE, 0, ONE, 0, 0, 0, 0, 1 << 30];
        assert_eq!(clockwise_degrees(&phone), 270.0);
        assert_eq!(upright_filters(Some(&phone)).as_deref(), Some("transpose=cclock"));
        assert_eq!(upright_filters(Some(&turning(90.0))).as_deref(), Some("transpose=clock"));
        assert_eq!(upright_filters(Some(&turning(180.0))).as_deref(), Some("hflip,vflip"));
        assert_eq!(upright_filters(Some(&turning(0.0))), None);
        assert_eq!(upright_filters(None), None);
    }

    #[test]
    fn odd_angles_and_mirrors() {
        // 30°: `rotate` takes radians.
        assert_eq!(upright_filters(Some(&turning(30.0))).as_deref(), Some("rotate=0.523599"));
        // A vertical mirror at 0°: m[4] negative.
        let mut mirrored = turning(0.0);
        mirrored[4] = -mirrored[4];
        assert_eq!(upright_filters(Some(&mirrored)).as_deref(), Some("vflip"));
        // 90° with a mirror (m[3] positive): one transpose that also flips.
        let mut flipped = turning(90.0);
        flipped[3] = -flipped[3];
        assert_eq!(upright_filters(Some(&flipped)).as_deref(), Some("transpose=cclock_flip"));
        // -0.4° rounds to 0 and stays 0 (not 360).
        assert_eq!(clockwise_degrees(&turning(-0.4)), 0.0);
        // A degenerate matrix (zero columns) is treated as upright rather than dividing by zero.
        assert_eq!(upright_filters(Some(&[0; 9])), None);
    }
}
