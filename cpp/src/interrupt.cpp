#include "optkern/interrupt.hpp"

#include <algorithm>

namespace optkern {
namespace {

// Clock reads aim at this much work apart; the stride never grows past kMaxStride polls.
constexpr Interrupt::Clock::duration kReadInterval = std::chrono::milliseconds(1);
constexpr long kMaxStride = 1L << 24;

}  // namespace

Interrupted::~Interrupted() = default;

Interrupt::Interrupt(std::function<bool()> should_stop, Clock::duration period)
    : should_stop_(std::move(should_stop)), period_(period) {
  if (should_stop_) {
    owner_ = std::this_thread::get_id();
    last_read_ = last_call_ = Clock::now();
  }
}

bool Interrupt::check() {
  const Clock::time_point now = Clock::now();
  // Scale the stride by how far this read was from the target interval (at most doubling,
  // so one fast stretch cannot push the next read far out).
  const double since = double(std::max<Clock::rep>((now - last_read_).count(), 1));
  const double ratio = std::min(2.0, double(kReadInterval.count()) / since);
  stride_ = std::clamp(long(double(stride_) * ratio), 1L, kMaxStride);
  countdown_ = stride_;
  last_read_ = now;
  if (stopped()) return true;
  if (now - last_call_ < period_) return false;
  last_call_ = now;
  try {
    if (should_stop_()) request_stop();
  } catch (...) {
    error_ = std::current_exception();
    request_stop();
  }
  return stopped();
}

void Interrupt::throw_if_stopped() const {
  if (!stopped()) return;
  if (error_) std::rethrow_exception(error_);
  throw Interrupted();
}

}  // namespace optkern
