#include "runtime/autocast.h"

#include <ATen/autocast_mode.h>
#include <torch/version.h>

namespace headcount {

namespace {

#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
bool enabled(c10::DeviceType type) { return at::autocast::is_autocast_enabled(type); }
void set_enabled(c10::DeviceType type, bool on) { at::autocast::set_autocast_enabled(type, on); }
c10::ScalarType dtype(c10::DeviceType type) { return at::autocast::get_autocast_dtype(type); }
void set_dtype(c10::DeviceType type, c10::ScalarType value) { at::autocast::set_autocast_dtype(type, value); }
#else
bool enabled(c10::DeviceType type) {
  return type == c10::DeviceType::CPU ? at::autocast::is_cpu_enabled() : at::autocast::is_enabled();
}
void set_enabled(c10::DeviceType type, bool on) {
  type == c10::DeviceType::CPU ? at::autocast::set_cpu_enabled(on) : at::autocast::set_enabled(on);
}
c10::ScalarType dtype(c10::DeviceType type) {
  return type == c10::DeviceType::CPU ? at::autocast::get_autocast_cpu_dtype() : at::autocast::get_autocast_gpu_dtype();
}
void set_dtype(c10::DeviceType type, c10::ScalarType value) {
  type == c10::DeviceType::CPU ? at::autocast::set_autocast_cpu_dtype(value) : at::autocast::set_autocast_gpu_dtype(value);
}
#endif

}  // namespace

bool cpu_autocast_enabled() { return enabled(c10::DeviceType::CPU); }

AutocastScope::AutocastScope(const Runtime& runtime) {
  if (!runtime.mixed()) return;
  active_ = true;
  device_type_ = runtime.device.type();
  was_enabled_ = enabled(device_type_);
  was_dtype_ = dtype(device_type_);
  was_caching_ = at::autocast::is_autocast_cache_enabled();
  set_enabled(device_type_, true);
  set_dtype(device_type_, runtime.compute_dtype());
  // The cache keeps each weight's low-precision copy for the rest of the outermost scope:
  // a weight used by several products is cast once.
  at::autocast::set_autocast_cache_enabled(true);
  at::autocast::increment_nesting();
}

AutocastScope::~AutocastScope() {
  if (!active_) return;
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  set_enabled(device_type_, was_enabled_);
  set_dtype(device_type_, was_dtype_);
  at::autocast::set_autocast_cache_enabled(was_caching_);
}

}  // namespace headcount
