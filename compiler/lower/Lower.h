// Lowering: the merged program → the plan (`deployc.plan/v1`), the only
// input of the runtime. See docs/plan-format.md for the format.
#pragma once

#include "compiler/merge/Eval.h"
#include "compiler/merge/Merge.h"
#include "compiler/sema/Model.h"

#include <llvm/Support/JSON.h>

namespace dpl {

inline constexpr const char *kPlanSchema = "deployc.plan/v1";

/// Builds the plan object, including its "hash" (SHA-256 of the canonical
/// JSON of the plan without "hash"). Deterministic: the same policy gives the
/// same bytes whatever the order files were read in.
llvm::json::Value lowerPlan(const Model &model, const MergeResult &merged);

/// A merged value as plan JSON, in base units: durations in seconds,
/// percentages as fractions (1% → 0.01), times of day as "HH:MM", records
/// as objects with a "kind" member.
llvm::json::Value toPlanJson(const Value &v);

} // namespace dpl
