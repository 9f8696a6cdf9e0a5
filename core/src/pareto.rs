//! The Pareto front of (cost, error) points: the configurations no other one beats on both at once. The
//! format comparison highlights it, so "is MXFP4 worth its bits here?" is answered by looking.

/// Indices of the points on the front (both coordinates minimised), sorted by cost. A point is on the front
/// when no other point is at most as costly and at most as wrong while strictly better in one of the two.
/// Points with a NaN coordinate are never on it; exact duplicates are both kept.
pub fn pareto_front(points: &[(f64, f64)]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..points.len()).filter(|&i| !points[i].0.is_nan() && !points[i].1.is_nan()).collect();
    // By cost, then by error: each point is on the front iff its error is below every earlier one's.
    order.sort_by(|&a, &b| points[a].0.total_cmp(&points[b].0).then(points[a].1.total_cmp(&points[b].1)));
    let mut front = Vec::new();
    let mut best = f64::INFINITY;
    let mut last: Option<(f64, f64)> = None;
    for i in order {
        let p = points[i];
        if p.1 < best || last == Some(p) {
            front.push(i);
            best = best.min(p.1);
            last = Some(p);
        }
    }
    front
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dominated(p: (f64, f64), q: (f64, f64)) -> bool {
        q.0 <= p.0 && q.1 <= p.1 && (q.0 < p.0 || q.1 < p.1)
    }

    #[test]
    fn agrees_with_the_definition() {
        let mut s = crate::sample::Sampler::new(7);
        for n in [0usize, 1, 2, 5, 40, 200] {
            // Coarse coordinates so that ties happen.
            let pts: Vec<(f64, f64)> =
                (0..n).map(|_| ((s.uniform() * 8.0).floor(), (s.uniform() * 8.0).floor())).collect();
            let mut got = pareto_front(&pts);
            got.sort();
            let want: Vec<usize> = (0..n).filter(|&i| !pts.iter().any(|&q| dominated(pts[i], q))).collect();
            assert_eq!(got, want, "{pts:?}");
        }
    }

    #[test]
    fn nan_is_never_on_the_front() {
        assert_eq!(pareto_front(&[(1.0, f64::NAN), (2.0, 1.0), (3.0, 0.5), (4.0, 0.7)]), vec![1, 2]);
    }
}
