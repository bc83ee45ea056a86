// The plan as the runtime sees it: a typed, validated `deployc.plan/v1`
// (see docs/plan-format.md). Loading never crashes: every problem is an
// error that names the JSON path (`units[3].states[2].next`).
#pragma once

#include <llvm/ADT/StringMap.h>
#include <llvm/Support/Error.h>
#include <llvm/Support/JSON.h>

#include <string>
#include <vector>

namespace dpl::runtime {

inline constexpr const char *kPlanSchema = "deployc.plan/v1";

/// One step of a unit's state machine.
struct PlanState {
  std::string name;
  std::string kind;        ///< wait | gate | apply | verify | success | rollback | failed
  std::string next;        ///< "" for terminal states
  std::string onFailure;   ///< "" when the state cannot fail
  std::string guard;       ///< gate/verify: guard kind ("health" for the health check)
  llvm::json::Object params;           ///< gate/verify parameters, base units
  double timeoutSeconds = 0;           ///< apply/rollback budget in seconds
  std::vector<std::string> waitsFor;   ///< wait: unit ids
  bool blocksDownstream = false, notify = false, awaitsPerson = false;
};

/// What a state *is*, independent of its position: kind, guard and
/// parameters (gate/verify), timeout (apply/rollback), name (terminal).
/// Stored progress refers to states by this, never by index (issue 10.1).
std::string stateIdentity(const PlanState &s);

struct PlanUnit {
  std::string id, service, environment;
  llvm::json::Object config;   ///< resolved service fields, base units
  llvm::json::Value runtime = nullptr;  ///< runtime binding (object with "kind")
  std::vector<std::string> waitsFor;
  std::vector<PlanState> states;
  llvm::json::Value provenance = nullptr; ///< informational, kept verbatim
  /// Identity of the whole state machine (a hash of every state's
  /// identity, in order): a run made under another machine is re-resolved.
  /// loadPlan fills it; computeMachine() for a unit assembled by hand.
  std::string machine;
  void computeMachine();
  const PlanState *state(llvm::StringRef name) const;
};

struct PlanEnvironment {
  std::string name;
  std::vector<std::string> after;
  llvm::json::Object fields;   ///< every other field (tier, region, runtime …)
};

struct PlanGroup {
  std::string name, owner;
  std::vector<std::string> members;
};

struct PlanService {
  std::string name, owner, file;
  std::vector<std::string> dependsOn;
};

struct Plan {
  std::string schema;
  std::string hash;  ///< "sha256:…" over the canonical JSON without "hash"
  std::vector<PlanEnvironment> environments;
  std::vector<PlanGroup> groups;
  std::vector<PlanService> services;
  std::vector<PlanUnit> units;
  /// Unit id → index in `units`. loadPlan fills it; a plan assembled by
  /// hand calls indexUnits() once its units are in place. Readers check
  /// hasUnitIndex() and fall back to a search (or, in the engine, to an
  /// index of their own) when it is stale.
  llvm::StringMap<size_t> unitIndex;
  void indexUnits();
  bool hasUnitIndex() const { return unitIndex.size() == units.size(); }
  const PlanUnit *unit(llvm::StringRef id) const;
  const PlanGroup *group(llvm::StringRef name) const;
};

/// `${version}` (and `$$` → `$`) substituted in a plan string: the one value
/// the compiler leaves to the runtime besides adapter values such as
/// `${port}` (docs/plan-format.md).
std::string substituteVersion(const std::string &text, const std::string &version);

/// Parses and validates a plan. Errors: not JSON, unknown schema version,
/// missing or wrongly typed field, dangling reference (unit, environment,
/// service, group, state), duplicate name, hash mismatch.
llvm::Expected<Plan> loadPlan(llvm::StringRef text);
/// Reads `path` and loads it; I/O errors name the file.
llvm::Expected<Plan> loadPlanFile(llvm::StringRef path);

/// The plan as JSON again (with its hash). For a plan written by
/// `deployc compile`, prettyJson(toJson(loadPlan(text))) == text.
llvm::json::Value toJson(const Plan &plan);

} // namespace dpl::runtime
