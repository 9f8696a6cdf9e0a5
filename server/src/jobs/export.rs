//! `export`: a whole checkpoint quantized (and optionally pruned first) with one configuration, kept as a
//! downloadable safetensors artifact — what `lowbit quant --out` writes on the command line. The header is
//! known before any tensor is quantized (float tensors become F32, the others are copied), so the file is
//! written tensor by tensor behind it and the job resumes after a restart from the last tensor written.

use super::{JobContext, JobError, Kind};
use crate::state::AppState;
use crate::store::CheckpointRow;
use lowbit_api::ExportSpec;
use lowbit_core::prune::{self, PruneSpec};
use lowbit_core::quant;
use lowbit_core::readers::{DType, TensorEntry, safetensors};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

fn failed(e: std::io::Error) -> JobError {
    JobError::Failed(format!("cannot write the exported file: {e}"))
}

impl Kind for ExportSpec {
    type Prepared = (CheckpointRow, Vec<PathBuf>);

    async fn validate(&self, s: &AppState) -> Result<Value, JobError> {
        let cfg = self.config.resolve().map_err(|e| JobError::Invalid(format!("config: {e}")))?;
        if let Some(p) = &self.prune {
            p.resolve().map_err(|e| JobError::Invalid(format!("prune: {e}")))?;
        }
        super::tensor_filter(self.tensor.as_deref())?;
        let c = super::existing_checkpoint(s, &self.checkpoint).await?;
        Ok(json!({"checkpoint": self.checkpoint, "checkpoint_name": c.name, "format": cfg.format.to_string(),
            "prune": self.prune.as_ref().map(|p| &p.pattern), "tensor": self.tensor}))
    }

    async fn prepare(&self, s: &AppState) -> Result<Self::Prepared, JobError> {
        super::checkpoint_files(s, &self.checkpoint).await
    }

    fn run(self, (c, paths): Self::Prepared, ctx: &JobContext) -> Result<(), JobError> {
        let cfg = self.config.resolve()?;
        let pruning = self.prune.as_ref().map(PruneSpec::resolve).transpose()?;
        let re = super::tensor_filter(self.tensor.as_deref())?;
        let maps = crate::catalog::map(&paths)?;
        let files = crate::catalog::read(&maps, ctx.reader_limits())?;
        let tensors: Vec<_> = files.iter().flat_map(|f| f.tensors.iter()).collect();
        let chosen: Vec<bool> =
            tensors.iter().map(|t| t.dtype.is_float() && re.as_ref().is_none_or(|r| r.is_match(&t.name))).collect();
        let layout: Vec<(&str, DType, &[usize])> = tensors
            .iter()
            .zip(&chosen)
            .map(|(t, &q)| (t.name.as_str(), if q { DType::F32 } else { t.dtype }, t.shape.as_slice()))
            .collect();
        let note = json!({"source": c.name, "source_sha256": c.sha256, "config": self.config, "prune": self.prune});
        let meta = BTreeMap::from([("lowbit".to_string(), note.to_string())]);
        let header = safetensors::header(&layout, &meta)?;
        ctx.total(tensors.len() as i64)?;

        let part = ctx.work_path("export.safetensors.part");
        let saved = ctx.saved_state().map(|s| (s["tensors_done"].as_u64(), s["offset"].as_u64()));
        let resume = match saved {
            Some((Some(k), Some(off))) if std::fs::metadata(&part).is_ok_and(|m| m.len() >= off) => Some((k, off)),
            _ => None,
        };
        let (first, mut file) = match resume {
            Some((k, off)) => {
                // Whatever was written after the last saved point is written again.
                let mut f = std::fs::OpenOptions::new().write(true).open(&part).map_err(failed)?;
                f.set_len(off).map_err(failed)?;
                f.seek(SeekFrom::End(0)).map_err(failed)?;
                (k as usize, f)
            }
            None => {
                let mut f = std::fs::File::create(&part).map_err(failed)?;
                f.write_all(&header).map_err(failed)?;
                (0, f)
            }
        };
        for (i, t) in tensors.iter().enumerate().skip(first) {
            if ctx.cancelled() {
                return Ok(());
            }
            let row = if chosen[i] {
                let (values, row) = match quantize_one(t, &cfg, pruning.as_ref()) {
                    Ok((values, row, [sqnr_db, bits])) => {
                        // The per-tensor measures as series along the checkpoint (step = tensor index).
                        ctx.metric(i as i64, "sqnr_db", sqnr_db)?;
                        ctx.metric(i as i64, "bits_per_element", bits)?;
                        (values, row)
                    }
                    // A tensor that cannot be quantized (NaN/Inf, a pattern that does not fit its rank) is
                    // written unchanged (as F32, what the header says) and its row says why, as
                    // `lowbit quant --out` does; the rest of the checkpoint is still exported.
                    Err(e) => (
                        t.to_f32()?,
                        json!({"tensor": t.name, "shape": t.shape, "dtype": t.dtype.name(), "copied": true, "error": e.to_string()}),
                    ),
                };
                let mut w = std::io::BufWriter::with_capacity(1 << 20, &mut file);
                for v in &values {
                    w.write_all(&v.to_le_bytes()).map_err(failed)?;
                }
                w.flush().map_err(failed)?;
                drop(w);
                row
            } else {
                file.write_all(&t.data).map_err(failed)?;
                json!({"tensor": t.name, "shape": t.shape, "dtype": t.dtype.name(), "copied": true})
            };
            // The saved point must not run ahead of the bytes on disk.
            file.sync_data().map_err(failed)?;
            let offset = file.stream_position().map_err(failed)?;
            ctx.row(i as i64, row)?;
            ctx.progress(i as i64 + 1)?;
            ctx.save_state(json!({"tensors_done": i + 1, "offset": offset}))?;
        }
        drop(file);
        let stem: String = c
            .name
            .trim_end_matches(".safetensors")
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() || ch == '-' || ch == '_' || ch == '.' { ch } else { '_' })
            .collect();
        let tag: String = format!("{}-{}-{}", cfg.format, cfg.granularity, cfg.clip)
            .chars()
            .map(|ch| if ch.is_ascii_alphanumeric() || ch == '-' { ch } else { '_' })
            .collect();
        ctx.artifact(&format!("{stem}-{tag}.safetensors"), &part)
    }
}

/// One chosen tensor pruned (when asked) and quantized: the dequantized values, its result row and its
/// (SQNR dB, bits per element).
fn quantize_one(
    t: &TensorEntry<'_>,
    cfg: &quant::QuantConfig,
    pruning: Option<&prune::PruneConfig>,
) -> Result<(Vec<f32>, Value, [f64; 2]), lowbit_core::Error> {
    let named = |e: lowbit_core::Error| e.context(format!("tensor `{}`", t.name));
    let mut x = t.to_f32().map_err(named)?;
    let mut pruned = None;
    if let Some(pc) = pruning {
        let p = prune::prune(&x, &t.shape, pc).map_err(named)?;
        pruned = Some(json!({"pattern": pc.pattern.to_string(), "sparsity": p.sparsity}));
        x = p.pruned;
    }
    let a = quant::analyze(&x, &t.shape, cfg).map_err(named)?;
    let mut row = lowbit_core::report::result_json(&t.name, &t.shape, cfg, &a);
    if let Some(p) = pruned {
        row["prune"] = p;
    }
    let measures = [a.metrics.sqnr_db, a.output.bits_per_element()];
    Ok((a.output.dequant, row, measures))
}
