//! The real server on a free port with a temporary data folder, over HTTP: upload the real MiniLM, browse
//! it, analyse a tensor, run a sweep while following its progress, keep it as an experiment, open its share
//! link, export CSV/Parquet/JSON and read them back, restart and find everything still there; kill the
//! server during a job and see the job accounted for; bad input; concurrent requests; the token.

use crate::http::{Server, get, post_json, request};
use crate::util::{minilm, temp_dir};
use serde_json::{Value, json};

fn upload(addr: &str, bytes: &[u8], name: &str) -> crate::http::Reply {
    request(addr, "POST", &format!("/api/checkpoints?name={name}"), bytes, None)
}

/// The `progress` events of a finished job's event stream.
fn follow(addr: &str, job: &str) -> Vec<Value> {
    let r = get(addr, &format!("/api/jobs/{job}/events"));
    assert_eq!(r.status, 200);
    r.text().lines().filter_map(|l| l.strip_prefix("data:")).map(|d| serde_json::from_str(d.trim()).unwrap()).collect()
}

#[test]
fn the_whole_server_lifecycle_on_minilm() {
    let data = temp_dir("server-life");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let bytes = std::fs::read(minilm()).unwrap();

    let up = upload(&a, &bytes, "minilm");
    assert_eq!(up.status, 201, "{}", up.text());
    let c = up.json();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!((c["format"].as_str(), c["tensor_count"].as_i64()), (Some("safetensors"), Some(104)));
    let again = upload(&a, &bytes, "minilm-again");
    assert_eq!(again.status, 200);
    assert_eq!((again.json()["id"].as_str(), again.json()["deduplicated"].as_bool()), (Some(id.as_str()), Some(true)));
    assert_eq!(get(&a, "/api/checkpoints").json()["checkpoints"].as_array().unwrap().len(), 1);

    let t = get(&a, &format!("/api/checkpoints/{id}/tensors")).json();
    let tensors = t["tensors"].as_array().unwrap();
    assert_eq!(tensors.len(), 104);
    let bias = tensors.iter().find(|t| t["name"] == "embeddings.LayerNorm.bias").unwrap();
    let bi = bias["index"].as_i64().unwrap();
    let raw = get(&a, &format!("/api/checkpoints/{id}/tensors/{bi}/raw"));
    assert_eq!(raw.body.len(), 384 * 4);
    let local = lowbit_core::readers::read(&bytes).unwrap();
    let want = local.tensors.iter().find(|t| t.name == "embeddings.LayerNorm.bias").unwrap().to_f32().unwrap();
    let got: Vec<f32> = raw.body.chunks(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(got, want);
    let h = get(&a, &format!("/api/checkpoints/{id}/tensors/embeddings.word_embeddings.weight/histogram"));
    assert_eq!(h.status, 200);
    let counts: u64 = h.json()["histogram"]["counts"].as_array().unwrap().iter().map(|c| c.as_u64().unwrap()).sum();
    assert_eq!(counts + h.json()["histogram"]["zeros"].as_u64().unwrap(), 30522 * 384);
    assert_eq!(
        get(&a, &format!("/api/checkpoints/{id}/tensors/{bi}/sample?n=100")).json()["values"].as_array().unwrap().len(),
        96
    );

    let an = post_json(
        &a,
        "/api/analyze",
        &json!({"checkpoint": id, "tensor": "encoder.layer.0.attention.self.query.weight",
        "config": {"format": "int", "bits": 4, "granularity": "channel:0", "clip": "octav"}, "curve_points": 20}),
    );
    assert_eq!(an.status, 200, "{}", an.text());
    let an = an.json();
    assert_eq!(an["clips"].as_array().unwrap().len(), 384);
    assert!(an["sqnr_db"].as_f64().unwrap() > 10.0);
    assert_eq!(an["curve"]["ratios"].as_array().unwrap().len(), 20);

    let job = post_json(
        &a,
        "/api/jobs",
        &json!({"kind": "sweep", "checkpoint": id, "tensor": "^encoder\\.layer\\.0\\.",
        "configs": [{"format": "int", "bits": 4, "granularity": "channel", "clip": "octav"}, {"format": "mxfp4"}]}),
    );
    assert_eq!(job.status, 201, "{}", job.text());
    let jid = job.json()["id"].as_str().unwrap().to_string();
    let events = follow(&a, &jid);
    let last = events.last().unwrap();
    assert_eq!(last["state"], "succeeded", "{events:?}");
    assert_eq!(
        (last["done"].as_i64(), last["total"].as_i64(), last["progress"].as_f64()),
        (Some(32), Some(32), Some(1.0))
    );
    let dones: Vec<i64> = events.iter().map(|e| e["done"].as_i64().unwrap()).collect();
    assert!(dones.windows(2).all(|w| w[0] <= w[1]), "progress only moves forward: {dones:?}");
    assert_eq!(get(&a, &format!("/api/jobs/{jid}")).json()["state"], "succeeded");
    assert_eq!(get(&a, &format!("/api/jobs/{jid}/results")).json()["results"].as_array().unwrap().len(), 32);

    let ex = post_json(
        &a,
        "/api/experiments",
        &json!({"job": jid, "name": "layer 0 sweep", "notes": "int4 OCTAV vs MXFP4"}),
    );
    assert_eq!(ex.status, 201, "{}", ex.text());
    let (eid, share) =
        (ex.json()["id"].as_str().unwrap().to_string(), ex.json()["share_id"].as_str().unwrap().to_string());
    assert_eq!(share.len(), 32);
    let ex2 = post_json(
        &a,
        "/api/experiments",
        &json!({"name": "one tensor", "analysis": {"checkpoint": id, "tensor": 5, "config": {"format": "nvfp4"}}}),
    );
    assert_eq!(ex2.status, 201, "{}", ex2.text());
    let eid2 = ex2.json()["id"].as_str().unwrap().to_string();
    assert_eq!(get(&a, "/api/experiments?q=sweep").json()["experiments"].as_array().unwrap().len(), 1);
    assert_eq!(get(&a, "/api/experiments?kind=analysis").json()["experiments"].as_array().unwrap().len(), 1);

    let shared = get(&a, &format!("/api/shared/{share}")).json();
    assert_eq!(shared["name"], "layer 0 sweep");
    assert!(shared.get("id").is_none() && shared["results"].as_array().unwrap().len() == 32);
    assert_eq!(get(&a, &format!("/api/shared/{share}/tensor")).status, 404, "a sweep has no single tensor");
    let analysis_share = ex2.json()["share_id"].as_str().unwrap().to_string();
    let t = get(&a, &format!("/api/shared/{analysis_share}/tensor"));
    assert_eq!(t.status, 200, "a shared analysis serves its tensor");
    let shape: Vec<usize> = serde_json::from_str(t.header("x-lowbit-shape").unwrap()).unwrap();
    assert_eq!(t.body.len(), 4 * shape.iter().product::<usize>());
    let page = get(&a, &format!("/e/{share}"));
    assert!(page.status == 200 && page.text().contains("layer 0 sweep") && page.text().contains("results-table"));

    let csv = get(&a, &format!("/api/experiments/{eid}/export?format=csv"));
    assert_eq!(csv.status, 200);
    let text = csv.text();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().starts_with("experiment,tensor,config_index,format"));
    assert_eq!(lines.count(), 32);
    let pq = get(&a, &format!("/api/experiments/{eid}/export?format=parquet"));
    assert_eq!(pq.status, 200);
    use polars::prelude::{ParquetReader, SerReader};
    let df = ParquetReader::new(std::io::Cursor::new(pq.body.clone())).finish().unwrap();
    assert_eq!(df.shape(), (32, 13));
    let js = get(&a, &format!("/api/experiments/{eid}/export?format=json")).json();
    assert_eq!(js.as_array().unwrap().len(), 32);
    let combined = get(&a, &format!("/api/experiments/export?ids={eid},{eid2}&format=csv")).text();
    assert_eq!(combined.lines().count(), 1 + 32 + 1);

    // Restart on the same folder: everything is still there.
    srv.kill();
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    assert_eq!(get(&a, "/api/checkpoints").json()["checkpoints"].as_array().unwrap().len(), 1);
    assert_eq!(get(&a, "/api/experiments").json()["experiments"].as_array().unwrap().len(), 2);
    assert_eq!(get(&a, &format!("/api/shared/{share}")).json()["results"].as_array().unwrap().len(), 32);
    assert_eq!(get(&a, &format!("/api/jobs/{jid}")).json()["state"], "succeeded");
    assert_eq!(get(&a, "/api/openapi.json").json()["openapi"], "3.1.0");
}

