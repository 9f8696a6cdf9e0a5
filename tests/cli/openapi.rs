//! The generated OpenAPI document against the real server: it is well formed (OpenAPI 3.1, unique operation
//! ids, every `$ref` resolves, every path parameter declared, every error response an `ErrorBody`), and a
//! client that knows only the document can use the API — every operation it lists is called, each answer's
//! status is one the document gives for it, and each JSON body (and each request body sent) validates
//! against its schema, with no field the schema does not declare.

use crate::http::{Reply, Server, get, request};
use crate::jobs::wait_for;
use crate::util::temp_dir;
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// The schema a `$ref` points to.
fn resolve<'a>(doc: &'a Value, r: &str) -> &'a Value {
    let name = r.strip_prefix("#/components/schemas/").unwrap_or_else(|| panic!("unexpected $ref {r}"));
    let s = &doc["components"]["schemas"][name];
    assert!(!s.is_null(), "$ref {r} does not resolve");
    s
}

/// The properties an object schema declares, through `$ref` and `allOf`.
fn declared(doc: &Value, s: &Value, out: &mut BTreeSet<String>) {
    if let Some(r) = s["$ref"].as_str() {
        return declared(doc, resolve(doc, r), out);
    }
    out.extend(s["properties"].as_object().into_iter().flatten().map(|(k, _)| k.clone()));
    for part in s["allOf"].as_array().into_iter().flatten() {
        declared(doc, part, out);
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        other => panic!("unknown schema type {other}"),
    }
}

/// Checks `v` against the JSON Schema subset the document uses; `strict`: no undeclared properties.
fn check(doc: &Value, s: &Value, v: &Value, at: &str, strict: bool) -> Result<(), String> {
    if let Some(r) = s["$ref"].as_str() {
        return check(doc, resolve(doc, r), v, at, strict);
    }
    match &s["type"] {
        Value::String(t) if !type_ok(t, v) => return Err(format!("{at}: {v} is not {t}")),
        Value::Array(ts) if !ts.iter().any(|t| type_ok(t.as_str().unwrap(), v)) => {
            return Err(format!("{at}: {v} is none of {ts:?}"));
        }
        _ => {}
    }
    if let Some(e) = s["enum"].as_array()
        && !e.contains(v)
    {
        return Err(format!("{at}: {v} is not one of {e:?}"));
    }
    for part in s["allOf"].as_array().into_iter().flatten() {
        check(doc, part, v, at, false)?;
    }
    if let Some(alts) = s["oneOf"].as_array() {
        let ok = alts.iter().filter(|a| check(doc, a, v, at, strict).is_ok()).count();
        if ok != 1 {
            return Err(format!("{at}: {v} matches {ok} of the oneOf alternatives, not exactly one"));
        }
    }
    if let Some(o) = v.as_object() {
        for r in s["required"].as_array().into_iter().flatten() {
            if !o.contains_key(r.as_str().unwrap()) {
                return Err(format!("{at}: required `{r}` is missing"));
            }
        }
        let props = &s["properties"];
        for (k, x) in o {
            if !props[k].is_null() {
                check(doc, &props[k], x, &format!("{at}.{k}"), true)?;
            }
        }
        let mut known = BTreeSet::new();
        declared(doc, s, &mut known);
        if strict
            && !known.is_empty()
            && let Some(extra) = o.keys().find(|k| !known.contains(*k))
        {
            return Err(format!("{at}: `{extra}` is not declared by the schema"));
        }
    }
    if let (Some(items), Some(a)) = (s.get("items"), v.as_array()) {
        for (i, x) in a.iter().enumerate() {
            check(doc, items, x, &format!("{at}[{i}]"), true)?;
        }
    }
    Ok(())
}

/// Every `$ref` anywhere in the document resolves.
fn refs_resolve(doc: &Value, v: &Value) {
    match v {
        Value::Object(o) => {
            if let Some(r) = o.get("$ref").and_then(Value::as_str) {
                resolve(doc, r);
            }
            o.values().for_each(|x| refs_resolve(doc, x));
        }
        Value::Array(a) => a.iter().for_each(|x| refs_resolve(doc, x)),
        _ => {}
    }
}

