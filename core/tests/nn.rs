//! The digit CNN of DATA.md runs on real MNIST: its accuracy shows the reader, the forward pass and the
//! data are all right (DATA.md: 99.06 % on the 10,000 test images in fp32).

use crate::util::{data, root};
use lowbit_core::nn::{DigitCnn, argmax};
use lowbit_core::readers;

/// The first `n` MNIST test images (784 bytes each as f32) and labels.
pub fn mnist(n: usize) -> (Vec<Vec<f32>>, Vec<usize>) {
    let _ = data("digit-cnn");
    let dir = std::env::var_os("LOWBIT_DATA").map(std::path::PathBuf::from).unwrap_or_else(|| root().join("data"));
    if !dir.join("mnist/t10k-images-idx3-ubyte").exists() {
        let ok = std::process::Command::new("bash")
            .arg(root().join("scripts/fetch-data.sh"))
            .arg("mnist")
            .status()
            .unwrap()
            .success();
        assert!(ok, "fetching MNIST failed");
    }
    let img = std::fs::read(dir.join("mnist/t10k-images-idx3-ubyte")).unwrap();
    let lab = std::fs::read(dir.join("mnist/t10k-labels-idx1-ubyte")).unwrap();
    let images = readers::read(&img).unwrap().tensors[0].to_f32().unwrap();
    let labels = readers::read(&lab).unwrap().tensors[0].to_f32().unwrap();
    (
        (0..n).map(|i| images[i * 784..(i + 1) * 784].to_vec()).collect(),
        labels[..n].iter().map(|&l| l as usize).collect(),
    )
}

#[test]
fn the_digit_cnn_classifies_mnist() {
    let bytes = std::fs::read(data("digit-cnn")).unwrap();
    let net = DigitCnn::from_checkpoint(&readers::read(&bytes).unwrap()).unwrap();
    let (images, labels) = mnist(300);
    let correct = images.iter().zip(&labels).filter(|(x, l)| argmax(&net.forward(x).unwrap().logits) == **l).count();
    // 99.06 % over 10k; on the first 300 a fully working pipeline misses at most a handful.
    assert!(correct >= 294, "{correct}/300 correct");
    let t = net.forward(&images[0]).unwrap();
    assert_eq!(t.conv_inputs.iter().map(|(_, h, w)| (*h, *w)).collect::<Vec<_>>(), vec![(28, 28), (14, 14), (7, 7)]);
    let density = |v: &[f32]| v.iter().filter(|&&x| x != 0.0).count() as f64 / v.len() as f64;
    assert!(density(&t.conv_inputs[1].0) < 0.9, "post-ReLU activations are sparse");
}