#[test]
fn a_job_running_when_the_server_dies_is_accounted_for() {
    let data = temp_dir("server-kill");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let id = upload(&a, &std::fs::read(minilm()).unwrap(), "minilm").json()["id"].as_str().unwrap().to_string();
    // A slow sweep: MSE search over every tensor, several bit widths.
    let configs: Vec<Value> =
        (2..=8).map(|b| json!({"format": "int", "bits": b, "granularity": "channel", "clip": "mse"})).collect();
    let jid = post_json(&a, "/api/jobs", &json!({"kind": "sweep", "checkpoint": id, "configs": configs})).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let t = std::time::Instant::now();
    loop {
        let j = get(&a, &format!("/api/jobs/{jid}")).json();
        if j["state"] == "running" && j["done"].as_i64().unwrap() > 0 {
            break;
        }
        assert!(t.elapsed().as_secs() < 60, "the job never started: {j}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    srv.kill();
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let j = get(&a, &format!("/api/jobs/{jid}")).json();
    assert_eq!(j["state"], "interrupted", "{j}");
    assert!(j["done"].as_i64().unwrap() > 0, "partial progress is kept");
    // It can be re-run, and cancelled.
    let rerun = post_json(&a, &format!("/api/jobs/{jid}/rerun"), &json!({}));
    assert_eq!(rerun.json()["state"], "queued", "the re-run answers with the row it queued");
    assert_eq!(post_json(&a, &format!("/api/jobs/{jid}/rerun"), &json!({})).status, 409, "no second re-run");
    let c = request(&a, "DELETE", &format!("/api/jobs/{jid}"), b"", None);
    assert_eq!(c.status, 200);
    let t = std::time::Instant::now();
    while get(&a, &format!("/api/jobs/{jid}")).json()["state"] != "cancelled" {
        // A cancel takes effect between tasks; the longest task (MSE search over the word embedding) is seconds.
        assert!(t.elapsed().as_secs() < 90, "{}", get(&a, &format!("/api/jobs/{jid}")).json());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(request(&a, "DELETE", &format!("/api/jobs/{jid}"), b"", None).status, 409);
}

#[test]
fn bad_input_gets_json_errors_and_leaves_nothing_behind() {
    let data = temp_dir("server-bad");
    let srv = Server::start(&data, &["--max-upload-mib", "1"]);
    let a = srv.addr.clone();
    let err = |r: &crate::http::Reply| r.json()["error"]["code"].as_str().unwrap().to_string();
    let junk = upload(&a, b"this is not a checkpoint", "junk");
    assert_eq!((junk.status, err(&junk).as_str()), (422, "unprocessable"));
    assert!(junk.json()["error"]["message"].as_str().unwrap().contains("not a recognised"));
    let empty = upload(&a, b"", "empty");
    assert_eq!(empty.status, 422);
    let small = lowbit_core::readers::npy::write_f32(&[4], &[1.0, 2.0, 3.0, 4.0]);
    let trunc = upload(&a, &small[..small.len() - 2], "trunc");
    assert_eq!(trunc.status, 422);
    let big = vec![7u8; 2 << 20];
    let too_big = upload(&a, &big, "big");
    assert_eq!((too_big.status, err(&too_big).as_str()), (413, "too_large"));
    for dir in ["tmp", "blobs"] {
        let n = walk(&data.join(dir));
        assert_eq!(n, 0, "{dir} must be empty after rejected uploads");
    }
    assert_eq!(get(&a, "/api/checkpoints/nope").status, 404);
    assert_eq!(err(&get(&a, "/api/jobs/nope")), "not_found");
    assert_eq!(get(&a, "/api/shared/nope").status, 404);
    assert_eq!(get(&a, "/e/nope").status, 404);
    let bad_json = request(&a, "POST", "/api/analyze", b"{not json", None);
    assert_eq!((bad_json.status, err(&bad_json).as_str()), (400, "bad_request"));
    let ok = upload(&a, &small, "small");
    assert_eq!(ok.status, 201);
    let cid = ok.json()["id"].as_str().unwrap().to_string();
    let bits = post_json(
        &a,
        "/api/analyze",
        &json!({"checkpoint": cid, "tensor": 0, "config": {"format": "int", "bits": 33}}),
    );
    assert_eq!(bits.status, 400);
    assert!(bits.json()["error"]["message"].as_str().unwrap().contains("2 to 16"));
    let unknown_tensor =
        post_json(&a, "/api/analyze", &json!({"checkpoint": cid, "tensor": "w", "config": {"format": "int"}}));
    assert_eq!(unknown_tensor.status, 404);
    let no_configs = post_json(&a, "/api/jobs", &json!({"kind": "sweep", "checkpoint": cid, "configs": []}));
    assert_eq!(no_configs.status, 400);
    let bad_kind =
        post_json(&a, "/api/jobs", &json!({"kind": "train", "checkpoint": cid, "configs": [{"format": "int"}]}));
    assert_eq!(bad_kind.status, 400);
    assert_eq!(get(&a, "/api/experiments/x/export?format=xlsx").status, 404);
    // The examples are a fixed list; shards go to safetensors checkpoints that exist.
    assert_eq!(err(&post_json(&a, "/api/examples/..%2Fetc", &json!({}))), "not_found");
    assert_eq!(request(&a, "POST", "/api/checkpoints/nope/shards", &small, None).status, 404);
    let r = request(&a, "POST", &format!("/api/checkpoints/{cid}/shards"), &small, None);
    assert_eq!((r.status, err(&r).as_str()), (409, "conflict"), "an npy checkpoint takes no shards");
}

fn walk(p: &std::path::Path) -> usize {
    std::fs::read_dir(p)
        .map(|d| d.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum())
        .unwrap_or(0)
}

#[test]
fn many_concurrent_requests_all_succeed() {
    let data = temp_dir("server-conc");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let id = upload(&a, &std::fs::read(minilm()).unwrap(), "minilm").json()["id"].as_str().unwrap().to_string();
    let barrier = std::sync::Barrier::new(16);
    std::thread::scope(|s| {
        for k in 0..16 {
            let (a, id, barrier) = (&a, &id, &barrier);
            s.spawn(move || {
                barrier.wait();
                for _ in 0..4 {
                    let r = if k % 2 == 0 {
                        get(a, &format!("/api/checkpoints/{id}/tensors"))
                    } else {
                        post_json(a, "/api/analyze", &json!({"checkpoint": id, "tensor": k, "config": {"format": "int", "bits": 4, "clip": "octav"}, "curve_points": 0}))
                    };
                    assert_eq!(r.status, 200, "{}", r.text());
                }
            });
        }
    });
}

#[test]
fn writes_need_the_token_when_one_is_set() {
    let data = temp_dir("server-token");
    let srv = Server::start(&data, &["--token", "s3cret"]);
    let a = srv.addr.clone();
    let small = lowbit_core::readers::npy::write_f32(&[2], &[1.0, 2.0]);
    let denied = upload(&a, &small, "x");
    assert_eq!(denied.status, 401);
    assert_eq!(get(&a, "/api/checkpoints").status, 200, "reads stay open");
    let ok = request(&a, "POST", "/api/checkpoints?name=x", &small, Some("s3cret"));
    assert_eq!(ok.status, 201);
}

#[test]
fn every_documented_route_is_served() {
    // A route the router lacks falls through to the static files (a bare 404); ours always answer JSON
    // (or HTML for the share page), whatever the placeholder ids make them say.
    let data = temp_dir("server-openapi");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let doc = get(&a, "/api/openapi.json").json();
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 20);
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", "x")
            .replace("{tensor}", "0")
            .replace("{share}", "x")
            .replace("{name}", "x")
            .replace("{file}", "x")
            .replace("{n}", "x");
        for method in ops.as_object().unwrap().keys() {
            let r = request(&a, &method.to_uppercase(), &concrete, b"{}", None);
            let ctype = r.header("content-type").unwrap_or("");
            assert!(
                ctype.contains("json") || ctype.contains("html") || ctype.contains("event-stream"),
                "{method} {path}: {} {ctype:?}",
                r.status
            );
        }
    }
}

#[test]
fn a_sharded_checkpoint_arrives_as_several_files() {
    let data = temp_dir("server-shards");
    let srv = Server::start(&data, &[]);
    let a = srv.addr.clone();
    let [first, second] = crate::util::minilm_shards();
    let r = upload(&a, &first, "model-00001-of-00002.safetensors");
    assert_eq!(r.status, 201);
    let id = r.json()["id"].as_str().unwrap().to_string();
    let n1 = r.json()["tensor_count"].as_i64().unwrap();
    let add = |bytes: &[u8], name: &str| {
        request(&a, "POST", &format!("/api/checkpoints/{id}/shards?name={name}"), bytes, None)
    };
    let r = add(&second, "model-00002-of-00002.safetensors");
    assert_eq!(r.status, 201, "{}", r.text());
    let total = r.json()["tensor_count"].as_i64().unwrap();
    assert_eq!(total, 104, "every tensor of MiniLM, from both files (first had {n1})");
    let one = get(&a, &format!("/api/checkpoints/{id}")).json();
    assert_eq!(one["shards"].as_array().unwrap().len(), 1);
    assert_eq!(one["size_bytes"].as_i64().unwrap() as usize, first.len() + second.len());
    // A tensor of the second file reads back bit-exactly.
    let tensors = get(&a, &format!("/api/checkpoints/{id}/tensors")).json();
    let t = tensors["tensors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["shard"] == 1 && t["numel"].as_i64() > Some(1000))
        .unwrap()
        .clone();
    let raw = get(&a, &format!("/api/checkpoints/{id}/tensors/{}/raw", t["name"].as_str().unwrap())).body;
    let src = std::fs::read(minilm()).unwrap();
    let c = lowbit_core::readers::read(&src).unwrap();
    let want: Vec<u8> = c
        .tensors
        .iter()
        .find(|x| x.name == t["name"])
        .unwrap()
        .to_f32()
        .unwrap()
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(raw, want);
    // Bad additions are refused and leave nothing behind.
    assert_eq!(add(&second, "again").status, 409, "the same file twice");
    let dup = lowbit_core::readers::safetensors::write(
        &[lowbit_core::readers::safetensors::WriteTensor::f32(t["name"].as_str().unwrap(), &[2], &[1.0, 2.0])],
        &Default::default(),
    )
    .unwrap();
    let r = add(&dup, "dup");
    assert_eq!(r.status, 409);
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("already in checkpoint"));
    let npy = lowbit_core::readers::npy::write_f32(&[2], &[1.0, 2.0]);
    assert_eq!(add(&npy, "npy").status, 422);
    assert_eq!(walk(&data.join("tmp")), 0);
    assert_eq!(walk(&data.join("blobs")), 2);
    // A sweep covers both files.
    let job = post_json(
        &a,
        "/api/jobs",
        &json!({"kind": "sweep", "checkpoint": id, "configs": [{"format": "int", "bits": 8}]}),
    )
    .json();
    let events = follow(&a, job["id"].as_str().unwrap());
    let last = events.last().unwrap();
    assert_eq!(last["state"], "succeeded", "{last}");
    assert_eq!(last["total"], last["done"]);
    assert!(last["total"].as_i64().unwrap() >= 103, "{last}");
    // Deleting the checkpoint removes both files.
    assert_eq!(request(&a, "DELETE", &format!("/api/checkpoints/{id}"), b"", None).status, 204);
    assert_eq!(walk(&data.join("blobs")), 0);
}