fn well_formed(doc: &Value) {
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["info"]["title"], "lowbit");
    refs_resolve(doc, doc);
    let mut ids = BTreeSet::new();
    for (path, ops) in doc["paths"].as_object().unwrap() {
        let names: Vec<&str> =
            path.split('/').filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}'))).collect();
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path}: no operationId"));
            assert!(ids.insert(id.to_string()), "operationId {id} repeats");
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path}: no summary");
            let params: Vec<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(params, names, "{method} {path}: path parameters");
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path}: no success response");
            for (status, r) in responses {
                if status.starts_with('2') || path.starts_with("/e/") {
                    continue;
                }
                assert_eq!(
                    r["content"]["application/json"]["schema"]["$ref"], "#/components/schemas/ErrorBody",
                    "{method} {path} {status}: errors are ErrorBody"
                );
            }
        }
    }
}

struct Client<'a> {
    doc: &'a Value,
    addr: String,
    called: BTreeSet<(String, String)>,
}

impl Client<'_> {
    /// Calls `method url` as the document's operation at `template`: the request body and the answer
    /// are checked against the document.
    fn call(&mut self, method: &str, template: &str, url: &str, body: Option<&Value>) -> Reply {
        let op = &self.doc["paths"][template][method.to_lowercase()];
        assert!(op.is_object(), "{method} {template} is not documented");
        if let Some(b) = body {
            let schema = &op["requestBody"]["content"]["application/json"]["schema"];
            assert!(schema.is_object(), "{method} {template}: no JSON request body documented");
            check(self.doc, schema, b, "request", false).unwrap_or_else(|e| panic!("{method} {template}: {e}"));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let r = request(&self.addr, method, url, &bytes, None);
        let documented = &op["responses"][r.status.to_string()];
        assert!(documented.is_object(), "{method} {url}: status {} is not documented: {}", r.status, r.text());
        let ctype = r.header("content-type").unwrap_or("").to_string();
        if ctype.starts_with("application/json") {
            let schema = &documented["content"]["application/json"]["schema"];
            assert!(schema.is_object(), "{method} {template} {}: JSON without a schema", r.status);
            check(self.doc, schema, &r.json(), "response", true)
                .unwrap_or_else(|e| panic!("{method} {url} {}: {e}\n{}", r.status, r.text()));
        } else if !r.body.is_empty() {
            let media = ctype.split(';').next().unwrap_or("");
            assert!(documented["content"][media].is_object(), "{method} {template}: {media} is not documented");
        }
        self.called.insert((method.to_lowercase(), template.to_string()));
        r
    }
}

