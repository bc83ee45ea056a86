// The seam for what the engine observes: each kind of signal is a source
// that adds its part to a tick's Observations. Today's sources live in the
// daemon (runtime versions and health through the adapters, test results,
// approvals and resources from the store); Prometheus and Alertmanager
// (RUNTIMES.md, *Signals*) are more sources, added with Daemon::addSource,
// never an edit to the engine or the tick.
#pragma once

#include "runtime/engine/Engine.h"

#include <llvm/Support/Error.h>

namespace dpl::runtime {

class SignalSource {
public:
  virtual ~SignalSource() = default;
  /// For the log: "runtime", "tests", "approvals and resources", …
  virtual const char *name() const = 0;
  /// Adds this tick's signals to `into`. On an error the daemon logs it and
  /// the tick goes on without them: a missing signal is no data, never a pass.
  virtual llvm::Error observe(const Plan &plan, int64_t nowMs, Observations &into) = 0;
};

} // namespace dpl::runtime
