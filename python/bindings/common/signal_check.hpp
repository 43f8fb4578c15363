// Ctrl-C during long core calls: an optkern::Interrupt (optkern/interrupt.hpp) whose check
// takes the GIL for a moment and runs Python's signal handlers. A handler that raises
// (KeyboardInterrupt for SIGINT) stops the computation, and the core call rethrows its
// exception, which pybind11 raises in Python unchanged.
//
// The core calls the check on the thread that called it, at most every 50 ms, so a kernel
// runs at full speed in between. Python runs signal handlers only in the main thread: on any
// other thread the first check finds that out and the following ones cost nothing.
#pragma once

#include <pybind11/pybind11.h>

#include <chrono>

#include "optkern/interrupt.hpp"

namespace optkern::bindings {

namespace py = pybind11;

class SignalCheck {
 public:
  SignalCheck() : interrupt_([this] { return check(); }, std::chrono::milliseconds(50)) {}
  SignalCheck(const SignalCheck&) = delete;
  SignalCheck& operator=(const SignalCheck&) = delete;

  // For the core call, made with the GIL released.
  Interrupt* get() { return &interrupt_; }

 private:
  bool check() {
    if (thread_ == Thread::other) return false;
    py::gil_scoped_acquire gil;
    if (thread_ == Thread::unknown) {
      const auto main = py::module_::import("threading").attr("main_thread")().attr("ident");
      thread_ =
          main.cast<unsigned long>() == PyThread_get_thread_ident() ? Thread::main : Thread::other;
      if (thread_ == Thread::other) return false;
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    return false;
  }

  enum class Thread { unknown, main, other };
  Thread thread_ = Thread::unknown;
  Interrupt interrupt_;
};

}  // namespace optkern::bindings
