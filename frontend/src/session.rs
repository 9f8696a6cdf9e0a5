//! Where the open checkpoint's data comes from, for every page: a file read in the page (within the tab's
//! budget), uploaded to the server (with progress; several files as shards of one checkpoint), or one the
//! server already has; and making sure a local checkpoint is on the server when a page needs the server.
//! Pages and `state` call this module; it calls no page.

use crate::api;
use crate::compute::LocalError;
use crate::state::{Ckpt, Ctx, Tab, TensorInfo};
use leptos::prelude::*;
use std::sync::Arc;

/// Files up to this size are read in the page and never leave the machine.
pub const LOCAL_LIMIT: f64 = 100.0 * 1024.0 * 1024.0;

/// Opens a checkpoint stored on the server.
pub fn open_server(ctx: Ctx, id: String) {
    leptos::task::spawn_local(async move {
        ctx.busy.set(Some("Loading the checkpoint's catalogue…".into()));
        let r = async { api::get::<lowbit_api::TensorList>(&format!("/api/checkpoints/{id}/tensors")).await }.await;
        ctx.busy.set(None);
        match r {
            Ok(list) => {
                let ckpt = Ckpt {
                    name: list.checkpoint.name,
                    format: list.checkpoint.format,
                    tensors: list.tensors.iter().map(tensor_info).collect(),
                    local: None,
                    server_id: Some(id),
                };
                open(ctx, ckpt);
            }
            Err(e) => ctx.error.set(Some(format!("Could not open the checkpoint: {e}"))),
        }
    });
}

fn tensor_info(t: &lowbit_api::Tensor) -> TensorInfo {
    let f = |v: Option<f64>| v.unwrap_or(f64::NAN);
    TensorInfo {
        name: t.name.clone(),
        dtype: t.dtype.clone(),
        shape: t.shape.clone(),
        numel: t.numel.max(0) as usize,
        min: f(t.min),
        max: f(t.max),
        std: f(t.std),
        sparsity: f(t.sparsity),
    }
}

/// Makes `ckpt` the open checkpoint and selects a tensor (the one in the URL if it has it).
pub fn open(ctx: Ctx, ckpt: Ckpt) {
    let keep = ctx.tensor.get_untracked().filter(|t| ckpt.tensors.iter().any(|x| &x.name == t));
    let pick = keep.or_else(|| crate::compute::default_tensor(&ckpt.tensors));
    ctx.missing_local.set(None);
    ctx.error.set(None);
    ctx.data.set(None);
    ctx.ckpt.set(Some(Arc::new(ckpt)));
    ctx.tensor.set(pick);
    if ctx.tab.get_untracked() == Tab::Start {
        ctx.tab.set(Tab::Explorer);
    }
}

/// Several files at once are the shards of one safetensors checkpoint (model-00001-of-0000N…): they go to the
/// server as one checkpoint, in name order, and it opens from there.
pub fn open_shards(ctx: Ctx, mut files: Vec<web_sys::File>) {
    files.sort_by_key(|f| f.name());
    leptos::task::spawn_local(async move {
        ctx.error.set(None);
        let mut id: Option<String> = None;
        for f in files {
            let name = f.name();
            let bytes = match wasm_bindgen_futures::JsFuture::from(f.array_buffer()).await {
                Ok(b) => js_sys::Uint8Array::new(&b).to_vec(),
                Err(_) => {
                    ctx.error.set(Some(format!("{name}: the browser could not read the file")));
                    return;
                }
            };
            let sent = match &id {
                None => upload(ctx, &name, &bytes).await,
                Some(first) => {
                    let url = format!("/api/checkpoints/{first}/shards?name={}", crate::state::encode(&name));
                    send(ctx, &url, &name, &bytes).await
                }
            };
            match sent {
                Some(got) if id.is_none() => id = Some(got),
                Some(_) => {}
                None => return,
            }
        }
        if let Some(id) = id {
            open_server(ctx, id);
        }
    });
}

/// The files a user chose or dropped: one is opened, several are the shards of one checkpoint.
pub fn open_files(ctx: Ctx, list: Option<web_sys::FileList>) {
    let files: Vec<web_sys::File> =
        list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect()).unwrap_or_default();
    match files.len() {
        0 => {}
        1 => open_file(ctx, files.into_iter().next().expect("one file")),
        _ => open_shards(ctx, files),
    }
}

/// Reads a dropped or chosen file: in the page when small, through the server when large.
pub fn open_file(ctx: Ctx, file: web_sys::File) {
    leptos::task::spawn_local(async move {
        let name = file.name();
        let size = file.size();
        ctx.error.set(None);
        ctx.busy.set(Some(format!("Reading {name}…")));
        let buf = match wasm_bindgen_futures::JsFuture::from(file.array_buffer()).await {
            Ok(b) => js_sys::Uint8Array::new(&b).to_vec(),
            Err(_) => {
                ctx.busy.set(None);
                ctx.error.set(Some(format!("{name}: the browser could not read the file")));
                return;
            }
        };
        if size > LOCAL_LIMIT {
            ctx.busy.set(None);
            if let Some(id) = upload(ctx, &name, &buf).await {
                open_server(ctx, id);
            }
            return;
        }
        api::yield_now().await;
        let parsed = crate::compute::parse_local(&buf);
        ctx.busy.set(None);
        match parsed {
            Ok((format, tensors)) => {
                open(ctx, Ckpt { name, format, tensors, local: Some(Arc::new(buf)), server_id: None });
            }
            Err(LocalError::TooBig(why)) => {
                // The tab's memory is the limit, not the file: the server has a larger budget.
                ctx.busy.set(Some(format!(
                    "{name} needs more memory than this tab has ({why}); sending it to the server…"
                )));
                let sent = upload(ctx, &name, &buf).await;
                ctx.busy.set(None);
                if let Some(id) = sent {
                    open_server(ctx, id);
                }
            }
            Err(LocalError::Unreadable(e)) => ctx.error.set(Some(format!("{name}: {e}"))),
        }
    });
}

/// Uploads bytes as a checkpoint with the progress banner; the server's id, or the error shown.
pub async fn upload(ctx: Ctx, name: &str, bytes: &[u8]) -> Option<String> {
    send(ctx, &format!("/api/checkpoints?name={}", crate::state::encode(name)), name, bytes).await
}

async fn send(ctx: Ctx, url: &str, name: &str, bytes: &[u8]) -> Option<String> {
    ctx.upload.set(Some(0.0));
    let r = api::upload::<lowbit_api::Checkpoint>(url, bytes, move |p| ctx.upload.set(Some(p))).await;
    ctx.upload.set(None);
    match r {
        Ok(c) => Some(c.id),
        Err(e) => {
            ctx.error.set(Some(format!("{name}: {e}")));
            None
        }
    }
}

/// Makes sure the open checkpoint is on the server (uploading a local one once) and returns its id.
pub async fn ensure_on_server(ctx: Ctx) -> Option<String> {
    let c = ctx.ckpt.get_untracked()?;
    if let Some(id) = &c.server_id {
        return Some(id.clone());
    }
    let bytes = c.local.clone()?;
    let id = upload(ctx, &c.name, &bytes).await?;
    let mut updated = (*c).clone();
    updated.server_id = Some(id.clone());
    ctx.ckpt.set(Some(Arc::new(updated)));
    Some(id)
}
