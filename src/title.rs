//! Title clean-up, crash type from title, indicative frame from title.
//! (Being written: see issue 2.)

use serde::Serialize;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum CrashType {
    #[default]
    Unknown,
}

impl CrashType {
    pub fn as_str(&self) -> &'static str {
        "UNKNOWN"
    }
}

pub fn title_to_type(_title: &str) -> CrashType {
    CrashType::Unknown
}

pub fn sanitize_title(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

pub fn frame_from_title(_title: &str) -> String {
    String::new()
}
