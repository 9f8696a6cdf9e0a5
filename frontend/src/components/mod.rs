//! Reusable widgets: the chart, the quantization controls, the tab bar, banners, the theme switch, the
//! tensor picker.

pub mod banners;
pub mod chart;
pub mod controls;
pub mod tabs;
pub mod tensor_picker;
pub mod theme;
