//! Video: what a detector's and a tracker's output cost in accuracy and in **delay** — reading annotations
//! and detections ([`files`]), AP and the Average Delay of the official VMetrics code ([`delay`]), CLEAR MOT
//! and identity metrics as motmetrics computes them ([`mot`]), a seeded synthetic detector for when no
//! detector can be run ([`synth`]), the CaTDet cascade of proposal detector, tracker and refinement
//! detector ([`catdet`]), and PatchNet's operation count and key-frame policies ([`patchnet`]).
//! Frames are integers as the files number them; boxes are corner coordinates in pixels.

pub mod assign;
pub mod catdet;
pub mod delay;
pub mod files;
pub mod mot;
pub mod patchmatch;
pub mod patchnet;
pub mod synth;

/// A box by its corners (x1, y1) top left, (x2, y2) bottom right, in pixels.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

impl BBox {
    /// From left, top, width, height (MOTChallenge).
    pub fn from_ltwh(left: f64, top: f64, w: f64, h: f64) -> Self {
        Self { x1: left, y1: top, x2: left + w, y2: top + h }
    }
    pub fn width(&self) -> f64 {
        (self.x2 - self.x1).max(0.0)
    }
    pub fn height(&self) -> f64 {
        (self.y2 - self.y1).max(0.0)
    }
    pub fn area(&self) -> f64 {
        self.width() * self.height()
    }
    /// Intersection over union of continuous boxes (motmetrics, and the delay code's hit rule).
    pub fn iou(&self, o: &BBox) -> f64 {
        let iw = (self.x2.min(o.x2) - self.x1.max(o.x1)).max(0.0);
        let ih = (self.y2.min(o.y2) - self.y1.max(o.y1)).max(0.0);
        let inter = iw * ih;
        if inter == 0.0 {
            return 0.0;
        }
        inter / (self.area() + o.area() - inter)
    }
    /// Intersection over union of the PASCAL VOC code: boxes of pixel indices, so each side is one pixel
    /// longer (`w = x2 − x1 + 1`).
    pub fn iou_voc(&self, o: &BBox) -> f64 {
        let iw = self.x2.min(o.x2) - self.x1.max(o.x1) + 1.0;
        let ih = self.y2.min(o.y2) - self.y1.max(o.y1) + 1.0;
        if iw <= 0.0 || ih <= 0.0 {
            return 0.0;
        }
        let inter = iw * ih;
        let a = (self.x2 - self.x1 + 1.0) * (self.y2 - self.y1 + 1.0);
        let b = (o.x2 - o.x1 + 1.0) * (o.y2 - o.y1 + 1.0);
        inter / (a + b - inter)
    }
}

/// One ground-truth box of an object track.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct GtBox {
    pub frame: i64,
    pub track: i64,
    pub class: String,
    pub bbox: BBox,
}

/// One detection (or one box of a tracker's output, which carries an identity).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub frame: i64,
    pub class: String,
    /// Confidence; `None` when the file carries none (a tracker's output).
    pub score: Option<f64>,
    pub bbox: BBox,
    /// The tracker's identity, when it has one.
    pub id: Option<i64>,
}

/// A video: its ground truth and the detections evaluated on it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Video {
    pub name: String,
    pub gt: Vec<GtBox>,
    pub dets: Vec<Detection>,
}

/// The class MOTChallenge files give every box (they carry no class).
pub const MOT_CLASS: &str = "object";
