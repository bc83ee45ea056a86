// Plan lowering and loading: determinism, round trip, and one test per
// validation error of the loader (each names the JSON path).
#include "common/CanonicalJson.h"
#include "compiler/driver/Compilation.h"
#include "compiler/lower/Lower.h"
#include "runtime/plan/Plan.h"

#include <gtest/gtest.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/MemoryBuffer.h>
#include <llvm/Support/Path.h>

#include <algorithm>
#include <functional>
#include <limits>

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

/// The example plan with `edit` applied and its hash recomputed, as
/// `deployc compile` would have written it.
std::string rehashed(const std::function<void(llvm::json::Object &)> &edit) {
  auto v = llvm::json::parse(examplePlan());
  EXPECT_TRUE(bool(v));
  llvm::json::Object &root = *v->getAsObject();
  edit(root);
  llvm::json::Object body;
  for (const auto &[key, value] : root)
    if (key != "hash")
      body.try_emplace(key, value);
  root["hash"] = sha256Of(llvm::json::Value(std::move(body)));
  return prettyJson(*v);
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

// Found by fuzz_frontend (docs/fuzzing.md): the loader copied each
// environment's object and erased `name` and `after`; LLVM 14's json::Object
// revives an erased member when it is copied again (here when the vector of
// environments grows), reading it from freed memory (ASan: heap-use-after-free).
TEST(PlanLoader, EnvironmentFieldsSurviveCopies) {
  auto plan = runtime::loadPlan(examplePlan());
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  ASSERT_EQ(plan->environments.size(), 4u);
  std::vector<runtime::PlanEnvironment> copies = plan->environments;
  for (const runtime::PlanEnvironment &e : copies) {
    EXPECT_EQ(e.fields.get("name"), nullptr) << e.name;
    EXPECT_EQ(e.fields.get("after"), nullptr) << e.name;
    EXPECT_NE(e.fields.get("tier"), nullptr) << e.name;
  }
}

/// Every `*.dpl` below `dir`, read into memory with paths relative to it.
static std::vector<SourceText> readTree(const std::string &dir) {
  std::vector<SourceText> texts;
  std::error_code ec;
  for (llvm::sys::fs::recursive_directory_iterator it(dir, ec), end; it != end && !ec; it.increment(ec)) {
    if (llvm::sys::path::extension(it->path()) != ".dpl")
      continue;
    auto buf = llvm::MemoryBuffer::getFile(it->path());
    EXPECT_TRUE(bool(buf)) << it->path();
    if (buf)
      texts.push_back({it->path().substr(dir.size() + 1), (*buf)->getBuffer().str()});
  }
  EXPECT_FALSE(ec) << ec.message();
  return texts;
}

// The in-memory entry point the fuzzer uses (fuzz/FuzzFrontend.cpp) compiles
// a tree exactly as reading it from disk does, whatever order it gets the
// files in.
TEST(Compilation, InMemoryTreeCompilesLikeTheDirectory) {
  CompileOptions opts;
  opts.root = std::string(DEPLOYC_SOURCE_DIR) + "/examples/acme";
  opts.stdlibDir = DEPLOYC_STDLIB_DIR;
  opts.policyTexts = readTree(opts.root);
  opts.stdlibTexts = readTree(opts.stdlibDir);
  ASSERT_EQ(opts.policyTexts.size(), 11u);
  std::reverse(opts.policyTexts.begin(), opts.policyTexts.end());
  Compilation comp(opts);
  ASSERT_TRUE(comp.run());
  EXPECT_EQ(comp.policyFileCount(), 11u);
  EXPECT_EQ(prettyJson(lowerPlan(*comp.model(), comp.merged())), examplePlan());
}

// Found by fuzz_plan_loader: LLVM 14's parser reads an integer literal beyond
// int64_t as INT64_MAX, and numbers at or above 2^63 were printed as integer
// literals, so a loaded plan, printed again, no longer loaded (its content
// changed under its hash). A timeout of 2^63 seconds also overflowed
// int64_t when printed (UBSan: float-cast-overflow).
TEST(PlanLoader, HugeNumbersPrintBackAsTheyWereRead) {
  std::string text = rehashed([](llvm::json::Object &root) {
    llvm::json::Object &u = unit0(root);
    (*u.getObject("config"))["replicas"] = 1.6397105843297379e19;
    for (llvm::json::Value &s : *u.getArray("states"))
      if (*s.getAsObject()->getString("kind") == "apply")
        (*s.getAsObject())["timeout_seconds"] = 0x1p63;
  });
  auto plan = runtime::loadPlan(text);
  ASSERT_TRUE(bool(plan)) << llvm::toString(plan.takeError());
  std::string printed = prettyJson(runtime::toJson(*plan));
  EXPECT_NE(printed.find("\"replicas\": 1.6397105843297378e+19"), std::string::npos);
  EXPECT_NE(printed.find("\"timeout_seconds\": 9.223372036854776e+18"), std::string::npos);
  auto again = runtime::loadPlan(printed);
  ASSERT_TRUE(bool(again)) << llvm::toString(again.takeError());
  EXPECT_EQ(prettyJson(runtime::toJson(*again)), printed);
}

TEST(CanonicalJson, NumbersReadBackTheSame) {
  for (llvm::json::Value v : {llvm::json::Value(0x1p63), llvm::json::Value(1.6397105843297379e19),
                              llvm::json::Value(-1e19), llvm::json::Value(std::numeric_limits<int64_t>::max()),
                              llvm::json::Value(std::numeric_limits<int64_t>::min()), llvm::json::Value(0.01)}) {
    std::string text = canonicalJson(v);
    auto back = llvm::json::parse(text);
    ASSERT_TRUE(bool(back)) << text;
    EXPECT_EQ(canonicalJson(*back), text);
    EXPECT_EQ(*back->getAsNumber(), *v.getAsNumber()) << text;
  }
  EXPECT_EQ(canonicalJson(llvm::json::Value(0x1p63)), "9.223372036854776e+18");
  EXPECT_EQ(canonicalJson(llvm::json::Value(std::numeric_limits<int64_t>::max())), "9223372036854775807");
}

// Found with the fix above: the parser reads 1e999 as infinity, which prints
// as null. A timeout must be a finite number of seconds.
TEST(PlanLoader, RejectsInfiniteTimeout) {
  std::string text = examplePlan();
  size_t at = text.find("\"timeout_seconds\": ");
  ASSERT_NE(at, std::string::npos);
  size_t end = text.find_first_of(",\n}", at);
  text.replace(at, end - at, "\"timeout_seconds\": 1e999");
  EXPECT_NE(loadError(text).find("timeout_seconds: expected a number of seconds ≥ 0"), std::string::npos)
      << loadError(text);
}

// Found by fuzz_plan_loader: `"next": ""` loaded (no state is named "" so
// nothing checked it), but toJson leaves an empty `next` out, and the
// printed plan then failed to load (missing field `next`).
TEST(PlanLoader, RejectsEmptyStateNames) {
  EXPECT_EQ(loadError(edited([](auto &r) { (*(*unit0(r).getArray("states"))[0].getAsObject())["next"] = ""; })),
            "units[0].states[0].next: expected a state name, found an empty string");
  EXPECT_EQ(loadError(edited([](auto &r) { (*(*unit0(r).getArray("states"))[1].getAsObject())["name"] = ""; })),
            "units[0].states[1].name: expected a state name, found an empty string");
}

namespace {

/// The plan of the policy tree `texts` written by PlanStreamWriter as the
/// merge runs (what `deployc compile` does), and as lowerPlan builds it.
std::pair<std::string, std::string> streamedAndBuilt(const std::vector<SourceText> &texts) {
  CompileOptions opts;
  opts.root = "tree";
  opts.stdlibDir = DEPLOYC_STDLIB_DIR;
  opts.policyTexts = texts;
  llvm::SmallVector<char, 0> bytes;
  llvm::raw_svector_ostream os(bytes);
  PlanStreamWriter writer(os);
  opts.unitSink = &writer;
  Compilation streamed(opts);
  EXPECT_TRUE(streamed.run());
  EXPECT_TRUE(streamed.merged().units.empty()); // handed to the sink, not kept
  EXPECT_TRUE(writer.begun());
  std::string hash = writer.finish();
  opts.unitSink = nullptr;
  Compilation built(opts);
  EXPECT_TRUE(built.run());
  llvm::json::Value plan = lowerPlan(*built.model(), built.merged());
  EXPECT_EQ(hash, *plan.getAsObject()->getString("hash"));
  return {std::string(bytes.begin(), bytes.end()), prettyJson(plan)};
}

} // namespace

// `deployc compile` streams the plan; its bytes, hash included, are those of
// the plan built whole.
TEST(PlanStreamWriter, WritesTheSameBytesAsTheWholePlan) {
  auto [streamed, built] = streamedAndBuilt(readTree(std::string(DEPLOYC_SOURCE_DIR) + "/examples/acme"));
  EXPECT_EQ(streamed, built);
  EXPECT_EQ(built, examplePlan());
  auto loaded = runtime::loadPlan(streamed);
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
}

// No service: no unit, an empty "units" array, still a loadable plan.
TEST(PlanStreamWriter, WritesAPlanWithoutUnits) {
  auto [streamed, built] = streamedAndBuilt({{"org.dpl", "owner platform;\n"
                                                         "stakeholder platform { paths = [\"*.dpl\"]; may = [environments]; }\n"
                                                         "environment dev { tier = \"dev\"; }\n"}});
  EXPECT_EQ(streamed, built);
  EXPECT_NE(streamed.find("\"units\": []\n}\n"), std::string::npos) << streamed;
  auto loaded = runtime::loadPlan(streamed);
  ASSERT_TRUE(bool(loaded)) << llvm::toString(loaded.takeError());
}

// The streamed plan writes each unit's pretty form by re-indenting its
// canonical form; that must be byte for byte what the pretty printer gives,
// whatever the strings hold.
TEST(CanonicalJson, IndentingTheCanonicalFormGivesThePrettyForm) {
  const char *docs[] = {
      R"({"a": [], "b": {}, "c": [{}, [], [[]], {"d": []}], "e": "x{y}[z],:\"q\\"})",
      R"([1, -2.5, 1e300, true, false, null, "", "\\", "\"", "a,b:c"])",
      R"({"k": {"nested": {"deeper": [1, {"x": "}"}]}}, "s": "tab\tnew\nline\u0001"})",
      R"("just a string")",
      R"(42)",
  };
  for (const char *doc : docs) {
    auto v = llvm::json::parse(doc);
    ASSERT_TRUE(bool(v)) << doc;
    for (int depth : {0, 1, 2}) {
      std::string want, got;
      appendJson(want, *v, /*pretty=*/true, depth);
      appendIndented(got, canonicalJson(*v), depth);
      EXPECT_EQ(got, want) << doc << " at depth " << depth;
    }
  }
}
