//! One iteration's exchange over all workers and all tensors: each worker's gradients in, the update every
//! replica applies, the bytes each worker sent and the cost on the network out. Per-worker compressors
//! (dense, top-k, DGC, random-k, QSGD, TernGrad, signSGD-EF) step independently and their messages are
//! decoded and averaged; PowerSGD steps all workers of a tensor together (its factors are all-reduced).

use super::network::{self, Cost};
use super::powersgd::PowerSgd;
use super::quantized::{GradCompressor, Saved};
use super::{Message, aggregate};
use crate::error::{Error, Result};
use crate::training::{Compressor, DistSpec};

/// What one iteration's exchange produced.
#[derive(Debug, Clone)]
pub struct Round {
    /// Per tensor, the mean update every replica applies.
    pub updates: Vec<Vec<f32>>,
    /// Per worker, the bytes it sent (its own payload under the stated encoding).
    pub sent: Vec<usize>,
    /// The slowest worker's cost under the model of [`network`].
    pub cost: Cost,
}

enum Kind {
    /// Per worker, per tensor (None: sent dense).
    PerWorker { all_reduce: bool, states: Vec<Vec<Option<Box<dyn GradCompressor>>>> },
    /// Per tensor (None: a vector, sent dense).
    PowerSgd(Vec<Option<PowerSgd>>),
}

/// The exchange of a run: its compressors' state over all workers and tensors.
pub struct Exchange {
    workers: usize,
    /// Per tensor (rows, cols); a vector is (len, 1).
    shapes: Vec<[usize; 2]>,
    kind: Kind,
}

impl Exchange {
    /// The exchange `d` describes for tensors of `shapes` (a gradient matrix's rows and columns); `seed`
    /// drives every random choice, distinct per worker and tensor.
    pub fn new(d: &DistSpec, shapes: &[[usize; 2]], seed: u64) -> Result<Self> {
        if d.workers == 0 {
            return Err(Error::param("at least one worker"));
        }
        let kind = if d.compressor == Compressor::Powersgd {
            let widest = shapes.iter().filter(|s| s[0] > 1 && s[1] > 1).map(|s| s[0].min(s[1])).max().unwrap_or(0);
            if d.rank == 0 || d.rank > widest {
                return Err(Error::param(format!(
                    "--rank {} is out of range: 1 to {widest}, the largest min(rows, cols) of the model's layers",
                    d.rank
                )));
            }
            Kind::PowerSgd(
                shapes
                    .iter()
                    .enumerate()
                    .map(|(p, s)| {
                        (s[0] > 1 && s[1] > 1)
                            .then(|| PowerSgd::new(s[0], s[1], d.rank, d.workers, seed ^ (p as u64 + 1)))
                            .transpose()
                    })
                    .collect::<Result<_>>()?,
            )
        } else {
            let states = (0..d.workers)
                .map(|k| {
                    shapes
                        .iter()
                        .enumerate()
                        .map(|(p, s)| d.compressor(s[0] * s[1], seed ^ ((k * 1000 + p) as u64 + 1)))
                        .collect::<Result<Vec<_>>>()
                })
                .collect::<Result<_>>()?;
            Kind::PerWorker { all_reduce: d.compressor == Compressor::Dense, states }
        };
        Ok(Self { workers: d.workers, shapes: shapes.to_vec(), kind })
    }

    /// Every compressor's state, workers then tensors (PowerSGD: per tensor Q then each worker's error).
    pub fn save(&self) -> Vec<Saved> {
        match &self.kind {
            Kind::PerWorker { states, .. } => {
                states.iter().flatten().map(|s| s.as_ref().map(|c| c.save()).unwrap_or_default()).collect()
            }
            Kind::PowerSgd(tensors) => tensors
                .iter()
                .map(|t| match t {
                    Some(ps) => {
                        let (q, errors) = ps.state();
                        Saved {
                            vectors: std::iter::once(q.to_vec()).chain(errors.iter().cloned()).collect(),
                            rngs: vec![],
                        }
                    }
                    None => Saved::default(),
                })
                .collect(),
        }
    }

