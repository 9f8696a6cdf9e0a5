//! Minimum-cost assignment (the Hungarian method with potentials, O(n²m)) on a rectangular cost matrix with
//! forbidden pairs — what motmetrics (through scipy) and a SORT-like tracker use to pair boxes.

/// Pairs rows and columns of `cost` (rows × cols, row-major; `None` = the pair is not allowed) so that as
/// many allowed pairs as possible are made and, among those, their total cost is least. Returns the
/// (row, column) pairs in row order. Forbidden pairs are priced like motmetrics' `add_expensive_edges`: one
/// forbidden pair always costs more than any set of allowed ones, and none is ever returned.
pub fn assign(cost: &[Option<f64>], rows: usize, cols: usize) -> Vec<(usize, usize)> {
    assert_eq!(cost.len(), rows * cols, "cost matrix is rows × cols");
    if rows == 0 || cols == 0 {
        return Vec::new();
    }
    let c = cost.iter().flatten().fold(0.0f64, |m, v| m.max(v.abs()));
    let r = rows.min(cols) as f64;
    // Choosing one forbidden pair and the best r − 1 allowed ones must cost more than the worst r allowed.
    let forbidden = (2.0 * r + 1.0) * c + 1.0;
    let price = |i: usize, j: usize| cost[i * cols + j].unwrap_or(forbidden);
    // The method needs rows ≤ columns: transpose otherwise.
    let pairs = if rows <= cols {
        hungarian(rows, cols, price)
    } else {
        hungarian(cols, rows, |i, j| price(j, i)).into_iter().map(|(i, j)| (j, i)).collect()
    };
    let mut pairs: Vec<(usize, usize)> = pairs.into_iter().filter(|&(i, j)| cost[i * cols + j].is_some()).collect();
    pairs.sort_unstable();
    pairs
}

/// The classic shortest-augmenting-path Hungarian method (potentials u, v; 1-based with a virtual column 0).
fn hungarian(n: usize, m: usize, a: impl Fn(usize, usize) -> f64) -> Vec<(usize, usize)> {
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; m + 1];
    let mut p = vec![0usize; m + 1]; // p[j]: the row matched to column j (0: none)
    let mut way = vec![0usize; m + 1];
    for i in 1..=n {
        p[0] = i;
        let mut j0 = 0;
        let mut minv = vec![inf; m + 1];
        let mut used = vec![false; m + 1];
        loop {
            used[j0] = true;
            let i0 = p[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=m {
                if !used[j] {
                    let cur = a(i0 - 1, j - 1) - u[i0] - v[j];
                    if cur < minv[j] {
                        minv[j] = cur;
                        way[j] = j0;
                    }
                    if minv[j] < delta {
                        delta = minv[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=m {
                if used[j] {
                    u[p[j]] += delta;
                    v[j] -= delta;
                } else {
                    minv[j] -= delta;
                }
            }
            j0 = j1;
            if p[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            p[j0] = p[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    (1..=m).filter(|&j| p[j] != 0).map(|j| (p[j] - 1, j - 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every assignment of a small matrix, tried: the least total cost among those with the most pairs.
    fn brute(cost: &[Option<f64>], rows: usize, cols: usize) -> (usize, f64) {
        fn go(
            i: usize,
            rows: usize,
            cols: usize,
            cost: &[Option<f64>],
            used: &mut Vec<bool>,
            acc: (usize, f64),
            best: &mut (usize, f64),
        ) {
            if i == rows {
                if acc.0 > best.0 || (acc.0 == best.0 && acc.1 < best.1 - 1e-12) {
                    *best = acc;
                }
                return;
            }
            go(i + 1, rows, cols, cost, used, acc, best);
            for j in 0..cols {
                if let (false, Some(c)) = (used[j], cost[i * cols + j]) {
                    used[j] = true;
                    go(i + 1, rows, cols, cost, used, (acc.0 + 1, acc.1 + c), best);
                    used[j] = false;
                }
            }
        }
        let mut best = (0, f64::INFINITY);
        go(0, rows, cols, cost, &mut vec![false; cols], (0, 0.0), &mut best);
        if best.0 == 0 { (0, 0.0) } else { best }
    }

    #[test]
    fn matches_exhaustive_search_on_random_matrices() {
        let mut s = crate::sample::Sampler::new(7);
        for case in 0..400 {
            let rows = 1 + (s.next_u64() % 5) as usize;
            let cols = 1 + (s.next_u64() % 5) as usize;
            let cost: Vec<Option<f64>> = (0..rows * cols)
                .map(|_| if s.uniform() < 0.3 { None } else { Some((s.uniform() * 10.0).round() / 10.0 - 0.2) })
                .collect();
            let got = assign(&cost, rows, cols);
            let total: f64 = got.iter().map(|&(i, j)| cost[i * cols + j].unwrap()).sum();
            let (n, best) = brute(&cost, rows, cols);
            assert_eq!(got.len(), n, "case {case}: {cost:?}");
            assert!((total - best).abs() < 1e-9, "case {case}: {total} vs {best} for {cost:?}");
            let mut rs: Vec<_> = got.iter().map(|p| p.0).collect();
            let mut cs: Vec<_> = got.iter().map(|p| p.1).collect();
            rs.dedup();
            cs.sort_unstable();
            cs.dedup();
            assert_eq!((rs.len(), cs.len()), (n, n), "one pair per row and column");
        }
    }

    #[test]
    fn the_paper_example_of_motmetrics() {
        // Two objects, three hypotheses (distances; None = too far): o1–h1 and o2–h2 are the best pairs.
        let cost = [Some(0.1), None, Some(0.3), Some(0.5), Some(0.2), Some(0.3)];
        assert_eq!(assign(&cost, 2, 3), vec![(0, 0), (1, 1)]);
        assert!(assign(&[None, None], 1, 2).is_empty());
        assert!(assign(&[], 0, 3).is_empty());
    }
}
