//! Reading video annotations and detections: MOTChallenge CSV (`frame, id, left, top, w, h, conf, x, y, z`)
//! and the KITTI-like text of the official delay code (ground truth: KITTI tracking labels, `frame track
//! type truncated occluded alpha x1 y1 x2 y2 …`; detections: `frame class score x1 y1 x2 y2`). The format is
//! told from the text. Every error names the file and the line.
//!
//! Rules: a ground-truth row whose `conf` is 0 is not considered (MOTChallenge marks ignored boxes so); a
//! detection row's `conf` is its score; frames must not go backwards; sizes must not be negative.

use super::{BBox, Detection, GtBox, MOT_CLASS};
use crate::error::{Error, Result};

/// What a file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    GroundTruth,
    /// Scored detections (for AP and delay): every row needs a score.
    Detections,
    /// A tracker's output (for MOT metrics): identities matter, scores are optional.
    Tracks,
}

fn err(name: &str, line: usize, what: impl std::fmt::Display) -> Error {
    Error::malformed(format!("{name} line {line}: {what}"))
}

fn fields(line: &str) -> Vec<&str> {
    if line.contains(',') { line.split(',').map(str::trim).collect() } else { line.split_whitespace().collect() }
}

fn number(name: &str, line: usize, col: &str, s: &str) -> Result<f64> {
    let v: f64 = s.parse().map_err(|_| err(name, line, format!("{col} `{s}` is not a number")))?;
    if !v.is_finite() {
        return Err(err(name, line, format!("{col} is not finite")));
    }
    Ok(v)
}

fn integer(name: &str, line: usize, col: &str, s: &str) -> Result<i64> {
    let v = number(name, line, col, s)?;
    if v.fract() != 0.0 || v.abs() > 1e15 {
        return Err(err(name, line, format!("{col} `{s}` is not a whole number")));
    }
    Ok(v as i64)
}

/// Is this MOTChallenge CSV (commas, or whitespace with a numeric second and third column and no class
/// word)? KITTI lines have a class word in the third column (ground truth) or second (detections).
fn is_mot(line: &str, first: &[&str]) -> bool {
    line.contains(',') || (first.len() >= 6 && first[..6].iter().all(|f| f.parse::<f64>().is_ok()))
}

/// The rows of a file, parsed as `role` says.
#[derive(Debug)]
pub struct Parsed {
    pub gt: Vec<GtBox>,
    pub dets: Vec<Detection>,
}

/// Reads `text` (the file called `name`, for messages) in whichever format it is.
pub fn parse(text: &str, name: &str, role: Role) -> Result<Parsed> {
    let mut out = Parsed { gt: Vec::new(), dets: Vec::new() };
    let mut last_frame = i64::MIN;
    let mut rows = 0usize;
    let mut mot = None;
    for (k, raw) in text.lines().enumerate() {
        let line = k + 1;
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let f = fields(t);
        let is_mot = *mot.get_or_insert_with(|| is_mot(t, &f));
        let (frame, row) = if is_mot { mot_row(&f, name, line, role)? } else { kitti_row(&f, name, line, role)? };
        if frame < last_frame {
            return Err(err(
                name,
                line,
                format!("frame {frame} comes after frame {last_frame} (frames must not go backwards)"),
            ));
        }
        last_frame = frame;
        rows += 1;
        match row {
            Row::Gt(g) => out.gt.extend(g),
            Row::Det(d) => out.dets.push(d),
        }
    }
    if rows == 0 {
        return Err(Error::malformed(format!("{name}: no rows (an empty sequence)")));
    }
    Ok(out)
}

enum Row {
    /// `None`: a ground-truth row that is not considered (conf 0, or KITTI's DontCare).
    Gt(Option<GtBox>),
    Det(Detection),
}

fn check_size(name: &str, line: usize, w: f64, h: f64) -> Result<()> {
    if w < 0.0 || h < 0.0 {
        return Err(err(name, line, format!("negative box size {w} × {h}")));
    }
    Ok(())
}

fn mot_row(f: &[&str], name: &str, line: usize, role: Role) -> Result<(i64, Row)> {
    if f.len() < 6 {
        return Err(err(
            name,
            line,
            format!("{} columns; MOTChallenge rows are frame, id, left, top, w, h, conf, …", f.len()),
        ));
    }
    let frame = integer(name, line, "frame", f[0])?;
    let id = integer(name, line, "id", f[1])?;
    let [l, t, w, h] =
        [("left", f[2]), ("top", f[3]), ("width", f[4]), ("height", f[5])].map(|(c, s)| number(name, line, c, s));
    let (l, t, w, h) = (l?, t?, w?, h?);
    check_size(name, line, w, h)?;
    let conf = f.get(6).map(|s| number(name, line, "conf", s)).transpose()?;
    let bbox = BBox::from_ltwh(l, t, w, h);
    let row = match role {
        Role::GroundTruth => {
            Row::Gt((conf != Some(0.0)).then(|| GtBox { frame, track: id, class: MOT_CLASS.into(), bbox }))
        }
        Role::Detections => {
            let score = match conf {
                Some(c) if c >= 0.0 => c,
                Some(_) => {
                    return Err(err(
                        name,
                        line,
                        "the detection has no score (conf is negative; a tracker's output carries none — `lowbit video synth` makes scored detections)",
                    ));
                }
                None => return Err(err(name, line, "the detection has no score (7th column)")),
            };
            Row::Det(Detection {
                frame,
                class: MOT_CLASS.into(),
                score: Some(score),
                bbox,
                id: (id >= 0).then_some(id),
            })
        }
        Role::Tracks => Row::Det(Detection {
            frame,
            class: MOT_CLASS.into(),
            score: conf.filter(|c| *c >= 0.0),
            bbox,
            id: Some(id),
        }),
    };
    Ok((frame, row))
}

