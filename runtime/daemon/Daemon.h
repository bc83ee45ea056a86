// The imperative shell around the engine: each tick observes every unit
// through its adapter, calls step(), journals the decision and its action
// intents in one transaction, executes the intents and marks them done.
// Level-triggered: a missed tick or a crash between journal and execution
// loses nothing (pending intents are re-executed on start).
#pragma once

#include "runtime/adapters/Adapter.h"
#include "runtime/signals/SignalSource.h"
#include "runtime/store/Store.h"

#include <chrono>
#include <functional>
#include <map>
#include <memory>

namespace dpl::runtime {

struct TickReport {
  size_t actions = 0;
  size_t transitions = 0;
  bool busy = false; ///< some unit is applying, verifying or rolling back
  int64_t nextRunAtMs = INT64_MAX; ///< StepResult::nextRunAtMs
};

class Daemon {
public:
  Daemon(const Plan &plan, Store &store, std::function<void(const std::string &)> log);
  ~Daemon();

  /// Adds a source of signals, observed every tick after the built-in ones
  /// (runtime, tests, approvals and resources).
  void addSource(std::unique_ptr<SignalSource> source);
  /// Re-executes intents journalled but not marked done (after a crash).
  llvm::Error replayPending(int64_t nowMs);
  /// One reconcile tick at `nowMs`.
  llvm::Expected<TickReport> tick(int64_t nowMs);
  /// `deployd down`: stops every unit's workload through its adapter (the
  /// engine state is left as it is; a later `run` with self_heal on starts
  /// them again). Returns the number of units whose runtime could not be
  /// stopped.
  size_t stopAll();
  /// Stops the workloads of `units` (units of an older plan: `prune`).
  size_t stopUnits(const std::vector<const PlanUnit *> &units);
  /// Locks every runtime target (workdir, static root) of the plan for the
  /// life of this daemon (`<target>/.deployd.lock`, flock). An error names
  /// a target another deployd holds; a target that cannot be created is
  /// left to its adapter, which reports it disconnected.
  llvm::Error lockTargets();

private:
  llvm::Expected<TickReport> tickOnce(int64_t nowMs);
  /// The adapter of the unit's environment and runtime kind (made on first
  /// use from the registry); null for a kind without an adapter.
  Adapter *adapterFor(const PlanUnit &unit);
  void execute(const Action &a, int64_t nowMs);
  bool startTest(const Action &a);
  void reapTests(int64_t nowMs);

  const Plan &plan_;
  Store &store_;
  std::function<void(const std::string &)> log_;
  std::map<std::string, std::unique_ptr<Adapter>> adapters_; ///< "env|kind" → adapter
  std::vector<int> targetLocks_;
  std::vector<std::unique_ptr<SignalSource>> sources_;
  std::map<std::string, std::string> applyFailed_; ///< unit → why the last apply failed
  std::map<std::string, bool> tests_;       ///< "unit|release|state" → passed
  struct RunningTest {
    int pid;
    std::chrono::steady_clock::time_point deadline;
    Action action;
  };
  std::vector<RunningTest> running_;        ///< tests started, not yet reaped
};

} // namespace dpl::runtime
