//! Execution providers: parsing `--device`, registering it strictly, and the loud fallback to CPU.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// What the user asked to run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// TensorRT, then CUDA, then CPU: the first that loads.
    Auto,
    Cpu,
    Cuda(i32),
    TensorRt(i32),
}

impl FromStr for Device {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let (kind, id) = match s.split_once(':') {
            Some((k, n)) => (k, n.parse::<i32>().map_err(|_| format!("bad device index {n:?} in {s:?}"))?),
            None => (s, 0),
        };
        match kind.to_ascii_lowercase().as_str() {
            "auto" if id == 0 && !s.contains(':') => Ok(Device::Auto),
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(id)),
            "tensorrt" | "trt" => Ok(Device::TensorRt(id)),
            _ => Err(format!("unknown device {s:?}: use auto, cpu, cuda[:N] or tensorrt[:N]")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Auto => write!(f, "auto"),
            Device::Cpu => write!(f, "CPU"),
            Device::Cuda(n) => write!(f, "CUDA:{n}"),
            Device::TensorRt(n) => write!(f, "TensorRT:{n}"),
        }
    }
}

impl Device {
    /// The GPU providers to try, in order, before CPU (empty for CPU itself).
    pub fn attempts(&self) -> Vec<Device> {
        match self {
            Device::Auto => vec![Device::TensorRt(0), Device::Cuda(0)],
            Device::Cpu => Vec::new(),
            d => vec![d.clone()],
        }
    }
}

/// The outcome of asking for a device: what runs, and why not what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub requested: Device,
    pub in_use: Device,
    /// Set when an explicitly requested device could not be had; shown on stderr and in the HUD.
    pub fallback_reason: Option<String>,
    /// `--device auto`: each provider tried before the one in use, and why it did not load.
    pub passed_over: Vec<(Device, String)>,
}

/// The first sentence of an ONNX Runtime error, without the provider's long set-up advice.
fn short(reason: &str) -> &str {
    let r = reason.trim();
    r.split_once(". ").map_or(r, |(first, _)| first).trim_end_matches('.')
}

impl Placement {
    /// For the start-up line and the HUD, e.g. `CPU (auto: TensorRT:0, CUDA:0 unavailable)`.
    pub fn label(&self) -> String {
        match (&self.fallback_reason, self.requested == Device::Auto) {
            (Some(_), _) => format!("{} (fallback: {} unavailable)", self.in_use, self.requested),
            (None, true) if !self.passed_over.is_empty() => {
                let names: Vec<String> = self.passed_over.iter().map(|(d, _)| d.to_string()).collect();
                format!("{} (auto: {} unavailable)", self.in_use, names.join(", "))
            }
            (None, true) => format!("{} (auto)", self.in_use),
            (None, false) => self.in_use.to_string(),
        }
    }

