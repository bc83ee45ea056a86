// The deployment engine: a pure function from (plan, state, observations,
// now) to (new state, actions). No clock reads, no I/O: the daemon gathers
// observations, calls step(), journals the result and executes the actions
// (ARCHITECTURE.md, "Functional core, imperative shell").
#pragma once

#include "runtime/plan/Plan.h"

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace dpl::runtime {

/// A version as deployd accepts it anywhere (release requests, the store,
/// adapters): 1–128 letters, digits, `.`, `_`, `+`, `-`, not starting with
/// `.` or `-`. Versions name directories, files and process arguments, so
/// nothing else (no `/`, no `..`) is ever let through.
bool validVersion(llvm::StringRef version);

/// A request to deploy `version` of `service`, in release order.
struct Release {
  std::string id, service, version, createdBy;
  int64_t createdAtMs = 0;
  std::string planHash; ///< the plan it was requested under ("" before issue 10)
};

enum class Health : uint8_t { Unknown, Healthy, Unhealthy };

/// What an adapter saw of one unit. An adapter that could not be read gives
/// `reachable = false`: the unit's state is unknown, never absent or healthy.
struct UnitObservation {
  bool reachable = true;
  std::string version;    ///< version running now ("" when nothing runs)
  Health health = Health::Unknown;
  bool applyFailed = false; ///< the adapter gave up on the last apply
  std::string applyError;   ///< why, for the journal
  bool degraded = false;    ///< some replica of `version` is not running (drift)
  /// Why the health is what it is ("GET http://127.0.0.1:19020/healthz →
  /// 503"), for the journal; may be empty.
  std::string message;
};

struct Observations {
  std::map<std::string, UnitObservation> units;              ///< by unit id
  /// "unit|release|group" → people who approved that release of that unit
  /// as members of that group. An approval counts only for a gate of the
  /// same group, and only while the person is still in it (plan changes).
  std::map<std::string, std::set<std::string>> approvals;
  std::map<std::string, bool> resources;                     ///< resource name → ready
  std::map<std::string, bool> tests;                         ///< "unit|release|state" → passed
  /// `metric` guards: "unit|state" → the query's latest value in the guard's
  /// base unit (a fraction for percentages, seconds for durations). A missing
  /// key is "no data", never a pass: it fails, or waits when `no_data = wait`.
  std::map<std::string, double> metrics;
  /// `alerts` guards: "unit|state" → names of the firing alerts that match
  /// the guard's labels (empty: none firing). A missing key is "no data" and
  /// fails.
  std::map<std::string, std::vector<std::string>> alerts;
};

enum class RunPhase : uint8_t {
  Waiting, Gated, Applying, Verifying, Succeeded, RollingBack, RolledBack, RollbackFailed, Halted,
};
const char *phaseName(RunPhase p);

/// One unit's progress on one release.
struct UnitRun {
  std::string release, version, previousVersion;
  RunPhase phase = RunPhase::Waiting;
  size_t state = 0;            ///< index into the plan unit's states, valid under `machine`
  /// PlanUnit::machine of the plan the run was last stepped under. When the
  /// unit's machine changes (a plan edit), `state` is re-resolved by phase:
  /// gates are re-evaluated from the start, verification restarts, never
  /// a state skipped (docs/deployd.md, "Plan changes").
  std::string machine;
  int64_t enteredAtMs = 0;     ///< when the current state was entered
  int64_t healthySinceMs = -1; ///< soak / metric `for`: start of the current passing stretch
  bool notified = false;       ///< resource: the one notification was sent
  bool testStarted = false;
  std::string waitingOn;       ///< why the run does not move, for `status`
  /// Since when the unit's adapter cannot be reached (-1: it can). Timers
  /// (apply, verification, rollback budgets) do not run while disconnected.
  int64_t disconnectedSinceMs = -1;
  /// Verifying: since when the target version has not been seen running
  /// with a known health (-1: it has). Bounded by the apply timeout.
  int64_t lostSinceMs = -1;
  /// Settled: since when the runtime differs from the desired version or
  /// reports it unhealthy (-1: converged), and when the next repair may be
  /// sent (exponential backoff, 5 s doubling to 5 min). `repairs` counts
  /// repairs since the drift began.
  int64_t driftSinceMs = -1, nextRepairMs = 0;
  int repairs = 0;
};

struct EngineState {
  std::vector<Release> releases;
  std::map<std::string, UnitRun> runs;        ///< by unit id
  std::map<std::string, std::string> lastGood; ///< unit id → version that last succeeded
  std::map<std::string, std::string> lastGoodRelease; ///< unit id → release that last succeeded
  /// Units a person rolled back by hand: no queued release re-deploys over
  /// them until they are resumed. unit id → who.
  std::map<std::string, std::string> pinned;
  /// Manual rollbacks requested (`deployd rollback`), executed at the next
  /// step. unit id → who.
  std::map<std::string, std::string> rollbackRequests;
  /// Hash of the plan the state was last stepped under: a different plan is
  /// a journalled plan change.
  std::string planHash;
};

struct Action {
  enum class Kind : uint8_t { Apply, Rollback, Notify, RunTest };
  Kind kind;
  std::string unit, release, version, detail;
  /// Idempotency key: the same action for the same unit and release is one.
  std::string key() const;
};

/// One recorded decision: which unit moved, from where to where, and why.
struct Transition {
  std::string unit, release, from, to, why;
};

struct StepResult {
  EngineState state;
  std::vector<Action> actions;
  std::vector<Transition> journal;
  /// When step() next needs to run although nothing is observed to change
  /// (a soak ends, a timeout expires, a window opens, a repair is due), in
  /// ms since the epoch; INT64_MAX when no timer is pending. The daemon
  /// still observes every tick (level-triggered); this only shortens the wait.
  int64_t nextRunAtMs = INT64_MAX;
};

/// Advances every unit as far as the observations allow. Deterministic: the
/// same inputs give the same outputs. `state` is taken by value: a caller
/// that needs the old state keeps a copy; the daemon moves it in.
StepResult step(const Plan &plan, EngineState state, const Observations &obs, int64_t nowMs);

} // namespace dpl::runtime
