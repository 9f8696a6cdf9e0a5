//! The hostile inputs of `hostile_files.rs` against core's readers: each is refused with a short error that
//! names a limit or the lie, within a small, measured amount of memory (a counting allocator tracks the
//! peak of live bytes while the reader runs) and without a crash.

mod hostile_files;

use lowbit_core::ErrorKind;
use lowbit_core::readers::{self, Limits};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let live = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
        PEAK.fetch_max(live, Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        if new > l.size() {
            let live = LIVE.fetch_add(new - l.size(), Ordering::Relaxed) + new - l.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        } else {
            LIVE.fetch_sub(l.size() - new, Ordering::Relaxed);
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

/// Serialises the measured tests (the counters are process-wide; `cargo test` runs tests on threads).
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner())
}

/// Reads `bytes` within `limits` on a small stack (as a worker thread would) and returns the error, the
/// peak of bytes allocated above what was live before, and the time taken.
fn refuse(bytes: &[u8], limits: Limits) -> (lowbit_core::Error, usize, f64) {
    let base = LIVE.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let t = Instant::now();
    let r = std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 10)
            .spawn_scoped(s, || readers::read_with(bytes, &limits).map(|c| c.tensors.len()))
            .expect("thread starts")
            .join()
            .expect("the reader does not panic or overflow its stack")
    });
    let secs = t.elapsed().as_secs_f64();
    let peak = PEAK.load(Ordering::Relaxed).saturating_sub(base);
    match r {
        Ok(n) => panic!("a hostile file was read ({n} tensors)"),
        Err(e) => (e, peak, secs),
    }
}

const MIB: usize = 1 << 20;

#[test]
fn every_hostile_file_is_refused_quickly_in_little_memory() {
    let _one = serial();
    for (name, bytes) in hostile_files::all() {
        for (which, limits) in [("server", Limits::default()), ("page", Limits::page())] {
            let (e, peak, secs) = refuse(&bytes, limits);
            println!(
                "{name} ({} bytes), {which} limits: {:?} in {secs:.3} s, peak {:.1} MiB: {}",
                bytes.len(),
                e.kind,
                peak as f64 / MIB as f64,
                e.message
            );
            // Case 8 inflates up to its declared 100 MB before the lie shows; everything else stops early.
            let bound = if name.starts_with("8-") { 101 * MIB } else { 48 * MIB };
            assert!(peak < bound, "{name}: peak {peak} bytes");
            assert!(secs < 5.0, "{name}: {secs} s");
            assert!(e.message.len() < 300, "{name}: a {}-byte message", e.message.len());
        }
    }
}

#[test]
fn each_hostile_file_is_refused_for_its_own_reason() {
    let _one = serial();
    let files = hostile_files::all();
    let why = |name: &str| {
        let bytes = &files.iter().find(|(n, _)| *n == name).expect("known file").1;
        refuse(bytes, Limits::default()).0
    };
    let e = why("1-deep-pickle.pth");
    assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("deeper than 100"), "{e}");
    assert!(why("2-broadcast-2e40.pth").message.contains("stride-0"));
    assert!(why("2-broadcast-2e28.pth").message.contains("stride-0"));
    assert!(why("3-wrapping-size.pth").message.contains("overflows"));
    assert!(why("4-billion-laughs.pth").message.contains("expand to more than"));
    let e = why("5-marks.pth");
    assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("stack grows past"), "{e}");
    assert!(why("6-shared-members.npz").message.contains("share bytes"));
    let e = why("7-bomb.npz");
    assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("inflates"), "{e}");
    assert!(why("8-lying-size.npz").message.contains("more than the 104857600 bytes it declares"));
    assert!(why("9-overlapping.safetensors").message.contains("share bytes"));
    let e = why("9-million-tensors.safetensors");
    assert!(e.kind == ErrorKind::LimitExceeded && e.message.contains("more than 100000 tensors"), "{e}");
}

#[test]
fn with_a_lower_ratio_floor_the_marks_meet_the_ratio_cap() {
    let _one = serial();
    // The first line of defence for larger members: 20 MB from 20 KB is refused before it is inflated.
    let files = hostile_files::all();
    let bytes = &files.iter().find(|(n, _)| *n == "5-marks.pth").expect("known").1;
    let (e, peak, _) = refuse(bytes, Limits { ratio_free_bytes: 1 << 20, ..Limits::default() });
    assert!(e.message.contains("more than 100:1"), "{e}");
    assert!(peak < MIB, "{peak}");
}

#[test]
fn the_decoded_budget_counts_every_member() {
    let _one = serial();
    // Four 20 MiB all-zero members (small on disk): under a 64 MiB budget the fourth is refused before it
    // is inflated; the default budget reads them all. The page's budget is the smaller one.
    let mut m = hostile_files::npy_header("(5242880,)");
    let n = m.len();
    m.resize(n + 20 * MIB, 0);
    let members: Vec<hostile_files::Member> =
        (0..4).map(|i| hostile_files::Member::deflated(&format!("m{i}.npy"), &m)).collect();
    drop(m);
    let z = hostile_files::zip(&members, 0);
    let (e, peak, _) = refuse(&z, Limits { max_decoded_bytes: 64 << 20, ..Limits::default() });
    assert_eq!(e.kind, ErrorKind::LimitExceeded, "{e}");
    assert!(e.message.contains("m3.npy") && e.message.contains("limit of 64 MiB"), "{e}");
    assert!(peak < 70 * MIB, "{peak}");
    let c = readers::read_with(&z, &Limits::default()).unwrap();
    assert_eq!(c.tensors.len(), 4);
    assert_eq!(c.tensors[3].numel(), 5242880);
    assert!(Limits::page().max_decoded_bytes < Limits::default().max_decoded_bytes);
}

