// Stopping a long computation from outside: Ctrl-C in Python, a deadline, a cancel button.
//
// The long loops of the core (Sinkhorn iterations, L-BFGS iterations, Givens steps, TV IRLS
// iterations, the problems of a batch) take an optional `Interrupt*` and poll it once per unit
// of work. poll() costs a thread-id compare and a decrement: it reads the clock only every
// `stride` calls, a stride it adapts so that clock reads stay about a millisecond of work
// apart, and it calls the caller's should_stop() at most once per `period`. So a null or idle
// Interrupt leaves a kernel's speed unchanged.
//
// Threads. should_stop() runs only on the thread that created the Interrupt (the thread that
// called the entry point: inside an OpenMP region it is thread 0). The other threads of the
// kernel's parallel regions see its outcome through an atomic flag, and every kernel stops its
// threads together at a point where they agree (no exception ever leaves a parallel region).
// request_stop() may be called from any thread, e.g. by a watchdog.
//
// Outcome. An entry point that stops throws: the exception that should_stop() threw (so a
// Python binding can raise the pending KeyboardInterrupt itself), or optkern::Interrupted when
// should_stop() returned true or request_stop() was called. Outputs are then unspecified
// (partly written); inputs are untouched; objects the call ran on (a Givens engine) stay
// valid and usable. A stopped Interrupt stays stopped: use a new one for the next call.
#pragma once

#include <atomic>
#include <chrono>
#include <exception>
#include <functional>
#include <stdexcept>
#include <thread>
#include <utility>

namespace optkern {

class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("optkern: interrupted") {}
  // Out of line (interrupt.cpp), so that its type information exists once, in the library,
  // whichever SIMD level threw it.
  ~Interrupted() override;
};

class Interrupt {
 public:
  using Clock = std::chrono::steady_clock;

  // Never stops unless request_stop() is called.
  Interrupt() = default;

  // should_stop() returns true to stop (or throws the exception the call should end with).
  explicit Interrupt(std::function<bool()> should_stop,
                     Clock::duration period = std::chrono::milliseconds(50));

  Interrupt(const Interrupt&) = delete;
  Interrupt& operator=(const Interrupt&) = delete;

  // Whether the computation should stop. Any thread may poll: the creating thread runs the
  // (throttled) check, the others read its outcome.
  bool poll() {
    if (std::this_thread::get_id() != owner_) return stopped();
    if (--countdown_ > 0) return false;
    return check();
  }

  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  // Stops the computation at its next poll (any thread).
  void request_stop() { stopped_.store(true, std::memory_order_relaxed); }

  // Throws the stored exception or Interrupted once stopped; call outside parallel regions.
  void throw_if_stopped() const;

 private:
  bool check();

  std::function<bool()> should_stop_;
  Clock::duration period_{};
  std::thread::id owner_{};  // no thread: never checks
  long countdown_ = 1;
  long stride_ = 1;
  Clock::time_point last_read_{}, last_call_{};
  std::exception_ptr error_;
  std::atomic<bool> stopped_{false};
};

namespace detail {

// poll() of an optional Interrupt.
inline bool poll(Interrupt* interrupt) { return interrupt != nullptr && interrupt->poll(); }

inline void throw_if_stopped(const Interrupt* interrupt) {
  if (interrupt != nullptr) interrupt->throw_if_stopped();
}

}  // namespace detail
}  // namespace optkern