    /// Why each provider `--device auto` passed over did not load, one clause each.
    pub fn why_passed_over(&self) -> Option<String> {
        if self.passed_over.is_empty() {
            return None;
        }
        let why: Vec<String> = self.passed_over.iter().map(|(d, r)| format!("{d}: {}", short(r))).collect();
        Some(why.join("; "))
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{requested} execution provider is unavailable: {reason}; --strict-device forbids running on CPU instead. Install the GPU build of ONNX Runtime (`make gpu-check` shows how) or drop --strict-device")]
pub struct StrictDeviceError {
    pub requested: Device,
    pub reason: String,
}

/// Decides what runs from the outcome of each provider tried, in the order of
/// [`Device::attempts`] (`Err` holds why it did not load); the first that loaded wins, else CPU.
/// Pure, so the policy is unit-tested where no GPU exists.
pub fn place(
    requested: Device,
    outcomes: Vec<(Device, Result<(), String>)>,
    strict: bool,
) -> Result<Placement, StrictDeviceError> {
    let mut passed_over = Vec::new();
    for (device, outcome) in outcomes {
        match outcome {
            Ok(()) => {
                let fallback_reason = None;
                return Ok(Placement { requested, in_use: device, fallback_reason, passed_over });
            }
            Err(reason) => passed_over.push((device, reason)),
        }
    }
    let reasons =
        || passed_over.iter().map(|(d, r)| format!("{d}: {}", r.trim_end_matches('.'))).collect::<Vec<_>>().join("; ");
    match requested {
        Device::Cpu => Ok(Placement { requested, in_use: Device::Cpu, fallback_reason: None, passed_over }),
        _ if strict => Err(StrictDeviceError { reason: reasons(), requested }),
        Device::Auto => Ok(Placement { requested, in_use: Device::Cpu, fallback_reason: None, passed_over }),
        _ => {
            let reason = passed_over.iter().map(|(_, r)| r.clone()).collect::<Vec<_>>().join("; ");
            Ok(Placement { requested, in_use: Device::Cpu, fallback_reason: Some(reason), passed_over: Vec::new() })
        }
    }
}

/// ort providers to register for one device; each errors instead of silently falling back.
/// TensorRT runs INT8 graphs natively and caches its engines next to the model.
pub fn providers(device: &Device, int8: bool, engine_cache: PathBuf) -> Vec<ort::ep::ExecutionProviderDispatch> {
    use ort::ep::{TensorRT, CUDA};
    match device {
        Device::Cpu | Device::Auto => Vec::new(),
        Device::Cuda(id) => vec![CUDA::default().with_device_id(*id).build().error_on_failure()],
        Device::TensorRt(id) => vec![
            TensorRT::default()
                .with_device_id(*id)
                .with_int8(int8)
                .with_fp16(!int8)
                .with_engine_cache(true)
                .with_engine_cache_path(engine_cache.display().to_string())
                .build()
                .error_on_failure(),
            // Nodes TensorRT cannot take run on CUDA rather than CPU.
            CUDA::default().with_device_id(*id).build().error_on_failure(),
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_devices() {
        assert_eq!("cpu".parse(), Ok(Device::Cpu));
        assert_eq!("cuda".parse(), Ok(Device::Cuda(0)));
        assert_eq!("cuda:1".parse(), Ok(Device::Cuda(1)));
        assert_eq!("TensorRT:2".parse(), Ok(Device::TensorRt(2)));
        assert!("tpu".parse::<Device>().unwrap_err().contains("auto, cpu, cuda[:N] or tensorrt[:N]"));
        assert!("cuda:x".parse::<Device>().is_err());
    }

    #[test]
    fn falls_back_loudly_or_refuses_when_strict() {
        let ok = place(Device::Cuda(0), vec![(Device::Cuda(0), Ok(()))], true).unwrap();
        assert_eq!((ok.in_use, ok.fallback_reason), (Device::Cuda(0), None));

        let missing = || Err("CUDA execution provider is not enabled in this build".to_string());
        let fb = place(Device::Cuda(0), vec![(Device::Cuda(0), missing())], false).unwrap();
        assert_eq!(fb.in_use, Device::Cpu);
        assert_eq!(fb.label(), "CPU (fallback: CUDA:0 unavailable)");
        assert!(fb.fallback_reason.unwrap().contains("not enabled"));

        let err = place(Device::TensorRt(0), vec![(Device::TensorRt(0), missing())], true).unwrap_err();
        assert!(err.to_string().contains("--strict-device"));
    }

    #[test]
    fn auto_takes_the_first_provider_that_loads() {
        assert_eq!("auto".parse(), Ok(Device::Auto));
        assert!("auto:1".parse::<Device>().is_err());
        assert_eq!(Device::Auto.attempts(), vec![Device::TensorRt(0), Device::Cuda(0)]);
        assert_eq!(Device::Cpu.attempts(), vec![]);

        let no_trt =
            Err("TensorRT execution provider is not enabled in this build. Rebuild with TensorRT.".to_string());
        let cuda =
            place(Device::Auto, vec![(Device::TensorRt(0), no_trt.clone()), (Device::Cuda(0), Ok(()))], false).unwrap();
        assert_eq!((cuda.in_use.clone(), cuda.fallback_reason.clone()), (Device::Cuda(0), None));
        assert_eq!(cuda.label(), "CUDA:0 (auto: TensorRT:0 unavailable)");
        assert_eq!(
            cuda.why_passed_over().unwrap(),
            "TensorRT:0: TensorRT execution provider is not enabled in this build"
        );

        // No GPU: CPU, not a fallback (no warning), but the reasons are kept.
        let no_cuda = Err("CUDA execution provider is not enabled in this build".to_string());
        let cpu =
            place(Device::Auto, vec![(Device::TensorRt(0), no_trt.clone()), (Device::Cuda(0), no_cuda.clone())], false)
                .unwrap();
        assert_eq!((cpu.in_use.clone(), cpu.fallback_reason.clone()), (Device::Cpu, None));
        assert_eq!(cpu.label(), "CPU (auto: TensorRT:0, CUDA:0 unavailable)");
        assert!(cpu.why_passed_over().unwrap().contains("CUDA:0: CUDA execution provider is not enabled"));

        // auto --strict-device asks for a GPU.
        let err =
            place(Device::Auto, vec![(Device::TensorRt(0), no_trt), (Device::Cuda(0), no_cuda)], true).unwrap_err();
        assert!(err.to_string().contains("--strict-device"));
        let plain = place(Device::Cpu, vec![], true).unwrap();
        assert_eq!((plain.label(), plain.in_use), ("CPU".to_string(), Device::Cpu));
    }
}
