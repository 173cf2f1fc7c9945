//! Optimal one-to-one matching of tracks to detections by IoU (main thread; pure).
//!
//! Pairs below the IoU gate can never match, so the table falls apart into independent groups of tracks
//! and detections that overlap each other. Each group is solved on its own: a lone pair directly, a
//! bigger group with the Hungarian method. With objects spread over a frame almost every group is a
//! lone pair, so a hundred objects cost little more than the IoU table itself.

/// Matches rows (tracks) to columns (detections) maximising the summed IoU over pairs whose IoU is at
/// least `min_iou`. `iou` is row-major, `rows x cols`. Returns `(row, col)` pairs sorted by row.
pub fn assign(iou: &[f32], rows: usize, cols: usize, min_iou: f32) -> Vec<(usize, usize)> {
    debug_assert_eq!(iou.len(), rows * cols, "IoU table of {rows}x{cols}");
    let allowed = |r: usize, c: usize| iou[r * cols + c] >= min_iou && iou[r * cols + c] > 0.0;
    // Groups by union-find over allowed pairs: nodes 0..rows are rows, rows..rows+cols are columns.
    let mut parent: Vec<usize> = (0..rows + cols).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for r in 0..rows {
        for c in 0..cols {
            if allowed(r, c) {
                let (a, b) = (root(&mut parent, r), root(&mut parent, rows + c));
                if a != b {
                    parent[a] = b;
                }
            }
        }
    }
    let mut groups: std::collections::BTreeMap<usize, (Vec<usize>, Vec<usize>)> = Default::default();
    for r in 0..rows {
        let g = root(&mut parent, r);
        groups.entry(g).or_default().0.push(r);
    }
    for c in 0..cols {
        let g = root(&mut parent, rows + c);
        groups.entry(g).or_default().1.push(c);
    }
    let mut out = Vec::new();
    for (g_rows, g_cols) in groups.values() {
        match (g_rows.len(), g_cols.len()) {
            (0, _) | (_, 0) => {}
            (1, 1) => out.push((g_rows[0], g_cols[0])),
            _ => {
                // Cost 1 - IoU; a forbidden pair costs more than any allowed assignment can save.
                let big = 2.0 * (g_rows.len() + g_cols.len()) as f64;
                let cost: Vec<f64> = g_rows
                    .iter()
                    .flat_map(|&r| {
                        g_cols.iter().map(move |&c| if allowed(r, c) { 1.0 - iou[r * cols + c] as f64 } else { big })
                    })
                    .collect();
                for (i, j) in hungarian(&cost, g_rows.len(), g_cols.len()) {
                    if allowed(g_rows[i], g_cols[j]) {
                        out.push((g_rows[i], g_cols[j]));
                    }
                }
            }
        }
    }
    out.sort_unstable();
    out
}

/// Minimum-cost assignment on a row-major `n x m` cost table (Hungarian method with potentials,
/// O(n^2 m)). Every row of the smaller side is assigned; returns `(row, col)` pairs.
pub fn hungarian(cost: &[f64], n: usize, m: usize) -> Vec<(usize, usize)> {
    if n == 0 || m == 0 {
        return Vec::new();
    }
    if n > m {
        let transposed: Vec<f64> = (0..m).flat_map(|j| (0..n).map(move |i| cost[i * m + j])).collect();
        return hungarian(&transposed, m, n).into_iter().map(|(j, i)| (i, j)).collect();
    }
    // 1-based arrays; column 0 is the virtual start. u, v: potentials; owner[j]: row holding column j.
    let inf = f64::INFINITY;
    let (mut u, mut v) = (vec![0.0; n + 1], vec![0.0; m + 1]);
    let (mut owner, mut way) = (vec![0usize; m + 1], vec![0usize; m + 1]);
    for i in 1..=n {
        owner[0] = i;
        let mut j0 = 0;
        let mut min_to = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = owner[j0];
            let (mut delta, mut j1) = (inf, 0);
            for j in 1..=m {
                if !used[j] {
                    let reduced = cost[(i0 - 1) * m + (j - 1)] - u[i0] - v[j];
                    if reduced < min_to[j] {
                        min_to[j] = reduced;
                        way[j] = j0;
                    }
                    if min_to[j] < delta {
                        delta = min_to[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[owner[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_to[j] -= delta;
                }
            }
            j0 = j1;
            if owner[j0] == 0 {
                break;
            }
        }
        // Flip the augmenting path back to the start.
        loop {
            let j1 = way[j0];
            owner[j0] = owner[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=m).filter(|&j| owner[j] != 0).map(|j| (owner[j] - 1, j - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optimal_where_greedy_is_not() {
        // Greedy takes track 0 - det 0 (0.9) and leaves track 1 without a partner; the optimum matches
        // both crosswise (0.8 + 0.85 = 1.65 > 0.9).
        //            det 0  det 1
        let iou = [
            0.90, 0.80, // track 0
            0.85, 0.00,
        ]; // track 1
        assert_eq!(assign(&iou, 2, 2, 0.2), vec![(0, 1), (1, 0)]);
    }

    #[test]
    fn the_gate_and_separate_groups() {
        // Track 0 overlaps det 1 only; track 1 overlaps det 0 below the gate; track 2 has two
        // candidates and takes the better one; det 3 is new.
        //             d0    d1    d2    d3
        let iou = [
            0.00, 0.70, 0.00, 0.00, // t0
            0.15, 0.00, 0.00, 0.00, // t1
            0.00, 0.00, 0.60, 0.00, // t2
            0.00, 0.00, 0.40, 0.00,
        ]; // t3 competes with t2 for d2
        assert_eq!(assign(&iou, 4, 4, 0.2), vec![(0, 1), (2, 2)]);
    }

    #[test]
    fn hungarian_by_hand_and_rectangular() {
        // The classic 3x3: best total is 1 + 2 + 2 = 5 via (0,1), (1,0), (2,2).
        let cost = [4.0, 1.0, 3.0, 2.0, 0.0, 5.0, 3.0, 2.0, 2.0];
        let mut a = hungarian(&cost, 3, 3);
        a.sort_unstable();
        assert_eq!(a, vec![(0, 1), (1, 0), (2, 2)]);
        // Three rows, two columns: the row left out is the one that costs most to place.
        let cost = [1.0, 9.0, 9.0, 1.0, 5.0, 5.0];
        let mut a = hungarian(&cost, 3, 2);
        a.sort_unstable();
        assert_eq!(a, vec![(0, 0), (1, 1)]);
        assert!(hungarian(&[], 0, 4).is_empty());
    }

    #[test]
    fn empty_tables() {
        assert!(assign(&[], 0, 0, 0.2).is_empty());
        assert!(assign(&[], 3, 0, 0.2).is_empty());
        assert!(assign(&[], 0, 3, 0.2).is_empty());
    }
}