#[test]
fn the_generated_document_describes_every_operation_the_server_answers() {
    let data = temp_dir("openapi");
    let srv = Server::start(&data, &[]);
    let doc = get(&srv.addr, "/api/openapi.json").json();
    well_formed(&doc);
    let mut c = Client { doc: &doc, addr: srv.addr.clone(), called: BTreeSet::new() };

    c.call("GET", "/api/health", "/api/health", None);
    c.call("GET", "/api/openapi.json", "/api/openapi.json", None);
    c.call("GET", "/api/examples", "/api/examples", None);
    let v = c.call("GET", "/api/examples/video", "/api/examples/video", None).json();
    assert_eq!(v["videos"][0]["name"], "TUD-Campus", "{v}");
    let gt = c.call("GET", "/api/examples/video/{name}/{file}", "/api/examples/video/TUD-Campus/gt.txt", None);
    assert!(gt.text().starts_with("1,1,"), "{}", gt.text());
    let r = c.call(
        "GET",
        "/api/examples/video/{name}/{file}",
        "/api/examples/video/TUD-Campus/..%2F..%2Fminilm.safetensors",
        None,
    );
    assert_eq!(r.status, 404);
    assert_eq!(c.call("GET", "/api/examples/digits/{n}", "/api/examples/digits/2", None).body.len(), 2 * 784);
    assert_eq!(c.call("GET", "/api/examples/digits/{n}", "/api/examples/digits/99", None).status, 400);
    assert_eq!(c.call("GET", "/api/examples/mnist/{n}", "/api/examples/mnist/3", None).body.len(), 3 * 785);
    assert_eq!(c.call("GET", "/api/examples/mnist/{n}", "/api/examples/mnist/0", None).status, 400);
    // Video files: uploaded (raw text, checked against the documented answer), listed, read, named by a
    // job whose specification is checked against the schema, deleted.
    let up = request(&c.addr, "POST", "/api/videos?name=campus&role=gt", &gt.body, None);
    assert_eq!(up.status, 201, "{}", up.text());
    c.called.insert(("post".into(), "/api/videos".into()));
    let schema = &doc["paths"]["/api/videos"]["post"]["responses"]["201"]["content"]["application/json"]["schema"];
    check(&doc, schema, &up.json(), "video", true).unwrap();
    let vid = up.json()["id"].as_str().unwrap().to_string();
    c.call("GET", "/api/videos", "/api/videos?limit=5", None);
    c.call("GET", "/api/videos/{id}", &format!("/api/videos/{vid}"), None);
    assert_eq!(c.call("GET", "/api/videos/{id}/text", &format!("/api/videos/{vid}/text"), None).body, gt.body);
    let spec = json!({"kind": "mot", "gt": {"upload": vid}, "hyp": {"example": "TUD-Campus/test.txt"}});
    let vjob = c.call("POST", "/api/jobs", "/api/jobs", Some(&spec)).json()["id"].as_str().unwrap().to_string();
    wait_for(&c.addr, &vjob, "the mot job", |j| j["state"] == "succeeded");
    assert_eq!(c.call("DELETE", "/api/videos/{id}", &format!("/api/videos/{vid}"), None).status, 204);
    assert_eq!(c.call("GET", "/api/videos/{id}", &format!("/api/videos/{vid}"), None).status, 404);
    let r = c.call("POST", "/api/examples/{name}", "/api/examples/minilm", None);
    assert_eq!(r.status, 201, "{}", r.text());
    let id = r.json()["id"].as_str().unwrap().to_string();
    let tiny = lowbit_core::readers::safetensors::write(
        &[lowbit_core::readers::safetensors::WriteTensor::f32("extra.weight", &[4, 4], &[0.5; 16])],
        &Default::default(),
    )
    .unwrap();
    let r = request(&c.addr, "POST", &format!("/api/checkpoints/{id}/shards?name=extra.safetensors"), &tiny, None);
    assert_eq!(r.status, 201, "{}", r.text());
    c.called.insert(("post".into(), "/api/checkpoints/{id}/shards".into()));
    check(&doc, &doc["paths"]["/api/checkpoints/{id}/shards"]["post"]["responses"]["201"]["content"]["application/json"]["schema"], &r.json(), "shard", true).unwrap();
    let other = request(&c.addr, "POST", "/api/checkpoints?name=other", &crate::util::minilm_shards()[1], None);
    assert_eq!(other.status, 201);
    c.called.insert(("post".into(), "/api/checkpoints".into()));
    let other = other.json()["id"].as_str().unwrap().to_string();
    c.call("GET", "/api/checkpoints", "/api/checkpoints?limit=5", None);
    c.call("GET", "/api/checkpoints/{id}", &format!("/api/checkpoints/{id}"), None);
    c.call("GET", "/api/checkpoints/{id}/tensors", &format!("/api/checkpoints/{id}/tensors"), None);
    let d = c.call("GET", "/api/diff", &format!("/api/diff?a={id}&b={id}"), None);
    assert_eq!(d.status, 200);
    assert!(d.json()["diff"]["pairs"].as_array().is_some_and(|p| !p.is_empty()));
    assert_eq!(c.call("GET", "/api/diff", &format!("/api/diff?a={id}&b=nope"), None).status, 404);
    let t = "encoder.layer.0.attention.self.query.weight";
    let base = format!("/api/checkpoints/{id}/tensors/{t}");
    c.call(
        "GET",
        "/api/checkpoints/{id}/tensors/{tensor}/histogram",
        &format!("{base}/histogram?scale=linear&bins=20"),
        None,
    );
    c.call("GET", "/api/checkpoints/{id}/tensors/{tensor}/sample", &format!("{base}/sample?n=100"), None);
    let r = c.call("GET", "/api/checkpoints/{id}/tensors/{tensor}/raw", &format!("{base}/raw"), None);
    assert_eq!(r.body.len(), 384 * 384 * 4);
    let r = c.call("GET", "/api/checkpoints/{id}/tensors/{tensor}/activations", &format!("{base}/activations"), None);
    assert_eq!(r.status, 422, "MiniLM is not the digit CNN: {}", r.text());
    let cnn = c.call("POST", "/api/examples/{name}", "/api/examples/digit-cnn", None).json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let url = format!("/api/checkpoints/{cnn}/tensors/conv_layers.3.weight/activations?images=2");
    let r = c.call("GET", "/api/checkpoints/{id}/tensors/{tensor}/activations", &url, None);
    assert_eq!((r.header("x-lowbit-shape"), r.header("x-lowbit-input-relu")), (Some("[2,32,14,14]"), Some("true")));
    assert_eq!(r.body.len(), 2 * 32 * 14 * 14 * 4);
    let analysis = json!({"checkpoint": id, "tensor": t, "config": {"format": "int", "bits": 4, "granularity": "channel", "clip": "octav"}, "prune": {"pattern": "2:4"}});
    c.call("POST", "/api/analyze", "/api/analyze", Some(&analysis));
    assert_eq!(c.call("DELETE", "/api/checkpoints/{id}", &format!("/api/checkpoints/{other}"), None).status, 204);

    // A job cancelled at once, re-run, and followed to its end.
    let spec =
        json!({"kind": "export", "checkpoint": id, "config": {"format": "int", "bits": 8}, "tensor": "attention"});
    let jid = c.call("POST", "/api/jobs", "/api/jobs", Some(&spec)).json()["id"].as_str().unwrap().to_string();
    let job = format!("/api/jobs/{jid}");
    let r = c.call("DELETE", "/api/jobs/{id}", &job, None);
    assert!(r.status == 200 || r.status == 409, "{}", r.text());
    wait_for(&c.addr, &jid, "the cancelled job", |j| j["state"] != "queued" && j["state"] != "running");
    let r = c.call("POST", "/api/jobs/{id}/rerun", &format!("{job}/rerun"), Some(&json!({"fresh": true})));
    assert_eq!(r.status, if r.status == 409 { 409 } else { 200 });
    let events = c.call("GET", "/api/jobs/{id}/events", &format!("{job}/events"), None);
    for data in events.text().lines().filter_map(|l| l.strip_prefix("data:")) {
        let ev: Value = serde_json::from_str(data.trim()).unwrap();
        let schema =
            &doc["paths"]["/api/jobs/{id}/events"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"];
        check(&doc, schema, &ev, "event", true).unwrap();
    }
    wait_for(&c.addr, &jid, "the re-run job", |j| j["state"] == "succeeded");
    c.call("GET", "/api/jobs", "/api/jobs?limit=10&offset=0", None);
    c.call("GET", "/api/jobs/{id}", &job, None);
    c.call("GET", "/api/jobs/{id}/results", &format!("{job}/results"), None);
    c.call("GET", "/api/jobs/{id}/metrics", &format!("{job}/metrics"), None);
    let arts = c.call("GET", "/api/jobs/{id}/artifacts", &format!("{job}/artifacts"), None).json();
    let url = arts["artifacts"][0]["url"].as_str().unwrap().to_string();
    let r = c.call("GET", "/api/jobs/{id}/artifacts/{name}", &url, None);
    assert!(lowbit_core::readers::read(&r.body).is_ok());

    // Experiments: kept from the job and from the analysis, listed, exported, shared.
    let e = c.call("POST", "/api/experiments", "/api/experiments", Some(&json!({"name": "export", "job": jid}))).json();
    let a = c
        .call("POST", "/api/experiments", "/api/experiments", Some(&json!({"name": "one", "analysis": analysis})))
        .json();
    let (eid, aid) = (e["id"].as_str().unwrap(), a["id"].as_str().unwrap());
    c.call("GET", "/api/experiments", "/api/experiments?kind=export", None);
    c.call("GET", "/api/experiments/{id}", &format!("/api/experiments/{eid}"), None);
    for f in ["csv", "parquet", "json"] {
        c.call("GET", "/api/experiments/{id}/export", &format!("/api/experiments/{eid}/export?format={f}"), None);
    }
    c.call("GET", "/api/experiments/export", &format!("/api/experiments/export?ids={eid},{aid}&format=json"), None);
    let share = a["share_id"].as_str().unwrap();
    c.call("GET", "/api/shared/{share}", &format!("/api/shared/{share}"), None);
    c.call("GET", "/api/shared/{share}/export", &format!("/api/shared/{share}/export?format=csv"), None);
    c.call("GET", "/api/shared/{share}/tensor", &format!("/api/shared/{share}/tensor"), None);
    c.call("GET", "/e/{share}", &format!("/e/{share}"), None);

    // Errors are documented answers too.
    c.call("GET", "/api/jobs/{id}", "/api/jobs/nope", None);
    c.call(
        "POST",
        "/api/jobs",
        "/api/jobs",
        Some(&json!({"kind": "export", "checkpoint": id, "config": {"format": "int", "bits": 99}})),
    );
    c.call("GET", "/api/checkpoints/{id}/tensors/{tensor}/sample", &format!("{base}/sample?n=0"), None);

    let all: BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), p.clone())))
        .collect();
    let missed: Vec<_> = all.difference(&c.called).collect();
    assert!(missed.is_empty(), "operations the test did not call: {missed:?}");
}

