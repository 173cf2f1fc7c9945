//! Execution providers: parsing `--device`, registering it strictly, and the loud fallback to CPU.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// What the user asked to run on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
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
            "cpu" => Ok(Device::Cpu),
            "cuda" | "gpu" => Ok(Device::Cuda(id)),
            "tensorrt" | "trt" => Ok(Device::TensorRt(id)),
            _ => Err(format!("unknown device {s:?}: use cpu, cuda[:N] or tensorrt[:N]")),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "CPU"),
            Device::Cuda(n) => write!(f, "CUDA:{n}"),
            Device::TensorRt(n) => write!(f, "TensorRT:{n}"),
        }
    }
}

/// The outcome of asking for a device: what runs, and why not what was asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Placement {
    pub requested: Device,
    pub in_use: Device,
    /// Set when the request could not be honoured; shown on stderr and in the HUD.
    pub fallback_reason: Option<String>,
}

impl Placement {
    pub fn label(&self) -> String {
        match &self.fallback_reason {
            None => self.in_use.to_string(),
            Some(_) => format!("{} (fallback: {} unavailable)", self.in_use, self.requested),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{requested} execution provider is unavailable: {reason}; --strict-device forbids running on CPU instead. Install the GPU build of ONNX Runtime (`make gpu-check` shows how) or drop --strict-device")]
pub struct StrictDeviceError {
    pub requested: Device,
    pub reason: String,
}

/// Decides what runs after trying to register the requested provider (`registration` is its error,
/// if any). Pure, so the policy is unit-tested where no GPU exists.
pub fn place(
    requested: Device,
    registration: Result<(), String>,
    strict: bool,
) -> Result<Placement, StrictDeviceError> {
    match registration {
        Ok(()) => Ok(Placement { in_use: requested.clone(), requested, fallback_reason: None }),
        Err(reason) if strict => Err(StrictDeviceError { requested, reason }),
        Err(reason) => Ok(Placement { requested, in_use: Device::Cpu, fallback_reason: Some(reason) }),
    }
}

/// ort providers to register for a device, most preferred first; each errors instead of silently
/// falling back. TensorRT runs INT8 graphs natively and caches its engines next to the model.
pub fn providers(device: &Device, int8: bool, engine_cache: PathBuf) -> Vec<ort::ep::ExecutionProviderDispatch> {
    use ort::ep::{TensorRT, CUDA};
    match device {
        Device::Cpu => Vec::new(),
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
        assert!("tpu".parse::<Device>().unwrap_err().contains("cpu, cuda[:N] or tensorrt[:N]"));
        assert!("cuda:x".parse::<Device>().is_err());
    }

    #[test]
    fn falls_back_loudly_or_refuses_when_strict() {
        let ok = place(Device::Cuda(0), Ok(()), true).unwrap();
        assert_eq!((ok.in_use, ok.fallback_reason), (Device::Cuda(0), None));

        let missing = Err("CUDA execution provider is not enabled in this build".to_string());
        let fb = place(Device::Cuda(0), missing.clone(), false).unwrap();
        assert_eq!(fb.in_use, Device::Cpu);
        assert_eq!(fb.label(), "CPU (fallback: CUDA:0 unavailable)");
        assert!(fb.fallback_reason.unwrap().contains("not enabled"));

        let err = place(Device::TensorRt(0), missing, true).unwrap_err();
        assert!(err.to_string().contains("--strict-device"));
    }
}