    /// Restores what [`Exchange::save`] gave, for the same specification and tensors.
    pub fn restore(&mut self, saved: Vec<Saved>) -> Result<()> {
        let expected = match &self.kind {
            Kind::PerWorker { states, .. } => states.iter().map(Vec::len).sum(),
            Kind::PowerSgd(t) => t.len(),
        };
        if saved.len() != expected {
            return Err(Error::param(format!("{} saved compressor states for {expected}", saved.len())));
        }
        match &mut self.kind {
            Kind::PerWorker { states, .. } => {
                for (c, s) in states.iter_mut().flatten().zip(saved) {
                    match c {
                        Some(c) => c.restore(s)?,
                        None if s == Saved::default() => {}
                        None => return Err(Error::param("a saved state for a tensor sent dense")),
                    }
                }
            }
            Kind::PowerSgd(tensors) => {
                for (t, s) in tensors.iter_mut().zip(saved) {
                    match t {
                        Some(ps) => {
                            let mut v = s.vectors.into_iter();
                            let q = v.next().ok_or_else(|| Error::param("the saved PowerSGD state has no Q"))?;
                            ps.restore(q, v.collect())?;
                        }
                        None if s == Saved::default() => {}
                        None => return Err(Error::param("a saved state for a tensor sent dense")),
                    }
                }
            }
        }
        Ok(())
    }