fn kitti_row(f: &[&str], name: &str, line: usize, role: Role) -> Result<(i64, Row)> {
    let corners = |at: usize| -> Result<BBox> {
        let v: Vec<f64> =
            (0..4).map(|k| number(name, line, ["x1", "y1", "x2", "y2"][k], f[at + k])).collect::<Result<_>>()?;
        check_size(name, line, v[2] - v[0], v[3] - v[1])?;
        Ok(BBox { x1: v[0], y1: v[1], x2: v[2], y2: v[3] })
    };
    match role {
        Role::GroundTruth => {
            if f.len() < 10 {
                return Err(err(
                    name,
                    line,
                    format!(
                        "{} columns; KITTI labels are frame, track, type, truncated, occluded, alpha, x1, y1, x2, y2, …",
                        f.len()
                    ),
                ));
            }
            let frame = integer(name, line, "frame", f[0])?;
            let track = integer(name, line, "track id", f[1])?;
            let bbox = corners(6)?;
            let keep = track >= 0 && f[2] != "DontCare";
            Ok((frame, Row::Gt(keep.then(|| GtBox { frame, track, class: f[2].to_string(), bbox }))))
        }
        Role::Detections | Role::Tracks => {
            if f.len() < 7 {
                return Err(err(
                    name,
                    line,
                    format!("{} columns; detections are frame, class, score, x1, y1, x2, y2", f.len()),
                ));
            }
            let frame = integer(name, line, "frame", f[0])?;
            let score = number(name, line, "score", f[2])?;
            let bbox = corners(3)?;
            let id = f.get(7).map(|s| integer(name, line, "id", s)).transpose()?;
            Ok((frame, Row::Det(Detection { frame, class: f[1].to_string(), score: Some(score), bbox, id })))
        }
    }
}

/// Detections as MOTChallenge CSV rows (`frame,id,left,top,w,h,score,-1,-1,-1`; id −1 for plain detections).
pub fn write_mot(dets: &[Detection]) -> String {
    let mut s = String::new();
    for d in dets {
        s.push_str(&format!(
            "{},{},{:.2},{:.2},{:.2},{:.2},{:.4},-1,-1,-1\n",
            d.frame,
            d.id.unwrap_or(-1),
            d.bbox.x1,
            d.bbox.y1,
            d.bbox.width(),
            d.bbox.height(),
            d.score.unwrap_or(-1.0)
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_formats() {
        let gt = parse(
            "1,1,10,20,30,40,1,-1,-1,-1\n1,2,0,0,5,5,0,-1,-1,-1\n2,1,12,20,30,40,1,-1,-1,-1\n",
            "gt.txt",
            Role::GroundTruth,
        )
        .unwrap();
        assert_eq!(gt.gt.len(), 2, "the conf-0 row is not considered");
        assert_eq!(gt.gt[1].bbox, BBox { x1: 12.0, y1: 20.0, x2: 42.0, y2: 60.0 });
        let k = parse(
            "0 3 Car 0 0 -10 1 2 11 22 1 1 1 1 1 1 0\n0 -1 DontCare 0 0 0 0 0 5 5 0 0 0 0 0 0 0\n",
            "kitti",
            Role::GroundTruth,
        )
        .unwrap();
        assert_eq!((k.gt.len(), k.gt[0].class.as_str(), k.gt[0].track), (1, "Car", 3));
        let d = parse("0 Car 0.9 1 2 11 22\n1 Car 0.2 1 2 11 22\n", "det", Role::Detections).unwrap();
        assert_eq!(d.dets[1].score, Some(0.2));
        let back = parse(&write_mot(&d.dets), "again", Role::Detections).unwrap();
        assert_eq!(back.dets.len(), 2);
    }

    #[test]
    fn bad_rows_name_file_and_line() {
        let e = |t: &str, role| parse(t, "f.txt", role).unwrap_err().to_string();
        assert!(e("1,1,0,0,5\n", Role::GroundTruth).contains("f.txt line 1: 5 columns"));
        assert!(e("1,1,0,0,5,5,1\n1,1,0,0,-5,5,1\n", Role::GroundTruth).contains("line 2: negative box size"));
        assert!(e("2,1,0,0,5,5,1\n1,1,0,0,5,5,1\n", Role::GroundTruth).contains("line 2: frame 1 comes after frame 2"));
        assert!(e("1,1,0,0,5,5\n", Role::Detections).contains("no score"));
        assert!(e("1,1,0,0,5,5,-1\n", Role::Detections).contains("no score"));
        assert!(e("1,x,0,0,5,5,1\n", Role::GroundTruth).contains("line 1: id `x` is not a number"));
        assert!(e("1.5,1,0,0,5,5,1\n", Role::GroundTruth).contains("not a whole number"));
        assert!(e("\n# nothing\n", Role::GroundTruth).contains("no rows"));
        assert!(e("0 Car 0.9 1 2 0 22\n", Role::Detections).contains("negative box size"));
        assert!(e("1,1,0,0,nan,5,1\n", Role::GroundTruth).contains("not finite"));
    }
}
