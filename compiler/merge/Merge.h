// Merge phase (input aggregation): for every unit (service × environment)
// resolve each field from its ranked candidates, collect the guards every
// stakeholder requires, and check every applicable constraint. The rules are
// LANGUAGE.md's "Merging": stdlib default < `defaults` < service value <
// `in <predicate>` < `in <environment>`; the strongest wins; two different
// values at the same rank are a conflict.
#pragma once

#include "compiler/basic/Diagnostics.h"
#include "compiler/merge/Value.h"
#include "compiler/sema/Model.h"

#include <map>
#include <string>
#include <vector>

namespace dpl {

/// Candidate ranks, weakest first.
enum class Rank : uint8_t { StdlibDefault = 1, Defaults = 2, Service = 3, InPredicate = 4, InEnvironment = 5 };
const char *rankName(Rank r);

/// Where a value, guard or constraint came from.
struct Provenance {
  std::string file;         ///< path relative to the policy root ("" for the stdlib)
  unsigned line = 0, column = 0;
  std::string stakeholder;  ///< owner of the file ("" for the stdlib)
  std::string block;        ///< e.g. "service api", "service api, in prod-eu", "defaults", "rule prod-approval"
  llvm::SMRange range;      ///< source range (invalid for stdlib defaults)
};

struct Candidate {
  Value value;
  Rank rank;
  Provenance where;
};

/// A constraint evaluated for one unit.
struct ConstraintResult {
  const ast::Expr *expr = nullptr;
  std::string text;   ///< the constraint as written
  std::string rule;
  Provenance where;
  bool holds = true;  ///< false: violated; applicable() false: an operand was unset
  bool applicable = true;
};

struct ResolvedField {
  std::string name;
  Value value;
  Rank rank = Rank::StdlibDefault;
  Provenance where;
  std::vector<Candidate> overridden;          ///< weaker candidates, strongest first
  std::vector<std::string> constraints;       ///< texts of constraints that mention it and hold
};

struct ResolvedGuard {
  std::string kind;
  GuardPhase phase = GuardPhase::Gate;
  std::vector<std::pair<std::string, Value>> args; ///< every parameter, defaults filled in
  std::vector<Provenance> requiredBy;              ///< every `require` that asked for it
  std::string merged;                              ///< how duplicates were merged ("" if none)
};

struct Unit {
  std::string service, environment;
  std::vector<ResolvedField> fields;     ///< in schema order
  std::vector<ResolvedGuard> guards;     ///< gates then verifications, in first-required order
  std::vector<ConstraintResult> constraints;
  std::vector<std::string> waitsFor;     ///< "service@env" of units that must succeed first
  const ResolvedField *field(llvm::StringRef name) const {
    for (auto &f : fields)
      if (f.name == name)
        return &f;
    return nullptr;
  }
};

struct MergeResult {
  std::vector<Unit> units; ///< sorted by service, then environment
  /// Every environment evaluated once: a record with `name` and every
  /// environment field (stdlib defaults filled in, `${env.*}` resolved).
  std::map<std::string, Value> environments;
  const Unit *unit(llvm::StringRef service, llvm::StringRef env) const;
};

/// Receives the merge's output as it is produced, so that a caller can
/// write each unit and drop it (`deployc compile` streams the plan: 200 000
/// units with their provenance do not fit in memory). Units arrive in the
/// order of `MergeResult::units`; diagnostics may still follow the last one,
/// so a sink's output is final only if the merge reported no error.
class UnitSink {
public:
  virtual ~UnitSink() = default;
  /// Called once, before any unit: `environments` as in MergeResult.
  virtual void begin(const Model &model, const std::map<std::string, Value> &environments) = 0;
  /// Every unit, fully built (as with `keepUnits`), once.
  virtual void unit(Unit &&u) = 0;
};

/// Merges every unit of `model`. Conflicts (E600) and constraint violations
/// (E601) are reported to `diags`, once per distinct cause, with notes at
/// every location and its stakeholder. With `keepUnits` false every unit is
/// still merged and checked, with the same diagnostics, but `units` stays
/// empty and what only a kept unit shows is not built (file and line
/// provenance, overridden candidates, guards, constraint texts, waits_for):
/// `deployc check` needs only the diagnostics, and keeping 200 000 units
/// with their provenance costs gigabytes.
/// With a `sink`, every unit is built in full and handed to it instead of
/// kept (`units` stays empty).
MergeResult mergeProgram(const Model &model, DiagnosticEngine &diags, bool keepUnits = true,
                         UnitSink *sink = nullptr);

} // namespace dpl
