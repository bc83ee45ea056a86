// Lowering: the merged program → the plan (`deployc.plan/v1`), the only
// input of the runtime. See docs/plan-format.md for the format.
#pragma once

#include "compiler/merge/Eval.h"
#include "compiler/merge/Merge.h"
#include "compiler/sema/Model.h"

#include <llvm/Support/JSON.h>
#include <llvm/Support/SHA256.h>
#include <llvm/Support/raw_ostream.h>

#include <map>
#include <string>

namespace dpl {

inline constexpr const char *kPlanSchema = "deployc.plan/v1";

/// Builds the plan object, including its "hash" (SHA-256 of the canonical
/// JSON of the plan without "hash"). Deterministic: the same policy gives the
/// same bytes whatever the order files were read in.
llvm::json::Value lowerPlan(const Model &model, const MergeResult &merged);

/// Writes the plan while the merge runs, one unit at a time: the same bytes
/// as prettyJson(lowerPlan(…)) with memory for one unit, not the whole plan
/// (the plan of 10 000 services × 20 environments is about 2 GB of JSON).
/// Give it to the merge as its UnitSink (CompileOptions::unitSink), then
/// call finish() if begin() was called. The stream must accept pwrite():
/// the "hash" member comes before "units" in the file, so finish() writes
/// it over a placeholder of the same length. Whether the plan is usable is
/// the caller's business: a merge that reported errors has still written
/// its units.
class PlanStreamWriter final : public UnitSink {
public:
  explicit PlanStreamWriter(llvm::raw_pwrite_stream &os) : os_(os) {}
  void begin(const Model &model, const std::map<std::string, Value> &environments) override;
  void unit(Unit &&u) override;
  /// Ends the document and writes the hash into it; returns the hash.
  /// Requires begin(); call once.
  std::string finish();
  bool begun() const { return begun_; }
  size_t unitsWritten() const { return units_; }

private:
  llvm::raw_pwrite_stream &os_;
  llvm::SHA256 hasher_;
  std::map<std::string, Value> envRuntime_;
  uint64_t hashOffset_ = 0;
  size_t units_ = 0;
  bool begun_ = false, finished_ = false;
  std::string buf_, canonical_;
};

/// A merged value as plan JSON, in base units: durations in seconds,
/// percentages as fractions (1% → 0.01), times of day as "HH:MM", records
/// as objects with a "kind" member.
llvm::json::Value toPlanJson(const Value &v);

} // namespace dpl