#[test]
fn the_checker_refuses_what_a_schema_does_not_allow() {
    let doc = json!({"components": {"schemas": {
        "Job": {"type": "object", "required": ["id", "state"], "properties": {
            "id": {"type": "string"}, "state": {"type": "string", "enum": ["queued", "running"]},
            "done": {"type": ["integer", "null"]}, "tags": {"type": "array", "items": {"type": "string"}}}},
        "Flat": {"allOf": [{"$ref": "#/components/schemas/Job"}, {"type": "object", "properties": {"extra": {"type": "boolean"}}}]}}}});
    let job = json!({"$ref": "#/components/schemas/Job"});
    let ok = |v: Value| check(&doc, &job, &v, "v", true);
    assert!(ok(json!({"id": "a", "state": "queued", "done": null, "tags": ["x"]})).is_ok());
    assert!(ok(json!({"id": "a"})).unwrap_err().contains("required `\"state\"`"));
    assert!(ok(json!({"id": "a", "state": "lost"})).unwrap_err().contains("not one of"));
    assert!(ok(json!({"id": 1, "state": "queued"})).unwrap_err().contains("is not string"));
    assert!(ok(json!({"id": "a", "state": "queued", "done": 0.5})).is_err());
    assert!(ok(json!({"id": "a", "state": "queued", "tags": [1]})).unwrap_err().contains("tags[0]"));
    assert!(
        ok(json!({"id": "a", "state": "queued", "surprise": 1})).unwrap_err().contains("`surprise` is not declared")
    );
    let flat = json!({"$ref": "#/components/schemas/Flat"});
    assert!(check(&doc, &flat, &json!({"id": "a", "state": "running", "extra": true}), "v", true).is_ok());
    assert!(check(&doc, &flat, &json!({"id": "a", "state": "running", "other": true}), "v", true).is_err());
}