    /// One iteration: `grads[worker][tensor]` in `epoch`.
    pub fn round(&mut self, grads: &[Vec<Vec<f32>>], epoch: usize) -> Result<Round> {
        if grads.len() != self.workers || grads.iter().any(|g| g.len() != self.shapes.len()) {
            return Err(Error::param(format!(
                "gradients for {} workers × {} tensors, not {} × {}",
                grads.len(),
                grads.first().map_or(0, Vec::len),
                self.workers,
                self.shapes.len()
            )));
        }
        let lens: Vec<usize> = self.shapes.iter().map(|s| s[0] * s[1]).collect();
        match &mut self.kind {
            Kind::PerWorker { all_reduce, states } => {
                let mut messages: Vec<Vec<Message>> = Vec::with_capacity(self.workers);
                for (k, g) in grads.iter().enumerate() {
                    let mut out = Vec::with_capacity(lens.len());
                    for (p, g) in g.iter().enumerate() {
                        out.push(match states[k][p].as_mut() {
                            Some(s) => s.step(g, epoch)?,
                            None => Message::Dense(g.clone()),
                        });
                    }
                    messages.push(out);
                }
                let sent: Vec<usize> = messages.iter().map(|m| m.iter().map(Message::bytes).sum()).collect();
                let updates = (0..lens.len())
                    .map(|p| aggregate(&messages.iter().map(|m| &m[p]).collect::<Vec<_>>(), lens[p]))
                    .collect();
                let cost = if *all_reduce {
                    network::all_reduce(self.workers, sent[0], 1)
                } else {
                    network::all_gather(&sent)
                };
                Ok(Round { updates, sent, cost })
            }
            Kind::PowerSgd(tensors) => {
                let mut updates = Vec::with_capacity(lens.len());
                let mut bytes = 0;
                for (p, t) in tensors.iter_mut().enumerate() {
                    let refs: Vec<&[f32]> = grads.iter().map(|g| g[p].as_slice()).collect();
                    match t {
                        Some(ps) => {
                            updates.push(ps.step(&refs)?);
                            bytes += ps.bytes();
                        }
                        None => {
                            let messages: Vec<Message> = refs.iter().map(|g| Message::Dense(g.to_vec())).collect();
                            updates.push(aggregate(&messages.iter().collect::<Vec<_>>(), lens[p]));
                            bytes += 4 * lens[p];
                        }
                    }
                }
                // P, then Q (vectors packed with P): two all-reduces.
                Ok(Round {
                    updates,
                    sent: vec![bytes; self.workers],
                    cost: network::all_reduce(self.workers, bytes, 2),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample::Sampler;

    fn grads(rng: &mut Sampler, w: usize, shapes: &[[usize; 2]]) -> Vec<Vec<Vec<f32>>> {
        (0..w).map(|_| shapes.iter().map(|s| rng.gaussian_vec(s[0] * s[1])).collect()).collect()
    }

    /// Dense and full-rank PowerSGD give the same update; PowerSGD at rank 1 sends (rows + cols) floats per
    /// matrix and the vector whole.
    #[test]
    fn powersgd_full_rank_matches_dense_through_the_exchange() {
        let shapes = [[8, 5], [8, 1]];
        let mut rng = Sampler::new(3);
        let mut dense = Exchange::new(&DistSpec::new(4, Compressor::Dense), &shapes, 0).unwrap();
        let mut full =
            Exchange::new(&DistSpec { rank: 5, ..DistSpec::new(4, Compressor::Powersgd) }, &shapes, 0).unwrap();
        for _ in 0..3 {
            let g = grads(&mut rng, 4, &shapes);
            let (a, b) = (dense.round(&g, 0).unwrap(), full.round(&g, 0).unwrap());
            for (x, y) in a.updates.iter().flatten().zip(b.updates.iter().flatten()) {
                assert!((x - y).abs() < 1e-4);
            }
            assert_eq!(a.sent, vec![4 * 48; 4]);
            assert_eq!(b.sent, vec![4 * (13 * 5 + 8); 4]);
        }
        let mut r1 =
            Exchange::new(&DistSpec { rank: 1, ..DistSpec::new(4, Compressor::Powersgd) }, &shapes, 0).unwrap();
        let round = r1.round(&grads(&mut rng, 4, &shapes), 0).unwrap();
        assert_eq!(round.sent[0], 4 * (13 + 8));
        assert_eq!(round.cost, network::all_reduce(4, 4 * 21, 2));
    }

    /// Saved after some rounds and restored into a fresh exchange, every compressor continues exactly as
    /// the uninterrupted one.
    #[test]
    fn a_restored_exchange_continues_exactly() {
        let shapes = [[6, 5], [6, 1]];
        for c in [
            Compressor::Topk,
            Compressor::Dgc,
            Compressor::Randk,
            Compressor::Qsgd,
            Compressor::Terngrad,
            Compressor::SignsgdEf,
            Compressor::Powersgd,
        ] {
            let d = DistSpec { sparsity: 0.8, warmup_epochs: 0, ..DistSpec::new(3, c) };
            let mut rng = Sampler::new(1);
            let g: Vec<_> = (0..6).map(|_| grads(&mut rng, 3, &shapes)).collect();
            let mut a = Exchange::new(&d, &shapes, 7).unwrap();
            for x in &g[..3] {
                a.round(x, 0).unwrap();
            }
            let mut b = Exchange::new(&d, &shapes, 7).unwrap();
            b.restore(a.save()).unwrap();
            for x in &g[3..] {
                assert_eq!(a.round(x, 0).unwrap().updates, b.round(x, 0).unwrap().updates, "{c}");
            }
            let other = Exchange::new(&DistSpec::new(2, c), &shapes, 7).unwrap();
            assert!(b.restore(other.save()).is_err(), "{c}: a state of two workers into three");
        }
    }

    #[test]
    fn a_rank_no_layer_allows_is_refused() {
        let d = DistSpec { rank: 6, ..DistSpec::new(2, Compressor::Powersgd) };
        let e = Exchange::new(&d, &[[8, 5], [8, 1]], 0).err().unwrap().to_string();
        assert!(e.contains("--rank 6 is out of range: 1 to 5"), "{e}");
    }
}
