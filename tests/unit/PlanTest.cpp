// Plan lowering and loading: determinism, round trip, and one test per
// validation error of the loader (each names the JSON path).
#include "common/CanonicalJson.h"
#include "compiler/driver/Compilation.h"
#include "compiler/lower/Lower.h"
#include "runtime/plan/Plan.h"

#include <gtest/gtest.h>

#include <functional>

using namespace dpl;

namespace {

std::string compileExample() {
  CompileOptions opts;
  opts.root = std::string(DEPLOYC_SOURCE_DIR) + "/examples/acme";
  opts.stdlibDir = DEPLOYC_STDLIB_DIR;
  Compilation comp(opts);
  EXPECT_TRUE(comp.run());
  return prettyJson(lowerPlan(*comp.model(), comp.merged()));
}

const std::string &examplePlan() {
  static const std::string plan = compileExample();
  return plan;
}

/// The example plan with `edit` applied to its parsed JSON.
std::string edited(const std::function<void(llvm::json::Object &)> &edit) {
  auto v = llvm::json::parse(examplePlan());
  EXPECT_TRUE(bool(v));
  edit(*v->getAsObject());
  return prettyJson(*v);
}

std::string loadError(const std::string &text) {
  auto plan = runtime::loadPlan(text);
  if (plan)
    return "(loaded)";
  return llvm::toString(plan.takeError());
}

llvm::json::Object &unit0(llvm::json::Object &root) {
  return *(*root.getArray("units"))[0].getAsObject();
}

} // namespace

TEST(CanonicalJson, SortedKeysShortestNumbers) {
  llvm::json::Value v = llvm::json::Object{{"b", 0.01}, {"a", llvm::json::Array{1, 2.5, "x\n"}}, {"c", nullptr}};
  EXPECT_EQ(canonicalJson(v), R"({"a":[1,2.5,"x\n"],"b":0.01,"c":null})");
  EXPECT_EQ(prettyJson(llvm::json::Object{{"k", llvm::json::Array{}}}), "{\n  \"k\": []\n}\n");
}

TEST(Plan, CompileIsDeterministicAndHashed) {
  std::string again = compileExample();
  EXPECT_EQ(examplePlan(), again);
  auto v = llvm::json::parse(examplePlan());
  ASSERT_TRUE(bool(v));
  auto *root = v->getAsObject();
  EXPECT_EQ(*root->getString("schema"), "deployc.plan/v1");
  std::string hash = root->getString("hash")->str();
  root->erase("hash");
  EXPECT_EQ(hash, sha256Of(*v));
  EXPECT_EQ(root->getArray("units")->size(), 12u);
}

TEST(Plan, RoundTripIsByteIdentical) {
  auto plan = runtime::loadPlan(examplePlan());
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  EXPECT_EQ(prettyJson(runtime::toJson(*plan)), examplePlan());
  const runtime::PlanUnit *u = plan->unit("api@prod-eu");
  ASSERT_NE(u, nullptr);
  EXPECT_EQ(u->waitsFor, (std::vector<std::string>{"api@staging", "payments@prod-eu"}));
  ASSERT_NE(u->state("apply"), nullptr);
  EXPECT_EQ(u->state("apply")->onFailure, "rollback");
  EXPECT_EQ(u->state("apply")->timeoutSeconds, 120);
}

TEST(PlanLoader, RejectsNonJson) {
  EXPECT_EQ(loadError("{not json").rfind("not valid JSON", 0), 0u);
}

TEST(PlanLoader, RejectsUnknownSchema) {
  EXPECT_EQ(loadError(edited([](auto &r) { r["schema"] = "deployc.plan/v9"; })),
            "schema: unsupported plan schema `deployc.plan/v9` (this runtime reads `deployc.plan/v1`; "
            "recompile the policy with a matching deployc)");
}

TEST(PlanLoader, RejectsMissingField) {
  EXPECT_EQ(loadError(edited([](auto &r) { unit0(r).erase("environment"); })),
            "units[0]: missing field `environment`");
}

TEST(PlanLoader, RejectsWrongType) {
  EXPECT_EQ(loadError(edited([](auto &r) {
              (*unit0(r).getArray("states"))[3].getAsObject()->insert({"next", 42});
              (*(*unit0(r).getArray("states"))[3].getAsObject())["next"] = 42;
            })),
            "units[0].states[3].next: expected a string, found a number");
}

TEST(PlanLoader, RejectsDanglingUnitReference) {
  EXPECT_EQ(loadError(edited([](auto &r) { unit0(r)["waits_for"] = llvm::json::Array{"ghost@dev"}; })),
            "units[0].waits_for[0]: unknown unit `ghost@dev`");
}

TEST(PlanLoader, RejectsDanglingStateReference) {
  EXPECT_EQ(loadError(edited([](auto &r) {
              (*(*unit0(r).getArray("states"))[0].getAsObject())["next"] = "nowhere";
            })),
            "units[0].states[0].next: unknown state `nowhere`");
}

TEST(PlanLoader, RejectsUnknownGroup) {
  std::string text = edited([](auto &r) {
    for (auto &u : *r.getArray("units"))
      for (auto &s : *u.getAsObject()->getArray("states"))
        if (auto g = s.getAsObject()->getString("guard"); g && *g == "approval")
          (*s.getAsObject()->getObject("params"))["group"] = "nobody";
  });
  EXPECT_NE(loadError(text).find(".params.group: unknown group `nobody`"), std::string::npos) << loadError(text);
}

TEST(PlanLoader, RejectsHashMismatch) {
  std::string text = edited([](auto &r) { (*unit0(r).getObject("config"))["replicas"] = 99; });
  EXPECT_EQ(loadError(text).rfind("hash: the plan's hash sha256:", 0), 0u) << loadError(text);
}

TEST(PlanLoader, MissingFileNamesThePath) {
  auto plan = runtime::loadPlanFile("/nonexistent/plan.json");
  ASSERT_FALSE(bool(plan));
  EXPECT_EQ(llvm::toString(plan.takeError()), "cannot read /nonexistent/plan.json: No such file or directory");
}

TEST(PlanLoader, RejectsDeepNestingWithoutRecursing) {
  std::string deep = std::string(100000, '[') + std::string(100000, ']');
  EXPECT_EQ(loadError(deep), "not a plan: JSON nested deeper than 64 levels");
}