/// With `LOWBIT_WRITE_SEEDS=1`, writes the fuzzing seeds into `fuzz/corpus/`: the hostile files small enough
/// to commit and small files derived from the real data of DATA.md (`scripts/fuzz.sh` adds the real files
/// themselves at run time). Without it, checks that the committed seeds are there.
#[test]
fn fuzz_seeds() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    if std::env::var_os("LOWBIT_WRITE_SEEDS").is_none() {
        let n = std::fs::read_dir(root.join("read")).map(|d| d.count()).unwrap_or(0);
        assert!(n >= 10, "fuzz/corpus/read holds {n} seeds; run LOWBIT_WRITE_SEEDS=1 cargo test --test hostile");
        return;
    }
    let _one = serial();
    let put = |target: &str, name: &str, bytes: &[u8]| {
        std::fs::create_dir_all(root.join(target)).unwrap();
        std::fs::write(root.join(target).join(name), bytes).unwrap();
    };
    for (name, bytes) in hostile_files::all() {
        if bytes.len() <= 64 << 10 {
            put("read", &format!("hostile-{name}"), &bytes);
        }
    }
    // Real values: a few rows of MiniLM's embeddings in each container lowbit reads.
    let minilm = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/minilm.safetensors"))
        .expect("scripts/fetch-data.sh minilm");
    let c = readers::read(&minilm).unwrap();
    let t = c.tensors.iter().find(|t| t.name == "embeddings.LayerNorm.bias").unwrap();
    let x = t.to_f32().unwrap();
    use lowbit_core::readers::{
        npy,
        safetensors::{WriteTensor, write},
    };
    let st = write(&[WriteTensor::f32("bias", &[24, 16], &x), WriteTensor::f32("b2", &[384], &x)], &Default::default())
        .unwrap();
    put("read", "real-minilm-bias.safetensors", &st);
    let a = npy::write_f32(&[24, 16], &x);
    put("read", "real-minilm-bias.npy", &a);
    let z = hostile_files::zip(
        &[hostile_files::Member::stored("a.npy", a.clone()), hostile_files::Member::deflated("b.npy", &a)],
        0,
    );
    put("read", "real-minilm-bias.npz", &z);
    let pkl = hostile_files::rebuild_pickle(384, &[24, 16], &[16, 1]);
    let bytes: Vec<u8> = x.iter().flat_map(|v| v.to_le_bytes()).collect();
    let pth = hostile_files::torch_zip(hostile_files::Member::stored("archive/data.pkl", pkl.clone()), &bytes);
    assert_eq!(readers::read(&pth).unwrap().tensors[0].to_f32().unwrap(), x);
    put("read", "real-minilm-bias.pth", &pth);
    let strided = hostile_files::rebuild_pickle(384, &[16, 24], &[1, 16]);
    put(
        "read",
        "real-minilm-bias-transposed.pth",
        &hostile_files::torch_zip(hostile_files::Member::stored("archive/data.pkl", strided), &bytes),
    );
    put("pickle", "rebuild.pkl", &pkl);
    let model = hostile_files::onnx(&[24, 16], &x);
    let c = readers::read(&model).unwrap();
    assert_eq!(c.tensors.len(), 2);
    assert!(c.tensors.iter().all(|t| t.to_f32().unwrap() == x));
    put("read", "real-minilm-bias.onnx", &model);
    let labels =
        std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist/t10k-labels-idx1-ubyte"))
            .expect("scripts/fetch-data.sh mnist");
    put("read", "real-mnist-labels.idx", &labels);
    // The real digit CNN's pickle (its storages stay in the whole file, which fuzz.sh adds).
    let cnn = std::fs::read(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/digit_cnn.pth"))
        .expect("digit_cnn.pth");
    let es = lowbit_core::readers::zip::entries(&cnn, &Limits::default()).unwrap();
    let e = es.iter().find(|e| e.name.ends_with("data.pkl")).unwrap();
    let p = lowbit_core::readers::zip::data(&cnn, e, &readers::Budget::new(Limits::default())).unwrap();
    put("pickle", "real-digit-cnn.pkl", &p);
    for (name, bytes) in hostile_files::all() {
        if let Some(pkl) = name.strip_suffix(".pth").filter(|_| bytes.len() <= 64 << 10) {
            let es = lowbit_core::readers::zip::entries(&bytes, &Limits::default()).unwrap();
            let e = es.iter().find(|e| e.name.ends_with("data.pkl")).unwrap();
            if let Ok(p) = lowbit_core::readers::zip::data(&bytes, e, &readers::Budget::new(Limits::default()))
                && p.len() <= 64 << 10
            {
                put("pickle", &format!("hostile-{pkl}.pkl"), &p);
            }
        }
    }
}
